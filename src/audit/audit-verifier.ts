import type { PurposeKeys } from '../crypto';
import type { Submittable } from 'pg';
import { to as copyTo } from 'pg-copy-streams';
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
import type { Checkpoint } from './audit-checkpoint';
import { GENESIS_MAC } from './audit.types';

/**
 * Recomputes the access-log chain from the first entry and compares it with the stored MACs, the stripe
 * heads and trusted checkpoints (docs/audit.md). It detects an edited, forged (inserted), deleted or moved
 * entry and a deleted tail, whoever did it, and reports the lowest seq that is not as it was written.
 *
 * It reads in one REPEATABLE READ snapshot, in batches by seq (keyset), with every column as raw text and
 * the next batch requested before the current one is hashed.
 */

/** What pg's Client and PoolClient offer; the verifier needs nothing else. */
export interface SqlClient {
  query(config: {
    text: string;
    values?: unknown[];
    rowMode?: 'array';
    types?: { getTypeParser: (oid: number, format?: string) => (value: string) => unknown };
  }): Promise<{ rows: unknown[] }>;
  /** A COPY … TO STDOUT stream (pg-copy-streams). */
  query<T extends Submittable>(stream: T): T;
}

export type VerifyProblem =
  /** An entry's MAC does not match its content: edited, forged, or another entry's seq/stripe. */
  | 'entry_altered'
  /** An entry's predecessor in its stripe is gone (deleted). */
  | 'entry_missing'
  /** An entry names a predecessor older than the one before it in its stripe (inserted or moved). */
  | 'entry_out_of_order'
  /** Entries a checkpoint or a stripe head names are gone: the tail was deleted. */
  | 'tail_truncated'
  /** The stripe heads do not match the chain (an entry after the head, or a rewritten head). */
  | 'head_mismatch'
  /** A checkpoint is malformed, or its root or signature does not verify. */
  | 'checkpoint_invalid'
  /** A checkpoint was signed with another key than the trusted one. */
  | 'checkpoint_foreign_key';

export interface VerifyResult {
  ok: boolean;
  /** Entries read and checked. */
  checked: number;
  /** The lowest seq found not as written (for a deleted entry: its seq, or the first gap after it). */
  firstBadSeq?: number;
  problem?: VerifyProblem;
  /** The highest seq in the log. */
  lastSeq: number;
  /** Seq of the newest checkpoint the log was compared with. */
  checkpointSeq?: number;
}

export interface VerifyOptions {
  /** Checkpoints already known to be authentic (see checkCheckpoint); the log must contain their heads. */
  checkpoints?: readonly Checkpoint[];
}

const RAW_TEXT = { getTypeParser: () => (value: string) => value };
// The canonical columns (CANONICAL_COLUMNS: seq, stripe and prev_seq first), then the MAC in hex.
const COLUMNS = [
  ...CANONICAL_COLUMNS.map((c) => ('select' in c ? c.select : c.column)),
  `encode(mac, 'hex')`,
].join(', ');
const FIELDS = CANONICAL_COLUMNS.length + 1;

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

/** Whether `buf[s, e)` is the lower-case hex text of `mac`. */
function hexEquals(buf: Buffer, s: number, e: number, mac: Buffer): boolean {
  if (e - s !== mac.length * 2) return false;
  for (let i = 0; i < mac.length; i++) {
    const hi = HEX[buf[s + 2 * i]];
    const lo = HEX[buf[s + 2 * i + 1]];
    if (hi < 0 || lo < 0 || hi * 16 + lo !== mac[i]) return false;
  }
  return true;
}

interface StripeState {
  firstSeq: number;
  lastSeq: number;
  lastMac: Buffer;
}

interface Expected {
  stripe: number;
  seq: number;
  macHex: string;
  source: 'checkpoint' | 'head';
  /** Last seq seen in the stripe below `seq`. */
  before: number;
  seen: boolean;
  /** First seq seen in the stripe above `seq` (for heads: an entry the head does not cover). */
  after: number | null;
}

export async function verifyAuditChain(
  client: SqlClient,
  keys: Pick<PurposeKeys, 'auditChainMac'>,
  options: VerifyOptions = {},
): Promise<VerifyResult> {
  await client.query({ text: 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY' });
  try {
    const heads = (await client.query({
      text: `SELECT stripe, last_seq, encode(head, 'hex') FROM audit_chain_heads ORDER BY stripe`,
      rowMode: 'array',
      types: RAW_TEXT,
    })) as { rows: [string, string, string][] };

    // What must be found: each stripe head (same snapshot) and each head of each trusted checkpoint.
    const expected: Expected[] = [];
    for (const [stripe, seq, macHex] of heads.rows) {
      expected.push(expectation(Number(stripe), Number(seq), macHex, 'head'));
    }
    for (const c of options.checkpoints ?? []) {
      for (const h of c.heads) {
        expected.push(
          expectation(h.stripe, h.seq, Buffer.from(h.mac, 'base64').toString('hex'), 'checkpoint'),
        );
      }
    }
    const expectedByStripe = new Map<number, Expected[]>();
    for (const e of expected) {
      // An empty stripe has nothing to find; its head still notices an entry written after it.
      if (e.seq === 0) e.seen = true;
      if (e.seq > 0 || e.source === 'head') {
        expectedByStripe.set(e.stripe, [...(expectedByStripe.get(e.stripe) ?? []), e]);
      }
    }

    const slow = new CanonicalEncoder(); // rows the byte path does not take (none that Haven writes)
    const stripes = new Map<number, StripeState>();
    const gaps: [number, number][] = []; // seq ranges absent from the log, ascending
    let bad: { seq: number; problem: VerifyProblem } | null = null;
    const flag = (seq: number, problem: VerifyProblem) => {
      if (!bad || seq < bad.seq) bad = { seq, problem };
    };

    let checked = 0;
    let lastSeen = 0;
    // The whole log in seq order, as COPY text, streamed: PostgreSQL's cheapest way out, and no string per
    // value on this side (CopyLineEncoder builds the canonical bytes from the row's bytes).
    const encoder = new CopyLineEncoder();
    const starts = new Int32Array(FIELDS + 1);
    const ends = new Int32Array(FIELDS + 1);
    const MAC_AT = FIELDS - 1;
    const storedMacHex = (buf: Buffer): string => buf.toString('latin1', starts[MAC_AT], ends[MAC_AT]);
    const onLine = (buf: Buffer, s: number, e: number): void => {
      if (splitCopyLine(buf, s, e, starts, ends) !== FIELDS) throw new Error('unexpected COPY row shape');
      const seq = digits(buf, starts[0], ends[0]);
      const stripe = digits(buf, starts[1], ends[1]);
      const prevSeq = digits(buf, starts[2], ends[2]);
      checked++;
      if (seq > lastSeen + 1) gaps.push([lastSeen + 1, seq - 1]);
      lastSeen = seq;

      let state = stripes.get(stripe);
      if (!state) {
        state = { firstSeq: seq, lastSeq: 0, lastMac: GENESIS_MAC };
        stripes.set(stripe, state);
      }
      let intact = false;
      if (prevSeq >= seq) {
        flag(seq, 'entry_out_of_order'); // a predecessor after itself: moved (the CHECK was dropped)
      } else if (prevSeq === state.lastSeq) {
        const entry =
          encoder.encode(buf, starts, ends) ??
          slow.encodeLine(canonicalLine(storedValues(decodeCopyValues(buf, starts, ends, MAC_AT))));
        const mac = keys.auditChainMac(state.lastMac, entry);
        if (hexEquals(buf, starts[MAC_AT], ends[MAC_AT], mac)) {
          intact = true;
          state.lastMac = mac;
        } else flag(seq, 'entry_altered');
      } else if (prevSeq > state.lastSeq && !isPresent(gaps, lastSeen, prevSeq)) {
        // The entry chains to one that is gone; the MAC cannot be checked without it.
        flag(firstGapAfter(gaps, state.lastSeq, prevSeq), 'entry_missing');
      } else {
        // It names a predecessor that exists elsewhere, or one older than its stripe's last: it was moved.
        flag(seq, 'entry_out_of_order');
      }
      // Carry on from the stored MAC, so that one bad entry does not hide the state of the rest.
      state.lastSeq = seq;
      if (!intact) state.lastMac = Buffer.from(storedMacHex(buf), 'hex');

      const watch = expectedByStripe.get(stripe);
      if (watch) {
        for (const x of watch) {
          if (seq < x.seq) x.before = seq;
          else if (seq === x.seq) {
            x.seen = true;
            if (storedMacHex(buf) !== x.macHex)
              flag(seq, x.source === 'head' ? 'head_mismatch' : 'entry_altered');
          } else if (x.after === null) x.after = seq;
        }
      }
    };
    const stream = client.query(copyTo(`COPY (SELECT ${COLUMNS} FROM audit_events ORDER BY seq) TO STDOUT`));
    let rest: Buffer | null = null;
    for await (const chunk of stream as unknown as AsyncIterable<Buffer>) {
      const buf: Buffer = rest ? Buffer.concat([rest, chunk]) : chunk;
      let pos = 0;
      for (;;) {
        const end = buf.indexOf(COPY_LINE_END, pos);
        if (end === -1) break;
        onLine(buf, pos, end);
        pos = end + 1;
      }
      rest = pos < buf.length ? buf.subarray(pos) : null;
    }
    if (rest) throw new Error('the COPY output ended inside a row');
    // Nothing may exist between the last entry and the end of time except what was never written.
    gaps.push([lastSeen + 1, Number.MAX_SAFE_INTEGER]);
    for (const e of expected) {
      if (!e.seen) flag(firstGapAfter(gaps, e.before, e.seq), 'tail_truncated');
      else if (e.source === 'head' && e.after !== null) flag(e.after, 'head_mismatch');
    }
    // Entries in a stripe that has no head row at all cannot have been written by Haven.
    const headStripes = new Set(heads.rows.map(([s]) => Number(s)));
    for (const [stripe, state] of stripes) {
      if (!headStripes.has(stripe)) flag(state.firstSeq, 'head_mismatch');
    }

    const checkpointSeq = options.checkpoints?.length
      ? Math.max(...options.checkpoints.map((c) => c.seq))
      : undefined;
    const result: VerifyResult = { ok: bad === null, checked, lastSeq: lastSeen, checkpointSeq };
    const found = bad as { seq: number; problem: VerifyProblem } | null;
    if (found) {
      result.firstBadSeq = found.seq;
      result.problem = found.problem;
    }
    return result;
  } finally {
    await client.query({ text: 'ROLLBACK' }).catch(() => undefined);
  }
}

/** Whether `seq` (at most `lastSeen`, the highest seq read so far) is in the log. */
function isPresent(gaps: readonly [number, number][], lastSeen: number, seq: number): boolean {
  if (seq < 1 || seq > lastSeen) return false;
  let lo = 0;
  let hi = gaps.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (gaps[mid][1] < seq) lo = mid + 1;
    else hi = mid;
  }
  const gap = gaps[lo];
  return !gap || gap[0] > seq;
}

function expectation(stripe: number, seq: number, macHex: string, source: Expected['source']): Expected {
  return { stripe, seq, macHex, source, before: 0, seen: false, after: null };
}

/** The lowest seq in (after, upTo] that is absent from the log; `upTo` when none is (it is gone itself). */
function firstGapAfter(gaps: readonly [number, number][], after: number, upTo: number): number {
  // Gaps are few (a rolled-back transaction leaves one) and sorted: binary search the first ending past `after`.
  let lo = 0;
  let hi = gaps.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (gaps[mid][1] <= after) lo = mid + 1;
    else hi = mid;
  }
  const gap = gaps[lo];
  if (!gap) return upTo;
  const first = Math.max(gap[0], after + 1);
  return first <= upTo ? first : upTo;
}
