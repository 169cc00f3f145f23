import { DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { Logger } from 'pino';
import { AuditModule } from './audit/audit.module';
import { AuthzModule } from './authz/authz.module';
import { BreakGlassModule } from './break-glass/break-glass.module';
import { LoggerModule } from './common/logging/logger.module';
import { AppConfig, ConfigError } from './config/config';
import { CasesModule } from './cases/cases.module';
import { ConfigModule } from './config/config.module';
import { ConsentsModule } from './consents/consents.module';
import { CryptoModule, cryptoOptionsFrom } from './crypto';
import { dataSourceOptions } from './database/data-source-options';
import { openRuntimeDataSource } from './database/runtime-role';
import { DemoSeedModule } from './database/seed/demo-seed.module';
import { DirectoryModule } from './directory/directory.module';
import { HealthModule } from './health/health.module';
import { IdentityModule } from './identity/identity.module';
import { ReferralsModule } from './referrals/referrals.module';
import { ReportsModule } from './reports/reports.module';

export interface AppModuleOptions {
  config: AppConfig;
  logger: Logger;
  databaseUrl: string;
  /** Test-only modules (e.g. a probe controller); production passes none. */
  extraImports?: DynamicModule['imports'];
}

@Module({})
export class AppModule {
  static forRoot({ config, logger, databaseUrl, extraImports = [] }: AppModuleOptions): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        LoggerModule.forRoot(logger),
        TypeOrmModule.forRootAsync({
          useFactory: () => ({
            ...dataSourceOptions({
              url: databaseUrl,
              poolSize: config.database.poolSize,
              preparedStatements: config.database.preparedStatements,
              statementTimeoutMs: config.database.statementTimeoutMs,
            }),
            // A refused configuration (the runtime role) does not get better by waiting: no retries for it.
            toRetry: (e: unknown) => !(e instanceof ConfigError),
          }),
          // Migrations are applied (as the schema owner) before any module can use the connection; never
          // `synchronize`. The pool itself connects as the restricted runtime role (src/database/runtime-role.ts).
          dataSourceFactory: (options) => openRuntimeDataSource(options!, databaseUrl, config, logger),
        }),
        CryptoModule.forRoot(cryptoOptionsFrom(config, (message, details) => logger.warn(details, message))),
        AuthzModule,
        AuditModule,
        HealthModule,
        DirectoryModule,
        IdentityModule,
        CasesModule,
        ConsentsModule,
        ReferralsModule,
        ReportsModule,
        BreakGlassModule,
        DemoSeedModule,
        ...extraImports,
      ],
    };
  }
}
