import { extname, join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { PurposeKeys } from '../crypto';
import { RAW_TEXT } from './audit-log-reader';
import type { SqlClient } from './audit-verifier';
import type { RangeJob, RangeReport, WorkerMessage } from './audit-verify-worker';
import { GENESIS_MAC } from './audit.types';

/**
 * Parallel verification of the access log: the seq range of the log is cut into one range per worker thread,
 * each read over its own connection in the snapshot the verifier exported (so all see the same log), and
 * checked there (audit-verify-worker.ts). This thread then checks what joins the ranges: each stripe's first
 * entry in a range against the stripe's last entry in the ranges before, and the stripe heads and
 * checkpoints against the stripes' last entries.
 *
 * It only ever answers "intact". The checks are those of the one-thread verifier, split where its state
 * crosses a range boundary, so the log is intact here exactly when it is intact there; when anything does
 * not hold, or a worker fails, the caller runs the one-thread verifier in the same snapshot, which names the
 * first entry that is not as written.
 */

export interface ParallelVerifyOptions {
  /** How a worker connects: the same database, as the same role, as the verifier's own connection. */
  connectionString: string;
  /** Worker threads at most (each with its own connection). Below 2, verification runs in one thread. */
  workers: number;
  /** Fewer seqs than this per worker and fewer workers are used (starting threads costs ~0.1 s each). */
  minEntriesPerWorker?: number;
  /** Told why the workers failed (e.g. no free connection) before one thread verifies instead. */
  onWorkerFailure?: (reason: string) => void;
}

const MIN_ENTRIES_PER_WORKER = 100_000;

/** What the whole log must show, read by the verifier in its snapshot. */
export interface ChainExpectations {
  /** Stripe heads: the last entry of each stripe (seq 0 and no entry for an empty stripe). */
  heads: readonly { stripe: number; seq: number; macHex: string }[];
  /** Heads of trusted checkpoints: entries that must still be there, as they were. */
  checkpointHeads: readonly { stripe: number; seq: number; macHex: string }[];
}

interface ParallelOutcome {
  checked: number;
  lastSeq: number;
  workers: number;
}

/**
 * Checks the log in `workers` threads, in the snapshot of `client`'s open REPEATABLE READ transaction;
 * resolves with the count when it is intact, null when the caller must verify in one thread (a small log, a
 * finding, or a worker that failed).
 */
export async function verifyRangesInParallel(
  client: SqlClient,
  expect: ChainExpectations,
  keys: Pick<PurposeKeys, 'auditChainMac' | 'auditChainKey'>,
  options: ParallelVerifyOptions,
): Promise<ParallelOutcome | null> {
  if (options.workers < 2) return null; // not even exported: one-thread verification needs no snapshot export
  const [[snapshot, min, max]] = (
    (await client.query({
      text: `SELECT pg_export_snapshot(), min(seq), max(seq) FROM audit_events`,
      rowMode: 'array',
      types: RAW_TEXT,
    })) as { rows: [string, string | null, string | null][] }
  ).rows;
  if (min === null || max === null) return null;
  const bounds = { min: Number(min), max: Number(max) };
  const span = bounds.max - bounds.min + 1;
  const perWorker = options.minEntriesPerWorker ?? MIN_ENTRIES_PER_WORKER;
  const workers = Math.min(Math.floor(options.workers), Math.floor(span / Math.max(1, perWorker)));
  if (workers < 2) return null;

  const watch = [...expect.heads, ...expect.checkpointHeads].map((h) => h.seq).filter((s) => s > 0);
  const key = keys.auditChainKey();
  const jobs: RangeJob[] = [];
  for (let i = 0; i < workers; i++) {
    const from = bounds.min + Math.floor((span * i) / workers);
    const to = bounds.min + Math.floor((span * (i + 1)) / workers);
    jobs.push({ connectionString: options.connectionString, snapshot, from, to, key, watch });
  }
  const running = jobs.map(startWorker); // each has its copy of the key once started
  key.fill(0);
  let reports: RangeReport[];
  try {
    reports = await Promise.all(running.map((r) => r.report));
  } catch (e) {
    // E.g. no connection left for a worker: stop the others, and one thread verifies.
    await Promise.all(running.map((r) => r.worker.terminate()));
    options.onWorkerFailure?.(e instanceof Error ? e.message : String(e));
    return null;
  }
  return joinRanges(reports, expect, keys) ? { checked: sum(reports), lastSeq: bounds.max, workers } : null;
}

/** Whether the ranges (in seq order) join into one intact log that shows every expected head. */
export function joinRanges(
  reports: readonly RangeReport[],
  expect: ChainExpectations,
  keys: Pick<PurposeKeys, 'auditChainMac'>,
): boolean {
  const last = new Map<number, { seq: number; mac: Buffer }>();
  for (const r of reports) {
    if (!r.linked) return false;
    for (const s of r.stripes) {
      const before = last.get(s.stripe) ?? { seq: 0, mac: GENESIS_MAC };
      if (s.firstPrevSeq !== before.seq) return false;
      if (keys.auditChainMac(before.mac, s.firstLine).toString('hex') !== s.firstMacHex) return false;
      last.set(s.stripe, { seq: s.lastSeq, mac: Buffer.from(s.lastMacHex, 'hex') });
    }
  }
  // Each stripe ends at its head; a stripe with entries and no head row was not written by Haven.
  const headStripes = new Set<number>();
  for (const h of expect.heads) {
    headStripes.add(h.stripe);
    const end = last.get(h.stripe);
    if (h.seq === 0 ? end !== undefined : end?.seq !== h.seq || end.mac.toString('hex') !== h.macHex)
      return false;
  }
  for (const stripe of last.keys()) if (!headStripes.has(stripe)) return false;
  // Each checkpoint head is still there, in its stripe, as it was.
  const watched = new Map(reports.flatMap((r) => r.watched.map((w) => [w.seq, w] as const)));
  for (const h of expect.checkpointHeads) {
    if (h.seq === 0) continue;
    const w = watched.get(h.seq);
    if (!w || w.stripe !== h.stripe || w.macHex !== h.macHex) return false;
  }
  return true;
}

function sum(reports: readonly RangeReport[]): number {
  return reports.reduce((n, r) => n + r.checked, 0);
}

// The worker module next to this one: compiled JavaScript in a build; under Jest or bench/run.mjs it is
// TypeScript, compiled on load with the project's SWC settings (@swc/core is then installed).
const WORKER_SCRIPT = join(__dirname, `audit-verify-worker${extname(__filename)}`);
const BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
if (workerData.script.endsWith('.ts')) {
  const { readFileSync } = require('node:fs');
  const Module = require('node:module');
  const { transformSync } = require(workerData.swc);
  const { $schema, ...swcrc } = JSON.parse(readFileSync(workerData.swcrc, 'utf8'));
  Module._extensions['.ts'] = (module, filename) => {
    const { code } = transformSync(readFileSync(filename, 'utf8'), { ...swcrc, filename, swcrc: false });
    module._compile(code, filename);
  };
}
require(workerData.script);
`;

function startWorker(job: RangeJob): { worker: Worker; report: Promise<RangeReport> } {
  const typescript = WORKER_SCRIPT.endsWith('.ts');
  const worker = new Worker(BOOTSTRAP, {
    eval: true,
    workerData: {
      script: WORKER_SCRIPT,
      auditRange: job,
      ...(typescript ? { swc: require.resolve('@swc/core'), swcrc: resolve(__dirname, '../../.swcrc') } : {}),
    },
  });
  const report = new Promise<RangeReport>((done, fail) => {
    let settled = false;
    worker.once('message', (m: WorkerMessage) => {
      settled = true;
      if ('report' in m) done(m.report);
      else fail(new Error(`verification worker: ${m.error}`));
      void worker.terminate();
    });
    worker.once('error', (e) => {
      settled = true;
      fail(e);
    });
    worker.once('exit', (code) => {
      if (!settled) fail(new Error(`verification worker exited (${code}) without a report`));
    });
  });
  return { worker, report };
}
