import { vietnamDate } from '../cases/case-classification';
import { csvDocument, csvField, reportCsv } from './report-csv';
import { TABLES } from './report-labels';
import {
  buildProtectedReport,
  emptyCounts,
  flattenReport,
  RawCounts,
  rowKey,
  unionRows,
  WITHHELD,
  withUnitsOf,
} from './report-model';
import { actionMonthPeriod, defaultActionMonthYear, periodOf, summaryPeriod } from './report-period';
import { REPORT_COUNTS_SQL } from './reports.repository';
import { SMALL_CELL, SUPPRESSED } from './small-cell-protection';

function counts(over: Partial<RawCounts>): RawCounts {
  return { ...emptyCounts(), ...over };
}

/** Counts of cases of one kind (physical assault of women of 18-59, walk-in) in the communes given. */
function communeCounts(commune: Record<string, number>): RawCounts {
  const total = Object.values(commune).reduce((a, b) => a + b, 0);
  return counts({
    total,
    gbvType: { physical_assault: total },
    form: { physical: total },
    sex: { female: total },
    ageGroup: { '18-59': total },
    reportChannel: { walk_in: total },
    commune,
  });
}

const COMMUNES = [
  { code: '00118', nameVi: 'Phường Bồ Đề', nameEn: 'Bo De Ward' },
  { code: '00127', nameVi: 'Phường Việt Hưng', nameEn: 'Viet Hung Ward' },
  { code: '00145', nameVi: 'Phường Long Biên', nameEn: 'Long Bien Ward' },
];

/** The published values of one section of a report ('cases' or 'referrals'), in the flattened order. */
function valuesOf(report: ReturnType<typeof buildProtectedReport>, section: 'cases' | 'referrals') {
  return flattenReport(report)
    .filter((row) => row.table.path.startsWith(`${section}.`))
    .map((row) => row.value);
}

describe('report model', () => {
  const raw = counts({
    total: 20,
    gbvType: { physical_assault: 10, psychological_emotional_abuse: 7, rape: 3 },
    form: { physical: 20, psychological: 8 },
    sex: { female: 20 },
    ageGroup: { '12-15': 6, '18-59': 14 },
    under16: 6,
    under18: 6,
    reportChannel: { walk_in: 10, phone: 5, hotline_111: 5 },
    commune: { '00145': 12, '00118': 6, '00127': 2 },
    referrals: { police: { accepted: 6 }, health: { declined: 2 }, social: { pending: 5 } },
    overdue: 5,
    answeredCases: 8,
    hoursToAccept: { n: 6, cases: 6, median: 3.5, p90: 5.5 },
  });

  it('publishes counts of 5 and more, hides 1-4 as "<5" and the first non-zero cell beside it as "suppressed"', () => {
    const r = buildProtectedReport(raw, { level: 'commune', units: COMMUNES });
    expect(r.cases.total).toBe(20);
    // The complement is the first non-zero cell in the table's order, whatever its value (not the smallest).
    expect(r.cases.byGbvType).toEqual({
      rape: SMALL_CELL,
      sexual_assault: 0,
      physical_assault: SUPPRESSED,
      forced_marriage: 0,
      denial_of_resources_opportunities_or_services: 0,
      psychological_emotional_abuse: 7,
      non_gbv: 0,
    });
    expect(r.cases.byForm).toEqual({ physical: 20, psychological: 8, sexual: 0, economic: 0 });
    expect(r.cases.bySex).toEqual({ female: 20, male: 0, other: 0, unknown: 0 });
    expect(r.cases.byAgeGroup).toMatchObject({ '12-15': 6, '18-59': 14, '0-5': 0 });
    expect(r.cases.children).toEqual({ under16: 6, under18: 6 });
    expect(r.cases.byCommune).toEqual([
      { code: '00118', nameVi: 'Phường Bồ Đề', nameEn: 'Bo De Ward', count: SUPPRESSED },
      { code: '00127', nameVi: 'Phường Việt Hưng', nameEn: 'Viet Hung Ward', count: SMALL_CELL },
      { code: '00145', nameVi: 'Phường Long Biên', nameEn: 'Long Bien Ward', count: 12 },
    ]);
    expect(r.cases.byProvince).toBeUndefined();
  });

  it('protects the referral tables together: sector × status, both margins, the overdue count and the rate', () => {
    const r = buildProtectedReport(raw, { level: 'commune', units: COMMUNES }).referrals;
    expect(r.total).toBe(13);
    // health / declined = 2: its row, its column and their complements go.
    expect(r.bySectorAndStatus.health.declined).toBe(SMALL_CELL);
    expect(r.bySector.health).toBe(SMALL_CELL);
    expect(r.byStatus.declined).toBe(SMALL_CELL);
    // 13 = police + health + 5: police (the first sector in order) must be hidden too, and with it what would
    // give it back: its cell in the accepted column, and the pending column beside the declined one.
    expect(r.bySector.police).toBe(SUPPRESSED);
    expect(r.bySectorAndStatus.police.accepted).toBe(SUPPRESSED);
    expect(r.byStatus.pending).toBe(SUPPRESSED);
    expect(r.byStatus.accepted).toBe(6);
    expect(r.bySector.social).toBe(5);
    expect(r.bySectorAndStatus.social.pending).toBe(5);
    // Zeros inside the breakdown of a "<5" count are hidden too.
    expect(r.bySectorAndStatus.health.pending).toBe(SMALL_CELL);
    expect(r.bySectorAndStatus.police.declined).toBe(SMALL_CELL);
    expect(r.bySectorAndStatus.legal.accepted).toBe(0);
    // The rate would reveal the declined count: suppressed. The hours rest on 6 referrals: shown.
    expect(r.acceptanceRate).toBe(SUPPRESSED);
    expect(r.hoursToAccept).toEqual({ median: 3.5, p90: 5.5 });
  });

  /**
   * The referrals section of a national report of 30 cases, whose referrals all went to the police; `cases`: how
   * many cases the answered and the accepted referrals are of (30 unless said).
   */
  const policeReport = (
    police: Record<string, number>,
    hours: { n: number; median: number; p90: number },
    cases = 30,
  ) =>
    buildProtectedReport(
      counts({
        total: 30,
        gbvType: { physical_assault: 30 },
        form: { physical: 30 },
        sex: { female: 30 },
        ageGroup: { '18-59': 30 },
        reportChannel: { walk_in: 30 },
        referrals: { police },
        answeredCases: cases,
        hoursToAccept: { ...hours, cases },
      }),
      null,
    ).referrals;

  it('computes the acceptance rate from shown counts and hides statistics of fewer than 5 referrals', () => {
    const r = policeReport({ accepted: 10, completed: 5, declined: 5 }, { n: 15, median: 2, p90: 3 });
    expect(r.acceptanceRate).toBe(0.75);
    expect(r.hoursToAccept).toEqual({ median: 2, p90: 3 });
    expect(r.overdue).toBe(0);
  });

  it('publishes rates and durations only of 5 cases or more: five referrals of one survivor are her history', () => {
    // One survivor referred five times, every referral accepted (the others' referrals wait): the counts show.
    const one = policeReport({ accepted: 5, pending: 10 }, { n: 5, median: 2, p90: 3 }, 1);
    expect(one.byStatus).toMatchObject({ accepted: 5, pending: 10 });
    expect(one.hoursToAccept).toEqual({ median: SUPPRESSED, p90: SUPPRESSED });
    // Declined five times: no acceptance rate (0 would be hers).
    expect(policeReport({ declined: 5, pending: 10 }, { n: 0, median: 0, p90: 0 }, 1).acceptanceRate).toBe(
      SUPPRESSED,
    );
    // The same referrals of five survivors: published.
    const five = policeReport({ accepted: 5, pending: 10 }, { n: 5, median: 2, p90: 3 }, 5);
    expect(five.hoursToAccept).toEqual({ median: 2, p90: 3 });
    expect(five.acceptanceRate).toBe(1);
  });

  it('shows the hours to acceptance only on shown counts, so that showing them reveals no hidden one', () => {
    const report = (police: Record<string, number>, n: number) =>
      policeReport(police, { n, median: 2, p90: 3 });
    // 4 accepted, 1 completed, 1 declined: every status hidden under a total of 6. Hours shown on 5 accepted
    // referrals would say accepted + completed >= 5, hence declined = 1.
    const a = report({ accepted: 4, completed: 1, declined: 1 }, 5);
    expect(a.byStatus).toMatchObject({ accepted: SMALL_CELL, completed: SMALL_CELL, declined: SMALL_CELL });
    expect(a.hoursToAccept).toEqual({ median: SUPPRESSED, p90: SUPPRESSED });
    // The same published counts with fewer accepted: the same answer, whatever n is.
    expect(report({ accepted: 1, completed: 1, declined: 4 }, 2).hoursToAccept).toEqual(a.hoursToAccept);
    // Shown counts of 5 or more accepted or completed: shown, also with some of the accepted revoked since.
    expect(report({ accepted: 5, declined: 10, revoked: 5 }, 7).hoursToAccept).toEqual({ median: 2, p90: 3 });
    // Shown counts under 5: suppressed, however many were accepted before a revocation.
    const few = report({ accepted: 0, completed: 0, declined: 10, revoked: 10 }, 10);
    expect(few.byStatus).toMatchObject({ accepted: 0, completed: 0, declined: 10, revoked: 10 });
    expect(few.hoursToAccept).toEqual({ median: SUPPRESSED, p90: SUPPRESSED });
  });

  it('gives two years compared row by row the same rows: a commune one year lacks is protected there, not an exact 0', () => {
    // This year's cases include a commune no longer on the map; last year's 3 cases were all in a listed one.
    const now = communeCounts({ '00145': 6, '99999': 6 });
    const before = communeCounts({ '00145': 3 });
    const area = withUnitsOf({ level: 'commune', units: COMMUNES }, [now, before]);
    expect(area?.units.map((u) => u.code)).toEqual(['00118', '00127', '00145', '99999']);
    const byCommune = (raw: RawCounts) =>
      Object.fromEntries(
        (buildProtectedReport(raw, area).cases.byCommune ?? []).map((c) => [c.code, c.count]),
      );
    expect(byCommune(now)).toMatchObject({ '00145': 6, '99999': 6 });
    // Last year: the unlisted commune's 0 is inside the "<5" total, as the listed ones' are.
    expect(byCommune(before)).toEqual({
      '00118': SMALL_CELL,
      '00127': SMALL_CELL,
      '00145': SMALL_CELL,
      '99999': SMALL_CELL,
    });
    expect(withUnitsOf(null, [now, before])).toBeNull();
  });

  it('shows a report of fewer than 5 cases as "<5" throughout', () => {
    const r = buildProtectedReport(
      counts({
        total: 3,
        gbvType: { rape: 1, physical_assault: 2 },
        form: { physical: 3, sexual: 1 },
        sex: { female: 3 },
        ageGroup: { '12-15': 1, '18-59': 2 },
        under16: 1,
        under18: 1,
        reportChannel: { hotline_111: 3 },
        commune: { '00145': 3 },
      }),
      { level: 'commune', units: [COMMUNES[2]] },
    );
    const values = valuesOf(r, 'cases');
    expect(new Set(values)).toEqual(new Set([SMALL_CELL]));
  });

  it('withholds the whole of a commune of 8 whose labels alone would pin its counts (no pattern protects it)', () => {
    // Four girls under 12 raped; four males of 12-15, 16-17, 18-59 and unknown age, assaulted. Published with
    // every count "<5" or "suppressed", the sexes' two "<5" allowed at most 8 cases, the six age groups' "<5"
    // and under-16 "suppressed" (5 or more) at least 8: exactly 8, one survivor of 16-17 in the commune.
    const raw8 = counts({
      total: 8,
      gbvType: { rape: 4, physical_assault: 4 },
      form: { sexual: 4, physical: 4 },
      sex: { female: 4, male: 4 },
      ageGroup: { '0-5': 2, '6-11': 2, '12-15': 1, '16-17': 1, '18-59': 1, unknown: 1 },
      under16: 5,
      under18: 6,
      reportChannel: { walk_in: 8 },
      commune: { '00145': 8 },
    });
    const r = buildProtectedReport(raw8, { level: 'commune', units: [COMMUNES[2]] });
    expect(new Set(valuesOf(r, 'cases'))).toEqual(new Set([WITHHELD]));
    expect(new Set(valuesOf(r, 'referrals'))).toEqual(new Set([WITHHELD]));
    // One case fewer of 16-17 (7 cases): the labels no longer meet, and the report is published as before.
    const raw7 = counts({
      ...raw8,
      total: 7,
      gbvType: { rape: 4, physical_assault: 3 },
      form: { sexual: 4, physical: 3 },
      sex: { female: 4, male: 3 },
      ageGroup: { '0-5': 2, '6-11': 2, '12-15': 1, '18-59': 1, unknown: 1 },
      under18: 5,
      reportChannel: { walk_in: 7 },
      commune: { '00145': 7 },
    });
    const published = valuesOf(
      buildProtectedReport(raw7, { level: 'commune', units: [COMMUNES[2]] }),
      'cases',
    );
    expect(published).not.toContain(WITHHELD);
    expect(published).toContain(SMALL_CELL);
  });

  it('publishes nothing of the referrals of fewer than 5 cases, however many referrals they had', () => {
    const few = counts({
      total: 3,
      gbvType: { physical_assault: 3 },
      form: { physical: 3 },
      sex: { female: 3 },
      ageGroup: { '18-59': 3 },
      reportChannel: { walk_in: 3 },
      commune: { '00145': 3 },
      // Three survivors referred again and again: every count and the durations are their history.
      referrals: { police: { accepted: 6, declined: 5 }, health: { completed: 5 } },
      answeredCases: 3,
      hoursToAccept: { n: 11, cases: 3, median: 2.5, p90: 30.5 },
    });
    const r = buildProtectedReport(few, { level: 'commune', units: [COMMUNES[2]] });
    expect(r.cases.total).toBe(SMALL_CELL);
    const referrals = valuesOf(r, 'referrals');
    expect(referrals.length).toBeGreaterThan(10);
    expect(new Set(referrals)).toEqual(new Set([WITHHELD]));
    expect(r.referrals).toMatchObject({
      total: WITHHELD,
      acceptanceRate: WITHHELD,
      hoursToAccept: { median: WITHHELD, p90: WITHHELD },
    });
    // With 5 cases, the same referrals are published.
    const five = buildProtectedReport(
      {
        ...few,
        total: 5,
        gbvType: { physical_assault: 5 },
        form: { physical: 5 },
        sex: { female: 5 },
        ageGroup: { '18-59': 5 },
        reportChannel: { walk_in: 5 },
        commune: { '00145': 5 },
      },
      { level: 'commune', units: [COMMUNES[2]] },
    );
    expect(five.referrals.total).toBe(16);
  });

  it('publishes nothing of the referrals of fewer than 5 cases among many: one survivor referred again and again', () => {
    const oneReferred = { ...raw, referredCases: 1 };
    const r = buildProtectedReport(oneReferred, { level: 'commune', units: COMMUNES });
    expect(r.cases.total).toBe(20);
    const referrals = valuesOf(r, 'referrals');
    expect(referrals.length).toBeGreaterThan(10);
    expect(new Set(referrals)).toEqual(new Set([WITHHELD]));
    expect(r.referrals).toMatchObject({
      total: WITHHELD,
      overdue: WITHHELD,
      acceptanceRate: WITHHELD,
      hoursToAccept: { median: WITHHELD, p90: WITHHELD },
    });
    // The same referrals spread over 5 cases are published.
    expect(
      buildProtectedReport({ ...raw, referredCases: 5 }, { level: 'commune', units: COMMUNES }).referrals
        .total,
    ).toBe(13);
  });

  it('lists provinces for a national supervisor and nothing by area for an admin', () => {
    const provinces = [
      { code: '01', nameVi: 'Thành phố Hà Nội', nameEn: 'Hanoi City' },
      { code: '31', nameVi: 'Thành phố Hải Phòng', nameEn: 'Haiphong City' },
    ];
    const base = counts({
      total: 10,
      gbvType: { rape: 10 },
      form: { sexual: 10 },
      sex: { female: 10 },
      ageGroup: { '18-59': 10 },
      reportChannel: { phone: 10 },
      province: { '01': 10 },
    });
    expect(buildProtectedReport(base, { level: 'province', units: provinces }).cases.byProvince).toEqual([
      { ...provinces[0], count: 10 },
      { ...provinces[1], count: 0 },
    ]);
    const admin = buildProtectedReport(base, null).cases;
    expect(admin.byProvince).toBeUndefined();
    expect(admin.byCommune).toBeUndefined();
  });

  it('flattens every table in a fixed order for CSV and comparisons', () => {
    const rows = flattenReport(buildProtectedReport(raw, { level: 'commune', units: COMMUNES }));
    expect(rows[0]).toMatchObject({ table: TABLES.casesTotal, code: 'total', value: 20 });
    expect(rows.filter((r) => r.table === TABLES.byAgeGroup).map((r) => r.code)).toEqual([
      '0-5',
      '6-11',
      '12-15',
      '16-17',
      '18-59',
      '60+',
      'unknown',
    ]);
    expect(
      rows.find((r) => r.table === TABLES.bySectorAndStatus && r.code === 'health.declined')?.value,
    ).toBe(SMALL_CELL);
  });
});

describe('report periods (Vietnam time, both days included)', () => {
  it('turns dates into [from 00:00 +07, day after to 00:00 +07)', () => {
    const p = periodOf('2024-03-01', '2024-03-31');
    expect(p.start.toISOString()).toBe('2024-02-29T17:00:00.000Z');
    expect(p.end.toISOString()).toBe('2024-03-31T17:00:00.000Z');
  });

  it('covers 15 November to 15 December for the Action Month', () => {
    const p = actionMonthPeriod(2026);
    expect([p.from, p.to]).toEqual(['2026-11-15', '2026-12-15']);
    expect(p.start.toISOString()).toBe('2026-11-14T17:00:00.000Z');
    expect(p.end.toISOString()).toBe('2026-12-15T17:00:00.000Z');
  });

  it('defaults to this year so far, in Vietnam time', () => {
    // 31 Dec 2025 20:00 UTC is already 1 January 2026 in Vietnam.
    const now = new Date('2025-12-31T20:00:00Z');
    expect(vietnamDate(now)).toBe('2026-01-01');
    expect(summaryPeriod(undefined, undefined, now)).toMatchObject({ from: '2026-01-01', to: '2026-01-01' });
    expect(summaryPeriod(undefined, '2025-06-30', now)).toMatchObject({
      from: '2025-01-01',
      to: '2025-06-30',
    });
    expect(defaultActionMonthYear(new Date('2026-11-14T16:59:59Z'))).toBe(2025);
    expect(defaultActionMonthYear(new Date('2026-11-14T17:00:00Z'))).toBe(2026);
  });

  it('refuses impossible dates and reversed periods with a 400 problem', () => {
    expect(() => periodOf('2024-02-30', '2024-03-01')).toThrow(
      expect.objectContaining({ code: 'request.validation' }),
    );
    expect(() => periodOf('2024-03-02', '2024-03-01')).toThrow(
      expect.objectContaining({ code: 'request.validation' }),
    );
    expect(() => periodOf('1999-12-31', '2024-03-01')).toThrow(
      expect.objectContaining({ code: 'request.validation' }),
    );
    expect(periodOf('2024-02-29', '2024-02-29').from).toBe('2024-02-29');
  });
});

describe('report CSV', () => {
  it('quotes what needs quoting and defuses spreadsheet formulas', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a, b')).toBe('"a, b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField(' padded')).toBe('" padded"');
    expect(csvField('=1+1')).toBe("'=1+1");
    expect(csvField('-5')).toBe("'-5");
    expect(csvField(12)).toBe('12');
    expect(csvField(null)).toBe('');
    expect(csvField(SMALL_CELL)).toBe('<5');
  });

  it('starts with a byte-order mark and ends lines with CRLF', () => {
    expect(
      csvDocument([
        ['a', 'b'],
        [1, 2],
      ]),
    ).toBe('\uFEFFa,b\r\n1,2\r\n');
  });

  it('has bilingual headings and one line per value, aligned by category across periods', () => {
    const a = flattenReport(buildProtectedReport(counts({}), null));
    const b = [...a].reverse();
    const text = reportCsv(['nam_2026 / year_2026', 'nam_2025 / year_2025'], [], [a, b]);
    const lines = text.slice(1).split('\r\n');
    expect(lines[0]).toBe(
      'bang / table,ma / code,hang_muc / category,nam_2026 / year_2026,nam_2025 / year_2025',
    );
    expect(lines).toContain('nhom_tuoi / age_group,0-5,0–5 tuổi / 0–5 years,0,0');
    expect(lines).toContain(
      'loai_bao_luc_gbvims / gbv_type,denial_of_resources_opportunities_or_services,' +
        '"Ngăn cản tiếp cận nguồn lực, cơ hội hoặc dịch vụ / Denial of resources, opportunities or services",0,0',
    );
  });
});

describe('rows of two periods', () => {
  it('keeps a category only the later period has (a commune that has since moved), within its table', () => {
    const breakdown = { level: 'commune' as const, units: COMMUNES };
    const now = flattenReport(buildProtectedReport(communeCounts({ '00145': 12, '00118': 8 }), breakdown));
    const before = flattenReport(
      buildProtectedReport(communeCounts({ '00145': 12, '00118': 8, '09999': 6 }), breakdown),
    );
    const rows = unionRows([now, before]);
    expect(rows.map(rowKey)).toEqual(expect.arrayContaining(before.map(rowKey)));
    expect(new Set(rows.map(rowKey)).size).toBe(rows.length);
    const at = rows.findIndex((r) => r.code === '09999');
    expect(rows[at].table.path).toBe(rows[at - 1].table.path); // after the other communes, not at the end
    const csv = reportCsv(['nam_2026 / year_2026', 'nam_2025 / year_2025'], [], [now, before]);
    const line = csv.split('\r\n').find((l) => l.includes(',09999,'));
    expect(line).toMatch(/,,6$/); // no value this year, 6 the year before
  });
});

describe('report SQL', () => {
  it('reads no encrypted column and no blind index', () => {
    expect(REPORT_COUNTS_SQL).not.toMatch(/enc_|bi_|\bc\.\*|SELECT \*/);
  });
});
