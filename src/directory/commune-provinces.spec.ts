import { DataSource } from 'typeorm';
import { createTestDatabase, TestDatabase } from '../../test/support/database';
import { dataSourceOptions } from '../database/data-source-options';
import { AdminUnitsRepository } from './admin-units.repository';
import { CommuneProvinces } from './commune-provinces';

describe('commune → province cache', () => {
  let db: TestDatabase;
  let ds: DataSource;
  const unit = (code: string, level: string, kind: string, province: string | null) =>
    ds.query(
      `INSERT INTO admin_units (code, level, kind, province_code, name_vi, name_en, full_name_vi, full_name_en)
       VALUES ($1, $2, $3, $4, 'Thử', 'Test', 'Thử', 'Test')
       ON CONFLICT (code) DO UPDATE SET province_code = excluded.province_code`,
      [code, level, kind, province],
    );

  beforeAll(async () => {
    db = await createTestDatabase();
    ds = await new DataSource(dataSourceOptions({ url: db.url, poolSize: 2 })).initialize();
    await unit('97', 'province', 'tinh', null);
    await unit('98', 'province', 'tinh', null);
    await unit('97001', 'commune', 'xa', '97');
  });
  afterAll(async () => {
    await ds.destroy();
    await db.drop();
  });

  it('answers communes only, from memory until the time to live has passed', async () => {
    let now = 1_000_000;
    const cache = new CommuneProvinces(new AdminUnitsRepository(ds));
    cache.ttlMs = 60_000;
    cache.now = () => now;
    expect(await cache.provinceOf(ds.manager, '97001')).toBe('97');
    expect(await cache.provinceOf(ds.manager, '97')).toBeNull(); // a province is not a commune
    expect(await cache.lookup(ds.manager, ['97001', '97999'])).toEqual(new Map([['97001', '97']]));

    // A reorganisation migration moves the commune: memory still answers the old province within the time to live,
    await unit('97001', 'commune', 'xa', '98');
    now += 59_000;
    expect(await cache.provinceOf(ds.manager, '97001')).toBe('97');
    // and the new one after it.
    now += 2_000;
    expect(await cache.provinceOf(ds.manager, '97001')).toBe('98');
    await unit('97001', 'commune', 'xa', '97');
  });

  it('finds a commune added after it was first asked for (unknown codes are not remembered)', async () => {
    const cache = new CommuneProvinces(new AdminUnitsRepository(ds));
    expect(await cache.provinceOf(ds.manager, '97002')).toBeNull();
    await unit('97002', 'commune', 'phuong', '97');
    expect(await cache.provinceOf(ds.manager, '97002')).toBe('97');
  });
});
