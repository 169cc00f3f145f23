import {
  DynamicModule,
  Global,
  Inject,
  Injectable,
  Logger,
  Module,
  OnModuleInit,
  Provider,
} from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ConfigError } from '../config/config';
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
 * Refuses to start with keys the database's data keys cannot be used with (docs/keys.md): a keyring older than
 * the KEK floor ("The KEK floor"), with which this instance could neither create data keys nor read the
 * re-wrapped ones, one lacking a version live data keys are wrapped with (a keyring rolled back past a rotation:
 * every record made since would answer 503), or one holding another key under a version the database knows ("One
 * key per KEK version").
 * Runs before any module's bootstrap (the demo seed creates keys there); nothing to check where the module has no
 * database.
 */
@Injectable()
class KeyringCheck implements OnModuleInit {
  private readonly logger = new Logger('KeyringCheck');

  constructor(
    @Inject(CRYPTO_SERVICES) private readonly crypto: CryptoServices,
    @Inject(CRYPTO_OPTIONS) private readonly options: CryptoOptions,
  ) {}

  async onModuleInit(): Promise<void> {
    const where =
      this.crypto.keyProvider.kind === 'file'
        ? 'the development keyring (HAVEN_DATA_DIR/keys/keyring.json)'
        : 'HAVEN_MASTER_KEY / HAVEN_MASTER_KEY_FILE';
    const behind = await this.crypto.dataKeys.floorAboveActive();
    if (behind) {
      const { active, floor } = behind;
      throw new ConfigError([
        `${where}: a key rotation raised the database's KEK floor to ${active.kekId} v${floor}, and this ` +
          `instance's newest KEK version is v${active.version}: install the rotated keyring (docs/keys.md, "The KEK floor").`,
      ]);
    }
    const missing = await this.crypto.dataKeys.kekVersionsNotHeld();
    const excused = this.options.allowMissingKekVersions ?? [];
    const describe = (ks: typeof missing) =>
      ks.map((k) => `${k.kekId} v${k.version} (${k.keys} data keys)`).join(', ');
    // A bare version number is of this instance's own KEK (its keyring's kekId).
    const own = (await this.crypto.keyProvider.activeKek()).kekId;
    const refused = missing.filter(
      (k) => !excused.some((e) => e.version === k.version && (e.kekId ?? own) === k.kekId),
    );
    if (refused.length > 0) {
      throw new ConfigError([
        `${where}: the database's data keys are wrapped with ${describe(refused)}, which this instance's keys do ` +
          'not hold: every record under them would be unreadable here. Install the keyring that holds them (a ' +
          'rollback past a key rotation?); if a version is lost for good, HAVEN_ALLOW_MISSING_KEK_VERSIONS=<its ' +
          'number> (of another KEK: <kekId>:<number>) starts with its records unreadable (docs/keys.md, "Rotation").',
      ]);
    }
    if (missing.length > 0) {
      // Versions lost for good, named one by one: their records answer 503; everything else works.
      this.logger.error(
        `the database's data keys are wrapped with ${describe(missing)}, which this instance's keys do not hold: ` +
          'their records answer 503 (HAVEN_ALLOW_MISSING_KEK_VERSIONS)',
      );
    }
    return this.assertNoMismatch(where);
  }

  private async assertNoMismatch(where: string): Promise<void> {
    const mismatched = await this.crypto.dataKeys.kekChecks.mismatched();
    if (mismatched.length > 0) {
      const versions = mismatched.map((k) => `${k.kekId} v${k.version}`).join(', ');
      throw new ConfigError([
        `${where}: this instance's ${versions} ${mismatched.length > 1 ? 'are other keys' : 'is another key'} than ` +
          `the database's data keys are wrapped with: every instance must run with the same keyring ` +
          '(docs/keys.md, "One key per KEK version").',
      ]);
    }
  }
}

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
      KeyringCheck,
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
