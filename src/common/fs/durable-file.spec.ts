import { chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFileExclusive, replaceFile } from './durable-file';

describe('durable files', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'durable-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('replaces a file whole, mode 0600, leaving nothing beside it', () => {
    const path = join(dir, 'keyring.json');
    replaceFile(path, 'first');
    replaceFile(path, 'second');
    expect(readFileSync(path, 'utf8')).toBe('second');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['keyring.json']);
  });

  it("a replacement is owned as the file it replaces (root replacing the service's keyring), else by its writer", () => {
    const path = join(dir, 'keyring.json');
    replaceFile(path, 'first');
    // As root (keys:rotate run with sudo), the file given to the service's user first; otherwise this user's own.
    const root = process.getuid!() === 0;
    const owner = root ? 4321 : process.getuid!();
    if (root) chownSync(path, 4321, 4322);
    replaceFile(path, 'second');
    expect([statSync(path).uid, statSync(path).gid]).toEqual([owner, root ? 4322 : process.getgid!()]);
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('a replacement that cannot be put in place leaves no copy of its content behind', () => {
    const path = join(dir, 'keyring.json');
    mkdirSync(path); // a directory where the file should go: the rename fails
    expect(() => replaceFile(path, 'secret keys')).toThrow();
    expect(readdirSync(dir)).toEqual(['keyring.json']);
  });

  it('creates a file only once, leaving nothing beside it either way', () => {
    const path = join(dir, 'keyring.json');
    expect(createFileExclusive(path, 'mine')).toBe(true);
    expect(createFileExclusive(path, 'theirs')).toBe(false);
    expect(readFileSync(path, 'utf8')).toBe('mine');
    expect(readdirSync(dir)).toEqual(['keyring.json']);
  });
});
