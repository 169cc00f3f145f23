import { randomBytes } from 'node:crypto';
import { TransientError } from '../common/errors/transient-error';
import { CryptoError, isCryptoError } from './crypto.errors';
import { type KekRef, kekRefKey } from './crypto.types';
import { kekRefLength, unwrapStoredDek, writeKekRef } from './data-key';
import type { DataKeyRepository } from './data-key.repository';
import type { KeyProvider } from './key-provider';

const CHECK_CONTEXT_PREFIX = Buffer.from('haven/kek-check/1\0', 'latin1');

/**
 * Additional data of a KEK version's check value, never that of a data key:
 *   "haven/kek-check/1" 0x00 | u16 len | kek_id | u32 version
 */
export function kekCheckContext(kek: KekRef): Buffer {
  const out = Buffer.allocUnsafe(CHECK_CONTEXT_PREFIX.length + kekRefLength(kek));
  writeKekRef(out, CHECK_CONTEXT_PREFIX.copy(out, 0), kek);
  return out;
}

/**
 * What the database holds of a KEK version, and whether this process's key of that version opens it;
 * `keys_changed` when the key material changed while it was being looked at (the answer is about no one key).
 */
type Probe = 'check_opens' | 'key_opens' | 'nothing_stored' | 'does_not_open' | 'keys_changed';

/** Live data keys of a version without a check that are tried: one opening is enough, all failing is a mismatch. */
const SAMPLED_KEYS = 5;
/** Times a check starts again because the keyring was re-read meanwhile, before giving up. */
const MAX_ATTEMPTS = 5;

/**
 * One key per KEK version on a database, whichever process holds it. The version number is all a data key
 * names of its KEK, so two keyrings holding different keys under the same version (a keyring prepared twice
 * and installed on different instances; another master key in single-secret mode) would each wrap data keys the
 * other cannot open, found only when a read fails, and lost with the keyring that wrapped them.
 *
 * The database keeps a check per version (`kek_checks`): a random value wrapped with that version by the first
 * process that wrapped a data key with it (for a version used before the checks existed, after it has opened one
 * of that version's data keys). A process opens the check before it wraps a data key with a version (wrap), and at
 * start for every version it holds (mismatched). The check is a wrapped random value, so it tells nothing of the
 * key to whoever reads the table, and a KMS provider checks it with its own unwrap.
 *
 * A keyring may be re-read at any moment (KeyProvider.keyEpoch). A provider takes the key when wrapDek or unwrapDek
 * is called, before its first await, so each use of a key here reads the epoch just before the call: what was
 * checked and what wraps are the same key, or the check starts again.
 */
export class KekChecks {
  private readonly usable = new Set<string>();
  private epoch = -1;

  constructor(
    private readonly repository: DataKeyRepository,
    private readonly provider: KeyProvider,
  ) {}

  /**
   * `dek` wrapped with `kek`, once this process's key of that version is known to be the database's (assertUsable),
   * by that same key.
   */
  async wrap(kek: KekRef, dek: Uint8Array, context: Uint8Array): Promise<Buffer> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const checked = await this.assertUsable(kek);
      // No await between this comparison and the call: the key wrapDek takes is the one checked.
      if (this.provider.keyEpoch === checked) return this.provider.wrapDek(kek, dek, context);
    }
    throw keyringUnsettled();
  }

  /**
   * Passes when this process may wrap data keys with `kek`: the version's check opens with its key, or no check is
   * registered yet and this process registers its own (after opening a live data key of the version, if there is
   * one). crypto.kek_mismatch otherwise. Checked once per version, again after the key material changes; returns
   * the keyEpoch the answer holds for.
   */
  async assertUsable(kek: KekRef): Promise<number> {
    if (!this.repository.hasDatabase) return this.provider.keyEpoch;
    const id = kekRefKey(kek);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const epoch = this.current();
      if (this.usable.has(id)) return epoch;
      if (await this.verifyOrRegister(kek, epoch)) {
        if (this.current() === epoch) {
          this.usable.add(id);
          return epoch;
        }
      }
    }
    throw keyringUnsettled();
  }

  /**
   * The versions this process holds whose check (or, for a version without one, whose live data keys) its key
   * does not open: the start-up check. Registers nothing (a version gets its check with its first data key); a
   * version whose check opens needs no check again before its first data key.
   */
  async mismatched(): Promise<KekRef[]> {
    if (!this.repository.hasDatabase) return [];
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const epoch = this.current();
      const found: KekRef[] = [];
      const opened: string[] = [];
      let settled = true;
      for (const kek of await this.provider.kekVersions()) {
        const probe = await this.probe(kek, epoch);
        if (probe === 'keys_changed') settled = false;
        else if (probe === 'does_not_open') found.push(kek);
        else if (probe === 'check_opens') opened.push(kekRefKey(kek));
      }
      if (settled && this.current() === epoch) {
        for (const id of opened) this.usable.add(id);
        return found;
      }
    }
    throw keyringUnsettled();
  }

  /** The provider's keyEpoch, forgetting what was checked under an earlier one. */
  private current(): number {
    const epoch = this.provider.keyEpoch;
    if (epoch !== this.epoch) {
      this.usable.clear();
      this.epoch = epoch;
    }
    return epoch;
  }

  /** True when the key of `epoch` is the version's (checked, or registered now); false to start again. */
  private async verifyOrRegister(kek: KekRef, epoch: number): Promise<boolean> {
    const probe = await this.probe(kek, epoch);
    if (probe === 'keys_changed') return false;
    if (probe === 'does_not_open') throw kekMismatch(kek);
    if (probe === 'check_opens') return true;
    if (this.provider.keyEpoch !== epoch) return false;
    const value = randomBytes(32);
    const wrapped = await this.provider
      .wrapDek(kek, value, kekCheckContext(kek))
      .finally(() => value.fill(0));
    if (await this.repository.registerKekCheck(kek, wrapped)) return true;
    // Another process registered the version's check first: this one's key must open it.
    const again = await this.probe(kek, epoch);
    if (again === 'keys_changed') return false;
    if (again !== 'check_opens') throw kekMismatch(kek);
    return true;
  }

  private async probe(kek: KekRef, epoch: number): Promise<Probe> {
    const check = await this.repository.kekCheck(kek);
    if (check) {
      // With the key wrapDek would use (heldNow), not one a keyring read since has replaced.
      const opens = await this.opens(epoch, () =>
        this.provider.unwrapDek(kek, check, kekCheckContext(kek), { heldNow: true }),
      );
      return opens === null ? 'keys_changed' : opens ? 'check_opens' : 'does_not_open';
    }
    const keys = await this.repository.someLiveOn(kek, SAMPLED_KEYS);
    if (keys.length === 0) return 'nothing_stored';
    for (const key of keys) {
      const opens = await this.opens(epoch, () => unwrapStoredDek(this.provider, key, { heldNow: true }));
      if (opens === null) return 'keys_changed';
      if (opens) return 'key_opens';
    }
    return 'does_not_open';
  }

  /** Whether the key of `epoch` opens what `unwrap` unwraps; null when the keyring is no longer that of `epoch`. */
  private async opens(epoch: number, unwrap: () => Promise<Buffer>): Promise<boolean | null> {
    if (this.provider.keyEpoch !== epoch) return null;
    try {
      (await unwrap()).fill(0);
      return true;
    } catch (e) {
      // Another key's wrap fails its tag; a stored value of another shape (a damaged row) opens with no key.
      if (isCryptoError(e, 'crypto.integrity') || isCryptoError(e, 'crypto.bad_format')) return false;
      throw e;
    }
  }
}

function kekMismatch(kek: KekRef): CryptoError {
  return new CryptoError(
    'crypto.kek_mismatch',
    `this process's ${kek.kekId} v${kek.version} is another key than the one the database's data keys of that ` +
      'version are wrapped with: every instance must run with the same keyring (docs/keys.md)',
  );
}

/** The keyring re-read again and again during one check: it passes (a 503 with Retry-After), nothing is written. */
function keyringUnsettled(): TransientError {
  return new TransientError('the keyring kept changing while a data key was being checked');
}
