/** Injection token for {@link CryptoOptions}; the application provides it from its validated config. */
export const CRYPTO_OPTIONS = Symbol('CRYPTO_OPTIONS');

export interface CryptoOptions {
  /** HAVEN_DATA_DIR: the file key provider keeps its keyring under `<dataDir>/keys`. */
  dataDir: string;
  /** NODE_ENV=production: refuse to start without explicit keys (never generate them). */
  production: boolean;
  /** HAVEN_MASTER_KEY: base64 of 32 bytes, or a keyring document (docs/keys.md). */
  masterKey?: string;
  /** HAVEN_MASTER_KEY_FILE: path to a mounted secret holding the same. */
  masterKeyFile?: string;
}
