import type { DataSource, Migration } from 'typeorm';

import { ADVISORY_LOCKS } from './advisory-locks';

/** The session holding the migration lock: its server process and application name, when known. */
export interface MigrationLockHolder {
  pid: number | null;
  application: string | null;
}

/**
 * Applies pending migrations under a PostgreSQL advisory lock, so that several instances starting at once
 * against one database apply each migration exactly once. When another session holds the lock, `onWait` is
 * told which (its server process and application name) before this one waits for it: a migration that stalls
 * everyone's start says who holds it, instead of a start that hangs without a word.
 */
export async function runMigrationsLocked(
  dataSource: DataSource,
  onWait?: (holder: MigrationLockHolder) => void,
): Promise<Migration[]> {
  const lock = dataSource.createQueryRunner();
  await lock.connect();
  try {
    const [got] = (await lock.query('SELECT pg_try_advisory_lock($1) AS locked', [
      ADVISORY_LOCKS.migration,
    ])) as { locked: boolean }[];
    if (!got.locked) {
      const [holder] = (await lock.query(
        `SELECT l.pid, a.application_name FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
          WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
            AND ((l.classid::bigint << 32) | l.objid::bigint) = $1::bigint
          LIMIT 1`,
        [ADVISORY_LOCKS.migration],
      )) as { pid: number | null; application_name: string | null }[];
      onWait?.({ pid: holder?.pid ?? null, application: holder?.application_name ?? null });
      await lock.query('SELECT pg_advisory_lock($1)', [ADVISORY_LOCKS.migration]);
    }
    return await dataSource.runMigrations({ transaction: 'each' });
  } finally {
    await lock.query('SELECT pg_advisory_unlock($1)', [ADVISORY_LOCKS.migration]).catch(() => undefined);
    await lock.release();
  }
}
