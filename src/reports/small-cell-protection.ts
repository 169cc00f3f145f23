/**
 * Small-cell protection for published statistics (docs/reports.md, "Small-cell protection"). Protects the
 * survivors behind small counts: no count from 1 to 4 is published, and no hidden count can be worked out
 * from the published ones, their totals and the labels themselves.
 *
 * A report is a set of cells (counts) tied by constraints: `sum` (a total equals the sum of its parts: a
 * one-dimensional breakdown, a row or a column of a cross-table, a subtotal) and `multi` (a multiple-response
 * breakdown: every unit has between 1 and `maxPerUnit` of the categories). Cells may be unpublished (e.g. the
 * pending referrals that are not overdue): never shown, but protected like the others when their count is
 * small, since subtracting two published numbers would reveal them.
 *
 * 1. Primary suppression: a published count from 1 to threshold-1 becomes `"<5"`, and so does every cell of
 *    the breakdown of such a count, zeros included (recursively).
 * 2. Complementary suppression, repeated until nothing can be worked out: a hidden count is disclosed when
 *    (a) the linear equations of the `sum` constraints determine it (e.g. it is the only hidden cell of a
 *        breakdown whose total is shown, or a "bridge" between two blocks of a cross-table), or
 *    (b) the bounds an attacker knows pin it to one value: `"<5"` is 1..4, `"suppressed"` is at least 5, a zero
 *        or a number is exact, and multiple-response tables add inequalities (e.g. 1 + "suppressed" = 6 gives
 *        both away).
 *    For the first disclosed cell, the first non-zero shown cell (in the fixed order of cells, never by its
 *    value: chooseComplement) of one of its constraints (a part before a total) is suppressed as
 *    `"suppressed"`, and the check starts again.
 * Zero is shown and never chosen as a complement (a zero identifies nobody), except inside the breakdown of a
 * count below the threshold (step 1).
 * 3. When no shown non-zero count is left to suppress and a count can still be worked out from the labels' bounds,
 *    the result is `unprotectable`: the caller publishes none of it.
 *
 * Pure and deterministic: the same counts always give the same pattern.
 */

export const SMALL_CELL = '<5';
export const SUPPRESSED = 'suppressed';
export type ProtectedValue = number | typeof SMALL_CELL | typeof SUPPRESSED;

export interface CellInput {
  readonly id: string;
  /** A non-negative integer count. */
  readonly value: number;
  /** Default true. An unpublished cell is never returned but is protected when its count is small. */
  readonly published?: boolean;
}

export type Constraint =
  | { readonly kind: 'sum'; readonly total: string; readonly parts: readonly string[] }
  | {
      readonly kind: 'multi';
      readonly total: string;
      readonly parts: readonly string[];
      /** Each unit counted in `total` falls in at least 1 and at most this many parts. */
      readonly maxPerUnit: number;
    };

export interface ProtectionResult {
  /** Every published cell, by id. */
  readonly values: ReadonlyMap<string, ProtectedValue>;
  /** Ids suppressed because they are small (`"<5"`). */
  readonly primary: readonly string[];
  /** Ids suppressed to protect others (`"suppressed"`), in the order chosen. */
  readonly complementary: readonly string[];
  /**
   * True when no pattern of `"<5"` and `"suppressed"` protects the counts: their labels' own bounds (1 to 4, at
   * least 5) still pin a hidden count once every non-zero count is hidden (e.g. a commune of 8 cases whose
   * age groups, five of them below 5, add up to the most the sexes' two "<5" allow), or the check ran out of its
   * search budget. `values` is then empty (nothing of it may be published): the caller withholds the whole table
   * (a label with no bounds).
   */
  readonly unprotectable: boolean;
}

export const DEFAULT_THRESHOLD = 5;

type State = 'shown' | 'small' | 'suppressed' | 'unpublished';

interface Model {
  readonly values: number[];
  readonly published: boolean[];
  readonly state: State[];
  /** A "<5" cell that may be 0 (it belongs to the breakdown of a "<5" count): its bounds start at 0. */
  readonly mayBeZero: boolean[];
  readonly constraints: { kind: 'sum' | 'multi'; total: number; parts: number[]; maxPerUnit: number }[];
  /** Constraints each cell appears in. */
  readonly memberOf: number[][];
  readonly threshold: number;
}

const EPS = 1e-9;
const MAX_PROPAGATION_PASSES = 500;
/** Nodes one search may visit before the cell is treated as disclosed (and protected further). */
const SEARCH_BUDGET = 20_000;
/**
 * The budget of the last check, before a report no pattern protects is withheld whole: shared by all its cells'
 * searches (each check above has SEARCH_BUDGET per cell), so that the report's protection, run on the event loop,
 * stays under a second on this path (per cell, one report took 2.7 s; docs/reports.md).
 */
const FINAL_SEARCH_BUDGET = 200_000;

/** Search nodes left: a cell's own, or shared by the cells of one check. */
interface SearchBudget {
  left: number;
}

export function protectCells(
  cells: readonly CellInput[],
  constraints: readonly Constraint[],
  threshold = DEFAULT_THRESHOLD,
): ProtectionResult {
  const model = buildModel(cells, constraints, threshold);
  const primary: string[] = [];
  const complementary: string[] = [];
  model.values.forEach((v, i) => {
    if (model.published[i] && v > 0 && v < threshold) {
      model.state[i] = 'small';
      primary.push(cells[i].id);
    }
  });
  // The breakdown of a count shown as "<5" is shown as "<5" entirely, zeros included: otherwise the number
  // of non-empty categories would give it away (4 categories under a total below 5 are 1 case each).
  for (let changed = true; changed;) {
    changed = false;
    for (const k of model.constraints) {
      if (model.state[k.total] !== 'small') continue;
      for (const p of k.parts) {
        model.mayBeZero[p] = true;
        if (model.state[p] === 'shown' && model.published[p]) {
          model.state[p] = 'small';
          primary.push(cells[p].id);
          changed = true;
        }
      }
    }
  }

  // Each round suppresses one more cell, so this ends after at most cells.length rounds.
  let unprotectable = false;
  for (;;) {
    const disclosed = firstDisclosed(model);
    if (disclosed === null) break;
    const pick = chooseComplement(model, disclosed);
    if (pick === null) {
      // Nothing left to hide around it: every non-zero count hidden, the labels' bounds may still pin one
      // ("<5" is at most 4, "suppressed" at least 5). Hidden all the same, then checked once more: if anything
      // is still disclosed, the table cannot be published at all.
      model.state.forEach((s, i) => {
        if (s === 'shown' && model.values[i] > 0 && model.published[i]) {
          model.state[i] = 'suppressed';
          complementary.push(cells[i].id);
        }
      });
      // A larger search budget here (a rare path): a search that ran out counts as disclosing, and withholding
      // the report over a search cut short would take its figures from staff for nothing.
      unprotectable = firstDisclosed(model, { left: FINAL_SEARCH_BUDGET }) !== null;
      break;
    }
    model.state[pick] = 'suppressed';
    complementary.push(cells[pick].id);
  }

  const values = new Map<string, ProtectedValue>();
  cells.forEach((c, i) => {
    if (!model.published[i] || unprotectable) return;
    const s = model.state[i];
    values.set(c.id, s === 'small' ? SMALL_CELL : s === 'suppressed' ? SUPPRESSED : c.value);
  });
  return { values, primary, complementary, unprotectable };
}

function buildModel(
  cells: readonly CellInput[],
  constraints: readonly Constraint[],
  threshold: number,
): Model {
  if (!Number.isInteger(threshold) || threshold < 2) throw new Error('threshold must be an integer ≥ 2');
  const index = new Map<string, number>();
  cells.forEach((c, i) => {
    if (index.has(c.id)) throw new Error(`duplicate cell ${c.id}`);
    if (!Number.isSafeInteger(c.value) || c.value < 0) throw new Error(`cell ${c.id} is not a count`);
    index.set(c.id, i);
  });
  const at = (id: string): number => {
    const i = index.get(id);
    if (i === undefined) throw new Error(`unknown cell ${id}`);
    return i;
  };
  const memberOf: number[][] = cells.map(() => []);
  const values = cells.map((c) => c.value);
  const model: Model = {
    values,
    published: cells.map((c) => c.published !== false),
    state: cells.map((c) => (c.published === false ? 'unpublished' : 'shown')),
    mayBeZero: cells.map(() => false),
    constraints: constraints.map((k, ci) => {
      const total = at(k.total);
      const parts = k.parts.map(at);
      if (new Set([total, ...parts]).size !== parts.length + 1)
        throw new Error(`constraint ${ci} repeats a cell`);
      const sum = parts.reduce((s, p) => s + values[p], 0);
      const maxPerUnit = k.kind === 'multi' ? k.maxPerUnit : 1;
      const holds =
        k.kind === 'sum'
          ? sum === values[total]
          : parts.every((p) => values[p] <= values[total]) &&
            sum >= values[total] &&
            sum <= maxPerUnit * values[total];
      // The protection reasons from these relations: counts that break them are a bug upstream.
      if (!holds) throw new Error(`constraint on ${k.total} does not hold for the counts given`);
      for (const i of [total, ...parts]) memberOf[i].push(ci);
      return { kind: k.kind, total, parts, maxPerUnit };
    }),
    memberOf,
    threshold,
  };
  return model;
}

function isHidden(s: State): boolean {
  return s !== 'shown';
}

/**
 * A hidden cell that must not be worked out: a small count (1..threshold-1), published as "<5" or unpublished.
 * A hidden zero and a "suppressed" count (≥ threshold) identify nobody: they are hidden to protect the others.
 */
function isSensitive(m: Model, i: number): boolean {
  return isHidden(m.state[i]) && m.values[i] > 0 && m.values[i] < m.threshold;
}

/**
 * The first (by cell order) sensitive cell that the published cells disclose, or null. Each cell's search has
 * SEARCH_BUDGET nodes of its own, or takes them from `shared`; one that runs out counts as disclosing.
 */
function firstDisclosed(m: Model, shared?: SearchBudget): number | null {
  // Fast checks first: the equations alone, then the bounds.
  const determined = linearlyDetermined(m);
  const bounds = initialBounds(m);
  if (!propagate(m, bounds, allConstraints(m)))
    throw new Error('the counts do not satisfy their constraints');
  for (let i = 0; i < m.values.length; i++) {
    if (isSensitive(m, i) && (determined.has(i) || bounds.lo[i] === bounds.hi[i])) return i;
  }
  // Then an exhaustive search per cell for another value consistent with everything published.
  const components = hiddenComponents(m);
  for (let i = 0; i < m.values.length; i++) {
    if (isSensitive(m, i) && !hasAlternative(m, i, components.get(i)!, shared ?? { left: SEARCH_BUDGET }))
      return i;
  }
  return null;
}

/**
 * Hidden cells whose value follows from the `sum` equations alone: x_i is determined exactly when the unit
 * vector e_i lies in the row space of the equations restricted to the hidden cells, i.e. when a row of the
 * reduced row echelon form has its only non-zero entry at i.
 */
export function linearlyDeterminedIds(
  cells: readonly CellInput[],
  constraints: readonly Constraint[],
  hidden: ReadonlySet<string>,
): Set<string> {
  const m = buildModel(cells, constraints, DEFAULT_THRESHOLD);
  cells.forEach((c, i) => (m.state[i] = hidden.has(c.id) ? 'suppressed' : 'shown'));
  return new Set([...linearlyDetermined(m)].map((i) => cells[i].id));
}

function linearlyDetermined(m: Model): Set<number> {
  const hidden: number[] = [];
  const column = new Map<number, number>();
  m.state.forEach((s, i) => {
    if (isHidden(s)) {
      column.set(i, hidden.length);
      hidden.push(i);
    }
  });
  const rows: number[][] = [];
  for (const k of m.constraints) {
    if (k.kind !== 'sum') continue;
    const row = new Array<number>(hidden.length).fill(0);
    let any = false;
    const add = (cell: number, coef: number): void => {
      const c = column.get(cell);
      if (c === undefined) return;
      row[c] += coef;
      any = true;
    };
    add(k.total, 1);
    for (const p of k.parts) add(p, -1);
    if (any) rows.push(row);
  }

  // Gauss-Jordan elimination with partial pivoting (coefficients start as 0/±1; sizes are small).
  let r = 0;
  for (let c = 0; c < hidden.length && r < rows.length; c++) {
    let pivot = r;
    for (let i = r + 1; i < rows.length; i++) if (Math.abs(rows[i][c]) > Math.abs(rows[pivot][c])) pivot = i;
    if (Math.abs(rows[pivot][c]) < EPS) continue;
    [rows[r], rows[pivot]] = [rows[pivot], rows[r]];
    const pr = rows[r];
    const pv = pr[c];
    for (let j = 0; j < pr.length; j++) pr[j] /= pv;
    for (let i = 0; i < rows.length; i++) {
      if (i === r) continue;
      const row = rows[i];
      const f = row[c];
      if (Math.abs(f) < EPS) continue;
      for (let j = 0; j < row.length; j++) row[j] -= f * pr[j];
    }
    r++;
  }

  const out = new Set<number>();
  for (const row of rows.slice(0, r)) {
    let only = -1;
    let count = 0;
    row.forEach((v, j) => {
      if (Math.abs(v) > EPS) {
        count++;
        only = j;
      }
    });
    if (count === 1) out.add(hidden[only]);
  }
  return out;
}

interface Bounds {
  lo: number[];
  hi: number[];
}

/**
 * What an attacker knows of each cell from its label. Hidden counts are searched up to a ceiling (twice the
 * largest count plus the threshold; hasAlternative takes the largest of the cells it searches): a ceiling can
 * only make a cell look easier to work out, never harder, so it errs on the side of suppressing more.
 */
function initialBounds(m: Model, ceiling = 2 * Math.max(0, ...m.values) + m.threshold): Bounds {
  const n = m.values.length;
  const lo = new Array<number>(n);
  const hi = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    switch (m.state[i]) {
      case 'shown':
        lo[i] = hi[i] = m.values[i]!;
        break;
      case 'small':
        lo[i] = m.mayBeZero[i] ? 0 : 1;
        hi[i] = m.threshold - 1;
        break;
      case 'suppressed':
        lo[i] = m.threshold;
        hi[i] = ceiling;
        break;
      case 'unpublished':
        lo[i] = 0;
        hi[i] = ceiling;
        break;
    }
  }
  return { lo, hi };
}

function allConstraints(m: Model): number[] {
  return m.constraints.map((_, i) => i);
}

/**
 * Narrows the bounds with the constraints until nothing changes (interval propagation). Returns false when
 * no assignment fits them.
 */
function propagate(m: Model, b: Bounds, constraints: readonly number[]): boolean {
  const { lo, hi } = b;
  let changed = true;
  let feasible = true;
  const tighten = (i: number, newLo: number, newHi: number): void => {
    const l = Math.max(lo[i], Math.ceil(newLo - EPS));
    const h = Math.min(hi[i], Math.floor(newHi + EPS));
    if (l > h) feasible = false;
    if (l !== lo[i] || h !== hi[i]) {
      lo[i] = l;
      hi[i] = h;
      changed = true;
    }
  };
  for (let pass = 0; changed && feasible && pass < MAX_PROPAGATION_PASSES; pass++) {
    changed = false;
    for (const ci of constraints) {
      const k = m.constraints[ci];
      const { parts, total } = k;
      let sumLo = 0;
      let sumHi = 0;
      let maxLo = 0;
      for (const p of parts) {
        sumLo += lo[p];
        sumHi += hi[p];
        maxLo = Math.max(maxLo, lo[p]);
      }
      if (k.kind === 'sum') {
        tighten(total, sumLo, sumHi);
        for (const p of parts) tighten(p, lo[total] - (sumHi - hi[p]), hi[total] - (sumLo - lo[p]));
      } else {
        // Every part is at most the total; the parts add up to at least the total and at most maxPerUnit times it.
        tighten(total, Math.max(maxLo, sumLo / k.maxPerUnit), sumHi);
        for (const p of parts) {
          tighten(
            p,
            lo[total] - (sumHi - hi[p]),
            Math.min(hi[total], k.maxPerUnit * hi[total] - (sumLo - lo[p])),
          );
        }
      }
      if (!feasible) return false;
    }
  }
  return feasible;
}

/** For each hidden cell, the constraints linking it to other hidden cells (its connected component). */
function hiddenComponents(m: Model): Map<number, number[]> {
  const parent = m.values.map((_, i) => i);
  const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i])));
  for (const k of m.constraints) {
    const hidden = [k.total, ...k.parts].filter((i) => isHidden(m.state[i]));
    for (const i of hidden.slice(1)) parent[find(i)] = find(hidden[0]);
  }
  const byRoot = new Map<number, number[]>();
  m.constraints.forEach((k, ci) => {
    const h = [k.total, ...k.parts].find((i) => isHidden(m.state[i]));
    if (h === undefined) return;
    const root = find(h);
    byRoot.set(root, [...(byRoot.get(root) ?? []), ci]);
  });
  const out = new Map<number, number[]>();
  m.state.forEach((s, i) => {
    if (isHidden(s)) out.set(i, byRoot.get(find(i)) ?? []);
  });
  return out;
}

/**
 * Whether some assignment of the hidden cells agrees with the labels and the constraints and gives cell i a
 * value other than its own: first by moving it and one other hidden cell in opposite directions, else by
 * branch and bound on integer intervals within its component (complete, since the ranges are finite). A
 * search that runs out of budget counts as "no": the cell is then protected further.
 */
function hasAlternative(m: Model, i: number, constraints: readonly number[], budget: SearchBudget): boolean {
  const cells = [
    ...new Set(constraints.flatMap((ci) => [m.constraints[ci].total, ...m.constraints[ci].parts])),
  ];
  // The ceiling of the cells searched, not of the whole report: the referral counts (another component) widened
  // every case cell's range, and the search ran out of budget on reports it could settle (every alternative it
  // finds within a lower ceiling is a real one, so a lower ceiling never passes a disclosed cell as safe).
  const base = initialBounds(m, 2 * Math.max(0, m.values[i], ...cells.map((c) => m.values[c])) + m.threshold);
  if (swapAlternative(m, i, base)) return true;
  const v = m.values[i];
  const solve = (b: Bounds): boolean => {
    if (--budget.left < 0 || !propagate(m, b, constraints)) return false;
    let pick = -1;
    for (const c of cells) {
      if (b.lo[c] < b.hi[c] && (pick < 0 || b.hi[c] - b.lo[c] < b.hi[pick] - b.lo[pick])) pick = c;
    }
    if (pick < 0) return true; // every cell is fixed and every constraint holds
    // Try the cell's real value first, then the values below and above it: an alternative assignment, when
    // there is one, usually differs from the real counts in a few cells only, so it is found quickly.
    const real = m.values[pick];
    const branches: [number, number][] =
      real >= b.lo[pick] && real <= b.hi[pick]
        ? [
            [real, real],
            [b.lo[pick], real - 1],
            [real + 1, b.hi[pick]],
          ]
        : [
            [b.lo[pick], Math.floor((b.lo[pick] + b.hi[pick]) / 2)],
            [Math.floor((b.lo[pick] + b.hi[pick]) / 2) + 1, b.hi[pick]],
          ];
    for (const [l, h] of branches) {
      if (l > h) continue;
      const next = { lo: [...b.lo], hi: [...b.hi] };
      next.lo[pick] = l;
      next.hi[pick] = h;
      if (solve(next)) return true;
    }
    return false;
  };
  const below = { lo: [...base.lo], hi: [...base.hi] };
  below.hi[i] = v - 1;
  if (base.lo[i] <= v - 1 && solve(below)) return true;
  const above = { lo: [...base.lo], hi: [...base.hi] };
  above.lo[i] = v + 1;
  return base.hi[i] >= v + 1 && solve(above);
}

/**
 * The complementary cell for a disclosed one: the first (in the report's fixed order of cells) non-zero shown
 * cell among the parts of its constraints, else among their totals; if every cell around it is already
 * hidden, the search widens to the constraints of those hidden cells.
 *
 * Never chosen by its value: the rule is published, and "the smallest" would tell a reader that the
 * suppressed cell is no larger than every cell still shown beside it, an upper bound the disclosure check
 * does not model, which gave hidden counts away (total 38: rape 4, sexual assault 7, physical 7,
 * psychological 20 published as "<5", "suppressed", 7, 20 left sexual assault between 7 and 7, so rape 4).
 */
function chooseComplement(m: Model, disclosed: number): number | null {
  const seenConstraints = new Set<number>();
  let frontier = new Set<number>([disclosed]);
  const visitedCells = new Set<number>([disclosed]);
  while (frontier.size > 0) {
    let best: { cell: number; rank: [number, number] } | null = null;
    const next = new Set<number>();
    for (const cell of frontier) {
      for (const ci of m.memberOf[cell]) {
        if (seenConstraints.has(ci)) continue;
        seenConstraints.add(ci);
        const k = m.constraints[ci];
        for (const other of [k.total, ...k.parts]) {
          if (m.state[other] === 'shown') {
            if (m.values[other] > 0 && m.published[other]) {
              const rank: [number, number] = [other === k.total ? 1 : 0, other];
              if (!best || lessThan(rank, best.rank)) best = { cell: other, rank };
            }
          } else if (!visitedCells.has(other)) {
            visitedCells.add(other);
            next.add(other);
          }
        }
      }
    }
    if (best) return best.cell;
    frontier = next;
  }
  return null;
}

/** Cell i moved by ±1 and another hidden cell of one of its constraints by ∓1: does everything still hold? */
function swapAlternative(m: Model, i: number, b: Bounds): boolean {
  const partners = new Set<number>();
  for (const ci of m.memberOf[i]) {
    const k = m.constraints[ci];
    for (const j of [k.total, ...k.parts]) if (j !== i && isHidden(m.state[j])) partners.add(j);
  }
  const value = (c: number, moved: ReadonlyMap<number, number>): number => moved.get(c) ?? m.values[c];
  const holds = (ci: number, moved: ReadonlyMap<number, number>): boolean => {
    const k = m.constraints[ci];
    const t = value(k.total, moved);
    let sum = 0;
    let max = 0;
    for (const p of k.parts) {
      const v = value(p, moved);
      sum += v;
      max = Math.max(max, v);
    }
    return k.kind === 'sum' ? sum === t : max <= t && sum >= t && sum <= k.maxPerUnit * t;
  };
  for (const delta of [-1, 1]) {
    const vi = m.values[i] + delta;
    if (vi < b.lo[i] || vi > b.hi[i]) continue;
    for (const j of partners) {
      const vj = m.values[j] - delta;
      if (vj < b.lo[j] || vj > b.hi[j]) continue;
      const moved = new Map([
        [i, vi],
        [j, vj],
      ]);
      if ([...m.memberOf[i], ...m.memberOf[j]].every((ci) => holds(ci, moved))) return true;
    }
  }
  return false;
}

function lessThan(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] < b[i];
  return false;
}
