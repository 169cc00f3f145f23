import type { DataSource } from 'typeorm';
import { CryptoError } from './crypto.errors';
import { type DataKeyOwner, type KekRef, kekRefKey } from './crypto.types';
import { dekWrapContext, unwrapStoredDek } from './data-key';
import { DataKeyRepository, RewrappedKey } from './data-key.repository';
import { KEK_ADOPTION_REFRESH_MS } from './data-key.service';
import { KekChecks } from './kek-checks';
import type { KeyProvider } from './key-provider';
import { ADVISORY_LOCKS } from '../database/advisory-locks';

/** Another rotation holds the database's rotation lock: a passing state (try again once it ends), no configuration. */
export class RotationRunning extends Error {
  constructor() {
    super('another key rotation is running on this database: run keys:rotate again once it has ended');
    this.name = 'RotationRunning';
  }
}

export interface RotateKeysOptions {
  /** Keys re-wrapped per transaction (default 500). */
  batchSize?: number;
  /** Stops after the current batch; a later run resumes where this one stopped. */
  signal?: AbortSignal;
  /** Called (and awaited) after every committed batch. */
  onProgress?: (progress: RotationProgress) => void | Promise<void>;
  /**
   * 'auto' (default): when every live key is already on the active KEK, first add a new KEK version;
   * otherwise resume the unfinished rotation. 'never': only re-wrap to the active version.
   */
  addVersion?: 'auto' | 'never';
  /**
   * How long after the target's check was registered (the version announced) the floor is raised: every
   * instance has taken the version up by then (KEK_ADOPTION_WAIT_MS by default; tests shorten it).
   */
  adoptionWaitMs?: number;
  /** Called when the run waits for the instances to take the target up (how long, in milliseconds). */
  onAdoptionWait?: (target: KekRef, ms: number) => void;
}

/**
 * Between announcing a KEK version (its check registered) and raising the floor to it: longer than an
 * instance goes on with the version it last saw taken up (KEK_ADOPTION_REFRESH_MS), so that none wraps a new
 * data key with the old version once the floor refuses it.
 */
export const KEK_ADOPTION_WAIT_MS = KEK_ADOPTION_REFRESH_MS + 2_000;

export interface RotationProgress {
  readonly target: KekRef;
  readonly rewrapped: number;
  readonly total: number;
  readonly batches: number;
}

export interface RotationResult {
  readonly target: KekRef;
  readonly addedVersion: boolean;
  readonly rewrapped: number;
  /** Live keys still on another version (0 when completed). */
  readonly remaining: number;
  /**
   * Every live key is on the target, and no transaction from before the floor is still running (one stopped
   * while it waited for them is not completed, whatever `remaining` says).
   */
  readonly completed: boolean;
  readonly interrupted: boolean;
  /** Versions the provider holds that no live key uses any more: candidates for retirement (none unless settled). */
  readonly unreferencedVersions: readonly KekRef[];
  /** Keys that could not be unwrapped (corrupt, or their KEK version is missing); left untouched. */
  readonly failed: readonly { readonly owner: DataKeyOwner; readonly code: string }[];
}

const MAX_PASSES = 5;

/**
 * Re-wraps every live DEK with the active KEK version, in batches of one transaction each, in primary-key
 * order (keyset pagination, FOR UPDATE SKIP LOCKED). Safe while the service runs: a row changes atomically
 * from (old version, old wrap) to (new version, new wrap) and readers unwrap with whatever version the row
 * names. Resumable: rows already on the target version are never selected again. Before re-wrapping, it raises
 * the database's KEK floor to the target version (every instance must have it by then: docs/keys.md), and
 * refuses to run with a keyring older than the floor, or whose target is another key than the database knows
 * under that version (crypto.kek_mismatch).
 */
export async function rotateKeys(
  dataSource: DataSource,
  keyProvider: KeyProvider,
  opts: RotateKeysOptions = {},
): Promise<RotationResult> {
  const batchSize = opts.batchSize ?? 500;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new CryptoError('crypto.invalid_input', 'batchSize must be a positive integer');
  }
  const repo = new DataKeyRepository(dataSource);
  const lock = dataSource.createQueryRunner();
  await lock.connect();
  try {
    const lockSql = 'SELECT pg_try_advisory_lock($1) AS locked';
    const [acquired] = (await lock.query(lockSql, [ADVISORY_LOCKS.keyRotation])) as Array<{
      locked: boolean;
    }>;
    if (!acquired?.locked) {
      throw new RotationRunning();
    }
    try {
      await keyProvider.refresh();
      let target = await keyProvider.activeKek();
      const floor = await repo.kekFloor(target.kekId);
      if (floor !== null && floor > target.version) {
        throw new CryptoError(
          'crypto.config',
          `the database takes data keys wrapped with ${target.kekId} v${floor} or later, and this keyring's ` +
            `newest version is v${target.version}: run keys:rotate with the current keyring (docs/keys.md)`,
        );
      }
      await assertOpensTheKeys(repo, keyProvider);
      const checks = new KekChecks(repo, keyProvider);
      let addedVersion = false;
      if ((await repo.countNotOn(target)) === 0 && (opts.addVersion ?? 'auto') === 'auto') {
        // The version the keyring adds must be new to the database too, checked before the keyring changes: one
        // it knows came from another keyring, which this one is behind.
        const newest = target;
        target = await keyProvider.addKekVersion(async (next) => {
          if (await repo.kekCheck(next)) {
            throw new CryptoError(
              'crypto.kek_mismatch',
              `the database knows ${next.kekId} v${next.version} from another keyring than this one, whose newest ` +
                `version is v${newest.version}: run keys:rotate with the current keyring (docs/keys.md). Nothing was changed.`,
            );
          }
        });
        addedVersion = true;
      }
      // The target is the key the database knows under its version (registered now when it is new): raising the
      // floor to another one would leave the instances unable to open what this run wraps.
      await checks.assertUsable(target);
      // The check announces the version: the instances holding it wrap new data keys with it from their next
      // look (DataKeyService.wrappingKek), and go on with the older one until then. The floor waits for that.
      const adoption = { waitMs: opts.adoptionWaitMs ?? KEK_ADOPTION_WAIT_MS, onWait: opts.onAdoptionWait };
      if (!(await waitForAdoption(repo, target, adoption, opts.signal))) {
        return {
          target,
          addedVersion,
          rewrapped: 0,
          remaining: await repo.countNotOn(target),
          completed: false,
          interrupted: true,
          unreferencedVersions: [],
          failed: [],
        };
      }
      // From now on the database refuses keys wrapped with an older version (kek_floors): an instance still
      // without the target cannot add keys that the list of unused versions below would miss.
      // Stopped before the transactions from before the floor ended: one of them may still add a key under an
      // older version, so the run neither completes nor names a version unused.
      const settled = await repo.raiseKekFloor(target, opts.signal);
      const total = await repo.countNotOn(target);
      let rewrapped = 0;
      let batches = 0;
      let interrupted = !settled;
      const failures = new Map<string, { owner: DataKeyOwner; code: string }>();
      for (let pass = 0; pass < MAX_PASSES && !interrupted; pass++) {
        let cursor: DataKeyOwner | null = null;
        const before = rewrapped;
        for (;;) {
          if (opts.signal?.aborted) {
            interrupted = true;
            break;
          }
          const batch = await dataSource.transaction(async (manager) => {
            const rows = await repo.lockBatchNotOn(target, cursor, batchSize, manager);
            const updates: RewrappedKey[] = [];
            for (const row of rows) {
              const owner = { ownerType: row.ownerType, ownerId: row.ownerId };
              const from: KekRef = { kekId: row.kekId, version: row.kekVersion };
              let dek: Buffer;
              try {
                dek = await unwrapStoredDek(keyProvider, row);
              } catch (e) {
                if (!(e instanceof CryptoError)) throw e;
                failures.set(`${owner.ownerType}:${owner.ownerId}`, { owner, code: e.code });
                continue;
              }
              failures.delete(`${owner.ownerType}:${owner.ownerId}`);
              try {
                // With the key checked (again if the keyring was re-read since).
                const wrappedDek = await checks.wrap(target, dek, dekWrapContext(owner, row.dekId, target));
                updates.push({ owner, from, wrappedDek });
              } finally {
                dek.fill(0);
              }
            }
            const changed = await repo.updateWrapped(updates, target, manager);
            const last = rows[rows.length - 1];
            return {
              size: rows.length,
              changed,
              last: last ? { ownerType: last.ownerType, ownerId: last.ownerId } : null,
            };
          });
          if (batch.size === 0) break;
          cursor = batch.last;
          rewrapped += batch.changed;
          batches++;
          await opts.onProgress?.({ target, rewrapped, total, batches });
        }
        // Rows skipped because they were locked get another pass; stop when a pass makes no progress.
        if (interrupted || rewrapped === before || (await repo.countNotOn(target)) === 0) break;
      }
      const remaining = await repo.countNotOn(target);
      const referenced = new Set((await repo.liveKekVersionCounts()).map(kekRefKey));
      const unreferencedVersions = !settled
        ? []
        : (await keyProvider.kekVersions()).filter(
            (k) => !referenced.has(kekRefKey(k)) && kekRefKey(k) !== kekRefKey(target),
          );
      return {
        target,
        addedVersion,
        rewrapped,
        remaining,
        completed: settled && remaining === 0,
        interrupted,
        unreferencedVersions,
        failed: [...failures.values()],
      };
    } finally {
      await lock.query('SELECT pg_advisory_unlock($1)', [ADVISORY_LOCKS.keyRotation]);
    }
  } finally {
    await lock.release();
  }
}

/**
 * Waits until the check of `target` has been registered for `waitMs` (the database's clock), telling `onWait`
 * how long; false when `signal` aborts first (nothing raised: a later run waits for the rest).
 */
async function waitForAdoption(
  repo: DataKeyRepository,
  target: KekRef,
  { waitMs, onWait }: { waitMs: number; onWait?: (target: KekRef, ms: number) => void },
  signal?: AbortSignal,
): Promise<boolean> {
  const age = (await repo.kekCheckAgeMs(target)) ?? 0;
  const rest = Math.ceil(waitMs - age);
  if (rest <= 0) return !signal?.aborted;
  onWait?.(target, rest);
  return new Promise<boolean>((done) => {
    if (signal?.aborted) return done(false);
    const stop = () => {
      clearTimeout(timer);
      done(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', stop);
      done(true);
    }, rest);
    signal?.addEventListener('abort', stop, { once: true });
  });
}

/**
 * The keyring must open the database's newest data key before anything is changed: a rotation run with another
 * one (a development keyring made afresh in a wrong HAVEN_DATA_DIR, another master key) would add a KEK version
 * and raise the database's floor to it, after which no instance could register a case.
 */
async function assertOpensTheKeys(repo: DataKeyRepository, keyProvider: KeyProvider): Promise<void> {
  const newest = await repo.newestLive();
  if (!newest) return;
  try {
    (await unwrapStoredDek(keyProvider, newest)).fill(0);
  } catch (e) {
    if (!(e instanceof CryptoError)) throw e;
    throw new CryptoError(
      'crypto.config',
      `this keyring cannot open the database's newest data key (${newest.kekId} v${newest.kekVersion}: ${e.code}): it is ` +
        'not the keyring of the service on this database (HAVEN_DATA_DIR, HAVEN_MASTER_KEY(_FILE)?). Nothing was changed.',
    );
  }
}
