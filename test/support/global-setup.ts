import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../../src/database/data-source-options';
import { EmbeddedPostgres } from '../../src/database/embedded-postgres';
import { runMigrationsLocked } from '../../src/database/migrate';
import { TEMPLATE_APP_PASSWORD, TEMPLATE_APP_ROLE, TEMPLATE_DATABASE } from './database';
import { freePort } from './process';

/**
 * Starts ONE embedded PostgreSQL for the whole run (the same binaries the app uses), migrates a template
 * database with the real migrations, and tells the workers where it is. Each test file then clones the
 * template into a database of its own (test/support/database.ts).
 */
export default async function globalSetup(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'haven-test-'));
  const pg = new EmbeddedPostgres({
    clusterDir: join(root, 'postgres'),
    socketDir: join(root, 'run'),
    port: await freePort(),
    password: 'test-only-superuser',
    // Durability is irrelevant for throw-away test data; these make database creation fast.
    settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', max_connections: '300' },
  });
  await pg.start();
  await pg.createDatabaseIfMissing(TEMPLATE_DATABASE);
  const ds = await new DataSource(
    dataSourceOptions({ url: pg.url(TEMPLATE_DATABASE), poolSize: 2, applicationName: 'haven-test-setup' }),
  ).initialize();
  try {
    await runMigrationsLocked(ds);
    // The role the application runs as in the tests (as DATABASE_APP_URL): a member of haven_app only, so
    // that every end-to-end test runs with the privileges production has.
    await ds.query(
      `CREATE ROLE ${TEMPLATE_APP_ROLE} LOGIN PASSWORD '${TEMPLATE_APP_PASSWORD}' IN ROLE haven_app`,
    );
  } finally {
    await ds.destroy();
  }
  process.env.HAVEN_TEST_PG_ADMIN_URL = pg.url('postgres');
  process.env.HAVEN_TEST_PG_DATA_DIR = join(root, 'postgres');
  process.env.HAVEN_TEST_ROOT = root;
  (globalThis as { __havenTestPg?: EmbeddedPostgres }).__havenTestPg = pg;
}
