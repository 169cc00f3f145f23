import { inspect } from 'node:util';
import { CryptoError } from './crypto.errors';
import type { DataKeyOwner, KekRef } from './crypto.types';
import type { DataKeyRow } from './data-key.repository';
import type { KeyProvider } from './key-provider';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const OWNER_TYPE = /^[a-z][a-z0-9_]{0,62}$/;

// Key bytes live here rather than on the object, so that logging, JSON or a debugger's view of a DataKey
// never shows them.
const material = new WeakMap<DataKey, Buffer>();

/**
 * An unwrapped data key (DEK) of one owner, held in memory only for the request that needs it. Opaque:
 * only the field cipher in this folder reads the key bytes.
 */
export class DataKey {
  /** The DEK id as 16 bytes: the "key id" written into every value sealed with this key. */
  readonly keyId: Buffer;

  constructor(
    readonly owner: DataKeyOwner,
    readonly dekId: string,
    key: Buffer,
  ) {
    if (key.length !== 32) throw new CryptoError('crypto.invalid_input', 'a DEK is 32 bytes');
    this.keyId = uuidToBytes(dekId);
    material.set(this, key);
  }

  /** Overwrites the key bytes; the handle cannot be used afterwards. */
  wipe(): void {
    material.get(this)?.fill(0);
    material.delete(this);
  }

  toJSON(): { owner: DataKeyOwner; dekId: string } {
    return { owner: this.owner, dekId: this.dekId };
  }

  [inspect.custom](): string {
    return `DataKey(${this.owner.ownerType}:${this.owner.ownerId}, dek ${this.dekId})`;
  }
}

/** @internal For the field cipher only. */
export function dataKeyMaterial(key: DataKey): Buffer {
  const bytes = material.get(key);
  if (!bytes) throw new CryptoError('crypto.key_destroyed', 'this data key handle was wiped');
  return bytes;
}

export function assertOwner(owner: DataKeyOwner): DataKeyOwner {
  if (!OWNER_TYPE.test(owner.ownerType)) {
    throw new CryptoError('crypto.invalid_input', 'ownerType must be a lower-case identifier');
  }
  if (!UUID.test(owner.ownerId)) throw new CryptoError('crypto.invalid_input', 'ownerId must be a UUID');
  return { ownerType: owner.ownerType, ownerId: owner.ownerId.toLowerCase() };
}

export function isUuid(value: string): boolean {
  return UUID.test(value);
}

export function uuidToBytes(uuid: string): Buffer {
  // Hot path (every unwrap): no regex; a non-hex character makes Buffer.from stop short of 16 bytes.
  const bytes =
    uuid.length === 36 && uuid[8] === '-' && uuid[13] === '-' && uuid[18] === '-' && uuid[23] === '-'
      ? Buffer.from(
          uuid.slice(0, 8) + uuid.slice(9, 13) + uuid.slice(14, 18) + uuid.slice(19, 23) + uuid.slice(24),
          'hex',
        )
      : null;
  if (!bytes || bytes.length !== 16) throw new CryptoError('crypto.invalid_input', 'not a UUID');
  return bytes;
}

/**
 * Additional data of a wrapped DEK: binds it to its owner, its id and the KEK version that wrapped it, so a
 * wrapped key copied to another owner's row (or relabelled with another version) does not unwrap.
 *   "haven/dek/1" 0x00 | u16 len | owner_type | u16 len | owner_id | dek id (16 B) | u16 len | kek_id | u32 version
 */
export function dekWrapContext(owner: DataKeyOwner, dekId: string, kek: KekRef): Buffer {
  const ownerId = owner.ownerId.toLowerCase();
  const typeLen = Buffer.byteLength(owner.ownerType, 'utf8');
  const idLen = Buffer.byteLength(ownerId, 'utf8');
  const out = Buffer.allocUnsafe(DEK_CONTEXT_PREFIX.length + 4 + typeLen + idLen + 16 + kekRefLength(kek));
  let p = DEK_CONTEXT_PREFIX.copy(out, 0);
  p = out.writeUInt16BE(typeLen, p);
  p += out.write(owner.ownerType, p, 'utf8');
  p = out.writeUInt16BE(idLen, p);
  p += out.write(ownerId, p, 'utf8');
  p += uuidToBytes(dekId).copy(out, p);
  writeKekRef(out, p, kek);
  return out;
}

/** The length of a KEK version as wrap contexts end with it (writeKekRef). */
export function kekRefLength(kek: KekRef): number {
  return 2 + Buffer.byteLength(kek.kekId, 'utf8') + 4;
}

/** Writes `u16 len | kek_id | u32 version` at `at` (kekRefLength bytes); returns where it ends. */
export function writeKekRef(out: Buffer, at: number, kek: KekRef): number {
  let p = out.writeUInt16BE(Buffer.byteLength(kek.kekId, 'utf8'), at);
  p += out.write(kek.kekId, p, 'utf8');
  return out.writeUInt32BE(kek.version, p);
}

const DEK_CONTEXT_PREFIX = Buffer.from('haven/dek/1\0', 'latin1');

/**
 * The DEK of a stored data-key row, unwrapped by `provider` with the row's KEK version and its wrap context
 * (crypto.key_destroyed for a tombstone). The caller wipes it.
 */
export async function unwrapStoredDek(
  provider: Pick<KeyProvider, 'unwrapDek'>,
  row: Pick<
    DataKeyRow,
    'ownerType' | 'ownerId' | 'dekId' | 'kekId' | 'kekVersion' | 'wrappedDek' | 'destroyedAt'
  >,
  opts?: { readonly heldNow?: boolean },
): Promise<Buffer> {
  if (row.destroyedAt !== null || row.wrappedDek === null) {
    throw new CryptoError('crypto.key_destroyed', `the data key of this ${row.ownerType} was destroyed`);
  }
  const kek: KekRef = { kekId: row.kekId, version: row.kekVersion };
  const owner = { ownerType: row.ownerType, ownerId: row.ownerId };
  return provider.unwrapDek(kek, row.wrappedDek, dekWrapContext(owner, row.dekId, kek), opts);
}
