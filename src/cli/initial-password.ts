import { ConfigError } from '../config/config';

/**
 * The password `users:create-admin` and `users:reset-admin` set: the first line of what was piped in. A byte-order mark (a file
 * saved by a Windows editor) is dropped; a password that begins or ends with a space, or holds a tab or another
 * control character, is refused rather than stored: nobody could type it at the sign-in, and the tool is
 * refused once an administrator exists, so the installation would be locked out.
 */
export function initialPassword(piped: string): string {
  const line = piped.replace(/^\uFEFF/, '').split(/\r?\n/)[0] ?? '';
  // Controls, format characters (zero-width, direction marks, soft hyphen), line and paragraph separators, and
  // variation selectors: nothing a keyboard types.
  if (line !== line.trim() || /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\uFE00-\uFE0F]/u.test(line)) {
    throw new ConfigError([
      'the password begins or ends with a space, or holds a tab, a control or an invisible ' +
        'character: pipe it in without (nobody could type it at the sign-in)',
    ]);
  }
  return line;
}
