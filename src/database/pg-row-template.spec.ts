import { Client, Result } from 'pg';
import { createTestDatabase, TestDatabase } from '../../test/support/database';
import { addFieldsOnPlainRow, installRowTemplates, pgAddFields } from './pg-row-template';

// Columns of many types, nulls, names that are properties of Object.prototype, a duplicate name (the last
// value wins), no rows and no columns.
const QUERIES: [string, unknown[]?][] = [
  [
    `SELECT 1::int AS a, 'x'::text AS b, NULL::text AS c, true AS d, now() AS e, '\\x00ff'::bytea AS f,
            gen_random_uuid() IS NOT NULL AS g, ARRAY['p', 'q'] AS h, '{"k": 1}'::jsonb AS i, 2.5::numeric AS j,
            10::bigint AS k, '2026-12-05'::date AS l`,
  ],
  [`SELECT 1 AS "constructor", 2 AS "hasOwnProperty", 3 AS "toString", 4 AS "valueOf"`],
  [`SELECT 1 AS "__proto__", 2 AS "x"`],
  [`SELECT 1 AS same, 2 AS same, 3 AS other`],
  [`SELECT $1::int AS n, $2::text AS t FROM generate_series(1, 3) g`, [7, 'seven']],
  [`SELECT 1 AS a WHERE false`],
  [`SELECT`],
];

describe('rows built from a plain template (pg-row-template.ts)', () => {
  let db: TestDatabase;
  let client: Client;
  const proto = Result.prototype as unknown as { addFields: unknown };

  beforeAll(async () => {
    db = await createTestDatabase();
    client = new Client({ connectionString: db.url });
    await client.connect();
  });
  afterAll(async () => {
    proto.addFields = addFieldsOnPlainRow;
    await client.end();
    await db.drop();
  });

  /** Each query's rows and fields, with `addFields` as given, described to the prototype and key order. */
  async function run(addFields: unknown): Promise<unknown[]> {
    proto.addFields = addFields;
    const out = [];
    for (const [text, values] of QUERIES) {
      const res = await client.query(text, values);
      out.push({
        rows: res.rows.map((r: object) => ({
          proto: Object.getPrototypeOf(r) === Object.prototype ? 'Object' : String(Object.getPrototypeOf(r)),
          keys: Object.getOwnPropertyNames(r),
          values: Object.getOwnPropertyNames(r).map((k) => {
            const v = (Object.getOwnPropertyDescriptor(r, k) as PropertyDescriptor).value as unknown;
            return v instanceof Date ? 'a date' : v;
          }),
        })),
        fields: res.fields.map((f) => [f.name, f.dataTypeID]),
      });
    }
    // Two results of one simple-protocol call: the second result set's template replaces the first's.
    const multi = (await client.query('SELECT 1 AS a; SELECT 2 AS b, 3 AS c')) as unknown as {
      rows: unknown[];
    }[];
    out.push(multi.map((r) => r.rows));
    // Rows as arrays do not use the template.
    out.push((await client.query({ text: 'SELECT 1 AS a, 2 AS b', rowMode: 'array' })).rows);
    return out;
  }

  it('is installed, as the data source installs it', async () => {
    await import('./data-source-options');
    expect(installRowTemplates()).toBe(true);
    expect(proto.addFields).toBe(addFieldsOnPlainRow);
    expect(proto.addFields).not.toBe(pgAddFields);
  });

  it('gives the same rows as node-postgres’ own, key order and prototype included', async () => {
    const theirs = await run(pgAddFields);
    const ours = await run(addFieldsOnPlainRow);
    expect(ours).toEqual(theirs);
    // The checks see something: a duplicate name keeps the last value, and `__proto__` is a plain column.
    expect(theirs[3]).toMatchObject({ rows: [{ keys: ['same', 'other'], values: [2, 3] }] });
    expect(theirs[2]).toMatchObject({
      rows: [{ proto: 'Object', keys: ['__proto__', 'x'], values: [1, 2] }],
    });
    expect(theirs[4]).toMatchObject({ rows: [{ values: [7, 'seven'] }, {}, {}] });
  });

  it('a row’s values never leak into the next row or the next query', async () => {
    proto.addFields = addFieldsOnPlainRow;
    const { rows } = await client.query<{ a: number | null; b: string | null }>(
      `SELECT * FROM (VALUES (1, 'x'), (NULL, NULL), (3, 'z')) v(a, b)`,
    );
    expect(rows).toEqual([
      { a: 1, b: 'x' },
      { a: null, b: null },
      { a: 3, b: 'z' },
    ]);
    const next = await client.query<{ a: number }>('SELECT 9 AS a');
    expect(next.rows).toEqual([{ a: 9 }]);
  });
});
