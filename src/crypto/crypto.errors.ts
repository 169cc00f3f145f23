/**
 * Coded crypto failures. Messages name what failed and where (table/column, key id, variable name), never a
 * plaintext, a ciphertext or any key material, so they are safe to log.
 */
export type CryptoErrorCode =
  /** Authentication failed: tampered bytes, or a value moved to another row, column or owner. */
  | 'crypto.integrity'
  /** The value names a data key (DEK id) that is not available, or its owner has none. */
  | 'crypto.unknown_key'
  /**
   * The KEK version a data key is wrapped with is not in this process's keyring (an instance whose keyring was
   * not updated after keys:rotate re-wrapped the keys: docs/keys.md).
   */
  | 'crypto.unknown_kek'
  /** The owner's data key was destroyed (crypto-shredding): the value is gone for good. */
  | 'crypto.key_destroyed'
  /** Not a Haven ciphertext, or a format version this build does not know. */
  | 'crypto.bad_format'
  /**
   * This process holds another key under a KEK version than the one the database's data keys are wrapped with
   * (kek_checks): what it wrapped no other instance could open.
   */
  | 'crypto.kek_mismatch'
  /** Missing or unusable key configuration (a message names the variable or file). */
  | 'crypto.config'
  /** A caller passed something the API cannot accept (empty index value, bad owner id, duplicate key). */
  | 'crypto.invalid_input';

export class CryptoError extends Error {
  constructor(
    readonly code: CryptoErrorCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
    this.name = 'CryptoError';
  }
}

export function isCryptoError(e: unknown, code?: CryptoErrorCode): e is CryptoError {
  return e instanceof CryptoError && (code === undefined || e.code === code);
}
