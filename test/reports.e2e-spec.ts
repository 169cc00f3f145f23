import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { clockBehind } from './support/clock';
import { DataKeyService } from '../src/crypto';
import { DataSource } from 'typeorm';
import { periodOf } from '../src/reports/report-period';
import { ReportsRepository } from '../src/reports/reports.repository';
import type { TestApp } from './support/app';
import { caseBody, DEMO_PASSWORD, organizationId, signInAll, startDemoApp, Tokens } from './support/casework';
import { statementsDuring } from './support/statements';

// Anonymised statistics (issue 7, docs/reports.md) on known data: cases are written straight into the
// plaintext triage columns (their encrypted sections left empty) so that dates, ages and categories are
// exactly as the test needs them; one group goes through the API and is crypto-shredded.
describe('reports (end to end)', () => {
  let t: TestApp;
  let tok: Tokens;
  let ds: DataSource;
  let creator: string;
  const orgs: Record<'police' | 'health' | 'social', string> = { police: '', health: '', social: '' };
  const http = () => request(t.app.getHttpServer());
  const get = (user: string, url: string) => http().get(url).set('Authorization', `Bearer ${tok[user]}`);
  /** What a report of `from`–`to` over an area counts, before protection, judged now. */
  const rawCounts = async (
    area: { provinceCode: string | null; wardCode: string | null },
    from: string,
    to: string,
  ) => (await t.app.get(ReportsRepository).counts(ds.manager, [periodOf(from, to)], area, new Date()))[0];
  /**
   * The referrals a report of `from`–`to` over an area counts, before protection (a report of fewer than 5
   * cases publishes none of its referral figures).
   */
  const referralsCounted = async (
    area: { provinceCode: string | null; wardCode: string | null },
    from: string,
    to: string,
  ): Promise<number> => {
    const raw = await rawCounts(area, from, to);
    return Object.values(raw.referrals).reduce(
      (sum, byStatus) => sum + Object.values(byStatus).reduce((a, b) => a + b, 0),
      0,
    );
  };
  /** The summary of `from`–`to` (the caller's area), answered 200. */
  const summary = (user: string, from: string, to: string) =>
    get(user, `/api/v1/reports/summary?from=${from}&to=${to}`).expect(200);

  const PROVINCE: Record<string, string> = { '00145': '01', '00118': '01', '00127': '01', '10507': '31' };
  let n = 0;

  interface CaseSpec {
    ward: string;
    reportedAt: string;
    gbvType?: string;
    forms?: string[];
    sex?: string;
    ageGroup?: string;
    channel?: string;
  }

  async function insertCase(c: CaseSpec): Promise<string> {
    const id = randomUUID();
    const age = c.ageGroup ?? '18-59';
    const under16 = age === 'unknown' ? null : ['0-5', '6-11', '12-15'].includes(age);
    const under18 = age === 'unknown' ? null : under16 || age === '16-17';
    n++;
    await ds.query(
      `INSERT INTO cases (id, code, ward_code, province_code, reported_at, report_channel, risk_level, survivor_sex,
                          age_group, child_vn, child_gbvims, gbv_type, forms, created_by)
       VALUES ($1, $2, $3, $4, $5, $6, 'high', $7, $8, $9, $10, $11, $12, $13)`,
      [
        id,
        `HVTEST-${PROVINCE[c.ward]}-${n}`,
        c.ward,
        PROVINCE[c.ward],
        c.reportedAt,
        c.channel ?? 'walk_in',
        c.sex ?? 'female',
        age,
        under16,
        under18,
        c.gbvType ?? 'physical_assault',
        c.forms ?? ['physical'],
        creator,
      ],
    );
    return id;
  }

  async function insertReferral(
    caseId: string,
    org: string,
    status: 'pending' | 'accepted' | 'declined',
    createdAt: string,
    opts: { acceptedAfterHours?: number; dueAt?: string } = {},
  ): Promise<void> {
    const consentId = randomUUID();
    await ds.query(
      `INSERT INTO consents (id, case_id, organization_id, categories, given_by, created_by, created_at)
       VALUES ($1, $2, $3, '{identity}', 'survivor', $4, $5)`,
      [consentId, caseId, org, creator, createdAt],
    );
    const created = new Date(createdAt);
    const acceptedAt =
      opts.acceptedAfterHours === undefined
        ? null
        : new Date(created.getTime() + opts.acceptedAfterHours * 3600 * 1000).toISOString();
    await ds.query(
      `INSERT INTO referrals (id, case_id, organization_id, consent_id, services, urgency, status, due_at,
                              accepted_at, declined_at, created_by, created_at)
       VALUES ($1, $2, $3, $4, '{other}', 'routine', $5, $6, $7, $8, $9, $10)`,
      [
        randomUUID(),
        caseId,
        org,
        consentId,
        status,
        opts.dueAt ?? new Date(created.getTime() + 12 * 3600 * 1000).toISOString(),
        acceptedAt,
        status === 'declined' ? createdAt : null,
        creator,
        createdAt,
      ],
    );
  }

  const MID_MARCH = '2024-03-15T10:00:00+07:00';
  const MARCH = '/api/v1/reports/summary?from=2024-03-01&to=2024-03-31';

  beforeAll(async () => {
    t = await startDemoApp();
    ds = t.app.get(DataSource);
    tok = await signInAll(t, [
      'admin',
      'ward.longbien',
      'police.longbien',
      'supervisor.hanoi',
      'supervisor.haiphong',
    ]);
    [{ id: creator }] = await ds.query(`SELECT id FROM users WHERE username = 'ward.longbien'`);
    orgs.police = await organizationId(t, tok['ward.longbien'], 'Công an phường Long Biên');
    orgs.health = await organizationId(t, tok['ward.longbien'], 'Trạm y tế phường Long Biên');
    orgs.social = await organizationId(t, tok['ward.longbien'], 'Trung tâm Công tác xã hội Hà Nội');

    // March 2024, Hà Nội: 20 cases. Communes 00145 ×12, 00118 ×6, 00127 ×2; physical assault ×10,
    // psychological abuse ×7, rape ×3; aged 12-15 ×6, 18-59 ×14; walk-in ×10, phone ×5, hotline ×5 (two of
    // them on the first and last instant of the month); all physical, 8 also psychological.
    const march: string[] = [];
    for (let i = 0; i < 20; i++) {
      const reportedAt =
        i === 15 ? '2024-03-01T00:00:00+07:00' : i === 16 ? '2024-03-31T23:59:59.999+07:00' : MID_MARCH;
      march.push(
        await insertCase({
          ward: i < 12 ? '00145' : i < 18 ? '00118' : '00127',
          reportedAt,
          gbvType: i < 10 ? 'physical_assault' : i < 17 ? 'psychological_emotional_abuse' : 'rape',
          ageGroup: i >= 14 ? '12-15' : '18-59',
          channel: i < 10 ? 'walk_in' : i < 15 ? 'phone' : 'hotline_111',
          forms: i < 8 ? ['physical', 'psychological'] : ['physical'],
        }),
      );
    }
    // Just outside March (Vietnam time): not counted, nor the referral of the first, though made in March.
    const february = await insertCase({
      ward: '00145',
      reportedAt: '2024-02-29T23:59:59+07:00',
      channel: 'hotline_111',
    });
    await insertCase({ ward: '00145', reportedAt: '2024-04-01T00:00:00+07:00', channel: 'hotline_111' });
    // Hải Phòng, March 2024: 4 cases, never in Hà Nội's figures.
    for (let i = 0; i < 4; i++) await insertCase({ ward: '10507', reportedAt: MID_MARCH, gbvType: 'rape' });

    // Referrals of the March cases: police accepted 6 (after 1..6 hours), health declined 2, social 5 pending
    // past their deadline.
    const sent = '2024-03-15T04:00:00Z';
    for (let i = 0; i < 6; i++)
      await insertReferral(march[i], orgs.police, 'accepted', sent, { acceptedAfterHours: i + 1 });
    for (let i = 6; i < 8; i++) await insertReferral(march[i], orgs.health, 'declined', sent);
    for (let i = 8; i < 13; i++) {
      await insertReferral(march[i], orgs.social, 'pending', sent, { dueAt: '2024-03-16T04:00:00Z' });
    }
    await insertReferral(february, orgs.police, 'accepted', sent, { acceptedAfterHours: 1 });

    // Action Month 2024 (15 Nov – 15 Dec) in 00118: 8 cases, two on its first and last instant; two just
    // outside it. Action Month 2023: 3 cases.
    for (const at of ['2024-11-15T00:00:00+07:00', '2024-12-15T23:59:59+07:00']) {
      await insertCase({ ward: '00118', reportedAt: at });
    }
    for (let i = 0; i < 6; i++) await insertCase({ ward: '00118', reportedAt: '2024-11-25T09:00:00+07:00' });
    for (const at of ['2024-11-14T23:59:59+07:00', '2024-12-16T00:00:00+07:00']) {
      await insertCase({ ward: '00118', reportedAt: at });
    }
    for (let i = 0; i < 3; i++) await insertCase({ ward: '00118', reportedAt: '2023-12-01T09:00:00+07:00' });
  });

  afterAll(async () => {
    await t?.close();
  });

  describe('summary', () => {
    it('gives exact counts of 5 and more, "<5" for 1-4 and "suppressed" for the complementary cell', async () => {
      const res = await get('supervisor.hanoi', MARCH).expect(200);
      const { cases, referrals } = res.body;
      expect(res.body).toMatchObject({
        report: 'summary',
        period: { from: '2024-03-01', to: '2024-03-31', timeZone: 'Asia/Ho_Chi_Minh', basis: 'reported_at' },
        area: { level: 'province', provinceCode: '01', wardCode: null, nameVi: 'Thành phố Hà Nội' },
        protection: { threshold: 5, smallCell: '<5', complementary: 'suppressed' },
      });
      expect(cases.total).toBe(20);
      expect(cases.byGbvType).toEqual({
        rape: '<5',
        sexual_assault: 0,
        // The complement: the first non-zero type in the table's order, whatever its value (10, beside a 7).
        physical_assault: 'suppressed',
        forced_marriage: 0,
        denial_of_resources_opportunities_or_services: 0,
        psychological_emotional_abuse: 7,
        non_gbv: 0,
      });
      expect(cases.byForm).toEqual({ physical: 20, psychological: 8, sexual: 0, economic: 0 });
      expect(cases.bySex).toEqual({ female: 20, male: 0, other: 0, unknown: 0 });
      expect(cases.byAgeGroup).toEqual({
        '0-5': 0,
        '6-11': 0,
        '12-15': 6,
        '16-17': 0,
        '18-59': 14,
        '60+': 0,
        unknown: 0,
      });
      expect(cases.children).toEqual({ under16: 6, under18: 6 });
      expect(cases.byReportChannel).toMatchObject({ walk_in: 10, phone: 5, hotline_111: 5, police: 0 });
      const communes = Object.fromEntries(
        cases.byCommune.map((c: { code: string; count: unknown }) => [c.code, c.count]),
      );
      expect(communes).toEqual({
        '00004': 0,
        '00070': 0,
        '00118': 'suppressed',
        '00127': '<5',
        '00136': 0,
        '00145': 12,
      });
      expect(cases.byCommune.find((c: { code: string }) => c.code === '00145')).toMatchObject({
        nameVi: 'Phường Long Biên',
        nameEn: 'Long Bien Ward',
      });
      expect(cases).not.toHaveProperty('byProvince');

      expect(referrals).toMatchObject({
        total: 13,
        // 13 = police + health + 5: police, first in order, goes with health (model spec: the same data).
        bySector: { police: 'suppressed', health: '<5', social: 5, shelter: 0 },
        byStatus: { accepted: 6, declined: '<5', pending: 'suppressed', completed: 0, revoked: 0 },
        overdue: 5,
        // The rate would give the declined count away; the hours rest on 6 acceptances.
        acceptanceRate: 'suppressed',
        hoursToAccept: { median: 3.5, p90: 5.5 },
      });
      expect(referrals.bySectorAndStatus.police).toMatchObject({ accepted: 'suppressed' });
      expect(referrals.bySectorAndStatus.health).toMatchObject({ declined: '<5' });
      expect(referrals.bySectorAndStatus.social).toMatchObject({ pending: 5 });
      expect(JSON.stringify(res.body)).not.toMatch(/HVTEST/);
    });

    it('judges "overdue" and its generation time by the database\'s clock, whatever the instance\'s says', async () => {
      // Hải Phòng, June 2025: 5 cases, each with a referral pending past its deadline by a minute, by the
      // database's clock.
      const [{ now }] = await ds.query<{ now: Date }[]>(`SELECT now() AS now`);
      for (let i = 0; i < 5; i++) {
        const id = await insertCase({ ward: '10507', reportedAt: '2025-06-10T10:00:00+07:00' });
        await insertReferral(id, orgs.social, 'pending', '2025-06-10T04:00:00Z', {
          dueAt: new Date(now.getTime() - 60_000).toISOString(),
        });
      }
      clockBehind(3 * 3_600_000); // this instance's clock three hours behind the database's
      try {
        const res = await summary('supervisor.haiphong', '2025-06-01', '2025-06-30');
        expect(res.body.referrals.overdue).toBe(5);
        const [{ now: after }] = await ds.query<{ now: Date }[]>(`SELECT now() AS now`);
        expect(Math.abs(Date.parse(res.body.generatedAt) - after.getTime())).toBeLessThan(60_000);
      } finally {
        jest.useRealTimers();
      }
    });

    it('counts a case on the first and the last instant of the period (Vietnam time) and none outside it', async () => {
      // The hotline cases: 3 mid-month + 1 at 2024-03-01 00:00 +07 + 1 at 2024-03-31 23:59:59.999 +07 = 5;
      // the two just outside (29 Feb 23:59:59 and 1 Apr 00:00) would make 6 or 7.
      const res = await get('supervisor.hanoi', `${MARCH}&ward=00145`).expect(200);
      expect(res.body.area).toMatchObject({ level: 'commune', provinceCode: '01', wardCode: '00145' });
      expect(res.body.cases.total).toBe(12);
      const all = await get('supervisor.hanoi', MARCH).expect(200);
      expect(all.body.cases.byReportChannel.hotline_111).toBe(5);
      // One day less at each end loses the two edge cases.
      const inner = await get(
        'supervisor.hanoi',
        '/api/v1/reports/summary?from=2024-03-02&to=2024-03-30',
      ).expect(200);
      expect(inner.body.cases.total).toBe(18);
    });

    it("counts a case's referrals in its commune and its report period, whenever they were made", async () => {
      // March's 13 referrals: 12 of cases in 00145 (police 6, health 2, social 4), 1 of a case in 00118. The
      // February case's referral, made in March, is in neither.
      const longBien = await get('supervisor.hanoi', `${MARCH}&ward=00145`).expect(200);
      expect(longBien.body.referrals).toMatchObject({
        total: 12,
        bySector: { police: 6, health: '<5', social: '<5', shelter: 0 },
        byStatus: { accepted: 6, declined: '<5', pending: '<5' },
      });
      // Published because they are the referrals of 5 cases or more (the report counts those cases too).
      const raw = await rawCounts({ provinceCode: '01', wardCode: '00145' }, '2024-03-01', '2024-03-31');
      const [{ n: referred }] = await ds.query<{ n: number }[]>(
        `SELECT count(DISTINCT case_id)::int AS n FROM referrals
          WHERE case_ward_code = '00145' AND case_reported_at >= '2024-03-01T00:00+07' AND case_reported_at < '2024-04-01T00:00+07'`,
      );
      expect(raw.referredCases).toBe(referred);
      expect(referred).toBeGreaterThanOrEqual(5);
      // Bồ Đề's few cases in March (a total not shown): none of their referral figures is published, 1 is counted.
      const bo = await get('supervisor.hanoi', `${MARCH}&ward=00118`).expect(200);
      expect(['<5', 'suppressed']).toContain(bo.body.cases.total);
      expect(bo.body.referrals.total).toBe('withheld');
      expect(
        await referralsCounted({ provinceCode: '01', wardCode: '00118' }, '2024-03-01', '2024-03-31'),
      ).toBe(1);
      const feb = await summary('supervisor.hanoi', '2024-02-01', '2024-02-29');
      expect(feb.body.referrals.total).toBe('withheld');
      expect(await referralsCounted({ provinceCode: '01', wardCode: null }, '2024-02-01', '2024-02-29')).toBe(
        1,
      );
      expect(await referralsCounted({ provinceCode: '01', wardCode: null }, '2024-04-01', '2024-04-30')).toBe(
        0,
      );
    });

    it('publishes no referral figure when the referrals counted are those of fewer than 5 cases, the cases shown', async () => {
      // Six cases in Việt Hưng in August 2020; one survivor referred six times, the others not at all.
      const cases: string[] = [];
      for (let i = 0; i < 6; i++)
        cases.push(await insertCase({ ward: '00127', reportedAt: '2020-08-10T09:00:00+07:00' }));
      await insertReferral(cases[0], orgs.police, 'accepted', '2020-08-10T03:00:00Z', {
        acceptedAfterHours: 2,
      });
      for (const org of [orgs.police, orgs.police, orgs.health, orgs.health, orgs.social])
        await insertReferral(cases[0], org, 'declined', '2020-08-11T03:00:00Z');
      const area = { provinceCode: '01', wardCode: '00127' };
      const raw = await rawCounts(area, '2020-08-01', '2020-08-31');
      expect(raw.referredCases).toBe(1);
      expect(await referralsCounted(area, '2020-08-01', '2020-08-31')).toBe(6);
      const res = await get(
        'supervisor.hanoi',
        '/api/v1/reports/summary?from=2020-08-01&to=2020-08-31&ward=00127',
      ).expect(200);
      expect(res.body.cases.total).toBe(6);
      const referralFigures = JSON.stringify(res.body.referrals).match(/:(\d+|"[^"]*")/g) ?? [];
      expect(referralFigures.length).toBeGreaterThan(20);
      expect(new Set(referralFigures)).toEqual(new Set([':"withheld"']));
    });

    it('counts a live referral whose consent has ended as revoked, swept or not, and the cases behind the statistics', async () => {
      const caseId = await insertCase({ ward: '00127', reportedAt: '2019-05-10T09:00:00+07:00' });
      await insertReferral(caseId, orgs.police, 'pending', '2019-05-10T03:00:00Z', {
        dueAt: '2019-05-11T03:00:00Z',
      });
      await insertReferral(caseId, orgs.health, 'accepted', '2019-05-10T03:00:00Z', {
        acceptedAfterHours: 1,
      });
      const other = await insertCase({ ward: '00127', reportedAt: '2019-05-12T09:00:00+07:00' });
      await insertReferral(other, orgs.social, 'declined', '2019-05-12T03:00:00Z');
      // The first case's consents end; no sweep has run (the report's own runs before it counts).
      await ds.query(`UPDATE consents SET expires_at = '2019-06-01T00:00:00Z' WHERE case_id = $1`, [caseId]);
      const raw = await rawCounts({ provinceCode: '01', wardCode: '00127' }, '2019-05-01', '2019-05-31');
      expect(raw.referrals).toEqual({
        police: { revoked: 1 },
        health: { revoked: 1 },
        social: { declined: 1 },
      });
      expect(raw.overdue).toBe(0);
      // The acceptance rate's referrals (accepted, completed, declined) are of one case; those ever accepted too.
      expect(raw.answeredCases).toBe(1);
      expect(raw.hoursToAccept).toMatchObject({ n: 1, cases: 1, median: 1 });
    });

    it('counts a case once per form of violence, even if its row names the form twice', async () => {
      for (let i = 0; i < 5; i++) {
        await insertCase({
          ward: '00145',
          reportedAt: '2021-07-10T09:00:00+07:00',
          forms: i < 2 ? ['sexual', 'sexual', 'physical'] : ['sexual'],
        });
      }
      const res = await summary('supervisor.hanoi', '2021-07-01', '2021-07-31');
      expect(res.body.cases.total).toBe(5);
      expect(res.body.cases.byForm).toEqual({ physical: '<5', psychological: 0, sexual: 5, economic: 0 });
    });

    it('keeps each supervisor in their jurisdiction', async () => {
      const hp = await get('supervisor.haiphong', MARCH).expect(200);
      expect(hp.body.area).toMatchObject({ level: 'province', provinceCode: '31' });
      expect(hp.body.cases.total).toBe('<5');
      expect(hp.body.cases.byCommune.map((c: { code: string }) => c.code)).toEqual([
        '10507',
        '10525',
        '10532',
      ]);

      const refused = await get('supervisor.haiphong', `${MARCH}&province=01`).expect(403);
      expect(refused.body.code).toBe('auth.forbidden');
      expect(refused.headers['content-type']).toMatch(/application\/problem\+json/);
      await get('supervisor.hanoi', `${MARCH}&ward=10507`).expect(403);
      await get('supervisor.hanoi', `${MARCH}&province=31`).expect(403);
      // Another province is refused (403, on record) whatever the period asked, a wrong one included: not
      // answered with a 400 about the period and left off the record.
      const backwards = await get(
        'supervisor.haiphong',
        '/api/v1/reports/summary?province=01&from=2026-03-10&to=2026-03-01',
      ).expect(403);
      const nextYear = await get(
        'supervisor.haiphong',
        '/api/v1/reports/action-month?province=01&year=2099',
      ).expect(403);
      for (const res of [backwards, nextYear]) {
        const [entry] = await ds.query(
          `SELECT action, outcome, reason FROM audit_events WHERE request_id = $1`,
          [res.headers['x-request-id']],
        );
        expect(entry).toEqual({ action: 'report.read', outcome: 'denied', reason: 'auth.forbidden' });
      }
      // In the caller's own area, the period's rules answer as before.
      await get('supervisor.haiphong', '/api/v1/reports/summary?from=2026-03-10&to=2026-03-01').expect(400);
      // A day written otherwise, and one that does not exist: one refusal that says what a day is.
      for (const from of ['01-03-2026', '2026-02-30']) {
        const wrong = await get('supervisor.haiphong', `/api/v1/reports/summary?from=${from}`).expect(400);
        expect(wrong.body.errors).toEqual([
          expect.objectContaining({ field: 'from', message: 'must be a date that exists, YYYY-MM-DD' }),
        ]);
      }

      // Hà Nội's figures never include Hải Phòng's 4 rape cases.
      const hn = await get('supervisor.hanoi', MARCH).expect(200);
      expect(hn.body.cases.byGbvType.rape).toBe('<5');
      expect(hn.body.cases.total).toBe(20);
    });

    it('gives admins the national totals only, with no breakdown by area', async () => {
      const res = await get('admin', MARCH).expect(200);
      expect(res.body.area).toMatchObject({ level: 'national', provinceCode: null, wardCode: null });
      expect(res.body.cases.total).toBe(24);
      expect(res.body.cases.byGbvType.rape).toBe(7);
      expect(res.body.cases).not.toHaveProperty('byProvince');
      expect(res.body.cases).not.toHaveProperty('byCommune');
      await get('admin', `${MARCH}&province=01`).expect(403);
      await get('admin', `${MARCH}&ward=00145`).expect(403);
    });

    it('gives admins whole months only (no single day by differencing two reports); supervisors any days', async () => {
      const cut = await get('admin', '/api/v1/reports/summary?from=2024-03-01&to=2024-03-15')
        .set('Accept-Language', 'vi')
        .expect(400);
      expect(cut.body.errors).toEqual([
        expect.objectContaining({
          field: 'to',
          message: 'báo cáo của quản trị viên gồm các tháng trọn vẹn: từ ngày đầu tháng đến ngày cuối tháng',
        }),
      ]);
      const late = await get('admin', '/api/v1/reports/summary?from=2024-03-02&to=2024-03-31').expect(400);
      expect(late.body.errors[0].field).toBe('from');
      // Each refusal of a finer period is on record (a try at single days by differencing shows there).
      expect(
        await ds.query(
          `SELECT outcome, reason, province_code FROM audit_events WHERE action = 'report.read'
            AND request_id = ANY($1) ORDER BY seq`,
          [[cut.headers['x-request-id'], late.headers['x-request-id']]],
        ),
      ).toEqual([
        { outcome: 'denied', reason: 'request.validation', province_code: null },
        { outcome: 'denied', reason: 'request.validation', province_code: null },
      ]);
      // Whole months, several or across a leap February: fine.
      await get('admin', '/api/v1/reports/summary?from=2024-01-01&to=2024-02-29').expect(200);
      await get('admin', '/api/v1/reports/summary?from=2023-02-01&to=2023-02-28').expect(200);
      await get('admin', '/api/v1/reports/summary?from=2023-02-01&to=2023-02-29').expect(400);
      // By default the year up to the last whole month (Vietnam time).
      const byDefault = await get('admin', '/api/v1/reports/summary').expect(200);
      const today = new Date(Date.now() + 7 * 3600_000).toISOString().slice(0, 10);
      const monthStart = `${today.slice(0, 7)}-01`;
      const lastWhole = new Date(Date.parse(`${monthStart}T00:00:00Z`) - 86400_000)
        .toISOString()
        .slice(0, 10);
      expect(byDefault.body.period).toMatchObject({ from: `${lastWhole.slice(0, 4)}-01-01`, to: lastWhole });
      await get('supervisor.hanoi', '/api/v1/reports/summary?from=2024-03-02&to=2024-03-15').expect(200);
      // Months that are over only (this one would change day by day); an Action Month that is over.
      const thisMonth = await get('admin', `/api/v1/reports/summary?from=${monthStart}&to=2100-12-31`).expect(
        400,
      );
      expect(thisMonth.body.errors[0].field).toBe('to');
      await get('admin', '/api/v1/reports/action-month?year=2024').expect(200);
      // Without a year: the last Action Month that is over (not this year's while it runs).
      const lastOver = await get('admin', '/api/v1/reports/action-month').expect(200);
      const vnToday = new Date(Date.now() + 7 * 3600_000).toISOString().slice(0, 10);
      const thisYear = Number(vnToday.slice(0, 4));
      expect(lastOver.body.year).toBe(vnToday > `${thisYear}-12-15` ? thisYear : thisYear - 1);
    });

    it('gives a national supervisor every province, protected', async () => {
      await ds.query(`UPDATE users SET province_code = NULL WHERE username = 'supervisor.haiphong'`);
      try {
        const res = await get('supervisor.haiphong', MARCH).expect(200);
        expect(res.body.area.level).toBe('national');
        const provinces = Object.fromEntries(
          res.body.cases.byProvince.map((p: { code: string; count: unknown }) => [p.code, p.count]),
        );
        // 31 has 4 cases ("<5"); 01's 20 would give it away from the total of 24.
        expect(provinces).toEqual({ '01': 'suppressed', '11': 0, '31': '<5' });
        expect(res.body.cases.total).toBe(24);
        await get('supervisor.haiphong', `${MARCH}&ward=00145`).expect(200);
      } finally {
        await ds.query(`UPDATE users SET province_code = '31' WHERE username = 'supervisor.haiphong'`);
      }
    });

    it('refuses everyone else with 403, and records every refusal and every read in the access log', async () => {
      for (const user of ['ward.longbien', 'police.longbien']) {
        const res = await get(user, MARCH).expect(403);
        expect(res.body.code).toBe('auth.forbidden');
        expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
      }
      await http().get(MARCH).expect(401);
      await get('supervisor.haiphong', `${MARCH}&province=01`).expect(403);
      await get('supervisor.hanoi', MARCH).expect(200);

      const events: { username: string; outcome: string; province_code: string | null; fields: string[] }[] =
        await ds.query(
          `SELECT u.username, e.outcome, e.province_code, e.fields
             FROM audit_events e JOIN users u ON u.id = e.actor_id
            WHERE e.action = 'report.read' AND e.resource_type = 'report'
            ORDER BY e.seq DESC LIMIT 4`,
        );
      expect(events).toEqual([
        { username: 'supervisor.hanoi', outcome: 'allowed', province_code: '01', fields: ['triage'] },
        { username: 'supervisor.haiphong', outcome: 'denied', province_code: '01', fields: [] },
        { username: 'police.longbien', outcome: 'denied', province_code: null, fields: [] },
        { username: 'ward.longbien', outcome: 'denied', province_code: null, fields: [] },
      ]);
    });

    it('refusals arriving together, more than the pool has connections, are each a 403 on record', async () => {
      // Each refusal is written once its report's transaction has ended: one writing it while holding its
      // connection would need a second, and as many refusals as the pool has connections would wait for ever.
      const before = await ds.query(
        `SELECT count(*)::int AS n FROM audit_events WHERE action = 'report.read' AND outcome = 'denied'`,
      );
      const refused = await Promise.all(
        Array.from({ length: t.config.database.poolSize + 3 }, () =>
          get('supervisor.haiphong', `${MARCH}&province=01`),
        ),
      );
      expect(refused.map((r) => r.status)).toEqual(refused.map(() => 403));
      const after = await ds.query(
        `SELECT count(*)::int AS n FROM audit_events WHERE action = 'report.read' AND outcome = 'denied'`,
      );
      expect(after[0].n - before[0].n).toBe(refused.length);
    });

    it('validates dates and codes with 400 problems', async () => {
      const cases: [string, string][] = [
        ['from=2024-02-30', 'from'],
        ['from=2024-04-01&to=2024-03-01', 'to'],
        ['from=01-03-2024', 'from'],
        ['to=1999-12-31', 'to'],
        ['province=1', 'province'],
        ['province=99', 'province'],
        ['ward=abc', 'ward'],
        ['ward=99999', 'ward'],
        ['province=01&ward=10507', 'ward'],
        // A parameter no route declares or shows is named `?` (a key could be a person's name); one the API
        // declares or shows elsewhere is named.
        ['format=csv', 'format'],
        ['NguyenThiLan=1', '?'],
        ['caseId=0a000000-0000-4000-8000-000000000001', 'caseId'],
      ];
      for (const [query, field] of cases) {
        const res = await get('supervisor.hanoi', `/api/v1/reports/summary?${query}`).expect(400);
        expect(res.body.code).toBe('request.validation');
        expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
      }
      const vi = await get('supervisor.hanoi', '/api/v1/reports/summary?province=01&ward=10507')
        .set('Accept-Language', 'vi')
        .expect(400);
      expect(vi.body.errors[0].message).toBe('không thuộc tỉnh/thành phố đã chọn');
    });

    it('counts cases whose content was crypto-shredded: it never reads case content', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const res = await http()
          .post('/api/v1/cases')
          .set('Authorization', `Bearer ${tok['ward.longbien']}`)
          .send(caseBody({ reportedAt: '2025-06-10T09:00:00+07:00' }))
          .expect(201);
        ids.push(res.body.id);
      }
      for (const id of ids) {
        await http()
          .post(`/api/v1/cases/${id}/shred`)
          .set('Authorization', `Bearer ${tok.admin}`)
          .send({ password: DEMO_PASSWORD })
          .expect(200);
      }
      // No key is looked at and no ciphertext read while the report is made.
      const keys = t.app.get(DataKeyService);
      const looked = [jest.spyOn(keys, 'get'), jest.spyOn(keys, 'unwrap')];
      let res;
      try {
        let statements: string[];
        ({ result: res, statements } = await statementsDuring(() =>
          get('supervisor.hanoi', '/api/v1/reports/summary?from=2025-06-01&to=2025-06-30').expect(200),
        ));
        for (const spy of looked) expect(spy).not.toHaveBeenCalled();
        expect(statements.some((q) => /FROM cases/.test(q))).toBe(true);
        expect(statements.filter((q) => /\benc_\w+|\bdata_keys\b/.test(q))).toEqual([]);
      } finally {
        for (const spy of looked) spy.mockRestore();
      }
      expect(res.body.cases).toMatchObject({
        total: 5,
        byGbvType: { physical_assault: 5 },
        bySex: { female: 5 },
      });
    });
  });

  describe('Action Month', () => {
    it('covers 15 November – 15 December inclusive and compares with the year before, both protected', async () => {
      const res = await get('supervisor.hanoi', '/api/v1/reports/action-month?year=2024').expect(200);
      // The summary's shape (api-contract: "the same for 15 Nov–15 Dec"), the year before alongside.
      expect(res.body).toMatchObject({ report: 'action_month', year: 2024 });
      expect(res.body.period).toMatchObject({ from: '2024-11-15', to: '2024-12-15' });
      const summary = await get(
        'supervisor.hanoi',
        '/api/v1/reports/summary?from=2024-11-15&to=2024-12-15',
      ).expect(200);
      for (const key of Object.keys(summary.body).filter((k) => k !== 'report' && k !== 'generatedAt')) {
        expect(res.body[key]).toEqual(summary.body[key]);
      }
      expect(res.body.previous.period).toMatchObject({ from: '2023-11-15', to: '2023-12-15' });
      // 6 inside + the first and the last instant; not the two just outside.
      expect(res.body.cases.total).toBe(8);
      expect(res.body.previous.cases.total).toBe('<5');
      const row = (table: string, code: string) =>
        res.body.comparison.find(
          (r: { table: string; code: string }) => r.table === table && r.code === code,
        );
      expect(row('cases.total', 'total')).toMatchObject({ current: 8, previous: '<5', labelVi: 'Tổng số' });
      expect(row('cases.byGbvType', 'physical_assault')).toMatchObject({ current: 8, previous: '<5' });
      expect(row('cases.byGbvType', 'rape')).toMatchObject({ current: 0, previous: '<5' });
      expect(row('cases.byCommune', '00118')).toMatchObject({ current: 8, previous: '<5' });
      expect(res.body.comparison.length).toBeGreaterThan(60);
    });

    it('checks the year', async () => {
      // Not a number: said once, as such (not also "too small" and "too large").
      const word = await get('supervisor.hanoi', '/api/v1/reports/action-month?year=abc').expect(400);
      expect(word.body.errors).toEqual([
        expect.objectContaining({ field: 'year', code: 'isInt', message: 'must be an integer' }),
      ]);
      await get('supervisor.hanoi', '/api/v1/reports/action-month?year=2.024e3').expect(400);
      // Out of range: the bound is said, in both languages.
      const early = await get('supervisor.hanoi', '/api/v1/reports/action-month?year=1999').expect(400);
      expect(early.body.errors).toEqual([
        expect.objectContaining({ field: 'year', code: 'min', message: 'must be at least 2001' }),
      ]);
      const inVietnamese = await get('supervisor.hanoi', '/api/v1/reports/action-month?year=2101')
        .set('Accept-Language', 'vi')
        .expect(400);
      expect(inVietnamese.body.errors).toEqual([
        expect.objectContaining({ field: 'year', code: 'max', message: 'không được lớn hơn 2100' }),
      ]);
      const future = await get(
        'supervisor.hanoi',
        `/api/v1/reports/action-month?year=${new Date().getUTCFullYear() + 1}`,
      ).expect(400);
      expect(future.body.errors[0].field).toBe('year');
      await get('supervisor.haiphong', '/api/v1/reports/action-month?year=2024&province=01').expect(403);
      await get('ward.longbien', '/api/v1/reports/action-month?year=2024').expect(403);
    });
  });

  describe('CSV', () => {
    const raw = (req: request.Test) =>
      req.buffer(true).parse((res, cb) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => cb(null, Buffer.concat(chunks)));
      });

    it('answers Accept: text/csv with UTF-8 CSV (BOM, CRLF) and headings in Vietnamese and English', async () => {
      const res = await raw(get('supervisor.hanoi', MARCH).set('Accept', 'text/csv')).expect(200);
      expect(res.headers['content-type']).toMatch(/^text\/csv; charset=utf-8/);
      expect(res.headers['content-disposition']).toBe(
        'attachment; filename="haven-report-01-2024-03-01_2024-03-31.csv"',
      );
      const bytes = res.body as Buffer;
      expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
      const lines = bytes.subarray(3).toString('utf8').split('\r\n');
      expect(lines[0]).toBe('bang / table,ma / code,hang_muc / category,gia_tri / value');
      expect(lines).toContain(
        'thong_tin / info,from,Từ ngày (tính cả ngày này) / From (included),2024-03-01',
      );
      expect(lines).toContain('tong_so_vu_viec / cases_total,total,Tổng số / Total,20');
      expect(lines).toContain('loai_bao_luc_gbvims / gbv_type,rape,Hiếp dâm / Rape,<5');
      expect(lines).toContain(
        'loai_bao_luc_gbvims / gbv_type,psychological_emotional_abuse,' +
          '"Bạo lực tâm lý, tình cảm / Psychological or emotional abuse",7',
      );
      expect(lines).toContain(
        'loai_bao_luc_gbvims / gbv_type,physical_assault,Tấn công thể chất / Physical assault,suppressed',
      );
      expect(lines).toContain('nhom_tuoi / age_group,12-15,12–15 tuổi / 12–15 years,6');
      expect(lines).toContain('xa_phuong / commune,00145,Phường Long Biên / Long Bien Ward,12');
      expect(lines).toContain('xa_phuong / commune,00127,Phường Việt Hưng / Viet Hung Ward,<5');
      expect(lines).toContain('so_gio_den_khi_chap_nhan / hours_to_accept,median,Trung vị / Median,3.5');
      expect(lines.at(-1)).toBe('');
      // Every line has the same four columns (quoted commas do not count).
      for (const line of lines.slice(0, -1)) expect(line.replace(/"[^"]*"/g, '').split(',')).toHaveLength(4);
      // JSON stays the default.
      const json = await get('supervisor.hanoi', MARCH).expect(200);
      expect(json.headers['content-type']).toMatch(/application\/json/);
    });

    it('puts both Action Months side by side', async () => {
      const res = await raw(
        get('supervisor.hanoi', '/api/v1/reports/action-month?year=2024').set('Accept', 'text/csv'),
      ).expect(200);
      const lines = (res.body as Buffer).subarray(3).toString('utf8').split('\r\n');
      expect(lines[0]).toBe(
        'bang / table,ma / code,hang_muc / category,nam_2024 / year_2024,nam_2023 / year_2023',
      );
      expect(lines).toContain('tong_so_vu_viec / cases_total,total,Tổng số / Total,8,<5');
      expect(lines).toContain(
        'thong_tin / info,from,Từ ngày (tính cả ngày này) / From (included),2024-11-15,2023-11-15',
      );
    });
  });

  // The report finds a case's referrals by the copy of the case's place and report date each referral carries
  // (migration ReferralPlaces); the database keeps it right whatever a statement says.
  describe("a referral's copy of its case's place", () => {
    const place = async (caseId: string) =>
      ds.query(
        `SELECT case_province_code AS province, case_ward_code AS ward, case_reported_at AS at
           FROM referrals WHERE case_id = $1`,
        [caseId],
      );

    it('is taken from the case on insert and on any write of it, and follows a change of the case', async () => {
      const caseId = await insertCase({ ward: '00145', reportedAt: '2022-05-10T09:00:00+07:00' });
      await insertReferral(caseId, orgs.police, 'pending', '2022-05-10T03:00:00Z');
      const reported = new Date('2022-05-10T02:00:00Z');
      expect(await place(caseId)).toEqual([{ province: '01', ward: '00145', at: reported }]);

      await ds.query(
        `UPDATE referrals SET case_province_code = '31', case_ward_code = '10507', case_reported_at = now()
          WHERE case_id = $1`,
        [caseId],
      );
      expect(await place(caseId)).toEqual([{ province: '01', ward: '00145', at: reported }]);

      await ds.query(
        `UPDATE cases SET ward_code = '10507', province_code = '31', reported_at = '2022-06-01T09:00:00+07:00'
          WHERE id = $1`,
        [caseId],
      );
      expect(await place(caseId)).toEqual([
        { province: '31', ward: '10507', at: new Date('2022-06-01T02:00:00Z') },
      ]);
      expect(await referralsCounted({ provinceCode: '31', wardCode: null }, '2022-06-01', '2022-06-30')).toBe(
        1,
      );
      expect(await referralsCounted({ provinceCode: '01', wardCode: null }, '2022-05-01', '2022-05-31')).toBe(
        0,
      );
      const may = await summary('supervisor.hanoi', '2022-05-01', '2022-05-31');
      expect(may.body.referrals.total).toBe(0);
    });

    it('refuses a referral of a case that does not exist', async () => {
      await expect(
        ds.query(
          `INSERT INTO referrals (id, case_id, organization_id, consent_id, services, urgency, due_at, created_by)
           VALUES ($1, $2, $3, $4, '{other}', 'routine', now(), $5)`,
          [randomUUID(), randomUUID(), orgs.police, randomUUID(), creator],
        ),
      ).rejects.toMatchObject({ driverError: { code: '23503' } });
    });
  });
});
