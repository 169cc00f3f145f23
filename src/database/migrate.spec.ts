import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { createTestDatabase, TestDatabase } from '../../test/support/database';
import { someoneWaitsForALock, waitFor } from '../../test/support/wait';
import { ADVISORY_LOCKS } from './advisory-locks';
import { dataSourceOptions } from './data-source-options';
import { revertLastMigrationLocked, runMigrationsLocked } from './migrate';

describe('migrations under their advisory lock', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db.drop();
  });
  /** A session to hold the migration lock, and the migrating application's data source. */
  const sessions = async (): Promise<{ holder: Client; owner: DataSource }> => {
    const holder = new Client({ connectionString: db.url, application_name: 'haven-test-holder' });
    await holder.connect();
    const owner = await new DataSource(
      dataSourceOptions({ url: db.url, poolSize: 2, applicationName: 'haven-test-migrate' }),
    ).initialize();
    return { holder, owner };
  };

  it('say which session holds the lock before waiting for it, and run once it is let go', async () => {
    const { holder, owner } = await sessions();
    try {
      await holder.query('SELECT pg_advisory_lock($1)', [ADVISORY_LOCKS.migration]);
      const pid = (await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
      const told: unknown[] = [];
      let done = false;
      const running = runMigrationsLocked(owner, (h) => told.push(h)).then((applied) => {
        done = true;
        return applied;
      });
      // Told, then waiting on the lock itself (not merely slower than a fixed pause).
      await waitFor(() => told.length > 0, 5_000);
      await someoneWaitsForALock((sql) => holder.query<{ n: number }>(sql).then((r) => r.rows));
      expect(told).toEqual([{ pid, application: 'haven-test-holder' }]);
      expect(done).toBe(false); // waiting, not going ahead of the holder
      await holder.query('SELECT pg_advisory_unlock($1)', [ADVISORY_LOCKS.migration]);
      await expect(running).resolves.toEqual([]); // the database is migrated already
      // Unheld, nothing is said.
      const again: unknown[] = [];
      await runMigrationsLocked(owner, (h) => again.push(h));
      expect(again).toEqual([]);
    } finally {
      await owner.destroy();
      await holder.end();
    }
  });

  it('a revert waits for the lock too, and reverts (and names) the last migration as it is once it has the lock', async () => {
    const { holder, owner } = await sessions();
    const last = async () =>
      (await owner.query<{ name: string }[]>('SELECT name FROM migrations ORDER BY id DESC LIMIT 1'))[0].name;
    try {
      const newest = await last();
      await holder.query('SELECT pg_advisory_lock($1)', [ADVISORY_LOCKS.migration]);
      const told: unknown[] = [];
      const reverting = revertLastMigrationLocked(owner, newest, (h) => told.push(h));
      await waitFor(() => told.length > 0, 5_000);
      await someoneWaitsForALock((sql) => holder.query<{ n: number }>(sql).then((r) => r.rows));
      expect(await last()).toBe(newest); // nothing reverted while another holds the lock
      await holder.query('SELECT pg_advisory_unlock($1)', [ADVISORY_LOCKS.migration]);
      await expect(reverting).resolves.toEqual({ name: newest, reverted: true });
      expect(await last()).not.toBe(newest);
      // Put back.
      expect((await runMigrationsLocked(owner)).map((m) => m.name)).toEqual([newest]);
      // Confirmed for another than the last (one applied since it was shown): nothing reverted.
      await expect(revertLastMigrationLocked(owner, 'SomethingOlder1')).resolves.toEqual({
        name: newest,
        reverted: false,
      });
      expect(await last()).toBe(newest);
    } finally {
      await owner.destroy();
      await holder.end();
    }
  });
});
