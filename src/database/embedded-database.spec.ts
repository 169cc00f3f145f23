import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readOrCreateSecret } from './embedded-database';

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
});
