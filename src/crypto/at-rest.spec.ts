import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { closeSync, existsSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { embeddedBinDir } from '../database/embedded-postgres';
import { createTestDataSource } from '../../test/support/database';
import { CryptoFixture, givenCrypto } from './crypto.spec-helpers';

/**
 * The stolen-backup threat: values stored through the real services must not appear in a logical dump or
 * anywhere in the PostgreSQL data directory (heap, WAL, logs) in any encoding of the plaintext. A plaintext
 * control value written next to them must be found, so the scan itself is proven to work.
 */
describe('nothing readable at rest (PostgreSQL data directory and dump)', () => {
  let db: { dataSource: DataSource; url: string; drop(): Promise<void> };
  let fixture: CryptoFixture;

  beforeAll(async () => {
    db = await createTestDataSource();
    fixture = await givenCrypto(db.dataSource);
  });
  afterAll(async () => {
    await db?.drop();
    fixture?.cleanup();
  });

  it('finds no marker (UTF-8 NFC, NFD, or its ASCII token) after a CHECKPOINT; finds the plaintext control', async () => {
    const dataDir = process.env.HAVEN_TEST_PG_DATA_DIR;
    expect(dataDir && existsSync(join(dataDir, 'PG_VERSION'))).toBeTruthy();

    const token = () => `mk${randomBytes(8).toString('hex')}`;
    const markers = {
      nameNfc: `Nguyễn Thị Hoà ${token()}`.normalize('NFC'),
      nameNfd: `Trần Thị Thuỷ ${token()}`.normalize('NFD'),
      narrativeNfc: `Bị chồng đánh ở Thuỷ Nguyên, Hải Phòng; đã trốn sang nhà mẹ đẻ ${token()}`.normalize(
        'NFC',
      ),
      narrativeNfd: `Người gây hại đe doạ sẽ quay lại ${token()}`.normalize('NFD'),
      phone: `09${String(randomBytes(4).readUInt32BE(0) % 1e8).padStart(8, '0')}`,
    };
    const control = `CONTROL ${token()} Đặng Thị Kiểm Tra`.normalize('NFC');

    await db.dataSource.query(`
      CREATE TABLE crypto_atrest_probe (
        id uuid PRIMARY KEY, full_name bytea, full_name_bidx bytea, phone bytea, phone_bidx bytea, narrative bytea);
      CREATE TABLE crypto_atrest_control (note text)`);
    const { dataKeys, fields, blindIndex } = fixture.crypto;
    const rows: Array<[string, string, string]> = [
      [markers.nameNfc, markers.phone, markers.narrativeNfc],
      [markers.nameNfd, markers.phone, markers.narrativeNfd],
    ];
    const ids: string[] = [];
    for (const [name, phone, narrative] of rows) {
      const id = randomUUID();
      ids.push(id);
      await db.dataSource.transaction(async (manager) => {
        const key = await dataKeys.create({ ownerType: 'case', ownerId: id }, manager);
        const at = (column: string) => ({ table: 'crypto_atrest_probe', column, rowId: id });
        await manager.query(
          `INSERT INTO crypto_atrest_probe (id, full_name, full_name_bidx, phone, phone_bidx, narrative)
           VALUES ($1, $2, $3, $4, $5, $6)`,
          [
            id,
            fields.encrypt(key, at('full_name'), name),
            blindIndex.fullName(name),
            fields.encrypt(key, at('phone'), phone),
            blindIndex.phone(phone),
            fields.encrypt(key, at('narrative'), narrative),
          ],
        );
      });
    }
    await db.dataSource.query(`INSERT INTO crypto_atrest_control (note) VALUES ($1)`, [control]);

    // The stored values do decrypt to the markers (the scan below looks for data that really is there).
    const [stored] = await db.dataSource.query(`SELECT narrative FROM crypto_atrest_probe WHERE id = $1`, [
      ids[1],
    ]);
    const key = await dataKeys.get({ ownerType: 'case', ownerId: ids[1] });
    expect(
      fields.decryptString(
        key,
        { table: 'crypto_atrest_probe', column: 'narrative', rowId: ids[1] },
        stored.narrative,
      ),
    ).toBe(markers.narrativeNfd);

    await db.dataSource.query('CHECKPOINT');

    const needles = Object.values(markers).flatMap((m) => [
      Buffer.from(m.normalize('NFC')),
      Buffer.from(m.normalize('NFD')),
      ...(m.match(/mk[0-9a-f]{16}/g) ?? []).map((t) => Buffer.from(t)),
    ]);
    const controlNeedle = Buffer.from(control);

    const files = scanDirectory(dataDir!, [...needles, controlNeedle]);
    expect(files.scanned).toBeGreaterThan(100);
    expect(files.hits.get(controlNeedle)?.length ?? 0).toBeGreaterThan(0);
    for (const needle of needles)
      expect({ needle: needle.toString(), files: files.hits.get(needle) ?? [] }).toEqual({
        needle: needle.toString(),
        files: [],
      });

    const dump = await logicalDump(db.dataSource, db.url);
    expect(dump.text.length).toBeGreaterThan(1000);
    expect(dump.text.includes(controlNeedle)).toBe(true);
    for (const needle of needles)
      expect({ tool: dump.tool, needle: needle.toString(), found: dump.text.includes(needle) }).toEqual({
        tool: dump.tool,
        needle: needle.toString(),
        found: false,
      });
  });
});

/** Every regular file under `root`, read in chunks (with overlap), searched for every needle. */
function scanDirectory(root: string, needles: Buffer[]): { scanned: number; hits: Map<Buffer, string[]> } {
  const hits = new Map<Buffer, string[]>();
  const overlap = Math.max(...needles.map((n) => n.length));
  const chunk = Buffer.alloc(8 * 1024 * 1024 + overlap);
  let scanned = 0;
  const visit = (dir: string): void => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return; // a database dropped by another test file meanwhile
    }
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) visit(path);
      else if (entry.isFile()) {
        let fd: number;
        try {
          fd = openSync(path, 'r');
        } catch {
          continue;
        }
        try {
          scanned++;
          let carried = 0;
          for (;;) {
            const n = readSync(fd, chunk, carried, chunk.length - carried, null);
            if (n === 0) break;
            const window = chunk.subarray(0, carried + n);
            for (const needle of needles) {
              if (window.includes(needle)) {
                const list = hits.get(needle) ?? [];
                if (!list.includes(path)) list.push(path);
                hits.set(needle, list);
              }
            }
            carried = Math.min(overlap, window.length);
            window.copy(chunk, 0, window.length - carried);
          }
        } finally {
          closeSync(fd);
        }
      }
    }
  };
  visit(root);
  return { scanned, hits };
}

/**
 * pg_dump when a version able to dump this server is installed (pg_dump refuses newer servers); otherwise
 * every row of every table in the database as text (what a data-only plain dump contains: text verbatim,
 * bytea as hex), read over SQL.
 */
async function logicalDump(dataSource: DataSource, url: string): Promise<{ tool: string; text: Buffer }> {
  const [{ server_version_num }] = await dataSource.query(
    `SELECT current_setting('server_version_num') AS server_version_num`,
  );
  const serverMajor = Math.floor(Number(server_version_num) / 10000);
  const candidates = [
    process.env.HAVEN_TEST_PG_DUMP,
    join(embeddedBinDir(), 'pg_dump'),
    ...listDir('/usr/lib/postgresql').map((v) => join('/usr/lib/postgresql', v, 'bin', 'pg_dump')),
    '/usr/bin/pg_dump',
  ].filter((p): p is string => !!p && existsSync(p) && statSync(p).isFile());
  for (const bin of candidates) {
    const version = execFileSync(bin, ['--version'], { encoding: 'utf8' });
    const major = Number(/(\d+)(?:\.\d+)?/.exec(version)?.[1]);
    if (major >= serverMajor) {
      const text = execFileSync(bin, ['--no-owner', '--format=plain', `--dbname=${url}`], {
        maxBuffer: 512 * 1024 * 1024,
      });
      return { tool: `${bin} (${version.trim()})`, text };
    }
  }
  const tables: Array<{ name: string }> = await dataSource.query(
    `SELECT format('%I.%I', schemaname, tablename) AS name FROM pg_tables
     WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`,
  );
  const parts: string[] = [];
  for (const { name } of tables) {
    const rows: Array<{ line: string }> = await dataSource.query(`SELECT t::text AS line FROM ${name} t`);
    parts.push(`-- ${name}`, ...rows.map((r) => r.line));
  }
  return {
    tool: `SQL row dump (no pg_dump >= ${serverMajor} installed)`,
    text: Buffer.from(parts.join('\n')),
  };
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
