import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { createTestDataSource } from '../../test/support/database';
import { importUnits, parseUnitsFile, UnitsFileError } from './admin-unit-importer';

const FIXTURE = join(__dirname, '../../test/fixtures/vn-admin-units-sample.json');
const fixture = (): unknown => JSON.parse(readFileSync(FIXTURE, 'utf8'));

describe('administrative units importer', () => {
  let dataSource: DataSource;
  let drop: () => Promise<void>;
  const snapshot = () =>
    dataSource.query<Record<string, unknown>[]>(
      `SELECT code, level, kind, province_code, name_vi, name_en, full_name_vi, full_name_en, updated_at
         FROM admin_units ORDER BY code`,
    );

  beforeAll(async () => {
    ({ dataSource, drop } = await createTestDataSource());
  });
  afterAll(async () => {
    await drop();
  });

  it('reads the official format: provinces and their phường, xã and đặc khu', () => {
    const rows = parseUnitsFile(fixture());
    expect(rows.filter((r) => r.level === 'province').map((r) => `${r.code}:${r.kind}`)).toEqual([
      '01:thanh_pho',
      '11:tinh',
      '31:thanh_pho',
    ]);
    expect(rows.find((r) => r.code === '00145')).toEqual({
      code: '00145',
      level: 'commune',
      kind: 'phuong',
      provinceCode: '01',
      nameVi: 'Long Biên',
      nameEn: 'Long Bien',
      fullNameVi: 'Phường Long Biên',
      fullNameEn: 'Long Bien Ward',
    });
    expect(rows.find((r) => r.code === '00376')?.kind).toBe('xa');
    expect(rows.find((r) => r.code === '11914')?.kind).toBe('dac_khu');
    expect(rows).toHaveLength(16);
  });

  it('imports, and running it again changes nothing (idempotent)', async () => {
    const rows = parseUnitsFile(fixture());
    const first = await importUnits(dataSource, rows);
    expect(first).toEqual({
      provinces: { inserted: 3, updated: 0, unchanged: 0 },
      communes: { inserted: 13, updated: 0, unchanged: 0 },
      notInFile: 0,
      changes: [],
    });
    const before = await snapshot();
    const second = await importUnits(dataSource, rows);
    expect(second).toEqual({
      provinces: { inserted: 0, updated: 0, unchanged: 3 },
      communes: { inserted: 0, updated: 0, unchanged: 13 },
      notInFile: 0,
      changes: [],
    });
    expect(await snapshot()).toEqual(before);
  });

  it('updates a renamed unit and keeps units missing from the file', async () => {
    const data = fixture() as { Code: string; Wards: { Code: string; Name: string }[] }[];
    const hanoi = data.find((p) => p.Code === '01')!;
    hanoi.Wards.find((w) => w.Code === '00004')!.Name = 'Ba Đình Mới';
    hanoi.Wards = hanoi.Wards.filter((w) => w.Code !== '00376');
    const name = async () =>
      (
        await dataSource.query<{ name_vi: string }[]>(`SELECT name_vi FROM admin_units WHERE code = '00004'`)
      )[0].name_vi;
    const was = await name();
    const expected = {
      provinces: { inserted: 0, updated: 0, unchanged: 3 },
      communes: { inserted: 0, updated: 1, unchanged: 11 },
      notInFile: 1,
      changes: [{ code: '00004', field: 'name_vi', was, now: 'Ba Đình Mới' }],
    };
    // A dry run answers what the import would do, and writes nothing.
    const before = await snapshot();
    expect(await importUnits(dataSource, parseUnitsFile(data), { dryRun: true })).toEqual(expected);
    expect(await snapshot()).toEqual(before);
    expect(await importUnits(dataSource, parseUnitsFile(data))).toEqual(expected);
    expect(await name()).toBe('Ba Đình Mới');
  });

  it('refuses a file that moves a known commune to another province, importing nothing', async () => {
    await importUnits(dataSource, parseUnitsFile(fixture()));
    const before = await snapshot();
    const data = fixture() as {
      Code: string;
      Name: string;
      Wards: { Code: string; ProvinceCode: string }[];
    }[];
    const [from, to] = data;
    const moving = from.Wards.pop()!;
    moving.ProvinceCode = to.Code;
    to.Wards.push(moving);
    from.Name = 'Tên mới'; // and a rename the refusal holds back too
    const refused = await importUnits(dataSource, parseUnitsFile(data)).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(UnitsFileError);
    expect((refused as UnitsFileError).problems[0]).toBe(
      `${moving.Code}: belongs to province ${from.Code} here, to ${to.Code} in the file`,
    );
    expect(await snapshot()).toEqual(before);
  });

  it('takes one import at a time: a new commune another import is adding under another province is refused, not moved', async () => {
    await importUnits(dataSource, parseUnitsFile(fixture()));
    const data = fixture() as { Code: string; Wards: { Code: string; ProvinceCode: string }[] }[];
    const [first, second] = data;
    const added = { ...first.Wards[0], Code: '99901', ProvinceCode: second.Code };
    second.Wards.push(added);
    // Another import, under way: it holds the units, and has added the commune under the first province.
    const other = dataSource.createQueryRunner();
    await other.connect();
    try {
      await other.startTransaction();
      await other.query('LOCK TABLE admin_units IN SHARE ROW EXCLUSIVE MODE');
      await other.query(
        `INSERT INTO admin_units (code, level, kind, province_code, name_vi, name_en, full_name_vi, full_name_en)
         SELECT '99901', level, kind, $1, name_vi, name_en, full_name_vi, full_name_en FROM admin_units
          WHERE code = $2`,
        [first.Code, first.Wards[0].Code],
      );
      const late = importUnits(dataSource, parseUnitsFile(data)).catch((e: unknown) => e);
      await new Promise((r) => setTimeout(r, 300)); // it waits for the other one
      await other.commitTransaction();
      const refused = await late;
      expect(refused).toBeInstanceOf(UnitsFileError);
      expect((refused as UnitsFileError).problems[0]).toBe(
        `99901: belongs to province ${first.Code} here, to ${second.Code} in the file`,
      );
    } finally {
      await other.release();
    }
    expect(await dataSource.query(`SELECT province_code FROM admin_units WHERE code = '99901'`)).toEqual([
      { province_code: first.Code },
    ]);
  });

  it('refuses a malformed file, naming each problem', () => {
    const data = fixture() as {
      Code: string;
      Wards: { Code: string; ProvinceCode: string; AdministrativeUnitShortName: string }[];
    }[];
    data[0].Wards[0].ProvinceCode = '31';
    data[0].Wards[1].AdministrativeUnitShortName = 'Quận';
    data[1].Wards.push({ ...data[1].Wards[0] });
    let error: unknown;
    try {
      parseUnitsFile(data);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UnitsFileError);
    const problems = (error as UnitsFileError).problems.join('\n');
    expect(problems).toMatch(/ProvinceCode differs/);
    expect(problems).toMatch(/unknown unit type "Quận"/);
    expect(problems).toMatch(/listed twice/);
    expect(() => parseUnitsFile({ not: 'a list' })).toThrow(UnitsFileError);
    // A name no one can read in a list: a right-to-left override that shows it reversed, a line break, nothing
    // visible at all. Named by where it is, not by what it holds.
    const unreadable = fixture() as { Wards: { Name: string; FullName: string }[] }[];
    unreadable[0].Wards[0].Name = 'Ba Đình\u202e';
    unreadable[0].Wards[1].FullName = 'Phường\nBa Đình';
    unreadable[1].Wards[0].Name = '\u200b';
    let refused: unknown;
    try {
      parseUnitsFile(unreadable);
    } catch (e) {
      refused = e;
    }
    expect((refused as UnitsFileError).problems).toEqual([
      '0.Wards.0.Name: contains a control or invisible character',
      '0.Wards.1.FullName: contains a control or invisible character',
      '1.Wards.0.Name: contains a control or invisible character',
    ]);
    expect(() => parseUnitsFile([{ Code: '1', Wards: [] }])).toThrow(UnitsFileError);
  });
});
