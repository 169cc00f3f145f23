import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  fchownSync,
  fsyncSync,
  linkSync,
  openSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * Files written whole or not at all, and durably (the file and its directory fsynced): keys and secrets a crash
 * must never leave empty or half-written. Synchronous on purpose: they run at start-up and rotation, and must
 * not interleave. Mode 0600.
 */

/**
 * Creates `path` with `content` unless it exists: written under another name, then hard-linked into place,
 * which fails if another process won. Returns whether this call created it.
 */
export function createFileExclusive(path: string, content: string): boolean {
  const tmp = writeTemp(path, content);
  try {
    linkSync(tmp, path);
    fsyncDir(dirname(path));
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    return false;
  } finally {
    unlinkSync(tmp);
  }
}

/**
 * Replaces `path` with `content` in one rename, owned as `path` was: a replacement written as root (keys:rotate run
 * with sudo on the service's keyring) would otherwise be root's, and the service could no longer read its keys.
 */
export function replaceFile(path: string, content: string): void {
  const tmp = writeTemp(path, content, ownerToKeep(path));
  try {
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true }); // no copy of the content left beside it (a keyring's keys)
    throw e;
  }
  fsyncDir(dirname(path));
}

/** The owner of `path` when this process is root (which may give a file another owner), else null. */
function ownerToKeep(path: string): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  try {
    const { uid, gid } = statSync(path);
    return { uid, gid };
  } catch {
    return null; // nothing to replace: the new file is this process's
  }
}

function writeTemp(path: string, content: string, owner: { uid: number; gid: number } | null = null): string {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    try {
      if (owner) fchownSync(fd, owner.uid, owner.gid);
      writeSync(fd, content);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    chmodSync(tmp, 0o600);
  } catch (e) {
    // A write that failed (a full disk) leaves no part of the content behind (a keyring's keys).
    rmSync(tmp, { force: true });
    throw e;
  }
  return tmp;
}

/** Makes a directory's entries durable (a file created or renamed in it); best effort where not supported. */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Some platforms cannot fsync a directory; the rename itself is still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
