import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { AuditService } from '../src/audit/audit.service';
import { ConsentExpiryService } from '../src/consents/consent-expiry.service';
import { sealSections } from '../src/cases/case-sections';
import { CasesRepository } from '../src/cases/cases.repository';
import { CASE_OWNER } from '../src/cases/cases.service';
import { BlindIndexService, DataKeyService, FieldEncryptionService } from '../src/crypto';
import { OrganizationsRepository } from '../src/directory/organizations.repository';
import { LoginThrottleService } from '../src/identity/login-throttle.service';
import type { TestApp } from './support/app';
import {
  caseBody,
  DEMO_PASSWORD,
  giveConsent,
  organizationId,
  refer as referTo,
  signInAll,
  startDemoApp,
  Tokens,
} from './support/casework';
import {
  codeFor,
  givenOrganization,
  givenSignedIn,
  givenSignedInWithTotp,
  TEST_PASSWORD,
} from './support/identity';
import { statementsDuring } from './support/statements';
import { withBearer } from './support/http';
import { clockBehind } from './support/clock';
import { held } from './support/gate';
import { setTimeout as sleep } from 'node:timers/promises';

// The whole workflow of the product brief (steps 1-5) with the demo roles, including every denial and every
// illegal referral transition.
/** The incident's facts that sit beside the triage facts in plaintext: shown only to who may read the incident. */
function expectNoIncidentFacts(triage: Record<string, unknown>): void {
  for (const fact of ['gbvType', 'forms', 'contexts', 'incidentDate'])
    expect(triage).not.toHaveProperty(fact);
}

describe('cases, consent and referrals (end to end)', () => {
  let t: TestApp;
  let tok: Tokens;
  let police: string;
  let health: string;
  const http = () => request(t.app.getHttpServer());
  const as = (user: string) => withBearer(t, tok[user]);
  const withoutRequestId = (body: Record<string, unknown>) => ({ ...body, requestId: undefined });

  beforeAll(async () => {
    t = await startDemoApp();
    tok = await signInAll(t, [
      'admin',
      'ward.longbien',
      'ward.bode',
      'police.longbien',
      'health.longbien',
      'social.hanoi',
      'supervisor.hanoi',
      'supervisor.haiphong',
    ]);
    police = await organizationId(t, tok['ward.longbien'], 'Công an phường Long Biên');
    health = await organizationId(t, tok['ward.longbien'], 'Trạm y tế phường Long Biên');
  });
  afterAll(async () => {
    await t.close();
  });

  /** The access-log entry of a request (by its id), with these columns. */
  async function entryOf(requestId: string, columns: string): Promise<Record<string, any>> {
    const [entry] = await t.app
      .get(DataSource)
      .query(`SELECT ${columns} FROM audit_events WHERE request_id = $1`, [requestId]);
    return entry;
  }

  async function newCase(overrides: Record<string, unknown> = {}): Promise<Record<string, any>> {
    const res = await as('ward.longbien').post('/api/v1/cases', caseBody(overrides)).expect(201);
    return res.body;
  }

  describe('cases', () => {
    it('a ward officer registers a case of its commune; the view has every section and a non-identifying code', async () => {
      const c = await newCase();
      expect(c.code).toMatch(/^HV01-2026-\d{6}$/);
      expect(c).toMatchObject({ wardCode: '00145', status: 'open', version: 1, duplicates: [] });
      expect(c.triage).toMatchObject({
        ageGroup: '18-59',
        childUnder16: false,
        childUnder18: false,
        riskLevel: 'high',
      });
      expect(c.triage.contexts).toContain('intimate_partner');
      expect(c.survivor.fullName).toMatch(/^Thử Nghiệm Số/);
      expect(c.incident.narrative).toMatch(/^Tường thuật/);
      expect(c.perpetrator.relationship).toBe('spouse');
      expect(c.health.injuries).toBeDefined();
      expect(c.code).not.toContain('Thử');
    });

    it('takes the largest case the limits allow, as a client that escapes every accented letter sends it', async () => {
      // Python's json.dumps (and requests' json=) write each non-ASCII character as \uXXXX: six bytes.
      const long = (word: string) => word.repeat(10_000 / word.length);
      const body = caseBody({
        incident: {
          occurredAt: '2026-11-19T21:00:00+07:00',
          forms: ['physical'],
          gbvType: 'physical_assault',
          narrative: long('ệ'),
        },
        health: { injuries: long('ỗ'), medicalNeeds: long('ữ') },
      });
      const escaped = JSON.stringify(body).replace(
        /[\u0080-\uffff]/g,
        (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
      );
      expect(Buffer.byteLength(escaped)).toBeGreaterThan(180_000);
      const res = await http()
        .post('/api/v1/cases')
        .set('Authorization', `Bearer ${tok['ward.longbien']}`)
        .set('Content-Type', 'application/json')
        .send(escaped)
        .expect(201);
      const read = await as('ward.longbien').get(`/api/v1/cases/${res.body.id}`).expect(200);
      expect(read.body.incident.narrative).toBe(long('ệ'));
    });

    it('derives both child flags from the date of birth', async () => {
      const c = await newCase({
        survivor: { fullName: 'Em Giả Định', sex: 'female', dateOfBirth: '2010-12-01' },
        incident: { forms: ['sexual'], gbvType: 'sexual_assault' },
      });
      expect(c.triage).toMatchObject({ ageGroup: '12-15', childUnder16: true, childUnder18: true });
      expect(c.triage.contexts).toContain('child_sexual_abuse');
    });

    it('judges child sexual abuse at the incident: a rape at 17 reported at 18 is one, until the incident date is corrected', async () => {
      // The report on 20 November 2026; born 20 November 2008: 17 on the 19th, the day of the incident.
      const c = await newCase({
        survivor: { fullName: 'Em Mười Bảy', sex: 'female', dateOfBirth: '2008-11-20' },
        incident: { occurredAt: '2026-11-19', forms: ['sexual'], gbvType: 'rape' },
      });
      expect(c.triage).toMatchObject({
        childUnder18: false,
        contexts: ['intimate_partner', 'child_sexual_abuse'],
      });
      // Corrected to the day of the report (the 18th birthday): no longer a child's.
      const moved = await as('ward.longbien')
        .patch(`/api/v1/cases/${c.id}`, { version: c.version, incident: { occurredAt: '2026-11-20' } })
        .expect(200);
      expect(moved.body.triage.contexts).toEqual(['intimate_partner']);
    });

    it('a correction re-derives the contexts: the ones the old facts gave go, the ones set by hand stay', async () => {
      const c = await newCase({
        survivor: { fullName: 'Em Sửa Lại', sex: 'female', dateOfBirth: '2015-06-01' },
        incident: { forms: ['sexual'], gbvType: 'sexual_assault', contexts: ['trafficking'] },
      });
      expect(c.triage.contexts).toEqual(['intimate_partner', 'child_sexual_abuse', 'trafficking']);
      const fixed = await as('ward.longbien')
        .patch(`/api/v1/cases/${c.id}`, {
          version: c.version,
          survivor: { dateOfBirth: '1990-06-01' },
          perpetrator: { relationship: 'stranger' },
        })
        .expect(200);
      expect(fixed.body.triage).toMatchObject({
        ageGroup: '18-59',
        childUnder18: false,
        contexts: ['trafficking'],
      });
      // An unrelated change keeps a context set by hand that no fact gives.
      const handSet = await newCase({
        perpetrator: { fullName: 'Người Không Rõ' },
        incident: { forms: ['physical'], gbvType: 'physical_assault', contexts: ['intimate_partner'] },
      });
      expect(handSet.triage.contexts).toEqual(['intimate_partner']);
      const later = await as('ward.longbien')
        .patch(`/api/v1/cases/${handSet.id}`, { version: handSet.version, risk: { level: 'low' } })
        .expect(200);
      expect(later.body.triage.contexts).toEqual(['intimate_partner']);
      // Null clears the contexts set by hand; the ones the facts give stay.
      const cleared = await as('ward.longbien')
        .patch(`/api/v1/cases/${c.id}`, { version: fixed.body.version, incident: { contexts: null } })
        .expect(200);
      expect(cleared.body.triage.contexts).toEqual([]);
    });

    it('refuses a case for a commune that is not the officer’s', async () => {
      const res = await as('ward.longbien')
        .post('/api/v1/cases', caseBody({ wardCode: '00118' }))
        .expect(403);
      expect(res.body.code).toBe('auth.forbidden');
      await as('police.longbien').post('/api/v1/cases', caseBody()).expect(403);
      // Refused at the route (a provider has no rule to create cases): on record all the same.
      const [denied] = await t.app.get(DataSource).query(
        `SELECT action, outcome, actor_role, reason FROM audit_events
         WHERE action = 'case.create' AND actor_role = 'provider' ORDER BY seq DESC LIMIT 1`,
      );
      expect(denied).toEqual({
        action: 'case.create',
        outcome: 'denied',
        actor_role: 'provider',
        reason: 'auth.forbidden',
      });
    });

    it('answers out-of-scope and missing cases with the same 404 body', async () => {
      const c = await newCase();
      const missing = await as('ward.bode')
        .get('/api/v1/cases/00000000-0000-4000-8000-000000000000')
        .expect(404);
      for (const user of ['ward.bode', 'admin', 'supervisor.haiphong', 'police.longbien']) {
        const res = await as(user).get(`/api/v1/cases/${c.id}`).expect(404);
        expect(withoutRequestId(res.body)).toEqual(withoutRequestId(missing.body));
      }
      await as('ward.bode').get('/api/v1/cases/not-a-uuid').expect(404);
    });

    it('the OpenAPI document describes every field of a case’s view, section by section', async () => {
      const c = await newCase({
        survivor: {
          fullName: 'Thử Nghiệm Đủ Trường',
          sex: 'female',
          dateOfBirth: '1990-01-15',
          ethnicity: 'Kinh',
          disability: 'không (giả định)',
          phone: '0900 000 999',
          address: 'Địa chỉ giả',
          safeContactNotes: 'gọi sau 18h (giả định)',
        },
        incident: {
          occurredAt: '2026-11-19T21:00:00+07:00',
          forms: ['physical'],
          gbvType: 'physical_assault',
          contexts: ['trafficking'],
          place: 'nơi giả định',
          narrative: 'tường thuật giả định',
        },
        perpetrator: {
          fullName: 'Người Giả',
          relationship: 'spouse',
          address: 'giả',
          accessToWeapons: false,
        },
        health: { injuries: 'vết bầm giả định', pregnant: false, medicalNeeds: 'khám (giả định)' },
      });
      const read = (await as('ward.longbien').get(`/api/v1/cases/${c.id}`).expect(200)).body;
      const doc = (await http().get('/docs-json').expect(200)).body as {
        components: { schemas: Record<string, { properties: Record<string, { $ref?: string }> }> };
      };
      const schemas = doc.components.schemas;
      const described = (schema: string) => Object.keys(schemas[schema].properties).sort();
      const sectionSchema = (section: string) =>
        schemas.CaseView.properties[section].$ref?.split('/').pop() ??
        (schemas.CaseView.properties[section] as { allOf?: { $ref: string }[] }).allOf?.[0].$ref
          .split('/')
          .pop();
      // Every field shown is described, and every field described is shown (but ageYears, which a date of birth
      // replaces).
      for (const section of ['survivor', 'incident', 'perpetrator', 'health']) {
        const shown = Object.keys(read[section]).sort();
        const schema = described(sectionSchema(section)!).filter((f) => f !== 'ageYears');
        expect([section, shown]).toEqual([section, schema]);
      }
      expect(Object.keys(read.triage).sort()).toEqual(described('CaseTriageView'));
    });

    it('gives a supervisor of the province triage only', async () => {
      const c = await newCase();
      const res = await as('supervisor.hanoi').get(`/api/v1/cases/${c.id}`).expect(200);
      expect(res.body.triage).toMatchObject({
        survivorSex: c.triage.survivorSex,
        ageGroup: c.triage.ageGroup,
      });
      for (const section of ['survivor', 'incident', 'perpetrator', 'health', 'referrals'])
        expect(res.body).not.toHaveProperty(section);
      // Nor the incident's type, forms, contexts and date (stored in plaintext beside the triage facts, for the
      // statistics, but the incident's): not in the case's view, nor in the list; the ward's have them.
      expectNoIncidentFacts(res.body.triage);
      const listed = await as('supervisor.hanoi').get('/api/v1/cases?pageSize=100').expect(200);
      expect(listed.body.items.length).toBeGreaterThan(0);
      for (const item of listed.body.items) expectNoIncidentFacts(item.triage);
      expect(c.triage).toMatchObject({ gbvType: expect.any(String), incidentDate: expect.any(String) });
      // The log says so: the supervisor's list disclosed triage facts only, the ward's the incident's too.
      expect((await entryOf(listed.headers['x-request-id'], 'fields')).fields).toEqual(['triage']);
      const mine = await as('ward.longbien').get('/api/v1/cases?pageSize=100').expect(200);
      expect((await entryOf(mine.headers['x-request-id'], 'fields')).fields).toEqual(['triage', 'incident']);
      expect(mine.body.items.find((i: { id: string }) => i.id === c.id).triage).toMatchObject({
        gbvType: c.triage.gbvType,
        forms: c.triage.forms,
        contexts: c.triage.contexts,
        incidentDate: c.triage.incidentDate,
      });
    });

    it('lists the caller’s scope with triage fields only, paginated', async () => {
      const c = await newCase();
      const mine = await as('ward.longbien').get('/api/v1/cases?pageSize=100').expect(200);
      expect(mine.body.items.map((i: { id: string }) => i.id)).toContain(c.id);
      expect(mine.body).toMatchObject({ page: 1, pageSize: 100 });
      expect(mine.body.total).toBe(mine.body.items.length);
      for (const item of mine.body.items) expect(item).not.toHaveProperty('survivor');
      const other = await as('ward.bode').get('/api/v1/cases').expect(200);
      expect(other.body.items.map((i: { id: string }) => i.id)).not.toContain(c.id);
      const page2 = await as('ward.longbien').get('/api/v1/cases?pageSize=1&page=2').expect(200);
      expect(page2.body.items).toHaveLength(1);
      expect(page2.body.total).toBe(mine.body.total);
    });

    it("a list's total is the number of cases in scope, whoever writes them (the communes' kept counts)", async () => {
      await newCase();
      const owner = new Client({ connectionString: t.db.url });
      await owner.connect();
      const lists: [string, string][] = [
        ['ward.longbien', `ward_code = '00145'`],
        ['ward.bode', `ward_code = '00118'`],
        ['supervisor.hanoi', `province_code = '01'`],
        ['supervisor.haiphong', `province_code = '31'`],
      ];
      const check = async () => {
        for (const [user, where] of lists) {
          const { rows } = await owner.query(`SELECT count(*)::int AS n FROM cases WHERE ${where}`);
          const res = await as(user).get('/api/v1/cases?pageSize=1').expect(200);
          expect([user, res.body.total]).toEqual([user, rows[0].n]);
          // Past the last page too.
          const beyond = await as(user)
            .get(`/api/v1/cases?pageSize=1&page=${rows[0].n + 1}`)
            .expect(200);
          expect([user, beyond.body.total]).toEqual([user, rows[0].n]);
        }
      };
      const id = randomUUID();
      try {
        await check();
        expect((await as('ward.longbien').get('/api/v1/cases').expect(200)).body.total).toBeGreaterThan(0);
        // Written past the service: counted all the same, moved, then gone.
        const [{ id: creator }] = (await owner.query(`SELECT id FROM users WHERE username = 'ward.longbien'`))
          .rows;
        await owner.query(
          `INSERT INTO cases (id, code, ward_code, province_code, reported_at, report_channel, risk_level,
                              survivor_sex, age_group, gbv_type, forms, created_by)
           VALUES ($1, 'HVTEST-COUNT', '00145', '01', now(), 'walk_in', 'low', 'female', '18-59',
                   'physical_assault', '{physical}', $2)`,
          [id, creator],
        );
        await check();
        await owner.query(`UPDATE cases SET ward_code = '10507', province_code = '31' WHERE id = $1`, [id]);
        await check();
        await owner.query(`DELETE FROM cases WHERE id = $1`, [id]);
        await check();
        const { rows: drift } = await owner.query(
          `SELECT k.province_code, k.ward_code, k.n, count(c.id)::int AS cases
             FROM case_counts k LEFT JOIN cases c ON c.ward_code = k.ward_code AND c.province_code = k.province_code
            GROUP BY k.province_code, k.ward_code, k.n HAVING k.n <> count(c.id)`,
        );
        expect(drift).toEqual([]);
        // A national supervisor's scope (no condition): every case.
        await owner.query(`UPDATE users SET province_code = NULL WHERE username = 'supervisor.haiphong'`);
        try {
          const { rows } = await owner.query(`SELECT count(*)::int AS n FROM cases`);
          const all = await as('supervisor.haiphong').get('/api/v1/cases?pageSize=1').expect(200);
          expect(all.body.total).toBe(rows[0].n);
        } finally {
          await owner.query(`UPDATE users SET province_code = '31' WHERE username = 'supervisor.haiphong'`);
        }
        // The service's role reads the counts, never writes them.
        await expect(
          t.app.get(DataSource).query(`UPDATE case_counts SET n = n + 1 WHERE ward_code = '00145'`),
        ).rejects.toMatchObject({ driverError: { code: '42501' } });
      } finally {
        await owner.query(`DELETE FROM cases WHERE id = $1`, [id]);
        await owner.end();
      }
    });

    it('updates with optimistic locking: If-Match or body version; stale → 409', async () => {
      const c = await newCase();
      const ok = await as('ward.longbien')
        .patch(`/api/v1/cases/${c.id}`, { risk: { level: 'critical' }, survivor: { phone: '0911 222 333' } })
        .set('If-Match', '1')
        .expect(200);
      expect(ok.body).toMatchObject({ version: 2, triage: { riskLevel: 'critical' } });
      expect(ok.body.survivor.phone).toBe('0911 222 333');
      expect(ok.body.survivor.fullName).toBe(c.survivor.fullName);
      const stale = await as('ward.longbien')
        .patch(`/api/v1/cases/${c.id}`, { version: 1, risk: { level: 'low' } })
        .expect(409);
      expect(stale.body.code).toBe('conflict.version');
      await as('ward.longbien')
        .patch(`/api/v1/cases/${c.id}`, { risk: { level: 'low' } })
        .expect(412);
      // Two versions that disagree (a fresh header, a stale body): which was read is not known.
      const both = await as('ward.longbien')
        .patch(`/api/v1/cases/${c.id}`, { version: 1, risk: { level: 'low' } })
        .set('If-Match', '"2"')
        .expect(412);
      expect(both.body.detail).toMatch(/If-Match names version 2 and the body version 1/);
      // A version of null is no version: a 400 naming it, not a stale version to reload for ever.
      const nullVersion = await as('ward.longbien')
        .patch(`/api/v1/cases/${c.id}`, { version: null, risk: { level: 'low' } })
        .expect(400);
      expect(nullVersion.body.errors).toContainEqual(
        expect.objectContaining({ field: 'version', code: 'isNotNull' }),
      );
      await as('ward.bode')
        .patch(`/api/v1/cases/${c.id}`, { version: 2, risk: { level: 'low' } })
        .expect(404);
    });

    it('closes with a reason; a closed case cannot be changed or closed again', async () => {
      const c = await newCase();
      const closed = await as('ward.longbien')
        .post(`/api/v1/cases/${c.id}/close`, { reason: 'đã hỗ trợ xong' })
        .expect(200);
      expect(closed.body.status).toBe('closed');
      await as('ward.longbien').post(`/api/v1/cases/${c.id}/close`, { reason: 'again' }).expect(409);
      await as('ward.longbien')
        .patch(`/api/v1/cases/${c.id}`, { version: 2, risk: { level: 'low' } })
        .expect(409);
    });

    it('searches through blind indexes within scope, whatever the diacritics, and never returns the name', async () => {
      const c = await newCase({
        survivor: {
          fullName: 'Nguyễn Thị Thuỷ Hoà',
          sex: 'female',
          dateOfBirth: '1985-03-04',
          phone: '+84 912.345.678',
        },
      });
      const variants = [
        'nguyen thi thuy hoa',
        'NGUYỄN  THỊ THỦY HÒA',
        'Nguyễn Thị Thuỷ Hoà'.normalize('NFD'),
      ];
      for (const fullName of variants) {
        const res = await as('ward.longbien').post('/api/v1/cases/search', { fullName }).expect(200);
        const hit = res.body.items.find((i: { id: string }) => i.id === c.id);
        expect(hit).toMatchObject({ code: c.code, wardCode: '00145', match: ['fullName'] });
        expect(JSON.stringify(res.body)).not.toMatch(/nguy/i);
      }
      const narrowed = await as('ward.longbien')
        .post('/api/v1/cases/search', { fullName: 'nguyen thi thuy hoa', dateOfBirth: '1985-03-04' })
        .expect(200);
      expect(narrowed.body.items.find((i: { id: string }) => i.id === c.id).match).toEqual([
        'fullName',
        'dateOfBirth',
      ]);
      const wrongDob = await as('ward.longbien')
        .post('/api/v1/cases/search', { fullName: 'nguyen thi thuy hoa', dateOfBirth: '1985-03-05' })
        .expect(200);
      expect(wrongDob.body.items.map((i: { id: string }) => i.id)).not.toContain(c.id);
      const byPhone = await as('ward.longbien')
        .post('/api/v1/cases/search', { phone: '0912345678' })
        .expect(200);
      expect(byPhone.body.items.find((i: { id: string }) => i.id === c.id).match).toEqual(['phone']);
      const outOfScope = await as('ward.bode')
        .post('/api/v1/cases/search', { fullName: 'nguyen thi thuy hoa' })
        .expect(200);
      expect(outOfScope.body.items).toEqual([]);
      await as('ward.longbien').post('/api/v1/cases/search', {}).expect(400);
      // A phone that is not a number is refused saying what a number may hold, in both languages.
      for (const phone of ['0912 345 678 (nhà)', 'abc']) {
        const bad = await as('ward.longbien').post('/api/v1/cases/search', { phone }).expect(400);
        expect(bad.body.errors).toEqual([
          expect.objectContaining({ field: 'phone', message: expect.stringContaining('3 to 15 digits') }),
        ]);
      }
      // Without a name a date of birth matches on its own (any one of the three, the contract says), and beside
      // a phone it is one more way to match, each named in `match`.
      const byDob = await as('ward.longbien')
        .post('/api/v1/cases/search', { dateOfBirth: '1985-03-04' })
        .expect(200);
      expect(byDob.body.items.find((i: { id: string }) => i.id === c.id).match).toEqual(['dateOfBirth']);
      const dobAndPhone = await as('ward.longbien')
        .post('/api/v1/cases/search', { phone: '0912345678', dateOfBirth: '1985-03-04' })
        .expect(200);
      expect(dobAndPhone.body.items.find((i: { id: string }) => i.id === c.id).match).toEqual([
        'dateOfBirth',
        'phone',
      ]);
      const otherDob = await as('ward.longbien')
        .post('/api/v1/cases/search', { phone: '0900000000', dateOfBirth: '1985-03-05' })
        .expect(200);
      expect(otherDob.body.items.map((i: { id: string }) => i.id)).not.toContain(c.id);
      expect(
        (await as('ward.bode').post('/api/v1/cases/search', { dateOfBirth: '1985-03-04' }).expect(200)).body
          .items,
      ).toEqual([]);
      // A date changed by an update is found under the new date only.
      await as('ward.longbien')
        .patch(`/api/v1/cases/${c.id}`, { version: c.version, survivor: { dateOfBirth: '1985-03-06' } })
        .expect(200);
      const found = async (dateOfBirth: string) =>
        (await as('ward.longbien').post('/api/v1/cases/search', { dateOfBirth }).expect(200)).body.items.map(
          (i: { id: string }) => i.id,
        );
      expect(await found('1985-03-04')).not.toContain(c.id);
      expect(await found('1985-03-06')).toContain(c.id);
      // A blind index this instance cannot compute (its key gone, say) is its fault: a 500 on the log, not a
      // 400 telling the officer that the name has no letters.
      const broken = jest.spyOn(t.app.get(BlindIndexService), 'fullName').mockImplementation(() => {
        throw new Error('blind index key unavailable');
      });
      try {
        const failed = await as('ward.longbien')
          .post('/api/v1/cases/search', { fullName: 'nguyen thi thuy hoa' })
          .expect(500);
        expect(failed.body.code).toBe('internal');
      } finally {
        broken.mockRestore();
      }
    });

    it('two registrations of one survivor at once (a double click): the second is warned of the first', async () => {
      const survivor = { fullName: 'Phạm Thị Bấm Hai Lần', sex: 'female', dateOfBirth: '1991-09-09' };
      // The first held once it has searched for duplicates, before its case is stored; the second sent meanwhile.
      let searches = 0;
      const first = held(t.app.get(CasesRepository), 'searchByBlindIndex', { when: () => searches++ === 0 });
      let a: Promise<Record<string, any>>;
      let b: Promise<Record<string, any>>;
      try {
        a = newCase({ survivor });
        await first.hit;
        b = newCase({ survivor });
        // The second waits for the first (it would have searched, and been stored, by now).
        const answered = await Promise.race([b.then(() => true), sleep(500).then(() => false)]);
        expect(answered).toBe(false);
      } finally {
        first.release();
        first.restore();
      }
      const [one, two] = await Promise.all([a, b]);
      expect(one.duplicates).toEqual([]);
      expect(two.duplicates).toEqual([
        { id: one.id, code: one.code, wardCode: '00145', match: ['fullName', 'dateOfBirth'] },
      ]);
      // A registration that fails lets the next of its name go on.
      const failing = jest
        .spyOn(t.app.get(AuditService), 'recordWith')
        .mockRejectedValueOnce(new Error('the statement failed'));
      try {
        await as('ward.longbien').post('/api/v1/cases', caseBody({ survivor })).expect(500);
      } finally {
        failing.mockRestore();
      }
      await as('ward.longbien').post('/api/v1/cases', caseBody({ survivor })).expect(201);
    });

    it('warns of a likely duplicate at creation without blocking it', async () => {
      const survivor = { fullName: 'Trần Văn Trùng Lặp', sex: 'male', dateOfBirth: '1970-07-07' };
      const first = await newCase({ survivor });
      const second = await newCase({ survivor: { ...survivor, fullName: 'tran van trung lap' } });
      expect(second.duplicates).toEqual([
        { id: first.id, code: first.code, wardCode: '00145', match: ['fullName', 'dateOfBirth'] },
      ]);
      // An earlier registration with an age only (no date of birth) may be the same person: named too, on the
      // name; one with another date of birth is not.
      const aged = await newCase({
        survivor: { fullName: 'Lê Thị Chỉ Có Tuổi', sex: 'female', ageYears: 34 },
      });
      await newCase({
        survivor: { fullName: 'Lê Thị Chỉ Có Tuổi', sex: 'female', dateOfBirth: '1980-01-01' },
      });
      const dated = await newCase({
        survivor: { fullName: 'le thi chi co tuoi', sex: 'female', dateOfBirth: '1992-05-01' },
      });
      expect(dated.duplicates).toEqual([
        { id: aged.id, code: aged.code, wardCode: '00145', match: ['fullName'] },
      ]);
      // A search that gives the date still narrows by it.
      const searched = await as('ward.longbien')
        .post('/api/v1/cases/search', { fullName: 'le thi chi co tuoi', dateOfBirth: '1992-05-01' })
        .expect(200);
      expect(searched.body.items.map((i: { id: string }) => i.id)).toEqual([dated.id]);
    });

    it('a close or a shred that names the version read (If-Match) is refused once the case has moved on', async () => {
      const c = await newCase();
      const changed = await as('ward.longbien')
        .patch(`/api/v1/cases/${c.id}`, { version: c.version, risk: { level: 'critical' } })
        .expect(200);
      // A ward officer of another commune: 404, on record in the case's jurisdiction (its supervisors see it).
      const outside = await as('ward.bode')
        .post(`/api/v1/cases/${c.id}/close`, { reason: 'Đã hỗ trợ xong (giả định)' })
        .expect(404);
      expect(await entryOf(outside.body.requestId, 'action, outcome, case_id, province_code')).toEqual({
        action: 'case.close',
        outcome: 'denied',
        case_id: c.id,
        province_code: '01',
      });
      // Decided on the version before the change: 409, nothing done, on record.
      const stale = await as('ward.longbien')
        .post(`/api/v1/cases/${c.id}/close`, { reason: 'Đã hỗ trợ xong (giả định)' })
        .set('If-Match', `"${c.version}"`)
        .expect(409);
      expect(stale.body.code).toBe('conflict.version');
      expect(await entryOf(stale.body.requestId, 'action, outcome, reason')).toEqual({
        action: 'case.close',
        outcome: 'denied',
        reason: 'conflict.version',
      });
      const malformed = await as('ward.longbien')
        .post(`/api/v1/cases/${c.id}/close`, { reason: 'Đã hỗ trợ xong (giả định)' })
        .set('If-Match', 'latest')
        .expect(412);
      expect(malformed.body.code).toBe('precondition.failed');
      // A version in decimal digits only: what Number() would also read is not one; nor is one no case can
      // have (the column is an int): it can never match, so it is no conflict to reload for.
      for (const notDecimal of [
        `0x${c.version.toString(16)}`,
        `${c.version}e0`,
        `${c.version}.0`,
        '2147483648',
        '9999999999999999',
        // Entity-tags no case has: not "no precondition" (a close or a shred must not go ahead on them).
        '""',
        'W/""',
        '"*"',
        '"',
        `"${c.version}`,
        `${c.version}"`,
      ]) {
        await as('ward.longbien')
          .post(`/api/v1/cases/${c.id}/close`, { reason: 'Đã hỗ trợ xong (giả định)' })
          .set('If-Match', notDecimal)
          .expect(412);
      }
      expect(
        (
          await as('ward.longbien')
            .patch(`/api/v1/cases/${c.id}`, { version: 1e308, risk: { level: 'low' } })
            .expect(400)
        ).body.errors,
      ).toContainEqual(expect.objectContaining({ field: 'version', code: 'max' }));
      const staleShred = await as('admin')
        .post(`/api/v1/cases/${c.id}/shred`, { password: DEMO_PASSWORD })
        .set('If-Match', String(c.version))
        .expect(409);
      expect(staleShred.body.code).toBe('conflict.version');
      expect((await as('ward.longbien').get(`/api/v1/cases/${c.id}`).expect(200)).body.status).toBe('open');
      // The version read now, or none (as before): closed. The answer shows the incident's facts, and its entry
      // says so (with the reason written, as notes).
      const closed = await as('ward.longbien')
        .post(`/api/v1/cases/${c.id}/close`, { reason: 'Đã hỗ trợ xong (giả định)' })
        .set('If-Match', `W/"${changed.body.version}"`)
        .expect(200);
      expect(closed.body.triage).toMatchObject({ gbvType: c.triage.gbvType, forms: c.triage.forms });
      expect((await entryOf(closed.headers['x-request-id'], 'fields')).fields).toEqual([
        'triage',
        'incident',
        'notes',
      ]);
      // `*` is any version (RFC 9110), as none; a change still needs the version read.
      const other = await newCase();
      await as('ward.longbien')
        .patch(`/api/v1/cases/${other.id}`, { risk: { level: 'low' } })
        .set('If-Match', '*')
        .expect(412);
      await as('ward.longbien')
        .post(`/api/v1/cases/${other.id}/close`, { reason: 'Đã hỗ trợ xong (giả định)' })
        .set('If-Match', '*')
        .expect(200);
    });

    it('an admin crypto-shreds a case: its content is gone for good, its triage facts stay', async () => {
      const c = await newCase();
      const consentId = await giveConsent(t, tok['ward.longbien'], c.id, {
        organizationId: police,
        categories: ['identity'],
        givenBy: 'survivor',
      });
      const referral = (await referTo(t, tok['ward.longbien'], c.id, police, consentId)).id as string;
      // (A note refused at the route names its referral and case, as the service's refusals do.)
      const noNote = await as('supervisor.hanoi')
        .post(`/api/v1/referrals/${referral}/notes`, { text: 'Ghi chú (giả định)' })
        .expect(404);
      expect(
        await entryOf(noNote.body.requestId, 'action, resource_type, resource_id, case_id, province_code'),
      ).toEqual({
        action: 'note.create',
        resource_type: 'referral',
        resource_id: referral,
        case_id: c.id,
        province_code: '01',
      });
      const shred = (user: string, password = DEMO_PASSWORD) =>
        as(user).post(`/api/v1/cases/${c.id}/shred`, { password });
      const notHers = await shred('ward.longbien').expect(404);
      // On record in the case's province, as every refusal about an existing case is.
      expect(await entryOf(notHers.body.requestId, 'action, outcome, case_id, province_code')).toEqual({
        action: 'case.shred',
        outcome: 'denied',
        case_id: c.id,
        province_code: '01',
      });
      // The administrator's password again: missing, or wrong (403, on record, nothing destroyed).
      await as('admin').post(`/api/v1/cases/${c.id}/shred`, {}).expect(400);
      const wrong = await shred('admin', 'not-the-admin-password').expect(403);
      expect(wrong.body.code).toBe('auth.reauthentication_failed');
      await as('ward.longbien').get(`/api/v1/cases/${c.id}`).expect(200);
      const refused = await entryOf(wrong.body.requestId, 'outcome, reason, case_id');
      expect(refused).toEqual({ outcome: 'denied', reason: 'auth.reauthentication_failed', case_id: c.id });
      const before = await as('ward.longbien').get(`/api/v1/cases/${c.id}`).expect(200);
      expect(before.body.triage.incidentDate).not.toBeNull();
      expect(before.body.triage.contexts).toContain('intimate_partner');
      const res = await shred('admin').expect(200);
      expect(res.body).toEqual({ id: c.id, shredded: true });
      const after = await as('ward.longbien').get(`/api/v1/cases/${c.id}`).expect(200);
      expect(after.body.triage).toMatchObject({ shredded: true, gbvType: 'physical_assault' });
      // What the encrypted content alone told goes with it: the incident's date (of its encrypted date) and the
      // contexts (some derived from the perpetrator's relationship).
      expect(after.body.triage).toMatchObject({ incidentDate: null, contexts: [] });
      // Its entry names what it disclosed: the triage facts and the incident's plaintext ones (its type and forms,
      // kept for the statistics), nothing of the content that is gone.
      expect((await entryOf(after.header['x-request-id'], 'fields')).fields).toEqual(['triage', 'incident']);
      // So does a read of its referral (its note went with the data key).
      const referralRead = await as('ward.longbien').get(`/api/v1/referrals/${referral}`).expect(200);
      expect((await entryOf(referralRead.header['x-request-id'], 'fields')).fields).toEqual([
        'triage',
        'incident',
      ]);
      expect(JSON.stringify(after.body)).not.toContain(c.survivor.fullName);
      expect(after.body).not.toHaveProperty('incident.narrative');
      const [key] = await t.app
        .get(DataSource)
        .query(
          `SELECT wrapped_dek IS NULL AS gone, destroyed_at IS NOT NULL AS destroyed FROM data_keys WHERE owner_id = $1`,
          [c.id],
        );
      expect(key).toEqual({ gone: true, destroyed: true });
      const search = await as('ward.longbien')
        .post('/api/v1/cases/search', { fullName: c.survivor.fullName })
        .expect(200);
      expect(search.body.items.map((i: { id: string }) => i.id)).not.toContain(c.id);
      // No blind index is left to find it by, the date of birth's alone included.
      expect(
        await t.app
          .get(DataSource)
          .query(`SELECT bi_name, bi_name_dob, bi_phone, bi_dob FROM cases WHERE id = $1`, [c.id]),
      ).toEqual([{ bi_name: null, bi_name_dob: null, bi_phone: null, bi_dob: null }]);
      await as('admin').get(`/api/v1/cases/${c.id}`).expect(404);
    });

    it('an admin with two-factor also gives a new authenticator code to shred: without one nothing is destroyed', async () => {
      const c = await newCase();
      const { token, secret } = await givenSignedInWithTotp(t, {
        role: 'admin',
        username: 'admin.twofactor',
      });
      tok['admin.twofactor'] = token;
      const missing = await as('admin.twofactor')
        .post(`/api/v1/cases/${c.id}/shred`, { password: TEST_PASSWORD })
        .expect(403);
      expect(missing.body.code).toBe('auth.reauthentication_code_required');
      const kept = await as('ward.longbien').get(`/api/v1/cases/${c.id}`).expect(200);
      expect(kept.body.survivor.fullName).toBe(c.survivor.fullName);
      await as('admin.twofactor')
        .post(`/api/v1/cases/${c.id}/shred`, { password: TEST_PASSWORD, totp: await codeFor(secret) })
        .expect(200);
      const after = await as('ward.longbien').get(`/api/v1/cases/${c.id}`).expect(200);
      expect(after.body.triage.shredded).toBe(true);
    });

    it('null removes a whole optional section (the perpetrator, health), and what the removed facts derived', async () => {
      const c = await newCase();
      expect(c.triage.contexts).toContain('intimate_partner');
      const cleared = await as('ward.longbien')
        .patch(`/api/v1/cases/${c.id}`, { version: c.version, perpetrator: null, health: null })
        .expect(200);
      // Shown as a section with nothing in it, as for a case registered without one.
      expect(cleared.body).toMatchObject({ perpetrator: {}, health: {} });
      expect(cleared.body.triage.contexts).not.toContain('intimate_partner');
      const read = await as('ward.longbien').get(`/api/v1/cases/${c.id}`).expect(200);
      expect(read.body).toMatchObject({ perpetrator: {}, health: {} });
      expect(JSON.stringify(read.body)).not.toContain('vết bầm giả định');
      const [row] = await t.app
        .get(DataSource)
        .query(`SELECT enc_perpetrator IS NULL AS p, enc_health IS NULL AS h FROM cases WHERE id = $1`, [
          c.id,
        ]);
      expect(row).toEqual({ p: true, h: true });
      const entries = await t.app
        .get(DataSource)
        .query(`SELECT action, fields FROM audit_events WHERE request_id = $1 ORDER BY seq`, [
          cleared.headers['x-request-id'],
        ]);
      // What was written; then what the answer showed (the whole case, to its ward officer), as a read.
      expect(
        entries.map((e: { action: string; fields: string[] }) => [e.action, [...e.fields].sort()]),
      ).toEqual([
        // The contexts the perpetrator derived went with it: an incident fact written too.
        ['case.update', ['health', 'incident', 'perpetrator', 'triage']],
        ['case.read', ['contact', 'health', 'identity', 'incident', 'perpetrator', 'triage']],
      ]);
    });

    it("a change of the incident's type, forms or date, or a registration with nothing else of it, is on the access log as the incident's", async () => {
      const db = t.app.get(DataSource);
      const written = async (requestId: string) =>
        (
          await db.query<{ fields: string[] }[]>(
            `SELECT fields FROM audit_events WHERE request_id = $1 AND action IN ('case.create', 'case.update')`,
            [requestId],
          )
        ).map((e) => [...e.fields].sort());
      // Registered with the incident's type and forms only (no date, place or account of it): no incident section.
      const body = caseBody({ incident: { forms: ['sexual'], gbvType: 'rape' }, perpetrator: undefined });
      const created = await as('ward.longbien').post('/api/v1/cases', body).expect(201);
      expect(await written(created.headers['x-request-id'])).toEqual([
        ['contact', 'health', 'identity', 'incident', 'triage'],
      ]);
      // Reclassified as not GBV: a supervisor must see it as a change of the incident, not of the risk.
      const reclassified = await as('ward.longbien')
        .patch(`/api/v1/cases/${created.body.id}`, {
          version: created.body.version,
          incident: { gbvType: 'non_gbv', forms: ['economic'] },
        })
        .expect(200);
      expect(await written(reclassified.headers['x-request-id'])).toEqual([['incident', 'triage']]);
      // A risk raised is triage alone.
      const raised = await as('ward.longbien')
        .patch(`/api/v1/cases/${created.body.id}`, {
          version: reclassified.body.version,
          risk: { level: 'critical' },
        })
        .expect(200);
      expect(await written(raised.headers['x-request-id'])).toEqual([['triage']]);
    });

    it('answers the 500s found by the property tests with 400 problems', async () => {
      const c = await newCase();
      const cleared = await as('ward.longbien')
        .patch(`/api/v1/cases/${c.id}`, { version: 1, reportChannel: null })
        .expect(400);
      expect(cleared.body.errors[0].field).toBe('reportChannel');
      await as('ward.longbien')
        .patch(`/api/v1/cases/${c.id}`, { version: 1, survivor: { sex: null } })
        .expect(400);
      await as('ward.longbien')
        .post(`/api/v1/cases/${c.id}/consents`, {
          organizationId: police,
          categories: ['identity'],
          givenBy: null,
        })
        .expect(400);
      await as('ward.longbien')
        .post(`/api/v1/cases/${c.id}/consents`, {
          organizationId: null,
          categories: ['identity'],
          givenBy: 'survivor',
        })
        .expect(400);
      await http()
        .post('/api/v1/auth/login')
        .send({ username: 'ward.longbien', password: { constructor: 'x' } })
        .expect(400);
      await as('ward.longbien')
        .post('/api/v1/cases/search', { fullName: { constructor: 'x' } })
        .expect(400);
    });

    it('refuses dates in forms JavaScript or PostgreSQL would read otherwise or not at all (400 naming the field, never 500)', async () => {
      const c = await newCase();
      const bad = [
        '2026-W47-5',
        '20261120',
        '2026-11-20T09',
        '2026-324',
        '2026-11',
        '2026',
        '2026-11-20T09:00:00',
      ];
      const fieldOf = (res: { body: { errors?: { field: string; code: string; message: string }[] } }) =>
        res.body.errors?.[0];
      for (const value of bad) {
        const created = await as('ward.longbien')
          .post('/api/v1/cases', caseBody({ reportedAt: value }))
          .expect(400);
        expect(fieldOf(created)).toMatchObject({ field: 'reportedAt', code: 'isInstant' });
        const occurred = await as('ward.longbien')
          .post(
            '/api/v1/cases',
            caseBody({ incident: { ...(caseBody().incident as object), occurredAt: value } }),
          )
          .expect(400);
        expect(fieldOf(occurred)).toMatchObject({ field: 'incident.occurredAt', code: 'isDateOrInstant' });
        await as('ward.longbien')
          .patch(`/api/v1/cases/${c.id}`, { version: c.version, incident: { occurredAt: value } })
          .expect(400);
        const consent = await as('ward.longbien')
          .post(`/api/v1/cases/${c.id}/consents`, {
            organizationId: police,
            categories: ['identity'],
            givenBy: 'survivor',
            expiresAt: value,
          })
          .expect(400);
        expect(fieldOf(consent)).toMatchObject({ field: 'expiresAt', code: 'isInstant' });
      }
      // A date of birth that does not exist; the message in Vietnamese.
      const dob = await as('ward.longbien')
        .post(
          '/api/v1/cases',
          caseBody({ survivor: { ...(caseBody().survivor as object), dateOfBirth: '1990-02-31' } }),
        )
        .set('Accept-Language', 'vi')
        .expect(400);
      expect(fieldOf(dob)).toEqual({
        field: 'survivor.dateOfBirth',
        code: 'isCalendarDate',
        message: 'phải là ngày có thật, dạng YYYY-MM-DD',
      });
      // A bare date is still a fine incident date, and it is the date kept.
      const dated = await as('ward.longbien')
        .patch(`/api/v1/cases/${c.id}`, { version: c.version, incident: { occurredAt: '2026-11-18' } })
        .expect(200);
      expect(dated.body.version).toBe(c.version + 1);
      const [row] = await t.app
        .get(DataSource)
        .query(`SELECT incident_date::text AS d FROM cases WHERE id = $1`, [c.id]);
      expect(row.d).toBe('2026-11-18');
      // A moment with another offset is kept as its date in Vietnam (20:00 at UTC-5 on the 19th: the 20th).
      await as('ward.longbien')
        .patch(`/api/v1/cases/${c.id}`, {
          version: c.version + 1,
          incident: { occurredAt: '2026-11-19T20:00:00-05:00' },
        })
        .expect(200);
      const [moved] = await t.app
        .get(DataSource)
        .query(`SELECT incident_date::text AS d FROM cases WHERE id = $1`, [c.id]);
      expect(moved.d).toBe('2026-11-20');
      // A report in the future (beyond clock drift) is refused: it would open a year's numbers to come.
      // Minutes of drift, not an hour: the moment decides the age and the case number's year.
      const ahead = new Date(Date.now() + 30 * 60_000).toISOString();
      const future = await as('ward.longbien')
        .post('/api/v1/cases', caseBody({ reportedAt: ahead }))
        .expect(400);
      expect(future.body.errors[0]).toMatchObject({ field: 'reportedAt' });
      await as('ward.longbien')
        .post('/api/v1/cases', caseBody({ reportedAt: new Date(Date.now() + 5 * 60_000).toISOString() }))
        .expect(201);
      // Nor before 2000 (a case number of that year), nor an incident after its report (by Vietnam's calendar).
      const old = await as('ward.longbien')
        .post('/api/v1/cases', caseBody({ reportedAt: '1999-12-31T16:59:59Z' }))
        .expect(400);
      expect(old.body.errors[0]).toMatchObject({ field: 'reportedAt' });
      await as('ward.longbien')
        .post(
          '/api/v1/cases',
          caseBody({
            reportedAt: '1999-12-31T17:00:00Z', // 2000-01-01 in Vietnam
            incident: { ...(caseBody().incident as object), occurredAt: '1999-12-31' },
          }),
        )
        .expect(201);
      const later = await as('ward.longbien')
        .post(
          '/api/v1/cases',
          caseBody({ incident: { ...(caseBody().incident as object), occurredAt: '2026-11-21' } }),
        )
        .expect(400);
      expect(later.body.errors[0]).toMatchObject({ field: 'incident.occurredAt' });
      const changed = await as('ward.longbien')
        .patch(`/api/v1/cases/${c.id}`, {
          version: (await as('ward.longbien').get(`/api/v1/cases/${c.id}`)).body.version,
          incident: { occurredAt: '2026-11-21T00:30:00+07:00' },
        })
        .expect(400);
      expect(changed.body.errors[0]).toMatchObject({ field: 'incident.occurredAt' });
    });

    it('a change that changes nothing (the same values sent again) keeps the version, and is on record', async () => {
      const c = await newCase();
      const body = caseBody();
      const same = {
        version: c.version,
        reportChannel: body.reportChannel,
        risk: body.risk,
        survivor: { sex: 'female', dateOfBirth: '1990-01-15' },
        incident: { forms: ['physical', 'psychological'], gbvType: 'physical_assault' },
      };
      const again = await as('ward.longbien').patch(`/api/v1/cases/${c.id}`, same).expect(200);
      expect(again.body.version).toBe(c.version);
      const db = t.app.get(DataSource);
      const [row] = await db.query(
        `SELECT version, updated_at = created_at AS untouched FROM cases WHERE id = $1`,
        [c.id],
      );
      expect(row).toEqual({ version: c.version, untouched: true });
      const entries = await db.query(
        `SELECT action, outcome, fields FROM audit_events WHERE request_id = $1 ORDER BY seq`,
        [again.headers['x-request-id']],
      );
      // On record as a change that wrote nothing, and the read its answer is.
      expect(entries).toEqual([
        { action: 'case.update', outcome: 'allowed', fields: ['triage'] },
        expect.objectContaining({ action: 'case.read', outcome: 'allowed' }),
      ]);
      // One value that differs moves it, as before.
      const moved = await as('ward.longbien')
        .patch(`/api/v1/cases/${c.id}`, { ...same, risk: { level: 'critical' } })
        .expect(200);
      expect(moved.body.version).toBe(c.version + 1);
    });

    it('a change holds the survivor’s age to the rules of a registration: no birth after the report, not both a date of birth and an age (400)', async () => {
      const c = await newCase();
      const after = await as('ward.longbien')
        .patch(`/api/v1/cases/${c.id}`, { version: c.version, survivor: { dateOfBirth: '2099-01-01' } })
        .expect(400);
      expect(after.body.errors[0]).toMatchObject({ field: 'survivor.dateOfBirth' });
      const both = await as('ward.longbien')
        .patch(`/api/v1/cases/${c.id}`, {
          version: c.version,
          survivor: { dateOfBirth: '2010-01-01', ageYears: 16 },
        })
        .expect(400);
      expect(both.body.errors[0]).toMatchObject({ field: 'survivor.ageYears' });
      const unchanged = await as('ward.longbien').get(`/api/v1/cases/${c.id}`).expect(200);
      expect(unchanged.body.version).toBe(c.version);
      expect(unchanged.body.triage.ageGroup).toBe(c.triage.ageGroup);
      // Nor a birth after the incident (19 November, 21:00 in Vietnam): said of the date the change gives.
      const afterIncident = await as('ward.longbien')
        .patch(`/api/v1/cases/${c.id}`, {
          version: c.version,
          survivor: { dateOfBirth: '2026-11-20', ageYears: null },
        })
        .expect(400);
      expect(afterIncident.body.errors[0]).toMatchObject({ field: 'survivor.dateOfBirth' });
      // Born on the day of the report (2026-11-20, 09:00 in Vietnam), the incident that day: allowed.
      const born = await as('ward.longbien')
        .patch(`/api/v1/cases/${c.id}`, {
          version: c.version,
          survivor: { dateOfBirth: '2026-11-20', ageYears: null },
          incident: { occurredAt: '2026-11-20' },
        })
        .expect(200);
      // An incident moved before that birth is refused, naming the incident's date.
      const before = await as('ward.longbien')
        .patch(`/api/v1/cases/${c.id}`, {
          version: born.body.version,
          incident: { occurredAt: '2026-11-19' },
        })
        .expect(400);
      expect(before.body.errors[0]).toMatchObject({ field: 'incident.occurredAt' });
      // A registration too.
      const registered = await as('ward.longbien')
        .post(
          '/api/v1/cases',
          caseBody({
            survivor: { fullName: 'Thử Nghiệm Sinh Sau', sex: 'female', dateOfBirth: '2026-11-20' },
          }),
        )
        .expect(400);
      expect(registered.body.errors[0]).toMatchObject({ field: 'survivor.dateOfBirth' });
      // A case stored with such dates before the rule still takes a change that gives neither date (a risk
      // raised must not wait on them): its identity sealed again here with a birth after its incident.
      const legacy = await newCase();
      const key = await t.app.get(DataKeyService).get({ ownerType: CASE_OWNER, ownerId: legacy.id });
      const { identity } = sealSections(t.app.get(FieldEncryptionService), key, legacy.id, {
        identity: { fullName: 'Thử Nghiệm Ngày Cũ', dateOfBirth: '2026-11-20' },
      });
      key.wipe();
      await t.app
        .get(DataSource)
        .query(`UPDATE cases SET enc_identity = $2 WHERE id = $1`, [legacy.id, identity]);
      await as('ward.longbien')
        .patch(`/api/v1/cases/${legacy.id}`, { version: legacy.version, risk: { level: 'critical' } })
        .expect(200);
      // Clearing the age (null) leaves the date of birth: the triage it gives stays.
      const kept = await as('ward.longbien')
        .patch(`/api/v1/cases/${c.id}`, { version: born.body.version, survivor: { ageYears: null } })
        .expect(200);
      expect(kept.body.survivor).toMatchObject({ dateOfBirth: '2026-11-20' });
      expect(kept.body.triage).toMatchObject({ ageGroup: born.body.triage.ageGroup, childUnder18: true });
    });

    it('an age no one has, or an incident before any birth the age allows, is refused (400) as ageYears over 120 is', async () => {
      const survivor = (extra: Record<string, unknown>) => ({
        fullName: 'Thử Nghiệm Tuổi',
        sex: 'female',
        ...extra,
      });
      // A date of birth that gives 126 at the report (2026-11-20): as ageYears 126 is.
      const old = await as('ward.longbien')
        .post('/api/v1/cases', caseBody({ survivor: survivor({ dateOfBirth: '1900-01-02' }) }))
        .expect(400);
      expect(old.body.errors[0]).toMatchObject({ field: 'survivor.dateOfBirth' });
      await as('ward.longbien')
        .post('/api/v1/cases', caseBody({ survivor: survivor({ dateOfBirth: '1906-11-20' }) }))
        .expect(201); // 120 that day
      // An age alone: 10 at the report puts her birth after 2015-11-20, so an incident on that day or before is
      // refused, naming the age the request gave; the day after is possible.
      const incident = (occurredAt: string) => ({
        occurredAt,
        forms: ['physical'],
        gbvType: 'physical_assault',
      });
      const tooEarly = await as('ward.longbien')
        .post(
          '/api/v1/cases',
          caseBody({ survivor: survivor({ ageYears: 10 }), incident: incident('2015-11-20') }),
        )
        .expect(400);
      expect(tooEarly.body.errors[0]).toMatchObject({ field: 'survivor.ageYears' });
      const c = (
        await as('ward.longbien')
          .post(
            '/api/v1/cases',
            caseBody({ survivor: survivor({ ageYears: 10 }), incident: incident('2015-11-21') }),
          )
          .expect(201)
      ).body as { id: string; version: number };
      // A change too: the age the change gives against the incident it keeps, and the other way round.
      const younger = await as('ward.longbien')
        .patch(`/api/v1/cases/${c.id}`, { version: c.version, survivor: { ageYears: 9 } })
        .expect(400);
      expect(younger.body.errors[0]).toMatchObject({ field: 'survivor.ageYears' });
      const earlier = await as('ward.longbien')
        .patch(`/api/v1/cases/${c.id}`, { version: c.version, incident: { occurredAt: '2015-11-20' } })
        .expect(400);
      expect(earlier.body.errors[0]).toMatchObject({ field: 'incident.occurredAt' });
      const older = await as('ward.longbien')
        .patch(`/api/v1/cases/${c.id}`, { version: c.version, survivor: { ageYears: 11 } })
        .expect(200);
      expect(older.body.triage.ageGroup).toBe('6-11');
    });

    it('rejects bad input with a 400 problem and writes nothing', async () => {
      const ds = t.app.get(DataSource);
      const before = (await ds.query('SELECT count(*)::int AS n FROM cases'))[0].n;
      await as('ward.longbien')
        .post('/api/v1/cases', { ...caseBody(), survivor: { sex: 'female' } })
        .expect(400);
      await as('ward.longbien')
        .post('/api/v1/cases', caseBody({ risk: { level: 'extreme' } }))
        .expect(400);
      await as('ward.longbien')
        .post('/api/v1/cases', { ...caseBody(), extra: 1 })
        .expect(400);
      expect((await ds.query('SELECT count(*)::int AS n FROM cases'))[0].n).toBe(before);
    });
  });

  describe('access log', () => {
    it('records every access with the categories disclosed, the ids returned, and the denials', async () => {
      const c = await newCase();
      await as('ward.longbien').get(`/api/v1/cases/${c.id}`).expect(200);
      await as('supervisor.hanoi').get(`/api/v1/cases/${c.id}`).expect(200);
      await as('ward.bode').get(`/api/v1/cases/${c.id}`).expect(404);
      await as('ward.longbien').get('/api/v1/cases?pageSize=100').expect(200);
      const rows: {
        action: string;
        outcome: string;
        fields: string[];
        actor_role: string;
        returned_ids: string[];
      }[] = await t.app.get(DataSource).query(
        `SELECT action, outcome, fields, actor_role, returned_ids FROM audit_events
           WHERE case_id = $1 OR $1 = ANY(returned_ids) ORDER BY seq`,
        [c.id],
      );
      expect(rows.map((r) => `${r.action}:${r.outcome}:${r.actor_role}`)).toEqual([
        'case.create:allowed:ward_officer',
        'case.read:allowed:ward_officer',
        'case.read:allowed:supervisor',
        'case.read:denied:ward_officer',
        'case.list:allowed:ward_officer',
      ]);
      expect(rows[1].fields).toEqual(['triage', 'identity', 'contact', 'incident', 'perpetrator', 'health']);
      expect(rows[2].fields).toEqual(['triage']);
      const dump = JSON.stringify(await t.app.get(DataSource).query('SELECT * FROM audit_events'));
      expect(dump).not.toContain(c.survivor.fullName);
      expect(dump).not.toContain('Tường thuật');
    });
  });

  describe('consent and referrals', () => {
    const consent = (caseId: string, body: Record<string, unknown>) =>
      giveConsent(t, tok['ward.longbien'], caseId, body);
    const refer = (caseId: string, organization: string, consentId: string, urgency?: string) =>
      referTo(t, tok['ward.longbien'], caseId, organization, consentId, urgency);
    /** A new case referred to the police under the survivor's consent to `identity`: the referral. */
    const newPoliceReferral = async () => {
      const c = await newCase();
      const consentId = await consent(c.id, {
        organizationId: police,
        categories: ['identity'],
        givenBy: 'survivor',
      });
      return refer(c.id, police, consentId);
    };

    /** A referral view without what only a read adds (the case, the notes, the referring note). */
    function metadata(view: Record<string, unknown>): Record<string, unknown> {
      // What a read adds to the referral's metadata: the case, the notes and (for the ward) the reasons.
      const {
        case: _case,
        notes: _notes,
        note: _note,
        declineReason: _declined,
        revokeReason: _revoked,
        ...rest
      } = view;
      return rest;
    }

    it('the ward lists a case’s consents with their status (to withdraw one); nobody else does; on the log', async () => {
      const c = await newCase();
      const first = await consent(c.id, {
        organizationId: police,
        categories: ['identity'],
        givenBy: 'survivor',
      });
      const basis = await consent(c.id, {
        sector: 'health',
        categories: ['health'],
        legalBasis: 'imminent_danger',
        reason: 'Lý do khẩn cấp ZZCONSENTREASON (giả định)',
      });
      // Its reason is written sealed: the entry names notes, as the other sealed writes do (a consent's does not).
      const created = await t.app
        .get(DataSource)
        .query(
          `SELECT resource_id, fields FROM audit_events WHERE action = 'consent.create' AND resource_id = ANY($1)`,
          [[first, basis]],
        );
      expect(
        Object.fromEntries(
          created.map((r: { resource_id: string; fields: string[] }) => [r.resource_id, r.fields]),
        ),
      ).toEqual({
        [first]: ['triage'],
        [basis]: ['triage', 'notes'],
      });
      const ended = await consentForAnHour(c.id);
      await expireNow(ended);
      await as('ward.longbien').delete(`/api/v1/cases/${c.id}/consents/${first}`).expect(200);
      const res = await as('ward.longbien').get(`/api/v1/cases/${c.id}/consents`).expect(200);
      const byId = Object.fromEntries(
        (res.body.items as { id: string; status: string }[]).map((i) => [i.id, i.status]),
      );
      expect(byId).toEqual({ [first]: 'withdrawn', [basis]: 'active', [ended]: 'expired' });
      expect(res.body.items[0].id).toBe(ended); // newest first
      // A legal basis's reason, to the ward that recorded it (a consent has none); the read is on record as notes.
      const reasons = Object.fromEntries(
        (res.body.items as { id: string; reason?: string | null }[]).map((i) => [i.id, i.reason]),
      );
      expect(reasons).toEqual({
        [first]: undefined,
        [basis]: 'Lý do khẩn cấp ZZCONSENTREASON (giả định)',
        [ended]: undefined,
      });
      const listed = await entryOf(res.header['x-request-id'], 'fields');
      expect(listed.fields).toEqual(['triage', 'notes']);
      expect(res.body).toMatchObject({ total: 3, page: 1, pageSize: 50 });
      // A page at a time (an entry names at most 1,000 records): each page's entry names its consents, and
      // notes only when a legal basis's reason is on it.
      const page = async (n: number) => {
        const got = await as('ward.longbien')
          .get(`/api/v1/cases/${c.id}/consents?page=${n}&pageSize=1`)
          .expect(200);
        const entry = await entryOf(got.header['x-request-id'], 'fields, returned_ids');
        return { body: got.body, fields: entry.fields, returned: entry.returned_ids };
      };
      const second = await page(2);
      expect(second.body).toMatchObject({ total: 3, page: 2, pageSize: 1 });
      expect(second.body.items).toEqual([
        expect.objectContaining({ id: basis, reason: 'Lý do khẩn cấp ZZCONSENTREASON (giả định)' }),
      ]);
      expect(second).toMatchObject({ fields: ['triage', 'notes'], returned: [basis] });
      const third = await page(3);
      expect(third.body.items.map((i: { id: string }) => i.id)).toEqual([first]);
      expect(third).toMatchObject({ fields: ['triage'], returned: [first] });
      const past = await page(4);
      expect(past.body).toEqual({ items: [], total: 3, page: 4, pageSize: 1 });
      await as('ward.longbien').get(`/api/v1/cases/${c.id}/consents?pageSize=201`).expect(400);
      // Another commune's officer, and a provider (no such right at all): as for no case.
      await as('ward.bode').get(`/api/v1/cases/${c.id}/consents`).expect(404);
      const provider = await as('police.longbien').get(`/api/v1/cases/${c.id}/consents`).expect(404);
      // Refused at the route (a provider has no rule on consents), and on record all the same, as the services'
      // refusals are: about the case (not a consent of it), in the case's province.
      const atRoute = await entryOf(
        provider.body.requestId,
        'action, outcome, reason, resource_id, case_id, province_code, commune_code',
      );
      expect(atRoute).toEqual({
        action: 'consent.read',
        outcome: 'denied',
        reason: 'auth.forbidden',
        resource_id: null,
        case_id: c.id,
        province_code: '01',
        commune_code: '00145',
      });
      // A withdrawal refused at the route names the consent.
      const withdrawal = await as('police.longbien')
        .delete(`/api/v1/cases/${c.id}/consents/${basis}`)
        .expect(404);
      expect(await entryOf(withdrawal.body.requestId, 'action, resource_id, case_id')).toEqual({
        action: 'consent.withdraw',
        resource_id: basis,
        case_id: c.id,
      });
      const entries = await t.app
        .get(DataSource)
        .query(
          `SELECT outcome, returned_ids FROM audit_events WHERE action = 'consent.read' AND case_id = $1 ORDER BY seq`,
          [c.id],
        );
      expect(entries).toEqual([
        { outcome: 'allowed', returned_ids: expect.arrayContaining([first, basis, ended]) },
        { outcome: 'allowed', returned_ids: [basis] },
        { outcome: 'allowed', returned_ids: [first] },
        { outcome: 'allowed', returned_ids: [] },
        { outcome: 'denied', returned_ids: [] },
        { outcome: 'denied', returned_ids: [] },
      ]);
    });

    it('a refused look at a referral of another province is on record in the case’s province, and shows the prober’s province no case', async () => {
      const c = await newCase(); // in Hà Nội
      const consentId = await consent(c.id, {
        organizationId: police,
        categories: ['identity'],
        givenBy: 'survivor',
      });
      const r = await refer(c.id, police, consentId);
      const org = await givenOrganization(t, {
        name: 'Công an thử Hải Phòng (giả định)',
        sector: 'police',
        serviceArea: { communeCodes: ['10507'] },
      });
      const { token, user } = await givenSignedIn(t, { role: 'provider', organizationId: org.id });
      const prober = (url: string, method: 'get' | 'post' = 'get', body: object = {}) =>
        http()[method](url).set('Authorization', `Bearer ${token}`).send(body).expect(404);
      await prober(`/api/v1/referrals/${r.id}`);
      await prober(`/api/v1/referrals/${r.id}/notes`, 'post', { text: 'thử (giả định)' });
      await prober(`/api/v1/referrals/${r.id}/accept`, 'post');
      const events = async (who: string) =>
        (await as(who).get(`/api/v1/audit/events?actorId=${user.id}&outcome=denied`).expect(200)).body
          .items as {
          caseId?: string;
          provinceCode: string | null;
        }[];
      // The case's province sees each attempt on its case.
      const hanoi = await events('supervisor.hanoi');
      expect(hanoi).toHaveLength(3);
      for (const e of hanoi) expect(e).toMatchObject({ caseId: c.id, provinceCode: '01' });
      // The prober's own province sees the attempts, not the case they were about.
      const haiphong = await events('supervisor.haiphong');
      expect(haiphong).toHaveLength(3);
      for (const e of haiphong) expect(e).toMatchObject({ provinceCode: null });
      expect(JSON.stringify(haiphong)).not.toContain(c.id);
    });

    it('walks a referral through pending → accepted → completed with what the provider may see at each step', async () => {
      const c = await newCase();
      const consentId = await consent(c.id, {
        organizationId: police,
        categories: ['identity', 'incident'],
        givenBy: 'survivor',
      });
      // The consent names the police: it does not cover the health station.
      const refused = await as('ward.longbien')
        .post(`/api/v1/cases/${c.id}/referrals`, {
          organizationId: health,
          consentId,
          services: ['medical_care'],
          urgency: 'routine',
        })
        .expect(422);
      expect(refused.body.code).toBe('unprocessable');

      const r = await refer(c.id, police, consentId);
      expect(r).toMatchObject({ status: 'pending', overdue: false, organizationId: police });
      // The answer is the referral as stored (its own columns from the insert's RETURNING).
      const stored = await as('ward.longbien').get(`/api/v1/referrals/${r.id}`).expect(200);
      expect(r).toEqual(metadata(stored.body));
      expect(stored.body.note).toBe('ghi chú giả');
      expect(new Date(r.dueAt).getTime() - new Date(r.createdAt).getTime()).toBe(12 * 3600 * 1000);

      const inbox = await as('police.longbien').get('/api/v1/referrals?status=pending').expect(200);
      expect(inbox.body.items.map((i: { id: string }) => i.id)).toContain(r.id);
      const otherInbox = await as('health.longbien').get('/api/v1/referrals').expect(200);
      expect(otherInbox.body.items.map((i: { id: string }) => i.id)).not.toContain(r.id);

      const pending = await as('police.longbien').get(`/api/v1/referrals/${r.id}`).expect(200);
      expect(pending.body.case.triage).toMatchObject({ riskLevel: c.triage.riskLevel });
      // Triage facts only: not the incident's type, forms, contexts or date either.
      expectNoIncidentFacts(pending.body.case.triage);
      for (const s of ['survivor', 'incident', 'perpetrator', 'health'])
        expect(pending.body.case).not.toHaveProperty(s);
      // Nor the ward's referring note (free text), nor the notes: triage facts only until it is accepted.
      expect(pending.body).not.toHaveProperty('note');
      expect(pending.body.notes ?? []).toEqual([]);
      const pendingRead = await entryOf(pending.headers['x-request-id'], 'fields');
      expect(pendingRead.fields).toEqual(['triage']);
      await as('health.longbien').get(`/api/v1/referrals/${r.id}`).expect(404);
      // The case itself, read by the provider while the referral waits: its triage too, nothing more.
      const pendingCase = await as('police.longbien').get(`/api/v1/cases/${c.id}`).expect(200);
      expectNoIncidentFacts(pendingCase.body.triage);
      const policeList = await as('police.longbien').get('/api/v1/cases?pageSize=100').expect(200);
      const listedCase = policeList.body.items.find((i: { id: string }) => i.id === c.id);
      expect(listedCase.triage).toMatchObject({ riskLevel: c.triage.riskLevel });
      expectNoIncidentFacts(listedCase.triage);
      for (const s of ['survivor', 'incident', 'perpetrator', 'health'])
        expect(pendingCase.body).not.toHaveProperty(s);
      expect((await entryOf(pendingCase.headers['x-request-id'], 'fields')).fields).toEqual(['triage']);
      // A referral it reads but has not accepted takes no note of it: a 409 saying why (not a 404), on record.
      const early = await as('police.longbien')
        .post(`/api/v1/referrals/${r.id}/notes`, { text: 'sớm (giả định)' })
        .expect(409);
      expect(early.body.detail).toMatch(/Accept the referral first/);
      expect(await entryOf(early.body.requestId, 'outcome, reason')).toEqual({
        outcome: 'denied',
        reason: 'conflict.state',
      });

      const accepted = await as('police.longbien').post(`/api/v1/referrals/${r.id}/accept`).expect(200);
      expect(accepted.body.status).toBe('accepted');
      const open = await as('police.longbien').get(`/api/v1/referrals/${r.id}`).expect(200);
      // The move's answer is the referral as stored (its state from the update's own RETURNING).
      expect(accepted.body).toEqual(metadata(open.body));
      expect(accepted.body.version).toBe(r.version + 1);
      // police sector: identity, contact, incident, perpetrator ∩ consent: identity, incident.
      expect(open.body.case.survivor.fullName).toBe(c.survivor.fullName);
      expect(open.body.case.survivor).not.toHaveProperty('phone');
      expect(open.body.case.incident.narrative).toBe(c.incident.narrative);
      // The consent gives the incident: its type and date come with the triage facts again.
      expect(open.body.case.triage).toMatchObject({
        gbvType: c.triage.gbvType,
        incidentDate: c.triage.incidentDate,
      });
      expect(open.body.case).not.toHaveProperty('perpetrator');
      expect(open.body.case).not.toHaveProperty('health');
      expect(open.body.note).toBe('ghi chú giả');

      const note = await as('police.longbien')
        .post(`/api/v1/referrals/${r.id}/notes`, { text: 'đã liên hệ' })
        .expect(201);
      expect(note.body.organizationId).toBe(police);
      const caseForWard = await as('ward.longbien').get(`/api/v1/cases/${c.id}`).expect(200);
      // The case view's referral metadata is the referral's own, field for field (same timestamps).
      expect(caseForWard.body.referrals).toEqual([
        {
          id: r.id,
          organizationId: police,
          organizationName: open.body.organizationName,
          sector: 'police',
          status: 'accepted',
          urgency: open.body.urgency,
          dueAt: open.body.dueAt,
          overdue: false,
          createdAt: open.body.createdAt,
          outcome: null,
          revokeCause: null,
        },
      ]);
      // A change's answer is the case as its read shows it, its referrals' metadata included.
      const patched = await as('ward.longbien')
        .patch(`/api/v1/cases/${c.id}`, { version: caseForWard.body.version, risk: { level: 'high' } })
        .expect(200);
      expect(patched.body.referrals).toEqual(caseForWard.body.referrals);
      const caseForPolice = await as('police.longbien').get(`/api/v1/cases/${c.id}`).expect(200);
      expect(caseForPolice.body.referrals.map((x: { id: string }) => x.id)).toEqual([r.id]);
      // Accepted, the case shows what the consent gives the police sector, as the referral does.
      expect(caseForPolice.body.survivor.fullName).toBe(c.survivor.fullName);
      expect(caseForPolice.body).not.toHaveProperty('perpetrator');
      const unwrap = jest.spyOn(t.app.get(DataKeyService), 'unwrap');
      const wardView = await as('ward.longbien').get(`/api/v1/referrals/${r.id}`).expect(200);
      // The notes and the case's sections are opened with the case's data key, unwrapped once.
      expect(wardView.body.case.survivor.fullName).toBe(c.survivor.fullName);
      // The case in the referral's view is the case as its own read shows it, field for field.
      const { referrals: _referrals, ...ownView } = caseForWard.body;
      expect(wardView.body.case).toEqual(ownView);
      expect(unwrap).toHaveBeenCalledTimes(1);
      unwrap.mockRestore();
      // The note's answer is the note as stored (its created_at from the insert's RETURNING).
      expect(wardView.body.notes).toContainEqual(note.body);
      expect(note.body.text).toBe('đã liên hệ');
      await as('health.longbien').post(`/api/v1/referrals/${r.id}/notes`, { text: 'x' }).expect(404);

      await as('police.longbien').post(`/api/v1/referrals/${r.id}/complete`, {}).expect(400);
      const done = await as('police.longbien')
        .post(`/api/v1/referrals/${r.id}/complete`, { outcome: 'services_delivered' })
        .expect(200);
      expect(done.body).toMatchObject({ status: 'completed', outcome: 'services_delivered' });
      const after = await as('police.longbien').get(`/api/v1/referrals/${r.id}`).expect(200);
      expect(done.body).toEqual(metadata(after.body));
      expect(after.body).not.toHaveProperty('case');
      expect(after.body).not.toHaveProperty('notes');
      await as('police.longbien').get(`/api/v1/cases/${c.id}`).expect(404);
    });

    it('answers every illegal transition with 409', async () => {
      const c = await newCase();
      const consentId = await consent(c.id, {
        sector: 'police',
        categories: ['identity'],
        givenBy: 'survivor',
      });
      const r = await refer(c.id, police, consentId, 'emergency');
      await as('police.longbien')
        .post(`/api/v1/referrals/${r.id}/complete`, { outcome: 'other' })
        .expect(409);
      await as('police.longbien').post(`/api/v1/referrals/${r.id}/accept`).expect(200);
      await as('police.longbien').post(`/api/v1/referrals/${r.id}/accept`).expect(409);
      await as('police.longbien').post(`/api/v1/referrals/${r.id}/decline`, { reason: 'x' }).expect(409);
      await as('ward.longbien')
        .post(`/api/v1/referrals/${r.id}/revoke`, { reason: 'không cần nữa' })
        .expect(200);
      await as('ward.longbien').post(`/api/v1/referrals/${r.id}/revoke`, { reason: 'again' }).expect(409);
      await as('police.longbien')
        .post(`/api/v1/referrals/${r.id}/complete`, { outcome: 'other' })
        .expect(409);

      const r2 = await refer(c.id, police, consentId);
      await as('police.longbien')
        .post(`/api/v1/referrals/${r2.id}/decline`, { reason: 'ngoài thẩm quyền' })
        .expect(200);
      await as('police.longbien').post(`/api/v1/referrals/${r2.id}/accept`).expect(409);
      await as('ward.longbien').post(`/api/v1/referrals/${r2.id}/revoke`, { reason: 'x' }).expect(409);
      // Other organisations and the ward cannot make the provider's moves at all.
      const r3 = await refer(c.id, police, consentId);
      await as('health.longbien').post(`/api/v1/referrals/${r3.id}/accept`).expect(404);
      await as('ward.bode').post(`/api/v1/referrals/${r3.id}/revoke`, { reason: 'x' }).expect(404);
    });

    it('the ward reads why a referral was declined or revoked; the provider does not, nor the list', async () => {
      const c = await newCase();
      const consentId = await consent(c.id, {
        sector: 'police',
        categories: ['identity'],
        givenBy: 'survivor',
      });
      const declined = await refer(c.id, police, consentId);
      await as('police.longbien')
        .post(`/api/v1/referrals/${declined.id}/decline`, { reason: 'Ngoài địa bàn ZZDECLINE (giả định)' })
        .expect(200);
      const revoked = await refer(c.id, police, consentId);
      await as('ward.longbien')
        .post(`/api/v1/referrals/${revoked.id}/revoke`, { reason: 'Đã chuyển nơi khác ZZREVOKE (giả định)' })
        .expect(200);
      const ward = async (id: string) =>
        (await as('ward.longbien').get(`/api/v1/referrals/${id}`).expect(200)).body;
      expect(await ward(declined.id)).toMatchObject({
        declineReason: 'Ngoài địa bàn ZZDECLINE (giả định)',
        revokeReason: null,
      });
      const read = await as('ward.longbien').get(`/api/v1/referrals/${revoked.id}`).expect(200);
      expect(read.body).toMatchObject({
        declineReason: null,
        revokeReason: 'Đã chuyển nơi khác ZZREVOKE (giả định)',
      });
      const entry = await entryOf(read.header['x-request-id'], 'fields');
      expect(entry.fields).toContain('notes');
      // Writing them is on record as notes too, as the referring note is.
      const written = await t.app.get(DataSource).query(
        `SELECT action, fields FROM audit_events
          WHERE resource_id = ANY($1) AND action IN ('referral.create', 'referral.decline', 'referral.revoke')
          ORDER BY seq`,
        [[declined.id, revoked.id]],
      );
      expect(
        written.map((w: { action: string; fields: string[] }) => [w.action, [...w.fields].sort()]),
      ).toEqual([
        ['referral.create', ['notes', 'triage']],
        ['referral.decline', ['notes', 'triage']],
        ['referral.create', ['notes', 'triage']],
        ['referral.revoke', ['notes', 'triage']],
      ]);
      // The organisation that declined sees the referral's metadata only, and a revocation by the system no reason.
      const provider = await as('police.longbien').get(`/api/v1/referrals/${declined.id}`).expect(200);
      expect(provider.body).not.toHaveProperty('declineReason');
      expect(JSON.stringify(provider.body)).not.toContain('ZZDECLINE');
      const list = await as('ward.longbien')
        .get('/api/v1/referrals?status=declined&pageSize=200')
        .expect(200);
      expect(list.body.items.map((i: { id: string }) => i.id)).toContain(declined.id); // listed, without it
      expect(JSON.stringify(list.body)).not.toContain('ZZDECLINE');
      const byWithdrawal = await refer(c.id, police, consentId);
      // Accepted, the provider reads its notes; still no reasons (they are the ward's).
      await as('police.longbien').post(`/api/v1/referrals/${byWithdrawal.id}/accept`).expect(200);
      const accepted = await as('police.longbien').get(`/api/v1/referrals/${byWithdrawal.id}`).expect(200);
      expect(accepted.body).toHaveProperty('notes');
      expect(accepted.body).not.toHaveProperty('declineReason');
      expect(JSON.stringify(accepted.body)).not.toContain('ZZDECLINE');
      expect(accepted.body).not.toHaveProperty('revokeReason');
      // Its declined referral shows nothing of the case, though the accepted one does (read through that one): a
      // referral that has ended gives nothing, and its read's entry does not say it disclosed what another gave.
      expect(accepted.body.case.survivor.fullName).toBe(c.survivor.fullName);
      const old = await as('police.longbien').get(`/api/v1/referrals/${declined.id}`).expect(200);
      expect(old.body).not.toHaveProperty('case');
      expect(old.body).not.toHaveProperty('notes');
      expect(JSON.stringify(old.body)).not.toContain(c.survivor.fullName);
      expect((await entryOf(old.headers['x-request-id'], 'fields')).fields).toEqual(['triage']);
      await as('ward.longbien').delete(`/api/v1/cases/${c.id}/consents/${consentId}`).expect(200);
      expect(await ward(byWithdrawal.id)).toMatchObject({ status: 'revoked', revokeReason: null });
    });

    it('a provider records which of the requested services it delivered when it completes a referral', async () => {
      const c = await newCase();
      const consentId = await consent(c.id, {
        organizationId: police,
        categories: ['identity'],
        givenBy: 'survivor',
      });
      const res = await as('ward.longbien')
        .post(`/api/v1/cases/${c.id}/referrals`, {
          organizationId: police,
          consentId,
          services: ['police_protection', 'investigation'],
          urgency: 'routine',
        })
        .expect(201);
      const r = res.body as { id: string };
      expect(res.body.servicesDelivered).toBeNull();
      await as('police.longbien').post(`/api/v1/referrals/${r.id}/accept`).expect(200);
      const complete = (body: object) =>
        as('police.longbien').post(`/api/v1/referrals/${r.id}/complete`, body);
      // Only services the referral asked for, each once, from the list.
      const notAsked = await complete({
        outcome: 'services_delivered',
        servicesDelivered: ['medical_care'],
      }).expect(422);
      expect(notAsked.body.detail).toMatch(/only services the referral requested/);
      const refusal = await entryOf(notAsked.body.requestId, 'action, outcome, resource_id');
      expect(refusal).toEqual({ action: 'referral.complete', outcome: 'denied', resource_id: r.id });
      // An outcome the list contradicts: "delivered" with none delivered, "unable to contact" with some.
      const none = await complete({ outcome: 'services_delivered', servicesDelivered: [] }).expect(422);
      expect(none.body.detail).toMatch(/at least one/);
      const unreached = await complete({
        outcome: 'unable_to_contact',
        servicesDelivered: ['investigation'],
      }).expect(422);
      expect(unreached.body.detail).toMatch(/unable_to_contact/);
      await complete({ outcome: 'services_delivered', servicesDelivered: ['teleportation'] }).expect(400);
      await complete({ outcome: 'services_delivered', servicesDelivered: 'investigation' }).expect(400);
      const done = await complete({
        outcome: 'services_delivered',
        servicesDelivered: ['investigation'],
      }).expect(200);
      expect(done.body).toMatchObject({ status: 'completed', servicesDelivered: ['investigation'] });
      const ward = await as('ward.longbien').get(`/api/v1/referrals/${r.id}`).expect(200);
      expect(ward.body.servicesDelivered).toEqual(['investigation']);
      // The database holds the rule too.
      await expect(
        t.app
          .get(DataSource)
          .query(`UPDATE referrals SET services_delivered = '{medical_care}' WHERE id = $1`, [r.id]),
      ).rejects.toThrow(/referrals_services_delivered_check/);
      // And only on a completed referral.
      const pending = await refer(c.id, police, consentId);
      await expect(
        t.app
          .get(DataSource)
          .query(`UPDATE referrals SET services_delivered = services WHERE id = $1`, [pending.id]),
      ).rejects.toThrow(/referrals_services_delivered_check/);
    });

    it('a consent given to a sector reaches that sector’s organisations serving the case’s commune, not others', async () => {
      const c = await newCase(); // in 00145, Hà Nội
      const elsewhere = await givenOrganization(t, {
        name: 'Công an thử nơi khác (giả định)',
        sector: 'police',
        serviceArea: { communeCodes: ['10507'] },
      });
      const bySector = await consent(c.id, {
        sector: 'police',
        categories: ['identity'],
        givenBy: 'survivor',
      });
      const refused = await as('ward.longbien')
        .post(`/api/v1/cases/${c.id}/referrals`, {
          organizationId: elsewhere.id,
          consentId: bySector,
          services: ['police_protection'],
          urgency: 'routine',
        })
        .expect(422);
      expect(refused.body.detail).toMatch(/does not cover this organisation/);
      const entry = await entryOf(refused.body.requestId, 'action, outcome, reason, case_id');
      expect(entry).toEqual({
        action: 'referral.create',
        outcome: 'denied',
        reason: 'unprocessable',
        case_id: c.id,
      });
      // The sector's organisation serving the commune is covered; one the survivor names is, wherever it is.
      await refer(c.id, police, bySector);
      const named = await consent(c.id, {
        organizationId: elsewhere.id,
        categories: ['identity'],
        givenBy: 'survivor',
      });
      const r = await refer(c.id, elsewhere.id, named);
      expect(r.status).toBe('pending');
    });

    it('a move sent with If-Match is refused when the referral moved on since it was read, saying what it is now', async () => {
      const r = await newPoliceReferral();
      await as('police.longbien')
        .post(`/api/v1/referrals/${r.id}/accept`)
        .set('If-Match', 'not-a-version')
        .expect(412);
      // The provider accepts the version it read.
      const accepted = await as('police.longbien')
        .post(`/api/v1/referrals/${r.id}/accept`)
        .set('If-Match', `"${r.version}"`)
        .expect(200);
      expect(accepted.body.version).toBe(r.version + 1);
      // The ward, from a page read before the acceptance: not revoked under the provider's feet.
      const stale = await as('ward.longbien')
        .post(`/api/v1/referrals/${r.id}/revoke`, { reason: 'không liên lạc được (giả định)' })
        .set('If-Match', `"${r.version}"`)
        .expect(409);
      expect(stale.body.code).toBe('conflict.version');
      expect(stale.body.detail).toContain(`now accepted, version ${r.version + 1}`);
      // In Vietnamese, the state in Vietnamese too (not the API's word for it).
      const staleVi = await as('ward.longbien')
        .post(`/api/v1/referrals/${r.id}/revoke`, { reason: 'không liên lạc được (giả định)' })
        .set('If-Match', `"${r.version}"`)
        .set('Accept-Language', 'vi')
        .expect(409);
      expect(staleVi.body.detail).toContain(`hiện ở trạng thái đã chấp nhận, phiên bản ${r.version + 1}`);
      expect((await as('ward.longbien').get(`/api/v1/referrals/${r.id}`).expect(200)).body.status).toBe(
        'accepted',
      );
      const [entry] = await t.app
        .get(DataSource)
        .query(
          `SELECT outcome, reason FROM audit_events WHERE request_id = $1 AND action = 'referral.revoke'`,
          [stale.body.requestId],
        );
      expect(entry).toEqual({ outcome: 'denied', reason: 'conflict.version' });
      // Without If-Match, as before: the move goes ahead on the state alone.
      await as('ward.longbien')
        .post(`/api/v1/referrals/${r.id}/revoke`, { reason: 'đã chuyển nơi khác (giả định)' })
        .expect(200);
    });

    it('a move that takes no body refuses one with fields: a version in the body is not checked there, so not taken', async () => {
      const r = await newPoliceReferral();
      const refused = await as('police.longbien')
        .post(`/api/v1/referrals/${r.id}/accept`, {
          version: r.version - 1,
          'Nguyễn Văn A': 1,
          NguyenThiLan: 1,
          Lan_0912345678: 1,
          '120590': 1,
        })
        .expect(400);
      expect(refused.body.code).toBe('request.validation');
      // A field the API declares somewhere is named; a key like a person's name, phone or date of birth (ddmmyy)
      // is not echoed back.
      expect(refused.body.errors).toEqual([
        expect.objectContaining({ field: '?', code: 'whitelistValidation' }),
        expect.objectContaining({ field: 'version', code: 'whitelistValidation' }),
        expect.objectContaining({ field: '?', code: 'whitelistValidation' }),
        expect.objectContaining({ field: '?', code: 'whitelistValidation' }),
        expect.objectContaining({ field: '?', code: 'whitelistValidation' }),
      ]);
      expect(JSON.stringify(refused.body)).not.toMatch(/Nguy|Lan|0912345678|120590/);
      const c = await newCase();
      const nested = await as('ward.longbien')
        .patch(`/api/v1/cases/${c.id}`, {
          version: c.version,
          survivor: { Lan_0912345678: 'x', '050310': 'x' },
        })
        .expect(400);
      expect(nested.body.errors).toEqual([
        expect.objectContaining({ field: 'survivor.?', code: 'whitelistValidation' }),
        expect.objectContaining({ field: 'survivor.?', code: 'whitelistValidation' }),
      ]);
      expect(JSON.stringify(nested.body)).not.toMatch(/050310/);
      // A view echoed back into a change: its fields are named (the API's own documents show them).
      const echoed = await as('ward.longbien')
        .patch(`/api/v1/cases/${c.id}`, {
          version: c.version,
          id: c.id,
          createdAt: c.createdAt,
          triage: c.triage,
        })
        .expect(400);
      expect(echoed.body.errors.map((e: { field: string }) => e.field).sort()).toEqual([
        'createdAt',
        'id',
        'triage',
      ]);
      expect((await as('ward.longbien').get(`/api/v1/referrals/${r.id}`).expect(200)).body.status).toBe(
        'pending',
      );
      // Nor a query string on a route that takes none (a version there is not checked either; a phone in a URL
      // is kept by proxies and browsers), its keys named as a body's are.
      const queried = await as('police.longbien')
        .post(`/api/v1/referrals/${r.id}/accept?version=${r.version}&Lan_0912345678=1`)
        .expect(400);
      expect(queried.body.detail).toMatch(/takes no query parameters/);
      expect(queried.body.errors.map((e: { field: string }) => e.field)).toEqual(['version', '?']);
      expect(JSON.stringify(queried.body)).not.toMatch(/0912345678/);
      await as('ward.longbien').get(`/api/v1/cases/${c.id}?phone=0912345678`).expect(400);
      // Nor an If-Match on a route that is not made conditional on a version: 412 (no entity-tag matches); `*`
      // (any current one) passes.
      const organization = await as('admin')
        .patch(`/api/v1/organizations/${r.organizationId}`, { name: 'Công an phường (đổi tên giả định)' })
        .set('If-Match', '"3"')
        .expect(412);
      expect(organization.body).toMatchObject({ code: 'precondition.failed' });
      expect(organization.body.detail).toMatch(/not made conditional on a version/);
      await as('police.longbien').get(`/api/v1/referrals/${r.id}`).set('If-Match', '*').expect(200);
      // An empty object is no body; the version goes in If-Match.
      await as('police.longbien').post(`/api/v1/referrals/${r.id}/accept`, {}).expect(200);
      // The same answer for a referral the caller may not see as for one it may: nothing told of it.
      await as('health.longbien').post(`/api/v1/referrals/${r.id}/accept`, { version: 1 }).expect(400);
      // A route that reads the request itself (a report) takes no body either; sign-in's, read by its guard, does.
      await as('admin')
        .get('/api/v1/reports/summary?from=2026-01-01&to=2026-01-31')
        .send({ ward: '00145' })
        .expect(400);
      await request(t.app.getHttpServer())
        .post('/api/v1/auth/login')
        .send({ username: 'ward.longbien', password: DEMO_PASSWORD })
        .expect(200);
    });

    it('lets exactly one of two simultaneous accepts win', async () => {
      const r = await newPoliceReferral();
      const results = await Promise.all([
        as('police.longbien').post(`/api/v1/referrals/${r.id}/accept`),
        as('police.longbien').post(`/api/v1/referrals/${r.id}/accept`),
      ]);
      expect(results.map((x) => x.status).sort()).toEqual([200, 409]);
    });

    it('pages the inbox: waiting for an answer first, most urgent first, then accepted, then ended, newest first; a total over every page, nothing dropped', async () => {
      /** A new case referred to the police with `urgency`, under the survivor's consent: the referral's id. */
      const referredToPolice = async (urgency: string): Promise<string> => {
        const c = await newCase();
        const consentId = await consent(c.id, {
          organizationId: police,
          categories: ['identity'],
          givenBy: 'survivor',
        });
        return (await refer(c.id, police, consentId, urgency)).id as string;
      };
      // One declined before the others are made: its deadline comes before the later routine one's.
      const ended = await referredToPolice('routine');
      await as('police.longbien')
        .post(`/api/v1/referrals/${ended}/decline`, { reason: 'ngoài thẩm quyền (giả định)' })
        .expect(200);
      // One accepted, its answer's deadline (12 hours) before the new routine one's (5 days): listed after it all
      // the same, with the accepted work. Then another accepted later, with a later deadline: listed before it
      // (newest first), as a second decline is before the first.
      const taken = await referredToPolice('urgent');
      await as('police.longbien').post(`/api/v1/referrals/${taken}/accept`).expect(200);
      const takenLater = await referredToPolice('routine');
      await as('police.longbien').post(`/api/v1/referrals/${takenLater}/accept`).expect(200);
      // Routine, as the first decline: by deadline it would come after it; newest first, before.
      const endedLater = await referredToPolice('routine');
      await as('police.longbien')
        .post(`/api/v1/referrals/${endedLater}/decline`, { reason: 'ngoài thẩm quyền (giả định)' })
        .expect(200);
      const ids: string[] = [];
      for (const urgency of ['routine', 'emergency', 'urgent']) ids.push(await referredToPolice(urgency));
      const all = await as('police.longbien')
        .get('/api/v1/referrals?status=pending&pageSize=200')
        .expect(200);
      const total = all.body.total as number;
      expect(total).toBe(all.body.items.length);
      expect(total).toBeGreaterThanOrEqual(3);
      const dues = (all.body.items as { dueAt: string }[]).map((r) => r.dueAt);
      expect([...dues].sort()).toEqual(dues);
      // Walking the pages returns every referral once.
      const seen: string[] = [];
      for (let page = 1; page <= Math.ceil(total / 2); page++) {
        const res = await as('police.longbien')
          .get(`/api/v1/referrals?status=pending&page=${page}&pageSize=2`)
          .expect(200);
        expect(res.body).toMatchObject({ total, page, pageSize: 2 });
        seen.push(...(res.body.items as { id: string }[]).map((r) => r.id));
      }
      expect(seen).toEqual((all.body.items as { id: string }[]).map((r) => r.id));
      expect(seen).toEqual(expect.arrayContaining(ids));
      const past = await as('police.longbien').get(
        `/api/v1/referrals?status=pending&page=${total + 1}&pageSize=1`,
      );
      expect(past.status).toBe(200);
      expect(past.body).toMatchObject({ items: [], total });
      // Unfiltered (every status), and in the ward's scope (joined to the case's commune): the same rules.
      for (const [user, path] of [
        ['police.longbien', '/api/v1/referrals'],
        ['ward.longbien', '/api/v1/referrals'],
      ] as const) {
        const every = await as(user).get(`${path}?pageSize=200`).expect(200);
        expect(every.body.total).toBe(every.body.items.length);
        expect(every.body.total).toBeGreaterThanOrEqual(total);
        // Pending first by deadline, then accepted, then ended, each newest first: the accepted one after the new
        // ones (its deadline earlier), the declined one after it.
        const items = every.body.items as { dueAt: string; createdAt: string; id: string; status: string }[];
        const rank = (status: string) => ({ pending: 0, accepted: 1 })[status] ?? 2;
        const pending = items.filter((r) => r.status === 'pending').map((r) => r.dueAt);
        expect([...pending].sort()).toEqual(pending);
        expect(items.map((r) => rank(r.status))).toEqual(items.map((r) => rank(r.status)).sort());
        for (const part of [1, 2]) {
          const made = items.filter((r) => rank(r.status) === part).map((r) => r.createdAt);
          expect([...made].sort().reverse()).toEqual(made);
        }
        const at = (id: string) => items.findIndex((r) => r.id === id);
        expect(at(taken)).toBeGreaterThan(Math.max(...ids.map(at)));
        expect(at(ended)).toBeGreaterThan(at(taken));
        expect(at(takenLater)).toBeLessThan(at(taken));
        expect(at(endedLater)).toBeLessThan(at(ended));
        expect(Math.min(...ids.map(at))).toBeGreaterThanOrEqual(0);
        const second = await as(user).get(`${path}?page=2&pageSize=2`).expect(200);
        expect(second.body.total).toBe(every.body.total);
        expect(second.body.items.map((r: { id: string }) => r.id)).toEqual(
          every.body.items.slice(2, 4).map((r: { id: string }) => r.id),
        );
        const beyond = await as(user)
          .get(`${path}?page=${every.body.total + 1}&pageSize=1`)
          .expect(200);
        expect(beyond.body).toMatchObject({ items: [], total: every.body.total });
      }
      await as('police.longbien').get('/api/v1/referrals?pageSize=201').expect(400);
      await as('police.longbien').get('/api/v1/referrals?page=0').expect(400);
      // Pages reach the first 10,000 rows (an OFFSET reads what it skips); further, the filters narrow the list.
      await as('police.longbien').get('/api/v1/referrals?page=51&pageSize=200').expect(200);
      const deep = await as('police.longbien').get('/api/v1/referrals?page=52&pageSize=200').expect(400);
      expect(deep.body.errors).toEqual([
        expect.objectContaining({ field: 'page', message: expect.stringContaining('filters') }),
      ]);
      // The case list has no filters: it says to search.
      await as('ward.longbien').get('/api/v1/cases?page=10001&pageSize=1').expect(200);
      const deepCases = await as('ward.longbien').get('/api/v1/cases?page=10002&pageSize=1').expect(400);
      expect(deepCases.body.errors[0]).toMatchObject({
        field: 'page',
        message: expect.stringContaining('/api/v1/cases/search'),
      });
    });

    it('withdrawing consent revokes its referrals at once and the provider loses access', async () => {
      const c = await newCase();
      const consentId = await consent(c.id, {
        sector: 'health',
        categories: ['identity', 'health'],
        givenBy: 'guardian',
      });
      const res = await as('ward.longbien')
        .post(`/api/v1/cases/${c.id}/referrals`, {
          organizationId: health,
          consentId,
          services: ['medical_care'],
          urgency: 'routine',
        })
        .expect(201);
      await as('health.longbien').post(`/api/v1/referrals/${res.body.id}/accept`).expect(200);
      const seen = await as('health.longbien').get(`/api/v1/referrals/${res.body.id}`).expect(200);
      expect(seen.body.case.health.injuries).toBeDefined();

      const withdrawn = await as('ward.longbien')
        .delete(`/api/v1/cases/${c.id}/consents/${consentId}`)
        .expect(200);
      expect(withdrawn.body).toMatchObject({ status: 'withdrawn', revokedReferralIds: [res.body.id] });
      const after = await as('health.longbien').get(`/api/v1/referrals/${res.body.id}`).expect(200);
      expect(after.body).toMatchObject({ status: 'revoked', revokeCause: 'consent_withdrawn' });
      expect(after.body).not.toHaveProperty('case');
      await as('health.longbien').get(`/api/v1/cases/${c.id}`).expect(404);
      // A withdrawn consent grounds no new referral.
      await as('ward.longbien')
        .post(`/api/v1/cases/${c.id}/referrals`, {
          organizationId: health,
          consentId,
          services: ['medical_care'],
          urgency: 'routine',
        })
        .expect(422);
      await as('ward.longbien').delete(`/api/v1/cases/${c.id}/consents/${consentId}`).expect(409);
      await as('ward.bode').delete(`/api/v1/cases/${c.id}/consents/${consentId}`).expect(404);
    });

    /** A survivor's consent to the police for `identity`, for an hour. */
    const consentForAnHour = (caseId: string) =>
      consent(caseId, {
        organizationId: police,
        categories: ['identity'],
        givenBy: 'survivor',
        expiresAt: new Date(Date.now() + 3600_000).toISOString(),
      });
    /** Ends a consent a second ago by the database's clock, as if the hour had passed. */
    const expireNow = (consentId: string) =>
      t.app
        .get(DataSource)
        .query(`UPDATE consents SET expires_at = now() - interval '1 second' WHERE id = $1`, [consentId]);

    it('an expired consent ends the provider’s access the moment it expires', async () => {
      const c = await newCase();
      const consentId = await consentForAnHour(c.id);
      const r = await refer(c.id, police, consentId);
      await as('police.longbien').post(`/api/v1/referrals/${r.id}/accept`).expect(200);
      // Ended a moment after the acceptance, noticed only later.
      await new Promise((resolve) => setTimeout(resolve, 50));
      // (An UPDATE's answer through TypeORM: its rows, then its count.)
      const [[{ expires_at: endedAt }]] = await t.app.get(DataSource).query<[{ expires_at: Date }[], number]>(
        `UPDATE consents
              SET expires_at = (SELECT accepted_at FROM referrals WHERE id = $2) + interval '10 milliseconds'
            WHERE id = $1 RETURNING expires_at`,
        [consentId, r.id],
      );
      // The very next look, whatever the path, shows nothing: the case itself first.
      await as('police.longbien')
        .get(`/api/v1/cases/${c.id}`)
        .set('X-Request-Id', 'e0e1ced000000001')
        .expect(404);
      const after = await as('police.longbien').get(`/api/v1/referrals/${r.id}`).expect(200);
      expect(after.body).toMatchObject({ status: 'revoked', revokeCause: 'consent_expired' });
      // Revoked when the consent ended (access decisions took it so from then), not when the sweep came by.
      expect(after.body.revokedAt).toBe(endedAt.toISOString());
      const [revocation] = await t.app.get(DataSource).query(
        `SELECT actor_id, reason, request_id, ip, user_agent FROM audit_events
            WHERE action = 'referral.revoke' AND resource_id = $1`,
        [r.id],
      );
      // The system revoked it, inside the read that noticed the expiry: that request's id is on record, not
      // its caller's address or user agent (the sweep runs in anyone's request, for any case).
      expect(revocation).toEqual({
        actor_id: null,
        reason: 'referral.consent_expired',
        request_id: 'e0e1ced000000001',
        ip: null,
        user_agent: null,
      });
      const [read] = await t.app
        .get(DataSource)
        .query(`SELECT ip FROM audit_events WHERE request_id = 'e0e1ced000000001' AND action = 'case.read'`);
      expect(read.ip).not.toBeNull();
      expect(after.body).not.toHaveProperty('case');
    });

    it('a provider’s read decrypts a section only while its organisation’s accepted referral rests on a consent releasing it', async () => {
      const c = await newCase();
      const consentId = await consent(c.id, {
        organizationId: police,
        categories: ['identity', 'incident'],
        givenBy: 'survivor',
      });
      const r = await refer(c.id, police, consentId);
      await as('police.longbien').post(`/api/v1/referrals/${r.id}/accept`).expect(200);
      const read = await as('police.longbien').get(`/api/v1/cases/${c.id}`).expect(200);
      expect(read.body.survivor.fullName).toEqual(expect.any(String));
      // Between the check and the fetch, the organisation's accepted referral comes to rest on a consent that
      // releases less (as when the ward revokes it and a new one, under a consent for the incident only, is
      // accepted): what the check allowed on the old consent is no longer released.
      const cases = t.app.get(CasesRepository);
      const look = cases.findWithReferrals.bind(cases);
      const db = t.app.get(DataSource);
      const meanwhile = jest.spyOn(cases, 'findWithReferrals').mockImplementationOnce(async (...args) => {
        const found = await look(...args);
        await db.query(`UPDATE consents SET categories = '{incident}' WHERE id = $1`, [consentId]);
        return found;
      });
      try {
        await as('police.longbien').get(`/api/v1/cases/${c.id}`).expect(404);
      } finally {
        meanwhile.mockRestore();
      }
      // Read again, on the consent as it now is: the incident only.
      const narrowed = await as('police.longbien').get(`/api/v1/cases/${c.id}`).expect(200);
      expect(narrowed.body).not.toHaveProperty('survivor.fullName');
      expect(narrowed.body.incident).toBeDefined();
    });

    it('a referral carries its consent’s expiry, kept by the database whoever writes (the sweep finds it by that copy)', async () => {
      const c = await newCase();
      const consentId = await consentForAnHour(c.id);
      const r = await refer(c.id, police, consentId);
      const db = t.app.get(DataSource);
      const copy = () =>
        db.query<{ copied: Date | null; own: Date }[]>(
          `SELECT r.consent_expires_at AS copied, cs.expires_at AS own
             FROM referrals r JOIN consents cs ON cs.id = r.consent_id WHERE r.id = $1`,
          [r.id],
        );
      const [inserted] = await copy();
      expect(inserted.own).toBeInstanceOf(Date);
      expect(inserted.copied).toEqual(inserted.own);
      // Written by hand on the referral: the consent's is taken back.
      await db.query(`UPDATE referrals SET consent_expires_at = NULL WHERE id = $1`, [r.id]);
      const [rewritten] = await copy();
      expect(rewritten.copied).toEqual(rewritten.own);
      // A consent's expiry moved (the service never moves one) is carried to its referrals, and the sweep acts on it.
      await expireNow(consentId);
      const [moved] = await copy();
      expect(moved.copied).toEqual(moved.own);
      expect(moved.own.getTime()).toBeLessThan(Date.now());
      const after = await as('ward.longbien').get(`/api/v1/referrals/${r.id}`).expect(200);
      expect(after.body).toMatchObject({ status: 'revoked', revokeCause: 'consent_expired' });
      const [row] = await db.query(`SELECT status FROM referrals WHERE id = $1`, [r.id]);
      expect(row.status).toBe('revoked');
    });

    it('a referral whose consent ended while it was being made is dated revoked no earlier than it was made', async () => {
      const c = await newCase();
      const consentId = await consentForAnHour(c.id);
      const r = await refer(c.id, police, consentId);
      // As if the consent, checked live, ended before the referral's row was written.
      await t.app.get(DataSource).query(
        `UPDATE consents SET expires_at = (SELECT created_at FROM referrals WHERE id = $2) - interval '1 second'
            WHERE id = $1`,
        [consentId, r.id],
      );
      const after = await as('police.longbien').get(`/api/v1/referrals/${r.id}`).expect(200);
      expect(after.body).toMatchObject({ status: 'revoked', revokeCause: 'consent_expired' });
      expect(after.body.revokedAt).toBe(after.body.createdAt);
    });

    it('an expired consent’s referral is revoked before a report counts it, and before a new referral is refused as a duplicate', async () => {
      const c = await newCase();
      const first = await consentForAnHour(c.id);
      const r = await refer(c.id, police, first);
      await expireNow(first);
      // A new consent to the same organisation grounds a new referral at once: the old one is revoked first.
      const second = await consentForAnHour(c.id);
      const again = await refer(c.id, police, second);
      expect(again.id).not.toBe(r.id);
      const db = t.app.get(DataSource);
      const [old] = await db.query(`SELECT status, revoke_cause FROM referrals WHERE id = $1`, [r.id]);
      expect(old).toEqual({ status: 'revoked', revoke_cause: 'consent_expired' });
      // And a report, the first thing to look after an expiry, counts it as revoked: the revocation is written
      // before the report reads the referrals.
      await expireNow(second);
      const { statements } = await statementsDuring(() =>
        as('supervisor.hanoi').get('/api/v1/reports/summary').expect(200),
      );
      const revoked = statements.findIndex((q) => /UPDATE referrals r SET status = 'revoked'/.test(q));
      const counted = statements.findIndex((q) => /r\.case_province_code/.test(q));
      expect(revoked).toBeGreaterThanOrEqual(0);
      expect(counted).toBeGreaterThan(revoked);
      const [after] = await db.query(`SELECT status FROM referrals WHERE id = $1`, [again.id]);
      expect(after.status).toBe('revoked');
    });

    it('a close does not take over a referral whose consent had already expired: that one ended with its consent', async () => {
      const c = await newCase();
      const expiring = await consentForAnHour(c.id);
      const expired = await refer(c.id, police, expiring);
      await as('police.longbien').post(`/api/v1/referrals/${expired.id}/accept`).expect(200);
      const live = await refer(
        c.id,
        health,
        await consent(c.id, { organizationId: health, categories: ['health'], givenBy: 'survivor' }),
      );
      await expireNow(expiring); // not swept yet: nothing has looked since
      const closed = await as('ward.longbien')
        .post(`/api/v1/cases/${c.id}/close`, { reason: 'Đã hỗ trợ xong (giả định)' })
        .expect(200);
      expect(closed.body.revokedReferralIds).toEqual([live.id]);
      const db = t.app.get(DataSource);
      expect(
        await db.query(`SELECT id, revoke_cause FROM referrals WHERE case_id = $1 ORDER BY revoke_cause`, [
          c.id,
        ]),
      ).toEqual([
        { id: live.id, revoke_cause: 'case_closed' },
        { id: expired.id, revoke_cause: 'consent_expired' },
      ]);
      // The system's revocation, inside the close that noticed it.
      const [revocation] = await db.query(
        `SELECT actor_id, reason, request_id FROM audit_events WHERE action = 'referral.revoke' AND resource_id = $1`,
        [expired.id],
      );
      expect(revocation).toEqual({
        actor_id: null,
        reason: 'referral.consent_expired',
        request_id: closed.header['x-request-id'],
      });
    });

    it('closing a case ends its referrals: its providers see nothing of it from then on', async () => {
      const c = await newCase();
      const consentId = await consentForAnHour(c.id);
      const accepted = await refer(c.id, police, consentId);
      await as('police.longbien').post(`/api/v1/referrals/${accepted.id}/accept`).expect(200);
      await as('police.longbien').get(`/api/v1/cases/${c.id}`).expect(200);
      const closed = await as('ward.longbien')
        .post(`/api/v1/cases/${c.id}/close`, { reason: 'Đã hỗ trợ xong (giả định)' })
        .expect(200);
      // The answer says which referrals the close ended (the accepted one included: its provider loses access).
      expect(closed.body).toMatchObject({ status: 'closed', revokedReferralIds: [accepted.id] });
      await as('police.longbien').get(`/api/v1/cases/${c.id}`).expect(404);
      const after = await as('police.longbien').get(`/api/v1/referrals/${accepted.id}`).expect(200);
      expect(after.body).toMatchObject({ status: 'revoked', revokeCause: 'case_closed' });
      expect(after.body).not.toHaveProperty('case');
      // The referral it still reads has ended: no note (409, saying so), nor the ward's.
      const providerNote = await as('police.longbien')
        .post(`/api/v1/referrals/${accepted.id}/notes`, { text: 'muộn' })
        .expect(409);
      expect(providerNote.body.detail).toMatch(/no more notes/);
      const wardNote = await as('ward.longbien')
        .post(`/api/v1/referrals/${accepted.id}/notes`, { text: 'muộn' })
        .expect(409);
      expect(wardNote.body.detail).toMatch(/no more notes/);
      // The ward reads why it was closed, in the case and in the referral's view of it; on record as notes.
      const ward = await as('ward.longbien').get(`/api/v1/cases/${c.id}`).expect(200);
      expect(ward.body.closeReason).toBe('Đã hỗ trợ xong (giả định)');
      const entry = await entryOf(ward.header['x-request-id'], 'fields');
      expect(entry.fields).toContain('notes');
      const viaReferral = await as('ward.longbien').get(`/api/v1/referrals/${accepted.id}`).expect(200);
      expect(viaReferral.body.case.closeReason).toBe('Đã hỗ trợ xong (giả định)');
      // A supervisor sees that it is closed, never why.
      const supervisor = await as('supervisor.hanoi').get(`/api/v1/cases/${c.id}`).expect(200);
      expect(supervisor.body.status).toBe('closed');
      expect(supervisor.body).not.toHaveProperty('closeReason');
    });

    it('referrals ended together (a case closed) are revoked at one time, after the close took them', async () => {
      const c = await newCase();
      const first = await refer(c.id, police, await consentForAnHour(c.id));
      const second = await refer(
        c.id,
        health,
        await consent(c.id, { organizationId: health, categories: ['identity'], givenBy: 'survivor' }),
      );
      await as('ward.longbien')
        .post(`/api/v1/cases/${c.id}/close`, { reason: 'Đã hỗ trợ xong (giả định)' })
        .expect(200);
      // Compared in the database, to the microsecond.
      const [times] = await t.app.get(DataSource).query(
        `SELECT count(*)::int AS revoked, count(DISTINCT r.revoked_at)::int AS times,
                bool_and(r.revoked_at >= c.closed_at) AS after_close
           FROM referrals r JOIN cases c ON c.id = r.case_id WHERE r.id = ANY($1)`,
        [[first.id, second.id]],
      );
      expect(times).toEqual({ revoked: 2, times: 1, after_close: true });
    });

    it('a referral left live on a closed case (a database from before closing ended them) shows its provider nothing of the case', async () => {
      const c = await newCase();
      const consentId = await consentForAnHour(c.id);
      const accepted = await refer(c.id, police, consentId);
      await as('police.longbien').post(`/api/v1/referrals/${accepted.id}/accept`).expect(200);
      // Closed as an earlier version closed cases: the referral stays accepted.
      await t.app
        .get(DataSource)
        .query(`UPDATE cases SET status = 'closed', closed_at = now() WHERE id = $1`, [c.id]);
      await as('police.longbien').get(`/api/v1/cases/${c.id}`).expect(404);
      const list = await as('police.longbien').get('/api/v1/cases').expect(200);
      expect((list.body.items as { id: string }[]).map((i) => i.id)).not.toContain(c.id);
      // Nor through the referral: no case, no referring note, no notes.
      await as('police.longbien')
        .post(`/api/v1/referrals/${accepted.id}/notes`, { text: 'Đã gặp (giả định)' })
        .expect(409);
      const viaReferral = await as('police.longbien').get(`/api/v1/referrals/${accepted.id}`).expect(200);
      expect(viaReferral.body.status).toBe('accepted');
      expect(viaReferral.body).not.toHaveProperty('case');
      expect(viaReferral.body).not.toHaveProperty('note');
      expect(viaReferral.body).not.toHaveProperty('notes');
      // Nor is a referral of it left pending taken on (409, on record).
      const other = await newCase();
      const pending = await refer(other.id, police, await consentForAnHour(other.id));
      await t.app
        .get(DataSource)
        .query(`UPDATE cases SET status = 'closed', closed_at = now() WHERE id = $1`, [other.id]);
      const refused = await as('police.longbien').post(`/api/v1/referrals/${pending.id}/accept`).expect(409);
      expect(refused.body.detail).toMatch(/The case is closed/);
      expect(await entryOf(refused.body.requestId, 'action, outcome, reason')).toEqual({
        action: 'referral.accept',
        outcome: 'denied',
        reason: 'conflict.state',
      });
    });

    it('crypto-shredding ends the case’s referrals; what would add to it is 409, never 500; a second shred is 409', async () => {
      const c = await newCase();
      const consentId = await consent(c.id, {
        sector: 'police',
        categories: ['identity'],
        givenBy: 'survivor',
        expiresAt: new Date(Date.now() + 3600_000).toISOString(),
      });
      const pending = await refer(c.id, police, consentId);
      const basis = await consent(c.id, {
        sector: 'health',
        categories: ['health'],
        legalBasis: 'imminent_danger',
        reason: 'Nguy hiểm trước mắt (giả định)',
      });
      await as('admin').post(`/api/v1/cases/${c.id}/shred`, { password: DEMO_PASSWORD }).expect(200);
      const db = t.app.get(DataSource);
      // The consents stay listed; a legal basis's reason went with the data key.
      const consents = await as('ward.longbien').get(`/api/v1/cases/${c.id}/consents`).expect(200);
      expect(consents.body.items.find((i: { id: string }) => i.id === basis)).toMatchObject({ reason: null });
      const [row] = await db.query(`SELECT status, revoke_cause FROM referrals WHERE id = $1`, [pending.id]);
      expect(row).toEqual({ status: 'revoked', revoke_cause: 'case_shredded' });
      const inbox = await as('police.longbien').get('/api/v1/referrals?status=pending').expect(200);
      expect(inbox.body.items.map((i: { id: string }) => i.id)).not.toContain(pending.id);
      await as('police.longbien')
        .post(`/api/v1/referrals/${pending.id}/decline`, { reason: 'x' })
        .expect(409);
      const lateNote = await as('ward.longbien')
        .post(`/api/v1/referrals/${pending.id}/notes`, { text: 'ghi chú' })
        .expect(409);
      // The refusal is on record, as the other refusals of a change are.
      expect(await entryOf(lateNote.body.requestId, 'action, outcome, reason')).toEqual({
        action: 'note.create',
        outcome: 'denied',
        reason: 'conflict.state',
      });
      // Shredding closed the case (nothing can be added to it): it leaves the open work, by the administrator.
      const [closed] = await db.query(
        `SELECT c.status, c.closed_at IS NOT NULL AS dated, u.username AS closed_by, c.enc_close_reason
         FROM cases c JOIN users u ON u.id = c.closed_by WHERE c.id = $1`,
        [c.id],
      );
      expect(closed).toEqual({ status: 'closed', dated: true, closed_by: 'admin', enc_close_reason: null });
      const read = await as('ward.longbien').get(`/api/v1/cases/${c.id}`).expect(200);
      expect(read.body.status).toBe('closed');
      const close = await as('ward.longbien')
        .post(`/api/v1/cases/${c.id}/close`, { reason: 'đóng' })
        .expect(409);
      expect(close.body.code).toBe('conflict.state');
      const again = await as('admin')
        .post(`/api/v1/cases/${c.id}/shred`, { password: DEMO_PASSWORD })
        .expect(409);
      expect(again.body.code).toBe('conflict.state');
      const shreds = await db.query(
        `SELECT outcome, reason FROM audit_events WHERE action = 'case.shred' AND case_id = $1 ORDER BY seq`,
        [c.id],
      );
      // The second attempt is on record as refused; it did not write a second shred.
      expect(shreds).toEqual([
        { outcome: 'allowed', reason: null },
        { outcome: 'denied', reason: 'conflict.state' },
      ]);
    });

    it('crypto-shredding a closed case keeps who closed it and when', async () => {
      const c = await newCase();
      await as('ward.longbien').post(`/api/v1/cases/${c.id}/close`, { reason: 'đã hỗ trợ xong' }).expect(200);
      const db = t.app.get(DataSource);
      const closure = `SELECT c.status, c.closed_at, u.username AS closed_by FROM cases c
        JOIN users u ON u.id = c.closed_by WHERE c.id = $1`;
      const [before] = await db.query(closure, [c.id]);
      expect(before).toMatchObject({ status: 'closed', closed_by: 'ward.longbien' });
      await as('admin').post(`/api/v1/cases/${c.id}/shred`, { password: DEMO_PASSWORD }).expect(200);
      expect((await db.query(closure, [c.id]))[0]).toEqual(before);
    });

    it('a refused consent or referral on another province’s case is on record in that case’s province too', async () => {
      const c = await newCase();
      const { token } = await givenSignedIn(t, {
        role: 'ward_officer',
        username: 'ward.haiphong.probe',
        wardCodes: ['10507'],
      });
      const probe = (url: string, body: object) =>
        http().post(url).set('Authorization', `Bearer ${token}`).send(body);
      const refusals = [
        await probe(`/api/v1/cases/${c.id}/consents`, {
          sector: 'police',
          categories: ['identity'],
          givenBy: 'survivor',
        }),
        await probe(`/api/v1/cases/${c.id}/referrals`, {
          organizationId: police,
          consentId: randomUUID(),
          services: ['police_protection'],
          urgency: 'routine',
        }),
        await http()
          .delete(`/api/v1/cases/${c.id}/consents/${randomUUID()}`)
          .set('Authorization', `Bearer ${token}`),
      ];
      expect(refusals.map((r) => r.status)).toEqual([404, 404, 404]);
      const entries = await t.app
        .get(DataSource)
        .query(`SELECT action, jurisdictions FROM audit_events WHERE request_id = ANY($1) ORDER BY seq`, [
          refusals.map((r) => r.headers['x-request-id']),
        ]);
      expect(entries.map((e: { action: string }) => e.action)).toEqual([
        'consent.create',
        'referral.create',
        'consent.withdraw',
      ]);
      for (const e of entries) expect(e.jurisdictions).toContain('01');
    });

    it('a provider’s list showing another province’s case is on record in that case’s province too', async () => {
      const c = await newCase(); // Hà Nội (01)
      // An organisation of Hải Phòng (31), named by the consent.
      const org = await givenOrganization(t, {
        name: 'Công an thử liên tỉnh (giả định)',
        sector: 'police',
        serviceArea: { communeCodes: ['10507'] },
      });
      const { token } = await givenSignedIn(t, { role: 'provider', organizationId: org.id });
      const consentId = await consent(c.id, {
        organizationId: org.id,
        categories: ['identity'],
        givenBy: 'survivor',
      });
      await refer(c.id, org.id, consentId);
      const lists = [];
      for (const url of ['/api/v1/referrals', '/api/v1/cases']) {
        lists.push(await http().get(url).set('Authorization', `Bearer ${token}`).expect(200));
      }
      expect(lists[1].body.items.map((i: { id: string }) => i.id)).toContain(c.id);
      const ids: string[] = lists.map((r) => r.headers['x-request-id']);
      const entries = await t.app
        .get(DataSource)
        .query(`SELECT action, jurisdictions FROM audit_events WHERE request_id = ANY($1) ORDER BY seq`, [
          ids,
        ]);
      expect(entries).toEqual([
        { action: 'referral.list', jurisdictions: ['01', '31'] },
        { action: 'case.list', jurisdictions: ['01', '31'] },
      ]);
      // Hà Nội's supervisors find them under the case.
      const seen = await as('supervisor.hanoi').get(`/api/v1/audit/events?caseId=${c.id}`).expect(200);
      const seenIds = (seen.body.items as { requestId: string }[]).map((i) => i.requestId);
      expect(seenIds).toEqual(expect.arrayContaining(ids));
    });

    it('a child-protection duty is a legal basis for a child or a survivor of unknown age, not for an adult', async () => {
      const basis = { organizationId: police, categories: ['identity'], legalBasis: 'child_protection_duty' };
      const adult = await newCase();
      const refused = await as('ward.longbien')
        .post(`/api/v1/cases/${adult.id}/consents`, { ...basis, reason: 'Nghĩa vụ bảo vệ trẻ em' })
        .expect(422);
      expect(refused.body.code).toBe('unprocessable');
      expect(refused.body.detail).toMatch(/not a child/);
      const child = await newCase({
        survivor: { fullName: 'Em Giả Định', sex: 'female', dateOfBirth: '2012-03-04' },
      });
      expect(child.triage.childUnder18).toBe(true);
      await as('ward.longbien')
        .post(`/api/v1/cases/${child.id}/consents`, { ...basis, reason: 'Nghĩa vụ bảo vệ trẻ em' })
        .expect(201);
      const unknownAge = await newCase({ survivor: { fullName: 'Chưa Rõ Tuổi', sex: 'female' } });
      expect(unknownAge.triage.childUnder18).toBeNull();
      await as('ward.longbien')
        .post(`/api/v1/cases/${unknownAge.id}/consents`, { ...basis, reason: 'Nghĩa vụ bảo vệ trẻ em' })
        .expect(201);
      // Another basis is open to an adult.
      await as('ward.longbien')
        .post(`/api/v1/cases/${adult.id}/consents`, {
          ...basis,
          legalBasis: 'imminent_danger',
          reason: 'Nguy hiểm',
        })
        .expect(201);
    });

    it('a referral of a child under 16 at high risk, or for a no-contact order, is due within 12 h whatever is asked', async () => {
      const hours = (r: { createdAt: string; dueAt: string }) =>
        (new Date(r.dueAt).getTime() - new Date(r.createdAt).getTime()) / 3_600_000;
      const referRoutine = async (caseId: string, services: string[]) => {
        const consentId = await consent(caseId, {
          organizationId: police,
          categories: ['identity'],
          givenBy: 'guardian',
        });
        const res = await as('ward.longbien')
          .post(`/api/v1/cases/${caseId}/referrals`, {
            organizationId: police,
            consentId,
            services,
            urgency: 'routine',
          })
          .expect(201);
        return res.body as { id: string; urgency: string; createdAt: string; dueAt: string };
      };
      const child = await newCase({
        survivor: { fullName: 'Em Giả Định', sex: 'female', ageYears: 9 },
        risk: { level: 'high' },
      });
      const raised = await referRoutine(child.id, ['child_protection_assessment']);
      expect(raised).toMatchObject({ urgency: 'urgent' });
      expect(hours(raised)).toBe(12);
      const adult = await newCase();
      const order = await referRoutine(adult.id, ['no_contact_order']);
      expect(order.urgency).toBe('urgent');
      const other = await newCase();
      const routine = await referRoutine(other.id, ['legal_aid']);
      expect(routine.urgency).toBe('routine');
      expect(hours(routine)).toBe(5 * 24);
    });

    it('a case found to be of a child under 16 at high risk after its referral: the law’s 12 hours apply from then', async () => {
      const c = await newCase({
        survivor: { fullName: 'Chưa Rõ Tuổi', sex: 'female' },
        risk: { level: 'medium' },
      });
      const consentId = await consent(c.id, {
        organizationId: police,
        categories: ['identity'],
        givenBy: 'guardian',
      });
      const routine = await refer(c.id, police, consentId, 'routine');
      expect(routine.urgency).toBe('routine');
      const before = Date.now();
      const change = await as('ward.longbien')
        .patch(`/api/v1/cases/${c.id}`, {
          version: c.version,
          survivor: { ageYears: 12 },
          risk: { level: 'critical' },
        })
        .expect(200);
      const raised = (await as('police.longbien').get(`/api/v1/referrals/${routine.id}`).expect(200)).body;
      expect(raised.urgency).toBe('urgent');
      // The provider's deadline moved: on the log, under the change that moved it.
      const [moved] = await t.app.get(DataSource).query(
        `SELECT e.action, e.reason, u.username FROM audit_events e JOIN users u ON u.id = e.actor_id
            WHERE e.resource_id = $1 AND e.request_id = $2`,
        [routine.id, change.headers['x-request-id']],
      );
      expect(moved).toEqual({
        action: 'referral.update',
        reason: 'referral.statutory_deadline',
        username: 'ward.longbien',
      });
      const due = new Date(raised.dueAt).getTime();
      expect(due).toBeGreaterThanOrEqual(before + 12 * 3_600_000 - 60_000);
      expect(due).toBeLessThanOrEqual(Date.now() + 12 * 3_600_000);
      // A change that calls for nothing new leaves it as it is.
      const again = await as('ward.longbien').get(`/api/v1/cases/${c.id}`).expect(200);
      await as('ward.longbien')
        .patch(`/api/v1/cases/${c.id}`, { version: again.body.version, risk: { level: 'high' } })
        .expect(200);
      const kept = (await as('police.longbien').get(`/api/v1/referrals/${routine.id}`).expect(200)).body;
      expect(kept).toMatchObject({ urgency: 'urgent', dueAt: raised.dueAt });
    });

    it('the law’s 12 hours do not move a referral whose consent has ended (ended with it, not swept yet)', async () => {
      const c = await newCase({
        survivor: { fullName: 'Hết Hạn Đồng Ý', sex: 'female' },
        risk: { level: 'medium' },
      });
      const consentId = await consent(c.id, {
        organizationId: police,
        categories: ['identity'],
        givenBy: 'guardian',
        expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
      });
      const routine = await refer(c.id, police, consentId, 'routine');
      const db = t.app.get(DataSource);
      await db.query(`UPDATE consents SET expires_at = now() - interval '1 second' WHERE id = $1`, [
        consentId,
      ]);
      await as('ward.longbien')
        .patch(`/api/v1/cases/${c.id}`, {
          version: c.version,
          survivor: { ageYears: 12 },
          risk: { level: 'critical' },
        })
        .expect(200);
      const [row] = await db.query(`SELECT urgency, due_at, version FROM referrals WHERE id = $1`, [
        routine.id,
      ]);
      expect(row).toMatchObject({ urgency: 'routine', due_at: new Date(routine.dueAt), version: 1 });
      expect(
        await db.query(
          `SELECT 1 FROM audit_events WHERE resource_id = $1 AND reason = 'referral.statutory_deadline'`,
          [routine.id],
        ),
      ).toEqual([]);
    });

    it('a case registered before its risk is assessed: riskLevel null until recorded; a child under 16 is due as at high risk', async () => {
      // The contract's `risk` is optional: a walk-in is registered before anyone assesses it.
      const adult = await newCase({ risk: undefined });
      expect(adult.triage.riskLevel).toBeNull();
      const child = await newCase({
        survivor: { fullName: 'Chưa Đánh Giá', sex: 'female', ageYears: 10 },
        risk: undefined,
      });
      const consentId = await consent(child.id, {
        organizationId: police,
        categories: ['identity'],
        givenBy: 'guardian',
      });
      // An unknown risk does not pass for a low one: the law's 12 hours (the assessment itself is due by then).
      const raised = await refer(child.id, police, consentId, 'routine');
      expect(raised.urgency).toBe('urgent');
      expect((new Date(raised.dueAt).getTime() - new Date(raised.createdAt).getTime()) / 3_600_000).toBe(12);
      // Recorded later; once recorded it cannot be removed again.
      const assessed = await as('ward.longbien')
        .patch(`/api/v1/cases/${adult.id}`, { version: adult.version, risk: { level: 'low' } })
        .expect(200);
      expect(assessed.body.triage.riskLevel).toBe('low');
      const removed = await as('ward.longbien')
        .patch(`/api/v1/cases/${adult.id}`, { version: assessed.body.version, risk: null })
        .expect(400);
      expect(removed.body.errors[0].field).toBe('risk');
      // An empty risk is still refused at registration.
      const empty = await as('ward.longbien')
        .post('/api/v1/cases', caseBody({ risk: {} }))
        .expect(400);
      expect(empty.body.errors[0].field).toBe('risk.level');
    });

    it('a child under 16 does not consent alone: a guardian does, or a legal basis is recorded', async () => {
      const consentBy = (caseId: string, givenBy: string) =>
        as('ward.longbien').post(`/api/v1/cases/${caseId}/consents`, {
          organizationId: police,
          categories: ['identity'],
          givenBy,
        });
      const child = await newCase({ survivor: { fullName: 'Em Giả Định', sex: 'female', ageYears: 12 } });
      expect(child.triage.childUnder16).toBe(true);
      const refused = await consentBy(child.id, 'survivor').expect(422);
      expect(refused.body.detail).toMatch(/child under 16/);
      const entry = await entryOf(refused.body.requestId, 'action, outcome, reason, case_id');
      expect(entry).toEqual({
        action: 'consent.create',
        outcome: 'denied',
        reason: 'unprocessable',
        case_id: child.id,
      });
      expect(refused.body.detail).not.toContain('Em Giả Định');
      await consentBy(child.id, 'guardian').expect(201);
      // Sixteen and seventeen: a child in GBVIMS, of age to consent in Vietnamese law; an unknown age stays open.
      const sixteen = await newCase({ survivor: { fullName: 'Em Mười Sáu', sex: 'female', ageYears: 16 } });
      expect(sixteen.triage).toMatchObject({ childUnder16: false, childUnder18: true });
      await consentBy(sixteen.id, 'survivor').expect(201);
      const unknownAge = await newCase({ survivor: { fullName: 'Chưa Rõ Tuổi', sex: 'female' } });
      await consentBy(unknownAge.id, 'survivor').expect(201);
    });

    it('a correction of the age that a consent of the case would not fit is refused until it is withdrawn', async () => {
      const c = await newCase({ survivor: { fullName: 'Chưa Rõ Tuổi', sex: 'female' } });
      const duty = await consent(c.id, {
        organizationId: police,
        categories: ['identity'],
        legalBasis: 'child_protection_duty',
        reason: 'Nghĩa vụ bảo vệ trẻ em',
      });
      const own = await consent(c.id, {
        organizationId: health,
        categories: ['identity'],
        givenBy: 'survivor',
      });
      const correct = (version: number, ageYears: number) =>
        as('ward.longbien').patch(`/api/v1/cases/${c.id}`, { version, survivor: { ageYears } });
      // An adult: the duty no longer holds; a child under 16: her own consent does not.
      const adult = await correct(c.version, 30).expect(409);
      expect(adult.body.code).toBe('conflict.state');
      expect(adult.body.detail).toContain(duty);
      expect(adult.body.detail).not.toContain(own);
      const young = await correct(c.version, 12).expect(409);
      expect(young.body.detail).toContain(own);
      expect(young.body.detail).not.toContain(duty);
      // Nothing was changed, and the refusals are on record.
      const unchanged = await as('ward.longbien').get(`/api/v1/cases/${c.id}`).expect(200);
      expect(unchanged.body).toMatchObject({ version: c.version, triage: { childUnder18: null } });
      expect(await entryOf(adult.body.requestId, 'action, outcome, reason')).toEqual({
        action: 'case.update',
        outcome: 'denied',
        reason: 'conflict.state',
      });
      // Sixteen fits both; after the duty's withdrawal, thirty does too.
      const sixteen = await correct(c.version, 16).expect(200);
      await as('ward.longbien').delete(`/api/v1/cases/${c.id}/consents/${duty}`).expect(200);
      await correct(sixteen.body.version, 30).expect(200);
    });

    it('the consent rules take the survivor’s age now: 15 at a report years ago consents herself, and is owed no child-protection duty', async () => {
      const consentBy = (caseId: string, ground: Record<string, string>) =>
        as('ward.longbien').post(`/api/v1/cases/${caseId}/consents`, {
          organizationId: police,
          categories: ['identity'],
          ...ground,
        });
      const duty = { legalBasis: 'child_protection_duty', reason: 'Nghĩa vụ bảo vệ trẻ em' };
      // 15 when reported in March 2020 (a child under 16 then, on the case's flags): an adult by 2023.
      const then15 = await newCase({
        reportedAt: '2020-03-01T02:00:00Z',
        survivor: { fullName: 'Năm Hai Mươi', sex: 'female', ageYears: 15 },
      });
      expect(then15.triage).toMatchObject({ childUnder16: true, childUnder18: true });
      await consentBy(then15.id, { givenBy: 'survivor' }).expect(201);
      const adult = await consentBy(then15.id, duty).expect(422);
      expect(adult.body.detail).toMatch(/not a child \(18 or over\)/);
      // Born 10 January 2004: 16 when reported, 18 on 10 January 2022 (00:00 in Vietnam).
      const born2004 = await newCase({
        reportedAt: '2020-03-01T02:00:00Z',
        survivor: { fullName: 'Năm Hai Không', sex: 'female', dateOfBirth: '2004-01-10' },
      });
      expect(born2004.triage).toMatchObject({ childUnder16: false, childUnder18: true });
      await consentBy(born2004.id, duty).expect(422);
    });

    it('a child-protection duty ends at the 18th birthday: recorded so, brought to it when the age is corrected, and one that would outlast it grounds no referral', async () => {
      const duty = { legalBasis: 'child_protection_duty', reason: 'Nghĩa vụ bảo vệ trẻ em' };
      const db = t.app.get(DataSource);
      const endOf = async (id: string) =>
        (
          await db.query<{ expires_at: Date | null }[]>(`SELECT expires_at FROM consents WHERE id = $1`, [id])
        )[0].expires_at;
      // Dates from today's (the consent rules judge by now): a report ten days ago, Vietnam's date of it, and
      // the moment (00:00 in Vietnam) `years` years after a date.
      const reportedAt = new Date(Date.now() - 10 * 86_400_000);
      const reportDay = new Date(reportedAt.getTime() + 7 * 3_600_000).toISOString().slice(0, 10);
      const yearsAfter = (day: string, years: number) => {
        const [y, m, d] = day.split('-').map(Number);
        return new Date(Date.UTC(y + years, m - 1, d) - 7 * 3_600_000);
      };
      // 12 at the report: 18 six years after it.
      const twelve = await newCase({
        reportedAt: reportedAt.toISOString(),
        survivor: { fullName: 'Mười Hai Tuổi', sex: 'female', ageYears: 12 },
      });
      const asked = await as('ward.longbien')
        .post(`/api/v1/cases/${twelve.id}/consents`, {
          organizationId: police,
          categories: ['identity'],
          ...duty,
          expiresAt: yearsAfter(reportDay, 20).toISOString(),
        })
        .expect(201);
      expect(asked.body.expiresAt).toBe(yearsAfter(reportDay, 6).toISOString());
      // An earlier end asked for stays.
      const soon = new Date(Date.now() + 30 * 86_400_000).toISOString();
      const sooner = await as('ward.longbien')
        .post(`/api/v1/cases/${twelve.id}/consents`, {
          organizationId: health,
          categories: ['identity'],
          ...duty,
          expiresAt: soon,
        })
        .expect(201);
      expect(sooner.body.expiresAt).toBe(soon);
      // Born on 29 February, twelve or so years ago: 18 on 1 March (by the calendar in Vietnam) in a year
      // without one.
      const leapYear = [12, 13, 14, 15].map((n) => new Date().getUTCFullYear() - n).find((y) => y % 4 === 0)!;
      const leap = await newCase({
        reportedAt: reportedAt.toISOString(),
        survivor: { fullName: 'Hai Chín Tháng Hai', sex: 'female', dateOfBirth: `${leapYear}-02-29` },
      });
      const leapDuty = await consent(leap.id, { organizationId: police, categories: ['identity'], ...duty });
      expect(await endOf(leapDuty)).toEqual(new Date(`${leapYear + 18}-02-28T17:00:00.000Z`));

      // Recorded while her age was unknown: no end; the correction that makes her 13 at the report brings it to
      // her 18th birthday (and the referral's copy with it), on the access log.
      const unknown = await newCase({
        reportedAt: reportedAt.toISOString(),
        survivor: { fullName: 'Chưa Rõ Tuổi', sex: 'female' },
      });
      const open = await consent(unknown.id, { organizationId: police, categories: ['identity'], ...duty });
      const referral = await refer(unknown.id, police, open, 'urgent');
      expect(await endOf(open)).toBeNull();
      await as('ward.longbien')
        .patch(`/api/v1/cases/${unknown.id}`, { version: unknown.version, survivor: { ageYears: 13 } })
        .expect(200);
      const adultFrom = yearsAfter(reportDay, 5);
      expect(await endOf(open)).toEqual(adultFrom);
      const [copy] = await db.query(`SELECT consent_expires_at FROM referrals WHERE id = $1`, [referral.id]);
      expect(copy.consent_expires_at).toEqual(adultFrom);
      expect(
        await db.query(
          `SELECT e.action, e.resource_type, e.resource_id, e.reason, e.case_id, e.actor_id = u.id AS by_the_ward
             FROM audit_events e JOIN users u ON u.username = 'ward.longbien'
            WHERE e.case_id = $1 AND e.action = 'consent.update'`,
          [unknown.id],
        ),
      ).toEqual([
        {
          action: 'consent.update',
          resource_type: 'consent',
          resource_id: open,
          reason: 'consent.ends_at_adulthood',
          case_id: unknown.id,
          by_the_ward: true,
        },
      ]);

      // One recorded before this rule, without its end: it grounds no new referral (withdraw it, record it again).
      await db.query(`UPDATE consents SET expires_at = NULL WHERE id = $1`, [asked.body.id]);
      const refused = await as('ward.longbien')
        .post(`/api/v1/cases/${twelve.id}/referrals`, {
          organizationId: police,
          consentId: asked.body.id,
          services: ['police_protection'],
          urgency: 'urgent',
        })
        .expect(422);
      expect(refused.body.detail).toMatch(/no longer fits the survivor’s age/);
      await refer(twelve.id, health, sooner.body.id, 'urgent');
    });

    it('a legal basis needs a reason that says something, and reasons and notes are not blank', async () => {
      const c = await newCase();
      const blank = await as('ward.longbien')
        .post(`/api/v1/cases/${c.id}/consents`, {
          organizationId: police,
          categories: ['identity'],
          legalBasis: 'court_order',
          reason: ' \u00a0 ',
        })
        .expect(400);
      expect(blank.body.errors).toEqual([expect.objectContaining({ field: 'reason', code: 'isNotBlank' })]);
      await as('ward.longbien').post(`/api/v1/cases/${c.id}/close`, { reason: '   ' }).expect(400);
      // A consent takes no reason: it would be kept, sealed, and never read.
      const withReason = await as('ward.longbien')
        .post(`/api/v1/cases/${c.id}/consents`, {
          organizationId: police,
          categories: ['identity'],
          givenBy: 'survivor',
          reason: 'Đồng ý vì lý do riêng (giả định)',
        })
        .expect(400);
      expect(withReason.body.errors).toEqual([expect.objectContaining({ field: 'reason' })]);
      // A form that sends its empty optional fields as null is not refused for it.
      await as('ward.longbien')
        .post(`/api/v1/cases/${c.id}/consents`, {
          organizationId: police,
          categories: ['identity'],
          givenBy: 'survivor',
          reason: null,
        })
        .expect(201);
      const [{ n }] = await t.app
        .get(DataSource)
        .query(`SELECT count(*)::int AS n FROM consents WHERE case_id = $1 AND enc_reason IS NOT NULL`, [
          c.id,
        ]);
      expect(n).toBe(0);
    });

    it('an organisation that changes sector loses the referrals a consent gave its old sector, and its emergency access', async () => {
      const org = await givenOrganization(t, {
        name: 'Trung tâm thử đổi ngành (giả định)',
        sector: 'social',
        serviceArea: { communeCodes: ['00145'] },
      });
      const staff = await givenSignedIn(t, {
        role: 'provider',
        username: 'social.changing',
        organizationId: org.id,
      });
      const c = await newCase();
      const toSector = await consent(c.id, {
        sector: 'social',
        categories: ['identity'],
        givenBy: 'survivor',
      });
      const r = await refer(c.id, org.id, toSector);
      const asStaff = (req: request.Test) => req.set('Authorization', `Bearer ${staff.token}`);
      await asStaff(http().post(`/api/v1/referrals/${r.id}/accept`)).expect(200);
      await asStaff(http().get(`/api/v1/cases/${c.id}`)).expect(200);
      await as('admin').patch(`/api/v1/organizations/${org.id}`, { sector: 'police' }).expect(200);
      const [row] = await t.app
        .get(DataSource)
        .query(`SELECT status, revoke_cause FROM referrals WHERE id = $1`, [r.id]);
      expect(row).toEqual({ status: 'revoked', revoke_cause: 'organization_changed' });
      await asStaff(http().get(`/api/v1/cases/${c.id}`)).expect(404);
      // Now police: emergency access; a commune added to its area ends none (in the middle of an emergency), one
      // that drops the case's commune ends it.
      const other = await newCase();
      await asStaff(http().post(`/api/v1/cases/${other.id}/break-glass`))
        .send({ justification: 'Nguy hiểm tính mạng ngay lúc này (giả định)', password: TEST_PASSWORD })
        .expect(201);
      await asStaff(http().get(`/api/v1/cases/${other.id}`)).expect(200);
      await as('admin')
        .patch(`/api/v1/organizations/${org.id}`, { serviceArea: { communeCodes: ['00145', '00118'] } })
        .expect(200);
      await asStaff(http().get(`/api/v1/cases/${other.id}`)).expect(200);
      await as('admin')
        .patch(`/api/v1/organizations/${org.id}`, { serviceArea: { communeCodes: ['00118'] } })
        .expect(200);
      await asStaff(http().get(`/api/v1/cases/${other.id}`)).expect(404);
      // The grant's end is on the log in the case's jurisdiction, by the admin, saying why.
      const ended = await t.app.get(DataSource).query(
        `SELECT e.actor_role, e.reason, e.province_code, g.expires_at <= now() AS over
           FROM audit_events e JOIN break_glass_grants g ON g.id = e.resource_id
          WHERE e.action = 'break_glass.end' AND e.case_id = $1`,
        [other.id],
      );
      expect(ended).toEqual([
        { actor_role: 'admin', reason: 'break_glass.organization_changed', province_code: '01', over: true },
      ]);
    });

    it('an organisation that stops serving a commune loses the referrals a sector consent gave it there, not a named one', async () => {
      const org = await givenOrganization(t, {
        name: 'Trung tâm thử đổi địa bàn (giả định)',
        sector: 'social',
        serviceArea: { communeCodes: ['00145', '00118'] },
      });
      const c = await newCase(); // in 00145
      const bySector = await consent(c.id, {
        sector: 'social',
        categories: ['identity'],
        givenBy: 'survivor',
      });
      const viaSector = await refer(c.id, org.id, bySector);
      const named = await newCase();
      const byName = await consent(named.id, {
        organizationId: org.id,
        categories: ['identity'],
        givenBy: 'survivor',
      });
      const viaName = await refer(named.id, org.id, byName);
      // A change that keeps 00145 ends nothing; one that drops it ends the sector's referral there.
      await as('admin')
        .patch(`/api/v1/organizations/${org.id}`, { serviceArea: { communeCodes: ['00145'] } })
        .expect(200);
      const status = async (id: string) =>
        (
          await t.app.get(DataSource).query(`SELECT status, revoke_cause FROM referrals WHERE id = $1`, [id])
        )[0];
      expect(await status(viaSector.id)).toEqual({ status: 'pending', revoke_cause: null });
      await as('admin')
        .patch(`/api/v1/organizations/${org.id}`, { serviceArea: { communeCodes: ['00118'] } })
        .expect(200);
      expect(await status(viaSector.id)).toEqual({ status: 'revoked', revoke_cause: 'organization_changed' });
      expect(await status(viaName.id)).toEqual({ status: 'pending', revoke_cause: null });
    });

    it('a retired organisation loses its live referrals and emergency access, leaves the list and takes no new referral', async () => {
      const org = await givenOrganization(t, {
        name: 'Đồn công an sắp sáp nhập (giả định)',
        sector: 'police',
        serviceArea: { communeCodes: ['00145'] },
      });
      const staff = await givenSignedIn(t, {
        role: 'provider',
        username: 'police.closing',
        organizationId: org.id,
      });
      const asStaff = (req: request.Test) => req.set('Authorization', `Bearer ${staff.token}`);
      const withTotp = await givenSignedInWithTotp(t, {
        role: 'provider',
        username: 'police.closing.totp',
        organizationId: org.id,
      });
      const named = (caseId: string) =>
        consent(caseId, { organizationId: org.id, categories: ['identity'], givenBy: 'survivor' });
      const pendingCase = await newCase();
      const pending = await refer(pendingCase.id, org.id, await named(pendingCase.id), 'emergency');
      const acceptedCase = await newCase();
      const accepted = await refer(acceptedCase.id, org.id, await named(acceptedCase.id));
      await asStaff(http().post(`/api/v1/referrals/${accepted.id}/accept`)).expect(200);
      const grantCase = await newCase();
      await asStaff(http().post(`/api/v1/cases/${grantCase.id}/break-glass`))
        .send({ justification: 'Nguy hiểm tính mạng ngay lúc này (giả định)', password: TEST_PASSWORD })
        .expect(201);
      const laterConsent = await named(grantCase.id);
      const listed = async (query = '') =>
        (
          (await as('ward.longbien').get(`/api/v1/organizations?wardCode=00145${query}`).expect(200)).body
            .items as { id: string }[]
        ).some((o) => o.id === org.id);
      expect(await listed()).toBe(true);

      const retired = await as('admin')
        .patch(`/api/v1/organizations/${org.id}`, { status: 'retired' })
        .expect(200);
      expect(retired.body).toMatchObject({ status: 'retired', retiredAt: expect.any(String) });
      const db = t.app.get(DataSource);
      const states = await db.query(
        `SELECT id, status, revoke_cause FROM referrals WHERE id = ANY($1) ORDER BY id`,
        [[pending.id, accepted.id]],
      );
      expect(states.map((r: { status: string; revoke_cause: string }) => [r.status, r.revoke_cause])).toEqual(
        [
          ['revoked', 'organization_retired'],
          ['revoked', 'organization_retired'],
        ],
      );
      // The ward sees why, and refers elsewhere; the staff read nothing more: their sessions end (on the log,
      // once per token), and they cannot sign in, the right password answered as a wrong one.
      expect(
        (await as('ward.longbien').get(`/api/v1/referrals/${pending.id}`).expect(200)).body.revokeCause,
      ).toBe('organization_retired');
      await asStaff(http().get(`/api/v1/cases/${acceptedCase.id}`)).expect(401);
      await asStaff(http().get(`/api/v1/cases/${grantCase.id}`)).expect(401);
      expect(
        await db.query(
          `SELECT outcome, reason FROM audit_events WHERE action = 'auth.session_refused' AND actor_id = $1`,
          [staff.user.id],
        ),
      ).toEqual([{ outcome: 'denied', reason: 'auth.organization_retired' }]);
      const signIn = () =>
        http().post('/api/v1/auth/login').send({ username: 'police.closing', password: staff.user.password });
      const refusedSignIn = await signIn().expect(401);
      expect(refusedSignIn.body.code).toBe('auth.invalid_credentials');
      // On the log as what it is (not a wrong password: the anomaly rules do not count it as guessing; the throttle
      // counts it as a failure, as a disabled account's, or its answers would tell the password was right).
      expect(await entryOf(refusedSignIn.body.requestId, 'action, outcome, reason')).toEqual({
        action: 'auth.login_failed',
        outcome: 'denied',
        reason: 'auth.organization_retired',
      });
      // A two-factor account of it too, before any code is asked for (the right password is not confirmed).
      const secondFactor = await http()
        .post('/api/v1/auth/login')
        .send({ username: withTotp.user.username, password: withTotp.user.password });
      expect(secondFactor.status).toBe(401);
      expect(secondFactor.body.code).toBe('auth.invalid_credentials');
      // Counted by the throttle as a disabled account's attempts are: the account locks at the fifth, as it would
      // for wrong passwords (counted otherwise, when the lock comes would tell that the password was right).
      for (let i = 0; i < 4; i++) {
        await http()
          .post('/api/v1/auth/login')
          .send({ username: withTotp.user.username, password: withTotp.user.password })
          .expect(401);
      }
      const [{ ip }] = await db.query(`SELECT ip FROM audit_events WHERE request_id = $1`, [
        secondFactor.headers['x-request-id'],
      ]);
      const here = t.app.get(LoginThrottleService).keysFor(withTotp.user.username, ip).keyOf('accountHere');
      expect(
        await db.query(`SELECT locked_until IS NOT NULL AS locked FROM login_throttle WHERE key = $1`, [
          here,
        ]),
      ).toEqual([{ locked: true }]);
      // On the log: the retirement, each revocation and the grant's end, by the admin.
      const reasons = await db.query(
        `SELECT action, reason FROM audit_events WHERE request_id = $1 ORDER BY seq`,
        [retired.headers['x-request-id']],
      );
      expect(reasons).toEqual(
        expect.arrayContaining([
          { action: 'organization.update', reason: 'organization.retired' },
          { action: 'referral.revoke', reason: 'referral.organization_retired' },
          { action: 'break_glass.end', reason: 'break_glass.organization_retired' },
        ]),
      );
      // Out of the referral form's list (there when asked for), and no new referral, consent or emergency access.
      expect(await listed()).toBe(false);
      expect(await listed('&status=retired')).toBe(true);
      expect(await listed('&status=all')).toBe(true);
      const refused = await as('ward.longbien')
        .post(`/api/v1/cases/${grantCase.id}/referrals`, {
          organizationId: org.id,
          consentId: laterConsent,
          services: ['police_protection'],
          urgency: 'emergency',
        })
        .expect(422);
      expect(refused.body.detail).toMatch(/retired/);
      await as('ward.longbien')
        .post(`/api/v1/cases/${grantCase.id}/consents`, {
          organizationId: org.id,
          categories: ['identity'],
          givenBy: 'survivor',
        })
        .expect(422);
      await asStaff(http().post(`/api/v1/cases/${pendingCase.id}/break-glass`))
        .send({ justification: 'Nguy hiểm tính mạng ngay lúc này (giả định)', password: TEST_PASSWORD })
        .expect(401);
      // Nor a new account for its staff.
      const account = await as('admin')
        .post('/api/v1/users', {
          username: 'police.closing.new',
          password: 'quiet-lake-morning-19',
          role: 'provider',
          organizationId: org.id,
        })
        .expect(422);
      expect(account.body.errors[0]).toMatchObject({ field: 'organizationId', code: 'retiredOrganization' });
      // Nor one whose organisation is retired while it is being made (after its first look at the organisation).
      const other = await givenOrganization(t, {
        name: 'Đồn công an giải thể giữa chừng (giả định)',
        sector: 'police',
        serviceArea: { communeCodes: ['00145'] },
      });
      const organizations = t.app.get(OrganizationsRepository);
      const look = organizations.findById.bind(organizations);
      const meanwhile = jest.spyOn(organizations, 'findById').mockImplementationOnce(async (...args) => {
        const found = await look(...args);
        await db.query(`UPDATE organizations SET retired_at = now() WHERE id = $1`, [other.id]);
        return found;
      });
      try {
        const raced = await as('admin')
          .post('/api/v1/users', {
            username: 'police.raced.new',
            password: 'quiet-lake-morning-19',
            role: 'provider',
            organizationId: other.id,
          })
          .expect(422);
        expect(raced.body.errors[0]).toMatchObject({ code: 'retiredOrganization' });
      } finally {
        meanwhile.mockRestore();
      }
      // Reinstated: it takes referrals again, its staff sign in again; nothing revoked comes back.
      await as('admin').patch(`/api/v1/organizations/${org.id}`, { status: 'active' }).expect(200);
      expect(await listed()).toBe(true);
      await signIn().expect(200);
      await refer(grantCase.id, org.id, laterConsent);
      expect((await db.query(`SELECT status FROM referrals WHERE id = $1`, [pending.id]))[0].status).toBe(
        'revoked',
      );
    });

    it('an expired consent cannot be withdrawn (409): its end stays its expiry', async () => {
      const c = await newCase();
      const consentId = await consentForAnHour(c.id);
      await expireNow(consentId);
      const res = await as('ward.longbien').delete(`/api/v1/cases/${c.id}/consents/${consentId}`).expect(409);
      expect(res.body.code).toBe('conflict.state');
      const [row] = await t.app
        .get(DataSource)
        .query(`SELECT withdrawn_at FROM consents WHERE id = $1`, [consentId]);
      expect(row.withdrawn_at).toBeNull();
      const entry = await entryOf(res.body.requestId, 'action, outcome, reason, resource_id');
      expect(entry).toEqual({
        action: 'consent.withdraw',
        outcome: 'denied',
        reason: 'conflict.state',
        resource_id: consentId,
      });
    });

    it('an expired consent takes the case off the provider’s case list at once', async () => {
      const c = await newCase();
      const consentId = await consentForAnHour(c.id);
      const r = await refer(c.id, police, consentId);
      await as('police.longbien').post(`/api/v1/referrals/${r.id}/accept`).expect(200);
      const listed = async () => {
        const ids: string[] = [];
        for (let page = 1; ; page++) {
          const res = await as('police.longbien').get(`/api/v1/cases?page=${page}&pageSize=100`).expect(200);
          ids.push(...res.body.items.map((i: { id: string }) => i.id));
          if (page * 100 >= res.body.total) return ids;
        }
      };
      expect(await listed()).toContain(c.id);
      await expireNow(consentId);
      expect(await listed()).not.toContain(c.id);
      const [row] = await t.app.get(DataSource).query(`SELECT status FROM referrals WHERE id = $1`, [r.id]);
      expect(row.status).toBe('revoked');
    });

    it('an ended consent gives nothing even on a path that did not sweep expiries first (the access rules take it)', async () => {
      const c = await newCase();
      const consentId = await consentForAnHour(c.id);
      const r = await refer(c.id, police, consentId);
      await as('police.longbien').post(`/api/v1/referrals/${r.id}/accept`).expect(200);
      await as('police.longbien').get(`/api/v1/cases/${c.id}`).expect(200);
      // As if a path forgot revokeExpired: the referral stays 'accepted' in the table.
      const sweep = jest.spyOn(ConsentExpiryService.prototype, 'revokeExpired').mockResolvedValue([]);
      try {
        await expireNow(consentId);
        await as('police.longbien').get(`/api/v1/cases/${c.id}`).expect(404);
        const list = await as('police.longbien').get('/api/v1/cases?pageSize=200').expect(200);
        expect(list.body.items.map((i: { id: string }) => i.id)).not.toContain(c.id);
        const read = await as('police.longbien').get(`/api/v1/referrals/${r.id}`).expect(200);
        expect(read.body).not.toHaveProperty('case.survivor');
        // And it is shown as the rules take it: revoked, when and why its consent ended (in the inbox too; not
        // before the referral was made: expireNow dates the end a second ago).
        const [consent] = await t.app
          .get(DataSource)
          .query<{ expires_at: Date }[]>(`SELECT expires_at FROM consents WHERE id = $1`, [consentId]);
        const endedAt = Math.max(consent.expires_at.getTime(), Date.parse(r.createdAt as string));
        const shown = {
          status: 'revoked',
          revokeCause: 'consent_expired',
          revokedAt: new Date(endedAt).toISOString(),
          overdue: false,
        };
        expect(read.body).toMatchObject(shown);
        const inbox = await as('police.longbien').get('/api/v1/referrals?pageSize=200').expect(200);
        expect(inbox.body.items.find((i: { id: string }) => i.id === r.id)).toMatchObject(shown);
        // Nor can it be moved on: the workflow's 409, saying why, and no note is taken.
        const move = await as('police.longbien')
          .post(`/api/v1/referrals/${r.id}/complete`, { outcome: 'other' })
          .expect(409);
        expect(move.body.detail).toMatch(/cannot make that move/);
        await as('police.longbien')
          .post(`/api/v1/referrals/${r.id}/notes`, { text: 'muộn (giả định)' })
          .expect(409);
        const [row] = await t.app.get(DataSource).query(`SELECT status FROM referrals WHERE id = $1`, [r.id]);
        expect(row.status).toBe('accepted');
      } finally {
        sweep.mockRestore();
      }
    });

    it('the ward’s case view shows a referral whose consent has ended as revoked, before any sweep has run', async () => {
      const c = await newCase();
      const consentId = await consentForAnHour(c.id);
      const r = await refer(c.id, police, consentId);
      const summary = async () =>
        (await as('ward.longbien').get(`/api/v1/cases/${c.id}`).expect(200)).body.referrals.find(
          (x: { id: string }) => x.id === r.id,
        );
      expect(await summary()).toMatchObject({ status: 'pending', revokeCause: null, outcome: null });
      // Past its deadline too: an overdue referral whose consent ends is no longer waiting on anyone.
      const db = t.app.get(DataSource);
      await db.query(`UPDATE referrals SET due_at = now() - interval '1 hour' WHERE id = $1`, [r.id]);
      expect(await summary()).toMatchObject({ status: 'pending', overdue: true });
      await expireNow(consentId);
      expect(await summary()).toMatchObject({
        status: 'revoked',
        revokeCause: 'consent_expired',
        overdue: false,
      });
      const [row] = await db.query(`SELECT status FROM referrals WHERE id = $1`, [r.id]);
      expect(row.status).toBe('pending');
    });

    it('an expiry noticed by a move that is then refused stays done (the revocation is not rolled back with it)', async () => {
      const c = await newCase();
      const consentId = await consentForAnHour(c.id);
      const r = await refer(c.id, police, consentId);
      await expireNow(consentId);
      // The accept notices the expiry, revokes the referral, and is refused for the state it finds.
      const refused = await as('police.longbien')
        .post(`/api/v1/referrals/${r.id}/accept`)
        .set('X-Request-Id', 'e0e1ced000000002')
        .expect(409);
      expect(refused.body.code).toBe('conflict.state');
      const db = t.app.get(DataSource);
      const [row] = await db.query(`SELECT status, revoke_cause FROM referrals WHERE id = $1`, [r.id]);
      expect(row).toEqual({ status: 'revoked', revoke_cause: 'consent_expired' });
      const entries = await db.query(
        `SELECT action, outcome, reason FROM audit_events WHERE request_id = 'e0e1ced000000002' ORDER BY seq`,
      );
      expect(entries).toEqual([
        { action: 'referral.revoke', outcome: 'allowed', reason: 'referral.consent_expired' },
        { action: 'referral.accept', outcome: 'denied', reason: 'conflict.state' },
      ]);
    });

    it('a consent expired by the database’s clock grounds no referral, whatever this instance’s clock says', async () => {
      const c = await newCase();
      const consentId = await consentForAnHour(c.id);
      await expireNow(consentId);
      clockBehind(60_000); // this instance's clock a minute behind the database's
      try {
        const refused = await as('ward.longbien')
          .post(`/api/v1/cases/${c.id}/referrals`, {
            organizationId: police,
            consentId,
            services: ['police_protection'],
            urgency: 'routine',
          })
          .expect(422);
        expect(refused.body.detail).toMatch(/has ended/);
      } finally {
        jest.useRealTimers();
      }
    });

    it('a consent must end in the future by the database’s clock, whatever this instance’s clock says', async () => {
      const c = await newCase();
      const db = t.app.get(DataSource);
      const count = async () =>
        (await db.query(`SELECT count(*)::int AS n FROM consents WHERE case_id = $1`, [c.id]))[0].n;
      const [{ now }] = await db.query(`SELECT now() AS now`);
      // Half a minute ago by the database, half a minute ahead by this instance's clock.
      const ended = new Date(new Date(now).getTime() - 30_000).toISOString();
      clockBehind(60_000); // this instance's clock a minute behind the database's
      try {
        const res = await as('ward.longbien')
          .post(`/api/v1/cases/${c.id}/consents`, {
            organizationId: police,
            categories: ['identity'],
            givenBy: 'survivor',
            expiresAt: ended,
          })
          .expect(400);
        expect(res.body.errors[0]).toMatchObject({ field: 'expiresAt' });
        expect(await count()).toBe(0);
      } finally {
        jest.useRealTimers();
      }
    });

    it('a legal basis needs a reason; consent needs a ground and one recipient', async () => {
      const c = await newCase();
      await as('ward.longbien')
        .post(`/api/v1/cases/${c.id}/consents`, {
          sector: 'police',
          categories: ['identity'],
          legalBasis: 'imminent_danger',
        })
        .expect(400);
      await as('ward.longbien')
        .post(`/api/v1/cases/${c.id}/consents`, { sector: 'police', categories: ['identity'] })
        .expect(400);
      await as('ward.longbien')
        .post(`/api/v1/cases/${c.id}/consents`, {
          sector: 'police',
          organizationId: police,
          categories: ['identity'],
          givenBy: 'survivor',
        })
        .expect(400);
      await as('ward.longbien')
        .post(`/api/v1/cases/${c.id}/consents`, {
          sector: 'police',
          categories: ['identity'],
          legalBasis: 'imminent_danger',
          reason: 'nguy hiểm tức thời',
        })
        .expect(201);
      await as('ward.bode')
        .post(`/api/v1/cases/${c.id}/consents`, {
          sector: 'police',
          categories: ['identity'],
          givenBy: 'survivor',
        })
        .expect(404);
    });

    it('flags overdue pending referrals in the ward’s escalation list', async () => {
      const c = await newCase();
      const consentId = await consent(c.id, {
        organizationId: police,
        categories: ['identity'],
        givenBy: 'survivor',
      });
      const r = await refer(c.id, police, consentId, 'emergency');
      await t.app
        .get(DataSource)
        .query(`UPDATE referrals SET due_at = now() - interval '1 minute' WHERE id = $1`, [r.id]);
      const list = await as('ward.longbien').get('/api/v1/referrals?status=overdue').expect(200);
      const item = list.body.items.find((i: { id: string }) => i.id === r.id);
      expect(item).toMatchObject({ overdue: true, status: 'pending' });
      const bode = await as('ward.bode').get('/api/v1/referrals?status=overdue').expect(200);
      expect(bode.body.items.map((i: { id: string }) => i.id)).not.toContain(r.id);
      // The case view flags it too, and lists the case's referrals oldest first.
      const healthConsent = await consent(c.id, {
        organizationId: health,
        categories: ['identity'],
        givenBy: 'survivor',
      });
      const later = await refer(c.id, health, healthConsent, 'routine');
      const view = await as('ward.longbien').get(`/api/v1/cases/${c.id}`).expect(200);
      expect(view.body.referrals.map((x: { id: string; overdue: boolean }) => [x.id, x.overdue])).toEqual([
        [r.id, true],
        [later.id, false],
      ]);
      // Accepted at last, it is no longer overdue, and says that it was accepted late; the other was not.
      const accepted = await as('police.longbien').post(`/api/v1/referrals/${r.id}/accept`).expect(200);
      expect(accepted.body).toMatchObject({ status: 'accepted', overdue: false, acceptedLate: true });
      const onTime = await as('health.longbien').post(`/api/v1/referrals/${later.id}/accept`).expect(200);
      expect(onTime.body).toMatchObject({ acceptedLate: false });
    });

    it('times a referral by the database’s clock, whatever the instance’s says: one timeline across instances', async () => {
      const c = await newCase();
      const consentId = await consent(c.id, {
        organizationId: police,
        categories: ['identity'],
        givenBy: 'survivor',
      });
      const db = t.app.get(DataSource);
      const dbNow = async () => ((await db.query(`SELECT now() AS now`))[0].now as Date).getTime();
      clockBehind(3 * 3_600_000); // this instance's clock three hours behind the database's
      try {
        expect((await dbNow()) - Date.now()).toBeGreaterThan(2 * 3_600_000);
        const r = await refer(c.id, police, consentId, 'emergency');
        // Made now and due in 2 hours by the database: not overdue in the view, nor in the escalation list.
        expect(Math.abs(Date.parse(r.createdAt) - (await dbNow()))).toBeLessThan(60_000);
        expect(Date.parse(r.dueAt) - Date.parse(r.createdAt)).toBe(2 * 3_600_000);
        expect(r.overdue).toBe(false);
        const overdue = await as('ward.longbien').get('/api/v1/referrals?status=overdue').expect(200);
        expect(overdue.body.items.map((i: { id: string }) => i.id)).not.toContain(r.id);
        // Accepted now by the database too: on time.
        const accepted = await as('police.longbien').post(`/api/v1/referrals/${r.id}/accept`).expect(200);
        expect(Math.abs(Date.parse(accepted.body.acceptedAt) - (await dbNow()))).toBeLessThan(60_000);
        expect(accepted.body).toMatchObject({ overdue: false, acceptedLate: false });
      } finally {
        jest.useRealTimers();
      }
    });
  });
});
