import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { AuditService, type Deny } from '../audit/audit.service';
import type { AuditEntryInput } from '../audit/audit.types';
import { ConsentExpiryService } from '../consents/consent-expiry.service';
import type { AppAbility } from '../authz/ability.factory';
import type { Principal } from '../authz/principal';
import { DomainError, fieldError } from '../common/errors/domain-error';
import { ActionMonthQuery, ReportAreaQuery, SummaryQuery } from './dto/report-query.dto';
import {
  ActionMonthReportView,
  ComparisonRowView,
  ReportAreaView,
  ReportPeriodView,
  ReportProtectionView,
  SummaryReportView,
} from './dto/report-view.dto';
import { REPORT_NOTES } from './report-labels';
import {
  AreaBreakdown,
  buildProtectedReport,
  flattenReport,
  FlatRow,
  ProtectedReport,
  rowKey,
  unionRows,
  WITHHELD,
  withUnitsOf,
} from './report-model';
import { vietnamDate } from '../cases/case-classification';
import {
  actionMonthPeriod,
  assertActionMonthOver,
  defaultActionMonthYear,
  lastEndedActionMonthYear,
  REPORT_TIME_ZONE,
  ReportPeriod,
  summaryPeriod,
} from './report-period';
import { AdminUnitRef, ReportsRepository } from './reports.repository';
import { DEFAULT_THRESHOLD, SMALL_CELL, SUPPRESSED } from './small-cell-protection';

/** The area a report covers, once checked against the administrative map and the caller's jurisdiction. */
export interface ResolvedArea {
  readonly level: 'national' | 'province' | 'commune';
  readonly provinceCode: string | null;
  readonly wardCode: string | null;
  readonly nameVi: string;
  readonly nameEn: string;
}

/** A report and what it was made of, for the JSON view and the CSV rendering. */
export interface SummaryResult {
  readonly view: SummaryReportView;
  readonly rows: FlatRow[];
}

export interface ActionMonthResult {
  readonly view: ActionMonthReportView;
  readonly current: FlatRow[];
  readonly previous: FlatRow[];
}

const NATIONAL = { vi: 'Toàn quốc', en: 'Viet Nam (national)' };
const PROTECTION: ReportProtectionView = {
  threshold: DEFAULT_THRESHOLD,
  smallCell: SMALL_CELL,
  complementary: SUPPRESSED,
  withheld: WITHHELD,
  rule: 'docs/reports.md',
};

/**
 * Anonymised statistics (docs/reports.md). Protects survivors from being singled out by the numbers: counts
 * come from plaintext triage columns only (nothing is decrypted), small counts are suppressed with their
 * complements, and a caller sees only their jurisdiction — supervisors their province (or the country),
 * admins the national totals without any breakdown by area. Every read is written to the access log in the
 * transaction that counted it; every refusal too.
 */
@Injectable()
export class ReportsService {
  constructor(
    private readonly reports: ReportsRepository,
    private readonly audit: AuditService,
    private readonly expiry: ConsentExpiryService,
  ) {}

  /**
   * Referrals whose consent has expired are revoked before anything is counted (in a transaction of their
   * own, as a provider's read does): counted as they were stored, they would still be pending, accepted or
   * overdue.
   */
  private revokeExpired(p: Principal): Promise<string[]> {
    return this.audit.session((m) => this.expiry.revokeExpired(m, p.request));
  }

  /**
   * The instant the report is generated at ("overdue" is judged then, the default period ends then), by the
   * database's clock, which times the referrals: every instance reports alike.
   */
  private databaseNow(): Promise<Date> {
    return this.audit.session(async (m) => (await m.query<{ now: Date }[]>(`SELECT now() AS now`))[0].now);
  }

  async summary(p: Principal, ability: AppAbility, q: SummaryQuery): Promise<SummaryResult> {
    // A caller who reads no case's triage facts (an administrator) gets whole months only: no single day by
    // differencing.
    const aggregates = aggregatesOnly(ability);
    const now = await this.databaseNow();
    await this.revokeExpired(p);
    return this.audit.transaction(async (m, deny) => {
      // The area first: a request for an area outside the caller's is refused (403, on record) whatever its
      // period, not answered with a 400 about the period and left off the record.
      const area = await this.resolveArea(m, deny, p, ability, q);
      // From here a refusal (a period an administrator may not have: days, a month not over) is on record.
      deny.refusals(p, this.entryOf(area));
      const period = summaryPeriod(q.from, q.to, now, aggregates);
      const breakdown = await this.breakdown(m, area, aggregates);
      const [counts] = await this.reports.counts(m, [period], area, now);
      const report = buildProtectedReport(counts, breakdown);
      await this.recordRead(m, p, area);
      return {
        view: {
          report: 'summary',
          generatedAt: now.toISOString(),
          period: periodView(period),
          area: areaView(area),
          protection: PROTECTION,
          notes: [...REPORT_NOTES],
          ...report,
        },
        rows: flattenReport(report),
      };
    });
  }

  async actionMonth(p: Principal, ability: AppAbility, q: ActionMonthQuery): Promise<ActionMonthResult> {
    // An administrator's by default: the last one that is over (assertActionMonthOver).
    const aggregates = aggregatesOnly(ability);
    const now = await this.databaseNow();
    const year = q.year ?? (aggregates ? lastEndedActionMonthYear(now) : defaultActionMonthYear(now));
    await this.revokeExpired(p);
    return this.audit.transaction(async (m, deny) => {
      // The area first (see summary), then the year's rules.
      const area = await this.resolveArea(m, deny, p, ability, q);
      deny.refusals(p, this.entryOf(area));
      if (year > Number(vietnamDate(now).slice(0, 4))) {
        throw fieldError('year', 'is after the current year', 'là năm sau năm hiện tại');
      }
      if (aggregates) assertActionMonthOver(year, now);
      const periods = [actionMonthPeriod(year), actionMonthPeriod(year - 1)] as const;
      const breakdown = await this.breakdown(m, area, aggregates);
      const [currentCounts, previousCounts] = await this.reports.counts(m, periods, area, now);
      // Each year is protected on its own (the two periods share no case), over the same rows.
      const both = withUnitsOf(breakdown, [currentCounts, previousCounts]);
      const current = buildProtectedReport(currentCounts, both);
      const previous = buildProtectedReport(previousCounts, both);
      await this.recordRead(m, p, area);
      const currentRows = flattenReport(current);
      const previousRows = flattenReport(previous);
      return {
        view: {
          report: 'action_month',
          generatedAt: now.toISOString(),
          year,
          period: periodView(periods[0]),
          area: areaView(area),
          protection: PROTECTION,
          notes: [...REPORT_NOTES],
          ...current,
          previous: periodReport(year - 1, periods[1], previous),
          comparison: comparison(currentRows, previousRows),
        },
        current: currentRows,
        previous: previousRows,
      };
    });
  }

  /**
   * Checks the requested area: codes must exist (400), a commune must lie in the province given (400), and
   * the area must be within the caller's jurisdiction (403, recorded as a denied report.read). Without
   * either code the area is the caller's whole jurisdiction.
   */
  private async resolveArea(
    m: EntityManager,
    deny: Deny,
    p: Principal,
    ability: AppAbility,
    q: ReportAreaQuery,
  ): Promise<ResolvedArea> {
    let province: AdminUnitRef | null = null;
    let ward: AdminUnitRef | null = null;
    if (q.province !== undefined) {
      province = await this.reports.unit(m, q.province, 'province');
      if (!province) {
        throw fieldError('province', 'is not a known province code', 'không phải mã tỉnh/thành phố đã biết');
      }
    }
    if (q.ward !== undefined) {
      ward = await this.reports.unit(m, q.ward, 'commune');
      if (!ward) throw fieldError('ward', 'is not a known commune code', 'không phải mã xã/phường đã biết');
      if (province && ward.provinceCode !== province.code) {
        throw fieldError('ward', 'is not in the given province', 'không thuộc tỉnh/thành phố đã chọn');
      }
    }
    if (!province && !ward && p.role === 'supervisor' && p.provinceCode) {
      province = await this.reports.unit(m, p.provinceCode, 'province');
    }
    const provinceCode = ward?.provinceCode ?? province?.code ?? null;
    if (!ability.can('read', { kind: 'Report', provinceCode })) {
      const denied = new DomainError('auth.forbidden', {
        en: 'You can read reports of your own jurisdiction only (admins: national totals only).',
        vi: 'Bạn chỉ có thể xem báo cáo thuộc địa bàn mình phụ trách (quản trị viên: chỉ số liệu toàn quốc).',
      });
      // Written once the report's transaction has ended: never a second connection while it holds one.
      deny(p, {
        action: 'report.read',
        resourceType: 'report',
        provinceCode,
        wardCode: ward?.code ?? null,
        reason: 'auth.forbidden',
      });
      throw denied;
    }
    if (ward) {
      return {
        level: 'commune',
        provinceCode,
        wardCode: ward.code,
        nameVi: ward.nameVi,
        nameEn: ward.nameEn,
      };
    }
    if (province) {
      return {
        level: 'province',
        provinceCode,
        wardCode: null,
        nameVi: province.nameVi,
        nameEn: province.nameEn,
      };
    }
    return {
      level: 'national',
      provinceCode: null,
      wardCode: null,
      nameVi: NATIONAL.vi,
      nameEn: NATIONAL.en,
    };
  }

  /** The by-area table: communes of a province or commune; provinces nationally, except for admins. */
  private async breakdown(m: EntityManager, area: ResolvedArea, aggregates: boolean): Promise<AreaBreakdown> {
    switch (area.level) {
      case 'commune':
        return {
          level: 'commune',
          units: [{ code: area.wardCode!, nameVi: area.nameVi, nameEn: area.nameEn }],
        };
      case 'province':
        return { level: 'commune', units: await this.reports.units(m, area.provinceCode) };
      case 'national':
        // Admins may read the national totals only.
        return aggregates ? null : { level: 'province', units: await this.reports.units(m, null) };
    }
  }

  private async recordRead(m: EntityManager, p: Principal, area: ResolvedArea): Promise<void> {
    await this.audit.record(m, p, { ...this.entryOf(area), fields: ['triage'] });
  }

  /** A report's entry, in the area it covers. */
  private entryOf(area: ResolvedArea): AuditEntryInput {
    return {
      action: 'report.read',
      resourceType: 'report',
      provinceCode: area.provinceCode,
      wardCode: area.wardCode,
    };
  }
}

function periodView(p: ReportPeriod): ReportPeriodView {
  return { from: p.from, to: p.to, timeZone: REPORT_TIME_ZONE, basis: 'reported_at' };
}

function areaView(a: ResolvedArea): ReportAreaView {
  return {
    level: a.level,
    provinceCode: a.provinceCode,
    wardCode: a.wardCode,
    nameVi: a.nameVi,
    nameEn: a.nameEn,
  };
}

function periodReport(
  year: number,
  period: ReportPeriod,
  r: ProtectedReport,
): ActionMonthReportView['previous'] {
  return { year, period: periodView(period), ...r };
}

/**
 * Each row of either year (unionRows), with both years' values. The two have the same rows (withUnitsOf); 0
 * where a year has no such row would be a row added to one year's tables only.
 */
function comparison(current: readonly FlatRow[], previous: readonly FlatRow[]): ComparisonRowView[] {
  const now = new Map(current.map((r) => [rowKey(r), r.value]));
  const before = new Map(previous.map((r) => [rowKey(r), r.value]));
  return unionRows([current, previous]).map((r) => ({
    table: r.table.path,
    code: r.code,
    labelVi: r.label.vi,
    labelEn: r.label.en,
    current: now.get(rowKey(r)) ?? 0,
    previous: before.get(rowKey(r)) ?? 0,
  }));
}

/**
 * Whether the caller reads reports only, no case's triage facts (an administrator: the national totals, over
 * periods that are over, so that two reports never differ by a single day). Decided by the rules, not the role.
 */
function aggregatesOnly(ability: AppAbility): boolean {
  return !ability.can('read', 'Case');
}
