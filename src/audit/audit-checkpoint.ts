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

export type SigningKeys = Pick<PurposeKeys, 'signCheckpoint' | 'verifyCheckpoint' | 'checkpointPublicKey'>;

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
  const publicKey = keys.checkpointPublicKey();
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
  const trusted = Buffer.from(trustedPublicKey ?? keys.checkpointPublicKey());
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
 * What a checkpoint file tells verification. Its lines only move forward (one instance appends them, each over
 * heads at least as far as the last's), so the furthest line is the one that counts: a genuine older line
 * appended again (a copy shipped to write-once storage accepts appends) must not stand in for it and hide a
 * tail cut since.
 */
export interface CheckpointFileReading {
  /**
   * The lines with the file's highest seq (the last few of them), and its last line when that is another, each
   * for verification to check (one that is forged or edited is a finding of its own).
   */
  readonly candidates: readonly unknown[];
  /** The seq of the first line behind an earlier line's (an older line appended again, or an edit), or null. */
  readonly wentBack: number | null;
}

/** Lines of the highest seq kept by a scan: the same heads signed again (on request) are a few lines at most. */
const TOP_KEPT = 8;

/** A checkpoint file's lines, taken in order, kept down to what its reading needs (a year is ~100,000 lines). */
export class CheckpointScan {
  private maxSeq = -1;
  private top: unknown[] = [];
  private last: unknown = null;
  private wentBack: number | null = null;
  /** Each stripe's furthest head in the lines so far: a genuine line never has one behind it. */
  private readonly furthest = new Map<number, number>();

  add(line: unknown): void {
    this.last = line;
    const seq = typeof line === 'object' && line !== null ? (line as { seq?: unknown }).seq : undefined;
    // A line without a seq (one that did not parse: a fragment a crash cut short, followed by the next line)
    // orders nothing; the last line's check says whether the file ends in damage.
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq)) return;
    // Behind an earlier line in its seq, or in any stripe's head (an older line of the same seq: a late commit
    // moved another stripe between the two).
    const heads = seq < this.maxSeq ? 'behind' : this.compareHeads(line as object);
    if (heads === 'behind') {
      this.wentBack ??= seq;
      return;
    }
    // Further than the lines kept so far (in its seq, or in a stripe's head): they are older.
    if (seq > this.maxSeq || heads === 'ahead') {
      this.maxSeq = seq;
      this.top = [];
    }
    this.top.push(line);
    if (this.top.length > TOP_KEPT) this.top.shift();
  }

  /**
   * How `line`'s stripe heads stand against each stripe's furthest so far: one behind (`behind`), else one ahead
   * (`ahead`, recorded), else the same.
   */
  private compareHeads(line: object): 'behind' | 'ahead' | 'same' {
    const heads = (line as { heads?: unknown }).heads;
    if (!Array.isArray(heads)) return 'same';
    const valid = heads.filter(
      (h): h is CheckpointHead =>
        typeof h === 'object' &&
        h !== null &&
        Number.isSafeInteger((h as CheckpointHead).stripe) &&
        Number.isSafeInteger((h as CheckpointHead).seq),
    );
    if (valid.some((h) => h.seq < (this.furthest.get(h.stripe) ?? -1))) return 'behind';
    const ahead = valid.filter((h) => h.seq > (this.furthest.get(h.stripe) ?? -1));
    for (const h of ahead) this.furthest.set(h.stripe, h.seq);
    return ahead.length > 0 ? 'ahead' : 'same';
  }

  reading(): CheckpointFileReading {
    const candidates =
      this.last !== null && !this.top.includes(this.last) ? [...this.top, this.last] : [...this.top];
    return { candidates, wentBack: this.wentBack };
  }
}

/**
 * Feeds the lines of a checkpoint file from byte `from` to `scan`, in order, each parsed (a whole line that
 * does not parse as `{ malformed: true }`). A fragment at the very end without its newline that does not parse
 * is a write a crash cut short: left for the next read (the next append starts a line of its own after it).
 * Returns where the next read starts, or null when the file is missing.
 */
export function scanCheckpointLines(path: string, scan: CheckpointScan, from = 0): number | null {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  try {
    const size = fstatSync(fd).size;
    const chunk = Buffer.alloc(1024 * 1024);
    let pending = Buffer.alloc(0);
    let position = from;
    let consumed = from;
    while (position < size) {
      const n = readSync(fd, chunk, 0, Math.min(chunk.length, size - position), position);
      if (n === 0) break;
      position += n;
      pending = Buffer.concat([pending, chunk.subarray(0, n)]);
      let start = 0;
      for (let nl = pending.indexOf(0x0a); nl >= 0; nl = pending.indexOf(0x0a, start)) {
        addLine(scan, pending.subarray(start, nl).toString('utf8'), false);
        start = nl + 1;
      }
      consumed += start;
      pending = pending.subarray(start);
    }
    if (pending.length > 0 && addLine(scan, pending.toString('utf8'), true)) consumed += pending.length;
    return consumed;
  } finally {
    closeSync(fd);
  }
}

/** Adds one line to `scan`; false for a final fragment cut short (not added). */
function addLine(scan: CheckpointScan, text: string, final: boolean): boolean {
  const line = text.trim();
  if (!line) return true;
  let parsed: unknown;
  try {
    parsed = JSON.parse(line) as unknown;
  } catch {
    if (final) return false;
    parsed = { malformed: true };
  }
  scan.add(parsed);
  return true;
}

/** A checkpoint file read whole (an off-host copy, or this host's for verification), or null when missing. */
export function readCheckpointFile(path: string): CheckpointFileReading | null {
  const scan = new CheckpointScan();
  return scanCheckpointLines(path, scan) === null ? null : scan.reading();
}

/**
 * The checkpoint files: one JSON line per checkpoint, appended and fsynced, in a directory only Haven's user
 * can read (0700; file 0600).
 */
export class CheckpointFile {
  readonly path: string;
  /** What readAppended has read: the file (inode), how far, and the scan so far. */
  private appended: { ino: number; end: number; scan: CheckpointScan; lastBytes: Buffer } | null = null;

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

  /**
   * The file read whole (an off-host copy, or `audit:verify`), or null when there is none. A line edited in the
   * middle of the file is seen only when it goes back (or names a higher seq): it is its signature, checked for the
   * lines compared with, that makes a checkpoint count.
   */
  read(): CheckpointFileReading | null {
    return readCheckpointFile(this.path);
  }

  /**
   * The file's reading, reading only the lines appended since the last call (this instance signs checkpoints
   * every few minutes and on request; a year's file is read once). A file replaced or cut short is read whole
   * again. An empty reading when there is no file.
   */
  readAppended(): CheckpointFileReading {
    let ino: number;
    let size: number;
    try {
      ({ ino, size } = statSync(this.path));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      this.appended = null;
      return { candidates: [], wentBack: null };
    }
    if (
      !this.appended ||
      this.appended.ino !== ino ||
      size < this.appended.end ||
      !this.appended.lastBytes.equals(
        bytesBefore(this.path, this.appended.end, this.appended.lastBytes.length),
      )
    ) {
      // New, replaced, cut short, or its last line read rewritten in place: read whole again.
      this.appended = { ino, end: 0, scan: new CheckpointScan(), lastBytes: Buffer.alloc(0) };
    }
    const end = scanCheckpointLines(this.path, this.appended.scan, this.appended.end);
    if (end !== null && end !== this.appended.end) {
      this.appended.end = end;
      this.appended.lastBytes = bytesBefore(this.path, end, LAST_BYTES_KEPT);
    }
    return this.appended.scan.reading();
  }
}

/** How many bytes before where readAppended stopped it keeps, to notice that part rewritten in place. */
const LAST_BYTES_KEPT = 4096;

/** The (at most) `n` bytes of the file before byte `end`. */
function bytesBefore(path: string, end: number, n: number): Buffer {
  const start = Math.max(0, end - n);
  const out = Buffer.alloc(end - start);
  if (out.length === 0) return out;
  const fd = openSync(path, 'r');
  try {
    const read = readSync(fd, out, 0, out.length, start);
    return out.subarray(0, read);
  } finally {
    closeSync(fd);
  }
}
