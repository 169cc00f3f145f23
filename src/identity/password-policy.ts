import { dictionary } from '@zxcvbn-ts/language-common';
import { DomainError } from '../common/errors/domain-error';
import { MAX_PASSWORD_BYTES } from '../crypto/password-hasher';

export const MIN_PASSWORD_LENGTH = 12;

// Common passwords shipped offline with @zxcvbn-ts/language-common (about 49,000 entries from public leak
// frequency lists), plus a few that Vietnamese users often choose.
const LOCAL_COMMON = [
  'matkhau',
  'matkhau123',
  'matkhau123456',
  'anhyeuem',
  'emyeuanh',
  'vietnam',
  'hanoi',
  'saigon',
  'haven',
  'haven123456',
  'qwertyuiop',
];

let common: ReadonlySet<string> | undefined;

function commonPasswords(): ReadonlySet<string> {
  common ??= new Set([...dictionary['passwords-common'], ...LOCAL_COMMON].map((p) => p.toLowerCase()));
  return common;
}

/**
 * A password as the common-password checks read it: lower case, without its diacritics (`Mật khẩu` is
 * `mat khau`, đ is d), so that a Vietnamese spelling of a listed password is found as the listed one.
 */
function folded(password: string): string {
  return password
    .normalize('NFD')
    .replace(/\p{M}+/gu, '')
    .replace(/đ/gi, 'd')
    .toLowerCase();
}

// Runs a keyboard or the alphabet makes: `abcdef`, `987654`, `qwerty`, `zxcvbnm` (either way).
const RUNS = [
  'abcdefghijklmnopqrstuvwxyz',
  '01234567890',
  'qwertyuiop',
  'asdfghjkl',
  'zxcvbnm',
  '1qaz2wsx3edc4rfv',
];

/** The length of the longest run (RUNS, either way) or repeat of one character that starts at `i`. */
function runAt(s: readonly string[], i: number): number {
  let best = 1;
  let same = i + 1;
  while (same < s.length && s[same] === s[i]) same++;
  best = Math.max(best, same - i);
  for (const run of RUNS) {
    for (const order of [run, [...run].reverse().join('')]) {
      let at = order.indexOf(s[i]);
      if (at < 0) continue;
      let j = i + 1;
      while (j < s.length && at + 1 < order.length && order[at + 1] === s[j]) {
        at++;
        j++;
      }
      best = Math.max(best, j - i);
    }
  }
  return best;
}

/** A block of up to this many characters repeated to at least REPEAT_SPAN (`asdfasdf`, `Minh2024Minh2024`). */
const REPEAT_BLOCK = 10;
const REPEAT_SPAN = 6;
/** What a password must keep once its runs and repeats are set aside. */
const MIN_UNGUESSABLE = 8;

/** The length of the repeats of one block (REPEAT_BLOCK at most, repeated to REPEAT_SPAN) starting at `i`, or 0. */
function repeatAt(s: readonly string[], i: number): number {
  let best = 0;
  for (let len = 1; len <= REPEAT_BLOCK; len++) {
    let k = 1;
    while (
      i + (k + 1) * len <= s.length &&
      s.slice(i + k * len, i + (k + 1) * len).join('') === s.slice(i, i + len).join('')
    )
      k++;
    if (k >= 2 && k * len >= REPEAT_SPAN) best = Math.max(best, k * len);
  }
  return best;
}

/**
 * Whether too little of a password is left once what a guess tries first is set aside: runs of 4 or more of the
 * alphabet, the digits or a keyboard row either way (`abcdefghijkl`, `12345678`, `zxcvbnm`), a character repeated
 * 4 times or more, a short block repeated (`asdfasdfasdf`). A word with a run after it (`Linh@123456789`,
 * `Abc@12345678`) is as weak as the word alone. Diacritics are set aside; any other character counts.
 */
function guessable(password: string): boolean {
  const s = [...folded(password)];
  let kept = 0;
  for (let i = 0; i < s.length;) {
    const run = runAt(s, i);
    const skip = Math.max(run >= 4 ? run : 0, repeatAt(s, i));
    if (skip > 0) {
      i += skip;
    } else {
      kept++;
      i++;
    }
  }
  return kept < MIN_UNGUESSABLE;
}

/**
 * Account password rules: at least 12 characters, at most 1 KiB, not a common password (also not one with
 * digits or symbols merely added before or after it or between its words, nor one spelt with Vietnamese
 * diacritics: `Mật khẩu 2024`), at least 8 characters left once runs and repeats are set aside (`abcdefghijkl`,
 * `Linh@123456789`, `asdfasdfasdf1`), and not containing the username. The error never quotes the password.
 */
export function assertPasswordAcceptable(password: string, username?: string, field = 'password'): void {
  const lower = password.normalize('NFC').toLowerCase();
  const length = [...password.normalize('NFC')].length;
  const list = commonPasswords();
  const plain = folded(password);
  // As typed; without what surrounds its letters; and its letters alone (words run together, whatever is
  // between them: `Hà Nội, 123456`), when they are 5 or more: 4 letters of a random string spell one of the
  // list's thousands of 4-letter words too often (`D|.:52%Ime2` is no "dime").
  const letters = plain.replace(/[^\p{L}]/gu, '');
  const forms = [
    lower,
    plain,
    plain.replace(/^[^\p{L}]+|[^\p{L}]+$/gu, ''),
    ...(letters.length >= 5 ? [letters] : []),
  ];
  const reasons: string[] = [];
  if (length < MIN_PASSWORD_LENGTH) reasons.push('minLength');
  if (Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) reasons.push('maxLength');
  if (forms.some((f) => f.length > 0 && list.has(f)) || new Set(lower).size < 4 || guessable(password))
    reasons.push('common');
  if (
    username &&
    username.length >= 3 &&
    (lower.includes(username.toLowerCase()) || plain.includes(folded(username)))
  )
    reasons.push('containsUsername');
  if (reasons.length === 0) return;
  throw new DomainError(
    'user.password_weak',
    {
      en: `Use at least ${MIN_PASSWORD_LENGTH} characters that are not a common password and do not contain the username.`,
      vi: `Mật khẩu cần ít nhất ${MIN_PASSWORD_LENGTH} ký tự, không phải mật khẩu phổ biến và không chứa tên đăng nhập.`,
    },
    reasons.map((code) => ({
      field,
      code,
      message: PASSWORD_MESSAGES[code] ?? { en: 'is not acceptable', vi: 'không được chấp nhận' },
    })),
  );
}

const PASSWORD_MESSAGES: Record<string, { en: string; vi: string }> = {
  minLength: {
    en: `is shorter than ${MIN_PASSWORD_LENGTH} characters`,
    vi: `ngắn hơn ${MIN_PASSWORD_LENGTH} ký tự`,
  },
  maxLength: { en: 'is too long', vi: 'quá dài' },
  common: { en: 'is a common password', vi: 'là mật khẩu phổ biến' },
  containsUsername: { en: 'contains the username', vi: 'chứa tên đăng nhập' },
};
