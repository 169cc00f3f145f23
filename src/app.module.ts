import { DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { Logger } from 'pino';
import { DataSource } from 'typeorm';
import { LoggerModule } from './common/logging/logger.module';
import { AppConfig } from './config/config';
import { ConfigModule } from './config/config.module';
import { dataSourceOptions } from './database/data-source-options';
import { runMigrationsLocked } from './database/migrate';
import { DemoSeedModule } from './database/seed/demo-seed.module';
import { HealthModule } from './health/health.module';

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
          useFactory: () => dataSourceOptions({ url: databaseUrl, poolSize: config.database.poolSize }),
          // Migrations are applied before any module can use the connection; never `synchronize`.
          dataSourceFactory: async (options) => {
            const dataSource = await new DataSource(options!).initialize();
            const applied = await runMigrationsLocked(dataSource);
            if (applied.length) logger.info({ migrations: applied.map((m) => m.name) }, 'migrations applied');
            return dataSource;
          },
        }),
        HealthModule,
        DemoSeedModule,
        ...extraImports,
      ],
    };
  }
}
