import 'reflect-metadata';
import { runTool } from './run-tool';
import { createFileExclusive } from '../common/fs/durable-file';
import { parseArgs } from 'node:util';
import { DataSource } from 'typeorm';
import { loadConfig } from '../config/config';
import { createKeyProvider, cryptoOptionsFrom, KekRef, LocalKeyringProvider, rotateKeys } from '../crypto';
import { RotationRunning } from '../crypto/key-rotation';
import { dataSourceOptions } from '../database/data-source-options';
import {
  assertExistingDataDir,
  callerPath,
  pendingMigrationsApplied,
  toolDatabase,
  warnOnStderr,
} from './data-dir';

const USAGE = `Usage:
  npm run keys:rotate [-- --batch-size <n>] [-- --no-new-version]
      Adds a KEK version (file keys) and re-wraps every data key with the active version, in batches.
      Resumes an interrupted rotation instead of adding another version. Works on DATABASE_URL, or on the
      embedded database of HAVEN_DATA_DIR (while the service runs, too).
  npm run keys:rotate -- --prepare-keyring <file>
      For HAVEN_MASTER_KEY / HAVEN_MASTER_KEY_FILE keys: writes (mode 0600) a keyring with a new KEK version
      to install as HAVEN_MASTER_KEY_FILE on every instance before running keys:rotate. See docs/keys.md.
`;

const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};
const kek = (k: KekRef) => `${k.kekId} v${k.version}`;

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      'batch-size': { type: 'string' },
      'no-new-version': { type: 'boolean' },
      'prepare-keyring': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    out(USAGE);
    return 0;
  }
  const config = loadConfig();
  // Never a new development keyring (or an empty cluster) in a wrong directory: rotating the database's keys
  // with it would raise the KEK floor to a version no instance has.
  assertExistingDataDir(config, { keys: true, database: !values['prepare-keyring'] });
  const provider = await createKeyProvider(cryptoOptionsFrom(config, warnOnStderr));

  if (values['prepare-keyring']) {
    if (!(provider instanceof LocalKeyringProvider))
      throw new Error(`the ${provider.kind} provider manages its own KEKs`);
    const path = callerPath(values['prepare-keyring']);
    const { document, added } = provider.exportWithNewKekVersion();
    // Whole and durable, or not at all, and never over an existing file (mode 0600).
    if (!createFileExclusive(path, document)) throw new Error(`${path} exists: give a new file name`);
    out(`Wrote a keyring with the new KEK ${kek(added)} to ${path} (mode 0600).`);
    out(
      'Install it as HAVEN_MASTER_KEY_FILE on every instance, then run keys:rotate to re-wrap the data keys.',
    );
    return 0;
  }

  const batchSize = values['batch-size'] === undefined ? 500 : Number(values['batch-size']);
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 100_000) {
    throw new Error('--batch-size must be an integer between 1 and 100000');
  }
  if (!provider.canAddKekVersion && !values['no-new-version']) {
    out(`Keys come from the ${provider.kind} provider: re-wrapping to its active KEK (no version is added).`);
  }

  // A stop asked for at any point (Ctrl-C, SIGTERM, the terminal gone, again and again) ends the run after the
  // current batch, and the embedded server this run started is stopped with it: listening from before it
  // starts, since Node's default on a signal would leave that server running and refusing the next start.
  const controller = new AbortController();
  const stop = () => {
    if (!controller.signal.aborted) out('Stopping after the current batch; run keys:rotate again to resume.');
    controller.abort();
  };
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  for (const s of signals) process.on(s, stop);
  let database: Awaited<ReturnType<typeof toolDatabase>> | undefined;
  let dataSource: DataSource | undefined;
  try {
    // DATABASE_URL, or the embedded server (the running one when the service is up).
    database = await toolDatabase(config, { stopOnSignal: false });
    // Three connections: the rotation's lock, a batch's transaction, and a check of the keyring re-read during a
    // batch (KekChecks asks the database outside the batch).
    dataSource = await new DataSource(
      dataSourceOptions({ url: database.url, poolSize: 3, applicationName: 'haven-keys-rotate' }),
    ).initialize();
    // As the service's start and the other writing tools: the migrations the database lacks first (said on
    // standard error), and a newer release's migration this build cannot run with refuses the rotation.
    await pendingMigrationsApplied(dataSource, config.database.allowNewerSchema);
    if (controller.signal.aborted) return 130; // stopped before anything was re-wrapped
    const started = Date.now();
    const result = await rotateKeys(dataSource, provider, {
      batchSize,
      signal: controller.signal,
      addVersion: values['no-new-version'] || !provider.canAddKekVersion ? 'never' : 'auto',
      onProgress: (p) => {
        out(`  re-wrapped ${p.rewrapped}/${p.total} data keys to ${kek(p.target)} (batch ${p.batches})`);
      },
      onAdoptionWait: (target, ms) => {
        out(
          `Announced ${kek(target)}: waiting ${(ms / 1000).toFixed(1)}s for every instance holding it to wrap new ` +
            'data keys with it, before the floor refuses older versions.',
        );
      },
    });
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    if (result.addedVersion) out(`Added KEK ${kek(result.target)}.`);
    out(
      `New data keys must be wrapped with ${kek(result.target)} or later from now on: an instance without it ` +
        'answers 503 to new registrations and two-factor set-ups until it has the rotated keyring (docs/keys.md).',
    );
    out(`Re-wrapped ${result.rewrapped} data keys to ${kek(result.target)} in ${seconds}s.`);
    for (const f of result.failed) {
      out(`  could not unwrap the data key of ${f.owner.ownerType} ${f.owner.ownerId}: ${f.code}`);
    }
    if (result.completed) {
      out(`Every live data key is on ${kek(result.target)}.`);
      if (result.unreferencedVersions.length) {
        out(
          `No data key uses ${result.unreferencedVersions.map(kek).join(', ')} any more: remove them from the ` +
            'keyring, and from every copy of it, once every backup taken before now has expired (docs/keys.md).',
        );
        const derived = provider instanceof LocalKeyringProvider ? provider.rootDerivedVersions() : [];
        const fromRoot = result.unreferencedVersions.filter((v) => derived.includes(v.version));
        if (fromRoot.length) {
          out(
            `${fromRoot.map(kek).join(', ')} is derived from the root (single-secret mode): removing it from the ` +
              'keyring destroys nothing while the root is kept, so a case shredded under it stays readable to ' +
              'whoever holds the root and an older copy of its data key (a backup, WAL). See "Crypto-shredding" ' +
              'in docs/keys.md.',
          );
        }
      }
      return 0;
    }
    // Only the keys that could not be unwrapped are left: running again re-wraps nothing more, and adds no
    // version while they stay off the target. Said so, rather than "run again".
    const blocked = !result.interrupted && result.remaining > 0 && result.remaining <= result.failed.length;
    out(
      blocked
        ? `${result.remaining} data keys are not on ${kek(result.target)} and could not be unwrapped (listed above): ` +
            'running again will not move them. Restore their KEK version to the keyring, or their rows from a ' +
            'backup; a key that is damaged for good leaves its case unreadable (shred it) (docs/keys.md).'
        : result.remaining > 0
          ? `${result.remaining} data keys are not on ${kek(result.target)} yet; run keys:rotate again to resume.`
          : 'Stopped while waiting for transactions that began before the floor was raised (one may still add a ' +
            'data key under an older version): run keys:rotate again to learn which versions are unused.',
    );
    return result.interrupted ? 130 : 1;
  } finally {
    for (const s of signals) process.off(s, stop);
    await dataSource?.destroy();
    await database?.stop();
  }
}

runTool('keys:rotate', () => main(process.argv.slice(2)), {
  // Another rotation under way: try again later (75, EX_TEMPFAIL), not a configuration to put right.
  refusal: (e) => (e instanceof RotationRunning ? { exitCode: 75, message: e.message } : undefined),
});
