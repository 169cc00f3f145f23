import { gatedSql, GatedWrite, StatementParams } from './gated-write';

describe('gated writes', () => {
  const write: GatedWrite = (gate, p) =>
    `INSERT INTO t (a, b, c) SELECT ${p('x', 'text')}, ${p(2, 'integer')}, ${p(['y'], 'text[]')} FROM ${gate}`;

  it('binds values as typed parameters numbered after the statement’s own, never in the text', () => {
    const params = new StatementParams(24);
    expect(gatedSql(write, 'moved', params)).toBe(
      'INSERT INTO t (a, b, c) SELECT $24::text, $25::integer, $26::text[] FROM moved',
    );
    expect(params.values).toEqual(['x', 2, ['y']]);
    // Same shape, other values: the same text (one prepared statement).
    const again = new StatementParams(24);
    const other: GatedWrite = (gate, p) =>
      `INSERT INTO t (a, b, c) SELECT ${p('z', 'text')}, ${p(3, 'integer')}, ${p([], 'text[]')} FROM ${gate}`;
    expect(gatedSql(other, 'moved', again)).toBe(gatedSql(write, 'moved', new StatementParams(24)));
  });

  it('refuses a type that is not a plain SQL type name', () => {
    const params = new StatementParams();
    expect(() => params.bind('x', 'text); DROP TABLE t; --')).toThrow(/not an SQL type name/);
    expect(params.values).toEqual([]);
  });

  it('refuses a write that does not take its rows from the gate', () => {
    const ungated: GatedWrite = (_gate, p) => `INSERT INTO t (a) VALUES (${p('x', 'text')})`;
    expect(() => gatedSql(ungated, 'moved', new StatementParams())).toThrow(/FROM moved/);
    const otherGate: GatedWrite = (_gate, p) =>
      `INSERT INTO t (a) SELECT ${p('x', 'text')} FROM moved_elsewhere`;
    expect(() => gatedSql(otherGate, 'moved', new StatementParams())).toThrow(/FROM moved/);
  });
});
