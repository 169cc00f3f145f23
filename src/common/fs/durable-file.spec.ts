import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
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
