import type { DataSourceOptions } from 'typeorm';
import { MIGRATIONS } from '../../migrations';
import { ENTITIES } from './entities';
import { installRowTemplates } from './pg-row-template';
import { PreparingClient } from './prepared-statements';

// Every client of the process builds its rows' template on a plain object (pg-row-template.ts).
installRowTemplates();

export interface DatabaseConnection {
  url: string;
  poolSize: number;
  applicationName?: string;
  /** Name (server-side prepare) parameterised statements; default true. See prepared-statements.ts. */
  preparedStatements?: boolean;
  /** The longest a statement may run, in ms (the service's pool; none for migrations and tools). */
  statementTimeoutMs?: number;
}

/** The single definition of how Haven talks to PostgreSQL. Schema changes go through migrations only. */
export function dataSourceOptions(conn: DatabaseConnection): DataSourceOptions {
  return {
    type: 'postgres',
    url: conn.url,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'migrations',
    migrationsTransactionMode: 'each',
    synchronize: false,
    logging: false,
    extra: {
      max: conn.poolSize,
      // Fail fast when the database is down instead of queueing requests forever.
      connectionTimeoutMillis: 5000,
      application_name: conn.applicationName ?? 'haven',
      ...(conn.preparedStatements === false ? {} : { Client: PreparingClient }),
      ...(conn.statementTimeoutMs ? { statement_timeout: conn.statementTimeoutMs } : {}),
    },
  };
}
