/**
 * Vietnamese tone marks (decomposed): grave, acute, tilde, hook above, dot below. The marks that make a letter
 * of its own (ô, ơ, ư, ă, â, ê: circumflex, horn, breve) are not tones.
 */
const TONE = '\u0300\u0301\u0303\u0309\u0323';
/**
 * A tone written on the first vowel of oa, oe or uy (the older placement: "Hòa", "Thủy"), with the second
 * vowel's own mark if any, moved to the second (the newer: "Hoà", "Thuỷ"; the official list of units writes
 * that). Both are in use for one and the same syllable.
 */
const TONE_ON_FIRST = new RegExp(`([ou])([${TONE}])(a[\u0302\u0306]?|e[\u0302]?|y)`, 'gu');
/** Characters that show nothing (zero-width spaces and joiners, a soft hyphen, direction marks): format, Cf. */
const INVISIBLE = /\p{Cf}/gu;

/**
 * What makes two organisation names the same within a province (migrations OrganizationNameKey,
 * OrganizationNameSpellings): the Unicode composed form (NFC: a name typed decomposed is the same name), lower
 * case in full Unicode (Đ/đ, Ồ/ồ), runs of spaces as one, the tone of oa/oe/uy on either vowel ("Hòa", "Hoà"),
 * Icelandic Ð/ð (text converted from older encodings) as Đ/đ, and no invisible characters.
 */
export function organizationNameKey(name: string): string {
  return organizationName(name)
    .replace(INVISIBLE, '')
    .replace(/\s+/gu, ' ')
    .trim()
    .toLowerCase()
    .replace(/ð/gu, 'đ')
    .normalize('NFD')
    .replace(TONE_ON_FIRST, '$1$3$2')
    .normalize('NFC');
}

/** A name as stored: composed (NFC) and trimmed. */
export function organizationName(name: string): string {
  return name.normalize('NFC').trim();
}

/** The longest name, in characters (code points) as PostgreSQL counts them (the table's CHECK). */
export const ORGANIZATION_NAME_MAX = 200;
