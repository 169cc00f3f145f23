import type { DataSource } from 'typeorm';
import { BlindIndexService } from './blind-index.service';
import { CryptoError } from './crypto.errors';
import type { CryptoOptions } from './crypto.options';
import { DataKeyRepository } from './data-key.repository';
import { DataKeyService } from './data-key.service';
import { EnvKeyProvider } from './env-key-provider';
import { FieldEncryptionService } from './field-encryption.service';
import { developmentKeysDir, FileKeyProvider } from './file-key-provider';
import type { KeyProvider } from './key-provider';
import { PurposeKeys } from './purpose-keys';
import { loadSodium, Sodium } from './sodium';

/** Everything the crypto module offers, built without Nest (CLIs, benchmarks, tests). */
export interface CryptoServices {
  /** Which libsodium backend passed the self-test ('wasm-direct' or 'wrappers'). */
  readonly sodiumBackend: Sodium['backend'];
  readonly keyProvider: KeyProvider;
  readonly keys: PurposeKeys;
  readonly fields: FieldEncryptionService;
  readonly blindIndex: BlindIndexService;
  readonly dataKeys: DataKeyService;
}

/**
 * The key provider the options call for, initialised: explicit keys (HAVEN_MASTER_KEY or
 * HAVEN_MASTER_KEY_FILE) when given; otherwise development keys under `<dataDir>/keys` - except in
 * production, which refuses to start rather than invent keys.
 */
export async function createKeyProvider(options: CryptoOptions): Promise<KeyProvider> {
  const sodium = await loadSodium();
  let provider: KeyProvider;
  if (options.masterKey || options.masterKeyFile) {
    provider = new EnvKeyProvider(
      { masterKey: options.masterKey, masterKeyFile: options.masterKeyFile, warn: options.warn },
      sodium,
    );
  } else if (options.production) {
    throw new CryptoError(
      'crypto.config',
      'NODE_ENV=production requires HAVEN_MASTER_KEY or HAVEN_MASTER_KEY_FILE; ' +
        'Haven does not generate keys for production (docs/keys.md)',
    );
  } else {
    provider = new FileKeyProvider(developmentKeysDir(options.dataDir), sodium, options.warn);
  }
  await provider.init();
  return provider;
}

/** Builds the crypto services; `dataSource` is needed only for data keys (DataKeyService). */
export async function createCryptoServices(
  options: CryptoOptions,
  dataSource: DataSource | null = null,
  keyProvider?: KeyProvider,
): Promise<CryptoServices> {
  const sodium = await loadSodium();
  const provider = keyProvider ?? (await createKeyProvider(options));
  const keys = new PurposeKeys(provider.rootSecret(), sodium);
  return {
    sodiumBackend: sodium.backend,
    keyProvider: provider,
    keys,
    fields: new FieldEncryptionService(sodium),
    blindIndex: new BlindIndexService(keys, sodium),
    dataKeys: new DataKeyService(new DataKeyRepository(dataSource), provider, options.kekAdoptionRefreshMs),
  };
}
