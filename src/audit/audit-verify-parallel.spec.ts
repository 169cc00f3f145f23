import { Client } from 'pg';
import { AuditFixture, CASE_READ, givenAuditLog, WARD_OFFICER } from './audit.spec-helpers';
import { ChainExpectations, joinRanges } from './audit-verify-parallel';
import { checkRange, RangeReport } from './audit-verify-worker';
import { verifyAccessLog } from './audit-verify';
import { waitFor } from '../../test/support/wait';

/**
 * Parallel verification (audit-verify-parallel.ts): worker threads check seq ranges in the verifier's
 * snapshot, and this thread joins the ranges. The tamper cases in both modes are in audit-tamper.spec.ts;
 * here: the snapshot, the fallbacks, and each half of the check on its own.
 */

describe('access-log verification in worker threads', () => {
  let f: AuditFixture;
  const ENTRIES = 200;
  const PARALLEL = { workers: 3, minEntriesPerWorker: 1 };

  beforeAll(async () => {
    f = await givenAuditLog(4);
    for (let i = 0; i < ENTRIES; i++) {
      await f.app.transaction((m) => f.audit.record(m, WARD_OFFICER, CASE_READ));
    }
    await f.checkpoints.issue();
  });
  afterAll(async () => {
    await f.close();
  });

  it('checks the log in the snapshot the verifier took, not in one of its own', async () => {
    // An access whose entry has a seq (N + 1) but is not committed yet, and a later one (N + 2) that is.
    const pending = f.app.createQueryRunner();
    await pending.connect();
    await pending.startTransaction();
    let verifying: ReturnType<AuditFixture['verify']> | undefined;
    try {
      const { seq } = await f.audit.record(pending.manager, WARD_OFFICER, CASE_READ);
      const next = await f.app.transaction((m) => f.audit.record(m, WARD_OFFICER, CASE_READ));
      expect(next.seq).toBeGreaterThan(seq);
      // It commits once the verifier has its snapshot and has exported it (it then waits for the workers,
      // idle in its transaction), before the workers (~0.1 s to start) read: a worker in a snapshot of its own
      // would find entry N + 1 past its stripe's head, and one thread would answer. (Waiting for the stripe
      // heads' statement instead caught only the instant between it and the export: the test then committed
      // after 2.5 s regardless, and failed once under the whole suite's load.)
      verifying = f.verify(PARALLEL);
      // Up to 20 s: a condition that never held fails the test instead of letting it go on as if it had.
      await waitFor(async () => {
        const [row] = await f.owner.query<{ n: string }[]>(
          `SELECT count(*) AS n FROM pg_stat_activity
            WHERE datname = current_database() -- not another test file's verifier, on the same server
              AND state = 'idle in transaction' AND query LIKE 'SELECT pg_export_snapshot()%'`,
        );
        return Number(row.n) > 0;
      }, 20_000);
      await pending.commitTransaction();
      expect(await verifying).toMatchObject({
        ok: true,
        workers: 3,
        lastSeq: next.seq,
        checked: ENTRIES + 1,
      });
    } finally {
      if (pending.isTransactionActive) await pending.rollbackTransaction();
      await pending.release();
      await verifying?.catch(() => undefined);
    }
    // Now it is there.
    expect(await f.verify(PARALLEL)).toMatchObject({ ok: true, workers: 3 });
  });

  it('reads a log with fewer entries than the workers’ minimum share in one thread', async () => {
    const result = await f.verify({ workers: 3, minEntriesPerWorker: 100_000 });
    expect(result).toMatchObject({ ok: true, workers: 0 });
    expect(result.checked).toBeGreaterThanOrEqual(ENTRIES);
    // Two workers when the log holds two shares but not three.
    const two = await f.verify({ workers: 3, minEntriesPerWorker: Math.floor(result.lastSeq / 2) });
    expect(two).toMatchObject({ ok: true, workers: 2, checked: result.checked });
  });

  /** Verifies over a connection to `url`, the workers connecting to `workersUrl`. */
  async function verifyOver(url: string, workersUrl: string, onWorkerFailure?: (reason: string) => void) {
    const client = new Client({ connectionString: url });
    await client.connect();
    try {
      return await verifyAccessLog(client, f.crypto.keys, {
        file: f.checkpoints.file.read(),
        parallel: { ...PARALLEL, connectionString: workersUrl, onWorkerFailure },
      });
    } finally {
      await client.end();
    }
  }

  it('runs as the application role, as the API does (its pool and its workers)', async () => {
    expect(await verifyOver(f.db.appUrl, f.db.appUrl)).toMatchObject({ ok: true, workers: 3 });
  });

  it('verifies in one thread when a worker cannot connect', async () => {
    const unreachable = 'postgres://nobody:none@127.0.0.1:1/none';
    const failures: string[] = [];
    expect(await verifyOver(f.db.url, unreachable, (r) => failures.push(r))).toMatchObject({
      ok: true,
      workers: 0,
    });
    // Said once, without the connection's password.
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatch(/ECONNREFUSED/);
    expect(failures[0]).not.toContain('none@');
  });

  describe('each half of the check', () => {
    /** Checks [from, to) in a fresh exported snapshot, as a worker would (here, in this thread). */
    const ranges = async (bounds: [number, number][]): Promise<RangeReport[]> => {
      const exporter = new Client({ connectionString: f.db.url });
      await exporter.connect();
      try {
        await exporter.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        const { rows } = await exporter.query<{ id: string }>(`SELECT pg_export_snapshot() AS id`);
        const mac = (p: Uint8Array, e: Uint8Array) => f.crypto.keys.auditChainMac(p, e);
        const reports: RangeReport[] = [];
        for (const [from, to] of bounds) {
          const job = { connectionString: f.db.url, snapshot: rows[0].id, from, to, key: new Uint8Array() };
          reports.push(await checkRange({ ...job, watch: [from, to - 1] }, mac));
        }
        return reports;
      } finally {
        await exporter.end();
      }
    };
    const expectations = async (): Promise<ChainExpectations> => {
      const heads = await f.owner.query<{ stripe: number; seq: string; mac: string }[]>(
        `SELECT stripe, last_seq AS seq, encode(head, 'hex') AS mac FROM audit_chain_heads`,
      );
      return {
        heads: heads.map((h) => ({ stripe: h.stripe, seq: Number(h.seq), macHex: h.mac })),
        checkpointHeads: [],
      };
    };
    /** An entry of the range that is not its stripe's first there (checked by the worker, not when joining). */
    const innerEntry = async (from: number, to: number): Promise<number> => {
      const [row] = await f.owner.query<{ seq: string }[]>(
        `SELECT max(seq) AS seq FROM audit_events WHERE seq >= $1 AND seq < $2
            AND prev_seq >= $1`,
        [from, to],
      );
      return Number(row.seq);
    };

    // The log's seqs (gaps are allowed: rolled-back and unused seqs), cut in two after the middle one.
    let seqs: number[];
    beforeAll(async () => {
      seqs = (await f.owner.query<{ seq: string }[]>(`SELECT seq FROM audit_events ORDER BY seq`)).map((r) =>
        Number(r.seq),
      );
    });
    const halves = (): [number, number][] => {
      const mid = seqs[Math.floor(seqs.length / 2)] + 1;
      return [
        [seqs[0], mid],
        [mid, seqs[seqs.length - 1] + 1],
      ];
    };

    it('ranges that join into the whole log', async () => {
      const reports = await ranges(halves());
      expect(reports.every((r) => r.linked)).toBe(true);
      expect(reports[0].checked + reports[1].checked).toBe(seqs.length);
      expect(reports[0].watched.map((w) => w.seq)).toEqual([seqs[0], halves()[0][1] - 1]);
      const expect0 = await expectations();
      expect(joinRanges(reports, expect0, f.crypto.keys)).toBe(true);

      // What the join must catch: a range that does not continue its stripe's chain (a changed first entry),
      const [a, b] = reports;
      const changed = { ...b.stripes[0], firstLine: Uint8Array.from(b.stripes[0].firstLine) };
      changed.firstLine[changed.firstLine.length - 1] ^= 1;
      expect(
        joinRanges([a, { ...b, stripes: [changed, ...b.stripes.slice(1)] }], expect0, f.crypto.keys),
      ).toBe(false);
      // one that names another predecessor,
      const moved = { ...b.stripes[0], firstPrevSeq: b.stripes[0].firstPrevSeq + 1 };
      expect(joinRanges([a, { ...b, stripes: [moved, ...b.stripes.slice(1)] }], expect0, f.crypto.keys)).toBe(
        false,
      );
      // a missing range (the tail beyond the heads' reach is gone),
      expect(joinRanges([a], expect0, f.crypto.keys)).toBe(false);
      // a head that is not the stripe's last entry,
      const heads = expect0.heads.map((h, i) => (i === 0 ? { ...h, seq: h.seq + 1 } : h));
      expect(joinRanges(reports, { ...expect0, heads }, f.crypto.keys)).toBe(false);
      // a stripe with entries and no head row,
      const noHead = expect0.heads.filter((h) => h.stripe !== b.stripes[0].stripe);
      expect(joinRanges(reports, { ...expect0, heads: noHead }, f.crypto.keys)).toBe(false);
      // and a checkpoint head that is not there as it was.
      const w = a.watched[0];
      const found = { stripe: w.stripe, seq: w.seq, macHex: w.macHex };
      expect(joinRanges(reports, { ...expect0, checkpointHeads: [found] }, f.crypto.keys)).toBe(true);
      const gone = { ...found, macHex: '00'.repeat(32) };
      expect(joinRanges(reports, { ...expect0, checkpointHeads: [gone] }, f.crypto.keys)).toBe(false);
      expect(
        joinRanges(
          reports,
          { ...expect0, checkpointHeads: [{ ...found, stripe: found.stripe + 1 }] },
          f.crypto.keys,
        ),
      ).toBe(false);
    });

    it('a range with an edited entry inside it is not linked', async () => {
      const [, [from, to]] = halves();
      const seq = await innerEntry(from, to);
      expect(seq).toBeGreaterThan(from);
      const [before] = await ranges([[from, to]]);
      expect(before.linked).toBe(true);
      await f.tamper(`UPDATE audit_events SET fields = '{triage}' WHERE seq = $1`, [seq]);
      try {
        const [after] = await ranges([[from, to]]);
        expect(after.linked).toBe(false);
        expect(after.checked).toBe(before.checked);
        expect(await f.verify(PARALLEL)).toMatchObject({ ok: false, firstBadSeq: seq, workers: 0 });
      } finally {
        await f.tamper(`UPDATE audit_events SET fields = '{triage,identity}' WHERE seq = $1`, [seq]);
      }
      expect(await f.verify(PARALLEL)).toMatchObject({ ok: true, workers: 3 });
    });
  });
});
