import type { DataSource, Migration } from 'typeorm';

import { ADVISORY_LOCKS } from './advisory-locks';

/**
 * Applies pending migrations under a PostgreSQL advisory lock, so that several instances starting at once
 * against one database apply each migration exactly once.
 */
export async function runMigrationsLocked(dataSource: DataSource): Promise<Migration[]> {
  const lock = dataSource.createQueryRunner();
  await lock.connect();
  try {
    await lock.query('SELECT pg_advisory_lock($1)', [ADVISORY_LOCKS.migration]);
    return await dataSource.runMigrations({ transaction: 'each' });
  } finally {
    await lock.query('SELECT pg_advisory_unlock($1)', [ADVISORY_LOCKS.migration]).catch(() => undefined);
    await lock.release();
  }
}
