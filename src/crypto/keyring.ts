import { randomBytes } from 'node:crypto';
import { CryptoError } from './crypto.errors';
import { KDF } from './kdf-contexts';
import type { Sodium } from './sodium';

/**
 * The key material a local key provider holds: a root secret (purpose keys are derived from it) and
 * independent random KEKs, one per version. The same JSON document is used by the file provider
 * (`<dataDir>/keys/keyring.json`) and may be given to the env provider (HAVEN_MASTER_KEY[_FILE]):
 *
 *   { "format": "haven-keyring/1", "kekId": "haven-kek", "root": "<base64, 32 bytes>",
 *     "keks": [ { "version": 1, "key": "<base64, 32 bytes>", "createdAt": "2025-11-23T09:00:00.000Z" } ] }
 *
 * The highest version is the active one (new DEKs are wrapped with it); older versions stay until no data
 * key uses them. A bare base64 32-byte value is "single-secret mode": it is the root, and KEK v1 is derived
 * from it (crypto_kdf, context `havenKEK`) - simplest to deploy, but that KEK falls with the root.
 */
export const KEYRING_FORMAT = 'haven-keyring/1';
export const DEFAULT_KEK_ID = 'haven-kek';
export const KEY_BYTES = 32;

export interface KeyringKek {
  readonly version: number;
  readonly key: Buffer;
  readonly createdAt: string;
}

export interface Keyring {
  readonly kekId: string;
  readonly root: Buffer;
  /** Sorted by version, ascending; never empty. */
  readonly keks: readonly KeyringKek[];
}

const BASE64_32 = /^[A-Za-z0-9+/_-]{43}=?$/;
/** A KEK's name (`kekId`): lower-case letters, digits, dots, dashes and underscores. */
export const KEK_ID = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export function generateKeyring(kekId = DEFAULT_KEK_ID): Keyring {
  return {
    kekId,
    root: randomBytes(KEY_BYTES),
    keks: [{ version: 1, key: randomBytes(KEY_BYTES), createdAt: new Date().toISOString() }],
  };
}

/** A copy of `keyring` with one more, independent random KEK version, which becomes the active one. */
export function withNewKekVersion(keyring: Keyring): { keyring: Keyring; added: KeyringKek } {
  const version = activeKekOf(keyring).version + 1;
  const added: KeyringKek = { version, key: randomBytes(KEY_BYTES), createdAt: new Date().toISOString() };
  return { keyring: { ...keyring, keks: [...keyring.keks, added] }, added };
}

/**
 * The KEK versions of `keyring` that are derived from its root (single-secret mode's v1, also once written into a
 * keyring document by `--prepare-keyring`): removing one from the keyring destroys nothing while the root is
 * kept, since anyone with the root derives it again.
 */
export function rootDerivedVersions(keyring: Keyring, sodium: Sodium): number[] {
  const derived = sodium.kdfDerive(KEY_BYTES, 1, KDF.kek.context, keyring.root);
  return keyring.keks.filter((k) => k.version === 1 && k.key.equals(derived)).map((k) => k.version);
}

export function activeKekOf(keyring: Keyring): KeyringKek {
  return keyring.keks[keyring.keks.length - 1];
}

export function serializeKeyring(keyring: Keyring): string {
  const doc = {
    format: KEYRING_FORMAT,
    kekId: keyring.kekId,
    root: keyring.root.toString('base64'),
    keks: keyring.keks.map((k) => ({
      version: k.version,
      key: k.key.toString('base64'),
      createdAt: k.createdAt,
    })),
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/**
 * Parses a keyring document or a bare base64 root secret. `source` names where it came from (a variable or
 * file) for error messages, which never quote the value.
 */
export function parseKeyMaterial(text: string, source: string, sodium: Sodium): Keyring {
  const trimmed = text.trim();
  if (!trimmed.startsWith('{')) {
    const root = decodeKey(trimmed, source);
    const kek = sodium.kdfDerive(KEY_BYTES, 1, KDF.kek.context, root);
    return { kekId: DEFAULT_KEK_ID, root, keks: [{ version: 1, key: kek, createdAt: '' }] };
  }
  let doc: unknown;
  try {
    doc = JSON.parse(trimmed);
  } catch {
    throw new CryptoError(
      'crypto.config',
      `${source}: not valid JSON (expected a ${KEYRING_FORMAT} document)`,
    );
  }
  const d = doc as { format?: unknown; kekId?: unknown; root?: unknown; keks?: unknown };
  if (d.format !== KEYRING_FORMAT) {
    throw new CryptoError('crypto.config', `${source}: "format" must be "${KEYRING_FORMAT}"`);
  }
  const kekId = d.kekId ?? DEFAULT_KEK_ID;
  if (typeof kekId !== 'string' || !KEK_ID.test(kekId)) {
    throw new CryptoError('crypto.config', `${source}: "kekId" must match ${KEK_ID}`);
  }
  const root = decodeKey(d.root, `${source} root`);
  if (!Array.isArray(d.keks) || d.keks.length === 0) {
    throw new CryptoError('crypto.config', `${source}: "keks" must list at least one KEK version`);
  }
  const keks = d.keks.map((entry: unknown, i: number): KeyringKek => {
    const e = (entry ?? {}) as { version?: unknown; key?: unknown; createdAt?: unknown };
    if (typeof e.version !== 'number' || !Number.isInteger(e.version) || e.version < 1 || e.version > 1e6) {
      throw new CryptoError('crypto.config', `${source}: keks[${i}].version must be a positive integer`);
    }
    return {
      version: e.version,
      key: decodeKey(e.key, `${source} keks[${i}].key`),
      createdAt: typeof e.createdAt === 'string' ? e.createdAt : '',
    };
  });
  keks.sort((a, b) => a.version - b.version);
  const seen = new Set<string>([root.toString('hex')]);
  keks.forEach((k, i) => {
    if (i > 0 && keks[i - 1].version === k.version) {
      throw new CryptoError('crypto.config', `${source}: KEK version ${k.version} is listed twice`);
    }
    const hex = k.key.toString('hex');
    // One key, one purpose: a KEK must not repeat the root or another version.
    if (seen.has(hex))
      throw new CryptoError('crypto.config', `${source}: KEK version ${k.version} reuses a key`);
    seen.add(hex);
  });
  return { kekId, root, keks };
}

function decodeKey(value: unknown, source: string): Buffer {
  if (typeof value !== 'string' || !BASE64_32.test(value)) {
    throw new CryptoError('crypto.config', `${source}: must be base64 of exactly ${KEY_BYTES} random bytes`);
  }
  const key = Buffer.from(value.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  if (key.length !== KEY_BYTES) {
    throw new CryptoError('crypto.config', `${source}: must be base64 of exactly ${KEY_BYTES} random bytes`);
  }
  if (key.every((b) => b === 0)) throw new CryptoError('crypto.config', `${source}: must not be all zeros`);
  return key;
}
