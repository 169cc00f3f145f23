import fc from 'fast-check';

/**
 * Hostile-input generators for the property-based tests (test/hostile-input.e2e-spec.ts): strings a broken or
 * malicious client may send, values of the wrong type, and mutations of a valid body (a field replaced, removed,
 * added or nested deeply).
 */

export const INJECTIONS = [
  "' OR 1=1 --",
  "'; DROP TABLE cases; --",
  '<script>alert(1)</script>',
  '"><img src=x onerror=alert(1)>',
  '${process.env.DATABASE_URL}',
  '{{constructor.constructor("return process")()}}',
  '../../../../etc/passwd',
  '..\\..\\..\\windows\\win.ini',
  '%00%2e%2e%2f',
  '\u0000null-byte\u0000',
  '__proto__',
  'constructor',
  '$where: 1 == 1',
];

export const UNICODE_EDGES = [
  'Nguyễn Thị Thùy'.normalize('NFD'),
  'Nguyễn Thị Thùy'.normalize('NFC'),
  'zero\u200Bwidth\u200Bspace',
  '\u200B\u200B\u200B\u200B\u200B\u200B\u200B\u200B',
  'rtl\u202Eoverride\u202Cend',
  '\u202E\u202E\u202E\u202E\u202E\u202E\u202E\u202E',
  'emoji 👩‍👩‍👧‍👦🏳️‍🌈🇻🇳',
  'lone \uD800 high surrogate',
  'lone \uDC00 low surrogate',
  '\uD800',
  '\uDFFF\uD800',
  '\uFEFFbyte order mark',
  'combining a\u0301\u0302\u0303\u0304\u0305\u0306',
  '\u0000\u0001\u0002\u001F\u007F',
  'line\u2028separator\u2029para',
  '\uFFFF\uFFFE',
];

export const INVALID_DATES = [
  '2026-02-30',
  '2026-13-01',
  '2026-00-10',
  '0000-00-00',
  '9999-99-99',
  '2026-11-20T25:00:00+07:00',
  '2026-11-20T09:61:00Z',
  '2026-11-20T09:00:00+25:00',
  '20261120',
  '2026/11/20',
  '20-11-2026',
  'yesterday',
  '1e400',
  '+275760-09-13T00:00:00Z',
  '-000001-01-01T00:00:00Z',
  '2026-11-20T09:00:00',
  '2026-W47-5',
  '2026-324',
  '2026-11',
  '2026',
  '20261119T210000Z',
  '1990-02-31',
];

const lengthyMix = fc
  .array(fc.constantFrom(...INJECTIONS, ...UNICODE_EDGES), { minLength: 1, maxLength: 4 })
  .map((parts) => parts.join(' '));

/** A string of the given size, distinct enough that finding it in a response means it was echoed. */
export const hugeString = (min: number, max: number) =>
  fc
    .tuple(fc.integer({ min, max }), fc.constantFrom('ABCDEFGH', 'Ωβγδ', '𝒳😀', 'a\u0301b'))
    .map(([n, unit]) => `HUGE${n}:${unit.repeat(Math.ceil(n / unit.length)).slice(0, n)}`);

export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...INJECTIONS) },
  { weight: 3, arbitrary: fc.constantFrom(...UNICODE_EDGES) },
  { weight: 2, arbitrary: fc.constantFrom(...INVALID_DATES) },
  { weight: 2, arbitrary: lengthyMix },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.constant('') },
  { weight: 1, arbitrary: hugeString(1_000, 20_000) },
);

/** Nests a value in arrays or objects, up to 40 levels (the app refuses more than 16). */
export const deeplyNested: fc.Arbitrary<unknown> = fc
  .tuple(fc.integer({ min: 2, max: 40 }), fc.boolean(), hostileString)
  .map(([depth, arrays, leaf]) => {
    let v: unknown = leaf;
    for (let i = 0; i < depth; i++) v = arrays ? [v] : { a: v };
    return v;
  });

/** Any JSON value of the wrong type (or of the right type with hostile content). */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 5, arbitrary: hostileString },
  { weight: 1, arbitrary: fc.integer() },
  { weight: 1, arbitrary: fc.constantFrom(0, -1, 1.5, 1e308, -1e308, Number.MAX_SAFE_INTEGER + 2) },
  { weight: 1, arbitrary: fc.boolean() },
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.array(hostileString, { maxLength: 4 }) },
  { weight: 1, arbitrary: fc.dictionary(hostileString, hostileString, { maxKeys: 3 }) },
  { weight: 1, arbitrary: deeplyNested },
);

type Path = string[];
type Json = unknown;

function paths(v: Json, prefix: Path = []): Path[] {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return [prefix];
  const out: Path[] = [prefix];
  for (const [k, child] of Object.entries(v)) out.push(...paths(child, [...prefix, k]));
  return out;
}

export type Mutation =
  | { op: 'replace'; at: number; value: Json }
  | { op: 'delete'; at: number }
  | { op: 'extra'; at: number; key: string; value: Json };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({ op: fc.constant('replace' as const), at: fc.nat(), value: hostileValue }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), at: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('extra' as const),
      at: fc.nat(),
      key: fc.oneof(hostileString, fc.constantFrom('id', 'createdBy', 'status', 'isAdmin', 'version')),
      value: hostileValue,
    }),
  },
);

function applyMutation(body: Json, m: Mutation): Json {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    // The body is no longer an object: an extra field makes it one again, anything else replaces it.
    if (m.op === 'extra') return applyMutation({}, m);
    return m.op === 'replace' ? m.value : {};
  }
  const all = paths(body);
  const path = all[m.at % all.length];
  if (path.length === 0) {
    // The whole body: replace it by a value of another type, or add a field at the top.
    if (m.op === 'replace') return m.value;
    if (m.op === 'delete') return {};
  }
  const copy = structuredClone(body) as Record<string, Json>;
  let parent: Record<string, Json> = copy;
  const parents = m.op === 'extra' ? path : path.slice(0, -1);
  for (const k of parents) {
    const next = parent[k];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) {
      // 'extra' on a leaf: replace the leaf with an object holding the extra key (a wrong type too).
      parent[k] = {};
    }
    parent = parent[k] as Record<string, Json>;
  }
  if (m.op === 'extra') {
    Object.defineProperty(parent, m.key, {
      value: m.value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else if (m.op === 'delete') delete parent[path[path.length - 1]];
  else parent[path[path.length - 1]] = m.value;
  return copy;
}

/** A valid body with 1 to 3 hostile mutations (a mutation may happen to leave it valid). */
export function mutated(valid: () => Record<string, unknown>): fc.Arbitrary<Json> {
  return fc
    .array(mutation, { minLength: 1, maxLength: 3 })
    .map((ms) => ms.reduce<Json>((b, m) => applyMutation(b, m), valid()));
}

/** Ids for path parameters: not UUIDs, injection strings, UUIDs of nothing. */
export const badId: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.uuid() },
  { weight: 1, arbitrary: fc.constant('00000000-0000-0000-0000-000000000000') },
  { weight: 1, arbitrary: fc.constantFrom('1', '-1', '0x10', 'null', 'undefined', 'NaN', 'true') },
  { weight: 4, arbitrary: hostileString.filter((s) => s.length > 0 && s.length < 2_000) },
);

/**
 * Percent-encodes a path segment or query value. A lone surrogate cannot be encoded as UTF-8, so it is sent as
 * the bytes a broken client would send (invalid UTF-8), which the server must refuse cleanly.
 */
export function encodeHostile(s: string): string {
  let out = '';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (cp >= 0xd800 && cp <= 0xdfff) out += '%ED%A0%80';
    else out += encodeURIComponent(ch);
  }
  return out;
}

/** Every string leaf (values, not keys) of a JSON value. */
export function stringLeaves(v: Json, out: string[] = []): string[] {
  if (typeof v === 'string') out.push(v);
  else if (Array.isArray(v)) for (const x of v) stringLeaves(x, out);
  else if (v !== null && typeof v === 'object') for (const x of Object.values(v)) stringLeaves(x, out);
  return out;
}
