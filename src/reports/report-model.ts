import type { LocalizedText } from '../common/errors/error-catalog';
import {
  AGE_GROUP_LABELS,
  AGE_GROUPS,
  CHANNEL_LABELS,
  CHILD_DEFINITIONS,
  CHILD_LABELS,
  ChildDefinition,
  FORM_LABELS,
  GBV_TYPE_LABELS,
  GBV_TYPES,
  HOURS_LABELS,
  REFERRAL_STATUSES,
  ReferralStatus,
  REPORT_CHANNELS,
  SECTOR_LABELS,
  Sector,
  SECTORS,
  SEX_LABELS,
  SEXES,
  STATUS_LABELS,
  TableDef,
  TABLES,
  TOTAL_LABEL,
  VIOLENCE_FORMS,
} from './report-labels';
import {
  CellInput,
  Constraint,
  DEFAULT_THRESHOLD,
  protectCells,
  ProtectedValue,
  SUPPRESSED,
} from './small-cell-protection';

/**
 * Turns the raw counts of one period and area into the published report: every count becomes a cell, the
 * relations between them (each breakdown adds up to its total, children are subtotals of the age groups,
 * the sector × status table adds up to both of its margins, overdue referrals are part of the pending ones)
 * become constraints, and small-cell protection decides what is shown. Pure.
 */

/** What the database returns for one period and area (src/reports/reports.repository.ts). */
export interface RawCounts {
  total: number;
  gbvType: Readonly<Record<string, number>>;
  form: Readonly<Record<string, number>>;
  sex: Readonly<Record<string, number>>;
  ageGroup: Readonly<Record<string, number>>;
  reportChannel: Readonly<Record<string, number>>;
  commune: Readonly<Record<string, number>>;
  province: Readonly<Record<string, number>>;
  under16: number;
  under18: number;
  /** sector → status → count. */
  referrals: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** The cases those referrals are of: fewer than 5 and none of the referral figures is published. */
  referredCases: number;
  /** The cases of the referrals accepted, completed or declined (the acceptance rate's). */
  answeredCases: number;
  overdue: number;
  /**
   * Referrals ever accepted (accepted_at set), the cases they are of, and the percentiles of their hours to
   * acceptance.
   */
  hoursToAccept: { n: number; cases: number; median: number | null; p90: number | null };
}

export function emptyCounts(): RawCounts {
  return {
    total: 0,
    gbvType: {},
    form: {},
    sex: {},
    ageGroup: {},
    reportChannel: {},
    commune: {},
    province: {},
    under16: 0,
    under18: 0,
    referrals: {},
    referredCases: 0,
    answeredCases: 0,
    overdue: 0,
    hoursToAccept: { n: 0, cases: 0, median: null, p90: null },
  };
}

export interface AreaUnit {
  readonly code: string;
  readonly nameVi: string;
  readonly nameEn: string;
}

/** Which area breakdown a report carries: the communes of a province or commune, or the provinces. */
export type AreaBreakdown = {
  readonly level: 'commune' | 'province';
  readonly units: readonly AreaUnit[];
} | null;

/**
 * A figure of a section not published at all (the referrals of fewer than 5 cases; every figure of a report no
 * pattern of hidden cells protects): any value, zero included. Not `"suppressed"`, which says of a count that it
 * is 5 or more.
 */
export const WITHHELD = 'withheld';
export type Cell = ProtectedValue | typeof WITHHELD;
/**
 * A rate or duration: a number, `"suppressed"` when based on fewer than 5 referrals or cases or on hidden
 * counts, or `"withheld"` with the rest of its section.
 */
export type Statistic = number | typeof SUPPRESSED | typeof WITHHELD;

export interface AreaCount {
  code: string;
  nameVi: string;
  nameEn: string;
  count: Cell;
}

export interface CasesSection {
  total: Cell;
  byGbvType: Record<string, Cell>;
  byForm: Record<string, Cell>;
  bySex: Record<string, Cell>;
  byAgeGroup: Record<string, Cell>;
  children: Record<ChildDefinition, Cell>;
  byReportChannel: Record<string, Cell>;
  byCommune?: AreaCount[];
  byProvince?: AreaCount[];
}

export interface ReferralsSection {
  total: Cell;
  bySector: Record<string, Cell>;
  byStatus: Record<string, Cell>;
  bySectorAndStatus: Record<string, Record<string, Cell>>;
  overdue: Cell;
  acceptanceRate: Statistic;
  hoursToAccept: { median: Statistic; p90: Statistic };
}

export interface ProtectedReport {
  cases: CasesSection;
  referrals: ReferralsSection;
}

/** Rates and durations need at least this many referrals behind them. */
export const MIN_REFERRALS_FOR_STATISTICS = DEFAULT_THRESHOLD;

const id = {
  total: 'cases.total',
  gbv: (k: string) => `cases.byGbvType.${k}`,
  form: (k: string) => `cases.byForm.${k}`,
  sex: (k: string) => `cases.bySex.${k}`,
  age: (k: string) => `cases.byAgeGroup.${k}`,
  child: (k: ChildDefinition) => `cases.children.${k}`,
  channel: (k: string) => `cases.byReportChannel.${k}`,
  area: (k: string) => `cases.byArea.${k}`,
  refTotal: 'referrals.total',
  sector: (s: string) => `referrals.bySector.${s}`,
  status: (s: string) => `referrals.byStatus.${s}`,
  cross: (sector: string, status: string) => `referrals.bySectorAndStatus.${sector}.${status}`,
  overdue: 'referrals.overdue',
  pendingOnTime: 'referrals.pendingNotOverdue',
};

export function buildProtectedReport(raw: RawCounts, area: AreaBreakdown): ProtectedReport {
  const cells: CellInput[] = [];
  const constraints: Constraint[] = [];
  const count = (record: Readonly<Record<string, number>>, k: string): number => record[k] ?? 0;
  const breakdown = (
    keys: readonly string[],
    cellId: (k: string) => string,
    record: Readonly<Record<string, number>>,
  ) => {
    const parts = keys.map((k) => {
      cells.push({ id: cellId(k), value: count(record, k) });
      return cellId(k);
    });
    constraints.push({ kind: 'sum', total: id.total, parts });
  };

  // Cases: one total, broken down six ways.
  cells.push({ id: id.total, value: raw.total });
  breakdown(GBV_TYPES, id.gbv, raw.gbvType);
  breakdown(SEXES, id.sex, raw.sex);
  breakdown(AGE_GROUPS, id.age, raw.ageGroup);
  breakdown(REPORT_CHANNELS, id.channel, raw.reportChannel);
  const units = area ? withUnlisted(area.units, area.level === 'commune' ? raw.commune : raw.province) : [];
  if (area)
    breakdown(
      units.map((u) => u.code),
      id.area,
      area.level === 'commune' ? raw.commune : raw.province,
    );
  // Forms: multiple response (1 to 4 forms per case), so the form counts do not add up to the total.
  for (const f of VIOLENCE_FORMS) cells.push({ id: id.form(f), value: count(raw.form, f) });
  constraints.push({
    kind: 'multi',
    total: id.total,
    parts: VIOLENCE_FORMS.map(id.form),
    maxPerUnit: VIOLENCE_FORMS.length,
  });
  // Children: subtotals of the age groups (under 16 = 0-5 + 6-11 + 12-15; under 18 = under 16 + 16-17). The
  // flags and the age group are derived together at registration; the relation is declared only when the
  // stored counts satisfy it.
  cells.push({ id: id.child('under16'), value: raw.under16 });
  cells.push({ id: id.child('under18'), value: raw.under18 });
  const u16parts = ['0-5', '6-11', '12-15'];
  if (u16parts.reduce((s, k) => s + count(raw.ageGroup, k), 0) === raw.under16) {
    constraints.push({ kind: 'sum', total: id.child('under16'), parts: u16parts.map(id.age) });
  }
  if (raw.under16 + count(raw.ageGroup, '16-17') === raw.under18) {
    constraints.push({
      kind: 'sum',
      total: id.child('under18'),
      parts: [id.child('under16'), id.age('16-17')],
    });
  }

  // Referrals: a sector × status table with both margins and the grand total.
  const cross = (sector: string, status: string): number => raw.referrals[sector]?.[status] ?? 0;
  const refTotal = SECTORS.reduce(
    (s, sec) => s + REFERRAL_STATUSES.reduce((t, st) => t + cross(sec, st), 0),
    0,
  );
  cells.push({ id: id.refTotal, value: refTotal });
  for (const sector of SECTORS) {
    for (const status of REFERRAL_STATUSES)
      cells.push({ id: id.cross(sector, status), value: cross(sector, status) });
    cells.push({
      id: id.sector(sector),
      value: REFERRAL_STATUSES.reduce((s, st) => s + cross(sector, st), 0),
    });
    constraints.push({
      kind: 'sum',
      total: id.sector(sector),
      parts: REFERRAL_STATUSES.map((st) => id.cross(sector, st)),
    });
  }
  for (const status of REFERRAL_STATUSES) {
    cells.push({ id: id.status(status), value: SECTORS.reduce((s, sec) => s + cross(sec, status), 0) });
    constraints.push({
      kind: 'sum',
      total: id.status(status),
      parts: SECTORS.map((sec) => id.cross(sec, status)),
    });
  }
  constraints.push({ kind: 'sum', total: id.refTotal, parts: SECTORS.map(id.sector) });
  constraints.push({ kind: 'sum', total: id.refTotal, parts: REFERRAL_STATUSES.map(id.status) });
  // Overdue referrals are pending ones; the pending ones not yet overdue are not published but protected.
  const pending = SECTORS.reduce((s, sec) => s + cross(sec, 'pending'), 0);
  cells.push({ id: id.overdue, value: raw.overdue });
  cells.push({ id: id.pendingOnTime, value: pending - raw.overdue, published: false });
  constraints.push({ kind: 'sum', total: id.status('pending'), parts: [id.overdue, id.pendingOnTime] });

  const { values, unprotectable } = protectCells(cells, constraints);
  // No pattern of labels protects these counts (small-cell-protection.ts, step 3): every figure is withheld, a
  // label that bounds nothing, zeros included (about 1 small report in 60, most of them because a search ran out
  // of budget: docs/reports.md).
  const v = (cellId: string): Cell => {
    if (unprotectable) return WITHHELD;
    const value = values.get(cellId);
    if (value === undefined) throw new Error(`no protected value for ${cellId}`);
    return value;
  };
  const map = (keys: readonly string[], cellId: (k: string) => string): Record<string, Cell> =>
    Object.fromEntries(keys.map((k) => [k, v(cellId(k))]));

  const areaCounts = units.map((u) => ({
    code: u.code,
    nameVi: u.nameVi,
    nameEn: u.nameEn,
    count: v(id.area(u.code)),
  }));
  const cases: CasesSection = {
    total: v(id.total),
    byGbvType: map(GBV_TYPES, id.gbv),
    byForm: map(VIOLENCE_FORMS, id.form),
    bySex: map(SEXES, id.sex),
    byAgeGroup: map(AGE_GROUPS, id.age),
    children: { under16: v(id.child('under16')), under18: v(id.child('under18')) },
    byReportChannel: map(REPORT_CHANNELS, id.channel),
    ...(area?.level === 'commune' ? { byCommune: areaCounts } : {}),
    ...(area?.level === 'province' ? { byProvince: areaCounts } : {}),
  };

  // The referrals of fewer than 5 cases are not published: their counts and durations, however many there are,
  // are the history of those few survivors (with 5 referrals the p90 of the hours to acceptance is nearly the
  // slowest one's). So too when the case total is hidden.
  const fewReferred = raw.referredCases > 0 && raw.referredCases < MIN_REFERRALS_FOR_STATISTICS;
  if (fewReferred || typeof cases.total !== 'number') return { cases, referrals: hiddenReferrals() };
  const byStatus = map(REFERRAL_STATUSES, id.status);
  const referrals: ReferralsSection = {
    total: v(id.refTotal),
    bySector: map(SECTORS, id.sector),
    byStatus,
    bySectorAndStatus: Object.fromEntries(
      SECTORS.map((sector) => [sector, map(REFERRAL_STATUSES, (st) => id.cross(sector, st))]),
    ),
    overdue: v(id.overdue),
    acceptanceRate: acceptanceRate(byStatus, raw.answeredCases),
    hoursToAccept: hoursToAccept(byStatus, raw.hoursToAccept),
  };
  return { cases, referrals };
}

/** The referrals section with every figure withheld. */
function hiddenReferrals(): ReferralsSection {
  const hidden = (keys: readonly string[]): Record<string, Cell> =>
    Object.fromEntries(keys.map((k) => [k, WITHHELD]));
  return {
    total: WITHHELD,
    bySector: hidden(SECTORS),
    byStatus: hidden(REFERRAL_STATUSES),
    bySectorAndStatus: Object.fromEntries(SECTORS.map((sector) => [sector, hidden(REFERRAL_STATUSES)])),
    overdue: WITHHELD,
    acceptanceRate: WITHHELD,
    hoursToAccept: { median: WITHHELD, p90: WITHHELD },
  };
}

/**
 * (accepted + completed) / (accepted + completed + declined), by current status. Published only when the
 * three counts are themselves shown, so that the rate cannot reveal a hidden one, and add up to 5 or more, of 5
 * cases or more (`cases`): five referrals of one survivor, all declined, are her history, not a rate.
 */
function acceptanceRate(byStatus: Record<string, Cell>, cases: number): Statistic {
  const [accepted, completed, declined] = [byStatus.accepted, byStatus.completed, byStatus.declined];
  if (typeof accepted !== 'number' || typeof completed !== 'number' || typeof declined !== 'number') {
    return SUPPRESSED;
  }
  const answered = accepted + completed + declined;
  if (answered < MIN_REFERRALS_FOR_STATISTICS || cases < MIN_REFERRALS_FOR_STATISTICS) return SUPPRESSED;
  return Math.round(((accepted + completed) / answered) * 1000) / 1000;
}

/**
 * The hours from referral to acceptance, over every referral ever accepted (`n`: those accepted or completed
 * now, and some of the revoked). Published only when the accepted and completed counts are shown and add up to
 * 5 or more: whether it is shown then depends on published counts (deciding on `n` would reveal hidden ones: a
 * median shown beside a hidden declined count bounds the accepted and completed ones from below, and with them
 * the declined one), and on the referrals ever accepted being of 5 cases or more (`cases`; that tells only that
 * they are of 5 cases): five referrals of one survivor, all accepted, would publish her own response times.
 */
function hoursToAccept(
  byStatus: Record<string, Cell>,
  hours: { n: number; cases: number; median: number | null; p90: number | null },
): { median: Statistic; p90: Statistic } {
  const [accepted, completed] = [byStatus.accepted, byStatus.completed];
  const shown =
    typeof accepted === 'number' &&
    typeof completed === 'number' &&
    accepted + completed >= MIN_REFERRALS_FOR_STATISTICS &&
    hours.cases >= MIN_REFERRALS_FOR_STATISTICS;
  const statistic = (value: number | null): Statistic =>
    shown && value !== null ? Math.round(value * 10) / 10 : SUPPRESSED;
  return { median: statistic(hours.median), p90: statistic(hours.p90) };
}

/**
 * The breakdown with the units any of `counts` has that its list lacks (a commune no longer on the map): reports
 * compared row by row (the Action Month's two years) then have the same rows, each protected in its own year (a
 * row one year lacks would otherwise read as an exact 0 beside a year whose counts are all "<5").
 */
export function withUnitsOf(area: AreaBreakdown, counts: readonly RawCounts[]): AreaBreakdown {
  if (!area) return area;
  const seen = Object.fromEntries(
    counts.flatMap((c) => Object.keys(area.level === 'commune' ? c.commune : c.province)).map((k) => [k, 0]),
  );
  return { ...area, units: withUnlisted(area.units, seen) };
}

/** The area's units, plus any code the counts have that the list lacks (so that the breakdown adds up). */
function withUnlisted(units: readonly AreaUnit[], counts: Readonly<Record<string, number>>): AreaUnit[] {
  const listed = new Set(units.map((u) => u.code));
  const extra = Object.keys(counts)
    .filter((c) => !listed.has(c))
    .sort()
    .map((code) => ({ code, nameVi: code, nameEn: code }));
  return [...units, ...extra];
}

/** One published value with the table and category it belongs to (for CSV and for comparisons). */
export interface FlatRow {
  readonly table: TableDef;
  readonly code: string;
  readonly label: LocalizedText;
  readonly value: Cell | Statistic;
}

/** A row's place in any column of reports: its table and category. */
export function rowKey(r: FlatRow): string {
  return `${r.table.path}\u0000${r.code}`;
}

/**
 * The rows of several columns of the same report (the Action Month's two years), each table and category once:
 * in the first column's order, and a row only a later column has (a commune that has since changed province)
 * after the last row of its table, so that no column loses a row its totals count.
 */
export function unionRows(columns: readonly (readonly FlatRow[])[]): FlatRow[] {
  const out: FlatRow[] = [...(columns[0] ?? [])];
  const seen = new Set(out.map(rowKey));
  for (const column of columns.slice(1)) {
    for (const row of column) {
      if (seen.has(rowKey(row))) continue;
      seen.add(rowKey(row));
      let at = out.length;
      for (let i = out.length - 1; i >= 0; i--) {
        if (out[i].table.path === row.table.path) {
          at = i + 1;
          break;
        }
      }
      out.splice(at, 0, row);
    }
  }
  return out;
}

/** The report as rows, in a fixed order: every table, every category, zeros included. */
export function flattenReport(r: ProtectedReport): FlatRow[] {
  const rows: FlatRow[] = [];
  const add = (table: TableDef, code: string, label: LocalizedText, value: Cell | Statistic): void => {
    rows.push({ table, code, label, value });
  };
  const each = <K extends string>(
    table: TableDef,
    keys: readonly K[],
    labels: Record<K, LocalizedText>,
    values: Record<string, Cell>,
  ) => {
    for (const k of keys) add(table, k, labels[k], values[k]);
  };
  const c = r.cases;
  add(TABLES.casesTotal, 'total', TOTAL_LABEL, c.total);
  each(TABLES.byGbvType, GBV_TYPES, GBV_TYPE_LABELS, c.byGbvType);
  each(TABLES.byForm, VIOLENCE_FORMS, FORM_LABELS, c.byForm);
  each(TABLES.bySex, SEXES, SEX_LABELS, c.bySex);
  each(TABLES.byAgeGroup, AGE_GROUPS, AGE_GROUP_LABELS, c.byAgeGroup);
  each(TABLES.children, CHILD_DEFINITIONS, CHILD_LABELS, c.children);
  each(TABLES.byReportChannel, REPORT_CHANNELS, CHANNEL_LABELS, c.byReportChannel);
  for (const u of c.byCommune ?? []) add(TABLES.byCommune, u.code, { vi: u.nameVi, en: u.nameEn }, u.count);
  for (const u of c.byProvince ?? []) add(TABLES.byProvince, u.code, { vi: u.nameVi, en: u.nameEn }, u.count);

  const f = r.referrals;
  add(TABLES.referralsTotal, 'total', TOTAL_LABEL, f.total);
  each(TABLES.bySector, SECTORS, SECTOR_LABELS, f.bySector);
  each(TABLES.byStatus, REFERRAL_STATUSES, STATUS_LABELS, f.byStatus);
  for (const sector of SECTORS) {
    for (const status of REFERRAL_STATUSES) {
      add(
        TABLES.bySectorAndStatus,
        `${sector}.${status}`,
        {
          vi: `${SECTOR_LABELS[sector].vi} – ${STATUS_LABELS[status].vi}`,
          en: `${SECTOR_LABELS[sector].en} – ${STATUS_LABELS[status].en}`,
        },
        f.bySectorAndStatus[sector][status],
      );
    }
  }
  add(TABLES.overdue, 'overdue', TOTAL_LABEL, f.overdue);
  add(TABLES.acceptanceRate, 'rate', TABLES.acceptanceRate.title, f.acceptanceRate);
  add(TABLES.hoursToAccept, 'median', HOURS_LABELS.median, f.hoursToAccept.median);
  add(TABLES.hoursToAccept, 'p90', HOURS_LABELS.p90, f.hoursToAccept.p90);
  return rows;
}

export type { Sector, ReferralStatus };
