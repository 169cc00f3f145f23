import { createHmac } from 'node:crypto';
import { CryptoError } from './crypto.errors';
import { BLIND_INDEX_FIELDS, BlindIndexField } from './crypto.types';
import { KDF } from './kdf-contexts';
import { KDF_KEY_BYTES, KeyedHasher, SigningKeyPair, Sodium } from './sodium';

const AUDIT_MAC_BYTES = 32;
/** The two lengths that frame a chain link's message: the previous link's and the entry's (4 bytes each). */
const LINK_FRAME = 8;

/**
 * Protects the keys that are not data keys: one per purpose, derived from the root secret with crypto_kdf
 * (contexts in kdf-contexts.ts), so that a key leaking from one use (e.g. the JWT secret) exposes no other.
 * Getters return copies; callers cannot change the keys other services use.
 */
export class PurposeKeys {
  private readonly blindIndex: ReadonlyMap<BlindIndexField, Buffer>;
  private readonly auditChain: Buffer;
  private readonly tokenSigning: Buffer;
  private readonly throttle: Buffer;
  private readonly checkpoint: SigningKeyPair;

  constructor(
    root: Uint8Array,
    private readonly sodium: Sodium,
  ) {
    if (root.length !== KDF_KEY_BYTES)
      throw new CryptoError('crypto.config', 'the root secret must be 32 bytes');
    const derive = (id: number, context: string) => sodium.kdfDerive(32, id, context, root);
    this.blindIndex = new Map(
      BLIND_INDEX_FIELDS.map((f) => [f, derive(KDF.blindIndex.ids[f], KDF.blindIndex.context)] as const),
    );
    this.auditChain = derive(KDF.auditChain.id, KDF.auditChain.context);
    this.tokenSigning = derive(KDF.tokenSigning.id, KDF.tokenSigning.context);
    this.throttle = derive(KDF.throttle.id, KDF.throttle.context);
    const seed = derive(KDF.checkpointSigning.id, KDF.checkpointSigning.context);
    this.checkpoint = sodium.signSeedKeypair(seed);
    sodium.memzero(seed);
  }

  /** HMAC secret for access tokens (JWT HS256). */
  tokenSigningKey(): Buffer {
    return Buffer.from(this.tokenSigning);
  }

  /**
   * The sign-in throttle's key for `text` (a typed username, a user id, an address): HMAC-SHA-256, hex. Keyed,
   * so that a database dump does not let anyone test guesses of what was typed into the username field (a
   * password, at times) at the speed of a plain hash.
   */
  throttleKeyOf(text: string): string {
    return createHmac('sha256', this.throttle).update(text, 'utf8').digest('hex');
  }

  /** Key of the access-log hash chain (keyed BLAKE2b). */
  auditChainKey(): Buffer {
    return Buffer.from(this.auditChain);
  }

  /**
   * The Ed25519 public key checkpoints are signed with (signCheckpoint signs; the private key is never handed
   * out: each copy would stay in the heap).
   */
  checkpointPublicKey(): Buffer {
    return Buffer.from(this.checkpoint.publicKey);
  }

  /** The blind-index key of one searchable field (each field has its own). */
  blindIndexKey(field: BlindIndexField): Buffer {
    return Buffer.from(this.blindIndexKeyRef(field));
  }

  /** @internal The key itself, for BlindIndexService's hot path; never hand it out. */
  blindIndexKeyRef(field: BlindIndexField): Buffer {
    const key = this.blindIndex.get(field);
    if (!key) throw new CryptoError('crypto.invalid_input', `no blind index for field "${String(field)}"`);
    return key;
  }

  /**
   * One link of the access-log chain: keyed BLAKE2b-256 over the previous link and the canonical entry
   * bytes, each length-prefixed so that no two different inputs share an encoding.
   */
  auditChainMac(previous: Uint8Array, entry: Uint8Array): Buffer {
    return auditChainLink(this.sodium, this.auditChain, previous, entry);
  }

  /** auditChainMac for many links in a row (verifying the log); close() it when done. */
  auditChainLinker(): ChainLinker {
    return new ChainLinker(this.sodium, this.auditChain);
  }

  /** Ed25519 detached signature of a checkpoint. */
  signCheckpoint(message: Uint8Array): Buffer {
    return this.sodium.signDetached(message, this.checkpoint.privateKey);
  }

  /** Verifies a checkpoint signature, by default against this instance's public key. */
  verifyCheckpoint(
    message: Uint8Array,
    signature: Uint8Array,
    publicKey: Uint8Array = this.checkpoint.publicKey,
  ): boolean {
    return this.sodium.verifyDetached(signature, message, publicKey);
  }
}

/**
 * Links of the access-log chain under one key, for verification (millions of links): the same bytes as
 * auditChainLink, with the key held in the hasher's own memory and no buffer made per link.
 */
export class ChainLinker {
  private readonly hasher: KeyedHasher;
  /** The framing of a link after an AUDIT_MAC_BYTES-long previous link (every link of Haven's chain). */
  private readonly head = Buffer.alloc(LINK_FRAME + AUDIT_MAC_BYTES);

  constructor(sodium: Sodium, key: Uint8Array) {
    this.hasher = sodium.keyedHasher(AUDIT_MAC_BYTES, key);
  }

  /** The link after `previous` (a link or the genesis MAC); a view, valid until the next call. */
  link(previous: Uint8Array, entry: Uint8Array): Buffer {
    const head =
      previous.length === AUDIT_MAC_BYTES ? this.head : Buffer.allocUnsafe(LINK_FRAME + previous.length);
    return this.hasher.hash(frameLink(head, previous, entry.length), entry);
  }

  /** Wipes the key. */
  close(): void {
    this.hasher.close();
  }
}

/** A link of the access-log chain under `key` (PurposeKeys.auditChainMac), without a PurposeKeys. */
export function auditChainLink(
  sodium: Sodium,
  key: Uint8Array,
  previous: Uint8Array,
  entry: Uint8Array,
): Buffer {
  const message = Buffer.allocUnsafe(LINK_FRAME + previous.length + entry.length);
  frameLink(message, previous, entry.length);
  message.set(entry, LINK_FRAME + previous.length);
  return sodium.keyedHash(AUDIT_MAC_BYTES, message, key);
}

/**
 * Writes what a link's message starts with into `out`: the previous link's length, the previous link, the
 * entry's length (each length 4 bytes, big-endian), so that no two different inputs share an encoding.
 */
function frameLink(out: Buffer, previous: Uint8Array, entryLength: number): Buffer {
  out.writeUInt32BE(previous.length, 0);
  out.set(previous, 4);
  out.writeUInt32BE(entryLength, 4 + previous.length);
  return out;
}
