import { StringDecoder } from 'node:string_decoder';
import { ConfigError } from '../config/config';

/**
 * What was piped in up to its first line end (or its end), decoded as UTF-8 across chunks: a character split
 * between two chunks (a producer writing in pieces) is one character, not two U+FFFD that would be stored as
 * the password.
 */
export async function firstLinePiped(input: AsyncIterable<Buffer | string>): Promise<string> {
  const decoder = new StringDecoder('utf8');
  let text = '';
  for await (const chunk of input) {
    text += typeof chunk === 'string' ? chunk : decoder.write(chunk);
    if (text.includes('\n')) return text;
  }
  return text + decoder.end();
}

/**
 * The password `users:create-admin` and `users:reset-admin` set: the first line of what was piped in. A byte-order mark (a file
 * saved by a Windows editor) is dropped; a password that begins or ends with a space, or holds a tab or another
 * control character, is refused rather than stored: nobody could type it at the sign-in, and the tool is
 * refused once an administrator exists, so the installation would be locked out.
 */
export function initialPassword(piped: string): string {
  const line = piped.replace(/^\uFEFF/, '').split(/\r?\n/)[0] ?? '';
  // Controls, format characters (zero-width, direction marks, soft hyphen), line and paragraph separators,
  // variation selectors, and U+FFFD (bytes that were not UTF-8: a file saved in another encoding): nothing a
  // keyboard types.
  if (line !== line.trim() || /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\uFE00-\uFE0F\uFFFD]/u.test(line)) {
    throw new ConfigError([
      'the password begins or ends with a space, or holds a tab, a control or an invisible ' +
        'character, or bytes that are not UTF-8: pipe it in without (nobody could type it at the sign-in)',
    ]);
  }
  return line;
}
