/**
 * Whether a file or directory of `mode` (its stat mode) may be read or changed by its group or by others: the
 * keyring, a key file and the embedded server's password files must not be (POSIX modes only: false on Windows).
 */
export function openToOthers(mode: number): boolean {
  return process.platform !== 'win32' && (mode & 0o077) !== 0;
}
