import { DataSource } from 'typeorm';
import { createTestDataSource } from '../../test/support/database';
import { loadConfig } from '../config/config';
import { PasswordHasher } from '../crypto/password-hasher';
import { demoAdminUnitsStep } from '../directory/demo-admin-units';
import { demoOrganizationsStep } from '../directory/demo-organizations';
import { DEMO_ACCOUNTS, demoAccountsStep } from './demo-accounts';

describe('demo accounts seed step', () => {
  let dataSource: DataSource;
  let drop: () => Promise<void>;
  const hasher = new PasswordHasher();

  beforeEach(async () => {
    ({ dataSource, drop } = await createTestDataSource());
    await dataSource.transaction(async (m) => {
      await demoAdminUnitsStep.run(m);
      await demoOrganizationsStep.run(m);
    });
  });
  afterEach(async () => {
    await drop();
  });
  afterAll(() => hasher.onModuleDestroy());

  it('without HAVEN_DEMO_PASSWORD, generates one, prints it once (labelled) and uses it for every account', async () => {
    const printed: string[] = [];
    const step = demoAccountsStep(hasher, loadConfig({ HAVEN_DEMO: '1' }), (text) => printed.push(text));
    await dataSource.transaction((m) => step.run(m));
    expect(printed).toHaveLength(1);
    const password = /password: (\S+)/.exec(printed[0])![1];
    expect(printed[0]).toContain('Haven demo accounts');
    expect(password.length).toBeGreaterThanOrEqual(16);
    const rows = await dataSource.query<{ username: string; password_hash: string; demo_account: boolean }[]>(
      `SELECT username, password_hash, demo_account FROM users ORDER BY username`,
    );
    expect(rows.map((r) => r.username).sort()).toEqual(DEMO_ACCOUNTS.map((a) => a.username).sort());
    for (const r of rows) {
      expect(r.demo_account).toBe(true);
      expect((await hasher.verify(r.password_hash, password)).valid).toBe(true);
    }
  });

  it('with HAVEN_DEMO_PASSWORD, prints nothing', async () => {
    const printed: string[] = [];
    const config = loadConfig({ HAVEN_DEMO: '1', HAVEN_DEMO_PASSWORD: 'chosen-demo-password-1' });
    await dataSource.transaction((m) =>
      demoAccountsStep(hasher, config, (text) => printed.push(text)).run(m),
    );
    expect(printed).toEqual([]);
  });
});
