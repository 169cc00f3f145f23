import pino from 'pino';
import type { DataSource } from 'typeorm';
import { createTestDataSource } from '../../../test/support/database';
import { loadConfig } from '../../config/config';
import { demoAdminUnitsStep } from '../../directory/demo-admin-units';
import { DemoSeedStep } from './demo-seed';
import { DemoSeedService } from './demo-seed.service';

describe('DemoSeedService', () => {
  let dataSource: DataSource;
  let drop: () => Promise<void>;
  const silent = pino({ level: 'silent' });
  const service = (steps: DemoSeedStep[]) => new DemoSeedService(loadConfig({}), dataSource, steps, silent);
  const units = async () =>
    (await dataSource.query<{ code: string }[]>('SELECT code FROM admin_units ORDER BY code')).map(
      (r) => r.code,
    );

  beforeEach(async () => {
    ({ dataSource, drop } = await createTestDataSource());
  });
  afterEach(async () => {
    await drop();
  });

  it('seeds the demo administrative units of the contract on an empty database, once', async () => {
    expect(await service([demoAdminUnitsStep]).seed()).toEqual(['admin-units']);
    const codes = await units();
    expect(codes).toEqual(expect.arrayContaining(['01', '11', '31', '00145', '00118', '00127', '00136']));
    const [longBien] = await dataSource.query<Record<string, string>[]>(
      `SELECT name_vi, full_name_vi, province_code, level, kind FROM admin_units WHERE code = '00145'`,
    );
    expect(longBien).toEqual({
      name_vi: 'Long Biên',
      full_name_vi: 'Phường Long Biên',
      province_code: '01',
      level: 'commune',
      kind: 'phuong',
    });
    expect(await service([demoAdminUnitsStep]).seed()).toEqual([]);
    expect(await units()).toEqual(codes);
  });

  it('leaves a database that already holds data alone', async () => {
    await dataSource.query(
      `INSERT INTO admin_units (code, level, kind, name_vi, name_en, full_name_vi, full_name_en)
       VALUES ('79', 'province', 'thanh_pho', 'Hồ Chí Minh', 'Ho Chi Minh', 'Thành phố Hồ Chí Minh', 'Ho Chi Minh City')`,
    );
    expect(await service([demoAdminUnitsStep]).seed()).toEqual([]);
    expect(await units()).toEqual(['79']);
  });

  it('leaves an installation alone that has an account and nothing else yet (its first administrator)', async () => {
    await dataSource.query(
      `INSERT INTO users (username, role, password_hash, password_change_required)
       VALUES ('quan.tri', 'admin', 'not-a-real-hash', true)`,
    );
    expect(await service([demoAdminUnitsStep]).seed()).toEqual([]);
    expect(await units()).toEqual([]);
  });

  it('adds steps that are new since an earlier demo seed, and rolls back a failing step whole', async () => {
    await service([demoAdminUnitsStep]).seed();
    const ran: string[] = [];
    const later: DemoSeedStep = { name: 'later', run: () => Promise.resolve(void ran.push('later')) };
    expect(await service([demoAdminUnitsStep, later]).seed()).toEqual(['later']);
    expect(ran).toEqual(['later']);

    const broken: DemoSeedStep = {
      name: 'broken',
      run: async (m) => {
        await m.query(`DELETE FROM admin_units WHERE level = 'commune'`);
        throw new Error('step failed');
      },
    };
    await expect(service([demoAdminUnitsStep, later, broken]).seed()).rejects.toThrow('step failed');
    expect((await units()).length).toBeGreaterThan(3);
    const steps = await dataSource.query<{ step: string }[]>('SELECT step FROM demo_seed_runs ORDER BY step');
    expect(steps.map((s) => s.step)).toEqual(['admin-units', 'later']);
  });
});
