import type { DataSource, Migration } from 'typeorm';

// Any constant works; it only has to be the same for every Haven process sharing a database.
const MIGRATION_LOCK_KEY = 74_061_983;

/**
 * Applies pending migrations under a PostgreSQL advisory lock, so that several instances starting at once
 * against one database apply each migration exactly once.
 */
export async function runMigrationsLocked(dataSource: DataSource): Promise<Migration[]> {
  const lock = dataSource.createQueryRunner();
  await lock.connect();
  try {
    await lock.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    return await dataSource.runMigrations({ transaction: 'each' });
  } finally {
    await lock.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    await lock.release();
  }
}
