import type { AppConfig, MissingKekExcuse } from '../config/config';

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
  /** Where a key provider says what is taken but unsafe (a key file others may read); never key material. */
  warn?: (message: string, details: Record<string, unknown>) => void;
  /** HAVEN_ALLOW_MISSING_KEK_VERSIONS: KEK versions lost for good, which live data keys may still name. */
  allowMissingKekVersions?: readonly MissingKekExcuse[];
  /** How long the KEK version the database took up is trusted before it is asked again (KEK_ADOPTION_REFRESH_MS; tests: 0). */
  kekAdoptionRefreshMs?: number;
}

/** The crypto options of the service's configuration, for the service and the tools that read its keys. */
export function cryptoOptionsFrom(config: AppConfig, warn?: CryptoOptions['warn']): CryptoOptions {
  return {
    dataDir: config.dataDir,
    production: config.production,
    masterKey: config.keys.masterKey,
    masterKeyFile: config.keys.masterKeyFile,
    warn,
    allowMissingKekVersions: config.keys.allowMissingKekVersions,
  };
}
