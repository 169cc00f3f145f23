import { CryptoError, isCryptoError } from './crypto.errors';
import type { KekRef } from './crypto.types';
import { activeKekOf, Keyring, rootDerivedVersions, serializeKeyring, withNewKekVersion } from './keyring';
import { AEAD_KEY_BYTES, AEAD_NONCE_BYTES, AEAD_TAG_BYTES, freshNonce, Sodium } from './sodium';
import type { CryptoOptions } from './crypto.options';

/**
 * Where Haven's keys come from. The root secret never leaves the process; KEK operations are wrap/unwrap
 * so that a KMS (e.g. Vault transit) can keep KEKs remote and only ever see DEKs (docs/keys.md).
 */
export interface KeyProvider {
  /** Short label for messages: 'file', 'env', 'vault', ... */
  readonly kind: string;
  /** Whether addKekVersion() can persist a new version itself (the env provider cannot). */
  readonly canAddKekVersion: boolean;
  /** Loads (or, for the file provider, first creates) the key material. Called once before use. */
  init(): Promise<void>;
  /** 32-byte secret from which purpose keys (blind index, audit chain, checkpoint, token) are derived. */
  rootSecret(): Uint8Array;
  /** The KEK new DEKs are wrapped with. */
  activeKek(): Promise<KekRef>;
  /** Every KEK version this provider can unwrap with. */
  kekVersions(): Promise<readonly KekRef[]>;
  /**
   * Wraps a DEK; `context` is authenticated additional data that unwrap must repeat exactly. Like unwrapDek, it
   * takes the key it holds when called, before its first await (a re-read of key material afterwards does not
   * change which key it uses): KekChecks relies on that, reading keyEpoch just before the call.
   */
  wrapDek(kek: KekRef, dek: Uint8Array, context: Uint8Array): Promise<Buffer>;
  /**
   * Unwraps a DEK; throws crypto.unknown_kek (no such KEK version) or crypto.integrity. `heldNow`: with the key
   * the keyring holds now under that version only, the one wrapDek would use (KekChecks asks whether that key
   * is the database's), not a key a keyring read since has dropped or replaced.
   */
  unwrapDek(
    kek: KekRef,
    wrapped: Uint8Array,
    context: Uint8Array,
    opts?: { readonly heldNow?: boolean },
  ): Promise<Buffer>;
  /**
   * Creates a new, independent KEK version and makes it the active one. `vet`, when given, is shown the version
   * it is about to add before anything changes; if it rejects, the key material is left as it was.
   */
  addKekVersion(vet?: (next: KekRef) => Promise<void>): Promise<KekRef>;
  /** Re-reads key material that may have changed outside this process (a rotation by the CLI). */
  refresh(): Promise<void>;
  /**
   * Changes whenever the key material held changes (a keyring re-read with other contents): what was checked of
   * the keys before (KekChecks) is checked again.
   */
  readonly keyEpoch: number;
}

/** Runs synchronous work as a Promise: a throw becomes a rejection, as callers of async APIs expect. */
export function settle<T>(work: () => T): Promise<T> {
  try {
    return Promise.resolve(work());
  } catch (e) {
    return Promise.reject(e instanceof Error ? e : new Error(String(e)));
  }
}

// Wrapped DEK, local providers:  0x01 | nonce (24 B) | XChaCha20-Poly1305(DEK 32 B) + tag (16 B)  = 73 bytes.
const WRAP_FORMAT = 0x01;
const WRAPPED_BYTES = 1 + AEAD_NONCE_BYTES + AEAD_KEY_BYTES + AEAD_TAG_BYTES;

/** Shared by the file and env providers: KEKs held in process memory, wrapping with XChaCha20-Poly1305. */
export abstract class LocalKeyringProvider implements KeyProvider {
  abstract readonly kind: string;
  abstract readonly canAddKekVersion: boolean;
  private current?: Keyring;
  private replaced = 0;
  /**
   * Keys of versions that a keyring read again no longer holds, or holds with other bytes (see replaceKeyring):
   * kept for unwrapping only, so that what they wrapped stays readable.
   */
  private readonly superseded: { version: number; key: Buffer }[] = [];
  /** The versions the keyring dropped whose keys were read since (said once each, until a restart). */
  private readonly droppedRead = new Set<number>();

  protected constructor(
    protected readonly sodium: Sodium,
    /** Told when a keyring read again is not taken (replaceKeyring). */
    protected readonly warn?: CryptoOptions['warn'],
  ) {}

  protected abstract load(): Promise<Keyring>;
  abstract addKekVersion(vet?: (next: KekRef) => Promise<void>): Promise<KekRef>;
  abstract refresh(): Promise<void>;

  async init(): Promise<void> {
    this.current = await this.load();
  }

  protected get keyring(): Keyring {
    if (!this.current) throw new CryptoError('crypto.config', `${this.kind} key provider used before init()`);
    return this.current;
  }

  /**
   * Takes a keyring read again (new versions after a rotation, old ones removed after it), unless it has
   * another root or KEK id than the one held: the purpose keys (access-log MACs, blind indexes, checkpoint
   * signatures) were derived from the root at start, and another deployment's or a stale keyring's versions
   * would wrap keys the other instances cannot open. Such a keyring is not taken, and said (`source`): the
   * keys held stay in use; a deliberate change of root is a restart (docs/keys.md).
   *
   * A keyring taken that drops a version held, or holds another key under it (one prepared from an older
   * keyring after the database moved on, one rolled back, or an old version removed while data keys still use
   * it), does not take away the key held: it is kept for unwrapping until a restart, so that the data keys it
   * wrapped still open (they did not, and every read failed; a version removed too early was lost with the last
   * copy of the old keyring, though this process held it). New data keys are wrapped with the new keyring's
   * active version, which the KEK checks refuse while it is another key than the database's (503). Said
   * (`source`); and a read of what a dropped version wrapped is said once more (unwrapDek), since a restart then
   * refuses to start (KeyringCheck) until the keyring holds it again.
   */
  protected replaceKeyring(keyring: Keyring, source: string): void {
    const held = this.current;
    if (held && (!held.root.equals(keyring.root) || held.kekId !== keyring.kekId)) {
      this.warn?.(
        `${source} now holds another root or KEK id than the keys this process started with: not taken, the ` +
          'keys held stay in use (a change of root needs a restart, docs/keys.md)',
        { source },
      );
      return;
    }
    if (held) {
      for (const h of held.keks) {
        const now = keyring.keks.find((k) => k.version === h.version);
        if (now?.key.equals(h.key)) continue;
        if (!this.superseded.some((s) => s.version === h.version && s.key.equals(h.key))) {
          this.superseded.push({ version: h.version, key: h.key });
        }
        this.warn?.(
          now
            ? `${source} now holds another key under ${held.kekId} v${h.version} than this process held: the key ` +
                "held is kept for reading what it wrapped until a restart; a new data key is wrapped only with a key the database's " +
                'check agrees with (was the keyring prepared from an older one? docs/keys.md)'
            : `${source} no longer holds ${held.kekId} v${h.version}: this process keeps it for reading what it ` +
                'wrapped until a restart (a restart refuses to start while data keys still use it: keys:rotate lists ' +
                'the versions no live key uses, docs/keys.md)',
          { source },
        );
      }
    }
    this.current = keyring;
    this.replaced++;
  }

  get keyEpoch(): number {
    return this.replaced;
  }

  rootSecret(): Uint8Array {
    return this.keyring.root;
  }

  /** The KEK versions derived from the root (rootDerivedVersions): removing them from the keyring destroys nothing. */
  rootDerivedVersions(): number[] {
    return rootDerivedVersions(this.keyring, this.sodium);
  }

  async activeKek(): Promise<KekRef> {
    await this.refresh();
    return { kekId: this.keyring.kekId, version: activeKekOf(this.keyring).version };
  }

  async kekVersions(): Promise<readonly KekRef[]> {
    await this.refresh();
    const { kekId, keks } = this.keyring;
    return keks.map((k) => ({ kekId, version: k.version }));
  }

  async wrapDek(kek: KekRef, dek: Uint8Array, context: Uint8Array): Promise<Buffer> {
    if (dek.length !== AEAD_KEY_BYTES) throw new CryptoError('crypto.invalid_input', 'a DEK is 32 bytes');
    const key = this.find(kek) ?? (await this.findAfterRefresh(kek));
    const out = Buffer.alloc(WRAPPED_BYTES);
    out[0] = WRAP_FORMAT;
    const nonce = freshNonce();
    out.set(nonce, 1);
    this.sodium.aeadEncryptInto(out, 1 + AEAD_NONCE_BYTES, dek, context, nonce, key);
    return out;
  }

  async unwrapDek(
    kek: KekRef,
    wrapped: Uint8Array,
    context: Uint8Array,
    opts?: { readonly heldNow?: boolean },
  ): Promise<Buffer> {
    if (wrapped.length !== WRAPPED_BYTES || wrapped[0] !== WRAP_FORMAT) {
      throw new CryptoError(
        'crypto.bad_format',
        `wrapped data key is not in the ${this.kind} provider format`,
      );
    }
    let current = this.find(kek);
    if (!current) {
      try {
        current = await this.findAfterRefresh(kek);
      } catch (e) {
        if (opts?.heldNow || !isCryptoError(e, 'crypto.unknown_kek') || this.supersededOf(kek).length === 0) {
          throw e;
        }
      }
    }
    // After the refresh above, which may have superseded the key.
    const older = opts?.heldNow ? [] : this.supersededOf(kek);
    // The key held now, then any key this process held under that version before a keyring replaced it.
    for (const key of current ? [current, ...older] : older) {
      const dek = this.sodium.aeadOpenAt(wrapped, 1, 1 + AEAD_NONCE_BYTES, context, key, (plain) =>
        Buffer.from(plain),
      );
      if (!dek) continue;
      if (!current && !this.droppedRead.has(kek.version)) {
        this.droppedRead.add(kek.version);
        this.warn?.(
          `data keys wrapped with ${kek.kekId} v${kek.version}, which the keyring no longer holds, are still in ` +
            'use: this process opens them with the key it kept, but a restart will refuse to start. Put the ' +
            'version back in the keyring, or run keys:rotate before removing it (docs/keys.md)',
          { kekId: kek.kekId, version: kek.version },
        );
      }
      return dek;
    }
    throw new CryptoError('crypto.integrity', `data key does not unwrap with ${kek.kekId} v${kek.version}`);
  }

  private supersededOf(kek: KekRef): Buffer[] {
    return kek.kekId === this.keyring.kekId
      ? this.superseded.filter((s) => s.version === kek.version).map((s) => s.key)
      : [];
  }

  /** A keyring document holding the current keys plus a new KEK version (for `keys:rotate --prepare-keyring`). */
  exportWithNewKekVersion(): { document: string; added: KekRef } {
    const { keyring, added } = withNewKekVersion(this.keyring);
    return { document: serializeKeyring(keyring), added: { kekId: keyring.kekId, version: added.version } };
  }

  /** Another process (the rotation CLI) may have added a version since this one loaded the keyring. */
  private async findAfterRefresh(kek: KekRef): Promise<Buffer> {
    await this.refresh();
    const found = this.find(kek);
    if (!found) {
      throw new CryptoError('crypto.unknown_kek', `KEK ${kek.kekId} v${kek.version} is not in the keyring`);
    }
    return found;
  }

  private find(kek: KekRef): Buffer | undefined {
    const ring = this.keyring;
    return ring.kekId === kek.kekId ? ring.keks.find((k) => k.version === kek.version)?.key : undefined;
  }
}
