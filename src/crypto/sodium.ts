// Protects key material and plaintext on their way through libsodium. This file is the ONLY import of
// libsodium in Haven; everything else goes through the small `Sodium` surface below.
import { randomFillSync } from 'node:crypto';
import sodium from 'libsodium-wrappers-sumo';
import { CryptoError } from './crypto.errors';

export const AEAD_KEY_BYTES = 32;
export const AEAD_NONCE_BYTES = 24;
export const AEAD_TAG_BYTES = 16;
export const KDF_KEY_BYTES = 32;
/** Largest value the field cipher accepts; far above any case field, small enough to stay in WASM memory. */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

export interface SigningKeyPair {
  readonly publicKey: Buffer;
  readonly privateKey: Buffer;
}

/** The libsodium primitives Haven uses. Failures to authenticate return null; misuse throws. */
export interface Sodium {
  /** `wasm-direct` calls libsodium's exports with a reusable WASM buffer; `wrappers` is the public API. */
  readonly backend: 'wasm-direct' | 'wrappers';
  /** XChaCha20-Poly1305-IETF; writes `message.length + 16` bytes into `out` at `outOffset`. */
  aeadEncryptInto(
    out: Uint8Array,
    outOffset: number,
    message: Uint8Array,
    ad: Uint8Array,
    nonce: Uint8Array,
    key: Uint8Array,
  ): void;
  /** The plaintext, or null when the tag does not verify (wrong key, AD, nonce or tampered bytes). */
  aeadDecrypt(ciphertext: Uint8Array, ad: Uint8Array, nonce: Uint8Array, key: Uint8Array): Buffer | null;
  /**
   * Decrypts and hands the plaintext to `use` without copying it out of libsodium's memory; the view is
   * wiped as soon as `use` returns, so `use` must copy whatever it keeps and must not call back into this
   * object (the memory is shared). Null when the tag does not verify.
   */
  aeadOpen<T>(
    ciphertext: Uint8Array,
    ad: Uint8Array,
    nonce: Uint8Array,
    key: Uint8Array,
    use: (plain: Buffer) => T,
  ): T | null;
  /** aeadOpen of a stored value holding the nonce at `nonceOffset` and the ciphertext from `cipherOffset` on. */
  aeadOpenAt<T>(
    sealed: Uint8Array,
    nonceOffset: number,
    cipherOffset: number,
    ad: Uint8Array,
    key: Uint8Array,
    use: (plain: Buffer) => T,
  ): T | null;
  /** Keyed BLAKE2b (crypto_generichash), outLen 16..64. */
  keyedHash(outLen: number, message: Uint8Array, key: Uint8Array): Buffer;
  /** Keyed BLAKE2b of the UTF-8 encoding of `text`, without an intermediate Buffer. */
  keyedHashText(outLen: number, text: string, key: Uint8Array): Buffer;
  /**
   * Keyed BLAKE2b under one key for many messages (verifying the access log: millions of them): the key is
   * copied once into memory of the hasher's own, wiped by `close()`.
   */
  keyedHasher(outLen: number, key: Uint8Array): KeyedHasher;
  /** crypto_kdf_derive_from_key: `context` is exactly 8 ASCII characters. */
  kdfDerive(subkeyLen: number, subkeyId: number, context: string, key: Uint8Array): Buffer;
  signSeedKeypair(seed: Uint8Array): SigningKeyPair;
  signDetached(message: Uint8Array, privateKey: Uint8Array): Buffer;
  verifyDetached(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;
  memzero(bytes: Uint8Array): void;
}

// Nonces come from Node's CSPRNG (libsodium's randombytes_buf is ~30x slower in Node), filled in blocks:
// one randomFillSync call per 256 nonces instead of one per nonce.
const NONCE_POOL = Buffer.allocUnsafeSlow(AEAD_NONCE_BYTES * 256);
let nonceOffset = NONCE_POOL.length;

/** A fresh random 24-byte nonce. The view is only valid until the next call: copy it at once. */
export function freshNonce(): Buffer {
  if (nonceOffset + AEAD_NONCE_BYTES > NONCE_POOL.length) {
    randomFillSync(NONCE_POOL);
    nonceOffset = 0;
  }
  const nonce = NONCE_POOL.subarray(nonceOffset, nonceOffset + AEAD_NONCE_BYTES);
  nonceOffset += AEAD_NONCE_BYTES;
  return nonce;
}

/** Sodium.keyedHasher(): one key, many messages. */
export interface KeyedHasher {
  /**
   * The keyed hash of `head` followed by `tail` (the bytes of their concatenation). The result is a view
   * that is only valid until the next call: copy what you keep.
   */
  hash(head: Uint8Array, tail: Uint8Array): Buffer;
  /** Wipes the key; the hasher cannot be used after. */
  close(): void;
}

let loading: Promise<Sodium> | undefined;

/** Waits for libsodium once and returns the fastest backend that passes a self-test. */
export function loadSodium(): Promise<Sodium> {
  loading ??= sodium.ready.then(() => {
    const wrappers = new WrapperSodium();
    const direct = DirectSodium.tryCreate();
    return direct && selfTest(direct, wrappers) ? direct : wrappers;
  });
  return loading;
}

/** The public libsodium-wrappers API; always correct, allocates per call. */
export class WrapperSodium implements Sodium {
  readonly backend: Sodium['backend'] = 'wrappers';

  aeadEncryptInto(
    out: Uint8Array,
    outOffset: number,
    message: Uint8Array,
    ad: Uint8Array,
    nonce: Uint8Array,
    key: Uint8Array,
  ): void {
    checkAeadArgs(message.length, nonce, key);
    const sealed = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(message, ad, null, nonce, key);
    out.set(sealed, outOffset);
    sodium.memzero(sealed);
  }

  aeadDecrypt(ciphertext: Uint8Array, ad: Uint8Array, nonce: Uint8Array, key: Uint8Array): Buffer | null {
    checkAeadArgs(ciphertext.length, nonce, key);
    if (ciphertext.length < AEAD_TAG_BYTES) return null;
    try {
      const plain = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, ciphertext, ad, nonce, key);
      return Buffer.from(plain.buffer, plain.byteOffset, plain.byteLength);
    } catch {
      return null;
    }
  }

  aeadOpen<T>(
    ciphertext: Uint8Array,
    ad: Uint8Array,
    nonce: Uint8Array,
    key: Uint8Array,
    use: (plain: Buffer) => T,
  ): T | null {
    const plain = this.aeadDecrypt(ciphertext, ad, nonce, key);
    if (!plain) return null;
    try {
      return use(plain);
    } finally {
      plain.fill(0);
    }
  }

  aeadOpenAt<T>(
    sealed: Uint8Array,
    nonceOffset: number,
    cipherOffset: number,
    ad: Uint8Array,
    key: Uint8Array,
    use: (plain: Buffer) => T,
  ): T | null {
    const nonce = sealed.subarray(nonceOffset, nonceOffset + AEAD_NONCE_BYTES);
    return this.aeadOpen(sealed.subarray(cipherOffset), ad, nonce, key, use);
  }

  keyedHash(outLen: number, message: Uint8Array, key: Uint8Array): Buffer {
    const h = sodium.crypto_generichash(outLen, message, key);
    return Buffer.from(h.buffer, h.byteOffset, h.byteLength);
  }

  keyedHashText(outLen: number, text: string, key: Uint8Array): Buffer {
    return this.keyedHash(outLen, Buffer.from(text, 'utf8'), key);
  }

  keyedHasher(outLen: number, key: Uint8Array): KeyedHasher {
    checkHashArgs(outLen, key);
    const own = Buffer.from(key);
    let open = true;
    return {
      hash: (head, tail) => {
        if (!open) throw new Error('libsodium: the hasher is closed');
        return this.keyedHash(outLen, Buffer.concat([head, tail]), own);
      },
      close: () => {
        open = false;
        own.fill(0);
      },
    };
  }

  kdfDerive(subkeyLen: number, subkeyId: number, context: string, key: Uint8Array): Buffer {
    if (!/^[\x20-\x7e]{8}$/.test(context)) throw new Error('kdf context must be 8 ASCII characters');
    const k = sodium.crypto_kdf_derive_from_key(subkeyLen, subkeyId, context, key);
    return Buffer.from(k.buffer, k.byteOffset, k.byteLength);
  }

  signSeedKeypair(seed: Uint8Array): SigningKeyPair {
    const kp = sodium.crypto_sign_seed_keypair(seed);
    return { publicKey: Buffer.from(kp.publicKey), privateKey: Buffer.from(kp.privateKey) };
  }

  signDetached(message: Uint8Array, privateKey: Uint8Array): Buffer {
    return Buffer.from(sodium.crypto_sign_detached(message, privateKey));
  }

  verifyDetached(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
    try {
      return sodium.crypto_sign_verify_detached(signature, message, publicKey);
    } catch {
      return false;
    }
  }

  memzero(bytes: Uint8Array): void {
    bytes.fill(0);
  }
}

/** libsodium's exported WASM functions; 64-bit lengths are passed as (low, high) 32-bit halves. */
interface RawLibsodium {
  HEAPU8: Uint8Array;
  _malloc(size: number): number;
  _free(ptr: number): void;
  _crypto_aead_xchacha20poly1305_ietf_encrypt(
    c: number,
    clenP: number,
    m: number,
    mlenLo: number,
    mlenHi: number,
    ad: number,
    adlenLo: number,
    adlenHi: number,
    nsec: number,
    npub: number,
    k: number,
  ): number;
  _crypto_aead_xchacha20poly1305_ietf_decrypt(
    m: number,
    mlenP: number,
    nsec: number,
    c: number,
    clenLo: number,
    clenHi: number,
    ad: number,
    adlenLo: number,
    adlenHi: number,
    npub: number,
    k: number,
  ): number;
  _crypto_generichash(
    out: number,
    outlen: number,
    input: number,
    inlenLo: number,
    inlenHi: number,
    key: number,
    keylen: number,
  ): number;
}

const utf8 = new TextEncoder();

/**
 * Calls libsodium's WASM exports directly through one reusable buffer in WASM memory, which is wiped after
 * every call. 2-3x faster than the wrappers (no per-call malloc/free and copies). `libsodium` is an
 * undocumented property of libsodium-wrappers, so this backend is only used when the self-test agrees
 * byte for byte with the public API; otherwise Haven falls back to the wrappers.
 */
class DirectSodium extends WrapperSodium {
  override readonly backend: Sodium['backend'] = 'wasm-direct';
  private readonly area: WasmArea;

  private constructor(private readonly raw: RawLibsodium) {
    super();
    this.area = new WasmArea(raw);
  }

  static tryCreate(): DirectSodium | null {
    const raw = (sodium as unknown as { libsodium?: Partial<RawLibsodium> }).libsodium;
    const fns = [
      '_malloc',
      '_free',
      '_crypto_aead_xchacha20poly1305_ietf_encrypt',
      '_crypto_aead_xchacha20poly1305_ietf_decrypt',
      '_crypto_generichash',
    ] as const;
    if (!raw || !(raw.HEAPU8 instanceof Uint8Array) || fns.some((f) => typeof raw[f] !== 'function')) {
      return null;
    }
    return new DirectSodium(raw as RawLibsodium);
  }

  /** Start of a wiped scratch area of at least `bytes`; WASM memory may grow, so re-read HEAPU8 after. */
  private scratch(bytes: number): number {
    return this.area.reserve(bytes);
  }

  override aeadEncryptInto(
    out: Uint8Array,
    outOffset: number,
    message: Uint8Array,
    ad: Uint8Array,
    nonce: Uint8Array,
    key: Uint8Array,
  ): void {
    checkAeadArgs(message.length, nonce, key);
    const mlen = message.length;
    const base = this.scratch(AEAD_KEY_BYTES + AEAD_NONCE_BYTES + ad.length + 2 * mlen + AEAD_TAG_BYTES);
    const heap = this.raw.HEAPU8;
    const kp = base;
    const np = kp + AEAD_KEY_BYTES;
    const ap = np + AEAD_NONCE_BYTES;
    const mp = ap + ad.length;
    const cp = mp + mlen;
    const end = cp + mlen + AEAD_TAG_BYTES;
    heap.set(key, kp);
    heap.set(nonce, np);
    heap.set(ad, ap);
    heap.set(message, mp);
    const rc = this.raw._crypto_aead_xchacha20poly1305_ietf_encrypt(
      cp,
      0,
      mp,
      mlen,
      0,
      ap,
      ad.length,
      0,
      0,
      np,
      kp,
    );
    if (rc === 0) out.set(heap.subarray(cp, end), outOffset);
    heap.fill(0, base, end);
    if (rc !== 0) throw new Error('libsodium: encryption failed');
  }

  override aeadDecrypt(
    ciphertext: Uint8Array,
    ad: Uint8Array,
    nonce: Uint8Array,
    key: Uint8Array,
  ): Buffer | null {
    return this.aeadOpen(ciphertext, ad, nonce, key, (plain) => Buffer.from(plain));
  }

  override aeadOpen<T>(
    ciphertext: Uint8Array,
    ad: Uint8Array,
    nonce: Uint8Array,
    key: Uint8Array,
    use: (plain: Buffer) => T,
  ): T | null {
    checkAeadArgs(ciphertext.length, nonce, key);
    const base = this.scratch(AEAD_NONCE_BYTES + 2 * ciphertext.length + AEAD_KEY_BYTES + ad.length);
    const heap = this.raw.HEAPU8;
    heap.set(nonce, base);
    heap.set(ciphertext, base + AEAD_NONCE_BYTES);
    return this.openInHeap(base, AEAD_NONCE_BYTES + ciphertext.length, 0, AEAD_NONCE_BYTES, ad, key, use);
  }

  override aeadOpenAt<T>(
    sealed: Uint8Array,
    nonceOffset: number,
    cipherOffset: number,
    ad: Uint8Array,
    key: Uint8Array,
    use: (plain: Buffer) => T,
  ): T | null {
    const clen = sealed.length - cipherOffset;
    checkAeadArgs(clen, sealed.subarray(nonceOffset, nonceOffset + AEAD_NONCE_BYTES), key);
    const base = this.scratch(sealed.length + clen + AEAD_KEY_BYTES + ad.length);
    this.raw.HEAPU8.set(sealed, base);
    return this.openInHeap(base, sealed.length, nonceOffset, cipherOffset, ad, key, use);
  }

  /** The sealed bytes are at `base` (length `sealedLength`); key, AD and plaintext go after them. */
  private openInHeap<T>(
    base: number,
    sealedLength: number,
    nonceOffset: number,
    cipherOffset: number,
    ad: Uint8Array,
    key: Uint8Array,
    use: (plain: Buffer) => T,
  ): T | null {
    const clen = sealedLength - cipherOffset;
    if (clen < AEAD_TAG_BYTES) return null;
    const mlen = clen - AEAD_TAG_BYTES;
    const heap = this.raw.HEAPU8;
    const kp = base + sealedLength;
    const ap = kp + AEAD_KEY_BYTES;
    const mp = ap + ad.length;
    const end = mp + mlen;
    heap.set(key, kp);
    heap.set(ad, ap);
    try {
      const rc = this.raw._crypto_aead_xchacha20poly1305_ietf_decrypt(
        mp,
        0,
        0,
        base + cipherOffset,
        clen,
        0,
        ap,
        ad.length,
        0,
        base + nonceOffset,
        kp,
      );
      return rc === 0 ? use(Buffer.from(heap.buffer, heap.byteOffset + mp, mlen)) : null;
    } finally {
      heap.fill(0, base, end);
    }
  }

  override keyedHash(outLen: number, message: Uint8Array, key: Uint8Array): Buffer {
    checkHashArgs(outLen, key);
    const base = this.scratch(key.length + message.length + outLen);
    const heap = this.raw.HEAPU8;
    const kp = base;
    const mp = kp + key.length;
    const op = mp + message.length;
    heap.set(key, kp);
    heap.set(message, mp);
    return this.finishHash(base, op, outLen, mp, message.length, kp, key.length);
  }

  override keyedHashText(outLen: number, text: string, key: Uint8Array): Buffer {
    checkHashArgs(outLen, key);
    const maxBytes = text.length * 3;
    const base = this.scratch(key.length + maxBytes + outLen);
    const heap = this.raw.HEAPU8;
    const kp = base;
    const mp = kp + key.length;
    heap.set(key, kp);
    const { written } = utf8.encodeInto(text, heap.subarray(mp, mp + maxBytes));
    return this.finishHash(base, mp + written, outLen, mp, written, kp, key.length);
  }

  override keyedHasher(outLen: number, key: Uint8Array): KeyedHasher {
    checkHashArgs(outLen, key);
    return new DirectKeyedHasher(this.raw, outLen, key);
  }

  private finishHash(
    base: number,
    op: number,
    outLen: number,
    mp: number,
    mlen: number,
    kp: number,
    klen: number,
  ): Buffer {
    const rc = this.raw._crypto_generichash(op, outLen, mp, mlen, 0, kp, klen);
    const heap = this.raw.HEAPU8;
    const out = rc === 0 ? Buffer.from(heap.subarray(op, op + outLen)) : null;
    heap.fill(0, base, op + outLen);
    if (!out) throw new Error('libsodium: generichash failed');
    return out;
  }
}

/**
 * A keyed hasher with an area of WASM memory of its own (not DirectSodium's scratch, which other calls use
 * between two of its hashes): the key stays there until close(); each message is copied in next to it and
 * hashed where it lies, and the result is read from there without a copy.
 */
class DirectKeyedHasher implements KeyedHasher {
  private readonly area: WasmArea;
  private readonly keyLen: number;
  /** A view of the result, rebuilt when WASM memory grows (its ArrayBuffer is then replaced). */
  private out: Buffer | null = null;

  constructor(
    private readonly raw: RawLibsodium,
    private readonly outLen: number,
    key: Uint8Array,
  ) {
    this.area = new WasmArea(raw);
    this.keyLen = key.length;
    // Reserved first, then the view read: a reservation that grows the memory detaches the view read before it.
    const at = this.area.reserve(4096);
    this.raw.HEAPU8.set(key, at);
  }

  hash(head: Uint8Array, tail: Uint8Array): Buffer {
    if (this.area.released) throw new Error('libsodium: the hasher is closed');
    const mlen = head.length + tail.length;
    if (mlen > MAX_MESSAGE_BYTES) throw new CryptoError('crypto.invalid_input', 'message too large');
    const kp = this.area.reserve(this.keyLen + this.outLen + mlen, this.keyLen); // the key stays at its start
    const heap = this.raw.HEAPU8;
    const op = kp + this.keyLen;
    const mp = op + this.outLen;
    heap.set(head, mp);
    heap.set(tail, mp + head.length);
    if (this.raw._crypto_generichash(op, this.outLen, mp, mlen, 0, kp, this.keyLen) !== 0) {
      throw new Error('libsodium: generichash failed');
    }
    let out = this.out;
    if (!out || out.buffer !== heap.buffer || out.byteOffset !== op) {
      out = Buffer.from(heap.buffer, op, this.outLen);
      this.out = out;
    }
    return out;
  }

  close(): void {
    this.area.release();
    this.out = null;
  }
}

/**
 * An area of libsodium's WASM memory that only grows (to a power of two, at least 4 KiB). What it held is wiped
 * before it is freed: when it moves to a larger area (after copying the first `keep` bytes there) and on
 * release().
 */
class WasmArea {
  private ptr = 0;
  private size = 0;
  private done = false;

  constructor(private readonly raw: RawLibsodium) {}

  get released(): boolean {
    return this.done;
  }

  /** The area's start, with at least `bytes` of room; WASM memory may grow, so re-read HEAPU8 after. */
  reserve(bytes: number, keep = 0): number {
    if (this.done) throw new Error('libsodium: the memory area was released');
    if (bytes <= this.size) return this.ptr;
    let size = Math.max(4096, this.size);
    while (size < bytes) size *= 2;
    const ptr = this.raw._malloc(size);
    if (!ptr) throw new Error('libsodium: out of WASM memory');
    const heap = this.raw.HEAPU8; // read after _malloc, which may have grown the memory
    if (this.ptr) {
      heap.copyWithin(ptr, this.ptr, this.ptr + keep);
      heap.fill(0, this.ptr, this.ptr + this.size);
      this.raw._free(this.ptr);
    }
    this.ptr = ptr;
    this.size = size;
    return ptr;
  }

  /** Wipes and frees the area; it cannot be reserved again. */
  release(): void {
    if (this.done) return;
    this.done = true;
    if (!this.ptr) return;
    this.raw.HEAPU8.fill(0, this.ptr, this.ptr + this.size);
    this.raw._free(this.ptr);
    this.ptr = 0;
    this.size = 0;
  }
}

function checkAeadArgs(length: number, nonce: Uint8Array, key: Uint8Array): void {
  if (key.length !== AEAD_KEY_BYTES || nonce.length !== AEAD_NONCE_BYTES) {
    throw new Error('libsodium: bad AEAD key or nonce length');
  }
  if (length > MAX_MESSAGE_BYTES + AEAD_TAG_BYTES) {
    throw new CryptoError('crypto.invalid_input', `value larger than ${MAX_MESSAGE_BYTES} bytes`);
  }
}

function checkHashArgs(outLen: number, key: Uint8Array): void {
  if (!Number.isInteger(outLen) || outLen < 16 || outLen > 64 || key.length < 16 || key.length > 64) {
    throw new Error('libsodium: bad generichash output or key length');
  }
}

/** The direct backend must agree byte for byte with the public API, or it is not used. */
function selfTest(direct: Sodium, reference: Sodium): boolean {
  try {
    const key = Buffer.alloc(AEAD_KEY_BYTES);
    randomFillSync(key);
    for (const size of [0, 1, 57, 200, 5000]) {
      const message = Buffer.alloc(size);
      const ad = Buffer.alloc(size % 97);
      randomFillSync(message);
      randomFillSync(ad);
      const nonce = Buffer.from(freshNonce());
      const a = Buffer.alloc(size + AEAD_TAG_BYTES);
      const b = Buffer.alloc(size + AEAD_TAG_BYTES);
      direct.aeadEncryptInto(a, 0, message, ad, nonce, key);
      reference.aeadEncryptInto(b, 0, message, ad, nonce, key);
      if (!a.equals(b)) return false;
      if (!direct.aeadDecrypt(b, ad, nonce, key)?.equals(message)) return false;
      const stored = Buffer.concat([Buffer.from([9]), nonce, b]);
      if (!direct.aeadOpenAt(stored, 1, 25, ad, key, (p) => Buffer.from(p))?.equals(message)) return false;
      a[a.length - 1] ^= 1;
      if (direct.aeadDecrypt(a, ad, nonce, key) !== null) return false;
      for (const outLen of [16, 32, 64]) {
        if (!direct.keyedHash(outLen, message, key).equals(reference.keyedHash(outLen, message, key)))
          return false;
      }
      const hasher = direct.keyedHasher(32, key);
      try {
        const head = message.subarray(0, size >> 1);
        const tail = message.subarray(size >> 1);
        if (!hasher.hash(head, tail).equals(reference.keyedHash(32, message, key))) return false;
      } finally {
        hasher.close();
      }
      const text = `Nguyễn Thị Hoà ${size}`;
      if (!direct.keyedHashText(16, text, key).equals(reference.keyedHashText(16, text, key))) return false;
    }
    return true;
  } catch {
    return false;
  }
}
