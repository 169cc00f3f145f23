import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readOrCreateSecret, serverLineLevel } from './embedded-database';

describe('readOrCreateSecret', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(process.env.HAVEN_TEST_ROOT ?? tmpdir(), 'secret-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('creates a 0600 secret once; creators at the same moment all read the one that was kept', async () => {
    const path = join(dir, 'postgres.secret');
    const made = await Promise.all(Array.from({ length: 8 }, () => readOrCreateSecret(path)));
    expect(new Set(made).size).toBe(1);
    expect(made[0]).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(await readOrCreateSecret(path)).toBe(made[0]);
    // No scratch file left behind.
    expect(readdirSync(dir)).toEqual(['postgres.secret']);
  });

  it('refuses a secret that others may read (a restore that lost the modes), saying how to mend it', async () => {
    const path = join(dir, 'postgres.secret');
    const made = await readOrCreateSecret(path);
    chmodSync(path, 0o644);
    await expect(readOrCreateSecret(path)).rejects.toThrow(
      new RegExp(`${path} is accessible by group or others; run: chmod 600 ${path}`),
    );
    chmodSync(path, 0o600);
    expect(await readOrCreateSecret(path)).toBe(made);
  });
});

describe('serverLineLevel', () => {
  it('logs what a normal start and stop make the server say at debug, anything else as a warning', () => {
    const at = '2026-12-06 04:00:00.000 +07 [123] ';
    expect(serverLineLevel(`${at}FATAL:  the database system is starting up`)).toBe('debug');
    expect(serverLineLevel(`${at}FATAL:  terminating connection due to administrator command`)).toBe('debug');
    expect(serverLineLevel(`${at}FATAL:  could not create any TCP/IP sockets`)).toBe('warn');
    expect(serverLineLevel(`${at}PANIC:  could not write to file "pg_wal/xlogtemp.1": No space left`)).toBe(
      'warn',
    );
  });
});
