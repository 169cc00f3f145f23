import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Client } from 'pg';
import { createServer } from 'node:net';
import { toolDatabase } from '../src/cli/data-dir';
import { loadConfig } from '../src/config/config';
import { embeddedServer } from '../src/database/embedded-database';
import { EmbeddedPostgres } from '../src/database/embedded-postgres';
import { freePort } from './support/process';
import { waitFor } from './support/wait';

/**
 * The embedded server's Unix socket when it cannot be used: the server still starts, on TCP only, and says why
 * (a data directory on a file system without sockets must not stop a demo). The socket's normal use is in
 * test/lifecycle.e2e-spec.ts.
 */
describe('embedded PostgreSQL without a usable socket directory', () => {
  jest.setTimeout(60000);
  let root: string;
  let port: number;

  beforeAll(async () => {
    root = await mkdtemp(join(process.env.HAVEN_TEST_ROOT!, 'socket-'));
    port = await freePort();
  });

  /** A server of the one cluster, on this describe's port, with its socket in `socketDir`. */
  const clusterServer = (
    socketDir: string,
    more: { password?: string; onLog?: (line: string) => void } = {},
  ): EmbeddedPostgres =>
    new EmbeddedPostgres({
      clusterDir: join(root, 'postgres'),
      socketDir,
      port,
      password: more.password ?? 'test-only-superuser',
      settings: { fsync: 'off' },
      onLog: more.onLog,
    });

  /** Starts a server on the one cluster, runs a query through url(), stops it; what it logged and where it was. */
  async function startOnce(
    socketDir = join(root, 'run'),
  ): Promise<{ log: string[]; socket: string | undefined; host: unknown }> {
    const log: string[] = [];
    const pg = clusterServer(socketDir, { onLog: (line) => log.push(line) });
    await pg.start();
    try {
      const client = new Client({ connectionString: pg.url('postgres') });
      await client.connect();
      try {
        const { rows } = await client.query<{ unix: boolean }>(`SELECT inet_client_addr() IS NULL AS unix`);
        return { log, socket: pg.socketDir(), host: rows[0].unix ? 'socket' : 'tcp' };
      } finally {
        await client.end();
      }
    } finally {
      await pg.stop();
    }
  }

  it('runs the server without the service’s secrets in its environment', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, {
      HAVEN_MASTER_KEY: 'marker-master-key-zq',
      HAVEN_MASTER_KEY_FILE: '/marker-zq/keyring.json',
      DATABASE_URL: 'postgres://marker-zq@127.0.0.1/haven',
    });
    const pg = clusterServer(join(root, 'run-env')); // the tests below need `run` not to exist
    try {
      await pg.start();
      const pid = (await readFile(join(root, 'postgres', 'postmaster.pid'), 'utf8')).split('\n')[0];
      const environ = (await readFile(`/proc/${pid}/environ`, 'utf8')).split('\0');
      expect(environ.filter((v) => v.includes('marker-zq'))).toEqual([]);
      expect(environ).toContain('LC_MESSAGES=C');
      expect(environ.some((v) => v.startsWith('PATH='))).toBe(true);
    } finally {
      process.env = saved;
      await pg.stop();
      await rm(join(root, 'run-env'), { recursive: true, force: true });
    }
  });

  it('uses TCP when the socket directory cannot be made (a file in its place)', async () => {
    await writeFile(join(root, 'run'), 'not a directory');
    const run = await startOnce();
    expect(run.socket).toBeUndefined();
    expect(run.host).toBe('tcp');
    expect(run.log.join('\n')).toMatch(/Unix socket not used, TCP on 127\.0\.0\.1 instead: cannot prepare/);
    await rm(join(root, 'run'));
  });

  it('starts again on TCP when the server refuses the socket directory (a lock file it cannot open)', async () => {
    await mkdir(join(root, 'run'), { mode: 0o700 });
    const lock = join(root, 'run', `.s.PGSQL.${port}.lock`);
    await writeFile(lock, '1\n');
    await chmod(lock, 0o000);
    const run = await startOnce();
    expect(run.socket).toBeUndefined();
    expect(run.host).toBe('tcp');
    expect(run.log.join('\n')).toMatch(
      /Unix socket not used, TCP on 127\.0\.0\.1 instead: the server could not use/,
    );
    await rm(lock);
  });

  it('says so when the socket directory’s path is too long for a socket address, and uses TCP', async () => {
    const run = await startOnce(join(root, 'a-socket-directory-whose-path-is-far-too-long-'.repeat(3)));
    expect(run.socket).toBeUndefined();
    expect(run.host).toBe('tcp');
    expect(run.log.join('\n')).toMatch(
      /Unix socket not used, TCP on 127\.0\.0\.1 instead: its path .* is too long/,
    );
  });

  it('uses the socket again once the directory is usable', async () => {
    const run = await startOnce();
    expect(run.socket).toBe(join(root, 'run'));
    expect(run.host).toBe('socket');
    expect(run.log.join('\n')).not.toMatch(/Unix socket not used/);
  });

  it("a tool speaks TCP only to this cluster's server listening there: the superuser's password goes to no one else on the port", async () => {
    /** An operator tool's configuration for data directory `dir` (its superuser's password file written). */
    const toolConfig = async (dir: string) => {
      await writeFile(join(dir, 'postgres.secret'), 'superuser-secret-zq\n', { mode: 0o600 });
      return loadConfig({ HAVEN_DATA_DIR: dir, HAVEN_EMBEDDED_PG_PORT: String(port) });
    };
    // Whoever listens on the loopback port while no server of the cluster runs (any local user may), asking
    // for the password in clear as PostgreSQL may.
    const heard: Buffer[] = [];
    const impostor = createServer((socket) => {
      socket.once('data', () => socket.write(Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 3])));
      socket.on('data', (d) => heard.push(d));
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => impostor.listen(port, '127.0.0.1', resolve));
    const config = await toolConfig(await mkdtemp(join(root, 'tool-')));
    const pg = embeddedServer(config, 'superuser-secret-zq');
    try {
      expect(await pg.listensOnTcp()).toBe(false);
      // No cluster there: the tool says so, having asked the impostor nothing.
      await expect(toolDatabase(config)).rejects.toThrow(/no embedded database/);
      expect(Buffer.concat(heard).toString('latin1')).not.toContain('superuser-secret-zq');
      expect(heard).toEqual([]);
    } finally {
      await new Promise((resolve) => impostor.close(resolve));
    }
    // Nor where the data directory's path allows no socket (TCP is all there is then), nor when a server's own
    // start finds the port taken: it fails to listen and says so; nothing asked over TCP meanwhile.
    const longDir = await mkdtemp(
      join(root, 'a-data-directory-whose-path-is-far-too-long-for-a-socket-'.repeat(2)),
    );
    const socketless = await toolConfig(longDir);
    expect(embeddedServer(socketless, 'superuser-secret-zq').socketDir()).toBeUndefined();
    await new Promise<void>((resolve) => impostor.listen(port, '127.0.0.1', resolve));
    try {
      await expect(toolDatabase(socketless)).rejects.toThrow(/no embedded database/);
      const starting = clusterServer(join(longDir, 'run'), { password: 'superuser-secret-zq' });
      await expect(starting.start()).rejects.toThrow(/exited during start-up/);
      expect(heard).toEqual([]);
    } finally {
      await new Promise((resolve) => impostor.close(resolve));
    }
    // A server of the cluster listening on TCP (its socket directory unusable) is reached there.
    await writeFile(join(root, 'run-file'), 'not a directory');
    const server = clusterServer(join(root, 'run-file'));
    await server.start();
    try {
      expect(await server.listensOnTcp()).toBe(true);
      // As its own start asks: its child's pid, and a lock file written since the spawn (a stale one, left by a
      // killed server whose pid the new child happens to have, is not its own yet).
      expect(await server.listensOnTcp({ pid: server.pid, since: 0 })).toBe(true);
      expect(await server.listensOnTcp({ pid: server.pid, since: Math.floor(Date.now() / 1000) + 60 })).toBe(
        false,
      );
      expect(await server.listensOnTcp({ pid: undefined, since: 0 })).toBe(false);
    } finally {
      await server.stop();
      await rm(join(root, 'run-file'));
    }
    expect(await server.listensOnTcp()).toBe(false);
  });
});

describe('embedded PostgreSQL start-up', () => {
  jest.setTimeout(60000);

  it("keeps what statements were sent out of PostgreSQL's own log: it records fatal events only", async () => {
    const root = await mkdtemp(join(process.env.HAVEN_TEST_ROOT!, 'quiet-log-'));
    const log: string[] = [];
    const pg = new EmbeddedPostgres({
      clusterDir: join(root, 'postgres'),
      port: await freePort(),
      password: 'test-only-superuser',
      settings: { fsync: 'off' },
      onLog: (line) => log.push(line),
    });
    await pg.start();
    try {
      const client = new Client({ connectionString: pg.url('postgres') });
      const victim = new Client({ connectionString: pg.url('postgres') });
      await client.connect();
      await victim.connect();
      victim.on('error', () => undefined);
      try {
        // Errors that quote what was sent: a bad value, a duplicate key, a syntax error, a raised message.
        await client.query(`CREATE TABLE t (k text PRIMARY KEY)`);
        await client.query(`INSERT INTO t VALUES ('MARK-dup')`);
        for (const sql of [
          `SELECT 'MARK-uuid'::uuid`,
          `INSERT INTO t VALUES ('MARK-dup')`,
          `SELECT MARK-syntax FROM`,
          `DO $$ BEGIN RAISE EXCEPTION 'MARK-raised'; END $$`,
        ]) {
          await expect(client.query(sql)).rejects.toThrow();
        }
        // A fatal event is logged (the log is read): a connection ended by an administrator.
        const [{ pid }] = (await victim.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows;
        await client.query('SELECT pg_terminate_backend($1)', [pid]);
        await waitFor(() => log.some((l) => /FATAL: +terminating connection/.test(l)), 10_000);
      } finally {
        await client.end();
        await victim.end().catch(() => undefined);
      }
    } finally {
      await pg.stop();
    }
    expect(log.filter((l) => l.includes('MARK-'))).toEqual([]);
  });

  it('waits past its start timeout while the server says it is starting up (a long crash recovery)', async () => {
    const root = await mkdtemp(join(process.env.HAVEN_TEST_ROOT!, 'recovering-'));
    const cluster = {
      clusterDir: join(root, 'postgres'),
      port: await freePort(),
      password: 'test-only-superuser',
      settings: { fsync: 'off' },
    };
    // The cluster made with the usual timeout (a first start creates it, which takes its time on a busy machine).
    const first = new EmbeddedPostgres(cluster);
    await first.start();
    await first.stop();
    const pg = new EmbeddedPostgres({ ...cluster, startTimeoutMs: 150 });
    // For a while after the next start, every connection hears "the database system is starting up".
    const connect = Client.prototype.connect as unknown as (this: Client) => Promise<void>;
    let recoveringUntil = Number.POSITIVE_INFINITY;
    const starting = (): Promise<void> =>
      Promise.reject(Object.assign(new Error('the database system is starting up'), { code: '57P03' }));
    const spy = jest
      .spyOn(Client.prototype as unknown as { connect: (this: Client) => Promise<void> }, 'connect')
      .mockImplementation(function (this: Client) {
        return Date.now() < recoveringUntil ? starting() : connect.call(this);
      });
    try {
      const started = pg.start();
      recoveringUntil = Date.now() + 600; // four times the start timeout
      await started;
      expect(spy.mock.calls.length).toBeGreaterThan(1);
    } finally {
      spy.mockRestore();
      await pg.stop();
      await rm(root, { recursive: true, force: true });
    }
  });
});
