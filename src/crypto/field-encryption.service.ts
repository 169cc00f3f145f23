import { CryptoError } from './crypto.errors';
import { Ciphertext, FIELD_CATEGORIES, FieldCategory, FieldLocation } from './crypto.types';
import { DataKey, dataKeyMaterial, isUuid } from './data-key';
import { AEAD_NONCE_BYTES, AEAD_TAG_BYTES, freshNonce, Sodium } from './sodium';

/*
 * Stored value, format version 1 (a bytea column):
 *
 *   offset  size  content
 *   0       1     format version = 0x01
 *   1       16    key id: the id of the owner's DEK (data_keys.dek_id, UUID bytes)
 *   17      24    XChaCha20 nonce (random, from Node's CSPRNG)
 *   41      n+16  XChaCha20-Poly1305-IETF ciphertext of the padded plaintext, then the 16-byte tag
 *
 * Padded plaintext: value || 0x80 || 0x00..., to a multiple of 16 bytes (hides exact lengths, e.g. of names).
 * Additional data (authenticated, not stored):
 *   "haven/field" 0x00 | version (1 B) | key id (16 B) | u16 len | table | u16 len | column | u16 len | row id
 * so a value moved to another row, column, table or owner, or relabelled with another version, fails.
 */
export const FIELD_FORMAT_V1 = 0x01;
const KEY_ID_BYTES = 16;
const NONCE_OFFSET = 1 + KEY_ID_BYTES;
const HEADER_BYTES = NONCE_OFFSET + AEAD_NONCE_BYTES;
const PAD_BLOCK = 16;
const MIN_BYTES = HEADER_BYTES + PAD_BLOCK + AEAD_TAG_BYTES;
const AD_PREFIX = Buffer.from('haven/field\0', 'latin1');

export interface EncryptedField {
  readonly location: FieldLocation;
  readonly value: Ciphertext | null;
}

/** Encrypted fields of one owner, grouped by category: `{ identity: { fullName: {...} }, contact: {...} }`. */
export type EncryptedSections = { readonly [C in FieldCategory]?: Readonly<Record<string, EncryptedField>> };
export type DecryptedSections = { [C in FieldCategory]?: Record<string, string | null> };

const CATEGORIES: ReadonlySet<string> = new Set(FIELD_CATEGORIES);

/** Validates that a bytea read from the database is a Haven ciphertext (header only; no key needed). */
export function asCiphertext(value: Buffer): Ciphertext {
  checkFormat(value);
  return value as Ciphertext;
}

/** The DEK id a value was sealed with. */
export function ciphertextKeyId(value: Ciphertext): Buffer {
  checkFormat(value);
  return value.subarray(1, 1 + KEY_ID_BYTES);
}

/** Builds the fields of one row for decryptSections: `fieldsAt('cases', id, { full_name: row.full_name })`. */
export function fieldsAt(
  table: string,
  rowId: string,
  values: Readonly<Record<string, Ciphertext | null>>,
): Record<string, EncryptedField> {
  const out: Record<string, EncryptedField> = {};
  for (const [column, value] of Object.entries(values))
    out[column] = { location: { table, column, rowId }, value };
  return out;
}

/**
 * Protects field values at rest: seals and opens them with an owner's DEK, bound to their location. Only
 * the categories a caller may see are ever decrypted (decryptSections).
 */
export class FieldEncryptionService {
  // One reusable plaintext buffer (calls are synchronous), wiped after each use.
  private padded = Buffer.allocUnsafeSlow(4096);

  constructor(private readonly sodium: Sodium) {}

  encrypt(key: DataKey, at: FieldLocation, plaintext: string | Uint8Array): Ciphertext {
    const dek = dataKeyMaterial(key);
    const maxLength = typeof plaintext === 'string' ? plaintext.length * 3 : plaintext.length;
    if (this.padded.length < maxLength + PAD_BLOCK) {
      this.padded.fill(0);
      this.padded = Buffer.allocUnsafeSlow(2 * (maxLength + PAD_BLOCK));
    }
    const scratch = this.padded;
    let length: number;
    if (typeof plaintext === 'string') length = scratch.write(plaintext, 0, 'utf8');
    else {
      scratch.set(plaintext, 0);
      length = plaintext.length;
    }
    const paddedLength = (Math.floor(length / PAD_BLOCK) + 1) * PAD_BLOCK;
    scratch[length] = 0x80;
    scratch.fill(0, length + 1, paddedLength);
    const out = Buffer.allocUnsafe(HEADER_BYTES + paddedLength + AEAD_TAG_BYTES);
    out[0] = FIELD_FORMAT_V1;
    key.keyId.copy(out, 1);
    const nonce = freshNonce();
    out.set(nonce, NONCE_OFFSET);
    try {
      const ad = additionalData(FIELD_FORMAT_V1, key.keyId, at);
      this.sodium.aeadEncryptInto(out, HEADER_BYTES, scratch.subarray(0, paddedLength), ad, nonce, dek);
    } finally {
      scratch.fill(0, 0, paddedLength);
    }
    return out as Ciphertext;
  }

  /** The plaintext bytes; the caller should wipe them (`fill(0)`) when done. */
  decrypt(key: DataKey, at: FieldLocation, value: Ciphertext): Buffer {
    return this.open(key, at, value, copyOut);
  }

  decryptString(key: DataKey, at: FieldLocation, value: Ciphertext): string {
    return this.open(key, at, value, decodeUtf8);
  }

  /** Authenticates and opens a value; `use` reads the plaintext (up to `end`) in libsodium's memory. */
  private open<T>(
    key: DataKey,
    at: FieldLocation,
    value: Ciphertext,
    use: (plain: Buffer, end: number) => T,
  ): T {
    checkFormat(value);
    const dek = dataKeyMaterial(key);
    if (key.keyId.compare(value, 1, 1 + KEY_ID_BYTES) !== 0) {
      throw new CryptoError(
        'crypto.unknown_key',
        `${where(at)} was sealed with another data key than its owner's`,
      );
    }
    let padding = true;
    const result = this.sodium.aeadOpenAt(
      value,
      NONCE_OFFSET,
      HEADER_BYTES,
      additionalData(value[0], key.keyId, at),
      dek,
      (plain) => {
        let end = plain.length - 1;
        while (end >= 0 && plain[end] === 0) end--;
        padding = end >= 0 && plain[end] === 0x80;
        return padding ? use(plain, end) : null;
      },
    );
    if (!padding) throw new CryptoError('crypto.integrity', `${where(at)} has bad padding`);
    if (result === null) throw new CryptoError('crypto.integrity', `${where(at)} failed authentication`);
    return result;
  }

  /**
   * Decrypts only the categories in `allowed`; ciphertext of any other category is not read at all (the
   * loop runs over `allowed`, never over `sections`), and is absent from the result.
   */
  decryptSections(
    key: DataKey,
    sections: EncryptedSections,
    allowed: Iterable<FieldCategory>,
  ): DecryptedSections {
    const out: DecryptedSections = {};
    for (const category of new Set(allowed)) {
      if (!CATEGORIES.has(category)) {
        throw new CryptoError('crypto.invalid_input', `unknown field category "${String(category)}"`);
      }
      const fields = sections[category];
      if (!fields) continue;
      const plain: Record<string, string | null> = {};
      for (const name of Object.keys(fields)) {
        const field = fields[name];
        plain[name] = field.value === null ? null : this.decryptString(key, field.location, field.value);
      }
      out[category] = plain;
    }
    return out;
  }
}

function checkFormat(value: Buffer): void {
  if (
    !Buffer.isBuffer(value) ||
    value.length < MIN_BYTES ||
    (value.length - HEADER_BYTES) % PAD_BLOCK !== 0
  ) {
    throw new CryptoError('crypto.bad_format', 'not a Haven ciphertext');
  }
  if (value[0] !== FIELD_FORMAT_V1) {
    throw new CryptoError('crypto.bad_format', `unknown ciphertext format version ${value[0]}`);
  }
}

// `u16 len | table | u16 len | column`, cached per location (a fixed set of columns in practice).
const locationBlocks = new Map<string, Buffer>();
// null, not '': the first location of a process must pass the row id check below like every other.
let lastRowId: string | null = null;
let lastRowBlock: Buffer = Buffer.alloc(0);

function additionalData(version: number, keyId: Buffer, at: FieldLocation): Buffer {
  let tc = locationBlocks.get(`${at.table}\0${at.column}`);
  if (!tc) {
    if (!at.table || !at.column) {
      throw new CryptoError('crypto.invalid_input', 'a field location needs a table, a column and a row id');
    }
    tc = Buffer.concat([lengthPrefixed(at.table), lengthPrefixed(at.column)]);
    if (locationBlocks.size < 4096) locationBlocks.set(`${at.table}\0${at.column}`, tc);
  }
  if (at.rowId !== lastRowId) {
    if (!at.rowId) throw new CryptoError('crypto.invalid_input', 'a field location needs a row id');
    // UUIDs are bound in canonical lower case, so the letter case a caller passes does not matter.
    lastRowBlock = lengthPrefixed(isUuid(at.rowId) ? at.rowId.toLowerCase() : at.rowId);
    lastRowId = at.rowId;
  }
  const ad = Buffer.allocUnsafe(AD_PREFIX.length + 1 + KEY_ID_BYTES + tc.length + lastRowBlock.length);
  let p = AD_PREFIX.copy(ad, 0);
  ad[p++] = version;
  p += keyId.copy(ad, p);
  p += tc.copy(ad, p);
  lastRowBlock.copy(ad, p);
  return ad;
}

function lengthPrefixed(s: string): Buffer {
  const bytes = Buffer.from(s, 'utf8');
  if (bytes.length > 0xffff) throw new CryptoError('crypto.invalid_input', 'field location too long');
  const out = Buffer.allocUnsafe(2 + bytes.length);
  out.writeUInt16BE(bytes.length, 0);
  bytes.copy(out, 2);
  return out;
}

const copyOut = (plain: Buffer, end: number): Buffer => Buffer.from(plain.subarray(0, end));
const decodeUtf8 = (plain: Buffer, end: number): string => plain.toString('utf8', 0, end);

function where(at: FieldLocation): string {
  return `value of ${at.table}.${at.column}`;
}
