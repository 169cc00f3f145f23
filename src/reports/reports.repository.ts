import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { AreaUnit, emptyCounts, RawCounts } from './report-model';
import type { ReportPeriod } from './report-period';
import { effectiveReferralStatusLookupSql } from '../consents/consent-expiry.service';
import { overdueSql } from '../referrals/referral-ending';

/** The one-way breakdowns of the cases: the report row's `dim`, and the column counted. */
const ONE_WAY: readonly [string, string][] = [
  ['gbv_type', 'gbv_type'],
  ['sex', 'survivor_sex'],
  ['age_group', 'age_group'],
  ['report_channel', 'report_channel'],
  ['commune', 'ward_code'],
  ['province', 'province_code'],
];

/** A CASE over the grouping set a row of the one-way breakdowns belongs to; `otherwise`: the total's. */
function oneWay(when: (dim: string, column: string) => string, otherwise: string): string {
  return `CASE ${ONE_WAY.map(([d, column]) => when(d, column)).join(' ')} ELSE ${otherwise} END`;
}

/**
 * The report's one counting statement. It reads only plaintext triage columns of `cases` (never an `enc_*`
 * or `bi_*` column: no case content is read or decrypted), the state and times of `referrals` (a live one's
 * consent looked up: ended by $5, it counts as revoked, as access decisions take it) and the sector of
 * `organizations`. One statement means one snapshot: every table of a report counts the same cases. The
 * referrals counted are those of the cases counted, found by the copy of their case's place and report date
 * that each referral carries (kept by the database: migration ReferralPlaces), so each part is one index range
 * (the referrals' read from their covering index alone: migration ReferralReportConsents).
 * The cases are aggregated in one pass for all one-way breakdowns (GROUPING SETS), the percentiles in one sort.
 * $1/$2: period starts/ends (one pair per period, tagged 0, 1, … in column p), $3 province or null, $4 commune
 * or null, $5 the instant "overdue" is judged at.
 */
export const REPORT_COUNTS_SQL = `
WITH w AS (
  SELECT (t.ord - 1)::int AS p, t.start_at, t.end_at
    FROM unnest($1::timestamptz[], $2::timestamptz[]) WITH ORDINALITY AS t(start_at, end_at, ord)
),
c AS MATERIALIZED (
  SELECT w.p, c.id, c.province_code, c.ward_code, c.gbv_type, c.forms, c.survivor_sex, c.age_group,
         c.child_vn, c.child_gbvims, c.report_channel
    FROM cases c
    JOIN w ON c.reported_at >= w.start_at AND c.reported_at < w.end_at
   WHERE ($3::varchar IS NULL OR c.province_code = $3::varchar)
     AND ($4::varchar IS NULL OR c.ward_code = $4::varchar)
),
r AS MATERIALIZED (
  SELECT w.p, r.case_id, o.sector, ${effectiveReferralStatusLookupSql('r', '$5::timestamptz')} AS status,
         r.due_at, r.created_at, r.accepted_at
    FROM referrals r
    JOIN w ON r.case_reported_at >= w.start_at AND r.case_reported_at < w.end_at
    JOIN organizations o ON o.id = r.organization_id
   WHERE ($3::varchar IS NULL OR r.case_province_code = $3::varchar)
     AND ($4::varchar IS NULL OR r.case_ward_code = $4::varchar)
)
SELECT p, ${oneWay((d, column) => `WHEN GROUPING(${column}) = 0 THEN '${d}'`, `'total'`)} AS dim,
       ${oneWay((_d, column) => `WHEN GROUPING(${column}) = 0 THEN ${column}`, `''`)} AS k1,
       '' AS k2, count(*)::int AS n, NULL::float8 AS x
  FROM c
 GROUP BY GROUPING SETS ((p), ${ONE_WAY.map(([, column]) => `(p, ${column})`).join(', ')})
UNION ALL
SELECT c.p, 'form', f.form, '', count(*)::int, NULL
  FROM c CROSS JOIN LATERAL (SELECT DISTINCT u.form FROM unnest(c.forms) AS u(form)) AS f GROUP BY c.p, f.form
UNION ALL
SELECT ch.p, 'children', v.k, '', v.n, NULL
  FROM (SELECT p, (count(*) FILTER (WHERE child_vn))::int AS under16,
               (count(*) FILTER (WHERE child_gbvims))::int AS under18
          FROM c GROUP BY p) ch
 CROSS JOIN LATERAL (VALUES ('under16', ch.under16), ('under18', ch.under18)) AS v(k, n)
UNION ALL
SELECT p, 'referral', sector, status, count(*)::int, NULL FROM r GROUP BY p, sector, status
UNION ALL
SELECT p, 'referred_cases', '', '', count(DISTINCT case_id)::int, NULL FROM r GROUP BY p
UNION ALL
SELECT p, 'answered_cases', '', '', count(DISTINCT case_id)::int, NULL
  FROM r WHERE status IN ('accepted', 'completed', 'declined') GROUP BY p
UNION ALL
SELECT p, 'accepted_cases', '', '', count(DISTINCT case_id)::int, NULL
  FROM r WHERE accepted_at IS NOT NULL GROUP BY p
UNION ALL
SELECT p, 'overdue', '', '', (count(*) FILTER (WHERE ${overdueSql('r', '$5::timestamptz')}))::int, NULL
  FROM r GROUP BY p
UNION ALL
SELECT h.p, 'hours_to_accept', v.k, '', h.n, v.x
  FROM (SELECT p, count(*)::int AS n,
               percentile_cont(ARRAY[0.5, 0.9]::float8[]) WITHIN GROUP
                 (ORDER BY (extract(epoch FROM accepted_at - created_at) / 3600)::float8) AS q
          FROM r WHERE accepted_at IS NOT NULL GROUP BY p) h
 CROSS JOIN LATERAL (VALUES ('median', h.q[1]), ('p90', h.q[2])) AS v(k, x)`;

interface CountRow {
  p: number;
  dim: string;
  k1: string;
  k2: string;
  n: number;
  x: number | null;
}

interface UnitRow {
  code: string;
  level: 'province' | 'commune';
  province_code: string | null;
  full_name_vi: string;
  full_name_en: string;
}

export interface AdminUnitRef extends AreaUnit {
  readonly level: 'province' | 'commune';
  readonly provinceCode: string | null;
}

@Injectable()
export class ReportsRepository {
  /** Counts for each period, in order, over one area (province and/or commune; both null = national). */
  async counts(
    m: EntityManager,
    periods: readonly ReportPeriod[],
    area: { provinceCode: string | null; wardCode: string | null },
    asOf: Date,
  ): Promise<RawCounts[]> {
    const rows = await m.query<CountRow[]>(REPORT_COUNTS_SQL, [
      periods.map((p) => p.start.toISOString()),
      periods.map((p) => p.end.toISOString()),
      area.provinceCode,
      area.wardCode,
      asOf.toISOString(),
    ]);
    const out = periods.map(() => emptyCounts());
    for (const r of rows) {
      const c = out[r.p];
      if (!c) continue;
      const n = Number(r.n);
      switch (r.dim) {
        case 'total':
          c.total = n;
          break;
        case 'gbv_type':
          c.gbvType = { ...c.gbvType, [r.k1]: n };
          break;
        case 'form':
          c.form = { ...c.form, [r.k1]: n };
          break;
        case 'sex':
          c.sex = { ...c.sex, [r.k1]: n };
          break;
        case 'age_group':
          c.ageGroup = { ...c.ageGroup, [r.k1]: n };
          break;
        case 'children':
          if (r.k1 === 'under16') c.under16 = n;
          else c.under18 = n;
          break;
        case 'report_channel':
          c.reportChannel = { ...c.reportChannel, [r.k1]: n };
          break;
        case 'commune':
          c.commune = { ...c.commune, [r.k1]: n };
          break;
        case 'province':
          c.province = { ...c.province, [r.k1]: n };
          break;
        case 'referral':
          c.referrals = { ...c.referrals, [r.k1]: { ...c.referrals[r.k1], [r.k2]: n } };
          break;
        case 'referred_cases':
          c.referredCases = n;
          break;
        case 'answered_cases':
          c.answeredCases = n;
          break;
        case 'accepted_cases':
          c.hoursToAccept = { ...c.hoursToAccept, cases: n };
          break;
        case 'overdue':
          c.overdue = n;
          break;
        case 'hours_to_accept':
          c.hoursToAccept = {
            ...c.hoursToAccept,
            n,
            [r.k1 === 'median' ? 'median' : 'p90']: r.x === null ? null : Number(r.x),
          };
          break;
        default:
          throw new Error(`unexpected report row ${r.dim}`);
      }
    }
    return out;
  }

  async unit(m: EntityManager, code: string, level: 'province' | 'commune'): Promise<AdminUnitRef | null> {
    const rows = await m.query<UnitRow[]>(
      `SELECT code, level, province_code, full_name_vi, full_name_en FROM admin_units WHERE code = $1 AND level = $2`,
      [code, level],
    );
    return rows[0] ? unitRef(rows[0]) : null;
  }

  /** The communes of a province, or every province (provinceCode null), by code. */
  async units(m: EntityManager, provinceCode: string | null): Promise<AdminUnitRef[]> {
    const rows = await m.query<UnitRow[]>(
      provinceCode
        ? `SELECT code, level, province_code, full_name_vi, full_name_en FROM admin_units
            WHERE level = 'commune' AND province_code = $1 ORDER BY code`
        : `SELECT code, level, province_code, full_name_vi, full_name_en FROM admin_units
            WHERE level = 'province' ORDER BY code`,
      provinceCode ? [provinceCode] : [],
    );
    return rows.map(unitRef);
  }
}

function unitRef(r: UnitRow): AdminUnitRef {
  return {
    code: r.code,
    level: r.level,
    provinceCode: r.province_code,
    nameVi: r.full_name_vi,
    nameEn: r.full_name_en,
  };
}
