import { Client } from 'pg';
import { createTestDatabase, TestDatabase } from '../../test/support/database';
import { caseCode } from './case-classification';

/** The case number drawn in SQL by a registration (migration CaseNumbers) against the format of caseCode(). */
describe('next_case_code (case numbers drawn in the registration statement)', () => {
  let db: TestDatabase;
  let app: Client;
  beforeAll(async () => {
    db = await createTestDatabase();
    const owner = new Client({ connectionString: db.url });
    await owner.connect();
    await owner.query(
      `INSERT INTO admin_units (code, level, kind, name_vi, name_en, full_name_vi, full_name_en)
       VALUES ('01', 'province', 'thanh_pho', 'Hà Nội', 'Ha Noi', 'Thành phố Hà Nội', 'Ha Noi City'),
              ('79', 'province', 'thanh_pho', 'Hồ Chí Minh', 'Ho Chi Minh', 'Thành phố Hồ Chí Minh', 'Ho Chi Minh City')`,
    );
    await owner.end();
    app = new Client({ connectionString: db.appUrl }); // the service's own role may call it
    await app.connect();
  });
  afterAll(async () => {
    await app.end();
    await db.drop();
  });

  const draw = async (province: string, year: number): Promise<string> =>
    (await app.query<{ code: string }>(`SELECT next_case_code($1, $2) AS code`, [province, year])).rows[0]
      .code;

  it('counts per province and year from 1, in the format caseCode() writes', async () => {
    expect(await draw('01', 2030)).toBe(caseCode('01', 2030, 1));
    expect(await draw('01', 2030)).toBe(caseCode('01', 2030, 2));
    expect(await draw('79', 2030)).toBe(caseCode('79', 2030, 1));
    expect(await draw('01', 2031)).toBe(caseCode('01', 2031, 1));
    expect(await draw('01', 2030)).toBe(caseCode('01', 2030, 3));
  });

  it('keeps every digit past six (no truncation) and draws nothing for a null argument', async () => {
    await app.query(
      `UPDATE case_sequences SET last_value = 999998 WHERE province_code = '79' AND year = 2030`,
    );
    expect(await draw('79', 2030)).toBe(caseCode('79', 2030, 999999));
    expect(await draw('79', 2030)).toBe(caseCode('79', 2030, 1000000));
    expect(caseCode('79', 2030, 1000000)).toBe('HV79-2030-1000000');
    const nulls = await app.query<{ code: string | null }>(`SELECT next_case_code(NULL, 2030) AS code`);
    expect(nulls.rows[0].code).toBeNull();
    const rows = await app.query(`SELECT 1 FROM case_sequences WHERE year = 2030`);
    expect(rows.rowCount).toBe(2);
  });

  it('only the service role may draw numbers (not PUBLIC)', async () => {
    const owner = new Client({ connectionString: db.url });
    await owner.connect();
    try {
      const granted = await owner.query<{ role: string }>(
        `SELECT grantee::regrole::text AS role FROM aclexplode((SELECT proacl FROM pg_proc WHERE proname = 'next_case_code'))
         WHERE privilege_type = 'EXECUTE' ORDER BY 1`,
      );
      expect(granted.rows.map((r) => r.role)).toEqual(expect.arrayContaining(['haven_app']));
      expect(granted.rows.map((r) => r.role)).not.toContain('-'); // grantee 0 is PUBLIC
    } finally {
      await owner.end();
    }
  });

  it('refuses a province that does not exist (the counter references admin_units)', async () => {
    await expect(draw('99', 2030)).rejects.toMatchObject({ code: '23503' });
  });
});
