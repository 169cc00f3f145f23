import 'reflect-metadata';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Client } from 'pg';
import { CheckpointFile, readLastLine } from '../audit/audit-checkpoint';
import { checkpointDir } from '../audit/audit-checkpoint.service';
import { verifyAccessLog } from '../audit/audit-verify';
import { assertExistingDataDir } from './data-dir';
import { createLogger } from '../common/logging/logger';
import { ConfigError, loadConfig } from '../config/config';
import { createCryptoServices } from '../crypto';
import { APP_DATABASE, embeddedServer, startDatabase } from '../database/embedded-database';

const USAGE = `Usage: npm run audit:verify [-- --checkpoints <file>] [-- --public-key <base64>]
  Recomputes the access-log chain and compares it with the stripe heads and with the newest signed checkpoint
  of HAVEN_DATA_DIR/checkpoints/checkpoints.jsonl (or of --checkpoints, e.g. a copy kept on another host) and
  of the database. Prints the result as JSON; exit code 0 when the log is intact, 1 when it is not, 2 on error.
  Uses DATABASE_URL, or the embedded server under HAVEN_DATA_DIR (running or not). A large log is checked in
  HAVEN_AUDIT_VERIFY_WORKERS worker threads (default: half the cores, at most 8; one thread below 4 cores),
  each with its own connection.
  --public-key  verify checkpoints against this Ed25519 key (base64) instead of the one derived from the keys.
  --workers <n>  worker threads (instead of HAVEN_AUDIT_VERIFY_WORKERS); 1: one thread.
  --min-entries-per-worker <n>  fewer workers below this many entries each (default 100000).
`;

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      checkpoints: { type: 'string' },
      'public-key': { type: 'string' },
      workers: { type: 'string' },
      'min-entries-per-worker': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const trustedPublicKey = values['public-key'] ? Buffer.from(values['public-key'], 'base64') : undefined;
  if (trustedPublicKey && trustedPublicKey.length !== 32)
    throw new Error('--public-key must be 32 bytes, base64');

  const workers = positiveInteger(values.workers, '--workers');
  const minEntriesPerWorker = positiveInteger(values['min-entries-per-worker'], '--min-entries-per-worker');

  const config = loadConfig();
  assertExistingDataDir(config, true);
  const crypto = await createCryptoServices({
    dataDir: config.dataDir,
    production: config.production,
    masterKey: config.keys.masterKey,
    masterKeyFile: config.keys.masterKeyFile,
  });
  const fileCheckpoint = values.checkpoints
    ? readLastLine(resolve(values.checkpoints))
    : new CheckpointFile(checkpointDir(config.dataDir)).latest();

  const { url, stop } = await connectionUrl(config);
  const client = new Client({ connectionString: url, application_name: 'haven-audit-verify' });
  try {
    await client.connect();
    const started = Date.now();
    const result = await verifyAccessLog(client, crypto.keys, {
      fileCheckpoint,
      trustedPublicKey,
      parallel: {
        connectionString: url,
        workers: workers ?? config.audit.verifyWorkers,
        minEntriesPerWorker,
        onWorkerFailure: (reason) =>
          process.stderr.write(`warning: verification workers failed (${reason}); verifying in one thread\n`),
      },
    });
    const seconds = (Date.now() - started) / 1000;
    process.stdout.write(`${JSON.stringify({ ...result, seconds })}\n`);
    if (result.checkpoint === null) {
      process.stderr.write('warning: no checkpoint found; a deleted tail cannot be detected without one\n');
    }
    return result.ok ? 0 : 1;
  } finally {
    await client.end().catch(() => undefined);
    await stop();
  }
}

function positiveInteger(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${flag} must be a positive integer`);
  return n;
}

/**
 * DATABASE_URL; or the embedded server: the running one when the service is up (verification only reads),
 * else started for the duration of the check.
 */
async function connectionUrl(
  config: ReturnType<typeof loadConfig>,
): Promise<{ url: string; stop: () => Promise<void> }> {
  if (config.database.url) return { url: config.database.url, stop: () => Promise.resolve() };
  let password: string | undefined;
  try {
    password = (await readFile(join(config.dataDir, 'postgres.secret'), 'utf8')).trim();
  } catch {
    // no password file: assertExistingDataDir has checked that the cluster exists all the same
  }
  if (password) {
    // The socket first, as the service connects; TCP if the service had to start its server without one.
    const server = embeddedServer(config, password);
    for (const url of new Set([server.url(APP_DATABASE), server.tcpUrl(APP_DATABASE)])) {
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
  const database = await startDatabase(config, createLogger('warn'));
  return { url: database.url, stop: () => database.stop() };
}

/**
 * A checker writes nothing: pointed at a data directory without the service's development keyring (no key
 * variable set) or, without DATABASE_URL, without its embedded cluster, it stops instead of creating new keys
 * and an empty cluster there, which would only verify an empty log.
 */
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    const message = e instanceof ConfigError ? e.message : e instanceof Error ? e.message : String(e);
    process.stderr.write(`audit:verify failed: ${message}\n`);
    process.exitCode = 2;
  },
);
