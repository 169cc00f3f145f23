import { DatabaseError } from 'pg';
import { DataSource } from 'typeorm';
import { createTestDatabase, TestDatabase } from '../../test/support/database';
import { loadConfig } from '../config/config';
import { dataSourceOptions } from './data-source-options';
import { MAX_PER_CONNECTION, PreparingClient, statementName } from './prepared-statements';

describe('prepared statements', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db.drop();
  });

  async function withClient(use: (client: PreparingClient) => Promise<void>): Promise<void> {
    const client = new PreparingClient({ connectionString: db.url });
    await client.connect();
    try {
      await use(client);
    } finally {
      await client.end();
    }
  }

  /** What this connection has prepared (PostgreSQL's view of the session). */
  async function preparedOn(client: PreparingClient): Promise<{ name: string; statement: string }[]> {
    const { rows } = await client.query<{ name: string; statement: string }>(
      'SELECT name, statement FROM pg_prepared_statements ORDER BY name',
    );
    return rows;
  }

  it('names each parameterised text once per connection and reuses it, with each call its own values', () =>
    withClient(async (client) => {
      const text = 'SELECT $1::int + 1 AS n';
      const results = [];
      for (const v of [1, 41, -3]) results.push((await client.query<{ n: number }>(text, [v])).rows[0].n);
      expect(results).toEqual([2, 42, -2]);
      const prepared = await preparedOn(client);
      expect(prepared).toEqual([{ name: statementName(text), statement: text }]);
      // Parsed once, executed three times.
      const [{ runs }] = (
        await client.query<{ runs: number }>(
          'SELECT (generic_plans + custom_plans)::int AS runs FROM pg_prepared_statements WHERE name = $1',
          [statementName(text)],
        )
      ).rows;
      expect(runs).toBe(3);
      // The name comes from the text alone: the values never take part in it.
      expect(statementName(text)).toMatch(/^haven_[A-Za-z0-9_-]{32}$/);
      expect(statementName(text)).toBe(statementName('SELECT $1::int + 1 AS n'));
      expect(statementName(text)).not.toBe(statementName('SELECT $1::int + 2 AS n'));
    }));

  it('names a statement without parameters when its caller passes an empty values array', () =>
    withClient(async (client) => {
      const text = "SELECT count(*)::int AS n FROM pg_class WHERE relkind = 'r'";
      for (let i = 0; i < 3; i++) await client.query(text, []);
      expect(await preparedOn(client)).toEqual([{ name: statementName(text), statement: text }]);
    }));

  it('sends statements without parameters, and query objects, unnamed', () =>
    withClient(async (client) => {
      await client.query('BEGIN');
      await client.query('SELECT 1');
      await client.query({ text: 'SELECT $1::text AS t', values: ['x'] });
      await client.query('COMMIT');
      expect(await preparedOn(client)).toEqual([]);
    }));

  it(`prepares at most ${MAX_PER_CONNECTION} texts per connection and runs the rest unnamed`, () =>
    withClient(async (client) => {
      for (let i = 0; i < MAX_PER_CONNECTION + 20; i++) {
        const { rows } = await client.query<{ n: number }>(`SELECT $1::int * ${i} AS n`, [2]);
        expect(rows[0].n).toBe(2 * i);
      }
      const [{ count }] = (
        await client.query<{ count: number }>('SELECT count(*)::int AS count FROM pg_prepared_statements')
      ).rows;
      expect(count).toBe(MAX_PER_CONNECTION);
      // A text prepared before the limit is still named and reused after it: its statement runs again.
      const runs = async () =>
        (
          await client.query<{ runs: number }>(
            'SELECT (generic_plans + custom_plans)::int AS runs FROM pg_prepared_statements WHERE statement = $1',
            ['SELECT $1::int * 0 AS n'],
          )
        ).rows[0].runs;
      const before = await runs();
      await client.query('SELECT $1::int * 0 AS n', [5]);
      expect(await runs()).toBe(before + 1);
    }));

  it('a failing statement fails as before and leaves the connection usable', () =>
    withClient(async (client) => {
      const failed = client.query('SELECT $1::int AS n', ['not a number']);
      await expect(failed).rejects.toBeInstanceOf(DatabaseError);
      await expect(failed).rejects.toMatchObject({ code: '22P02' });
      expect((await client.query<{ n: number }>('SELECT $1::int AS n', [7])).rows[0].n).toBe(7);
      await expect(
        client.query('SELECT no_such_column FROM users WHERE id = $1', [null]),
      ).rejects.toMatchObject({ code: '42703' });
      expect((await client.query<{ n: number }>('SELECT $1::int AS n', [8])).rows[0].n).toBe(8);
    }));

  it('names a statement called with a callback too, and answers through the callback', () =>
    withClient(async (client) => {
      const text = 'SELECT $1::int * 3 AS n';
      const viaCallback = await new Promise<number>((resolve, reject) => {
        client.query<{ n: number }>(text, [5], (err, res) => (err ? reject(err) : resolve(res.rows[0].n)));
      });
      expect(viaCallback).toBe(15);
      const failed = await new Promise<unknown>((resolve) => {
        client.query('SELECT $1::int AS n', ['x'], (err) => resolve(err));
      });
      expect(failed).toMatchObject({ code: '22P02' });
      expect((await preparedOn(client)).map((p) => p.statement)).toEqual(
        expect.arrayContaining([text, 'SELECT $1::int AS n']),
      );
    }));

  it('is what the data source uses unless HAVEN_DB_PREPARED_STATEMENTS=0', async () => {
    const on = loadConfig({ DATABASE_URL: db.url });
    const off = loadConfig({ DATABASE_URL: db.url, HAVEN_DB_PREPARED_STATEMENTS: '0' });
    expect(on.database.preparedStatements).toBe(true);
    expect(off.database.preparedStatements).toBe(false);
    expect(() => loadConfig({ DATABASE_URL: db.url, HAVEN_DB_PREPARED_STATEMENTS: 'yes' })).toThrow(
      /HAVEN_DB_PREPARED_STATEMENTS/,
    );

    for (const prepared of [true, false]) {
      const ds = await new DataSource(
        dataSourceOptions({ url: db.appUrl, poolSize: 1, preparedStatements: prepared }),
      ).initialize();
      try {
        // Through TypeORM, as the service queries: same rows either way.
        const rows = await ds.query<{ stripe: number }[]>(
          'SELECT stripe FROM audit_chain_heads WHERE stripe = $1',
          [3],
        );
        expect(rows).toEqual([{ stripe: 3 }]);
        const [{ count }] = await ds.query<{ count: number }[]>(
          'SELECT count(*)::int AS count FROM pg_prepared_statements WHERE statement LIKE $1',
          ['SELECT stripe FROM audit_chain_heads%'],
        );
        expect(count).toBe(prepared ? 1 : 0);
      } finally {
        await ds.destroy();
      }
    }
  });
});
