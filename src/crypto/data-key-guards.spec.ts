import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { createTestDatabase, TestDatabase } from '../../test/support/database';

/**
 * What the database itself guarantees about data keys, whoever writes (the service's role here): a destroyed
 * key stays destroyed and no key row is deleted; keys are written in READ COMMITTED transactions only, so that
 * every writer reads the KEK floor as `keys:rotate` raised it (migration ServiceRoleNarrowed).
 */
describe('data keys in the database', () => {
  let db: TestDatabase;
  let app: Client;
  let other: Client;

  beforeAll(async () => {
    db = await createTestDatabase();
    app = new Client({ connectionString: db.appUrl });
    other = new Client({ connectionString: db.appUrl });
    await app.connect();
    await other.connect();
  });
  afterAll(async () => {
    await app?.end();
    await other?.end();
    await db?.drop();
  });

  const insertKey = (c: Client, ownerId = randomUUID(), version = 1) =>
    c.query(
      `INSERT INTO data_keys (owner_type, owner_id, dek_id, kek_id, kek_version, wrapped_dek)
       VALUES ('case', $1, $2, 'haven-kek', $3, '\\x0102')`,
      [ownerId, randomUUID(), version],
    );

  it('a destroyed key cannot be given back or replaced, and no key row can be deleted', async () => {
    const ownerId = randomUUID();
    await insertKey(app, ownerId);
    await app.query(
      `UPDATE data_keys SET wrapped_dek = NULL, destroyed_at = now() WHERE owner_type = 'case' AND owner_id = $1`,
      [ownerId],
    );
    await expect(
      app.query(
        `UPDATE data_keys SET wrapped_dek = '\\x0102', destroyed_at = NULL WHERE owner_type = 'case' AND owner_id = $1`,
        [ownerId],
      ),
    ).rejects.toMatchObject({ code: 'HKD01' });
    await expect(app.query(`DELETE FROM data_keys WHERE owner_id = $1`, [ownerId])).rejects.toMatchObject({
      code: '42501',
    });
    const [row] = (
      await app.query(`SELECT wrapped_dek, destroyed_at FROM data_keys WHERE owner_id = $1`, [ownerId])
    ).rows;
    expect(row.wrapped_dek).toBeNull();
    expect(row.destroyed_at).not.toBeNull();
    // A live key is still rewrapped (rotation) as before.
    const live = randomUUID();
    await insertKey(app, live);
    await app.query(`UPDATE data_keys SET wrapped_dek = '\\x0304', rotated_at = now() WHERE owner_id = $1`, [
      live,
    ]);
  });

  it('a REPEATABLE READ transaction cannot write a key under a floor raised after its snapshot', async () => {
    const owner = new Client({ connectionString: db.url });
    await owner.connect();
    try {
      await other.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      await other.query('SELECT 1'); // the snapshot, taken before the floor moves
      await owner.query(`INSERT INTO kek_floors (kek_id, min_version) VALUES ('haven-kek', 2)`);
      await expect(insertKey(other, randomUUID(), 1)).rejects.toMatchObject({ code: 'HKF02' });
      await other.query('ROLLBACK');
      // In READ COMMITTED the floor is read as it is now: refused for v1, accepted for v2.
      await expect(insertKey(app, randomUUID(), 1)).rejects.toMatchObject({ code: 'HKF01' });
      await insertKey(app, randomUUID(), 2);
      // A READ COMMITTED transaction opened before the raise reads it too (each statement's own snapshot).
      await other.query('BEGIN');
      await other.query('SELECT 1');
      await owner.query(`UPDATE kek_floors SET min_version = 3 WHERE kek_id = 'haven-kek'`);
      await expect(insertKey(other, randomUUID(), 2)).rejects.toMatchObject({ code: 'HKF01' });
      await other.query('ROLLBACK');
    } finally {
      await owner.query(`DELETE FROM kek_floors`);
      await owner.end();
    }
  });
});
