import type { DataSource, Migration } from 'typeorm';

import { ConfigError } from '../config/config';
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
 * Reverts the last migration applied, under the same lock (`onWait` as for runMigrationsLocked), if it is
 * `expected` (the one the operator was shown and confirmed): another applied since (an instance of a newer
 * release starting meanwhile) is not reverted in its place, its down() unconfirmed. The last one's name, and
 * whether it was reverted; null when none is applied.
 */
export function revertLastMigrationLocked(
  dataSource: DataSource,
  expected: string,
  onWait?: (holder: MigrationLockHolder) => void,
): Promise<{ name: string; reverted: boolean } | null> {
  return underMigrationLock(dataSource, onWait, async () => {
    const last = await lastMigrationName(dataSource);
    if (last === null) return null;
    if (last !== expected) return { name: last, reverted: false };
    await dataSource.undoLastMigration({ transaction: 'each' });
    return { name: last, reverted: true };
  });
}

/** The name of the last migration applied (the one a revert undoes, as TypeORM takes it), or null. */
export async function lastMigrationName(dataSource: DataSource): Promise<string | null> {
  const [last] = await dataSource.query<{ name: string }[]>(
    'SELECT name FROM migrations ORDER BY id DESC LIMIT 1',
  );
  return last?.name ?? null;
}

/** The names of the migrations applied to the database, oldest first. */
export async function appliedMigrations(dataSource: DataSource): Promise<string[]> {
  const rows = await dataSource.query<{ name: string }[]>('SELECT name FROM migrations ORDER BY id');
  return rows.map((r) => r.name);
}

/**
 * Of the migrations `applied` (appliedMigrations), those `dataSource` does not list, oldest first: applied by a
 * newer build (the database is ahead of this code).
 */
export function unknownToBuild(dataSource: DataSource, applied: readonly string[]): string[] {
  const known = new Set(dataSource.migrations.map((m) => m.name));
  return applied.filter((n) => !known.has(n));
}

/**
 * Refuses a database a newer release migrated with a migration this build does not know and cannot run with: the
 * newer release listed it in `schema_requirements` (migration SchemaRequirements). Other migrations unknown here
 * (an older release on a newer schema that stays compatible with it: a rollback) only go to `onNewer`, as does a
 * required one when `allowNewer` (HAVEN_ALLOW_NEWER_SCHEMA) lets it through (`required` then names it). Run on the
 * database this build has just migrated (its own migrations are all there).
 */
export async function assertSchemaOfThisBuild(
  dataSource: DataSource,
  allowNewer: boolean,
  onNewer: (unknown: string[], required: string[]) => void,
): Promise<void> {
  const applied = await appliedMigrations(dataSource);
  const unknown = unknownToBuild(dataSource, applied);
  if (unknown.length === 0) return;
  const required = await dataSource.query<{ migration: string; reason: string }[]>(
    `SELECT migration, reason FROM schema_requirements WHERE migration = ANY($1::text[]) ORDER BY migration`,
    [unknown],
  );
  if (required.length === 0 || allowNewer) {
    onNewer(
      unknown,
      required.map((r) => r.migration),
    );
    return;
  }
  throw new ConfigError([
    `the database is ahead of this build, which cannot run on it: ${required
      .map((r) => `${r.migration} (${r.reason})`)
      .join('; ')}. Run the release that applied them; to go back to this one, revert them first with that ` +
      'release (npm run migration:revert), or start with HAVEN_ALLOW_NEWER_SCHEMA=1 knowing that what they ' +
      'added is not in force (docs/deployment.md)',
  ]);
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
