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
export function runMigrationsLocked(
  dataSource: DataSource,
  onWait?: (holder: MigrationLockHolder) => void,
): Promise<Migration[]> {
  return underMigrationLock(dataSource, onWait, () => dataSource.runMigrations({ transaction: 'each' }));
}

/**
 * Reverts the last migration applied, under the same lock (`onWait` as for runMigrationsLocked): read
 * outside it, the last one could be another by the time it was reverted (an instance starting meanwhile applied
 * the next), and the one named would not be the one reverted. Its name, or null when none is applied.
 */
export function revertLastMigrationLocked(
  dataSource: DataSource,
  onWait?: (holder: MigrationLockHolder) => void,
): Promise<string | null> {
  return underMigrationLock(dataSource, onWait, async () => {
    const [last] = await dataSource.query<{ name: string }[]>(
      'SELECT name FROM migrations ORDER BY id DESC LIMIT 1',
    );
    if (!last) return null;
    await dataSource.undoLastMigration({ transaction: 'each' });
    return last.name;
  });
}

async function underMigrationLock<T>(
  dataSource: DataSource,
  onWait: ((holder: MigrationLockHolder) => void) | undefined,
  work: () => Promise<T>,
): Promise<T> {
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
    return await work();
  } finally {
    await lock.query('SELECT pg_advisory_unlock($1)', [ADVISORY_LOCKS.migration]).catch(() => undefined);
    await lock.release();
  }
}
