import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createFileExclusive, replaceFile } from '../common/fs/durable-file';
import { CryptoError } from './crypto.errors';
import type { KekRef } from './crypto.types';
import { LocalKeyringProvider, settle } from './key-provider';
import { generateKeyring, Keyring, parseKeyMaterial, serializeKeyring, withNewKekVersion } from './keyring';
import type { Sodium } from './sodium';
import type { CryptoOptions } from './crypto.options';
import { openToOthers } from '../common/fs/private-file';

export const KEYRING_FILE = 'keyring.json';

/** Where a HAVEN_DATA_DIR keeps its development keyring (used when no HAVEN_MASTER_KEY(_FILE) is set). */
export function developmentKeysDir(dataDir: string): string {
  return join(dataDir, 'keys');
}

/**
 * Demo/development keys: a keyring created under `<dataDir>/keys` on first start (directory 0700, file
 * 0600) and reused afterwards. Rotation appends a KEK version by atomically replacing the file; running
 * processes notice the change (stat on use) and reload it. Never used when NODE_ENV=production.
 */
export class FileKeyProvider extends LocalKeyringProvider {
  readonly kind = 'file';
  readonly canAddKekVersion = true;
  readonly path: string;
  private stamp = '';

  constructor(
    readonly dir: string,
    sodium: Sodium,
    warn?: CryptoOptions['warn'],
  ) {
    super(sodium, warn);
    this.path = join(dir, KEYRING_FILE);
  }

  // File operations are synchronous on purpose: they run at start-up, at rotation, and as one stat() when a
  // key is created, and they must not interleave with each other.
  protected load(): Promise<Keyring> {
    return settle(() => {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      this.checkPrivate(this.dir, 'directory', '700');
      if (!this.statOrNull()) createFileExclusive(this.path, serializeKeyring(generateKeyring()));
      return this.read();
    });
  }

  refresh(): Promise<void> {
    return settle(() => {
      const st = this.statOrNull();
      if (st && stampOf(st) !== this.stamp) this.replaceKeyring(this.read(), this.path);
    });
  }

  async addKekVersion(vet?: (next: KekRef) => Promise<void>): Promise<KekRef> {
    const current = await settle(() => this.readKeyring());
    const { keyring, added } = withNewKekVersion(current.keyring);
    const next = { kekId: keyring.kekId, version: added.version };
    await vet?.(next);
    return settle(() => {
      // Written over the keyring it was computed from only: a change of the file while `vet` ran is not undone.
      const st = this.statOrNull();
      if (!st || stampOf(st) !== current.stamp) {
        throw new CryptoError(
          'crypto.config',
          `key file ${this.path} changed while the new version was checked: nothing was written; run keys:rotate again`,
        );
      }
      replaceFile(this.path, serializeKeyring(keyring));
      this.replaceKeyring(this.read(), this.path);
      return next;
    });
  }

  /** The keyring file's contents, now held as the provider's (its stamp noted for refresh()). */
  private read(): Keyring {
    const { keyring, stamp } = this.readKeyring();
    this.stamp = stamp;
    return keyring;
  }

  /** The keyring file's contents and stamp, without changing what the provider holds. */
  private readKeyring(): { keyring: Keyring; stamp: string } {
    const st = this.statOrNull();
    if (!st) throw new CryptoError('crypto.config', `key file ${this.path} has disappeared`);
    this.checkPrivate(this.path, 'file', '600');
    return {
      keyring: parseKeyMaterial(readFileSync(this.path, 'utf8'), this.path, this.sodium),
      stamp: stampOf(st),
    };
  }

  private statOrNull(): ReturnType<typeof statSync> | null {
    try {
      return statSync(this.path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new CryptoError('crypto.config', `cannot read key file ${this.path}: ${(e as Error).message}`);
    }
  }

  /** Like ssh: refuse keys that other users can read. */
  private checkPrivate(path: string, what: string, mode: string): void {
    if (openToOthers(statSync(path).mode)) {
      throw new CryptoError(
        'crypto.config',
        `key ${what} ${path} is accessible by group or others; run: chmod ${mode} ${path}`,
      );
    }
  }
}

function stampOf(st: ReturnType<typeof statSync>): string {
  return st ? `${st.ino}:${st.size}:${st.mtimeMs}` : '';
}
