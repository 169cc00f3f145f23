// HTTP load benchmark (issue 8): starts the built service on its embedded PostgreSQL with demo data, seeds it
// through the API, and drives it with autocannon in this process (the load generator shares the machine).
//   npm run bench                                   # = build, then this file; results into bench/results/
//   node bench/run.mjs bench/http.bench.ts [--duration 10] [--connections 16] [--instances 1|2] [--out dir]
//   [--cpu-prof dir]  (the service writes a V8 CPU profile per instance there at shutdown)
//   [--main path/to/dist/src/main.js] (another build, for before/after) [--pool n] (HAVEN_DB_POOL_SIZE)
//   [--node-flags "--max-semi-space-size=32 --trace-gc"] (V8/Node flags for the service, e.g. a GC experiment)
import autocannon from 'autocannon';
import { Client } from 'pg';
import { randomBytes } from 'node:crypto';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import {
  api,
  freePort,
  launchService,
  mapConcurrent,
  Service,
  signIn,
  syntheticCase,
} from './support/service';
import { arg, cpuSecondsOf, postgresCpuSeconds, rssMB } from './support/proc';

const DURATION = Number(arg('--duration') ?? 10);
const CONNECTIONS = Number(arg('--connections') ?? 16);
/** Referrals to the police made before the accept scenario (each accepted once), and listed by the inbox. */
const REFERRALS = 1_000;
const INSTANCES = Number(arg('--instances') ?? 1);
const OUT = arg('--out');
const CPU_PROF = arg('--cpu-prof');
const POOL = arg('--pool'); // HAVEN_DB_POOL_SIZE of each instance (default: the service's own default)
// Flags for the service's node (not `npm start`'s: for experiments, recorded in http.json).
const NODE_FLAGS = (arg('--node-flags') ?? '').split(/\s+/).filter(Boolean);
// Another build of the service (e.g. a worktree of an older commit) for before/after comparisons.
const MAIN_JS = arg('--main') ? resolve(arg('--main')!) : undefined;
// Keeps the run's data directory (its embedded PostgreSQL cluster, keys and logs) there, for EXPLAIN and the like.
const KEEP = arg('--keep') ? resolve(arg('--keep')!) : undefined;
const PASSWORD = `bench-${randomBytes(9).toString('base64url')}`;

interface Scenario {
  name: string;
  result: autocannon.Result;
  rss: number[];
  /** CPU seconds per request: service, PostgreSQL, load generator. */
  cpuMsPerRequest: { service: number; postgres: number; loadGenerator: number };
  profileWindowUs: [number, number];
  /**
   * Requests per second: autocannon's average of its per-second samples for a timed run; for a fixed number of
   * requests (accept), the total over the run's wall time: such a run lasts two seconds or so, too few samples
   * for an average (and fewer still on a faster machine).
   */
  reqPerSec: number;
}

/** Round robin over the instances: each autocannon run gets `connections` split evenly across them. */
async function load(
  name: string,
  services: Service[],
  opts: Omit<autocannon.Options, 'url'> & { warmup?: boolean },
): Promise<autocannon.Result> {
  const { warmup, ...rest } = opts;
  const per = Math.max(1, Math.floor((rest.connections ?? CONNECTIONS) / services.length));
  // A fixed number of requests is split exactly (the first instances take the remainder).
  const share = (i: number) =>
    Math.floor(rest.amount! / services.length) + (i < rest.amount! % services.length ? 1 : 0);
  const runs = services.map((s, i) =>
    autocannon({
      url: s.base,
      connections: per,
      pipelining: 1,
      ...(rest.amount ? {} : { duration: warmup ? 2 : DURATION }),
      ...rest,
      ...(rest.amount ? { amount: share(i) } : {}),
      title: name,
    }),
  );
  const results = await Promise.all(runs);
  return results.length === 1 ? results[0] : merge(results);
}

/** Sums counts and throughput of parallel runs; latency percentiles are the worst of the runs. */
function merge(results: autocannon.Result[]): autocannon.Result {
  const [first] = results;
  const sum = (f: (r: autocannon.Result) => number) => results.reduce((s, r) => s + f(r), 0);
  const max = (f: (r: autocannon.Result) => number) => Math.max(...results.map(f));
  return {
    ...first,
    requests: {
      ...first.requests,
      average: sum((r) => r.requests.average),
      total: sum((r) => r.requests.total),
    },
    latency: {
      ...first.latency,
      p50: max((r) => r.latency.p50),
      p99: max((r) => r.latency.p99),
      average: sum((r) => r.latency.average * r.requests.total) / sum((r) => r.requests.total),
    },
    errors: sum((r) => r.errors),
    timeouts: sum((r) => r.timeouts),
    non2xx: sum((r) => r.non2xx),
    connections: sum((r) => r.connections),
    duration: max((r) => r.duration),
  };
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'haven-http-bench-'));
  chmodSync(root, 0o711); // run as root, the embedded server's OS user must reach data/postgres
  const services: Service[] = [];
  try {
    // First instance: the service as `npm start` runs it (embedded PostgreSQL, demo data).
    const pgPort = await freePort();
    const profDir = CPU_PROF ? resolve(CPU_PROF) : undefined;
    if (profDir) mkdirSync(profDir, { recursive: true });
    const nodeArgs = [...NODE_FLAGS, ...(profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [])];
    const env = {
      HAVEN_DATA_DIR: join(root, 'data'),
      HAVEN_EMBEDDED_PG_PORT: String(pgPort),
      HAVEN_DEMO_PASSWORD: PASSWORD,
      LOG_LEVEL: 'info',
      ...(POOL ? { HAVEN_DB_POOL_SIZE: POOL } : {}),
    };
    services.push(await launchService(env, join(root, 'service-1.log'), nodeArgs, MAIN_JS));
    // Further instances: the same database and master key, through DATABASE_URL (docs/deployment.md).
    for (let i = 2; i <= INSTANCES; i++) {
      const dataDir = join(root, 'data');
      const owner = readFileSync(join(dataDir, 'postgres.secret'), 'utf8').trim();
      const app = readFileSync(join(dataDir, 'postgres-app.secret'), 'utf8').trim();
      // The same (development) keyring as the first instance; in production: the same HAVEN_MASTER_KEY.
      const own = join(root, `data-${i}`);
      cpSync(join(dataDir, 'keys'), join(own, 'keys'), { recursive: true });
      services.push(
        await launchService(
          {
            DATABASE_URL: `postgres://postgres:${encodeURIComponent(owner)}@127.0.0.1:${pgPort}/haven`,
            DATABASE_APP_URL: `postgres://haven_app_login:${encodeURIComponent(app)}@127.0.0.1:${pgPort}/haven`,
            HAVEN_DATA_DIR: own,
            HAVEN_DEMO: '0',
            LOG_LEVEL: 'info',
            ...(POOL ? { HAVEN_DB_POOL_SIZE: POOL } : {}),
          },
          join(root, `service-${i}.log`),
          nodeArgs,
          MAIN_JS,
        ),
      );
    }
    const [svc] = services;
    const ward = await signIn(svc.base, 'ward.longbien', PASSWORD);
    const police = await signIn(svc.base, 'police.longbien', PASSWORD);
    const asWard = api(svc.base, ward);
    const { items: orgs } = await asWard<{ items: { id: string; name: string }[] }>(
      'GET',
      '/api/v1/organizations?sector=police&wardCode=00145',
    );
    const policeOrg = orgs[0].id;

    const scenarios: Scenario[] = [];
    const sampler = (into: number[]) => {
      const t = setInterval(() => {
        for (const s of services) into.push(rssMB(s.child.pid!));
      }, 250);
      return () => clearInterval(t);
    };
    // Each scenario is measured on a vacuumed and analysed database, as one kept by autovacuum would be: without
    // it the tables written during the run have no statistics at all (the run is shorter than autovacuum's
    // first round), and plans depend on whether autovacuum happened to run meanwhile. After the warm-up, not
    // before it: registrations grow `cases` from the demo's few rows, and statistics taken on those few rows
    // planned the duplicate search as a sequential scan that each later registration then paid for, over a
    // table of a few thousand rows by the end of the scenario (no autovacuum round comes in 12 s).
    const settle = async () => {
      const owner = readFileSync(join(root, 'data', 'postgres.secret'), 'utf8').trim();
      const client = new Client({
        host: '127.0.0.1',
        port: pgPort,
        user: 'postgres',
        password: owner,
        database: 'haven',
      });
      await client.connect();
      try {
        await client.query('VACUUM (ANALYZE)');
      } finally {
        await client.end();
      }
    };
    const run = async (name: string, opts: Omit<autocannon.Options, 'url'>, warm = true) => {
      if (warm) await load(name, services, { ...opts, warmup: true });
      await settle();
      const rss: number[] = [];
      const stop = sampler(rss);
      const pids = services.map((x) => x.child.pid!);
      const cpuSeconds = () => ({
        service: pids.reduce((sum, pid) => sum + cpuSecondsOf(pid), 0),
        postgres: postgresCpuSeconds(),
        loadGenerator: cpuSecondsOf(process.pid),
      });
      const before = cpuSeconds();
      const started = process.hrtime.bigint();
      const result = await load(name, services, opts);
      // The same monotonic clock as V8's CPU profiles (bench/cpu-profile.ts slices them by scenario).
      const profileWindowUs: [number, number] = [
        Number(started / 1000n),
        Number(process.hrtime.bigint() / 1000n),
      ];
      const after = cpuSeconds();
      stop();
      const per = (k: keyof typeof before) =>
        Number((((after[k] - before[k]) * 1000) / Math.max(1, result.requests.total)).toFixed(3));
      const cpuMsPerRequest = {
        service: per('service'),
        postgres: per('postgres'),
        loadGenerator: per('loadGenerator'),
      };
      const wallSeconds = (profileWindowUs[1] - profileWindowUs[0]) / 1e6;
      const reqPerSec = opts.amount ? result.requests.total / wallSeconds : result.requests.average;
      scenarios.push({ name, result, rss, cpuMsPerRequest, profileWindowUs, reqPerSec });
      process.stderr.write(
        `${name}: ${Math.round(reqPerSec)} req/s, p50 ${result.latency.p50} ms, ` +
          `p99 ${result.latency.p99} ms, errors ${result.errors}, non-2xx ${result.non2xx}, CPU ms/req ` +
          `${JSON.stringify(cpuMsPerRequest)}\n`,
      );
    };
    const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

    // The floor: framework + one database round trip, in the same run.
    await run('GET /health', { requests: [{ method: 'GET', path: '/health' }] });

    // Case create; the new ids feed the later scenarios.
    const created: string[] = [];
    let n = 0;
    await run('POST /api/v1/cases (create)', {
      requests: [
        {
          method: 'POST',
          path: '/api/v1/cases',
          headers: { ...bearer(ward), 'content-type': 'application/json' },
          setupRequest: (req) => ({ ...req, body: JSON.stringify(syntheticCase(++n)) }),
          onResponse: (status, body) => {
            if (status === 201) created.push((JSON.parse(body) as { id: string }).id);
          },
        },
      ],
    });

    // Consent + a pending referral to the police for REFERRALS cases, which the accept scenario accepts and the
    // inbox then lists. A fixed number, so that both meet the same data whatever the create scenario's rate:
    // the inbox's cost grows with the police's referrals, and with one per case created (up to 3,000), a build
    // that registered faster had a dearer inbox (results/http-before-after.md, fifteenth round).
    while (created.length < REFERRALS) {
      created.push((await asWard<{ id: string }>('POST', '/api/v1/cases', syntheticCase(++n))).id);
    }
    const toAccept = created.slice(0, REFERRALS);
    const pending = await mapConcurrent(toAccept, 8, async (id) => {
      const consent = await asWard<{ id: string }>('POST', `/api/v1/cases/${id}/consents`, {
        organizationId: policeOrg,
        categories: ['identity', 'contact', 'incident'],
        givenBy: 'survivor',
      });
      const referral = await asWard<{ id: string }>('POST', `/api/v1/cases/${id}/referrals`, {
        organizationId: policeOrg,
        consentId: consent.id,
        services: ['police_protection'],
        urgency: 'urgent',
      });
      return referral.id;
    });

    let r = 0;
    await run('GET /api/v1/cases/:id (ward officer read)', {
      requests: [
        {
          method: 'GET',
          headers: bearer(ward),
          setupRequest: (req) => ({ ...req, path: `/api/v1/cases/${created[r++ % created.length]}` }),
        },
      ],
    });
    await run('GET /api/v1/cases (list)', {
      requests: [{ method: 'GET', path: '/api/v1/cases?page=1&pageSize=20', headers: bearer(ward) }],
    });
    // Each pending referral is accepted once: a fixed number of requests, no warm-up (it would use them up).
    let a = 0;
    await run(
      'POST /api/v1/referrals/:id/accept',
      {
        amount: pending.length,
        requests: [
          {
            method: 'POST',
            headers: { ...bearer(police), 'content-type': 'application/json' },
            setupRequest: (req) => ({ ...req, path: `/api/v1/referrals/${pending[a++]}/accept`, body: '{}' }),
          },
        ],
      },
      false,
    );
    await run('GET /api/v1/referrals (provider inbox)', {
      requests: [{ method: 'GET', path: '/api/v1/referrals', headers: bearer(police) }],
    });

    const floor = scenarios[0].result.requests.average;
    const byName = (prefix: string) => scenarios.find((s) => s.name.startsWith(prefix))!.result;
    const read = byName('GET /api/v1/cases/:id');
    const create = byName('POST /api/v1/cases');
    const totalErrors = scenarios.reduce((s, x) => s + x.result.errors + x.result.non2xx, 0);
    const goals = {
      caseReadReqPerSec: {
        goal: '>= 1000',
        value: Math.round(read.requests.average),
        ok: read.requests.average >= 1000,
      },
      caseReadP99Ms: { goal: '<= 50', value: read.latency.p99, ok: read.latency.p99 <= 50 },
      caseReadShareOfHealth: {
        goal: '>= 0.35',
        value: Number((read.requests.average / floor).toFixed(3)),
        ok: read.requests.average / floor >= 0.35,
      },
      caseCreateReqPerSec: {
        goal: '>= 300',
        value: Math.round(create.requests.average),
        ok: create.requests.average >= 300,
      },
      errors: { goal: '0', value: totalErrors, ok: totalErrors === 0 },
    };
    const report = {
      date: new Date().toISOString(),
      machine: { cores: cpus().length, cpu: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30) },
      node: process.version,
      ...(NODE_FLAGS.length > 0 ? { nodeFlags: NODE_FLAGS } : {}),
      instances: INSTANCES,
      connections: CONNECTIONS,
      durationSeconds: DURATION,
      scenarios: scenarios.map(({ name, result, rss, cpuMsPerRequest, profileWindowUs, reqPerSec }) => ({
        name,
        requests: result.requests.total,
        reqPerSec: Math.round(reqPerSec),
        latencyMs: {
          p50: result.latency.p50,
          p99: result.latency.p99,
          mean: Number(result.latency.average.toFixed(2)),
        },
        errors: result.errors,
        timeouts: result.timeouts,
        non2xx: result.non2xx,
        maxRssMB: Math.max(0, ...rss),
        cpuMsPerRequest,
        ...(CPU_PROF ? { profileWindowUs } : {}),
      })),
      goals,
    };
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    if (OUT) {
      mkdirSync(OUT, { recursive: true });
      const stem = INSTANCES > 1 ? `http-${INSTANCES}-instances` : 'http';
      writeFileSync(join(OUT, `${stem}.json`), `${JSON.stringify(report, null, 2)}\n`);
      writeFileSync(join(OUT, `${stem}.md`), markdown(report));
    }
    if (!Object.values(goals).every((g) => g.ok)) process.exitCode = 3;
  } finally {
    for (const s of services.reverse()) await s.stop();
    if (KEEP) {
      cpSync(root, KEEP, { recursive: true });
      process.stderr.write(`kept the run's data directory in ${KEEP}\n`);
    }
    rmSync(root, { recursive: true, force: true });
  }
}

function markdown(report: {
  date: string;
  machine: { cores: number; cpu?: string };
  instances: number;
  connections: number;
  durationSeconds: number;
  scenarios: {
    name: string;
    reqPerSec: number;
    latencyMs: { p50: number; p99: number };
    errors: number;
    non2xx: number;
    maxRssMB: number;
  }[];
  goals: Record<string, { goal: string; value: number; ok: boolean }>;
}): string {
  const lines = [
    `# HTTP benchmark (${report.date.slice(0, 10)})`,
    '',
    `${report.machine.cores} cores (${report.machine.cpu ?? 'unknown CPU'}), load generator on the same machine; ` +
      `${report.instances} instance(s), ${report.connections} connections, ${report.durationSeconds} s per scenario ` +
      `after a 2 s warm-up. \`npm run bench\`.`,
    '',
    '| scenario | req/s | p50 ms | p99 ms | errors | non-2xx | max RSS MB |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...report.scenarios.map(
      (s) =>
        `| ${s.name} | ${s.reqPerSec} | ${s.latencyMs.p50} | ${s.latencyMs.p99} | ${s.errors} | ${s.non2xx} | ${s.maxRssMB} |`,
    ),
    '',
    '| goal | target | measured | met |',
    '|---|---|---:|---|',
    ...Object.entries(report.goals).map(
      ([k, g]) => `| ${k} | ${g.goal} | ${g.value} | ${g.ok ? 'yes' : 'no'} |`,
    ),
    '',
  ];
  return lines.join('\n');
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
