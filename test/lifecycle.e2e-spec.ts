import { ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Client } from 'pg';
import { createTestDatabase } from './support/database';

// Runs the built service (dist/, made by `npm test`'s pretest build) as a real process, as `npm start` does.
const MAIN = join(__dirname, '..', 'dist', 'src', 'main.js');

interface Running {
  child: ChildProcessWithoutNullStreams;
  output: () => string;
  exited: Promise<number | null>;
}

function launch(env: Record<string, string>): Running {
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'development', LOG_LEVEL: 'info', ...env },
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

async function waitForHealth(port: number, run: Running, timeoutMs = 30000): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    if (run.child.exitCode !== null) throw new Error(`service exited early:\n${run.output()}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/health`);
      if (res.status === 200) return Date.now() - started;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no /health within ${timeoutMs} ms:\n${run.output()}`);
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function countUnits(dataDir: string, pgPort: number): Promise<number> {
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
    const res = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM admin_units');
    return res.rows[0].n;
  } finally {
    await client.end();
  }
}

describe('service process lifecycle (npm start)', () => {
  jest.setTimeout(120000);

  it('starts an embedded PostgreSQL, seeds demo units, stops cleanly on SIGTERM/SIGINT and reuses the data', async () => {
    const dataDir = await mkdtemp(join(process.env.HAVEN_TEST_ROOT!, 'lifecycle-'));
    const env = {
      HAVEN_DATA_DIR: dataDir,
      PORT: String(await freePort()),
      HAVEN_EMBEDDED_PG_PORT: String(await freePort()),
    };

    const first = launch(env);
    await waitForHealth(Number(env.PORT), first);
    expect(first.output()).toContain('demo data seeded');
    const pgPid = Number.parseInt(
      (await readFile(join(dataDir, 'postgres', 'postmaster.pid'), 'utf8')).split('\n')[0],
      10,
    );
    expect(alive(pgPid)).toBe(true);
    const units = await countUnits(dataDir, Number(env.HAVEN_EMBEDDED_PG_PORT));
    expect(units).toBeGreaterThanOrEqual(7);

    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    expect(first.output()).toContain('stopped cleanly');
    expect(alive(pgPid)).toBe(false);
    expect(existsSync(join(dataDir, 'postgres', 'postmaster.pid'))).toBe(false);

    // Second start: same cluster, no re-seed, same data.
    const second = launch(env);
    await waitForHealth(Number(env.PORT), second);
    expect(second.output()).not.toContain('demo data seeded');
    expect(await countUnits(dataDir, Number(env.HAVEN_EMBEDDED_PG_PORT))).toBe(units);
    second.child.kill('SIGINT');
    expect(await second.exited).toBe(0);
    expect(existsSync(join(dataDir, 'postgres', 'postmaster.pid'))).toBe(false);
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

  it('refuses to start on bad configuration, naming the variable', async () => {
    const run = launch({ PORT: 'not-a-port', HAVEN_EMBEDDED_PG_PORT: '70000' });
    expect(await run.exited).toBe(78);
    expect(run.output()).toMatch(/PORT/);
    expect(run.output()).toMatch(/HAVEN_EMBEDDED_PG_PORT/);
  });

  it('refuses to start in production without explicit keys', async () => {
    const run = launch({ NODE_ENV: 'production', DATABASE_URL: 'postgres://u:p@127.0.0.1:1/x' });
    expect(await run.exited).toBe(78);
    expect(run.output()).toMatch(/HAVEN_MASTER_KEY/);
  });
});
