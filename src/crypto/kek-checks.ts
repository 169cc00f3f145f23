import { randomBytes } from 'node:crypto';
import { CryptoError, isCryptoError } from './crypto.errors';
import type { KekRef } from './crypto.types';
import { unwrapStoredDek } from './data-key';
import type { DataKeyRepository } from './data-key.repository';
import type { KeyProvider } from './key-provider';

const CHECK_CONTEXT_PREFIX = Buffer.from('haven/kek-check/1\0', 'latin1');

/**
 * Additional data of a KEK version's check value, never that of a data key:
 *   "haven/kek-check/1" 0x00 | u16 len | kek_id | u32 version
 */
export function kekCheckContext(kek: KekRef): Buffer {
  const idLen = Buffer.byteLength(kek.kekId, 'utf8');
  const out = Buffer.allocUnsafe(CHECK_CONTEXT_PREFIX.length + 2 + idLen + 4);
  let p = CHECK_CONTEXT_PREFIX.copy(out, 0);
  p = out.writeUInt16BE(idLen, p);
  p += out.write(kek.kekId, p, 'utf8');
  out.writeUInt32BE(kek.version, p);
  return out;
}

/** What the database holds of a KEK version, and whether this process's key of that version opens it. */
type Probe = 'check_opens' | 'key_opens' | 'nothing_stored' | 'does_not_open';

/**
 * One key per KEK version on a database, whichever process holds it. The version number is all a data key
 * names of its KEK, so two keyrings holding different keys under the same version (a keyring prepared twice
 * and installed on different instances; another master key in single-secret mode) would each wrap data keys the
 * other cannot open, found only when a read fails, and lost with the keyring that wrapped them.
 *
 * The database keeps a check per version (`kek_checks`): a random value wrapped with that version by the first
 * process that wrapped a data key with it (for a version used before the checks existed, after it has opened one
 * of that version's data keys). A process opens the check before it wraps its first data key with a version
 * (assertUsable), and at start for every version it holds (mismatched). The check is a wrapped random value, so
 * it tells nothing of the key to whoever reads the table, and a KMS provider checks it with its own unwrap.
 */
export class KekChecks {
  private readonly usable = new Set<string>();
  private epoch = -1;

  constructor(
    private readonly repository: DataKeyRepository,
    private readonly provider: KeyProvider,
  ) {}

  /**
   * Passes when this process may wrap data keys with `kek`: the version's check opens with its key, or no check is
   * registered yet and this process registers its own (after opening a live data key of the version, if there is
   * one). crypto.kek_mismatch otherwise. Checked once per version, again after the key material changes.
   */
  async assertUsable(kek: KekRef): Promise<void> {
    if (!this.repository.hasDatabase) return;
    const epoch = this.provider.keyEpoch;
    if (epoch !== this.epoch) {
      this.usable.clear();
      this.epoch = epoch;
    }
    const id = `${kek.kekId}\0${kek.version}`;
    if (this.usable.has(id)) return;
    await this.verifyOrRegister(kek);
    if (this.provider.keyEpoch === epoch) this.usable.add(id);
  }

  /**
   * The versions this process holds whose check (or, for a version without one, whose live data keys) its key
   * does not open: the start-up check. Registers nothing: a version gets its check with its first data key.
   */
  async mismatched(): Promise<KekRef[]> {
    if (!this.repository.hasDatabase) return [];
    const found: KekRef[] = [];
    for (const kek of await this.provider.kekVersions()) {
      if ((await this.probe(kek)) === 'does_not_open') found.push(kek);
    }
    return found;
  }

  private async verifyOrRegister(kek: KekRef): Promise<void> {
    const probe = await this.probe(kek);
    if (probe === 'does_not_open') throw kekMismatch(kek);
    if (probe === 'check_opens') return;
    const value = randomBytes(32);
    const wrapped = await this.provider.wrapDek(kek, value, kekCheckContext(kek));
    value.fill(0);
    if (await this.repository.registerKekCheck(kek, wrapped)) return;
    // Another process registered the version's check first: this one's key must open it.
    if ((await this.probe(kek)) !== 'check_opens') throw kekMismatch(kek);
  }

  private async probe(kek: KekRef): Promise<Probe> {
    const check = await this.repository.kekCheck(kek);
    if (check) {
      return (await this.opens(() => this.provider.unwrapDek(kek, check, kekCheckContext(kek))))
        ? 'check_opens'
        : 'does_not_open';
    }
    const key = await this.repository.someLiveOn(kek);
    if (!key) return 'nothing_stored';
    return (await this.opens(() => unwrapStoredDek(this.provider, key))) ? 'key_opens' : 'does_not_open';
  }

  private async opens(unwrap: () => Promise<Buffer>): Promise<boolean> {
    try {
      (await unwrap()).fill(0);
      return true;
    } catch (e) {
      if (isCryptoError(e, 'crypto.integrity')) return false;
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
