import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { createFileExclusive } from '../common/fs/durable-file';
import { openToOthers } from '../common/fs/private-file';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { ConfigError, type AppConfig } from '../config/config';
import { EmbeddedPostgres } from './embedded-postgres';

export const APP_DATABASE = 'haven';

export interface RunningDatabase {
  url: string;
  embedded?: EmbeddedPostgres;
  stop(): Promise<void>;
}

/**
 * Where the embedded server of a HAVEN_DATA_DIR keeps its cluster, its socket and its superuser's password:
 * the service, and the tools that find the server it started (src/cli/data-dir.ts).
 */
export function embeddedPaths(dataDir: string): { cluster: string; socket: string; secret: string } {
  return {
    cluster: join(dataDir, 'postgres'),
    socket: join(dataDir, 'run'),
    secret: join(dataDir, 'postgres.secret'),
  };
}

/**
 * Uses DATABASE_URL when set; otherwise starts the embedded PostgreSQL whose cluster lives in
 * HAVEN_DATA_DIR/postgres, with a superuser password generated on first start (HAVEN_DATA_DIR/postgres.secret).
 */
export async function startDatabase(config: AppConfig, logger: Logger): Promise<RunningDatabase> {
  if (config.database.url) return { url: config.database.url, stop: () => Promise.resolve() };

  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  const paths = embeddedPaths(config.dataDir);
  const existing = clusterExists(paths.cluster);
  // The password is made with the cluster: a cluster without it (a data directory restored without the file)
  // would get a new one it does not know, and every start would fail after a minute, saying only that.
  if (existing && !existsSync(paths.secret)) {
    throw new ConfigError([
      `HAVEN_DATA_DIR (${config.dataDir}): the embedded cluster exists but its superuser password file ` +
        `(${paths.secret}) does not: restore it with the rest of the data directory (a new password would not ` +
        'open the cluster)',
    ]);
  }
  const password = await readOrCreateSecret(paths.secret);
  if (!password) {
    throw new ConfigError([`HAVEN_DATA_DIR (${config.dataDir}): ${paths.secret} is empty: restore it`]);
  }
  const pg = embeddedServer(config, password, (line) =>
    logger[serverLineLevel(line)]({ component: 'postgres' }, line),
  );
  const started = Date.now();
  // Said: on a first start it is expected; on a HAVEN_DATA_DIR that was meant to be another, this line is the
  // sign that the service is not on the data it should be.
  if (!existing)
    logger.info(
      { cluster: paths.cluster },
      'no embedded cluster in HAVEN_DATA_DIR: creating a new, empty one',
    );
  await pg.start();
  await pg.createDatabaseIfMissing(APP_DATABASE);
  logger.info(
    { port: pg.port, socket: pg.socketDir() !== undefined, ms: Date.now() - started },
    'embedded PostgreSQL started',
  );
  return { url: pg.url(APP_DATABASE), embedded: pg, stop: () => pg.stop() };
}

/** Whether `cluster` (embeddedPaths' `cluster`) holds an initialised PostgreSQL cluster. */
export function clusterExists(cluster: string): boolean {
  return existsSync(join(cluster, 'PG_VERSION'));
}

/**
 * The embedded server of HAVEN_DATA_DIR (not started): its cluster in `postgres/`, its socket in `run/`. Also how
 * a command line tool finds the one a running service started (url()).
 */
export function embeddedServer(
  config: AppConfig,
  password: string,
  onLog?: (line: string) => void,
): EmbeddedPostgres {
  const paths = embeddedPaths(config.dataDir);
  return new EmbeddedPostgres({
    clusterDir: paths.cluster,
    socketDir: paths.socket,
    port: config.database.embeddedPort,
    password,
    onLog,
  });
}

/**
 * What the embedded server says in a normal start and stop: its readiness probe meeting it while it starts,
 * and the pool's connections ended by its shutdown. Logged at debug, so that warnings stay worth an alert.
 */
const EXPECTED_SERVER_LINES =
  /FATAL:\s+the database system is (starting up|shutting down)|FATAL:\s+terminating connection due to administrator command/;

/** The level the service logs a line of its embedded server at (it passes on warnings and worse only). */
export function serverLineLevel(line: string): 'debug' | 'warn' {
  return EXPECTED_SERVER_LINES.test(line) ? 'debug' : 'warn';
}

/**
 * A random secret kept in a 0600 file: read when it exists, created on first use. One that others may read (a
 * restore that lost the modes) is refused, as the keyring is: it opens the database as much as the keys do.
 */
export async function readOrCreateSecret(path: string): Promise<string> {
  try {
    return await readPrivateSecret(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const secret = randomBytes(24).toString('base64url');
  // Written whole and durably, then linked into place: a crash leaves no empty or partial secret (which would
  // stop every later start), and of two processes creating it at once one wins and both read its value.
  if (!createFileExclusive(path, `${secret}\n`)) return (await readFile(path, 'utf8')).trim();
  return secret;
}

/** The secret in `path` (ENOENT when there is none), refused when its group or others may read or change it. */
export async function readPrivateSecret(path: string): Promise<string> {
  const value = await readFile(path, 'utf8');
  if (openToOthers((await stat(path)).mode)) {
    throw new ConfigError([`${path} is accessible by group or others; run: chmod 600 ${path}`]);
  }
  return value.trim();
}
