import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { createServer, request as httpRequest } from 'node:http';
import { spawn } from 'node:child_process';
import { connect, createServer as createNetServer, Socket } from 'node:net';
import { join } from 'node:path';
import { Client } from 'pg';
import { MIGRATIONS } from '../migrations';
import { REVERT_LOSES } from '../migrations/revert-losses';
import { ADVISORY_LOCKS } from '../src/database/advisory-locks';
import { caseBody } from './support/casework';
import { createTestDatabase } from './support/database';
import { alive, freePort, launchedPerTest, MAIN, waitForHealth } from './support/process';
import { someoneWaitsForALock, waitFor } from './support/wait';

// Runs the built service (dist/, made by `npm test`'s pretest build) as a real process, as `npm start` does.

const AUDIT_VERIFY_CLI = join(__dirname, '..', 'dist', 'src', 'cli', 'audit-verify.js');
const MIGRATIONS_CLI = join(__dirname, '..', 'dist', 'src', 'cli', 'migrations.js');
const KEYS_ROTATE_CLI = join(__dirname, '..', 'dist', 'src', 'cli', 'keys-rotate.js');
const CREATE_ADMIN_CLI = join(__dirname, '..', 'dist', 'src', 'cli', 'create-admin.js');
const RESET_ADMIN_CLI = join(__dirname, '..', 'dist', 'src', 'cli', 'reset-admin.js');
const UNITS_IMPORT_CLI = join(__dirname, '..', 'dist', 'src', 'cli', 'units-import.js');

const launch = launchedPerTest();

/** A fresh data directory and the environment of a service on its own embedded server there, on free ports. */
type EmbeddedEnv = Record<string, string> & {
  HAVEN_DATA_DIR: string;
  PORT: string;
  HAVEN_EMBEDDED_PG_PORT: string;
};

async function embeddedEnv(prefix: string): Promise<{ dataDir: string; env: EmbeddedEnv }> {
  const dataDir = await mkdtemp(join(process.env.HAVEN_TEST_ROOT!, prefix));
  return {
    dataDir,
    env: {
      HAVEN_DATA_DIR: dataDir,
      PORT: String(await freePort()),
      HAVEN_EMBEDDED_PG_PORT: String(await freePort()),
    },
  };
}

/** One row of `sql`, as the embedded server's superuser over TCP (as an operator's tool would connect). */
async function asSuperuser<T>(dataDir: string, pgPort: number, sql: string): Promise<T> {
  const password = (await readFile(join(dataDir, 'postgres.secret'), 'utf8')).trim();
  const client = new Client({
    host: '127.0.0.1',
    port: pgPort,
    user: 'postgres',
    password,
    database: 'haven',
  });
  await client.connect();
  try {
    return (await client.query(sql)).rows[0] as T;
  } finally {
    await client.end();
  }
}

/** The service on a test database of its own (DATABASE_URL), its stop given `shutdownTimeoutMs`. */
async function serviceOnItsOwnDatabase(prefix: string, shutdownTimeoutMs: number) {
  const db = await createTestDatabase();
  const dataDir = await mkdtemp(join(process.env.HAVEN_TEST_ROOT!, prefix));
  const port = await freePort();
  const run = launch({
    DATABASE_URL: db.url,
    HAVEN_DATA_DIR: dataDir,
    PORT: String(port),
    HAVEN_SHUTDOWN_TIMEOUT_MS: String(shutdownTimeoutMs),
  });
  return { db, port, run };
}

/**
 * `test` against the service on a database of its own (as serviceOnItsOwnDatabase), once it answers, with a
 * client of that database (`holder`) to hold locks; afterwards the service is killed if still running, the
 * client ended and the database dropped, whatever the test did.
 */
async function withHeldService(
  prefix: string,
  shutdownTimeoutMs: number,
  test: (s: Awaited<ReturnType<typeof serviceOnItsOwnDatabase>> & { holder: Client }) => Promise<void>,
): Promise<void> {
  const service = await serviceOnItsOwnDatabase(prefix, shutdownTimeoutMs);
  const holder = new Client({ connectionString: service.db.url });
  try {
    await waitForHealth(service.port, service.run);
    await test({ ...service, holder });
  } finally {
    if (service.run.child.exitCode === null) service.run.child.kill('SIGKILL');
    await holder.end().catch(() => undefined);
    await service.db.drop();
  }
}

async function countUnits(dataDir: string, pgPort: number): Promise<number> {
  const row = await asSuperuser<{ n: number }>(dataDir, pgPort, 'SELECT count(*)::int AS n FROM admin_units');
  return row.n;
}

/** How the service's own connections (its runtime role) reach the embedded server: Unix socket or TCP. */
function serviceTransports(dataDir: string, pgPort: number): Promise<{ unix: number; tcp: number }> {
  return asSuperuser(
    dataDir,
    pgPort,
    `SELECT count(*) FILTER (WHERE client_addr IS NULL)::int AS unix,
            count(*) FILTER (WHERE client_addr IS NOT NULL)::int AS tcp
       FROM pg_stat_activity WHERE usename = 'haven_app_login'`,
  );
}

/**
 * A sign-in on an unknown name, sent once `holder` (connected here) holds the sign-in throttle's table in an open
 * transaction: it waits there, before its password check and its access-log entry. Its client hangs up once it
 * waits (its connection gone, its handler not); `holder` commits when the test lets it go on.
 */
async function signInHeldThenAbandoned(databaseUrl: string, port: number, holder: Client): Promise<void> {
  await holder.connect();
  await holder.query('BEGIN');
  await holder.query('LOCK TABLE login_throttle IN EXCLUSIVE MODE');
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.on('error', () => undefined);
  const body = JSON.stringify({ username: 'nobody.here', password: 'not-the-password-1' });
  socket.write(
    'POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  const waiting = new Client({ connectionString: databaseUrl });
  await waiting.connect();
  try {
    await someoneWaitsForALock(async (sql) => (await waiting.query<{ n: number }>(sql)).rows);
  } finally {
    await waiting.end();
  }
  socket.destroy();
}

/** The service started with `env` (its PORT), answering /health, then stopped with SIGTERM: exit 0. */
async function servesThenStops(env: Record<string, string>): Promise<void> {
  const run = launch(env);
  await waitForHealth(Number(env.PORT), run);
  run.child.kill('SIGTERM');
  expect(await run.exited).toBe(0);
}

/** A request whose body never finishes arriving, once the service has read its headers: its socket. */
async function halfSentRequest(port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.on('error', () => undefined);
  socket.write(
    'POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n' +
      'Content-Length: 1000\r\n\r\n{"username":',
  );
  await new Promise((r) => setTimeout(r, 200));
  return socket;
}

describe('service process lifecycle (npm start)', () => {
  jest.setTimeout(120000);

  it('starts an embedded PostgreSQL, seeds demo units, stops cleanly on SIGTERM/SIGINT/SIGHUP and reuses the data', async () => {
    const { dataDir, env } = await embeddedEnv('lifecycle-');

    const first = launch(env);
    await waitForHealth(Number(env.PORT), first);
    expect(first.output()).toContain('demo data seeded');
    expect(first.output()).toContain('no embedded cluster in HAVEN_DATA_DIR: creating a new, empty one');
    const pgPid = Number.parseInt(
      (await readFile(join(dataDir, 'postgres', 'postmaster.pid'), 'utf8')).split('\n')[0],
      10,
    );
    expect(alive(pgPid)).toBe(true);
    const units = await countUnits(dataDir, Number(env.HAVEN_EMBEDDED_PG_PORT));
    expect(units).toBeGreaterThanOrEqual(7);
    // The service talks to its embedded server through a socket in a directory only the server's user may enter.
    const transports = await serviceTransports(dataDir, Number(env.HAVEN_EMBEDDED_PG_PORT));
    expect(transports.unix).toBeGreaterThan(0);
    expect(transports.tcp).toBe(0);
    expect((await stat(join(dataDir, 'run'))).mode & 0o777).toBe(0o700);
    expect(existsSync(join(dataDir, 'run', `.s.PGSQL.${env.HAVEN_EMBEDDED_PG_PORT}`))).toBe(true);
    // `npm run audit:verify` on the same data directory finds the running server (through its socket) instead of
    // starting a second one on the cluster, which would be refused. A refused sign-in gives the log an entry.
    await fetch(`http://127.0.0.1:${env.PORT}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'ward.longbien', password: 'not-the-password-1' }),
    });
    const verify = launch({ ...env, LOG_LEVEL: 'warn' }, AUDIT_VERIFY_CLI);
    expect(await verify.exited).toBe(0);
    const verified = JSON.parse(
      verify
        .output()
        .split('\n')
        .find((l) => l.startsWith('{'))!,
    ) as {
      ok: boolean;
      checked: number;
    };
    expect(verified.ok).toBe(true);
    expect(verified.checked).toBeGreaterThan(0);

    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    expect(first.output()).toContain('stopped cleanly');
    expect(alive(pgPid)).toBe(false);
    expect(existsSync(join(dataDir, 'postgres', 'postmaster.pid'))).toBe(false);

    // Second start: same cluster, no re-seed, same data.
    const second = launch(env);
    await waitForHealth(Number(env.PORT), second);
    expect(second.output()).not.toContain('demo data seeded');
    expect(second.output()).not.toContain('creating a new, empty one');
    expect(await countUnits(dataDir, Number(env.HAVEN_EMBEDDED_PG_PORT))).toBe(units);
    second.child.kill('SIGINT');
    expect(await second.exited).toBe(0);
    expect(existsSync(join(dataDir, 'postgres', 'postmaster.pid'))).toBe(false);
    // The terminal going away (SIGHUP): the same clean stop, the embedded server with it.
    const third = launch(env);
    await waitForHealth(Number(env.PORT), third);
    third.child.kill('SIGHUP');
    expect(await third.exited).toBe(0);
    expect(third.output()).toContain('stopped cleanly');
    expect(existsSync(join(dataDir, 'postgres', 'postmaster.pid'))).toBe(false);
    // A normal start and stop raise no warning (level 40 and above): those would page someone.
    const warnings = [first, second, third]
      .flatMap((r) => r.output().split('\n'))
      .filter((l) => /^\{.*"level":(40|50|60)/.test(l));
    expect(warnings).toEqual([]);
  });

  it('starts on TCP when its data directory cannot hold the socket, and audit:verify still finds the server', async () => {
    const { dataDir, env } = await embeddedEnv('nosocket-');
    await writeFile(join(dataDir, 'run'), 'a file where the socket directory would go');
    const run = launch(env);
    await waitForHealth(Number(env.PORT), run);
    expect(run.output()).toContain('Unix socket not used, TCP on 127.0.0.1 instead');
    expect(run.output()).toMatch(/"socket":false[^\n]*embedded PostgreSQL started/);
    const transports = await serviceTransports(dataDir, Number(env.HAVEN_EMBEDDED_PG_PORT));
    expect(transports).toEqual({ unix: 0, tcp: expect.any(Number) });
    expect(transports.tcp).toBeGreaterThan(0);
    const verify = launch({ ...env, LOG_LEVEL: 'warn' }, AUDIT_VERIFY_CLI);
    expect(await verify.exited).toBe(0);
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
  });

  it('a stop asked for during start-up is honoured: no serving, the embedded PostgreSQL stopped, exit 0', async () => {
    const { dataDir, env } = await embeddedEnv('early-stop-');
    const run = launch(env);
    // PostgreSQL is up; the service is still migrating and seeding demo data (seconds of password hashing).
    const deadline = Date.now() + 60000;
    while (!run.output().includes('embedded PostgreSQL started')) {
      if (run.child.exitCode !== null || Date.now() > deadline) throw new Error(`no start:\n${run.output()}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(run.output()).not.toContain('Haven listening');
    const pidFile = join(dataDir, 'postgres', 'postmaster.pid');
    const pgPid = Number.parseInt((await readFile(pidFile, 'utf8')).split('\n')[0], 10);
    expect(alive(pgPid)).toBe(true);

    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
    expect(run.output()).toContain('stop asked for during start-up');
    expect(run.output()).not.toContain('Haven listening');
    expect(alive(pgPid)).toBe(false);
    expect(existsSync(pidFile)).toBe(false);
  });

  it('SIGTERM under load: in-flight requests finish, new ones are refused, nothing answered 2xx is lost', async () => {
    const drain = await embeddedEnv('drain-');
    // A higher per-account limit: the sign-ins below are counted together before their password checks.
    const env = {
      ...drain.env,
      HAVEN_DEMO_PASSWORD: 'drain-test-password-1',
      HAVEN_LOGIN_MAX_FAILURES: '50',
    };
    const base = `http://127.0.0.1:${env.PORT}`;
    const signIn = async (): Promise<string> => {
      const res = await fetch(`${base}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'ward.longbien', password: env.HAVEN_DEMO_PASSWORD }),
      });
      return ((await res.json()) as { accessToken: string }).accessToken;
    };
    const body = JSON.stringify(caseBody());

    const first = launch(env);
    await waitForHealth(Number(env.PORT), first);
    const token = await signIn();
    const create = (): Promise<{ status: number; id?: string }> =>
      fetch(`${base}/api/v1/cases`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body,
      }).then(
        async (r) => ({
          status: r.status,
          id: r.status === 201 ? ((await r.json()) as { id: string }).id : undefined,
        }),
        // Refused or reset: the service had closed its listener before it took the connection (nothing done).
        () => ({ status: 0 }),
      );
    // Sign-ins too, sent first so that the service reads them before the signal: their password check runs in
    // worker threads that stop at shutdown. Twelve of them queue behind one or two hashing workers for longer
    // than the first registration takes, on a fast machine too, so that some are under way at the signal.
    const signIns = Array.from({ length: 12 }, () =>
      fetch(`${base}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'ward.longbien', password: env.HAVEN_DEMO_PASSWORD }),
      }).then(
        (r) => ({ status: r.status, at: Date.now() }),
        () => ({ status: 0, at: Date.now() }),
      ),
    );
    let answered!: () => void;
    const firstAnswer = new Promise<void>((resolve) => (answered = resolve));
    const inFlight = Array.from({ length: 40 }, () =>
      create().then((r) => {
        if (r.status === 201) answered();
        return r;
      }),
    );
    // The signal comes once the service answers them (the first registration is back, the rest in flight), not
    // after a guess of how long that takes on a loaded machine.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([firstAnswer, new Promise((r) => (timer = setTimeout(r, 10_000)))]);
    clearTimeout(timer);
    const signalled = Date.now();
    first.child.kill('SIGTERM');
    // A new connection (no keep-alive reuse) after the signal: refused once the listener has closed, which the
    // child does on the signal (polled for a few seconds, not assumed done after a fixed wait).
    const connect = () =>
      new Promise<number>((resolve) => {
        const req = httpRequest(
          { host: '127.0.0.1', port: Number(env.PORT), path: '/health', agent: false },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? -1);
          },
        );
        req.on('error', () => resolve(0));
        req.end();
      });
    let late = await connect();
    for (const until = Date.now() + 5_000; late !== 0 && Date.now() < until; late = await connect()) {
      await new Promise((r) => setTimeout(r, 10));
    }
    // Refused by the draining service, not by a process already gone (which would refuse anything).
    const drainingWhenRefused = first.child.exitCode === null && first.child.signalCode === null;
    const results = await Promise.all(inFlight);
    // Every sign-in the service took is answered (200, or 503 once its password check was stopped), well before
    // the drain's timeout would have cut it; 0 is one its closed listener never took.
    const signInAnswers = await Promise.all(signIns);
    for (const { status } of signInAnswers) expect([0, 200, 503]).toContain(status);
    // At least one was still under way at the signal, and answered: the case this checks did happen.
    expect(signInAnswers.some((a) => a.status !== 0 && a.at > signalled)).toBe(true);
    expect(await first.exited).toBe(0);
    expect(Date.now() - signalled).toBeLessThan(8_000);
    // The checkpoint signed at shutdown covers every entry, those written while draining included.
    const verify = launch({ ...env, LOG_LEVEL: 'warn' }, AUDIT_VERIFY_CLI);
    expect(await verify.exited).toBe(0);
    const line = verify
      .output()
      .split('\n')
      .find((l) => l.startsWith('{') && l.includes('"lastSeq"'));
    const verified = JSON.parse(line!) as { lastSeq: number; checkpointSeq: number };
    expect(verified.checkpointSeq).toBe(verified.lastSeq);

    expect(late).toBe(0); // new connections are refused once draining started
    expect(drainingWhenRefused).toBe(true);
    for (const r of results) expect([0, 201, 503]).toContain(r.status);
    const created = results.filter((r) => r.status === 201).map((r) => r.id!);
    expect(created.length).toBeGreaterThan(0);

    // Everything that was answered 201 is there after a restart.
    const second = launch(env);
    try {
      await waitForHealth(Number(env.PORT), second);
      const again = await signIn();
      for (const id of created) {
        const res = await fetch(`${base}/api/v1/cases/${id}`, {
          headers: { authorization: `Bearer ${again}` },
        });
        expect(res.status).toBe(200);
      }
    } finally {
      second.child.kill('SIGTERM');
      expect(await second.exited).toBe(0);
    }
  });

  it('cuts a request still in flight once HAVEN_SHUTDOWN_TIMEOUT_MS has passed, then stops cleanly', async () => {
    const grace = 1_500;
    const { db, port, run } = await serviceOnItsOwnDatabase('cut-', grace);
    try {
      await waitForHealth(port, run);
      // A request whose body never finishes arriving: it would hold the drain for ever.
      const closed = once(await halfSentRequest(port), 'close');
      const signalled = Date.now();
      run.child.kill('SIGTERM');
      await closed;
      // Cut by the service, not before its grace was up.
      expect(Date.now() - signalled).toBeGreaterThanOrEqual(grace - 50);
      expect(await run.exited).toBe(0);
      expect(run.output()).toContain('stopped cleanly');
    } finally {
      if (run.child.exitCode === null) run.child.kill('SIGKILL');
      await db.drop();
    }
  });

  it('a shutdown hook that never returns (the last checkpoint waiting on a lock) does not keep the stop from ending: exit 1, said', async () => {
    await withHeldService('stuck-', 1_000, async ({ run, holder }) => {
      // The stripe heads, which the last checkpoint reads, held by someone else for as long as this test runs.
      await holder.connect();
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE audit_chain_heads IN ACCESS EXCLUSIVE MODE');
      const signalled = Date.now();
      run.child.kill('SIGTERM');
      expect(await run.exited).toBe(1);
      // After the hooks' bound (5 s at least), not before, and not never.
      expect(Date.now() - signalled).toBeGreaterThanOrEqual(4_900);
      expect(run.output()).toContain('the shutdown hooks did not finish in time');
    });
  });

  it('a request whose client hung up is handled to its end before the shutdown hooks run: its refusal stays on the access log', async () => {
    await withHeldService('handler-', 10_000, async ({ run, holder, db, port }) => {
      const refusals = async (): Promise<number> =>
        (
          await holder.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM audit_events WHERE action = 'auth.login_failed'`,
          )
        ).rows[0].n;
      // The client gives up; its connection ends at once, so the drain has nothing left to wait for.
      await signInHeldThenAbandoned(db.url, port, holder);
      run.child.kill('SIGTERM');
      await waitFor(() => run.output().includes('shutting down'), 5_000);
      await new Promise((r) => setTimeout(r, 1_000));
      await holder.query('COMMIT');
      expect(await run.exited).toBe(0);
      expect(run.output()).toContain('stopped cleanly');
      // The sign-in went on after the lock: hashed, counted and on the access log, not cut by the hooks.
      expect(await refusals()).toBe(1);
    });
  });

  it('a second stop signal ends the wait for a request whose client hung up; a file download cut short is not waited for', async () => {
    await withHeldService('handler2-', 60_000, async ({ run, holder, db, port }) => {
      // A download of the API page's script (over a megabyte) that the client gives up before its end: its
      // stream is destroyed and its answer never ended, which must not count as a request still being handled.
      const download = connect(port, '127.0.0.1');
      await once(download, 'connect');
      download.on('error', () => undefined);
      download.write('GET /docs/swagger-ui-bundle.js HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      await once(download, 'data');
      download.destroy();
      await signInHeldThenAbandoned(db.url, port, holder);
      run.child.kill('SIGTERM');
      await waitFor(() => run.output().includes('shutting down'), 5_000);
      await new Promise((r) => setTimeout(r, 2_500)); // past the window of one stop delivered twice
      expect(run.output()).not.toContain('still being handled');
      run.child.kill('SIGTERM');
      // The stop goes on at once, saying that one request was still being handled (not the download).
      await waitFor(() => run.output().includes('still being handled when the stop went on'), 5_000);
      expect(run.output()).toMatch(/"requests":1\b/);
      await holder.query('COMMIT');
      expect(await run.exited).toBe(0);
      expect(run.output()).toContain('stopped cleanly');
    });
  });

  it('a second stop signal cuts a request still in flight at once, and the stop still ends cleanly; one stop delivered twice does not', async () => {
    const { db, port, run } = await serviceOnItsOwnDatabase('cut2-', 60_000);
    try {
      await waitForHealth(port, run);
      let isClosed = false;
      const closed = once(await halfSentRequest(port), 'close').then(() => (isClosed = true));
      // One stop delivered twice at once (npm passing on the terminal's Ctrl-C, systemd's control group): the
      // request in flight is still waited for.
      run.child.kill('SIGINT');
      // Timed from the stop's start as the service saw it (its handler may run late on a loaded machine).
      await waitFor(() => run.output().includes('shutting down'), 10_000);
      await new Promise((r) => setTimeout(r, 300)); // not merged with the first by the kernel
      run.child.kill('SIGINT');
      await new Promise((r) => setTimeout(r, 2_200));
      expect(isClosed).toBe(false);
      expect(run.output()).not.toContain('stop asked for again');
      const again = Date.now();
      run.child.kill('SIGINT');
      await closed;
      expect(Date.now() - again).toBeLessThan(5_000); // not the minute of the timeout
      expect(await run.exited).toBe(0);
      expect(run.output()).toContain('stop asked for again: cutting the connections still open');
      expect(run.output()).toContain('stopped cleanly');
    } finally {
      if (run.child.exitCode === null) run.child.kill('SIGKILL');
      await db.drop();
    }
  });

  it('uses DATABASE_URL instead of the embedded server when it is set, without demo data by default', async () => {
    const db = await createTestDatabase();
    const dataDir = await mkdtemp(join(process.env.HAVEN_TEST_ROOT!, 'external-'));
    const port = await freePort();
    const run = launch({ DATABASE_URL: db.url, HAVEN_DATA_DIR: dataDir, PORT: String(port) });
    try {
      await waitForHealth(port, run);
      expect(existsSync(join(dataDir, 'postgres'))).toBe(false);
      expect(run.output()).not.toContain('demo data seeded');
    } finally {
      run.child.kill('SIGTERM');
      expect(await run.exited).toBe(0);
      await db.drop();
    }
  });

  it('refuses to start with another master key than the one that signed the log, unless told it is deliberate', async () => {
    const db = await createTestDatabase();
    const keyA = randomBytes(32).toString('base64');
    const keyB = randomBytes(32).toString('base64');
    const start = async (key: string, extra: Record<string, string> = {}) => {
      const dataDir = await mkdtemp(join(process.env.HAVEN_TEST_ROOT!, 'keys-'));
      const port = await freePort();
      const run = launch({
        DATABASE_URL: db.url,
        DATABASE_APP_URL: db.appUrl,
        HAVEN_MASTER_KEY: key,
        HAVEN_DATA_DIR: dataDir,
        PORT: String(port),
        ...extra,
      });
      return { run, port };
    };
    try {
      const first = await start(keyA);
      await waitForHealth(first.port, first.run); // signs a checkpoint with key A at start
      first.run.child.kill('SIGTERM');
      expect(await first.run.exited).toBe(0);

      const wrong = await start(keyB);
      expect(await wrong.run.exited).toBe(78);
      expect(wrong.run.output()).toMatch(/HAVEN_MASTER_KEY/);
      expect(wrong.run.output()).toMatch(/HAVEN_ALLOW_KEY_CHANGE/);
      expect(wrong.run.output()).not.toContain(keyA);
      expect(wrong.run.output()).not.toContain(keyB);
      // Refused, it signed nothing on its way out either: key A still starts (a checkpoint of key B left
      // behind would have been the newest, and key A the stranger).
      const stillA = await start(keyA);
      await waitForHealth(stillA.port, stillA.run);
      stillA.run.child.kill('SIGTERM');
      expect(await stillA.run.exited).toBe(0);

      const deliberate = await start(keyB, { HAVEN_ALLOW_KEY_CHANGE: '1' });
      await waitForHealth(deliberate.port, deliberate.run);
      deliberate.run.child.kill('SIGTERM');
      expect(await deliberate.run.exited).toBe(0);

      // Key B signed the newest checkpoint now: it starts without the override, and key A is the stranger.
      const again = await start(keyB);
      await waitForHealth(again.port, again.run);
      again.run.child.kill('SIGTERM');
      expect(await again.run.exited).toBe(0);
      const old = await start(keyA);
      expect(await old.run.exited).toBe(78);
    } finally {
      await db.drop();
    }
  });

  it('refuses to start on a log without a checkpoint whose entries another master key chained (a tool run with it)', async () => {
    const db = await createTestDatabase();
    const keyA = randomBytes(32).toString('base64');
    const keyB = randomBytes(32).toString('base64');
    const env = async (key: string) => ({
      DATABASE_URL: db.url,
      DATABASE_APP_URL: db.appUrl,
      HAVEN_MASTER_KEY: key,
      HAVEN_DATA_DIR: await mkdtemp(join(process.env.HAVEN_TEST_ROOT!, 'first-keys-')),
      PORT: String(await freePort()),
    });
    try {
      // A new installation: the operator makes the first administrator with key A (the tool signs no checkpoint).
      const tool = launch({ ...(await env(keyA)), LOG_LEVEL: 'warn' }, CREATE_ADMIN_CLI, [
        '--username',
        'quan.tri',
      ]);
      tool.child.stdin.end('an-initial-passphrase-2026\n');
      expect(await tool.exited).toBe(0);
      // The service mounted with key B: refused, rather than make key B the log's and the tool's entry altered.
      const wrong = launch(await env(keyB));
      expect(await wrong.exited).toBe(78);
      expect(wrong.output()).toMatch(/no checkpoint yet.*users:create-admin/s);
      expect(wrong.output()).not.toContain(keyA);
      expect(wrong.output()).not.toContain(keyB);
      // With key A it starts, and signs the log's first checkpoint.
      const rightEnv = await env(keyA);
      const right = launch(rightEnv);
      await waitForHealth(Number(rightEnv.PORT), right);
      right.child.kill('SIGTERM');
      expect(await right.exited).toBe(0);
    } finally {
      await db.drop();
    }
  });

  it('audit:verify pointed at a data directory without the service’s keys and database stops, creating nothing there', async () => {
    const { dataDir, env } = await embeddedEnv('verify-empty-');
    const verify = launch({ ...env, LOG_LEVEL: 'warn' }, AUDIT_VERIFY_CLI);
    // A configuration to correct (EX_CONFIG), as for every tool, not a log found broken (1).
    expect(await verify.exited).toBe(78);
    expect(verify.output()).toMatch(/HAVEN_DATA_DIR .*no keyring at .*no embedded database at/s);
    expect(verify.output()).not.toMatch(/audit:verify failed/); // one answer, not a second line
    expect(await readdir(dataDir)).toEqual([]);
  });

  it('fails (exit 1, saying why) when the embedded PostgreSQL cannot start, and clears a cluster left half-made', async () => {
    const { dataDir, env } = await embeddedEnv('pg-fails-');
    // A start killed while initdb ran left its scratch directory behind: removed, not taken for a cluster.
    await mkdir(join(dataDir, 'postgres.initdb'), { recursive: true });
    await writeFile(join(dataDir, 'postgres.initdb', 'PG_VERSION'), '18\n');
    // The embedded server's port is taken by someone else.
    const squatter = createServer().listen(Number(env.HAVEN_EMBEDDED_PG_PORT), '127.0.0.1');
    await once(squatter, 'listening');
    try {
      const run = launch({ ...env, HAVEN_DATA_DIR: dataDir });
      expect(await run.exited).toBe(1);
      expect(run.output()).toMatch(/PostgreSQL exited during start-up/);
    } finally {
      squatter.close();
    }
    expect(existsSync(join(dataDir, 'postgres.initdb'))).toBe(false);
    expect(existsSync(join(dataDir, 'postgres', 'PG_VERSION'))).toBe(true);
    // The port free again, it starts on the cluster made then.
    await servesThenStops(env);
  });

  it('keys:rotate on the embedded database while the service runs: every key re-wrapped, cases still registered and read', async () => {
    const { dataDir, env } = await embeddedEnv('rotate-live-');
    const vars = { ...env, HAVEN_DEMO_PASSWORD: 'rotate-live-password-1' };
    const base = `http://127.0.0.1:${env.PORT}`;
    const service = launch(vars);
    try {
      await waitForHealth(Number(env.PORT), service);
      const login = await fetch(`${base}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'ward.longbien', password: vars.HAVEN_DEMO_PASSWORD }),
      });
      const { accessToken } = (await login.json()) as { accessToken: string };
      const register = () =>
        fetch(`${base}/api/v1/cases`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${accessToken}` },
          body: JSON.stringify(caseBody()),
        });
      const before = (await register()).status === 201;
      expect(before).toBe(true);
      // Another rotation under way (its lock held): refused as a passing state (75), not as configuration (78).
      const other = new Client({
        host: '127.0.0.1',
        port: Number(env.HAVEN_EMBEDDED_PG_PORT),
        user: 'postgres',
        password: (await readFile(join(dataDir, 'postgres.secret'), 'utf8')).trim(),
        database: 'haven',
      });
      await other.connect();
      try {
        await other.query('SELECT pg_advisory_lock($1)', [ADVISORY_LOCKS.keyRotation]);
        const refused = launch({ ...env, LOG_LEVEL: 'warn' }, KEYS_ROTATE_CLI);
        expect(await refused.exited).toBe(75);
        expect(refused.output()).toContain('another key rotation is running on this database');
        expect(refused.output()).not.toContain('env.example');
      } finally {
        await other.end();
      }
      const rotate = launch({ ...env, LOG_LEVEL: 'warn' }, KEYS_ROTATE_CLI);
      expect(await rotate.exited).toBe(0);
      expect(rotate.output()).toMatch(/Every live data key is on haven-kek v2/);
      // The service took the new keyring from the file: new cases are registered, old ones read.
      const after = await register();
      expect(after.status).toBe(201);
      const { id } = (await after.json()) as { id: string };
      const read = await fetch(`${base}/api/v1/cases/${id}`, {
        headers: { authorization: `Bearer ${accessToken}` },
      });
      expect(read.status).toBe(200);
    } finally {
      service.child.kill('SIGTERM');
      expect(await service.exited).toBe(0);
    }
  });

  it('under a directory the database’s OS user cannot enter, says which (as root) instead of only initdb’s error', async () => {
    const root = await mkdtemp(join(process.env.HAVEN_TEST_ROOT!, 'private-parent-'));
    const shut = join(root, 'shut');
    await mkdir(join(shut, 'inner'), { recursive: true, mode: 0o700 });
    await chmod(shut, 0o700);
    const env = {
      HAVEN_DATA_DIR: join(shut, 'inner', 'data'),
      PORT: String(await freePort()),
      HAVEN_EMBEDDED_PG_PORT: String(await freePort()),
    };
    const run = launch(env);
    if (process.getuid?.() === 0) {
      // Root runs PostgreSQL as the "postgres" OS user, which cannot pass through `shut`.
      expect(await run.exited).toBe(1);
      expect(run.output()).toMatch(/the OS user "postgres" must be able to enter every directory above/);
    } else {
      // Anyone else runs it as themselves, who may.
      await waitForHealth(Number(env.PORT), run);
      run.child.kill('SIGTERM');
      expect(await run.exited).toBe(0);
    }
  });

  /**
   * Interrupts `run` (Ctrl-C) as soon as the embedded server it started is up, and checks that the server is gone
   * when it has exited: interrupted (130), or just finished (0).
   */
  async function interruptOnceItsServerIsUp(run: ReturnType<typeof launch>, dataDir: string): Promise<void> {
    const pidFile = join(dataDir, 'postgres', 'postmaster.pid');
    while (!existsSync(pidFile)) {
      if (run.child.exitCode !== null) throw new Error(`ended before its server started:\n${run.output()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const pgPid = Number.parseInt((await readFile(pidFile, 'utf8')).split('\n')[0], 10);
    run.child.kill('SIGINT');
    expect([0, 130]).toContain(await run.exited);
    expect(alive(pgPid)).toBe(false);
    expect(existsSync(pidFile)).toBe(false);
  }

  it('a tool interrupted while it runs the embedded database stops it before it exits', async () => {
    const { dataDir, env } = await embeddedEnv('tool-interrupted-');
    // The tools work on the stopped service's data directory (they never create a cluster).
    await servesThenStops({ ...env, HAVEN_DEMO: '0' });
    await interruptOnceItsServerIsUp(launch({ ...env, LOG_LEVEL: 'warn' }, MIGRATIONS_CLI, ['run']), dataDir);
    // keys:rotate, interrupted while its server starts.
    await interruptOnceItsServerIsUp(launch({ ...env, LOG_LEVEL: 'warn' }, KEYS_ROTATE_CLI), dataDir);
  });

  it('keys:rotate pointed at a data directory without the service’s keyring stops (exit 78), creating nothing there', async () => {
    const { dataDir, env } = await embeddedEnv('rotate-empty-');
    const rotate = launch({ ...env, DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' }, KEYS_ROTATE_CLI);
    expect(await rotate.exited).toBe(78);
    expect(rotate.output()).toMatch(/HAVEN_DATA_DIR .*no keyring at/s);
    expect(await readdir(dataDir)).toEqual([]);
  });

  it('keys:rotate, like the service, says when the master key file may be read by others', async () => {
    const { dataDir, env } = await embeddedEnv('rotate-open-key-');
    const keyFile = join(dataDir, 'master.key');
    await writeFile(keyFile, randomBytes(32).toString('base64'), { mode: 0o644 });
    const prepared = join(dataDir, 'next-keyring.json');
    const rotate = launch({ ...env, HAVEN_MASTER_KEY_FILE: keyFile }, KEYS_ROTATE_CLI, [
      '--prepare-keyring',
      prepared,
    ]);
    expect(await rotate.exited).toBe(0);
    expect(rotate.output()).toMatch(/warning: HAVEN_MASTER_KEY_FILE is readable by its group or by others/);
    // What it wrote is not: 0600.
    expect((await stat(prepared)).mode & 0o777).toBe(0o600);
  });

  it('users:create-admin makes the first administrator of an installation without demo data, once', async () => {
    const { dataDir, env } = await embeddedEnv('first-admin-');
    const plain = { ...env, HAVEN_DEMO: '0' };
    const first = launch(plain); // the data directory, its keys and database, no accounts
    await waitForHealth(Number(env.PORT), first);
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    const checkpointLines = () =>
      readFileSync(join(dataDir, 'checkpoints', 'checkpoints.jsonl'), 'utf8')
        .split('\n')
        .filter(Boolean).length;
    const signedByService = checkpointLines();
    expect(signedByService).toBeGreaterThan(0);

    // As README shows it: the demo's default (HAVEN_DEMO unset) does not make the tool seed the demo.
    const createAdmin = (password: string, username = 'quan.tri') => {
      const run = launch({ ...env, LOG_LEVEL: 'warn' }, CREATE_ADMIN_CLI, ['--username', username]);
      run.child.stdin.end(`${password}\n`);
      return run;
    };
    const weak = createAdmin('short');
    expect(await weak.exited).toBe(65);
    expect(weak.output()).toMatch(/refused: password/);
    expect(weak.output()).not.toMatch(/failed:/);
    const made = createAdmin('an-initial-passphrase-2026');
    expect(await made.exited).toBe(0);
    expect(made.output()).toMatch(/Created the administrator quan\.tri/);
    expect(made.output()).not.toContain('an-initial-passphrase-2026');
    // The tools sign no checkpoint: the service is the file's one writer (its next checkpoint covers them).
    expect(checkpointLines()).toBe(signedByService);
    const pgPort = Number(env.HAVEN_EMBEDDED_PG_PORT);
    const service = launch(plain);
    try {
      await waitForHealth(Number(env.PORT), service);
      // While the service runs, the tool works on its database too: and finds the administrator made.
      const again = createAdmin('another-initial-passphrase-2026', 'quan.tri.2');
      expect(await again.exited).toBe(65);
      expect(again.output()).toMatch(/An active administrator exists/);
      const res = await fetch(`http://127.0.0.1:${env.PORT}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'quan.tri', password: 'an-initial-passphrase-2026' }),
      });
      expect(res.status).toBe(200);
      // Its own password and two-factor first, as for any account an administrator creates.
      expect(await res.json()).toMatchObject({ passwordChangeRequired: true, totpEnrollmentRequired: true });
      const entry = await asSuperuser<{ actor_id: string | null; reason: string }>(
        dataDir,
        pgPort,
        `SELECT actor_id, reason FROM audit_events WHERE action = 'user.create' AND outcome = 'allowed'`,
      );
      expect(entry).toEqual({ actor_id: null, reason: 'user.created_by_operator' });
      // The two refused runs are on record too, each with its reason.
      const refused = await asSuperuser<{ reasons: string }>(
        dataDir,
        pgPort,
        `SELECT string_agg(reason, ' ' ORDER BY seq) AS reasons FROM audit_events
          WHERE action = 'user.create' AND outcome = 'denied'`,
      );
      expect(refused).toEqual({ reasons: 'user.password_weak conflict.state' });
      const accounts = await asSuperuser<{ n: number }>(
        dataDir,
        pgPort,
        `SELECT count(*)::int AS n FROM users`,
      );
      expect(accounts.n).toBe(1);
      // The sole administrator locked out (a lost authenticator): the operator puts it right, the same way.
      const reset = launch({ ...env, LOG_LEVEL: 'warn' }, RESET_ADMIN_CLI, ['--username', 'quan.tri']);
      reset.child.stdin.end('a-reset-passphrase-2026\n');
      expect(await reset.exited).toBe(0);
      expect(reset.output()).toMatch(/Reset the administrator quan\.tri/);
      expect(reset.output()).not.toContain('a-reset-passphrase-2026');
      const signIn = (password: string) =>
        fetch(`http://127.0.0.1:${env.PORT}/api/v1/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ username: 'quan.tri', password }),
        });
      expect((await signIn('an-initial-passphrase-2026')).status).toBe(401);
      expect((await signIn('a-reset-passphrase-2026')).status).toBe(200);
    } finally {
      service.child.kill('SIGTERM');
      expect(await service.exited).toBe(0);
    }
  });

  it('keeps running when the launcher that forked it into the background exits; under npm it stops with npm', async () => {
    for (const underNpm of [false, true]) {
      const { dataDir, env } = await embeddedEnv(underNpm ? 'orphan-npm-' : 'orphan-');
      const vars = { ...env, ...(underNpm ? { npm_lifecycle_event: 'start' } : {}) };
      const log = join(dataDir, 'service.log');
      // A shell starts the service in the background, says its pid, waits (60 s at most) until it serves, and
      // exits: 0 once it served, 1 if it never did (its log then says why).
      const script =
        `"${process.execPath}" "${MAIN}" >"${log}" 2>&1 & echo $!; i=0; ` +
        `until "${process.execPath}" -e "fetch('http://127.0.0.1:${env.PORT}/health')` +
        `.then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"; do ` +
        `i=$((i+1)); [ $i -ge 300 ] && exit 1; sleep 0.2; done`;
      const shell = spawn('sh', ['-c', script], {
        env: { PATH: process.env.PATH ?? '', NODE_ENV: 'development', ...vars },
      });
      let out = '';
      shell.stdout.on('data', (c: Buffer) => (out += c.toString()));
      const [code] = (await once(shell, 'exit')) as [number | null];
      const pid = Number.parseInt(out.trim(), 10);
      if (code !== 0) {
        if (alive(pid)) process.kill(pid, 'SIGTERM');
        throw new Error(`the service never served:\n${await readFile(log, 'utf8').catch(() => '(no log)')}`);
      }
      try {
        expect(await readFile(log, 'utf8')).toContain(`Haven listening on http://127.0.0.1:${env.PORT}"`);
        let gone = false;
        for (let i = 0; i < 100 && !gone; i++) {
          await new Promise((r) => setTimeout(r, 100));
          gone = !alive(pid);
        }
        // Ten seconds: the parent check runs every second, and a stop takes a few.
        expect(gone).toBe(underNpm);
      } finally {
        // Not a child of this test (launchedPerTest cannot stop it): stopped here, whatever happened above.
        if (alive(pid)) process.kill(pid, 'SIGTERM');
        for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
        if (alive(pid)) {
          process.kill(pid, 'SIGKILL');
          const postmaster = await readFile(join(dataDir, 'postgres', 'postmaster.pid'), 'utf8').catch(
            () => '',
          );
          const pgPid = Number.parseInt(postmaster.split('\n')[0], 10);
          if (pgPid > 0 && alive(pgPid)) process.kill(pgPid, 'SIGQUIT');
        }
      }
    }
  });

  it('starts over a lock file whose pid is now another program (after a reboot), not over a running server', async () => {
    const { dataDir, env } = await embeddedEnv('stale-pid-');
    const first = launch(env);
    await waitForHealth(Number(env.PORT), first);
    // While it runs, a second start is refused, saying what to do.
    const second = launch({ ...env, PORT: String(await freePort()) });
    expect(await second.exited).toBe(1);
    expect(second.output()).toMatch(
      /PostgreSQL \(pid \d+\) is already running .*If the service is running, stop it first/s,
    );
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    // A lock file naming a live process that is not PostgreSQL (this test's own).
    await writeFile(
      join(dataDir, 'postgres', 'postmaster.pid'),
      `${process.pid}\n${join(dataDir, 'postgres')}\n`,
    );
    const again = launch(env);
    await waitForHealth(Number(env.PORT), again);
    expect(again.output()).toMatch(/removing a stale .*postmaster\.pid/);
    again.child.kill('SIGTERM');
    expect(await again.exited).toBe(0);
    // A lock file naming a PostgreSQL of another cluster (the system's, after a reboot): not this one's server,
    // so not a reason to refuse, nor to tell the operator to stop it.
    const stranger = spawn(
      process.execPath,
      ['-e', 'setTimeout(() => {}, 60000)', '--', '-D', '/var/lib/postgresql/18/main'],
      { argv0: 'postgres', stdio: 'ignore' },
    );
    try {
      await writeFile(
        join(dataDir, 'postgres', 'postmaster.pid'),
        `${stranger.pid}\n${join(dataDir, 'postgres')}\n`,
      );
      const third = launch(env);
      await waitForHealth(Number(env.PORT), third);
      expect(third.output()).toMatch(
        new RegExp(`removing a stale .*postmaster\\.pid: its pid ${stranger.pid}`),
      );
      third.child.kill('SIGTERM');
      expect(await third.exited).toBe(0);
    } finally {
      stranger.kill();
    }
  });

  it('stops (exit 1, saying why) when its embedded PostgreSQL is killed, and starts again over what it left', async () => {
    const { dataDir, env } = await embeddedEnv('pg-killed-');
    const first = launch({ ...env, HAVEN_DEMO: '0' });
    await waitForHealth(Number(env.PORT), first);
    const pgPid = Number.parseInt(
      (await readFile(join(dataDir, 'postgres', 'postmaster.pid'), 'utf8')).split('\n')[0],
      10,
    );
    process.kill(pgPid, 'SIGKILL'); // as the kernel's out-of-memory killer would
    expect(await first.exited).toBe(1);
    expect(first.output()).toMatch(/"level":"fatal".*the embedded PostgreSQL stopped unexpectedly/);
    // What it left (a lock file, shared memory let go): the next start recovers the cluster and serves.
    await servesThenStops({ ...env, HAVEN_DEMO: '0' });
  });

  it('a cluster whose password file is lost or replaced is refused at once, saying so, and nothing is made anew', async () => {
    const { dataDir, env } = await embeddedEnv('pg-secret-');
    await servesThenStops({ ...env, HAVEN_DEMO: '0' });
    const secretFile = join(dataDir, 'postgres.secret');
    const secret = await readFile(secretFile, 'utf8');
    // Restored without the file: a configuration to correct (78), and no new password made for the cluster.
    await rm(secretFile);
    const lost = launch({ ...env, HAVEN_DEMO: '0' });
    expect(await lost.exited).toBe(78);
    expect(lost.output()).toMatch(/the embedded cluster exists but its superuser password file .* does not/);
    expect(existsSync(secretFile)).toBe(false);
    // Another cluster's password: refused by the server, said at once rather than after a minute of retries.
    await writeFile(secretFile, `${randomBytes(24).toString('base64url')}\n`, { mode: 0o600 });
    const started = Date.now();
    const wrong = launch({ ...env, HAVEN_DEMO: '0' });
    expect(await wrong.exited).toBe(1);
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(wrong.output()).toMatch(/refuses the superuser password kept in HAVEN_DATA_DIR \(28P01\)/);
    // The right one, readable by others (a restore that lost the modes): refused as a keyring would be.
    await writeFile(secretFile, secret);
    await chmod(secretFile, 0o644);
    const exposed = launch({ ...env, HAVEN_DEMO: '0' });
    expect(await exposed.exited).toBe(78);
    expect(exposed.output()).toMatch(/postgres\.secret is accessible by group or others; run: chmod 600/);
    // Mended: it starts.
    await chmod(secretFile, 0o600);
    await servesThenStops({ ...env, HAVEN_DEMO: '0' });
  });

  it('refuses to start a second server on a data directory whose socket answers (a server in another container)', async () => {
    const { dataDir, env } = await embeddedEnv('socket-answers-');
    await servesThenStops({ ...env, HAVEN_DEMO: '0' });
    // The other container's server: its lock file's pid means nothing here (another pid namespace: here a live
    // process that is not PostgreSQL, this test's own), its socket in the shared directory answers.
    const lockFile = join(dataDir, 'postgres', 'postmaster.pid');
    const lock = `${process.pid}\n${join(dataDir, 'postgres')}\n`;
    await writeFile(lockFile, lock);
    const other = createNetServer(() => undefined).listen(join(dataDir, 'run', '.s.PGSQL.5432'));
    await once(other, 'listening');
    try {
      const second = launch({ ...env, HAVEN_DEMO: '0' });
      expect(await second.exited).toBe(1);
      expect(second.output()).toMatch(
        /PostgreSQL \(pid \d+\) is already running on .*its socket .*\.s\.PGSQL\.5432 answers/s,
      );
      // Its lock file left as it was: removed, the running server would shut itself down within a minute.
      expect(await readFile(lockFile, 'utf8')).toBe(lock);
    } finally {
      other.close();
      await once(other, 'close');
    }
    // Gone: the next start goes ahead over what it left.
    await servesThenStops({ ...env, HAVEN_DEMO: '0' });
  });

  it('migrations revert names the migration and the database, and does nothing without --yes naming it', async () => {
    const db = await createTestDatabase(); // migrated
    try {
      const env = { DATABASE_URL: db.url, LOG_LEVEL: 'warn' };
      const asked = launch(env, MIGRATIONS_CLI, ['revert']);
      expect(await asked.exited).toBe(64);
      const last = new MIGRATIONS[MIGRATIONS.length - 1]().name; // the newest
      expect(asked.output()).toContain(`This reverts ${last} on database `);
      expect(asked.output()).toMatch(/ on database \w+ at \S+:\d+ /);
      // What the revert takes away, said before it is confirmed.
      expect(asked.output()).toContain(
        REVERT_LOSES[last] ? `it drops ${REVERT_LOSES[last]}` : 'it drops no table or column',
      );
      const count = async () => {
        const client = new Client({ connectionString: db.url });
        await client.connect();
        try {
          return (await client.query<{ n: number }>('SELECT count(*)::int AS n FROM migrations')).rows[0].n;
        } finally {
          await client.end();
        }
      };
      expect(asked.output()).toContain(`Run again with --yes ${last} `);
      const before = await count();
      // A yes names what it confirms: bare, or naming another than the last, nothing is reverted.
      const bare = launch(env, MIGRATIONS_CLI, ['revert', '--yes']);
      expect(await bare.exited).toBe(64);
      const other = launch(env, MIGRATIONS_CLI, ['revert', '--yes', 'SomethingOlder1764000000000']);
      expect(await other.exited).toBe(75);
      expect(other.output()).toContain(`is ${last}, not the one named: nothing reverted`);
      expect(await count()).toBe(before);
      const done = launch(env, MIGRATIONS_CLI, ['revert', '--yes', last]);
      expect(await done.exited).toBe(0);
      expect(done.output()).toContain(`reverted ${last} on database`);
      expect(await count()).toBe(before - 1);
      // A tool run now applies it again before its work, and says so (not only the service, silently).
      const units = join(__dirname, 'fixtures', 'vn-admin-units-sample.json');
      const imported = launch(env, UNITS_IMPORT_CLI, [units]);
      expect(await imported.exited).toBe(0);
      expect(imported.output()).toContain(
        `The database lacked migrations of this build; applied first: ${last}`,
      );
      expect(await count()).toBe(before);
      const again = launch(env, UNITS_IMPORT_CLI, [units]);
      expect(await again.exited).toBe(0);
      expect(again.output()).not.toContain('applied first');
      // So does keys:rotate (it rotated on the old schema).
      const reverted = launch(env, MIGRATIONS_CLI, ['revert', '--yes', last]);
      expect(await reverted.exited).toBe(0);
      const rotated = launch(
        { ...env, HAVEN_MASTER_KEY: randomBytes(32).toString('base64') },
        KEYS_ROTATE_CLI,
      );
      expect(await rotated.exited).toBe(0);
      expect(rotated.output()).toContain(
        `The database lacked migrations of this build; applied first: ${last}`,
      );
      expect(await count()).toBe(before);
      // A migration of a newer build than this one: shown as unknown, and `run` warns that the database is ahead.
      const client = new Client({ connectionString: db.url });
      await client.connect();
      try {
        await client.query(
          `INSERT INTO migrations (timestamp, name) VALUES (1999999999999, 'FromANewerRelease1999999999999')`,
        );
      } finally {
        await client.end();
      }
      const shown = launch(env, MIGRATIONS_CLI, ['show']);
      expect(await shown.exited).toBe(0);
      expect(shown.output()).toContain(`[x] ${last}`);
      expect(shown.output()).toContain('[?] FromANewerRelease1999999999999 (applied, unknown to this build)');
      const run = launch(env, MIGRATIONS_CLI, ['run']);
      expect(await run.exited).toBe(0);
      expect(run.output()).toContain('up to date');
      expect(run.output()).toContain(
        'the database is ahead of this build: FromANewerRelease1999999999999 applied, unknown here',
      );
    } finally {
      await db.drop();
    }
  });

  it('units:import loads the official list (a byte-order mark included) and refuses a malformed file (exit 65)', async () => {
    const { dataDir, env } = await embeddedEnv('units-');
    const sample = await readFile(join(__dirname, 'fixtures', 'vn-admin-units-sample.json'), 'utf8');
    const files = await mkdtemp(join(process.env.HAVEN_TEST_ROOT!, 'units-files-'));
    const withBom = join(files, 'units-bom.json');
    await writeFile(withBom, `\uFEFF${sample}`);
    // Before the service's first start there is no cluster to import into: refused (a mistyped
    // HAVEN_DATA_DIR would otherwise get a new, empty one), and nothing is created.
    const early = launch({ ...env, LOG_LEVEL: 'warn' }, UNITS_IMPORT_CLI, [withBom]);
    expect(await early.exited).toBe(78);
    expect(early.output()).toMatch(/HAVEN_DATA_DIR .*no embedded database at .*its first start creates it/s);
    expect(early.output()).not.toMatch(/no keyring/); // an import needs no keys
    const migrate = launch({ ...env, LOG_LEVEL: 'warn' }, MIGRATIONS_CLI, ['run']);
    expect(await migrate.exited).toBe(78);
    expect(migrate.output()).toMatch(/no embedded database at /);
    expect(await readdir(dataDir)).toEqual([]);

    await servesThenStops({ ...env, HAVEN_DEMO: '0' });
    const imported = launch({ ...env, LOG_LEVEL: 'warn' }, UNITS_IMPORT_CLI, [withBom]);
    expect(await imported.exited).toBe(0);
    expect(imported.output()).toMatch(/provinces: 3 inserted/);
    // A file that renames a commune: a dry run lists the change and writes nothing; the import then makes it.
    const renamed = join(files, 'units-renamed.json');
    const units = JSON.parse(sample) as { Wards: { Code: string; Name: string }[] }[];
    const ward = units[0].Wards[0];
    const oldName = ward.Name;
    ward.Name = `${oldName} Mới`;
    await writeFile(renamed, JSON.stringify(units));
    const change = `${ward.Code} name_vi: ${JSON.stringify(oldName)} -> ${JSON.stringify(ward.Name)}`;
    for (const [args, said] of [
      [['--dry-run', renamed], /dry run: nothing was written/],
      [['--dry-run', renamed], /communes: 0 inserted, 1 updated/], // still not written
      [[renamed], /communes: 0 inserted, 1 updated/],
    ] as const) {
      const run = launch({ ...env, LOG_LEVEL: 'warn' }, UNITS_IMPORT_CLI, [...args]);
      expect(await run.exited).toBe(0);
      expect(run.output()).toMatch(said);
      expect(run.output()).toContain(change);
    }
    const again = launch({ ...env, LOG_LEVEL: 'warn' }, UNITS_IMPORT_CLI, ['--dry-run', renamed]);
    expect(await again.exited).toBe(0);
    expect(again.output()).not.toContain(change);
    const usage = launch({ ...env, LOG_LEVEL: 'warn' }, UNITS_IMPORT_CLI, ['--dry', renamed]);
    expect(await usage.exited).toBe(64);
    const broken = join(files, 'units-broken.json');
    await writeFile(broken, sample.slice(0, 200));
    const refused = launch({ ...env, LOG_LEVEL: 'warn' }, UNITS_IMPORT_CLI, [broken]);
    expect(await refused.exited).toBe(65);
  });

  it('says why it cannot listen, and warns of a master key file others may read', async () => {
    const db = await createTestDatabase();
    const dataDir = await mkdtemp(join(process.env.HAVEN_TEST_ROOT!, 'listen-'));
    const keyFile = join(dataDir, 'master.key');
    await writeFile(keyFile, randomBytes(32).toString('base64'), { mode: 0o644 });
    // Another process holds the port and answers /health: the tests' wait for a launched service must not
    // take its answer for the service's (see waitForHealth).
    const squatter = createServer((_req, res) => res.end('{"status":"ok"}')).listen(0, '127.0.0.1');
    await once(squatter, 'listening');
    const port = (squatter.address() as { port: number }).port;
    try {
      const env = { DATABASE_URL: db.url, HAVEN_DATA_DIR: dataDir, HAVEN_MASTER_KEY_FILE: keyFile };
      // A misspelled variable (HAVEN_TRUST_PROXY) is named at start, not silently without effect.
      const taken = launch({ ...env, PORT: String(port), HAVEN_TRUST_PROXYS: '10.0.0.1' });
      await expect(waitForHealth(port, taken)).rejects.toThrow(/service exited early/);
      expect(await taken.exited).toBe(1);
      expect(taken.output()).toContain('HAVEN_TRUST_PROXYS: not a variable Haven reads (misspelled?)');
      expect(taken.output()).toContain(
        `Haven cannot listen on 127.0.0.1:${port} (EADDRINUSE): check HOST and PORT`,
      );
      // Found before anything starts: with the embedded database, its first start (which prints the demo's
      // password once) has not run, and the next start on a free port is a first start still.
      const fresh = await mkdtemp(join(process.env.HAVEN_TEST_ROOT!, 'listen-fresh-'));
      const first = launch({ HAVEN_DATA_DIR: fresh, PORT: String(port) });
      expect(await first.exited).toBe(1);
      expect(first.output()).toContain(`Haven cannot listen on 127.0.0.1:${port} (EADDRINUSE)`);
      expect(await readdir(fresh)).toEqual([]);
      // On a free port it starts, and warns of the key file others may read.
      const free = await freePort();
      const served = launch({ ...env, PORT: String(free) });
      await waitForHealth(free, served);
      expect(served.output()).toMatch(/HAVEN_MASTER_KEY_FILE is readable by its group or by others/);
      served.child.kill('SIGTERM');
      expect(await served.exited).toBe(0);
    } finally {
      squatter.close();
      await db.drop();
    }
  });

  it('refuses to start on bad configuration, naming the variable', async () => {
    const run = launch({ PORT: 'not-a-port', HAVEN_EMBEDDED_PG_PORT: '70000' });
    expect(await run.exited).toBe(78);
    expect(run.output()).toMatch(/PORT/);
    expect(run.output()).toMatch(/HAVEN_EMBEDDED_PG_PORT/);
    // The command-line tools alike (EX_CONFIG).
    const migrations = launch({ HAVEN_EMBEDDED_PG_PORT: '70000' }, MIGRATIONS_CLI, ['show']);
    expect(await migrations.exited).toBe(78);
    expect(migrations.output()).toMatch(/HAVEN_EMBEDDED_PG_PORT/);
    // A mistyped flag is a usage error (EX_USAGE), as a missing one is, with the usage.
    for (const args of [
      ['--user', 'quan.tri'],
      ['quan.tri'],
      ['--username', 'quan.tri', 'ZZSecret-typed-here'],
    ]) {
      const mistyped = launch({}, CREATE_ADMIN_CLI, args);
      expect(await mistyped.exited).toBe(64);
      expect(mistyped.output()).toMatch(/--username/);
      // What was typed is not echoed (a password typed on the command line, say).
      expect(mistyped.output()).not.toContain('ZZSecret');
    }
  });

  it('refuses to start in production without explicit keys', async () => {
    const run = launch({ NODE_ENV: 'production', DATABASE_URL: 'postgres://u:p@127.0.0.1:1/x' });
    expect(await run.exited).toBe(78);
    expect(run.output()).toMatch(/HAVEN_MASTER_KEY/);
  });

  it('refuses unusable keys and an over-privileged runtime role as configuration (exit 78, at once)', async () => {
    const db = await createTestDatabase();
    const dataDir = await mkdtemp(join(process.env.HAVEN_TEST_ROOT!, 'bad-config-'));
    try {
      const base = { DATABASE_URL: db.url, HAVEN_DATA_DIR: dataDir, PORT: String(await freePort()) };
      const shortKey = launch({ ...base, HAVEN_MASTER_KEY: 'c2hvcnQ' });
      expect(await shortKey.exited).toBe(78);
      expect(shortKey.output()).toMatch(/Haven cannot start\. .*HAVEN_MASTER_KEY/);
      expect(shortKey.output()).not.toContain('c2hvcnQ');
      // The superuser as the runtime role: refused once, not retried for half a minute.
      const started = Date.now();
      const superuser = launch({ ...base, DATABASE_APP_URL: db.url });
      expect(await superuser.exited).toBe(78);
      expect(superuser.output()).toMatch(
        /DATABASE_APP_URL: the runtime database role postgres is \(or may become, with SET ROLE\) a superuser/,
      );
      expect(Date.now() - started).toBeLessThan(15_000);
    } finally {
      await db.drop();
    }
  });
});
