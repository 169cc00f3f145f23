import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { createTestDataSource } from '../../test/support/database';
import { createCryptoServices, CryptoServices } from './crypto.factory';
import { CryptoFixture, cryptoErrorOf, givenCrypto } from './crypto.spec-helpers';
import type { DataKeyOwner } from './crypto.types';
import { type KeyProvider, LocalKeyringProvider } from './key-provider';
import { rotateKeys, type RotateKeysOptions } from './key-rotation';

/**
 * One key per KEK version on a database (KekChecks): a process holding another key under a version the database
 * knows wraps no data key with it, whether it started that way, had its keyring replaced while running, or raced
 * another process to the version's first data key.
 */
describe('KEK checks (PostgreSQL)', () => {
  let db: { dataSource: DataSource; drop(): Promise<void> };
  const fixtures: CryptoFixture[] = [];
  const owner = (): DataKeyOwner => ({ ownerType: 'case', ownerId: randomUUID() });

  /** keys:rotate without the wait for the instances to take the version up (the tests' services ask each time). */
  const rotate = (provider: KeyProvider, opts: RotateKeysOptions = {}) =>
    rotateKeys(db.dataSource, provider, { adoptionWaitMs: 0, ...opts });

  beforeAll(async () => {
    db = await createTestDataSource();
  });
  afterAll(async () => {
    await db?.drop();
    for (const f of fixtures) f.cleanup();
  });
  beforeEach(async () => {
    await db.dataSource.query('DELETE FROM data_keys');
    await db.dataSource.query('DELETE FROM kek_checks');
    await db.dataSource.query('DELETE FROM kek_floors');
  });

  /** Development keys of their own (a random v1), as a process in another data directory would have. */
  async function keys(): Promise<CryptoFixture> {
    const fixture = await givenCrypto(db.dataSource);
    fixtures.push(fixture);
    return fixture;
  }

  /** The services of a process given `document` as HAVEN_MASTER_KEY. */
  const withKeyring = (fixture: CryptoFixture, document: string): Promise<CryptoServices> =>
    createCryptoServices(
      { dataDir: fixture.dataDir, production: false, masterKey: document, kekAdoptionRefreshMs: 0 },
      db.dataSource,
    );

  const keyringOf = (fixture: CryptoFixture): string =>
    readFileSync(join(fixture.dataDir, 'keys', 'keyring.json'), 'utf8');

  /** `document` with another random key under its newest version (the same root and version numbers). */
  function withAnotherNewestKey(document: string): string {
    const doc = JSON.parse(document) as { keks: Array<{ key: string }> };
    doc.keks[doc.keks.length - 1].key = randomBytes(32).toString('base64');
    return JSON.stringify(doc);
  }

  const checks = () =>
    db.dataSource.query<Array<{ kek_id: string; kek_version: number; registered_at: Date }>>(
      `SELECT kek_id, kek_version, registered_at FROM kek_checks ORDER BY kek_id, kek_version`,
    );
  const keyCount = async () =>
    (await db.dataSource.query<Array<{ n: number }>>(`SELECT count(*)::int AS n FROM data_keys`))[0].n;

  it('registers a version’s check with its first data key; the same keys elsewhere pass it', async () => {
    const a = await keys();
    expect(await checks()).toEqual([]);
    const first = owner();
    await a.crypto.dataKeys.create(first);
    const registered = await checks();
    expect(registered).toMatchObject([{ kek_id: 'haven-kek', kek_version: 1 }]);

    const sameKeys = await a.reopen();
    expect(await sameKeys.dataKeys.kekChecks.mismatched()).toEqual([]);
    const second = owner();
    await sameKeys.dataKeys.create(second);
    expect(await checks()).toEqual(registered); // checked, not registered again
    await a.crypto.dataKeys.get(second);
    await sameKeys.dataKeys.get(first);
  });

  it('refuses another key under a known version: nothing is stored, and the start-up check names the version', async () => {
    const a = await keys();
    await a.crypto.dataKeys.create(owner());
    const stranger = await keys(); // another random v1 under the same KEK id

    expect(await cryptoErrorOf(() => stranger.crypto.dataKeys.create(owner()))).toBe('crypto.kek_mismatch');
    expect(await cryptoErrorOf(() => stranger.crypto.dataKeys.prepare(owner()))).toBe('crypto.kek_mismatch');
    expect(await keyCount()).toBe(1);
    expect(await checks()).toHaveLength(1);
    expect(await stranger.crypto.dataKeys.kekChecks.mismatched()).toEqual([
      { kekId: 'haven-kek', version: 1 },
    ]);
    expect(await a.crypto.dataKeys.kekChecks.mismatched()).toEqual([]);
    // The message names the version and where to look, never a key.
    const error = await stranger.crypto.dataKeys.create(owner()).then(
      () => new Error('created'),
      (e: Error) => e,
    );
    expect(error.message).toMatch(/haven-kek v1 is another key than the one the database's data keys/);
    const strangerKeyring = JSON.parse(keyringOf(stranger)) as { keks: Array<{ key: string }> };
    expect(error.message).not.toContain(strangerKeyring.keks[0].key);
  });

  it('judges a version used before the checks existed by its data keys, and registers the check for the right key only', async () => {
    const a = await keys();
    const earlier = owner();
    await a.crypto.dataKeys.create(earlier);
    await db.dataSource.query('DELETE FROM kek_checks'); // data keys from before the migration
    const stranger = await keys();

    expect(await stranger.crypto.dataKeys.kekChecks.mismatched()).toEqual([
      { kekId: 'haven-kek', version: 1 },
    ]);
    expect(await cryptoErrorOf(() => stranger.crypto.dataKeys.create(owner()))).toBe('crypto.kek_mismatch');
    expect(await checks()).toEqual([]);

    const restarted = await a.reopen();
    expect(await restarted.dataKeys.kekChecks.mismatched()).toEqual([]);
    await restarted.dataKeys.create(owner());
    expect(await checks()).toMatchObject([{ kek_id: 'haven-kek', kek_version: 1 }]);
    await restarted.dataKeys.get(earlier);
  });

  it('of two keyrings racing to a version’s first data key, exactly one wins', async () => {
    for (let round = 0; round < 5; round++) {
      await db.dataSource.query('DELETE FROM data_keys');
      await db.dataSource.query('DELETE FROM kek_checks');
      const [a, b] = await Promise.all([keys(), keys()]);
      const outcomes = await Promise.allSettled([
        a.crypto.dataKeys.create(owner()),
        b.crypto.dataKeys.create(owner()),
      ]);
      const won = outcomes.filter((o) => o.status === 'fulfilled');
      const lost = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as Error] : []));
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      expect(lost[0].message).toMatch(/crypto\.kek_mismatch/);
      expect(await keyCount()).toBe(1);
      // The winner's keys open the stored key and pass the check; the loser's do not.
      const winner = outcomes[0].status === 'fulfilled' ? a : b;
      const loser = winner === a ? b : a;
      expect(await winner.crypto.dataKeys.kekChecks.mismatched()).toEqual([]);
      expect(await loser.crypto.dataKeys.kekChecks.mismatched()).toHaveLength(1);
    }
  });

  /** Installs `document` as the fixture's keyring file (as a secret store or an operator would). */
  function install(fixture: CryptoFixture, document: string): void {
    const path = join(fixture.dataDir, 'keys', 'keyring.json');
    writeFileSync(`${path}.new`, document, { mode: 0o600 });
    renameSync(`${path}.new`, path);
  }

  it('checks again when the keyring changes under a running process', async () => {
    const a = await keys();
    await a.crypto.dataKeys.create(owner());
    const original = keyringOf(a);
    const replace = (document: string) => install(a, document);

    replace(withAnotherNewestKey(original)); // another key under v1, same root
    expect(await cryptoErrorOf(() => a.crypto.dataKeys.create(owner()))).toBe('crypto.kek_mismatch');
    expect(await keyCount()).toBe(1);

    replace(original);
    await a.crypto.dataKeys.create(owner());
    expect(await keyCount()).toBe(2);
  });

  it('a keyring re-read while its key is being checked is checked again before it wraps anything', async () => {
    const a = await keys();
    await a.crypto.dataKeys.create(owner());
    const restarted = await a.reopen(); // nothing checked yet in this process
    const provider = restarted.keyProvider;
    const unwrap = provider.unwrapDek.bind(provider);
    // The check opens with the key it was made with; right after, another key under the same version arrives.
    const swap = jest.spyOn(provider, 'unwrapDek').mockImplementationOnce(async (kek, wrapped, context) => {
      const opened = await unwrap(kek, wrapped, context);
      install(a, withAnotherNewestKey(keyringOf(a)));
      await provider.refresh();
      return opened;
    });
    try {
      expect(await cryptoErrorOf(() => restarted.dataKeys.create(owner()))).toBe('crypto.kek_mismatch');
    } finally {
      swap.mockRestore();
    }
    expect(await keyCount()).toBe(1);
  });

  it('judges a version without a check by several of its data keys: a damaged one is not a mismatch', async () => {
    const a = await keys();
    const kept = owner();
    const damaged = [owner(), owner()];
    for (const o of [kept, ...damaged]) await a.crypto.dataKeys.create(o);
    await db.dataSource.query('DELETE FROM kek_checks'); // data keys from before the checks
    // One with a flipped bit (another key's tag, as it were), one of another shape.
    await db.dataSource.query(
      `UPDATE data_keys SET wrapped_dek = set_byte(wrapped_dek, 40, get_byte(wrapped_dek, 40) # 1)
        WHERE owner_id = $1`,
      [damaged[0].ownerId],
    );
    await db.dataSource.query(`UPDATE data_keys SET wrapped_dek = '\\x00' WHERE owner_id = $1`, [
      damaged[1].ownerId,
    ]);
    const restarted = await a.reopen();
    expect(await restarted.dataKeys.kekChecks.mismatched()).toEqual([]);
    await restarted.dataKeys.create(owner());
    expect(await checks()).toHaveLength(1);
    const stranger = await keys();
    await db.dataSource.query('DELETE FROM kek_checks');
    expect(await stranger.crypto.dataKeys.kekChecks.mismatched()).toEqual([
      { kekId: 'haven-kek', version: 1 },
    ]);
  });

  it('a rotation refuses a target version the database knows as another key, before raising the floor', async () => {
    const a = await keys();
    await a.crypto.dataKeys.create(owner());
    const provider = a.crypto.keyProvider as LocalKeyringProvider;
    // The same keyring prepared twice for production: the same v1, two different v2s.
    const first = await withKeyring(a, provider.exportWithNewKekVersion().document);
    const second = await withKeyring(a, provider.exportWithNewKekVersion().document);
    // One instance got the first document, announced its v2 (registered its check, as a rotation does first)
    // and wrapped a data key with it (since shredded: the newest live key, which the rotation opens first, is on
    // v1 again).
    const shredded = owner();
    await first.dataKeys.kekChecks.assertUsable(await first.keyProvider.activeKek());
    await first.dataKeys.create(shredded);
    expect(
      await db.dataSource.query(`SELECT kek_version AS v FROM data_keys WHERE owner_id = $1`, [
        shredded.ownerId,
      ]),
    ).toEqual([{ v: 2 }]);
    await first.dataKeys.shred(shredded);

    expect(await cryptoErrorOf(() => second.dataKeys.create(owner()))).toBe('crypto.kek_mismatch');
    expect(await cryptoErrorOf(() => rotate(second.keyProvider, { addVersion: 'never' }))).toBe(
      'crypto.kek_mismatch',
    );
    expect(await db.dataSource.query(`SELECT * FROM kek_floors`)).toEqual([]);
    expect(
      await db.dataSource.query(`SELECT kek_version AS v FROM data_keys WHERE destroyed_at IS NULL`),
    ).toEqual([{ v: 1 }]);

    // With the document the database knows, the rotation runs.
    await expect(rotate(first.keyProvider, { addVersion: 'never' })).resolves.toMatchObject({
      completed: true,
      rewrapped: 1,
    });
  });

  it('a rotation that would add a version the database knows from another keyring changes nothing', async () => {
    const a = await keys();
    await a.crypto.dataKeys.create(owner());
    const provider = a.crypto.keyProvider as LocalKeyringProvider;
    // Another instance got a prepared keyring with a v2 and wrapped with it (since shredded); this keyring has v1.
    const prepared = await withKeyring(a, provider.exportWithNewKekVersion().document);
    const shredded = owner();
    await prepared.dataKeys.kekChecks.assertUsable(await prepared.keyProvider.activeKek());
    await prepared.dataKeys.create(shredded);
    await prepared.dataKeys.shred(shredded);
    const before = keyringOf(a);

    expect(await cryptoErrorOf(() => rotate(a.crypto.keyProvider))).toBe('crypto.kek_mismatch');
    expect(keyringOf(a)).toBe(before);
    expect(await db.dataSource.query(`SELECT * FROM kek_floors`)).toEqual([]);
  });
});
