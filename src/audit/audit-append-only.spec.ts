import { Client } from 'pg';
import { AuditFixture, givenAuditLog, WARD_OFFICER } from './audit.spec-helpers';

/** What the database itself enforces, whatever the application does. */
describe('access log in the database: append-only', () => {
  let f: AuditFixture;
  let seq: number;

  beforeAll(async () => {
    f = await givenAuditLog(2);
    for (let i = 0; i < 3; i++) {
      ({ seq } = await f.app.transaction((m) => f.audit.record(m, WARD_OFFICER, { action: 'case.list' })));
    }
    await f.checkpoints.issue();
  });
  afterAll(async () => {
    await f.close();
  });

  async function as(url: string, sql: string): Promise<{ code?: string; message: string } | null> {
    const client = new Client({ connectionString: url });
    await client.connect();
    try {
      await client.query(sql);
      return null;
    } catch (e) {
      return e as { code?: string; message: string };
    } finally {
      await client.end();
    }
  }

  const PERMISSION_DENIED = '42501';

  it.each([
    ['UPDATE', `UPDATE audit_events SET action = 'case.read'`],
    ['DELETE', `DELETE FROM audit_events`],
    ['TRUNCATE', `TRUNCATE audit_events`],
    ['UPDATE a checkpoint', `UPDATE audit_checkpoints SET seq = 0`],
    ['DELETE a checkpoint', `DELETE FROM audit_checkpoints`],
    ['rewind a stripe head', `UPDATE audit_chain_heads SET last_seq = 0`],
    // For good: no entry of that stripe, nor any checkpoint, could be written again (ChainHeadsWithinSequence).
    [
      'move a stripe head beyond every seq handed out',
      `UPDATE audit_chain_heads SET last_seq = 4000000000000000, head = decode(repeat('00', 32), 'hex') WHERE stripe = 0`,
    ],
    ['DELETE a stripe head', `DELETE FROM audit_chain_heads`],
    ['INSERT a stripe head', `INSERT INTO audit_chain_heads (stripe, head) VALUES (99, '\\x00')`],
    ['disable the triggers', `ALTER TABLE audit_events DISABLE TRIGGER ALL`],
    ['drop the table', `DROP TABLE audit_events`],
    ['switch triggers off for the session', `SET session_replication_role = replica`],
    ['take over the table', `ALTER TABLE audit_events OWNER TO haven_test_app`],
    [
      'place a checkpoint above every later one',
      `INSERT INTO audit_checkpoints (id, seq, at, root, key_id, signature, document) OVERRIDING SYSTEM VALUE
       VALUES (9000000000000000000, 0, now(), decode(repeat('00', 32), 'hex'), 'x', decode(repeat('00', 64), 'hex'), '{}')`,
    ],
    [
      // Its own temporary table of the same name, whose identity it sets (CheckpointTriggerPinned).
      'place a checkpoint above every later one through a temporary table named like the checkpoints',
      `CREATE TEMP TABLE audit_checkpoints (id bigint GENERATED ALWAYS AS IDENTITY);
       SELECT setval(pg_get_serial_sequence('audit_checkpoints', 'id'), 9000000000000000000);
       INSERT INTO public.audit_checkpoints (id, seq, at, root, key_id, signature, document) OVERRIDING SYSTEM VALUE
       VALUES (9000000000000000000, 0, now(), decode(repeat('00', 32), 'hex'), 'x', decode(repeat('00', 64), 'hex'), '{}')`,
    ],
  ])('the application role cannot %s', async (_what, sql) => {
    const error = await as(f.db.appUrl, sql);
    expect(error?.code).toBe(PERMISSION_DENIED);
  });

  it('a checkpoint row states the seq its document names, no further than the log goes (else 23514)', async () => {
    const [{ reached }] = await f.owner.query<{ reached: string }[]>(
      `SELECT max(last_seq) AS reached FROM audit_chain_heads`,
    );
    const row = (seq: number | string, documentSeq: number | string) =>
      `INSERT INTO audit_checkpoints (seq, at, root, key_id, signature, document)
       VALUES (${seq}, now(), decode(repeat('00', 32), 'hex'), 'x', decode(repeat('00', 64), 'hex'), '{"seq":${documentSeq}}')`;
    const beyond = Number(reached) + 1;
    // Beyond the log: it would stand as the newest checkpoint for good.
    expect((await as(f.db.appUrl, row(beyond, beyond)))?.code).toBe('23514');
    expect((await as(f.db.url, row(beyond, beyond)))?.code).toBe('23514');
    // Another seq than the document's (an old document replayed as newer).
    expect((await as(f.db.appUrl, row(reached, 0)))?.code).toBe('23514');
    // As the service writes one: taken (verification then judges its signature; rolled back here, so that the
    // log still verifies below).
    expect(await as(f.db.appUrl, `BEGIN; ${row(reached, reached)}; ROLLBACK`)).toBeNull();
  });

  it('the application role can append and read', async () => {
    const client = new Client({ connectionString: f.db.appUrl });
    await client.connect();
    try {
      const { rows } = await client.query<{ n: string }>('SELECT count(*) AS n FROM audit_events');
      expect(Number(rows[0].n)).toBe(3);
      const privileges = await client.query<Record<string, boolean>>(
        `SELECT has_table_privilege('audit_events', 'INSERT') AS ins, has_table_privilege('audit_events', 'SELECT') AS sel,
                has_table_privilege('audit_events', 'UPDATE') AS upd, has_table_privilege('audit_events', 'DELETE') AS del,
                has_table_privilege('audit_events', 'TRUNCATE') AS trunc, has_table_privilege('users', 'UPDATE') AS users_upd,
                has_table_privilege('migrations', 'INSERT') AS migrations_ins`,
      );
      expect(privileges.rows[0]).toEqual({
        ins: true,
        sel: true,
        upd: false,
        del: false,
        trunc: false,
        users_upd: true,
        migrations_ins: false,
      });
    } finally {
      await client.end();
    }
  });

  it.each([
    ['UPDATE', `UPDATE audit_events SET action = 'case.read'`],
    ['DELETE', `DELETE FROM audit_events`],
    ['TRUNCATE', `TRUNCATE audit_events`],
    ['UPDATE a checkpoint', `UPDATE audit_checkpoints SET seq = 0`],
    ['TRUNCATE the checkpoints', `TRUNCATE audit_checkpoints`],
    ['rewind a stripe head', `UPDATE audit_chain_heads SET last_seq = 0 WHERE last_seq > 0`],
    [
      'move a stripe head beyond every seq handed out',
      `UPDATE audit_chain_heads SET last_seq = (SELECT last_value + 1 FROM audit_events_seq) WHERE stripe = 0`,
    ],
  ])('the triggers stop even the owner (a superuser here) from %s', async (_what, sql) => {
    const error = await as(f.db.url, sql);
    expect(error?.message).toMatch(/append-only|only move forward/);
    expect(error?.code).toBe(PERMISSION_DENIED);
  });

  it('the log is unchanged and verifies', async () => {
    expect(await f.verify()).toMatchObject({ ok: true, checked: 3, lastSeq: seq });
  });
});
