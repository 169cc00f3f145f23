import type { PurposeKeys } from '../crypto';
import type { Submittable } from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import type { Readable } from 'node:stream';
import { copyEntriesSql, keepMac, RAW_TEXT, StoredEntryCursor } from './audit-log-reader';
import { ChainExpectations, ParallelVerifyOptions, verifyRangesInParallel } from './audit-verify-parallel';
import type { Checkpoint } from './audit-checkpoint';
import { GENESIS_MAC } from './audit.types';

/**
 * Recomputes the access-log chain from the first entry and compares it with the stored MACs, the stripe
 * heads and trusted checkpoints (docs/audit.md). It detects an edited, forged (inserted), deleted or moved
 * entry and a deleted tail, whoever did it, and reports the lowest seq that is not as it was written, with
 * the first MAX_FINDINGS findings: one tampering found long ago (say, an entry the runtime role inserted at an
 * old seq) then hides no later one from whoever compares the list.
 *
 * It reads in one REPEATABLE READ snapshot, as one COPY stream in seq order (audit-log-reader.ts); with
 * `parallel`, a large log is first checked in worker threads, one seq range each, in the same snapshot
 * (audit-verify-parallel.ts), and read here only when that does not find it intact.
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

export const VERIFY_PROBLEMS = [
  /** An entry's MAC does not match its content: edited, forged, or another entry's seq/stripe. */
  'entry_altered',
  /** An entry's predecessor in its stripe is gone (deleted). */
  'entry_missing',
  /** An entry names a predecessor older than the one before it in its stripe (inserted or moved). */
  'entry_out_of_order',
  /** Entries a checkpoint or a stripe head names are gone: the tail was deleted. */
  'tail_truncated',
  /** The stripe heads do not match the chain (an entry after the head, or a rewritten head). */
  'head_mismatch',
  /** A checkpoint is malformed, or its root or signature does not verify, or a checkpoint file's lines go back. */
  'checkpoint_invalid',
  /** A checkpoint was signed with another key than the trusted one. */
  'checkpoint_foreign_key',
] as const;
export type VerifyProblem = (typeof VERIFY_PROBLEMS)[number];

/** A seq not as written, and how. */
export interface VerifyFinding {
  seq: number;
  problem: VerifyProblem;
}

/** At most this many findings are listed (lowest seq first); `findingsCount` counts them all. */
export const MAX_FINDINGS = 100;

export interface VerifyResult {
  ok: boolean;
  /** Entries read and checked. */
  checked: number;
  /** The lowest seq found not as written (for a deleted entry: its seq, or the first gap after it). */
  firstBadSeq?: number;
  problem?: VerifyProblem;
  /** The findings of the chain, lowest seq first, MAX_FINDINGS at most (the first is firstBadSeq's). */
  findings?: VerifyFinding[];
  /**
   * How many findings the checks made in all: at least as many as `findings` lists, more past the cap (an entry
   * that two checks find, its MAC and a head naming it, may count twice).
   */
  findingsCount?: number;
  /** The highest seq in the log. */
  lastSeq: number;
  /** Seq of the newest checkpoint the log was compared with. */
  checkpointSeq?: number;
  /** Worker threads that checked the log (0: this thread read it). */
  workers: number;
}

export interface VerifyOptions {
  /** Checkpoints already known to be authentic (see checkCheckpoint); the log must contain their heads. */
  checkpoints?: readonly Checkpoint[];
  /** Check a large log in worker threads first (see audit-verify-parallel.ts). */
  parallel?: ParallelVerifyOptions;
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
  keys: Pick<PurposeKeys, 'auditChainMac' | 'auditChainKey' | 'auditChainLinker'>,
  options: VerifyOptions = {},
): Promise<VerifyResult> {
  await client.query({ text: 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY' });
  try {
    // A whole pass reads every entry (a minute at ten million): not cut by the service pool's statement timeout.
    await client.query({ text: 'SET LOCAL statement_timeout = 0' });
    const heads = (
      (await client.query({
        text: `SELECT stripe, last_seq, encode(head, 'hex') FROM audit_chain_heads ORDER BY stripe`,
        rowMode: 'array',
        types: RAW_TEXT,
      })) as { rows: [string, string, string][] }
    ).rows.map(([stripe, seq, macHex]) => ({ stripe: Number(stripe), seq: Number(seq), macHex }));
    const expect: ChainExpectations = {
      heads,
      checkpointHeads: (options.checkpoints ?? []).flatMap((c) =>
        c.heads.map((h) => ({
          stripe: h.stripe,
          seq: h.seq,
          macHex: Buffer.from(h.mac, 'base64').toString('hex'),
        })),
      ),
    };
    const checkpointSeq = options.checkpoints?.length
      ? Math.max(...options.checkpoints.map((c) => c.seq))
      : undefined;

    if (options.parallel) {
      const intact = await verifyRangesInParallel(client, expect, keys, options.parallel);
      if (intact) return { ok: true, ...intact, checkpointSeq };
    }
    const result = await verifyInThisThread(client.query(copyTo(copyEntriesSql())), keys, expect);
    return { ...result, checkpointSeq, workers: 0 };
  } finally {
    await client.query({ text: 'ROLLBACK' }).catch(() => undefined);
  }
}

/** Reads the whole log (a COPY stream of copyEntriesSql()) and finds the first entry not as written. */
async function verifyInThisThread(
  entries: Readable,
  keys: Pick<PurposeKeys, 'auditChainLinker'>,
  expect: ChainExpectations,
): Promise<
  Pick<VerifyResult, 'ok' | 'checked' | 'lastSeq' | 'firstBadSeq' | 'problem' | 'findings' | 'findingsCount'>
> {
  // What must be found: each stripe head (same snapshot) and each head of each trusted checkpoint.
  const expected: Expected[] = [
    ...expect.heads.map((h) => expectation(h.stripe, h.seq, h.macHex, 'head')),
    ...expect.checkpointHeads.map((h) => expectation(h.stripe, h.seq, h.macHex, 'checkpoint')),
  ];
  const expectedByStripe = new Map<number, Expected[]>();
  for (const e of expected) {
    // An empty stripe has nothing to find; its head still notices an entry written after it.
    if (e.seq === 0) e.seen = true;
    if (e.seq > 0 || e.source === 'head') {
      expectedByStripe.set(e.stripe, [...(expectedByStripe.get(e.stripe) ?? []), e]);
    }
  }

  const stripes = new Map<number, StripeState>();
  const gaps: [number, number][] = []; // seq ranges absent from the log, ascending
  const findings = new Findings();
  const flag = (seq: number, problem: VerifyProblem) => findings.add(seq, problem);

  let checked = 0;
  let lastSeen = 0;
  const entry = new StoredEntryCursor();
  const linker = keys.auditChainLinker();
  try {
    await entry.read(entries, () => {
      const { seq, stripe, prevSeq } = entry;
      checked++;
      if (seq > lastSeen + 1) gaps.push([lastSeen + 1, seq - 1]);
      lastSeen = seq;

      let state = stripes.get(stripe);
      if (!state) {
        state = { firstSeq: seq, lastSeq: 0, lastMac: Buffer.from(GENESIS_MAC) };
        stripes.set(stripe, state);
      }
      let intact = false;
      if (prevSeq >= seq) {
        flag(seq, 'entry_out_of_order'); // a predecessor after itself: moved (the CHECK was dropped)
      } else if (prevSeq === state.lastSeq) {
        const mac = linker.link(state.lastMac, entry.canonical()); // a view: copied below
        if (entry.macEquals(mac)) {
          intact = true;
          state.lastMac = keepMac(state.lastMac, mac);
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
      if (!intact) state.lastMac = entry.mac();

      const watch = expectedByStripe.get(stripe);
      if (watch) {
        for (const x of watch) {
          if (seq < x.seq) x.before = seq;
          else if (seq === x.seq) {
            x.seen = true;
            if (entry.macHex() !== x.macHex)
              flag(seq, x.source === 'head' ? 'head_mismatch' : 'entry_altered');
          } else if (x.after === null) x.after = seq;
        }
      }
    });
  } finally {
    linker.close();
  }
  // Nothing may exist between the last entry and the end of time except what was never written.
  gaps.push([lastSeen + 1, Number.MAX_SAFE_INTEGER]);
  for (const e of expected) {
    if (!e.seen) flag(firstGapAfter(gaps, e.before, e.seq), 'tail_truncated');
    else if (e.source === 'head' && e.after !== null) flag(e.after, 'head_mismatch');
  }
  // Entries in a stripe that has no head row at all cannot have been written by Haven.
  const headStripes = new Set(expect.heads.map((h) => h.stripe));
  for (const [stripe, state] of stripes) {
    if (!headStripes.has(stripe)) flag(state.firstSeq, 'head_mismatch');
  }

  const listed = findings.lowest();
  return listed.length
    ? {
        ok: false,
        checked,
        lastSeq: lastSeen,
        firstBadSeq: listed[0].seq,
        problem: listed[0].problem,
        findings: listed,
        findingsCount: findings.count,
      }
    : { ok: true, checked, lastSeq: lastSeen };
}

/**
 * The findings of one pass: counted all, the lowest MAX_FINDINGS kept (a log read under another key finds every
 * entry altered: millions, not to be held). A seq flagged twice keeps its first problem, as the lowest-seq
 * report always did.
 */
class Findings {
  count = 0;
  private kept: VerifyFinding[] = [];

  add(seq: number, problem: VerifyProblem): void {
    // One entry found by two checks in a row (its MAC, and a head naming it) is one finding.
    if (this.kept.at(-1)?.seq === seq) return;
    this.count++;
    this.kept.push({ seq, problem });
    if (this.kept.length >= 4 * MAX_FINDINGS) this.kept = this.lowest();
  }

  /** The lowest MAX_FINDINGS distinct seqs, ascending. */
  lowest(): VerifyFinding[] {
    const bySeq = new Map<number, VerifyFinding>();
    for (const f of this.kept) if (!bySeq.has(f.seq)) bySeq.set(f.seq, f);
    return [...bySeq.values()].sort((a, b) => a.seq - b.seq).slice(0, MAX_FINDINGS);
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
