import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { isKekFloorRefusal } from '../database/pg-errors';
import { Client } from 'pg';
import { createTestDatabase, createTestDataSource } from '../../test/support/database';
import { waitFor } from '../../test/support/wait';
import { createCryptoServices, CryptoServices } from './crypto.factory';
import { CryptoFixture, cryptoErrorOf, givenCrypto } from './crypto.spec-helpers';
import { Ciphertext, DataKeyOwner, KekRef } from './crypto.types';
import type { KeyProvider } from './key-provider';
import { DataKeyRepository, widenXidSql, XID8_OF_BACKEND } from './data-key.repository';
import { DataKeyService } from './data-key.service';
import { rotateKeys, RotateKeysOptions, RotationProgress, RotationRunning } from './key-rotation';

interface Sealed {
  owner: DataKeyOwner;
  value: Ciphertext;
  plaintext: string;
}

describe('rotateKeys (PostgreSQL)', () => {
  let db: { dataSource: DataSource; drop(): Promise<void> };

  beforeAll(async () => {
    db = await createTestDataSource();
  });
  afterAll(async () => {
    await db?.drop();
  });

  /** keys:rotate without the wait for the instances to take the version up (the tests' services ask each time). */
  const rotate = (provider: KeyProvider, opts: RotateKeysOptions = {}) =>
    rotateKeys(db.dataSource, provider, { adoptionWaitMs: 0, ...opts });

  /** Fresh keys and `n` cases with one encrypted field each; data_keys is emptied first. */
  async function givenCases(n: number): Promise<{ fixture: CryptoFixture; cases: Sealed[] }> {
    await db.dataSource.query('DELETE FROM data_keys');
    await db.dataSource.query('DELETE FROM kek_floors');
    await db.dataSource.query('DELETE FROM kek_checks');
    const fixture = await givenCrypto(db.dataSource);
    const cases: Sealed[] = [];
    for (let i = 0; i < n; i++) {
      const owner = { ownerType: 'case', ownerId: randomUUID() };
      const key = await fixture.crypto.dataKeys.create(owner);
      const plaintext = `Nguyễn Thị Số ${i}`;
      cases.push({ owner, plaintext, value: fixture.crypto.fields.encrypt(key, at(owner), plaintext) });
    }
    return { fixture, cases };
  }

  const at = (owner: DataKeyOwner) => ({
    table: 'cases',
    column: 'survivor_full_name',
    rowId: owner.ownerId,
  });

  async function readAll(crypto: CryptoServices, cases: Sealed[]): Promise<string[]> {
    const out: string[] = [];
    for (const c of cases) {
      const key = await crypto.dataKeys.get(c.owner);
      out.push(crypto.fields.decryptString(key, at(c.owner), c.value));
    }
    return out;
  }

  async function versions(): Promise<Record<number, number>> {
    const rows: Array<{ v: number; n: number }> = await db.dataSource.query(
      `SELECT kek_version AS v, count(*)::int AS n FROM data_keys GROUP BY 1 ORDER BY 1`,
    );
    return Object.fromEntries(rows.map((r) => [r.v, r.n]));
  }

  it('adds a KEK version, re-wraps every data key in batches and keeps everything readable', async () => {
    const { fixture, cases } = await givenCases(23);
    const service = fixture.crypto; // the running application, loaded before the rotation
    const cli = await fixture.reopen(); // the CLI process
    const progress: RotationProgress[] = [];
    const readableDuring: string[][] = [];

    const result = await rotate(cli.keyProvider, {
      batchSize: 10,
      onProgress: async (p) => {
        progress.push(p);
        // Between batches, the running service reads every case (some on v1, some on v2).
        readableDuring.push(await readAll(service, cases));
      },
    });

    expect(result).toMatchObject({
      target: { kekId: 'haven-kek', version: 2 },
      addedVersion: true,
      rewrapped: 23,
      remaining: 0,
      completed: true,
      interrupted: false,
      unreferencedVersions: [{ kekId: 'haven-kek', version: 1 }],
      failed: [],
    });
    expect(progress.map((p) => [p.rewrapped, p.total, p.batches])).toEqual([
      [10, 23, 1],
      [20, 23, 2],
      [23, 23, 3],
    ]);
    expect(await versions()).toEqual({ 2: 23 });
    expect(readableDuring).toEqual([1, 2, 3].map(() => cases.map((c) => c.plaintext)));
    // The running service creates new keys with the new version too.
    await service.dataKeys.create({ ownerType: 'case', ownerId: randomUUID() });
    expect(await versions()).toEqual({ 2: 24 });
    const [row] = await db.dataSource.query(
      `SELECT count(*)::int AS n FROM data_keys WHERE rotated_at IS NOT NULL`,
    );
    expect(row.n).toBe(23);
  });

  it('a version only installed wraps no data key until a rotation announces it, and the floor waits for the instances to take it up', async () => {
    const { fixture } = await givenCases(2);
    const provider = fixture.crypto.keyProvider;
    // The new keyring reaches this instance first (the file gains v2): the other instances still hold v1 only.
    const v2 = await provider.addKekVersion();
    expect(await provider.activeKek()).toEqual(v2);
    // An instance that asks the database again after 300 ms, as a running one does after KEK_ADOPTION_REFRESH_MS.
    const instance = new DataKeyService(new DataKeyRepository(db.dataSource), provider, 300);
    await instance.create({ ownerType: 'case', ownerId: randomUUID() });
    // Still v1: what it registers now the others can read.
    expect(await versions()).toEqual({ 1: 3 });

    const waits: [KekRef, number][] = [];
    const result = await rotate((await fixture.reopen()).keyProvider, {
      adoptionWaitMs: 800,
      onAdoptionWait: (target, ms) => waits.push([target, ms]),
    });
    expect(result).toMatchObject({ target: v2, addedVersion: false, completed: true, rewrapped: 3 });
    expect(waits).toEqual([[v2, expect.any(Number)]]);
    expect(waits[0][1]).toBeGreaterThan(700);
    // The floor was raised only once the version had been announced (its check) for the whole wait.
    const [{ waited }] = await db.dataSource.query(
      `SELECT extract(epoch FROM f.raised_at - c.registered_at) * 1000 AS waited
         FROM kek_floors f JOIN kek_checks c ON c.kek_id = f.kek_id AND c.kek_version = f.min_version`,
    );
    expect(Number(waited)).toBeGreaterThanOrEqual(800);
    // By then the instance had asked again: it wraps with v2, which the floor takes.
    await instance.create({ ownerType: 'case', ownerId: randomUUID() });
    expect(await versions()).toEqual({ 2: 4 });
    // A run after the wait has passed waits no more.
    waits.length = 0;
    await rotate(provider, {
      addVersion: 'never',
      adoptionWaitMs: 800,
      onAdoptionWait: (t, ms) => waits.push([t, ms]),
    });
    expect(waits).toEqual([]);
    // An instance that saw v2 taken up long ago (a minute's trust) while v3 is installed and announced, the floor
    // raised without waiting for it: its data key is refused, and the next one asks again.
    const slow = new DataKeyService(new DataKeyRepository(db.dataSource), provider, 60_000);
    const v3 = await provider.addKekVersion();
    await slow.create({ ownerType: 'case', ownerId: randomUUID() });
    expect(await versions()).toEqual({ 2: 5 });
    await rotate((await fixture.reopen()).keyProvider, { addVersion: 'never', adoptionWaitMs: 0 });
    const refused = await slow.create({ ownerType: 'case', ownerId: randomUUID() }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isKekFloorRefusal(refused)).toBe(true);
    await slow.create({ ownerType: 'case', ownerId: randomUUID() });
    expect(await versions()).toEqual({ [v3.version]: 6 });
  });

  it('an interrupted rotation leaves everything readable and resumes without adding another version', async () => {
    const { fixture, cases } = await givenCases(25);
    const controller = new AbortController();
    const first = await rotate(fixture.crypto.keyProvider, {
      batchSize: 10,
      signal: controller.signal,
      onProgress: () => controller.abort(), // "Ctrl-C" after the first batch
    });
    expect(first).toMatchObject({ rewrapped: 10, remaining: 15, completed: false, interrupted: true });
    expect(await versions()).toEqual({ 1: 15, 2: 10 });
    // Half-rotated: every value still reads, from this process and from a fresh one.
    expect(await readAll(fixture.crypto, cases)).toEqual(cases.map((c) => c.plaintext));
    expect(await readAll(await fixture.reopen(), cases)).toEqual(cases.map((c) => c.plaintext));

    const second = await rotate((await fixture.reopen()).keyProvider, { batchSize: 10 });
    expect(second).toMatchObject({
      target: { version: 2 },
      addedVersion: false,
      rewrapped: 15,
      remaining: 0,
      completed: true,
    });
    expect(await versions()).toEqual({ 2: 25 });
    expect(await readAll(await fixture.reopen(), cases)).toEqual(cases.map((c) => c.plaintext));

    // The next run starts a new rotation.
    const third = await rotate(fixture.crypto.keyProvider, { batchSize: 100 });
    expect(third).toMatchObject({
      target: { version: 3 },
      addedVersion: true,
      rewrapped: 25,
      completed: true,
    });
    expect(await readAll(fixture.crypto, cases)).toEqual(cases.map((c) => c.plaintext));
  });

  it('stopped while it waits for the transactions from before the floor, it completes nothing and calls no version unused', async () => {
    const { fixture } = await givenCases(0); // nothing to re-wrap: only the wait stands before "completed"
    // A writer that began before the floor (it may have read the old one), still running.
    const writer = db.dataSource.createQueryRunner();
    await writer.connect();
    await writer.startTransaction();
    try {
      await writer.query('SELECT pg_current_xact_id()');
      const controller = new AbortController();
      // "Ctrl-C" during the wait: once the floor is raised to the new version (the wait comes right after it),
      // not at a moment that might come before it (the same answer would then say nothing of the wait).
      const stopped = waitFor(
        async () => (await db.dataSource.query(`SELECT 1 FROM kek_floors WHERE min_version >= 2`)).length > 0,
        10_000,
      ).then(() => controller.abort());
      const result = await rotate(fixture.crypto.keyProvider, {
        signal: controller.signal,
      });
      await stopped;
      expect(result).toMatchObject({
        remaining: 0,
        completed: false,
        interrupted: true,
        unreferencedVersions: [],
      });
    } finally {
      await writer.rollbackTransaction();
      await writer.release();
    }
    // Once it has ended, a run to the same version completes, and v1 (that writer's, perhaps) is named unused.
    const again = await rotate((await fixture.reopen()).keyProvider, {
      addVersion: 'never',
    });
    expect(again).toMatchObject({
      target: { version: 2 },
      completed: true,
      unreferencedVersions: [{ kekId: 'haven-kek', version: 1 }],
    });
  });

  it('a crash in the middle of a batch rolls that batch back; the next run finishes', async () => {
    const { fixture, cases } = await givenCases(12);
    const real = fixture.crypto.keyProvider;
    let wraps = 0;
    const crashing: KeyProvider = Object.assign(Object.create(real) as KeyProvider, {
      wrapDek: async (kek: KekRef, dek: Uint8Array, context: Uint8Array) => {
        if (++wraps === 8) throw new Error('simulated crash');
        return real.wrapDek(kek, dek, context);
      },
    });
    await expect(rotate(crashing, { batchSize: 5 })).rejects.toThrow('simulated crash');
    // Batch 1 (5 keys) committed; batch 2 failed on its 3rd key and was rolled back entirely.
    expect(await versions()).toEqual({ 1: 7, 2: 5 });
    expect(await readAll(fixture.crypto, cases)).toEqual(cases.map((c) => c.plaintext));

    const resumed = await rotate(real, { batchSize: 5 });
    expect(resumed).toMatchObject({
      target: { version: 2 },
      addedVersion: false,
      rewrapped: 7,
      completed: true,
    });
    expect(await readAll(fixture.crypto, cases)).toEqual(cases.map((c) => c.plaintext));
  });

  it('skips destroyed keys, reports keys it cannot unwrap, and leaves them as they were', async () => {
    const { fixture, cases } = await givenCases(6);
    await fixture.crypto.dataKeys.shred(cases[0].owner);
    await db.dataSource.query(
      `UPDATE data_keys SET wrapped_dek = set_byte(wrapped_dek, 40, get_byte(wrapped_dek, 40) # 1) WHERE owner_id = $1`,
      [cases[1].owner.ownerId],
    );
    const result = await rotate(fixture.crypto.keyProvider, { batchSize: 2 });
    expect(result).toMatchObject({ rewrapped: 4, remaining: 1, completed: false, interrupted: false });
    expect(result.failed).toEqual([{ owner: cases[1].owner, code: 'crypto.integrity' }]);
    expect(await cryptoErrorOf(() => fixture.crypto.dataKeys.get(cases[0].owner))).toBe(
      'crypto.key_destroyed',
    );
    expect(await readAll(fixture.crypto, cases.slice(2))).toEqual(cases.slice(2).map((c) => c.plaintext));
    // The floor does not stand in the way of shredding a key left on the old version.
    expect(await fixture.crypto.dataKeys.shred(cases[1].owner)).toBe('destroyed');
  });

  it('refuses to run twice at once on the same database', async () => {
    const { fixture } = await givenCases(1);
    const holder = db.dataSource.createQueryRunner();
    await holder.connect();
    try {
      await holder.query('SELECT pg_advisory_lock(74061984)');
      // A passing state (keys:rotate exits 75), not a configuration to put right.
      await expect(rotate(fixture.crypto.keyProvider)).rejects.toThrow(RotationRunning);
      await holder.query('SELECT pg_advisory_unlock(74061984)');
    } finally {
      await holder.release();
    }
    await expect(rotate(fixture.crypto.keyProvider)).resolves.toMatchObject({
      completed: true,
    });
  });

  /** The services of a process that read the fixture's keyring now and never sees it change (HAVEN_MASTER_KEY). */
  async function frozenCopy(fixture: CryptoFixture): Promise<CryptoServices> {
    const keyring = readFileSync(join(fixture.dataDir, 'keys', 'keyring.json'), 'utf8');
    return createCryptoServices(
      { dataDir: fixture.dataDir, production: false, masterKey: keyring },
      db.dataSource,
    );
  }

  it('raises the KEK floor: an instance still on the old keyring can no longer add data keys', async () => {
    const { fixture } = await givenCases(3);
    const stale = await frozenCopy(fixture);
    await rotate((await fixture.reopen()).keyProvider);
    expect(await db.dataSource.query(`SELECT kek_id, min_version FROM kek_floors`)).toEqual([
      { kek_id: 'haven-kek', min_version: 2 },
    ]);

    const refused = await stale.dataKeys.create({ ownerType: 'case', ownerId: randomUUID() }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isKekFloorRefusal(refused)).toBe(true);
    expect(String((refused as Error).message)).toContain('haven-kek v1, below the KEK floor v2');
    // Nothing was stored; moving a stored key below the floor is refused as well.
    expect(await versions()).toEqual({ 2: 3 });
    await expect(db.dataSource.query(`UPDATE data_keys SET kek_version = 1`)).rejects.toMatchObject({
      code: 'HKF01',
    });
    // An instance with the rotated keyring adds keys on the new version.
    await fixture.crypto.dataKeys.create({ ownerType: 'case', ownerId: randomUUID() });
    expect(await versions()).toEqual({ 2: 4 });
  });

  it('refuses to rotate with a keyring older than the floor, leaving keys and floor as they were', async () => {
    const { fixture } = await givenCases(2);
    const stale = await frozenCopy(fixture);
    await rotate(fixture.crypto.keyProvider);
    await expect(rotate(stale.keyProvider, { addVersion: 'never' })).rejects.toThrow(
      /takes data keys wrapped with haven-kek v2 or later, and this keyring's newest version is v1/,
    );
    expect(await versions()).toEqual({ 2: 2 });
    const [floor] = await db.dataSource.query(`SELECT min_version FROM kek_floors`);
    expect(floor.min_version).toBe(2);
  });

  it('refuses a keyring that is not the database’s (a wrong data directory), before changing anything', async () => {
    const { fixture, cases } = await givenCases(2);
    const stranger = await givenCrypto(db.dataSource); // a development keyring made afresh elsewhere
    await expect(rotate(stranger.crypto.keyProvider)).rejects.toThrow(
      /cannot open the database's newest data key \(haven-kek v1: crypto.integrity\).*Nothing was changed/,
    );
    expect(await versions()).toEqual({ 1: 2 });
    expect(await db.dataSource.query(`SELECT * FROM kek_floors`)).toEqual([]);
    expect((await stranger.crypto.keyProvider.kekVersions()).map((k) => k.version)).toEqual([1]);
    expect(await readAll(fixture.crypto, cases)).toEqual(cases.map((c) => c.plaintext));
  });

  it('waits for a writer that read the old floor, so the list of unused versions holds', async () => {
    const { fixture } = await givenCases(2);
    // An instance creates a key on v1 in a transaction that is still open when the rotation starts.
    const writer = db.dataSource.createQueryRunner();
    await writer.connect();
    let settled = false;
    let rotation: Promise<unknown> | undefined;
    try {
      await writer.startTransaction();
      await fixture.crypto.dataKeys.create({ ownerType: 'case', ownerId: randomUUID() }, writer.manager);
      rotation = rotate((await fixture.reopen()).keyProvider).finally(() => {
        settled = true;
      });
      await new Promise((resolve) => setTimeout(resolve, 600));
      expect(settled).toBe(false);
      await writer.commitTransaction();
    } finally {
      if (writer.isTransactionActive) await writer.rollbackTransaction();
      await writer.release();
    }
    await expect(rotation).resolves.toMatchObject({
      target: { version: 2 },
      completed: true,
      unreferencedVersions: [{ kekId: 'haven-kek', version: 1 }],
    });
    expect(await versions()).toEqual({ 2: 3 });
  });

  it('does not wait for a transaction of another database on the same server (it writes no key of this one)', async () => {
    const { fixture } = await givenCases(1);
    const elsewhere = await createTestDatabase();
    const other = new Client({ connectionString: elsewhere.url });
    await other.connect();
    let rotation: Promise<unknown> | undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      await other.query('BEGIN');
      await other.query('SELECT pg_current_xact_id()'); // the transaction has an id, as a writer's has
      rotation = rotate((await fixture.reopen()).keyProvider);
      const settled = await Promise.race([
        rotation.then(() => 'done'),
        new Promise((resolve) => (timer = setTimeout(() => resolve('still waiting'), 5_000))),
      ]);
      expect(settled).toBe('done');
    } finally {
      clearTimeout(timer);
      await other.query('ROLLBACK').catch(() => undefined);
      await rotation?.catch(() => undefined); // done once the other database's transaction has ended
      await other.end();
      await elsewhere.drop();
    }
  });

  it('places a 32-bit xid in the epoch near a snapshot’s xmax, across epoch boundaries both ways', async () => {
    const E = 4294967296; // 2^32: one epoch
    const cases: [number, number, number][] = [
      // [xmax, xid, expected xid8]
      [1000, 990, 990], // just below xmax, epoch 0
      [1000, 1005, 1005], // given its id after the snapshot
      [3 * E + 10, 4294967290, 2 * E + 4294967290], // below xmax, in the epoch before
      [2 * E - 5, 3, 2 * E + 3], // above xmax, in the next epoch
      [5 * E + 2147483000, 100, 5 * E + 100],
    ];
    for (const [xmax, xid, expected] of cases) {
      const [{ x }] = await db.dataSource.query(
        `SELECT ${widenXidSql('$1::numeric', '$2::numeric')}::text AS x`,
        [String(xmax), String(xid)],
      );
      expect(x).toBe(String(expected));
    }
  });

  it('places a running backend’s 32-bit xid in its epoch, as the transaction’s own xid8', async () => {
    const writer = db.dataSource.createQueryRunner();
    await writer.connect();
    try {
      await writer.startTransaction();
      const [{ xid, pid }] = await writer.query(
        `SELECT pg_current_xact_id()::text AS xid, pg_backend_pid() AS pid`,
      );
      const [{ widened }] = await db.dataSource.query(
        `SELECT ${XID8_OF_BACKEND} AS widened
           FROM (SELECT pg_current_snapshot() AS snap) s, pg_stat_activity a WHERE a.pid = $1`,
        [pid],
      );
      expect(widened).toBe(xid);
    } finally {
      await writer.rollbackTransaction();
      await writer.release();
    }
  });

  it('with a read-only provider, re-wraps to the active version without adding one', async () => {
    const { fixture } = await givenCases(3);
    const before = await fixture.crypto.keyProvider.activeKek();
    const result = await rotate(fixture.crypto.keyProvider, { addVersion: 'never' });
    expect(result).toMatchObject({ target: before, addedVersion: false, rewrapped: 0, completed: true });
    expect((await fixture.crypto.keyProvider.kekVersions()).length).toBe(1);
  });
});
