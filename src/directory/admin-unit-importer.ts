import type { DataSource, EntityManager } from 'typeorm';
import { z } from 'zod';
import type { AdminUnitKind, AdminUnitLevel } from './admin-unit.entity';
import { unreadableName } from '../common/text/readable-name';

/**
 * Loads the official list of administrative units (the JSON format of the vn-admin-units data set: an array
 * of provinces, each with its `Wards`) into admin_units. Idempotent: a unit is inserted when new, updated
 * when a name or type changed, left alone otherwise; units missing from the file are kept (cases and
 * accounts refer to them) and only counted.
 */

/** A name a person can read in a list (unreadableName: no control or invisible character, a letter at least). */
const text = z
  .string()
  .trim()
  .min(1)
  .max(200)
  .superRefine((name, ctx) => {
    const unreadable = unreadableName(name);
    if (unreadable) ctx.addIssue({ code: 'custom', message: unreadable.en });
  });
const communeSchema = z.object({
  Code: z.string().regex(/^\d{5}$/),
  Name: text,
  NameEn: text,
  FullName: text,
  FullNameEn: text,
  ProvinceCode: z.string().regex(/^\d{2}$/),
  AdministrativeUnitShortName: text,
});
const provinceSchema = z.object({
  Code: z.string().regex(/^\d{2}$/),
  Name: text,
  NameEn: text,
  FullName: text,
  FullNameEn: text,
  AdministrativeUnitShortName: text,
  Wards: z.array(communeSchema),
});
const fileSchema = z.array(provinceSchema).min(1);

const PROVINCE_KINDS: Record<string, AdminUnitKind> = { 'thành phố': 'thanh_pho', tỉnh: 'tinh' };
const COMMUNE_KINDS: Record<string, AdminUnitKind> = { phường: 'phuong', xã: 'xa', 'đặc khu': 'dac_khu' };

export interface UnitRow {
  code: string;
  level: AdminUnitLevel;
  kind: AdminUnitKind;
  provinceCode: string | null;
  nameVi: string;
  nameEn: string;
  fullNameVi: string;
  fullNameEn: string;
}

export interface ImportCounts {
  inserted: number;
  updated: number;
  unchanged: number;
}

export interface ImportResult {
  provinces: ImportCounts;
  communes: ImportCounts;
  /** Units in the database that the file does not list (kept). */
  notInFile: number;
  /** What the import changed of units known before (or would change, in a dry run), by code. */
  changes: UnitChange[];
}

/** A unit's name or type that an import changes: what a ward officer picking a commune sees. */
export interface UnitChange {
  code: string;
  field: (typeof CHANGEABLE)[number];
  was: string;
  now: string;
}

/** The columns an import may change of a known unit (its level and province it may not: refuseMoves). */
const CHANGEABLE = ['kind', 'name_vi', 'name_en', 'full_name_vi', 'full_name_en'] as const;

export class UnitsFileError extends Error {
  constructor(readonly problems: string[]) {
    super(`The units file is not valid:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'UnitsFileError';
  }
}

/** Validates the file's content and turns it into rows; throws UnitsFileError naming each problem. */
export function parseUnitsFile(json: unknown): UnitRow[] {
  const parsed = fileSchema.safeParse(json);
  if (!parsed.success) {
    throw new UnitsFileError(
      parsed.error.issues.slice(0, 20).map((i) => `${i.path.join('.')}: ${i.message}`),
    );
  }
  const problems: string[] = [];
  const rows: UnitRow[] = [];
  const seen = new Set<string>();
  const kindOf = (table: Record<string, AdminUnitKind>, name: string, code: string): AdminUnitKind => {
    const kind = table[name.normalize('NFC').toLowerCase()];
    if (!kind) problems.push(`${code}: unknown unit type "${name}"`);
    return kind ?? 'xa';
  };
  const unique = (code: string): void => {
    if (seen.has(code)) problems.push(`${code}: listed twice`);
    seen.add(code);
  };
  for (const p of parsed.data) {
    unique(p.Code);
    rows.push({
      code: p.Code,
      level: 'province',
      kind: kindOf(PROVINCE_KINDS, p.AdministrativeUnitShortName, p.Code),
      provinceCode: null,
      nameVi: p.Name.normalize('NFC'),
      nameEn: p.NameEn,
      fullNameVi: p.FullName.normalize('NFC'),
      fullNameEn: p.FullNameEn,
    });
    for (const w of p.Wards) {
      unique(w.Code);
      if (w.ProvinceCode !== p.Code)
        problems.push(`${w.Code}: ProvinceCode differs from its province ${p.Code}`);
      rows.push({
        code: w.Code,
        level: 'commune',
        kind: kindOf(COMMUNE_KINDS, w.AdministrativeUnitShortName, w.Code),
        provinceCode: p.Code,
        nameVi: w.Name.normalize('NFC'),
        nameEn: w.NameEn,
        fullNameVi: w.FullName.normalize('NFC'),
        fullNameEn: w.FullNameEn,
      });
    }
  }
  if (problems.length) throw new UnitsFileError(problems.slice(0, 20));
  return rows;
}

/**
 * Upserts the rows in one transaction (provinces first: communes refer to them), one import at a time: two run
 * together would each find a new commune unknown, and the second's upsert, waiting for the first's, would then
 * move it to its own file's province (the service reads the units meanwhile). Answers what it changed of the
 * units known before, name by name (a file with its columns swapped, or an older release of the list, renames
 * every commune ward officers pick from); with `dryRun`, the same answer and nothing written.
 */
export async function importUnits(
  dataSource: DataSource,
  rows: readonly UnitRow[],
  { dryRun = false }: { dryRun?: boolean } = {},
): Promise<ImportResult> {
  return dataSource.transaction(async (manager) => {
    // A dry run too: what it answers is what an import would do now, not while another one is half done.
    await manager.query('LOCK TABLE admin_units IN SHARE ROW EXCLUSIVE MODE');
    await refuseMoves(manager, rows);
    const known = await knownUnits(manager, rows);
    const changes = rows.flatMap((r) => changesOf(r, known.get(r.code)));
    const changed = new Set(changes.map((c) => c.code));
    const counts = (level: AdminUnitLevel): ImportCounts => {
      const ofLevel = rows.filter((r) => r.level === level);
      const inserted = ofLevel.filter((r) => !known.has(r.code)).length;
      const updated = ofLevel.filter((r) => changed.has(r.code)).length;
      return { inserted, updated, unchanged: ofLevel.length - inserted - updated };
    };
    const [{ n }] = await manager.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM admin_units WHERE NOT (code = ANY($1::varchar[]))`,
      [rows.map((r) => r.code)],
    );
    if (!dryRun) {
      const written = rows.filter((r) => !known.has(r.code) || changed.has(r.code));
      await upsert(
        manager,
        written.filter((r) => r.level === 'province'),
      );
      await upsert(
        manager,
        written.filter((r) => r.level === 'commune'),
      );
    }
    return { provinces: counts('province'), communes: counts('commune'), notInFile: n, changes };
  });
}

type KnownUnit = Record<UnitChange['field'], string>;

/** The units of the file already known, by code: the columns an import may change. */
async function knownUnits(manager: EntityManager, rows: readonly UnitRow[]): Promise<Map<string, KnownUnit>> {
  const known = await manager.query<({ code: string } & KnownUnit)[]>(
    `SELECT code, ${CHANGEABLE.join(', ')} FROM admin_units WHERE code = ANY($1::varchar[])`,
    [rows.map((r) => r.code)],
  );
  return new Map(known.map(({ code, ...unit }) => [code, unit]));
}

/** What row `r` of the file changes of its unit as known (none for a unit not known yet), column by column. */
function changesOf(r: UnitRow, unit: KnownUnit | undefined): UnitChange[] {
  if (!unit) return [];
  const now: KnownUnit = {
    kind: r.kind,
    name_vi: r.nameVi,
    name_en: r.nameEn,
    full_name_vi: r.fullNameVi,
    full_name_en: r.fullNameEn,
  };
  return CHANGEABLE.filter((field) => unit[field] !== now[field]).map((field) => ({
    code: r.code,
    field,
    was: unit[field],
    now: now[field],
  }));
}

/**
 * Refuses a file that gives a unit already known another province or level. Cases, referrals, emergency grants,
 * the communes' counts and organisations' service areas carry the province of their commune, which decides
 * whose supervisors see them: a commune moved under them would leave all of that with the old province. Such a
 * reorganisation needs a migration of its own that moves them too (README, "units:import"), not an import.
 */
async function refuseMoves(manager: EntityManager, rows: readonly UnitRow[]): Promise<void> {
  const moved = await manager.query<
    { code: string; level: string; was: string | null; now: string | null }[]
  >(
    `SELECT a.code, f.level, a.province_code AS was, f.province_code AS now
       FROM admin_units a
       JOIN unnest($1::varchar[], $2::varchar[], $3::varchar[]) AS f(code, level, province_code) ON f.code = a.code
      WHERE (a.level, a.province_code) IS DISTINCT FROM (f.level, f.province_code)
      ORDER BY a.code`,
    [rows.map((r) => r.code), rows.map((r) => r.level), rows.map((r) => r.provinceCode)],
  );
  if (moved.length === 0) return;
  throw new UnitsFileError([
    ...moved
      .slice(0, 20)
      .map((m) =>
        m.was === m.now
          ? `${m.code}: is already a unit of another level`
          : `${m.code}: belongs to province ${m.was ?? '-'} here, to ${m.now ?? '-'} in the file`,
      ),
    'moving units between provinces is not done by an import (what refers to them keeps the old province): nothing was imported',
  ]);
}

/** Writes new and changed units (changesOf found them: what is written differs). */
async function upsert(manager: EntityManager, rows: readonly UnitRow[]): Promise<void> {
  if (rows.length === 0) return;
  const col = <K extends keyof UnitRow>(k: K) => rows.map((r) => r[k]);
  await manager.query(
    `INSERT INTO admin_units AS a (code, level, kind, province_code, name_vi, name_en, full_name_vi, full_name_en)
     SELECT * FROM unnest($1::varchar[], $2::varchar[], $3::varchar[], $4::varchar[],
                          $5::text[], $6::text[], $7::text[], $8::text[])
     ON CONFLICT (code) DO UPDATE SET
       kind = EXCLUDED.kind, name_vi = EXCLUDED.name_vi, name_en = EXCLUDED.name_en,
       full_name_vi = EXCLUDED.full_name_vi, full_name_en = EXCLUDED.full_name_en, updated_at = now()`,
    [
      col('code'),
      col('level'),
      col('kind'),
      col('provinceCode'),
      col('nameVi'),
      col('nameEn'),
      col('fullNameVi'),
      col('fullNameEn'),
    ],
  );
}
