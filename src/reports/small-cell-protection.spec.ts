import {
  CellInput,
  Constraint,
  linearlyDeterminedIds,
  protectCells,
  ProtectedValue,
  SMALL_CELL,
  SUPPRESSED,
} from './small-cell-protection';

// A one-dimensional breakdown with its total, as the report builds them.
function table(
  name: string,
  counts: Record<string, number>,
  total = 'total',
): {
  cells: CellInput[];
  constraint: Constraint;
} {
  const cells = Object.entries(counts).map(([k, value]) => ({ id: `${name}.${k}`, value }));
  return { cells, constraint: { kind: 'sum', total, parts: cells.map((c) => c.id) } };
}

function values(result: ReturnType<typeof protectCells>): Record<string, ProtectedValue> {
  return Object.fromEntries(result.values);
}

/**
 * An independent attacker: for each hidden cell, looks for an assignment of all hidden cells that agrees with
 * the labels ("<5" = 1..4, "suppressed" ≥ 5, unpublished ≥ 0) and the constraints but gives that cell another
 * value. Complete search (branch and bound on integer intervals), so only for small tables.
 */
function canTakeAnotherValue(
  cells: readonly CellInput[],
  constraints: readonly Constraint[],
  published: ReadonlyMap<string, ProtectedValue>,
  target: CellInput,
): boolean {
  // The attacker does not know how large hidden counts are: search well beyond the largest one.
  const ceiling = 2 * Math.max(...cells.map((c) => c.value)) + 5;
  // The rule is public: a "<5" inside the breakdown of a "<5" count may be a zero.
  const mayBeZero = new Set(
    constraints.filter((k) => published.get(k.total) === SMALL_CELL).flatMap((k) => [...k.parts]),
  );
  const initial = new Map<string, [number, number]>();
  for (const c of cells) {
    const label = published.get(c.id);
    initial.set(
      c.id,
      typeof label === 'number'
        ? [label, label]
        : label === SMALL_CELL
          ? [mayBeZero.has(c.id) ? 0 : 1, 4]
          : label === SUPPRESSED
            ? [5, ceiling]
            : [0, ceiling],
    );
  }
  const propagate = (d: Map<string, [number, number]>): boolean => {
    for (let changed = true; changed;) {
      changed = false;
      for (const k of constraints) {
        const [tLo, tHi] = d.get(k.total)!;
        const lo = k.parts.reduce((s, p) => s + d.get(p)![0], 0);
        const hi = k.parts.reduce((s, p) => s + d.get(p)![1], 0);
        const maxPart = Math.max(0, ...k.parts.map((p) => d.get(p)![0]));
        const nt: [number, number] =
          k.kind === 'sum'
            ? [Math.max(tLo, lo), Math.min(tHi, hi)]
            : [Math.max(tLo, maxPart, Math.ceil(lo / k.maxPerUnit)), Math.min(tHi, hi)];
        const updates: [string, [number, number]][] = [[k.total, nt]];
        for (const p of k.parts) {
          const [pLo, pHi] = d.get(p)!;
          const othersLo = lo - pLo;
          const othersHi = hi - pHi;
          updates.push([
            p,
            k.kind === 'sum'
              ? [Math.max(pLo, nt[0] - othersHi), Math.min(pHi, nt[1] - othersLo)]
              : [Math.max(pLo, nt[0] - othersHi), Math.min(pHi, nt[1], k.maxPerUnit * nt[1] - othersLo)],
          ]);
        }
        for (const [id, [l, h]] of updates) {
          if (l > h) return false;
          const [ol, oh] = d.get(id)!;
          if (l !== ol || h !== oh) {
            d.set(id, [l, h]);
            changed = true;
          }
        }
      }
    }
    return true;
  };
  const solve = (d: Map<string, [number, number]>): boolean => {
    if (!propagate(d)) return false;
    const open = [...d.entries()].filter(([, [l, h]]) => l < h);
    if (open.length === 0) return true; // every interval is a point and satisfies every constraint
    const [id, [l, h]] = open.reduce((a, b) => (a[1][1] - a[1][0] <= b[1][1] - b[1][0] ? a : b));
    const mid = Math.floor((l + h) / 2);
    return solve(new Map(d).set(id, [l, mid])) || solve(new Map(d).set(id, [mid + 1, h]));
  };
  const [lo, hi] = initial.get(target.id)!;
  return (
    (target.value > lo && solve(new Map(initial).set(target.id, [lo, target.value - 1]))) ||
    (target.value < hi && solve(new Map(initial).set(target.id, [target.value + 1, hi])))
  );
}

/** Every hidden small count, published as "<5" or unpublished, can take at least two values. */
function expectProtected(cells: CellInput[], constraints: Constraint[]): ReturnType<typeof protectCells> {
  const result = protectCells(cells, constraints);
  for (const c of cells) {
    const label = result.values.get(c.id);
    if (typeof label === 'number') {
      expect(label).toBe(c.value);
      expect(label === 0 || label >= 5).toBe(true);
      continue;
    }
    if (label === SUPPRESSED) expect(c.value).toBeGreaterThanOrEqual(5);
    if (label === SMALL_CELL) expect(c.value).toBeLessThan(5);
    // Only small counts identify anyone; hidden zeros and "suppressed" counts are hidden to protect them.
    if (!(c.value > 0 && c.value < 5)) continue;
    if (!canTakeAnotherValue(cells, constraints, result.values, c))
      throw new Error(`${c.id} = ${c.value} can be worked out (${JSON.stringify(values(result))})`);
  }
  return result;
}

describe('small-cell protection', () => {
  it('publishes a breakdown without small cells as it is', () => {
    const t = table('sex', { female: 12, male: 5, other: 0 });
    const r = protectCells([{ id: 'total', value: 17 }, ...t.cells], [t.constraint]);
    expect(values(r)).toEqual({ total: 17, 'sex.female': 12, 'sex.male': 5, 'sex.other': 0 });
    expect(r.complementary).toEqual([]);
  });

  it('hides a count of 1-4 as "<5" and the first non-zero cell of its breakdown (by order, not value) as "suppressed"', () => {
    const t = table('type', { rape: 3, physical: 20, psychological: 7, economic: 9, other: 0 });
    const r = expectProtected([{ id: 'total', value: 39 }, ...t.cells], [t.constraint]);
    expect(values(r)).toEqual({
      total: 39,
      'type.rape': SMALL_CELL,
      'type.physical': SUPPRESSED,
      'type.psychological': 7,
      'type.economic': 9,
      'type.other': 0,
    });
    expect(r.primary).toEqual(['type.rape']);
    expect(r.complementary).toEqual(['type.physical']);
  });

  it('chooses the complement whatever the values around it: the choice tells a reader nothing about its size', () => {
    // Found by a review when the smallest cell was chosen: "<5", "suppressed", 7, 20 under 38 said the
    // suppressed cell was at most 7 (the smallest still shown), and 38 - 27 = 11 then gave 7 and 4 exactly.
    const pick = (values: Record<string, number>) => {
      const t = table('type', values);
      const total = Object.values(values).reduce((a, b) => a + b, 0);
      return expectProtected([{ id: 'total', value: total }, ...t.cells], [t.constraint]).complementary;
    };
    const chosen = pick({ rape: 4, sexual_assault: 7, physical: 7, psychological: 20 });
    expect(chosen).toEqual(['type.sexual_assault']);
    expect(pick({ rape: 4, sexual_assault: 20, physical: 7, psychological: 7 })).toEqual(chosen);
    expect(pick({ rape: 4, sexual_assault: 9, physical: 5, psychological: 30 })).toEqual(chosen);
  });

  it('needs no complement when two small cells already hide each other', () => {
    const t = table('type', { a: 2, b: 3, c: 40 });
    const r = expectProtected([{ id: 'total', value: 45 }, ...t.cells], [t.constraint]);
    expect(values(r)).toEqual({ total: 45, 'type.a': SMALL_CELL, 'type.b': SMALL_CELL, 'type.c': 40 });
  });

  it('never suppresses a zero as a complement', () => {
    const t = table('type', { a: 3, b: 0, c: 0, d: 6, e: 8 });
    const r = expectProtected([{ id: 'total', value: 17 }, ...t.cells], [t.constraint]);
    expect(values(r)).toEqual({
      total: 17,
      'type.a': SMALL_CELL,
      'type.b': 0,
      'type.c': 0,
      'type.d': SUPPRESSED,
      'type.e': 8,
    });
  });

  it('shows the whole breakdown of a total below 5 as "<5", zeros included', () => {
    // Otherwise four non-empty categories under a total below 5 would be one case each.
    const a = table('type', { a: 1, b: 1, c: 1, d: 1, e: 0 });
    const b = table('sex', { female: 4, male: 0 });
    const r = expectProtected(
      [{ id: 'total', value: 4 }, ...a.cells, ...b.cells],
      [a.constraint, b.constraint],
    );
    expect(new Set(r.values.values())).toEqual(new Set([SMALL_CELL]));
    expect(r.complementary).toEqual([]);
  });

  it('does not let the labels give a cell away: "<5" + "suppressed" = 6 means 1 + 5', () => {
    const t = table('type', { a: 1, b: 5, c: 20 });
    const r = expectProtected([{ id: 'total', value: 26 }, ...t.cells], [t.constraint]);
    // Hiding b alone would leave a + b = 6 with a ≤ 4 and b ≥ 5: a third cell must go.
    expect(values(r)).toEqual({
      total: 26,
      'type.a': SMALL_CELL,
      'type.b': SUPPRESSED,
      'type.c': SUPPRESSED,
    });
  });

  it('hides the total when the small cells alone would add up to it, and protects it in every other table', () => {
    const a = table('type', { x: 4, y: 4, z: 0 });
    const b = table('sex', { female: 8, male: 0 });
    const c = table('channel', { phone: 3, walk_in: 5 });
    const r = expectProtected(
      [{ id: 'total', value: 8 }, ...a.cells, ...b.cells, ...c.cells],
      [a.constraint, b.constraint, c.constraint],
    );
    // 4 + 4 = 8 with both ≤ 4 pins them: the total goes; then female = total would give it back, so it goes too.
    // The channels may stay: total = "<5" + 5 is 6 to 9, and x + y ≤ 8 leaves 6 to 8 (expectProtected checks).
    expect(values(r)).toMatchObject({ total: SUPPRESSED, 'sex.female': SUPPRESSED, 'sex.male': 0 });
    expect(values(r)['channel.walk_in']).toBe(5);
  });

  it('protects subtotals nested in a breakdown (children under 16 and under 18 within the age groups)', () => {
    const ages = table('age', {
      '0-5': 0,
      '6-11': 6,
      '12-15': 3,
      '16-17': 0,
      '18-59': 30,
      '60+': 5,
      unknown: 0,
    });
    const cells: CellInput[] = [
      { id: 'total', value: 44 },
      ...ages.cells,
      { id: 'child.u16', value: 9 },
      { id: 'child.u18', value: 9 },
    ];
    const constraints: Constraint[] = [
      ages.constraint,
      { kind: 'sum', total: 'child.u16', parts: ['age.0-5', 'age.6-11', 'age.12-15'] },
      { kind: 'sum', total: 'child.u18', parts: ['child.u16', 'age.16-17'] },
    ];
    const r = expectProtected(cells, constraints);
    const v = values(r);
    expect(v['age.12-15']).toBe(SMALL_CELL);
    // Under 16 = 0 + 6 + "<5": either 6-11 or the subtotal must be hidden, and the under-18 count with it.
    expect([v['age.6-11'], v['child.u16']]).toContain(SUPPRESSED);
  });

  it('protects multiple-response breakdowns (a case can have several forms)', () => {
    // 9 cases; psychological 5 and sexual 0 are shown, so physical ≥ 9 - 5 = 4 would give physical = 4 away.
    const cells: CellInput[] = [
      { id: 'total', value: 9 },
      { id: 'form.physical', value: 4 },
      { id: 'form.psychological', value: 5 },
      { id: 'form.sexual', value: 0 },
    ];
    const constraints: Constraint[] = [
      {
        kind: 'multi',
        total: 'total',
        parts: ['form.physical', 'form.psychological', 'form.sexual'],
        maxPerUnit: 3,
      },
    ];
    const r = expectProtected(cells, constraints);
    expect(values(r)).toEqual({
      total: 9,
      'form.physical': SMALL_CELL,
      'form.psychological': SUPPRESSED,
      'form.sexual': 0,
    });
  });

  it('protects an unpublished difference (pending referrals not yet overdue)', () => {
    const status = table('status', { pending: 7, accepted: 10 }, 'referrals');
    const cells: CellInput[] = [
      { id: 'referrals', value: 17 },
      ...status.cells,
      { id: 'overdue', value: 5 },
      { id: 'pendingOnTime', value: 2, published: false },
    ];
    const constraints: Constraint[] = [
      status.constraint,
      { kind: 'sum', total: 'status.pending', parts: ['overdue', 'pendingOnTime'] },
    ];
    const r = expectProtected(cells, constraints);
    expect(r.values.has('pendingOnTime')).toBe(false);
    expect([r.values.get('overdue'), r.values.get('status.pending')]).toContain(SUPPRESSED);
  });

  it('finds a cell that only linear algebra gives away (a bridge between two blocks of a cross-table)', () => {
    // Hidden cells (2x2 block) + (2x2 block) + the bridge (r2,c3): r1+r2 - (c1+c2) = the bridge.
    const hidden = new Set(['r1c1', 'r1c2', 'r2c1', 'r2c2', 'r2c3', 'r3c3', 'r3c4', 'r4c3', 'r4c4']);
    const cells: CellInput[] = [];
    const grid: number[][] = [
      [2, 3, 0, 9],
      [3, 2, 4, 0],
      [9, 0, 2, 3],
      [0, 9, 3, 2],
    ];
    grid.forEach((row, i) => row.forEach((v, j) => cells.push({ id: `r${i + 1}c${j + 1}`, value: v })));
    const constraints: Constraint[] = [];
    for (let i = 1; i <= 4; i++) {
      const parts = [1, 2, 3, 4].map((j) => `r${i}c${j}`);
      cells.push({ id: `r${i}`, value: grid[i - 1].reduce((s, v) => s + v, 0) });
      constraints.push({ kind: 'sum', total: `r${i}`, parts });
    }
    for (let j = 1; j <= 4; j++) {
      cells.push({ id: `c${j}`, value: grid.reduce((s, row) => s + row[j - 1], 0) });
      constraints.push({ kind: 'sum', total: `c${j}`, parts: [1, 2, 3, 4].map((i) => `r${i}c${j}`) });
    }
    expect(linearlyDeterminedIds(cells, constraints, hidden)).toEqual(new Set(['r2c3']));
    const r = expectProtected(cells, constraints);
    expect(r.complementary.length).toBeGreaterThan(0);
  });

  it('gives the same pattern for the same counts', () => {
    const t = table('type', { a: 3, b: 8, c: 8, d: 12 });
    const cells = [{ id: 'total', value: 31 }, ...t.cells];
    expect(values(protectCells(cells, [t.constraint]))).toEqual(values(protectCells(cells, [t.constraint])));
    // Ties go to the first cell.
    expect(protectCells(cells, [t.constraint]).complementary).toEqual(['type.b']);
  });

  it('refuses counts that break their own constraints (a bug upstream, never a silent leak)', () => {
    const t = table('type', { a: 3, b: 8 });
    expect(() => protectCells([{ id: 'total', value: 12 }, ...t.cells], [t.constraint])).toThrow(
      /does not hold/,
    );
    expect(() => protectCells([{ id: 'total', value: -1 }], [])).toThrow(/not a count/);
  });

  describe('random tables, checked by exhaustive search', () => {
    // A deterministic generator, so that a failure can be replayed.
    let seed = 20261115;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const count = (): number => [0, 0, 1, 2, 3, 4, 5, 6, 7, 9][rand(10)];

    it.each(Array.from({ length: 150 }, (_, i) => i))('two breakdowns sharing a total #%i', () => {
      const a = Array.from({ length: 2 + rand(3) }, count);
      const total = a.reduce((s, v) => s + v, 0);
      // A second breakdown of the same total.
      const b: number[] = [];
      let left = total;
      for (let k = 0; k < 2; k++) {
        const v = rand(left + 1);
        b.push(v);
        left -= v;
      }
      b.push(left);
      const ta = table('a', Object.fromEntries(a.map((v, k) => [`k${k}`, v])));
      const tb = table('b', Object.fromEntries(b.map((v, k) => [`k${k}`, v])));
      expectProtected(
        [{ id: 'total', value: total }, ...ta.cells, ...tb.cells],
        [ta.constraint, tb.constraint],
      );
    });

    it.each(Array.from({ length: 150 }, (_, i) => i))('a 2x3 cross-table with its margins #%i', () => {
      const grid = [0, 1].map(() => [0, 1, 2].map(count));
      const cells: CellInput[] = [];
      const constraints: Constraint[] = [];
      grid.forEach((row, i) => row.forEach((v, j) => cells.push({ id: `r${i}c${j}`, value: v })));
      grid.forEach((row, i) => {
        cells.push({ id: `r${i}`, value: row.reduce((s, v) => s + v, 0) });
        constraints.push({ kind: 'sum', total: `r${i}`, parts: row.map((_, j) => `r${i}c${j}`) });
      });
      [0, 1, 2].forEach((j) => {
        cells.push({ id: `c${j}`, value: grid[0][j] + grid[1][j] });
        constraints.push({ kind: 'sum', total: `c${j}`, parts: [`r0c${j}`, `r1c${j}`] });
      });
      cells.push({ id: 'total', value: grid.flat().reduce((s, v) => s + v, 0) });
      constraints.push({ kind: 'sum', total: 'total', parts: ['r0', 'r1'] });
      constraints.push({ kind: 'sum', total: 'total', parts: ['c0', 'c1', 'c2'] });
      expectProtected(cells, constraints);
    });

    it.each(Array.from({ length: 100 }, (_, i) => i))(
      'a breakdown, a multiple-response one and a subtotal #%i',
      () => {
        const a = Array.from({ length: 3 }, count);
        const total = a.reduce((s, v) => s + v, 0);
        // Forms: every unit has 1 or 2 of three forms.
        const forms = [0, 0, 0];
        for (let u = 0; u < total; u++) {
          const first = rand(3);
          forms[first]++;
          if (rand(3) === 0) forms[(first + 1 + rand(2)) % 3]++;
        }
        const ta = table('a', Object.fromEntries(a.map((v, k) => [`k${k}`, v])));
        const cells: CellInput[] = [
          { id: 'total', value: total },
          ...ta.cells,
          ...forms.map((v, k) => ({ id: `f${k}`, value: v })),
          { id: 'sub', value: a[0] + a[1] },
        ];
        expectProtected(cells, [
          ta.constraint,
          { kind: 'multi', total: 'total', parts: ['f0', 'f1', 'f2'], maxPerUnit: 2 },
          { kind: 'sum', total: 'sub', parts: ['a.k0', 'a.k1'] },
        ]);
      },
    );
  });
});
