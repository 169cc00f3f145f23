/**
 * Why `name` is no name a person can read in a list, in English and Vietnamese, or null: a control or invisible
 * character (a line break, a zero-width space, a right-to-left override that shows the name reversed), or no
 * letter at all. For organisation and administrative unit names alike.
 */
export function unreadableName(name: string): { en: string; vi: string } | null {
  if (/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u.test(name)) {
    return {
      en: 'contains a control or invisible character',
      vi: 'chứa ký tự điều khiển hoặc ký tự ẩn',
    };
  }
  if (!/\p{L}/u.test(name)) return { en: 'has no letter', vi: 'không có chữ cái nào' };
  return null;
}
