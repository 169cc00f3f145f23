import 'reflect-metadata';
import { runTool } from './run-tool';
import { parseArgs } from 'node:util';
import { Client } from 'pg';
import { CheckpointFile, CheckpointFileReading, readCheckpointFile } from '../audit/audit-checkpoint';
import { checkpointDir } from '../audit/audit-checkpoint.service';
import { verifyAccessLog } from '../audit/audit-verify';
import { assertExistingDataDir, callerPath, toolDatabase, warnOnStderr } from './data-dir';
import { loadConfig } from '../config/config';
import { createCryptoServices, cryptoOptionsFrom } from '../crypto';

const USAGE = `Usage: npm run audit:verify [-- --checkpoints <file> ...] [-- --public-key <base64>]
  Recomputes the access-log chain and compares it with the stripe heads and with the newest signed checkpoint
  that verifies, of HAVEN_DATA_DIR/checkpoints/checkpoints.jsonl, of each --checkpoints file (a copy kept on
  another host; give one per instance) and of the database. Prints the result as JSON; exit code 0 when the log
  is intact, 1 when it is not, 2 on error.
  Uses DATABASE_URL, or the embedded server under HAVEN_DATA_DIR (running or not). A large log is checked in
  HAVEN_AUDIT_VERIFY_WORKERS worker threads (default: half the cores, at most 8; one thread below 4 cores),
  each with its own connection.
  --checkpoints <file>  an off-host copy of an instance's checkpoint file (repeatable); it must hold one.
  --no-local-checkpoints  leave this host's checkpoint file out: on an instance's host, against a replica that
                may be behind that instance's newest checkpoint (which would look like a cut tail).
  --public-key  verify checkpoints against this Ed25519 key (base64) instead of the one derived from the keys.
  --workers <n>  worker threads (instead of HAVEN_AUDIT_VERIFY_WORKERS); 1: one thread.
  --min-entries-per-worker <n>  fewer workers below this many entries each (default 100000).
`;

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      checkpoints: { type: 'string', multiple: true },
      'no-local-checkpoints': { type: 'boolean' },
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
  assertExistingDataDir(config, { keys: true, database: true });
  const crypto = await createCryptoServices(cryptoOptionsFrom(config, warnOnStderr));
  // The off-host copies are compared with as well as this host's file, not instead of it: a copy shipped an
  // hour ago must not stand in for the newer checkpoints here (a tail cut since it was shipped would pass).
  const file = values['no-local-checkpoints']
    ? null
    : new CheckpointFile(checkpointDir(config.dataDir)).read();
  const offHost = (values.checkpoints ?? []).map((path) => offHostCheckpoints(callerPath(path)));

  const { url, stop } = await toolDatabase(config);
  const client = new Client({ connectionString: url, application_name: 'haven-audit-verify' });
  try {
    await client.connect();
    const started = Date.now();
    const result = await verifyAccessLog(client, crypto.keys, {
      file,
      offHost,
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
 * A checkpoint file named on the command line, read whole: one checkpoint at least must be there. A copy kept out
 * of the database's reach is what shows a tail cut and the head moved back; a missing or empty one (a mount that
 * failed, a mistyped path) would leave the check against the database's own checkpoints alone, and say "ok" all
 * the same.
 */
function offHostCheckpoints(path: string): CheckpointFileReading {
  const reading = readCheckpointFile(path);
  if (!reading?.candidates.length)
    throw new Error(`--checkpoints ${path}: no such file, or no checkpoint in it`);
  return reading;
}

runTool('audit:verify', () => main(process.argv.slice(2)), { failureCode: 2 });
