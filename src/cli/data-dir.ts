import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Client } from 'pg';
import { parse } from 'pg-connection-string';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { createLogger } from '../common/logging/logger';
import { ConfigError, loadConfig } from '../config/config';
import { assertSchemaOfThisBuild, type MigrationLockHolder, runMigrationsLocked } from '../database/migrate';
import { developmentKeysDir, KEYRING_FILE } from '../crypto/file-key-provider';
import {
  APP_DATABASE,
  clusterExists,
  embeddedPaths,
  embeddedServer,
  readPrivateSecret,
  startDatabase,
} from '../database/embedded-database';

/** A tool's wait for the migration lock (runMigrationsLocked's onWait): one line on standard error. */
export function waitingSaid(holder: MigrationLockHolder): void {
  process.stderr.write(
    `waiting for the migration lock, held by server process ${holder.pid ?? '?'} (${holder.application || 'unnamed'})\n`,
  );
}

/** A tool's warning (CryptoOptions.warn), on standard error: the tools print no structured log. */
export function warnOnStderr(message: string): void {
  process.stderr.write(`warning: ${message}\n`);
}

/**
 * Refuses to run a command-line tool on a HAVEN_DATA_DIR that is not the service's (e.g. started from another
 * directory with the default `./data`, or a mistyped path): without it the development key provider would make a
 * new keyring there, and the embedded server a new, empty cluster, and the tool would report work done on them.
 * `keys`: the tool needs the keyring when no key variable is set; `database`: the embedded cluster when no
 * DATABASE_URL is set. The service's first start creates both.
 */
export function assertExistingDataDir(
  config: ReturnType<typeof loadConfig>,
  needs: { keys: boolean; database: boolean },
): void {
  const missing: string[] = [];
  const keyVariables = config.keys.masterKey !== undefined || config.keys.masterKeyFile !== undefined;
  const keyring = join(developmentKeysDir(config.dataDir), KEYRING_FILE);
  if (needs.keys && !keyVariables && !existsSync(keyring)) missing.push(`no keyring at ${keyring}`);
  const { cluster } = embeddedPaths(config.dataDir);
  if (needs.database && !config.database.url && !clusterExists(cluster))
    missing.push(`no embedded database at ${cluster}`);
  if (missing.length) {
    const variables = [
      ...(needs.keys ? ['HAVEN_MASTER_KEY / HAVEN_MASTER_KEY_FILE'] : []),
      ...(needs.database ? ['DATABASE_URL'] : []),
    ];
    throw new ConfigError([
      `HAVEN_DATA_DIR (${config.dataDir}): ${missing.join('; ')}. Point it at the service's data directory ` +
        `(its first start creates it), or set ${variables.join(' and ')}.`,
    ]);
  }
}

/**
 * The database a command-line tool works on: DATABASE_URL; or the embedded server, the running one when the
 * service is up (through its socket, or TCP if it had to do without, once its lock file shows it listens there),
 * else started for the tool's run (stop() stops it again). As the embedded server's superuser: migrations, keys
 * and imports are the owner's work.
 */
export async function toolDatabase(
  config: ReturnType<typeof loadConfig>,
  opts: { stopOnSignal?: boolean } = {},
): Promise<{ url: string; stop: () => Promise<void> }> {
  if (config.database.url) return { url: config.database.url, stop: () => Promise.resolve() };
  let password: string | undefined;
  try {
    password = await readPrivateSecret(embeddedPaths(config.dataDir).secret);
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    // no password file: the tools that come here have checked that the cluster exists all the same
  }
  if (password) {
    const server = embeddedServer(config, password);
    // Its socket, when it has one; TCP only to a server of this cluster listening there, not to whoever took the
    // port while none runs (url() is the TCP address when the data directory's path allows no socket).
    const urls: string[] = [];
    if (server.socketDir() !== undefined) urls.push(server.url(APP_DATABASE));
    if (await server.listensOnTcp()) urls.push(server.tcpUrl(APP_DATABASE));
    for (const url of urls) {
      const probe = new Client({ connectionString: url, connectionTimeoutMillis: 1000 });
      probe.on('error', () => undefined);
      try {
        await probe.connect();
        await probe.end();
        return { url, stop: () => Promise.resolve() };
      } catch {
        await probe.end().catch(() => undefined);
      }
    }
  }
  return startToolDatabase(config, opts);
}

/**
 * Starts the embedded server for a tool's run, on the cluster the service made: a tool never creates one (see
 * assertExistingDataDir). Ctrl-C or SIGTERM stops it before the tool exits (exit 130): Node's default on a
 * signal skips the exit handlers, and the server was left running, refusing the next start. `stopOnSignal:
 * false` for a tool that handles the signal itself (and stops the server when done).
 */
export async function startToolDatabase(
  config: ReturnType<typeof loadConfig>,
  opts: { stopOnSignal?: boolean } = {},
): Promise<{ url: string; stop: () => Promise<void> }> {
  assertExistingDataDir(config, { keys: false, database: true });
  if (opts.stopOnSignal === false) {
    const database = await startDatabase(config, createLogger('warn'));
    return { url: database.url, stop: () => database.stop() };
  }
  // Listening from before the start: a signal while the server starts stops it as soon as it is up.
  const state: { database?: Awaited<ReturnType<typeof startDatabase>>; interrupted: boolean } = {
    interrupted: false,
  };
  const onSignal = (): void => {
    if (state.interrupted) return;
    state.interrupted = true;
    process.stderr.write('interrupted: stopping the embedded database\n');
    if (state.database) void state.database.stop().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  const started = await startDatabase(config, createLogger('warn'));
  state.database = started;
  if (state.interrupted) {
    await started.stop();
    process.exit(130);
  }
  return {
    url: started.url,
    stop: async () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.off('SIGHUP', onSignal);
      await started.stop();
    },
  };
}

/**
 * Applies the migrations the database lacks before a tool's work, as the service does at its start, and says
 * which on standard error: a tool run before the new release's first start (or after a revert) changes the
 * schema, and an operator is not to learn it only from `migration:show`. Then refuses, as the start does, a
 * database a newer release migrated with a migration this build cannot run with (assertSchemaOfThisBuild).
 */
export async function pendingMigrationsApplied(
  dataSource: DataSource,
  allowNewerSchema: boolean,
): Promise<void> {
  const applied = await runMigrationsLocked(dataSource, waitingSaid);
  if (applied.length) {
    process.stderr.write(
      `The database lacked migrations of this build; applied first: ${applied.map((m) => m.name).join(', ')}\n`,
    );
  }
  // As the service's start: a newer release's migration this build cannot run with refuses the tool too (its
  // writes would be the old code's); others are said.
  await assertSchemaOfThisBuild(dataSource, allowNewerSchema, newerSchemaSaid);
}

/** A tool's word on migrations a newer release applied (assertSchemaOfThisBuild's onNewer), on standard error. */
export function newerSchemaSaid(unknown: string[], required: string[]): void {
  warnOnStderr(
    `the database is ahead of this build: ${unknown.join(', ')} applied, unknown here` +
      (required.length
        ? ` (${required.join(', ')} required by the newer release: this one runs on it only with HAVEN_ALLOW_NEWER_SCHEMA=1)`
        : ' (none requires the newer release)'),
  );
}

/**
 * A connection URL as an operator reads it: its database, host (a socket's directory too) and port, never its
 * password. Read as `pg` reads it: `postgres://owner@/haven?host=/run/postgresql`, a socket's form pg takes,
 * is no URL to WHATWG's parser.
 */
export function databaseNamed(url: string): string {
  const c = parse(url);
  return `database ${c.database ?? '?'} at ${c.host ?? 'localhost'}${c.port ? `:${c.port}` : ''}`;
}

/**
 * A path given on a tool's command line, from the directory it was typed in: npm runs a package's scripts from
 * the package's own directory, and says where it was called from in INIT_CWD (`npm --prefix /opt/haven run
 * units:import -- units.json` means the caller's units.json).
 */
export function callerPath(path: string): string {
  return resolve(process.env.INIT_CWD ?? process.cwd(), path);
}

/**
 * A data source on the tool's database, initialised; when that fails, the database is stopped before the error
 * goes on (an embedded server left running would hold the data directory, and the next start would fail).
 */
export async function connected(
  database: { stop: () => Promise<void> },
  options: DataSourceOptions,
): Promise<DataSource> {
  try {
    return await new DataSource(options).initialize();
  } catch (e) {
    await database.stop().catch(() => undefined);
    throw e;
  }
}
