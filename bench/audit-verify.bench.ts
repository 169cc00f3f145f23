// Verification speed of the access log (issue 6: target >= 200,000 entries/s). Builds a chain of N realistic
// entries with the real encoder and keys, loads it into a fresh embedded PostgreSQL, then times
// verifyAccessLog (the code behind GET /api/v1/audit/verify and `npm run audit:verify`).
// in one thread and in worker threads (--workers, default: as the service would use, at least 2).
// Run: node bench/run.mjs bench/audit-verify.bench.ts [--entries 200000] [--workers n] [--out bench/results/audit-verify.json]
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { AUDIT_EVENT_COLUMNS, auditEventValues, CanonicalEncoder } from '../src/audit/audit-canonical';
import { CheckpointFile, signCheckpoint } from '../src/audit/audit-checkpoint';
import { verifyAccessLog } from '../src/audit/audit-verify';
import { AUDIT_STRIPES, AuditRow, GENESIS_MAC } from '../src/audit/audit.types';
import { defaultVerifyWorkers } from '../src/config/config';
import { createCryptoServices } from '../src/crypto';
import { dataSourceOptions } from '../src/database/data-source-options';
import { EmbeddedPostgres } from '../src/database/embedded-postgres';
import { runMigrationsLocked } from '../src/database/migrate';
import { copyRows } from './scale/bulk-seed';
import { arg, postgresCpuSeconds } from './support/proc';
import { freePort } from './support/service';

async function main(): Promise<void> {
  const entries = Number(arg('--entries') ?? 200_000);
  const out = arg('--out');
  const workers = Number(arg('--workers') ?? Math.max(2, defaultVerifyWorkers()));
  const root = mkdtempSync(join(tmpdir(), 'haven-audit-bench-'));
  const pg = new EmbeddedPostgres({
    clusterDir: join(root, 'postgres'),
    port: await freePort(),
    password: 'bench-only',
    settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' },
  });
  try {
    await pg.start();
    await pg.createDatabaseIfMissing('haven');
    const ds = await new DataSource(dataSourceOptions({ url: pg.url('haven'), poolSize: 2 })).initialize();
    await runMigrationsLocked(ds);
    await ds.destroy();
    const crypto = await createCryptoServices({ dataDir: root, production: false });

    // Realistic entries: ward officers and providers reading, listing and updating cases.
    const actors = Array.from({ length: 50 }, () => randomUUID());
    const cases = Array.from({ length: 2000 }, () => randomUUID());
    const encoder = new CanonicalEncoder();
    const heads: { seq: number; mac: Buffer }[] = Array.from({ length: AUDIT_STRIPES }, () => ({
      seq: 0,
      mac: GENESIS_MAC,
    }));
    const client = new Client({ connectionString: pg.url('haven') });
    await client.connect();
    const t0 = Date.now();
    const batch = 5000;
    for (let start = 1; start <= entries; start += batch) {
      const rows: ReturnType<typeof auditEventValues>[] = [];
      for (let seq = start; seq < Math.min(start + batch, entries + 1); seq++) {
        const stripe = seq % AUDIT_STRIPES;
        const caseId = cases[seq % cases.length];
        const list = seq % 10 === 0;
        const row: AuditRow = {
          seq,
          stripe,
          prevSeq: heads[stripe].seq,
          atMs: 1_764_000_000_000 + seq * 37,
          actorId: actors[seq % actors.length],
          actorRole: 'ward_officer',
          actorOrgId: null,
          actorCommunes: ['00145'],
          action: list ? 'case.list' : 'case.read',
          resourceType: 'case',
          resourceId: list ? null : caseId,
          caseId: list ? null : caseId,
          fields: list ? ['triage'] : ['triage', 'identity', 'contact', 'incident'],
          outcome: 'allowed',
          reason: null,
          ip: '203.113.131.4',
          userAgent:
            'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36',
          requestId: randomUUID(),
          returnedIds: list ? cases.slice(0, 20) : [],
          provinceCode: list ? null : '01',
          communeCode: list ? null : '00145',
          jurisdictions: ['01'],
        };
        const mac = crypto.keys.auditChainMac(heads[stripe].mac, encoder.encode(row));
        heads[stripe] = { seq, mac };
        rows.push(auditEventValues(row, mac));
      }
      await copyRows(client, 'audit_events', AUDIT_EVENT_COLUMNS, rows);
    }
    await client.query(`SET session_replication_role = replica`);
    for (const [stripe, h] of heads.entries()) {
      await client.query(`UPDATE audit_chain_heads SET last_seq = $1, head = $2 WHERE stripe = $3`, [
        h.seq,
        h.mac,
        stripe,
      ]);
    }
    await client.query(`RESET session_replication_role`);
    await client.query('VACUUM ANALYZE audit_events');
    const loadSeconds = (Date.now() - t0) / 1000;
    const checkpoint = signCheckpoint(
      crypto.keys,
      heads.map((h, stripe) => ({ stripe, seq: h.seq, mac: h.mac.toString('base64') })),
      new Date(),
    );
    const file = new CheckpointFile(join(root, 'checkpoints'));
    file.append(checkpoint);

    // Each mode three times: one thread, then worker threads.
    const modes = [1, workers];
    const results: Record<string, unknown>[] = [];
    let last;
    for (const w of modes) {
      const runs: number[] = [];
      const cpu: { node: number; postgres: number }[] = [];
      for (let r = 0; r < 3; r++) {
        const t = process.hrtime.bigint();
        const n0 = process.cpuUsage();
        const p0 = postgresCpuSeconds();
        last = await verifyAccessLog(client, crypto.keys, {
          file: file.read(),
          parallel: { connectionString: pg.url('haven'), workers: w },
        });
        runs.push(Number(process.hrtime.bigint() - t) / 1e9);
        const n1 = process.cpuUsage(n0);
        if (!last.ok || last.checked !== entries || last.workers !== (w > 1 ? w : 0))
          throw new Error(`verification failed: ${JSON.stringify(last)}`);
        // Microseconds of CPU per entry on each side (Node: all threads of this process): where the time goes.
        cpu.push({
          node: Number(((n1.user + n1.system) / entries).toFixed(2)),
          postgres: Number((((postgresCpuSeconds() - p0) * 1e6) / entries).toFixed(2)),
        });
      }
      const best = Math.min(...runs);
      results.push({
        workers: w > 1 ? w : 0,
        verifySeconds: runs.map((x) => Number(x.toFixed(3))),
        entriesPerSecond: Math.round(entries / best),
        cpuMicrosecondsPerEntry: cpu,
      });
    }
    await client.end();
    const result = {
      date: new Date().toISOString(),
      cores: cpus().length,
      cpu: cpus()[0]?.model,
      entries,
      loadSeconds,
      modes: results,
      goal: 200_000,
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
    if (out) writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await pg.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
