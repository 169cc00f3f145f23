import { randomBytes } from 'node:crypto';
import 'reflect-metadata';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../../src/database/data-source-options';

export const TEMPLATE_DATABASE = 'haven_template';
/** Login role of the application in the tests (a member of haven_app, created by the global setup). */
export const TEMPLATE_APP_ROLE = 'haven_test_app';
export const TEMPLATE_APP_PASSWORD = 'test-only-app-role';

export interface TestDatabase {
  name: string;
  /** As the superuser (the schema owner): migrations, fixtures, tampering. */
  url: string;
  /** As the restricted application role (DATABASE_APP_URL). */
  appUrl: string;
  drop(): Promise<void>;
}

function adminUrl(): string {
  const url = process.env.HAVEN_TEST_PG_ADMIN_URL;
  if (!url) throw new Error('HAVEN_TEST_PG_ADMIN_URL is not set: run the tests with `npm test`');
  return url;
}

export function urlFor(database: string): string {
  const url = new URL(adminUrl());
  url.pathname = `/${database}`;
  return url.toString();
}

/** The same database as the application role. */
export function appUrlFor(database: string): string {
  const url = new URL(urlFor(database));
  url.username = TEMPLATE_APP_ROLE;
  url.password = TEMPLATE_APP_PASSWORD;
  return url.toString();
}

async function withAdmin<T>(fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: adminUrl() });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A fresh database holding exactly the migrated schema (cloned from the template made by global setup). */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `haven_t${process.env.JEST_WORKER_ID ?? '0'}_${randomBytes(5).toString('hex')}`;
  await withAdmin(async (client) => {
    for (let attempt = 0; ; attempt++) {
      try {
        await client.query(`CREATE DATABASE ${name} TEMPLATE ${TEMPLATE_DATABASE}`);
        return;
      } catch (e) {
        // Two workers cloning at the same instant: "source database is being accessed by other users".
        if ((e as { code?: string }).code !== '55006' || attempt > 20) throw e;
        await new Promise((r) => setTimeout(r, 50 + attempt * 20));
      }
    }
  });
  return {
    name,
    url: urlFor(name),
    appUrl: appUrlFor(name),
    drop: () =>
      withAdmin((client) =>
        client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).then(() => undefined),
      ),
  };
}

/** A test database plus an initialised TypeORM DataSource on it; `drop()` closes both. */
export async function createTestDataSource(): Promise<{
  dataSource: DataSource;
  url: string;
  drop(): Promise<void>;
}> {
  const db = await createTestDatabase();
  const dataSource = await new DataSource(
    dataSourceOptions({ url: db.url, poolSize: 5, applicationName: 'haven-test' }),
  ).initialize();
  return {
    dataSource,
    url: db.url,
    drop: async () => {
      await dataSource.destroy();
      await db.drop();
    },
  };
}
