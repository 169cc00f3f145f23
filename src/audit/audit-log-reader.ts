import type { Readable } from 'node:stream';
import {
  CANONICAL_COLUMNS,
  CanonicalEncoder,
  canonicalLine,
  COPY_LINE_END,
  CopyLineEncoder,
  decodeCopyValues,
  splitCopyLine,
  storedValues,
} from './audit-canonical';

/**
 * Reads stored access-log entries for verification: `COPY … TO STDOUT` text, streamed, one entry at a time,
 * with no string per value (CopyLineEncoder builds the canonical bytes from the row's bytes). Used by the
 * verifier in this thread and by each of its worker threads.
 */

// The canonical columns (CANONICAL_COLUMNS: seq, stripe and prev_seq first), then the MAC in hex.
const COLUMNS = [
  ...CANONICAL_COLUMNS.map((c) => ('select' in c ? c.select : c.column)),
  `encode(mac, 'hex')`,
].join(', ');
const FIELDS = CANONICAL_COLUMNS.length + 1;

/** Query types that leave every column as PostgreSQL's text (no parsing into numbers or dates). */
export const RAW_TEXT = { getTypeParser: () => (value: string) => value };
const MAC_AT = FIELDS - 1;

/** The COPY statement of the entries with `from <= seq < to` (the whole log without bounds), in seq order. */
export function copyEntriesSql(range?: { from: number; to: number }): string {
  if (!range) return `COPY (SELECT ${COLUMNS} FROM audit_events ORDER BY seq) TO STDOUT`;
  // COPY takes no parameters; the bounds are checked to be integers before they are written into it.
  if (!Number.isSafeInteger(range.from) || !Number.isSafeInteger(range.to))
    throw new Error('seq bounds must be integers');
  return `COPY (SELECT ${COLUMNS} FROM audit_events WHERE seq >= ${range.from} AND seq < ${range.to} ORDER BY seq) TO STDOUT`;
}

/** A non-negative integer written in ASCII digits. */
function digits(buf: Buffer, s: number, e: number): number {
  let n = 0;
  for (let i = s; i < e; i++) {
    const d = buf[i] - 0x30;
    if (d < 0 || d > 9) return Number.NaN;
    n = n * 10 + d;
  }
  return n;
}

const HEX = new Int8Array(256).fill(-1);
for (let i = 0; i < 10; i++) HEX[0x30 + i] = i;
for (let i = 0; i < 6; i++) HEX[0x61 + i] = 10 + i;

/**
 * The entry under the cursor of a COPY stream of `copyEntriesSql()`. `read` calls back once per entry; the
 * fields and methods describe that entry until the callback returns.
 */
export class StoredEntryCursor {
  seq = 0;
  stripe = 0;
  prevSeq = 0;
  private buf: Buffer = Buffer.alloc(0);
  private readonly starts = new Int32Array(FIELDS + 1);
  private readonly ends = new Int32Array(FIELDS + 1);
  private readonly fast = new CopyLineEncoder();
  private readonly exact = new CanonicalEncoder(); // rows the byte path does not take (none Haven writes)

  /** Streams the COPY output, calling `onEntry` for each entry in order. */
  async read(stream: Readable, onEntry: () => void): Promise<void> {
    let rest: Buffer | null = null;
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const buf: Buffer = rest ? Buffer.concat([rest, chunk]) : chunk;
      let pos = 0;
      for (;;) {
        const end = buf.indexOf(COPY_LINE_END, pos);
        if (end === -1) break;
        this.at(buf, pos, end);
        onEntry();
        pos = end + 1;
      }
      rest = pos < buf.length ? buf.subarray(pos) : null;
    }
    if (rest) throw new Error('the COPY output ended inside a row');
  }

  private at(buf: Buffer, s: number, e: number): void {
    if (splitCopyLine(buf, s, e, this.starts, this.ends) !== FIELDS)
      throw new Error('unexpected COPY row shape');
    this.buf = buf;
    this.seq = digits(buf, this.starts[0], this.ends[0]);
    this.stripe = digits(buf, this.starts[1], this.ends[1]);
    this.prevSeq = digits(buf, this.starts[2], this.ends[2]);
  }

  /** The canonical bytes of the entry (a view, valid until the next entry). */
  canonical(): Buffer {
    const { buf, starts, ends } = this;
    return (
      this.fast.encode(buf, starts, ends) ??
      this.exact.encodeLine(canonicalLine(storedValues(decodeCopyValues(buf, starts, ends, MAC_AT))))
    );
  }

  /** Whether the stored MAC is `mac` (its text is the lower-case hex of it). */
  macEquals(mac: Buffer): boolean {
    const { buf } = this;
    const s = this.starts[MAC_AT];
    if (this.ends[MAC_AT] - s !== mac.length * 2) return false;
    for (let i = 0; i < mac.length; i++) {
      const hi = HEX[buf[s + 2 * i]];
      const lo = HEX[buf[s + 2 * i + 1]];
      if (hi < 0 || lo < 0 || hi * 16 + lo !== mac[i]) return false;
    }
    return true;
  }

  /** The stored MAC as PostgreSQL wrote it (lower-case hex). */
  macHex(): string {
    return this.buf.toString('latin1', this.starts[MAC_AT], this.ends[MAC_AT]);
  }

  /** The stored MAC. */
  mac(): Buffer {
    return Buffer.from(this.macHex(), 'hex');
  }
}

/**
 * `mac` (a link that may be a view the next link overwrites) kept as a stripe's last MAC: copied into `last`
 * when it has room of the same length, which saves a buffer per entry; otherwise into a new buffer.
 */
export function keepMac(last: Buffer, mac: Uint8Array): Buffer {
  if (last.length !== mac.length) return Buffer.from(mac);
  last.set(mac);
  return last;
}
