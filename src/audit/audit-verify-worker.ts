import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { Client } from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { ChainLinker } from '../crypto/purpose-keys';
import { loadSodium } from '../crypto/sodium';
import { copyEntriesSql, keepMac, StoredEntryCursor } from './audit-log-reader';

/**
 * One worker thread of parallel access-log verification (audit-verify-parallel.ts): checks the entries of one
 * seq range, in the snapshot the verifier exported, and reports what only the whole log can decide - each
 * stripe's first entry in the range (its link to an earlier range) and last entry, and the entries a stripe
 * head or checkpoint names.
 */

export interface RangeJob {
  /** The database (same role as the verifier's own connection). */
  connectionString: string;
  /** pg_export_snapshot() of the verifier's transaction. */
  snapshot: string;
  from: number;
  to: number;
  /** The access-log chain key (PurposeKeys.auditChainKey()). */
  key: Uint8Array;
  /** Seqs whose stored MAC the verifier needs (stripe heads, checkpoint heads). */
  watch: number[];
}

export interface StripeEnds {
  stripe: number;
  firstSeq: number;
  firstPrevSeq: number;
  /** The first entry's canonical bytes: its MAC depends on the stripe's last entry before the range. */
  firstLine: Uint8Array;
  firstMacHex: string;
  lastSeq: number;
  lastMacHex: string;
}

export interface RangeReport {
  checked: number;
  /** Every entry after a stripe's first links to the one before it in the stripe, with a MAC that matches. */
  linked: boolean;
  stripes: StripeEnds[];
  watched: { seq: number; stripe: number; macHex: string }[];
}

export type WorkerMessage = { report: RangeReport } | { error: string };

const SNAPSHOT_ID = /^[0-9A-F]+-[0-9A-F]+(-[0-9]+)?$/i;

/** `mac` gives the link after `previous`; it may be a view that the next call overwrites (ChainLinker). */
export async function checkRange(
  job: RangeJob,
  mac: (previous: Uint8Array, entry: Uint8Array) => Buffer,
): Promise<RangeReport> {
  if (!SNAPSHOT_ID.test(job.snapshot)) throw new Error('malformed snapshot id');
  const client = new Client({
    connectionString: job.connectionString,
    application_name: 'haven-audit-verify',
  });
  await client.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await client.query(`SET TRANSACTION SNAPSHOT '${job.snapshot}'`);
    // Its range may take longer than a statement timeout set on the role (deployment.md, behind PgBouncer).
    await client.query('SET LOCAL statement_timeout = 0');
    const watch = new Set(job.watch);
    const stripes = new Map<number, StripeEnds & { lastMac: Buffer }>();
    const report: RangeReport = { checked: 0, linked: true, stripes: [], watched: [] };
    const entry = new StoredEntryCursor();
    await entry.read(client.query(copyTo(copyEntriesSql(job))), () => {
      report.checked++;
      if (watch.has(entry.seq))
        report.watched.push({ seq: entry.seq, stripe: entry.stripe, macHex: entry.macHex() });
      if (!report.linked) return; // the verifier will diagnose in one thread; just count
      const s = stripes.get(entry.stripe);
      if (!s) {
        const macHex = entry.macHex();
        stripes.set(entry.stripe, {
          stripe: entry.stripe,
          firstSeq: entry.seq,
          firstPrevSeq: entry.prevSeq,
          firstLine: Uint8Array.from(entry.canonical()),
          firstMacHex: macHex,
          lastSeq: entry.seq,
          lastMacHex: macHex,
          lastMac: entry.mac(),
        });
        return;
      }
      const link = entry.prevSeq === s.lastSeq ? mac(s.lastMac, entry.canonical()) : null;
      if (!link || !entry.macEquals(link)) {
        report.linked = false;
        return;
      }
      s.lastSeq = entry.seq;
      s.lastMac = keepMac(s.lastMac, link);
    });
    await client.query('ROLLBACK');
    for (const { lastMac, ...ends } of stripes.values()) {
      report.stripes.push({ ...ends, lastMacHex: lastMac.toString('hex') });
    }
    return report;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function runAsWorker(job: RangeJob): Promise<void> {
  const sodium = await loadSodium();
  const linker = new ChainLinker(sodium, job.key);
  sodium.memzero(job.key); // this thread's copy of the message; the linker keeps its own
  try {
    const report = await checkRange(job, (previous, entry) => linker.link(previous, entry));
    parentPort?.postMessage({ report } satisfies WorkerMessage);
  } finally {
    linker.close();
  }
}

if (!isMainThread && (workerData as { auditRange?: RangeJob } | null)?.auditRange) {
  const job = (workerData as { auditRange: RangeJob }).auditRange;
  runAsWorker(job).catch((e: unknown) => {
    // A message only (no row content reaches an error here: COPY errors name the statement, not values).
    parentPort?.postMessage({ error: e instanceof Error ? e.message : String(e) } satisfies WorkerMessage);
  });
}
