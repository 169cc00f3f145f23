import { readFileSync, statSync } from 'node:fs';
import { CryptoError } from './crypto.errors';
import type { KekRef } from './crypto.types';
import { LocalKeyringProvider, settle } from './key-provider';
import { Keyring, parseKeyMaterial } from './keyring';
import type { Sodium } from './sodium';
import type { CryptoOptions } from './crypto.options';
import { openToOthers } from '../common/fs/private-file';

export interface EnvKeySource {
  /** HAVEN_MASTER_KEY */
  masterKey?: string;
  /** HAVEN_MASTER_KEY_FILE */
  masterKeyFile?: string;
  /** Told when the key file may be read by its group or by others (CryptoOptions.warn). */
  warn?: CryptoOptions['warn'];
}

/**
 * Production keys, supplied by the operator: HAVEN_MASTER_KEY (base64 32-byte root, or a keyring document)
 * or HAVEN_MASTER_KEY_FILE (a mounted secret holding either). Read-only: a rotation installs a new keyring
 * in the secret (`keys:rotate --prepare-keyring`), which a file-mounted secret picks up without a restart.
 */
export class EnvKeyProvider extends LocalKeyringProvider {
  readonly kind = 'env';
  readonly canAddKekVersion = false;
  private stamp = '';

  constructor(
    private readonly source: EnvKeySource,
    sodium: Sodium,
  ) {
    super(sodium, source.warn);
    if (!source.masterKey === !source.masterKeyFile) {
      throw new CryptoError('crypto.config', 'set exactly one of HAVEN_MASTER_KEY or HAVEN_MASTER_KEY_FILE');
    }
  }

  protected load(): Promise<Keyring> {
    return settle(() =>
      this.source.masterKey
        ? parseKeyMaterial(this.source.masterKey, 'HAVEN_MASTER_KEY', this.sodium)
        : this.readFile(),
    );
  }

  refresh(): Promise<void> {
    return settle(() => {
      const file = this.source.masterKeyFile;
      if (!file) return;
      let stamp: string;
      try {
        const st = statSync(file);
        stamp = `${st.ino}:${st.size}:${st.mtimeMs}`;
      } catch {
        return; // keep the keys already loaded; a secret being remounted is briefly absent
      }
      if (stamp !== this.stamp) this.replaceKeyring(this.readFile(), 'HAVEN_MASTER_KEY_FILE');
    });
  }

  addKekVersion(): Promise<KekRef> {
    return Promise.reject(
      new CryptoError(
        'crypto.config',
        'keys from HAVEN_MASTER_KEY/HAVEN_MASTER_KEY_FILE are read-only: create a new keyring with ' +
          '`keys:rotate --prepare-keyring <file>`, install it as HAVEN_MASTER_KEY_FILE on every instance, ' +
          'then run keys:rotate again (docs/keys.md)',
      ),
    );
  }

  private readFile(): Keyring {
    const file = this.source.masterKeyFile!;
    let text: string;
    try {
      const st = statSync(file);
      text = readFileSync(file, 'utf8');
      this.stamp = `${st.ino}:${st.size}:${st.mtimeMs}`;
      this.warnIfReadableByOthers(file, st.mode);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? 'error';
      throw new CryptoError('crypto.config', `HAVEN_MASTER_KEY_FILE: cannot read ${file} (${code})`);
    }
    return parseKeyMaterial(text, 'HAVEN_MASTER_KEY_FILE', this.sodium);
  }

  /**
   * A key file others may read is taken (a mounted secret is often 0644 unless told otherwise), but said, each
   * time one is loaded: whoever reads it reads every case, together with a copy of the database.
   */
  private warnIfReadableByOthers(file: string, mode: number): void {
    if (!openToOthers(mode)) return;
    this.source.warn?.(
      'HAVEN_MASTER_KEY_FILE is readable by its group or by others: make it 0400 or 0600 (e.g. defaultMode of the secret)',
      { file, mode: (mode & 0o777).toString(8) },
    );
  }
}
