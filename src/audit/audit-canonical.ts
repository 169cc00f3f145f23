import type { AuditRow } from './audit.types';

/**
 * The exact bytes of an entry that the chain MAC covers (format 1): every column of audit_events except the
 * MAC, in column order, as the UTF-8 encoding of one line. Each value is written as `<length>:<text>` (the
 * length in UTF-16 code units of the text) or `~` for null, after the prefix `1;`; a list is written as the
 * text of its elements joined by commas. The line is injective: two different rows never share bytes,
 * because every value is length-prefixed and the text form of a value determines the value.
 *
 * The writer encodes the values it inserts; the verifier encodes the text PostgreSQL returns for the stored
 * row (integers as digits, uuids lower-case, `at` as epoch milliseconds, arrays as `{a,b}` whose inside is
 * used as is). Both agree because the writer only stores canonical text: lower-case uuids, digits, words,
 * list elements that PostgreSQL never quotes. A value changed in the database changes its text, hence the
 * line (PostgreSQL quotes list elements with a comma, a quote, a space or NULL, so a changed list never
 * reads like the original).
 */
export const CANONICAL_FORMAT = 1;

/** Column order of the canonical line (audit_events without mac); `list` columns are arrays. */
export const CANONICAL_COLUMNS = [
  { column: 'seq' },
  { column: 'stripe' },
  { column: 'prev_seq' },
  { column: 'at', select: `round(date_part('epoch', at) * 1000)::bigint` },
  { column: 'actor_id' },
  { column: 'actor_role' },
  { column: 'actor_org_id' },
  { column: 'actor_communes', list: true },
  { column: 'action' },
  { column: 'resource_type' },
  { column: 'resource_id' },
  { column: 'case_id' },
  { column: 'fields', list: true },
  { column: 'outcome' },
  { column: 'reason' },
  { column: 'ip' },
  { column: 'user_agent' },
  { column: 'request_id' },
  { column: 'returned_ids', list: true },
  { column: 'province_code' },
  { column: 'commune_code' },
  { column: 'jurisdictions', list: true },
] as const;

const PREFIX = `${CANONICAL_FORMAT};`;

/**
 * The canonical line of a stored row, computed by PostgreSQL (the verifier's fast path: one text column per
 * row instead of 22 parsed and joined in JavaScript). The same text as `canonicalLine(storedValues(raw))`:
 * each value in the text form PostgreSQL returns (lists: the inside of the array literal, quotes kept), written
 * `<char_length>:<text>` or `~`. For every value Haven writes (ASCII only) char_length equals JavaScript's
 * UTF-16 length; a non-ASCII value put there by someone else can only make its MAC mismatch (the line stays
 * length-prefixed, hence injective), never match. Test: audit-canonical.spec.ts.
 */
export const CANONICAL_LINE_SQL = [
  `'${CANONICAL_FORMAT};'`,
  ...CANONICAL_COLUMNS.map((c) => {
    const v =
      'select' in c
        ? `(${c.select})::text`
        : 'list' in c && c.list
          ? `substr(${c.column}::text, 2, char_length(${c.column}::text) - 2)`
          : `${c.column}::text`;
    return `COALESCE(char_length(${v})::text || ':' || ${v}, '~')`;
  }),
].join(' || ');
const LIST = CANONICAL_COLUMNS.map((c) => 'list' in c && c.list === true);

/** The canonical line of values already in their text form (lists: elements joined by commas). */
export function canonicalLine(values: readonly (string | null)[]): string {
  // Joined once rather than concatenated: a flat string encodes several times faster than a rope.
  const parts: string[] = [PREFIX];
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined) parts.push('~');
    else parts.push(`${v.length}:`, v);
  }
  return parts.join('');
}

/** The text form of a stored row, as the writer knows it. */
export function rowValues(row: AuditRow): (string | null)[] {
  return [
    String(row.seq),
    String(row.stripe),
    String(row.prevSeq),
    String(row.atMs),
    row.actorId,
    row.actorRole,
    row.actorOrgId,
    row.actorCommunes.join(','),
    row.action,
    row.resourceType,
    row.resourceId,
    row.caseId,
    row.fields.join(','),
    row.outcome,
    row.reason,
    row.ip,
    row.userAgent,
    row.requestId,
    row.returnedIds.join(','),
    row.provinceCode,
    row.communeCode,
    row.jurisdictions.join(','),
  ];
}

/**
 * Turns a row PostgreSQL returned as raw text (columns as in CANONICAL_COLUMNS) into the same values, in
 * place: the inside of each array literal (`{a,b}` → `a,b`).
 */
export function storedValues(raw: (string | null)[]): (string | null)[] {
  for (let i = 0; i < LIST.length; i++) {
    if (LIST[i]) {
      const v = raw[i];
      raw[i] = v === null || v === undefined ? null : v.slice(1, -1);
    }
  }
  return raw;
}

/** Encodes canonical lines into one reusable buffer (the returned view is valid until the next call). */
export class CanonicalEncoder {
  private buf = Buffer.allocUnsafe(8192);

  encode(row: AuditRow): Buffer {
    return this.encodeLine(canonicalLine(rowValues(row)));
  }

  encodeLine(line: string): Buffer {
    if (line.length * 3 > this.buf.length) this.buf = Buffer.allocUnsafe(line.length * 3);
    const n = this.buf.write(line, 0, 'utf8');
    return this.buf.subarray(0, n);
  }
}
