// Scale benchmark (issue 8, item 3): a million cases and ten million access-log entries.
//   npm run bench:scale -- --units <official units JSON> [--cases 1000000] [--audit 10000000]
//                          [--data-dir <dir>] (reuse a seeded directory: skips seeding) [--keep] [--out bench/results]
// 1. first start of the service (migrations, demo data), units import, stop;
// 2. bulk seed (bench/scale/bulk-seed.ts) straight into the embedded PostgreSQL, timed;
// 3. the service again: case list and blind-index search latency (p50/p95/p99), report summary for a province
//    and a year, server RSS under that load, EXPLAIN (ANALYZE, BUFFERS) of every read-only statement the
//    service ran (and its generic plan), and full verification of the access log with the CLI (entries/s).
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from 'pg';
import { defaultVerifyWorkers } from '../src/config/config';
import { createCryptoServices } from '../src/crypto';
import { EmbeddedPostgres } from '../src/database/embedded-postgres';
import { bulkSeed, BulkSeedResult } from './scale/bulk-seed';
import { arg, rssMB } from './support/proc';
import { api, freePort, launchService, mapConcurrent, Service, signIn } from './support/service';

const CASES = Number(arg('--cases') ?? 1_000_000);
const AUDIT = Number(arg('--audit') ?? 10_000_000);
const UNITS = arg('--units') ?? resolve(__dirname, '../../shared/data/vn-admin-units/units-2026-07-25.json');
const OUT = arg('--out');
const PASSWORD = 'scale-bench-password';
const DIST = join(__dirname, '..', 'dist', 'src');

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

interface Timing {
  requests: number;
  concurrency: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  errors: number;
}

/** Runs `count` calls of `fn` with `concurrency` in flight; latency percentiles in ms. */
async function timed(count: number, concurrency: number, fn: (i: number) => Promise<void>): Promise<Timing> {
  const ms: number[] = [];
  let errors = 0;
  await mapConcurrent(
    Array.from({ length: count }, (_, i) => i),
    concurrency,
    async (i) => {
      const t = process.hrtime.bigint();
      try {
        await fn(i);
      } catch {
        errors++;
      }
      ms.push(Number(process.hrtime.bigint() - t) / 1e6);
    },
  );
  ms.sort((a, b) => a - b);
  const round = (x: number) => Number(x.toFixed(1));
  return {
    requests: count,
    concurrency,
    p50: round(percentile(ms, 50)),
    p95: round(percentile(ms, 95)),
    p99: round(percentile(ms, 99)),
    max: round(ms[ms.length - 1]),
    errors,
  };
}

async function ownerClient(dataDir: string, port: number): Promise<{ client: Client; pg: EmbeddedPostgres }> {
  const password = readFileSync(join(dataDir, 'postgres.secret'), 'utf8').trim();
  const pg = new EmbeddedPostgres({ clusterDir: join(dataDir, 'postgres'), port, password });
  await pg.start();
  const client = new Client({ connectionString: pg.url('haven') });
  await client.connect();
  return { client, pg };
}

/** The plan PostgreSQL keeps for `text` prepared, for any values (EXPLAIN (GENERIC_PLAN), PostgreSQL 16+). */
async function genericPlan(owner: Client, text: string): Promise<string> {
  try {
    const res = await owner.query<{ 'QUERY PLAN': string }>(`EXPLAIN (GENERIC_PLAN, COSTS OFF) ${text}`);
    return res.rows.map((r) => r['QUERY PLAN']).join('\n');
  } catch (e) {
    return `(not explained: ${(e as Error).message})`;
  }
}

async function main(): Promise<void> {
  const reuse = arg('--data-dir');
  const root = reuse ? resolve(reuse, '..') : mkdtempSync(join(tmpdir(), 'haven-scale-'));
  if (!reuse) chmodSync(root, 0o711);
  const dataDir = reuse ? resolve(reuse) : join(root, 'data');
  const pgPort = await freePort();
  const env = {
    HAVEN_DATA_DIR: dataDir,
    HAVEN_EMBEDDED_PG_PORT: String(pgPort),
    HAVEN_DEMO_PASSWORD: PASSWORD,
    HAVEN_SEARCH_PER_MINUTE: '10000',
    LOG_LEVEL: 'info',
  };
  const log = (line: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
  let seed: BulkSeedResult | null = null;
  let service: Service | null = null;
  try {
    if (!reuse) {
      // First start: cluster, migrations, demo data; then the official units, with the service stopped.
      await (await launchService(env, join(root, 'first-start.log'))).stop();
      if (!existsSync(UNITS)) throw new Error(`units file not found: ${UNITS} (pass --units <file>)`);
      execFileSync(process.execPath, [join(DIST, 'cli', 'units-import.js'), UNITS], {
        env: { PATH: process.env.PATH ?? '', ...env },
        stdio: ['ignore', 2, 2],
      });
      const { client, pg } = await ownerClient(dataDir, pgPort);
      try {
        const crypto = await createCryptoServices({ dataDir, production: false });
        seed = await bulkSeed(client, crypto, { cases: CASES, auditEntries: AUDIT, log });
        log(`seeded in ${seed.seconds.total.toFixed(0)} s`);
        writeFileSync(join(root, 'seed.json'), JSON.stringify({ date: new Date().toISOString(), ...seed }));
      } finally {
        await client.end();
        await pg.stop();
      }
    }

    // Measuring again on a kept directory: the seeding figures of the run that made it.
    if (!seed && existsSync(join(root, 'seed.json'))) {
      seed = JSON.parse(readFileSync(join(root, 'seed.json'), 'utf8')) as BulkSeedResult;
    }

    // The service on the seeded data, capturing the statements it runs.
    const capture = join(root, 'queries.jsonl');
    rmSync(capture, { force: true });
    service = await launchService({ ...env, HAVEN_BENCH_CAPTURE: capture }, join(root, 'service.log'), [
      '-r',
      join(__dirname, 'support', 'capture-queries.cjs'),
    ]);
    const base = service.base;
    // Sampled from before the sign-ins (their password-hashing worker lives 30 s after the last).
    const rss: number[] = [];
    const pid = service.child.pid!;
    const sampler = setInterval(() => rss.push(rssMB(pid)), 200);
    const ward = api(base, await signIn(base, 'ward.longbien', PASSWORD));
    const supervisor = api(base, await signIn(base, 'supervisor.hanoi', PASSWORD));
    // A police provider: its list is its organisation's referrals and its own emergency grants (none here), read
    // each by its index; asked as one OR across the tables it read every open case in the country.
    const police = api(base, await signIn(base, 'police.longbien', PASSWORD));

    const scope = await ward<{ total: number }>('GET', '/api/v1/cases?pageSize=1');
    const pages = Math.max(1, Math.ceil(scope.total / 20));
    const provinceScope = await supervisor<{ total: number }>('GET', '/api/v1/cases?pageSize=1');
    const provincePages = Math.max(1, Math.ceil(provinceScope.total / 20));
    const policeScope = await police<{ total: number }>('GET', '/api/v1/cases?pageSize=1');
    const n = (i: number) => 1 + ((i * 7919) % Math.max(1, CASES));
    // Each at 1 request in flight (the latency of one request at this size) and at 8 (under load: on 2 cores
    // the service, PostgreSQL and the load generator then compete, and queueing dominates).
    const listWard = (i: number) => ward('GET', `/api/v1/cases?page=${1 + (i % pages)}&pageSize=20`);
    const listProvince = (i: number) =>
      supervisor('GET', `/api/v1/cases?page=${1 + (i % Math.min(provincePages, 50))}&pageSize=20`);
    const byName = (i: number) => ward('POST', '/api/v1/cases/search', { fullName: `nguoi thu tai ${n(i)}` });
    const byPhone = (i: number) =>
      ward('POST', '/api/v1/cases/search', { phone: `09${String(n(i)).padStart(8, '0')}` });
    const ok = async (p: Promise<unknown>) => {
      await p;
    };
    // The supervisor's access log: its newest page, and the entries about one case (and the lists that
    // returned it) of the province's cases.
    const provinceCases = (
      await supervisor<{ items: { id: string }[] }>('GET', '/api/v1/cases?pageSize=100')
    ).items.map((c) => c.id);
    const logPage = () => supervisor('GET', '/api/v1/audit/events?pageSize=50');
    const logOfCase = (i: number) =>
      supervisor('GET', `/api/v1/audit/events?pageSize=50&caseId=${provinceCases[i % provinceCases.length]}`);
    // The service's largest RSS during each measurement, and before the first (the sign-ins, whose
    // password-hashing worker lives on 30 s into the first measurements): where the run's largest comes from.
    const rssByPhase: Record<string, number> = {};
    // (None before the measurements when the first began before the first sample.)
    if (rss.length > 0) rssByPhase.beforeMeasurements = Math.max(...rss);
    let phaseStart = rss.length;
    const phase = async <T>(name: string, measure: Promise<T>): Promise<T> => {
      const result = await measure;
      rssByPhase[name] = Math.max(0, ...rss.slice(phaseStart));
      phaseStart = rss.length;
      return result;
    };
    const measurements = {
      caseListWardOfficer: await phase(
        'caseListWardOfficer',
        timed(1000, 1, (i) => ok(listWard(i))),
      ),
      caseListWardOfficer8: await phase(
        'caseListWardOfficer8',
        timed(2000, 8, (i) => ok(listWard(i))),
      ),
      caseListProvinceSupervisor: await phase(
        'caseListProvinceSupervisor',
        timed(300, 1, (i) => ok(listProvince(i))),
      ),
      caseListProvinceSupervisor8: await phase(
        'caseListProvinceSupervisor8',
        timed(500, 8, (i) => ok(listProvince(i))),
      ),
      caseListPoliceProvider: await phase(
        'caseListPoliceProvider',
        timed(300, 1, () => ok(police('GET', '/api/v1/cases?pageSize=20'))),
      ),
      searchByName: await phase(
        'searchByName',
        timed(1000, 1, (i) => ok(byName(i))),
      ),
      searchByName8: await phase(
        'searchByName8',
        timed(2000, 8, (i) => ok(byName(i + 5000))),
      ),
      searchByPhone: await phase(
        'searchByPhone',
        timed(1000, 1, (i) => ok(byPhone(i + 10000))),
      ),
      searchByPhone8: await phase(
        'searchByPhone8',
        timed(2000, 8, (i) => ok(byPhone(i + 15000))),
      ),
      reportSummaryProvinceYear: await phase(
        'reportSummaryProvinceYear',
        timed(10, 1, async () => {
          await supervisor('GET', '/api/v1/reports/summary?province=01&from=2026-01-01&to=2026-12-31');
        }),
      ),
      accessLogPageProvinceSupervisor: await phase(
        'accessLogPageProvinceSupervisor',
        timed(50, 1, () => ok(logPage())),
      ),
      accessLogOfCaseProvinceSupervisor: await phase(
        'accessLogOfCaseProvinceSupervisor',
        timed(300, 1, (i) => ok(logOfCase(i))),
      ),
    };
    clearInterval(sampler);
    const casesInScope = {
      wardOfficer: scope.total,
      provinceSupervisor: provinceScope.total,
      policeProvider: policeScope.total,
    };

    // Full verification of the access log, with the CLI, the service running: in worker threads (as many
    // as HAVEN_AUDIT_VERIFY_WORKERS would default to, at least 2), then in one thread.
    const verifyWith = (args: string[]) => {
      const out = execFileSync(process.execPath, [join(DIST, 'cli', 'audit-verify.js'), ...args], {
        env: { PATH: process.env.PATH ?? '', ...env },
        maxBuffer: 1 << 20,
      }).toString();
      const v = JSON.parse(out) as { ok: boolean; checked: number; seconds: number; workers: number };
      return {
        ok: v.ok,
        entries: v.checked,
        workers: v.workers,
        seconds: v.seconds,
        entriesPerSecond: Math.round(v.checked / v.seconds),
      };
    };
    const verification = verifyWith(['--workers', String(Math.max(2, defaultVerifyWorkers()))]);
    const verificationOneThread = verifyWith(['--workers', '1']);
    log(`verify: ${JSON.stringify({ verification, verificationOneThread })}`);

    // EXPLAIN what the service ran, as the owner, on the same database.
    const password = readFileSync(join(dataDir, 'postgres.secret'), 'utf8').trim();
    const owner = new Client({
      connectionString: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${pgPort}/haven`,
    });
    await owner.connect();
    const plans: { text: string; plan: string; generic?: string }[] = [];
    const sizes = (
      await owner.query<{ table: string; rows: string; size: string }>(
        `SELECT relname AS table, reltuples::bigint AS rows, pg_size_pretty(pg_total_relation_size(oid)) AS size
         FROM pg_class WHERE relname IN ('cases', 'referrals', 'consents', 'data_keys', 'audit_events') ORDER BY relname`,
      )
    ).rows;
    for (const line of readFileSync(capture, 'utf8').split('\n').filter(Boolean)) {
      const { text, params } = JSON.parse(line) as { text: string; params: unknown[] };
      const values = params.map((v) =>
        v && typeof v === 'object' && 'bytea' in v ? Buffer.from((v as { bytea: string }).bytea, 'hex') : v,
      );
      try {
        const res = await owner.query<{ 'QUERY PLAN': string }>(
          `EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${text}`,
          values,
        );
        // A statement with parameters is prepared by the service, and PostgreSQL may run it with the plan it
        // keeps for any values (after five executions, when that plan is estimated no dearer): show that too.
        const generic = values.length > 0 ? await genericPlan(owner, text) : undefined;
        plans.push({
          text: text.replace(/\s+/g, ' ').trim(),
          plan: res.rows.map((r) => r['QUERY PLAN']).join('\n'),
          generic,
        });
      } catch (e) {
        plans.push({
          text: text.replace(/\s+/g, ' ').trim(),
          plan: `(not explained: ${(e as Error).message})`,
        });
      }
    }
    await owner.end();

    const maxRss = Math.max(0, ...rss);
    const seedMinutes = seed ? Number((seed.seconds.total / 60).toFixed(1)) : null;
    const caseListP95 = Math.max(
      measurements.caseListWardOfficer.p95,
      measurements.caseListProvinceSupervisor.p95,
    );
    const searchP95 = Math.max(measurements.searchByName.p95, measurements.searchByPhone.p95);
    const verified = Math.max(verification.entriesPerSecond, verificationOneThread.entriesPerSecond);
    // A latency of failed calls says nothing: a measurement with errors fails the run whatever its figures.
    const errors = Object.values(measurements).reduce((sum, m: Timing) => sum + m.errors, 0);
    const goals = {
      // Null: this run reused a seeded cluster (--reuse), so it has no seeding time of its own.
      seedMinutes: { goal: '< 30', value: seedMinutes, ok: seedMinutes === null ? null : seedMinutes < 30 },
      caseListP95Ms: { goal: '<= 50', value: caseListP95, ok: caseListP95 <= 50 },
      underLoad8P95Ms: {
        goal: '(reported)',
        value: Math.max(
          measurements.caseListWardOfficer8.p95,
          measurements.searchByName8.p95,
          measurements.searchByPhone8.p95,
        ),
      },
      searchP95Ms: { goal: '<= 50', value: searchP95, ok: searchP95 <= 50 },
      reportSummaryMs: {
        goal: '<= 2000',
        value: measurements.reportSummaryProvinceYear.max,
        ok: measurements.reportSummaryProvinceYear.max <= 2000,
      },
      accessLogP95Ms: {
        goal: '(reported)',
        value: Math.max(
          measurements.accessLogPageProvinceSupervisor.p95,
          measurements.accessLogOfCaseProvinceSupervisor.p95,
        ),
      },
      verifyEntriesPerSecond: { goal: '>= 200000', value: verified, ok: verified >= 200000 },
      serverRssMB: { goal: '<= 400', value: maxRss, ok: maxRss <= 400 },
      errors: { goal: '0', value: errors, ok: errors === 0 },
    };
    const report = {
      date: new Date().toISOString(),
      machine: { cores: cpus().length, cpu: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30) },
      seed,
      tables: sizes,
      casesInScope,
      measurements,
      verification,
      verificationOneThread,
      serverRssMB: { max: maxRss, byPhase: rssByPhase },
      goals,
    };
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    // As the HTTP benchmark: a goal missed (or a measurement with errors) is exit 3, after the results are written.
    if (Object.values(goals).some((g) => 'ok' in g && g.ok === false)) process.exitCode = 3;
    if (OUT) {
      mkdirSync(OUT, { recursive: true });
      writeFileSync(join(OUT, 'scale.json'), `${JSON.stringify(report, null, 2)}\n`);
      writeFileSync(
        join(OUT, 'scale-plans.md'),
        [
          `# Query plans at scale (${report.date.slice(0, 10)})`,
          '',
          'Every read-only statement the service ran during `npm run bench:scale`, explained with the parameters it',
          'used (EXPLAIN (ANALYZE, BUFFERS, COSTS OFF), as the owner), and for a statement with parameters also the',
          'plan PostgreSQL keeps for its prepared form (EXPLAIN (GENERIC_PLAN)), which it runs instead once that plan',
          'is estimated no dearer than one made for the values. Table sizes:',
          '',
          '| table | rows | size |',
          '|---|---:|---:|',
          ...sizes.map((s) => `| ${s.table} | ${s.rows} | ${s.size} |`),
          '',
          ...plans.flatMap((p) => [
            '```sql',
            p.text,
            '```',
            '```',
            p.plan,
            '```',
            ...(p.generic ? ['Generic plan:', '```', p.generic, '```'] : []),
            '',
          ]),
        ].join('\n'),
      );
    }
  } finally {
    await service?.stop();
    if (!reuse && !process.argv.includes('--keep')) rmSync(root, { recursive: true, force: true });
    else process.stderr.write(`data kept in ${dataDir}\n`);
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
