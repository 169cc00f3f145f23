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

/** The columns of audit_events in CANONICAL_COLUMNS order, then `mac`: what an INSERT or a COPY writes. */
export const AUDIT_EVENT_COLUMNS = [...CANONICAL_COLUMNS.map((c) => c.column), 'mac'] as const;

/** The values of a row in AUDIT_EVENT_COLUMNS order (`at` as an ISO timestamp, lists as arrays). */
export function auditEventValues(
  row: AuditRow,
  mac: Buffer,
): (string | number | Buffer | readonly string[] | null)[] {
  return [
    row.seq,
    row.stripe,
    row.prevSeq,
    new Date(row.atMs).toISOString(),
    row.actorId,
    row.actorRole,
    row.actorOrgId,
    row.actorCommunes,
    row.action,
    row.resourceType,
    row.resourceId,
    row.caseId,
    row.fields,
    row.outcome,
    row.reason,
    row.ip,
    row.userAgent,
    row.requestId,
    row.returnedIds,
    row.provinceCode,
    row.communeCode,
    row.jurisdictions,
    mac,
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

const TAB = 0x09;
/** Rows of COPY text output end with a newline (a newline inside a value is escaped). */
export const COPY_LINE_END = 0x0a;
const BACKSLASH = 0x5c;
/** `~`, `:`, `0`. */
const TILDE = 0x7e;
const COLON = 0x3a;
const ZERO = 0x30;

/**
 * Splits a COPY text line into its fields (no copies): returns the number of fields, or -1 when there are
 * more than `starts.length`.
 */
export function splitCopyLine(
  line: Buffer,
  start: number,
  end: number,
  starts: Int32Array,
  ends: Int32Array,
): number {
  let n = 0;
  let s = start;
  for (;;) {
    if (n === starts.length) return -1;
    const tab = line.indexOf(TAB, s);
    const e = tab === -1 || tab >= end ? end : tab;
    starts[n] = s;
    ends[n] = e;
    n++;
    if (e === end) return n;
    s = e + 1;
  }
}

/**
 * Encodes the canonical line of a stored row straight from its COPY text bytes, without making a string per
 * value (the verifier's hot path): the same bytes as `encodeLine(canonicalLine(storedValues(values)))`
 * whenever every byte of the row is ASCII and no value needed a COPY escape - which holds for every row Haven
 * writes. Returns null otherwise; the caller then decodes the row (decodeCopyValues) and takes the exact path.
 */
export class CopyLineEncoder {
  private buf = Buffer.allocUnsafe(8192);

  encode(line: Buffer, starts: Int32Array, ends: Int32Array): Buffer | null {
    const n = CANONICAL_COLUMNS.length;
    // At most: the prefix, and per value its bytes plus a length of up to 10 digits and the colon.
    const need = 2 + (ends[n - 1] - starts[0]) + 11 * n;
    if (need > this.buf.length) this.buf = Buffer.allocUnsafe(need * 2);
    const out = this.buf;
    out[0] = 0x31; // '1'
    out[1] = 0x3b; // ';'
    let o = 2;
    for (let i = 0; i < n; i++) {
      let s = starts[i];
      let e = ends[i];
      if (e - s === 2 && line[s] === BACKSLASH && line[s + 1] === 0x4e) {
        out[o++] = TILDE; // \N: null
        continue;
      }
      if (LIST[i]) {
        // The inside of `{…}`; the braces themselves are ASCII and never escaped.
        s++;
        e--;
      }
      const len = e - s;
      o = writeDigits(out, o, len);
      out[o++] = COLON;
      // Copied byte by byte (values are short: a call per value costs more) and checked on the way: a
      // non-ASCII byte or an escape sends the row to the exact path.
      for (let k = s; k < e; k++) {
        const b = line[k];
        if (b >= 0x80 || b === BACKSLASH) return null;
        out[o++] = b;
      }
    }
    return out.subarray(0, o);
  }
}

/** Writes `n` (a non-negative integer) in decimal digits at `o`; returns the offset after them. */
function writeDigits(out: Buffer, o: number, n: number): number {
  if (n < 10) {
    out[o] = ZERO + n;
    return o + 1;
  }
  let digits = 1;
  for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++;
  for (let i = o + digits - 1, x = n; i >= o; i--, x = Math.floor(x / 10)) out[i] = ZERO + (x % 10);
  return o + digits;
}

/** The values of a COPY text line, unescaped (`\N` → null): the exact, slower path. */
export function decodeCopyValues(
  line: Buffer,
  starts: Int32Array,
  ends: Int32Array,
  count: number,
): (string | null)[] {
  const out: (string | null)[] = [];
  for (let i = 0; i < count; i++) {
    const raw = line.toString('utf8', starts[i], ends[i]);
    out.push(raw === '\\N' ? null : unescapeCopy(raw));
  }
  return out;
}

const COPY_ESCAPES: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };

function unescapeCopy(text: string): string {
  if (!text.includes('\\')) return text;
  return text.replace(/\\(x[0-9a-fA-F]{1,2}|[0-7]{1,3}|.)/g, (_m, c: string) => {
    if (c[0] === 'x') return String.fromCharCode(parseInt(c.slice(1), 16));
    if (/^[0-7]/.test(c)) return String.fromCharCode(parseInt(c, 8));
    return COPY_ESCAPES[c] ?? c;
  });
}
