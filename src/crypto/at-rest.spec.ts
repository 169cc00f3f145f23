import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { logicalDump, scanDirectory } from '../../test/support/at-rest';
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
