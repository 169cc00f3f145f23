import { DynamicModule, Global, Module, Provider } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { BlindIndexService } from './blind-index.service';
import { createCryptoServices, CryptoServices } from './crypto.factory';
import { CRYPTO_OPTIONS, CryptoOptions } from './crypto.options';
import { DataKeyService } from './data-key.service';
import { FieldEncryptionService } from './field-encryption.service';
import { PurposeKeys } from './purpose-keys';

/** Injection token of the initialised KeyProvider (for the rotation/admin tooling). */
export const KEY_PROVIDER = Symbol('KEY_PROVIDER');
const CRYPTO_SERVICES = Symbol('CRYPTO_SERVICES');

/**
 * Field encryption, blind indexes, data keys and purpose keys for the whole application. Reads
 * CRYPTO_OPTIONS from a global provider (or takes the options directly) and the TypeORM DataSource.
 */
@Global()
@Module({})
export class CryptoModule {
  static forRoot(options?: CryptoOptions): DynamicModule {
    const from = <T>(pick: (c: CryptoServices) => T) => ({ useFactory: pick, inject: [CRYPTO_SERVICES] });
    const providers: Provider[] = [
      {
        provide: CRYPTO_SERVICES,
        useFactory: (o: CryptoOptions, dataSource: DataSource | undefined) =>
          createCryptoServices(o, dataSource ?? null),
        inject: [CRYPTO_OPTIONS, { token: DataSource, optional: true }],
      },
      { provide: KEY_PROVIDER, ...from((c) => c.keyProvider) },
      { provide: PurposeKeys, ...from((c) => c.keys) },
      { provide: FieldEncryptionService, ...from((c) => c.fields) },
      { provide: BlindIndexService, ...from((c) => c.blindIndex) },
      { provide: DataKeyService, ...from((c) => c.dataKeys) },
    ];
    if (options) providers.push({ provide: CRYPTO_OPTIONS, useValue: options });
    return {
      module: CryptoModule,
      global: true,
      providers,
      exports: [KEY_PROVIDER, PurposeKeys, FieldEncryptionService, BlindIndexService, DataKeyService],
    };
  }
}
