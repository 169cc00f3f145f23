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
 * Account password rules: at least 12 characters, at most 1 KiB, not a common password (also not one with
 * digits or symbols merely added before or after it), and not containing the username. The error never
 * quotes the password.
 */
export function assertPasswordAcceptable(password: string, username?: string, field = 'password'): void {
  const lower = password.normalize('NFC').toLowerCase();
  const length = [...password.normalize('NFC')].length;
  const core = lower.replace(/^[^\p{L}]+|[^\p{L}]+$/gu, '');
  const list = commonPasswords();
  const reasons: string[] = [];
  if (length < MIN_PASSWORD_LENGTH) reasons.push('minLength');
  if (Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) reasons.push('maxLength');
  if (list.has(lower) || (core.length > 0 && list.has(core)) || new Set(lower).size < 4)
    reasons.push('common');
  if (username && username.length >= 3 && lower.includes(username.toLowerCase()))
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
