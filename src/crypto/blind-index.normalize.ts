import { CryptoError } from './crypto.errors';

/*
 * Canonical forms of searchable values, so that every way of typing the same name, phone or date of birth
 * gives the same blind index. Vietnamese names: NFC and NFD (and compatibility forms) are equal, all
 * diacritics are removed - which also folds tone-placement variants (hoà/hòa, thuỷ/thủy, khoẻ/khỏe) - đ/Đ
 * become d, case is folded, invisible format characters are dropped, and any run of spaces or punctuation
 * becomes one space.
 */

const MARKS = /\p{M}/gu;
// Invisible format characters (a soft hyphen, a zero-width space or joiner, a byte-order mark) pasted from a
// document into a word: removed, not taken as a space that would split the word.
const INVISIBLE = /\p{Cf}/gu;
const SEPARATORS = /[^\p{L}\p{N}]+/gu;
// Vietnamese đ/Đ (and the look-alikes typed for it: Icelandic ð/Ð, African ɖ/Ɖ), and Greek final sigma.
const FOLD = /[đðɖς]/g;
const FOLDED: Record<string, string> = { đ: 'd', ð: 'd', ɖ: 'd', ς: 'σ' };

/** The reference definition; every other path must agree with it (tested with random strings). */
export function normalizeNameReference(value: string): string {
  return value
    .replace(INVISIBLE, '')
    .normalize('NFKD')
    .replace(MARKS, '')
    .toLowerCase()
    .normalize('NFKD')
    .replace(MARKS, '')
    .replace(FOLD, (c) => FOLDED[c])
    .replace(SEPARATORS, ' ')
    .trim();
}

// Fast path: a table for the first 0x2000 code points (Latin, combining marks, Vietnamese letters in
// U+1E00-U+1EFF), built from the reference itself, so it cannot disagree with it for a single character.
const TABLE_LIMIT = 0x2000;
const DROP = 0xffff;
const SPACE = 0x20;
const SLOW = 0xfffe;
const TABLE = buildTable();

function buildTable(): Uint16Array {
  const table = new Uint16Array(TABLE_LIMIT);
  for (let c = 0; c < TABLE_LIMIT; c++) {
    if (c >= 0xd800) continue;
    const folded = normalizeNameReference(`x${String.fromCharCode(c)}x`);
    if (folded === 'xx') table[c] = DROP;
    else if (folded === 'x x') table[c] = SPACE;
    else if (folded.length === 3) table[c] = folded.charCodeAt(1);
    else table[c] = SLOW; // expands to several characters: let the reference handle the whole string
  }
  return table;
}

/** Canonical form of a person's name (Vietnamese-aware); '' when nothing searchable is left. */
export function normalizeName(value: string): string {
  let out = '';
  let space = false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    const m = c < TABLE_LIMIT ? TABLE[c] : SLOW;
    if (m === DROP) continue;
    if (m === SPACE) {
      space = out.length > 0;
      continue;
    }
    if (m === SLOW) return normalizeNameReference(value);
    if (space) {
      out += ' ';
      space = false;
    }
    out += String.fromCharCode(m);
  }
  return out;
}

const PHONE_CHARS = /^\+?[0-9\s().\-/]+$/;

/**
 * Canonical phone number. Vietnamese numbers become the national form with the trunk 0 (`0912345678`):
 * +84 / 0084 / 84 prefixes, a "(0)" after the country code, spaces, dots, dashes, slashes and brackets are
 * folded. Other countries keep `+<digits>`; short service numbers (111, 113) stay as they are.
 */
export function normalizePhone(value: string): string {
  const s = value.normalize('NFKC').trim();
  if (!PHONE_CHARS.test(s.replace(/^\(\s*\+/, '+'))) {
    throw new CryptoError(
      'crypto.invalid_input',
      'a phone number may only hold digits, +, spaces, . - / ( )',
    );
  }
  const compact = s.replace(/[\s().\-/]/g, '');
  let digits = compact.replace(/\D/g, '');
  const international = compact.startsWith('+') || compact.startsWith('00');
  if (compact.startsWith('00')) digits = digits.slice(2);
  if (digits.length < 3 || digits.length > 15) {
    throw new CryptoError('crypto.invalid_input', 'a phone number has 3 to 15 digits');
  }
  if (international || (digits.startsWith('84') && (digits.length === 11 || digits.length === 12))) {
    if (!digits.startsWith('84')) return `+${digits}`;
    const national = digits.slice(2);
    return national.startsWith('0') ? national : `0${national}`;
  }
  if (digits.startsWith('0')) return digits;
  // A mobile (9 digits) or landline (10 digits) number typed without its trunk 0.
  return digits.length === 9 || digits.length === 10 ? `0${digits}` : digits;
}

const ISO_DATE = /^(\d{4})-(\d{1,2})-(\d{1,2})$/;
// Vietnamese forms are day first: 05/03/2010, 5-3-2010, 05.03.2010.
const DAY_FIRST = /^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$/;

/** Canonical date of birth, `YYYY-MM-DD`, from ISO `YYYY-MM-DD` or day-first `DD/MM/YYYY` text. */
export function normalizeDateOfBirth(value: string): string {
  const s = value.normalize('NFKC').trim();
  let y: number;
  let m: number;
  let d: number;
  let match = ISO_DATE.exec(s);
  if (match) [y, m, d] = [Number(match[1]), Number(match[2]), Number(match[3])];
  else if ((match = DAY_FIRST.exec(s))) [d, m, y] = [Number(match[1]), Number(match[2]), Number(match[3])];
  else throw new CryptoError('crypto.invalid_input', 'a date of birth is YYYY-MM-DD or DD/MM/YYYY');
  const date = new Date(Date.UTC(y, m - 1, d));
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== m - 1 || date.getUTCDate() !== d || y < 1900) {
    throw new CryptoError('crypto.invalid_input', 'not a valid date of birth');
  }
  return `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
}
