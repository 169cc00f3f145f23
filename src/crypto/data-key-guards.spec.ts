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

  it("a session's search path reaches none of the guards: operators of its own before pg_catalog change no comparison", async () => {
    // What a writer with CREATE on some schema could plant (the runtime role's start-up check refuses one that
    // may): an `<` on integers and a `<=` on bigints that always answer false.
    const owner = new Client({ connectionString: db.url });
    await owner.connect();
    const path = new Client({ connectionString: db.appUrl });
    await path.connect();
    try {
      await owner.query(`CREATE SCHEMA planted;
        CREATE FUNCTION planted.never(integer, integer) RETURNS boolean LANGUAGE sql AS 'SELECT false';
        CREATE FUNCTION planted.never(bigint, bigint) RETURNS boolean LANGUAGE sql AS 'SELECT false';
        CREATE OPERATOR planted.< (LEFTARG = integer, RIGHTARG = integer, FUNCTION = planted.never);
        CREATE OPERATOR planted.<= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = planted.never);
        GRANT USAGE ON SCHEMA planted TO haven_app;
        INSERT INTO kek_floors (kek_id, min_version) VALUES ('haven-kek', 3)`);
      await path.query('SET search_path = planted, pg_catalog, public');
      // The session's own comparisons do use them…
      expect((await path.query('SELECT 1 < 2 AS lt')).rows[0].lt).toBe(false);
      // …the KEK floor's and the stripe heads' do not.
      await expect(insertKey(path, randomUUID(), 1)).rejects.toMatchObject({ code: 'HKF01' });
      const head = (await owner.query(`SELECT stripe FROM audit_chain_heads ORDER BY stripe LIMIT 1`))
        .rows[0];
      await owner.query(`SELECT nextval('audit_events_seq') FROM generate_series(1, 3)`);
      await owner.query(`UPDATE audit_chain_heads SET last_seq = 3 WHERE stripe = $1`, [head.stripe]);
      await expect(
        path.query(`UPDATE audit_chain_heads SET last_seq = 1 WHERE stripe = $1`, [head.stripe]),
      ).rejects.toMatchObject({ code: '42501', message: expect.stringMatching(/may only move forward/) });
    } finally {
      await path.end();
      await owner.query(`DROP SCHEMA planted CASCADE; DELETE FROM kek_floors`);
      await owner.end();
    }
  });
});
