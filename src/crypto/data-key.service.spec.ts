import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { createTestDataSource } from '../../test/support/database';
import { gatedSql, GatedWrite, StatementParams } from '../database/gated-write';
import { CryptoFixture, cryptoErrorOf, givenCrypto } from './crypto.spec-helpers';
import { Ciphertext, DataKeyOwner } from './crypto.types';
import { asCiphertext } from './field-encryption.service';

// A stand-in for the case tables (which belong to a later issue): one owner row with encrypted columns and
// child rows of the same owner.
const PROBE_TABLE = `
  CREATE TABLE crypto_probe_cases (
    id uuid PRIMARY KEY,
    survivor_name bytea,
    survivor_phone bytea
  );
  CREATE TABLE crypto_probe_notes (
    id uuid PRIMARY KEY,
    case_id uuid NOT NULL REFERENCES crypto_probe_cases (id),
    body bytea NOT NULL
  )`;

describe('DataKeyService (PostgreSQL)', () => {
  let db: { dataSource: DataSource; drop(): Promise<void> };
  let fixture: CryptoFixture;
  const caseOwner = (): DataKeyOwner => ({ ownerType: 'case', ownerId: randomUUID() });

  beforeAll(async () => {
    db = await createTestDataSource();
    await db.dataSource.query(PROBE_TABLE);
    fixture = await givenCrypto(db.dataSource);
  });
  afterAll(async () => {
    await db?.drop();
    fixture?.cleanup();
  });

  /** Registers a case: its DEK and its encrypted columns, in one transaction. */
  async function givenCase(name: string, phone: string): Promise<DataKeyOwner> {
    const owner = caseOwner();
    const { dataKeys, fields } = fixture.crypto;
    await db.dataSource.transaction(async (manager) => {
      const key = await dataKeys.create(owner, manager);
      const at = (column: string) => ({ table: 'crypto_probe_cases', column, rowId: owner.ownerId });
      await manager.query(
        `INSERT INTO crypto_probe_cases (id, survivor_name, survivor_phone) VALUES ($1, $2, $3)`,
        [
          owner.ownerId,
          fields.encrypt(key, at('survivor_name'), name),
          fields.encrypt(key, at('survivor_phone'), phone),
        ],
      );
    });
    return owner;
  }

  async function readCase(owner: DataKeyOwner): Promise<{ name: Ciphertext; phone: Ciphertext }> {
    const [row] = await db.dataSource.query(
      `SELECT survivor_name, survivor_phone FROM crypto_probe_cases WHERE id = $1`,
      [owner.ownerId],
    );
    return { name: asCiphertext(row.survivor_name), phone: asCiphertext(row.survivor_phone) };
  }

  const at = (owner: DataKeyOwner, column: string) => ({
    table: 'crypto_probe_cases',
    column,
    rowId: owner.ownerId,
  });

  it('round-trips through PostgreSQL: the DEK is stored wrapped, the fields as self-describing bytea', async () => {
    const owner = await givenCase('Nguyễn Thị Hoà', '0912345678');
    const key = await fixture.crypto.dataKeys.get(owner);
    const stored = await readCase(owner);
    expect(fixture.crypto.fields.decryptString(key, at(owner, 'survivor_name'), stored.name)).toBe(
      'Nguyễn Thị Hoà',
    );
    expect(fixture.crypto.fields.decryptString(key, at(owner, 'survivor_phone'), stored.phone)).toBe(
      '0912345678',
    );

    const [row] = await db.dataSource.query(`SELECT * FROM data_keys WHERE owner_id = $1`, [owner.ownerId]);
    expect(row).toMatchObject({
      owner_type: 'case',
      kek_id: 'haven-kek',
      kek_version: 1,
      destroyed_at: null,
    });
    expect(row.wrapped_dek).toHaveLength(73);
    expect(row.dek_id).toBe(key.dekId);
  });

  it('a process started later (same keys) reads the data', async () => {
    const owner = await givenCase('Trần Thị Thuỷ', '0987654321');
    const later = await fixture.reopen();
    const key = await later.dataKeys.get(owner);
    expect(later.fields.decryptString(key, at(owner, 'survivor_name'), (await readCase(owner)).name)).toBe(
      'Trần Thị Thuỷ',
    );
  });

  it('a ciphertext copied into another case or another column fails to decrypt', async () => {
    const a = await givenCase('Lê Thị A', '0911111111');
    const b = await givenCase('Lê Thị B', '0922222222');
    // An attacker with database access copies A's name into B's row, and A's phone into A's name column.
    await db.dataSource.query(
      `UPDATE crypto_probe_cases SET survivor_name = (SELECT survivor_name FROM crypto_probe_cases WHERE id = $1)
       WHERE id = $2`,
      [a.ownerId, b.ownerId],
    );
    await db.dataSource.query(`UPDATE crypto_probe_cases SET survivor_name = survivor_phone WHERE id = $1`, [
      a.ownerId,
    ]);
    const { dataKeys, fields } = fixture.crypto;
    const keyA = await dataKeys.get(a);
    const keyB = await dataKeys.get(b);
    const readB = await readCase(b);
    const readA = await readCase(a);
    expect(await cryptoErrorOf(() => fields.decrypt(keyB, at(b, 'survivor_name'), readB.name))).toBe(
      'crypto.unknown_key',
    );
    expect(await cryptoErrorOf(() => fields.decrypt(keyA, at(a, 'survivor_name'), readA.name))).toBe(
      'crypto.integrity',
    );
    // Untouched columns still read.
    expect(fields.decryptString(keyB, at(b, 'survivor_phone'), readB.phone)).toBe('0922222222');
  });

  it('a ciphertext copied to another row of the same case (a child row) fails to decrypt', async () => {
    const owner = await givenCase('Phạm Thị C', '0933333333');
    const { dataKeys, fields } = fixture.crypto;
    const key = await dataKeys.get(owner);
    const [n1, n2] = [randomUUID(), randomUUID()];
    const noteAt = (id: string) => ({ table: 'crypto_probe_notes', column: 'body', rowId: id });
    for (const [id, text] of [
      [n1, 'note one'],
      [n2, 'note two'],
    ] as const) {
      await db.dataSource.query(`INSERT INTO crypto_probe_notes (id, case_id, body) VALUES ($1, $2, $3)`, [
        id,
        owner.ownerId,
        fields.encrypt(key, noteAt(id), text),
      ]);
    }
    await db.dataSource.query(
      `UPDATE crypto_probe_notes SET body = (SELECT body FROM crypto_probe_notes WHERE id = $1) WHERE id = $2`,
      [n1, n2],
    );
    const [row] = await db.dataSource.query(`SELECT body FROM crypto_probe_notes WHERE id = $1`, [n2]);
    expect(await cryptoErrorOf(() => fields.decrypt(key, noteAt(n2), asCiphertext(row.body)))).toBe(
      'crypto.integrity',
    );
  });

  it('tampering with the stored data key row fails with coded errors, never garbage', async () => {
    const owner = await givenCase('Vũ Thị D', '0944444444');
    const victim = await givenCase('Vũ Thị E', '0955555555');
    const { dataKeys } = fixture.crypto;
    // Swap in another owner's wrapped DEK: its additional data names the other owner.
    await db.dataSource.query(
      `UPDATE data_keys SET wrapped_dek = (SELECT wrapped_dek FROM data_keys WHERE owner_id = $1) WHERE owner_id = $2`,
      [owner.ownerId, victim.ownerId],
    );
    expect(await cryptoErrorOf(() => dataKeys.get(victim))).toBe('crypto.integrity');
    // Point the row at a KEK version that does not exist.
    await db.dataSource.query(`UPDATE data_keys SET kek_version = 7 WHERE owner_id = $1`, [owner.ownerId]);
    expect(await cryptoErrorOf(() => dataKeys.get(owner))).toBe('crypto.unknown_kek');
    // An owner without any key.
    expect(await cryptoErrorOf(() => dataKeys.get(caseOwner()))).toBe('crypto.unknown_key');
  });

  it('crypto-shredding makes every field of the case unreadable, for good', async () => {
    const owner = await givenCase('Hoàng Thị F', '0966666666');
    const other = await givenCase('Hoàng Thị G', '0977777777');
    const { dataKeys, fields } = fixture.crypto;
    expect(await dataKeys.shred(owner)).toBe('destroyed');

    const [row] = await db.dataSource.query(
      `SELECT wrapped_dek, destroyed_at FROM data_keys WHERE owner_id = $1`,
      [owner.ownerId],
    );
    expect(row.wrapped_dek).toBeNull();
    expect(row.destroyed_at).toBeInstanceOf(Date);
    expect(await cryptoErrorOf(() => dataKeys.get(owner))).toBe('crypto.key_destroyed');
    expect(await cryptoErrorOf(() => fixture.reopen().then((c) => c.dataKeys.get(owner)))).toBe(
      'crypto.key_destroyed',
    );
    const page = await dataKeys.getMany('case', [owner.ownerId, other.ownerId]);
    expect([...page.keys()]).toEqual([other.ownerId]);
    expect(
      fields.decryptString(
        page.get(other.ownerId)!,
        at(other, 'survivor_name'),
        (await readCase(other)).name,
      ),
    ).toBe('Hoàng Thị G');

    expect(await dataKeys.shred(owner)).toBe('already_destroyed');
    // The tombstone stops a new key from being issued for the same owner.
    expect(await cryptoErrorOf(() => dataKeys.create(owner))).toBe('crypto.invalid_input');
    expect(await cryptoErrorOf(() => dataKeys.shred(caseOwner()))).toBe('crypto.unknown_key');
  });

  it('runs inside the caller transaction: a rollback undoes the key and the shred', async () => {
    const { dataKeys } = fixture.crypto;
    const owner = caseOwner();
    // Only the deliberate rollback may end each transaction: anything else failing inside fails the test.
    await expect(
      db.dataSource.transaction(async (manager) => {
        await dataKeys.create(owner, manager);
        (await dataKeys.get(owner, manager)).wipe(); // there, inside
        throw new Error('rollback');
      }),
    ).rejects.toThrow(/^rollback$/);
    expect(await cryptoErrorOf(() => dataKeys.get(owner))).toBe('crypto.unknown_key');

    const kept = await givenCase('Đỗ Thị H', '0988888888');
    await expect(
      db.dataSource.transaction(async (manager) => {
        expect(await dataKeys.shred(kept, manager)).toBe('destroyed');
        expect(await cryptoErrorOf(() => dataKeys.get(kept, manager))).toBe('crypto.key_destroyed');
        throw new Error('rollback');
      }),
    ).rejects.toThrow(/^rollback$/);
    const key = await dataKeys.get(kept);
    expect(key).toBeDefined();
    key.wipe();
  });

  it('a duplicate key does not abort the caller transaction', async () => {
    const owner = await givenCase('Bùi Thị I', '0999999999');
    const { dataKeys } = fixture.crypto;
    await db.dataSource.transaction(async (manager) => {
      expect(await cryptoErrorOf(() => dataKeys.create(owner, manager))).toBe('crypto.invalid_input');
      await expect(manager.query('SELECT 1 AS ok')).resolves.toEqual([{ ok: 1 }]);
    });
  });

  it('prepare(): a key stored only by the caller’s statement, and only when its gate lets it through', async () => {
    const { dataKeys, fields } = fixture.crypto;
    const run = async (write: GatedWrite, gateOpen: boolean) => {
      const params = new StatementParams();
      const sql = gatedSql(write, 'gate', params);
      await db.dataSource.query(`WITH gate AS (SELECT 1 WHERE ${gateOpen}) ${sql}`, params.values);
    };
    const owner = caseOwner();
    const { key, write } = await dataKeys.prepare(owner);
    const sealed = fields.encrypt(key, at(owner, 'survivor_name'), 'Trần Thị K');
    // Not stored yet; a closed gate stores nothing.
    expect(await cryptoErrorOf(() => dataKeys.get(owner))).toBe('crypto.unknown_key');
    await run(write, false);
    expect(await cryptoErrorOf(() => dataKeys.get(owner))).toBe('crypto.unknown_key');
    // Through the gate: stored wrapped, and it opens what the prepared key sealed.
    await run(write, true);
    expect(fields.decryptString(await dataKeys.get(owner), at(owner, 'survivor_name'), sealed)).toBe(
      'Trần Thị K',
    );
    // A second key for the owner fails the statement.
    const second = await dataKeys.prepare(owner);
    await expect(run(second.write, true)).rejects.toThrow(/data_keys_pkey/);
  });

  it('loads the keys of a page of cases in one go', async () => {
    const owners = await Promise.all(
      Array.from({ length: 5 }, (_, i) => givenCase(`Case ${i}`, `091000000${i}`)),
    );
    const keys = await fixture.crypto.dataKeys.getMany('case', [
      ...owners.map((o) => o.ownerId.toUpperCase()),
      randomUUID(),
    ]);
    expect(keys.size).toBe(5);
    for (const o of owners) expect(keys.get(o.ownerId)?.owner).toEqual(o);
  });

  it('validates owners', async () => {
    const { dataKeys } = fixture.crypto;
    expect(await cryptoErrorOf(() => dataKeys.get({ ownerType: 'case', ownerId: 'not-a-uuid' }))).toBe(
      'crypto.invalid_input',
    );
    expect(await cryptoErrorOf(() => dataKeys.get({ ownerType: 'Case; DROP', ownerId: randomUUID() }))).toBe(
      'crypto.invalid_input',
    );
  });
});
