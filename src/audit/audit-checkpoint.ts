import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fstatSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readSync,
  statSync,
  writeSync,
} from 'node:fs';
import { fsyncDir } from '../common/fs/durable-file';
import { join } from 'node:path';
import type { PurposeKeys } from '../crypto';

/**
 * Signed checkpoints of the access log: the head (last seq and MAC) of every stripe at one moment, signed
 * with Ed25519. They are kept in the database and, out of the database administrator's reach, as JSON lines
 * under HAVEN_DATA_DIR/checkpoints (to be shipped off the host too). A checkpoint lets verification detect a
 * deleted tail, which the chain alone cannot: the entries it names must still be there.
 */
export const CHECKPOINT_FORMAT = 'haven-audit-checkpoint/1';
export const CHECKPOINT_FILE = 'checkpoints.jsonl';

/**
 * The database's newest checkpoint: the one covering the most of the log (highest seq), the last stored among
 * equals. Not the last stored: two instances sign at once, and the one that read the heads first may store its
 * checkpoint second; taken as newest, its older heads would leave the entries after them unprotected from a
 * cut. (A checkpoint's seq is its highest head's; verification checks it against the signed document.) Among
 * checkpoints of the same highest seq, another stripe's head may still differ (an entry of a lower seq committed
 * between the two reads): those count in the order stored (docs/audit.md).
 */
export const NEWEST_CHECKPOINT_SQL = `SELECT document FROM audit_checkpoints ORDER BY seq DESC, id DESC LIMIT 1`;

/** A checkpoint's row: its columns from the signed document, with checkpointRowParams(). */
export const INSERT_CHECKPOINT_SQL = `INSERT INTO audit_checkpoints (seq, at, root, key_id, signature, document)
  VALUES ($1, $2, $3, $4, $5, $6)`;

/** The parameters of INSERT_CHECKPOINT_SQL for checkpoint `c`. */
export function checkpointRowParams(c: Checkpoint): unknown[] {
  return [
    c.seq,
    c.at,
    Buffer.from(c.root, 'hex'),
    c.keyId,
    Buffer.from(c.signature, 'base64'),
    JSON.stringify(c),
  ];
}

export interface CheckpointHead {
  readonly stripe: number;
  /** Seq of the stripe's last entry (0: none yet). */
  readonly seq: number;
  /** That entry's MAC, base64. */
  readonly mac: string;
}

export interface Checkpoint {
  readonly format: typeof CHECKPOINT_FORMAT;
  /** The highest seq the checkpoint covers (the largest head). */
  readonly seq: number;
  readonly at: string;
  readonly heads: readonly CheckpointHead[];
  /** SHA-256 over the heads (hex); the signature covers it. */
  readonly root: string;
  /** `ed25519:` and the first 16 hex digits of the SHA-256 of the public key. */
  readonly keyId: string;
  /** Ed25519 public key, base64. */
  readonly publicKey: string;
  /** Ed25519 signature of checkpointMessage(), base64. */
  readonly signature: string;
}

export type CheckpointCheck = 'ok' | 'malformed' | 'bad_root' | 'bad_signature' | 'foreign_key';

export type SigningKeys = Pick<
  PurposeKeys,
  'signCheckpoint' | 'verifyCheckpoint' | 'checkpointSigningKeyPair'
>;

export function keyIdOf(publicKey: Uint8Array): string {
  return `ed25519:${createHash('sha256').update(publicKey).digest('hex').slice(0, 16)}`;
}

/** SHA-256 over the heads in stripe order: stripe (2 bytes), seq (8 bytes), MAC (32 bytes) each. */
export function checkpointRoot(heads: readonly CheckpointHead[]): Buffer {
  const sorted = [...heads].sort((a, b) => a.stripe - b.stripe);
  const hash = createHash('sha256');
  const cell = Buffer.alloc(2 + 8 + 32);
  for (const h of sorted) {
    cell.fill(0);
    cell.writeUInt16BE(h.stripe, 0);
    cell.writeBigUInt64BE(BigInt(h.seq), 2);
    Buffer.from(h.mac, 'base64').copy(cell, 10, 0, 32);
    hash.update(cell);
  }
  return hash.digest();
}

/** The bytes that are signed. */
export function checkpointMessage(c: Pick<Checkpoint, 'seq' | 'at' | 'root' | 'keyId'>): Buffer {
  return Buffer.from(`${CHECKPOINT_FORMAT}\n${c.seq}\n${c.at}\n${c.root}\n${c.keyId}\n`, 'utf8');
}

export function signCheckpoint(keys: SigningKeys, heads: readonly CheckpointHead[], at: Date): Checkpoint {
  const publicKey = keys.checkpointSigningKeyPair().publicKey;
  const sorted = [...heads].sort((a, b) => a.stripe - b.stripe);
  const unsigned = {
    format: CHECKPOINT_FORMAT,
    seq: sorted.reduce((max, h) => Math.max(max, h.seq), 0),
    at: at.toISOString(),
    heads: sorted,
    root: checkpointRoot(sorted).toString('hex'),
    keyId: keyIdOf(publicKey),
    publicKey: publicKey.toString('base64'),
  } as const;
  return { ...unsigned, signature: keys.signCheckpoint(checkpointMessage(unsigned)).toString('base64') };
}

/**
 * Checks a checkpoint's shape, root and signature. `trustedPublicKey` (default: the key Haven derives from
 * its master secret) is the key it must be signed with; a checkpoint carrying another key is `foreign_key`.
 */
export function checkCheckpoint(
  keys: SigningKeys,
  c: unknown,
  trustedPublicKey?: Uint8Array,
): CheckpointCheck {
  if (!isCheckpointShape(c)) return 'malformed';
  const trusted = Buffer.from(trustedPublicKey ?? keys.checkpointSigningKeyPair().publicKey);
  if (c.publicKey !== trusted.toString('base64') || c.keyId !== keyIdOf(trusted)) return 'foreign_key';
  if (checkpointRoot(c.heads).toString('hex') !== c.root) return 'bad_root';
  if (c.seq !== c.heads.reduce((max, h) => Math.max(max, h.seq), 0)) return 'bad_root';
  const signature = Buffer.from(c.signature, 'base64');
  return keys.verifyCheckpoint(checkpointMessage(c), signature, trusted) ? 'ok' : 'bad_signature';
}

export function isCheckpointShape(c: unknown): c is Checkpoint {
  const x = c as Partial<Checkpoint> | null;
  // In its one standard form (padded, canonical): another spelling of the same bytes would pass the root and
  // the signature (computed over the bytes) while differing as text, and a checkpoint compared as text (its
  // heads against the log's) could then be made to stand in the way of every later one.
  const base64 = (s: unknown, bytes: number) => {
    if (typeof s !== 'string') return false;
    const decoded = Buffer.from(s, 'base64');
    return decoded.length === bytes && decoded.toString('base64') === s;
  };
  return (
    typeof x === 'object' &&
    x !== null &&
    x.format === CHECKPOINT_FORMAT &&
    Number.isSafeInteger(x.seq) &&
    typeof x.at === 'string' &&
    typeof x.root === 'string' &&
    /^[0-9a-f]{64}$/.test(x.root) &&
    typeof x.keyId === 'string' &&
    base64(x.publicKey, 32) &&
    base64(x.signature, 64) &&
    Array.isArray(x.heads) &&
    x.heads.every(
      (h: Partial<CheckpointHead>) =>
        Number.isInteger(h?.stripe) &&
        h.stripe! >= 0 &&
        h.stripe! <= 255 &&
        Number.isSafeInteger(h.seq) &&
        h.seq! >= 0 &&
        base64(h.mac, 32),
    ) &&
    new Set(x.heads.map((h: Partial<CheckpointHead>) => h.stripe)).size === x.heads.length
  );
}

/**
 * The checkpoint files: one JSON line per checkpoint, appended and fsynced, in a directory only Haven's user
 * can read (0700; file 0600). Only the last line is ever read back, from the end of the file.
 */
export class CheckpointFile {
  readonly path: string;

  constructor(readonly dir: string) {
    this.path = join(dir, CHECKPOINT_FILE);
  }

  append(c: Checkpoint): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const created = !existsSync(this.path);
    const fd = openSync(this.path, 'a+', 0o600);
    try {
      // A line torn by a crash (no newline at the end) stays a line of its own: this one starts afresh.
      const size = fstatSync(fd).size;
      const last = Buffer.alloc(1);
      const torn = size > 0 && readSync(fd, last, 0, 1, size - 1) === 1 && last[0] !== 0x0a;
      writeSync(fd, `${torn ? '\n' : ''}${JSON.stringify(c)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    // The file's own entry in its directory, the first time: without it a crash could lose the whole file.
    if (created) fsyncDir(this.dir);
  }

  /** The last checkpoint in the file as parsed JSON (unchecked), or null when there is none. */
  latest(): unknown {
    return readLastLine(this.path);
  }
}

/**
 * Reads the last checkpoint line of a file, backwards in 64 KiB steps. A fragment at the very end without its
 * newline that does not parse is a write a crash cut short: passed over for the line before it. A whole line
 * that does not parse is damage, not a crash: `{ malformed: true }`, for verification to report. Null if the
 * file is missing or holds no line.
 */
export function readLastLine(path: string): unknown {
  let size: number;
  try {
    size = statSync(path).size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  const fd = openSync(path, 'r');
  try {
    const last = Buffer.alloc(1);
    const endsWithNewline = size > 0 && readSync(fd, last, 0, 1, size - 1) === 1 && last[0] === 0x0a;
    const step = 64 * 1024;
    let end = size;
    let tail = Buffer.alloc(0);
    let lastLine = true; // the next line met is the file's last one
    while (end > 0) {
      const start = Math.max(0, end - step);
      const chunk = Buffer.alloc(end - start);
      readSync(fd, chunk, 0, chunk.length, start);
      tail = Buffer.concat([chunk, tail]);
      end = start;
      // Whole lines only, from the last: the first one of the tail may go on in the chunk before, unless the
      // file starts there.
      let stop = tail.length;
      while (stop > 0) {
        const nl = tail.lastIndexOf(0x0a, stop - 1);
        if (nl < 0 && start > 0) break;
        const line = tail
          .subarray(nl + 1, stop)
          .toString('utf8')
          .trim();
        stop = Math.max(nl, 0);
        if (!line) continue;
        const cutShort = lastLine && !endsWithNewline;
        lastLine = false;
        try {
          return JSON.parse(line) as unknown;
        } catch {
          if (!cutShort) return { malformed: true };
        }
      }
      tail = tail.subarray(0, stop);
    }
    return null;
  } finally {
    closeSync(fd);
  }
}
