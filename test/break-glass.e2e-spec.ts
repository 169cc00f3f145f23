import { Client } from 'pg';
import request from 'supertest';
import { DataSource } from 'typeorm';
import type { TestApp } from './support/app';
import {
  caseBody,
  DEMO_PASSWORD,
  giveConsent,
  organizationId,
  refer,
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

// Emergency ("break-glass") access, issue 6 item 7: a police or health provider opens a case of its area that
// it has no referral for; the grant is time-limited, shows the sector's categories to that user only, every
// read under it is flagged in the access log, and a supervisor of the case's province reviews it.
describe('emergency break-glass access (end to end)', () => {
  let t: TestApp;
  let tok: Tokens;
  const http = () => request(t.app.getHttpServer());
  const as = (user: string) => withBearer(t, tok[user]);
  const sql = <T = Record<string, any>>(query: string, params: unknown[] = []): Promise<T[]> =>
    t.app.get(DataSource).query(query, params);
  const JUSTIFICATION = 'Nạn nhân gọi cầu cứu, tính mạng bị đe dọa ngay lúc này (giả định)';

  beforeAll(async () => {
    t = await startDemoApp();
    tok = await signInAll(t, [
      'ward.longbien',
      'ward.bode',
      'police.longbien',
      'health.longbien',
      'social.hanoi',
      'supervisor.hanoi',
      'supervisor.haiphong',
      'admin',
    ]);
  });
  afterAll(async () => {
    await t.close();
  });

  async function newCase(ward = 'ward.longbien', overrides: Record<string, unknown> = {}): Promise<string> {
    const res = await as(ward).post('/api/v1/cases', caseBody(overrides)).expect(201);
    return res.body.id as string;
  }

  const open = (user: string, caseId: string, justification = JUSTIFICATION, password = DEMO_PASSWORD) =>
    as(user).post(`/api/v1/cases/${caseId}/break-glass`, { justification, password });

  describe('opening and reading', () => {
    let caseId: string;
    let grantId: string;

    beforeAll(async () => {
      caseId = await newCase();
    });

    it('without a referral or a grant, the police cannot see the case', async () => {
      await as('police.longbien').get(`/api/v1/cases/${caseId}`).expect(404);
    });

    it('refuses a justification shorter than 10 or longer than 2000 characters', async () => {
      await open('police.longbien', caseId, 'too short').expect(400);
      await open('police.longbien', caseId, 'x'.repeat(2001)).expect(400);
      await as('police.longbien').post(`/api/v1/cases/${caseId}/break-glass`, {}).expect(400);
      // The password is required too.
      await as('police.longbien')
        .post(`/api/v1/cases/${caseId}/break-glass`, { justification: JUSTIFICATION })
        .expect(400);
    });

    it('needs the provider’s password again: a wrong one is refused (403) and on record, and opens nothing', async () => {
      const wrong = await open('police.longbien', caseId, JUSTIFICATION, 'ZZMARKER-not-my-password').expect(
        403,
      );
      expect(wrong.body.code).toBe('auth.reauthentication_failed');
      expect(JSON.stringify(wrong.body)).not.toContain('ZZMARKER');
      // Asked before anything about the case: a case that does not exist answers the same.
      const nowhere = await open(
        'police.longbien',
        '00000000-0000-4000-8000-00000000dead',
        JUSTIFICATION,
        'ZZMARKER-not-my-password',
      ).expect(403);
      expect({ ...nowhere.body, requestId: 0 }).toEqual({ ...wrong.body, requestId: 0 });
      expect(await sql(`SELECT id FROM break_glass_grants WHERE case_id = $1`, [caseId])).toEqual([]);
      const [entry] = await sql(
        `SELECT outcome, reason, case_id, province_code, commune_code FROM audit_events
          WHERE action = 'break_glass.open' AND request_id = $1`,
        [wrong.body.requestId],
      );
      // In the case's place: its province's supervisors see the attempt under the case.
      expect(entry).toEqual({
        outcome: 'denied',
        reason: 'auth.reauthentication_failed',
        case_id: caseId,
        province_code: '01',
        commune_code: '00145',
      });
      const seen = await as('supervisor.hanoi').get(`/api/v1/audit/events?caseId=${caseId}`).expect(200);
      expect(seen.body.items).toContainEqual(
        expect.objectContaining({ requestId: wrong.body.requestId, caseId, outcome: 'denied' }),
      );
      // The missing case's attempt names no case and no place (as a refusal after the step-up does).
      const [astray] = await sql(
        `SELECT case_id, province_code, commune_code FROM audit_events WHERE request_id = $1`,
        [nowhere.body.requestId],
      );
      expect(astray).toEqual({ case_id: null, province_code: null, commune_code: null });
      await as('police.longbien').get(`/api/v1/cases/${caseId}`).expect(404);
      expect(t.logs.join('')).not.toContain('ZZMARKER');
    });

    it('a provider with two-factor also gives a new authenticator code: without one nothing opens', async () => {
      const [{ organization_id: orgId }] = await sql(
        `SELECT organization_id FROM users WHERE username = 'police.longbien'`,
      );
      const other = await newCase();
      const { token, secret } = await givenSignedInWithTotp(t, {
        role: 'provider',
        username: 'police.twofactor',
        organizationId: orgId,
      });
      const openWith = (extra: object) =>
        http()
          .post(`/api/v1/cases/${other}/break-glass`)
          .auth(token, { type: 'bearer' })
          .send({ justification: JUSTIFICATION, password: TEST_PASSWORD, ...extra });
      const missing = await openWith({}).expect(403);
      expect(missing.body.code).toBe('auth.reauthentication_code_required');
      expect(await sql(`SELECT id FROM break_glass_grants WHERE case_id = $1`, [other])).toEqual([]);
      const opened = await openWith({ totp: await codeFor(secret) }).expect(201);
      expect(opened.body).toMatchObject({ caseId: other });
      const entries = await sql(
        `SELECT outcome, reason FROM audit_events WHERE action = 'break_glass.open' AND case_id = $1 ORDER BY seq`,
        [other],
      );
      expect(entries).toEqual([
        { outcome: 'denied', reason: 'auth.reauthentication_code_required' },
        { outcome: 'allowed', reason: 'break_glass' },
      ]);
    });

    it('police of the commune opens the case: the police categories, for the configured time', async () => {
      const before = Date.now();
      const res = await open('police.longbien', caseId).expect(201);
      grantId = res.body.id;
      expect(res.body).toMatchObject({
        caseId,
        categories: ['triage', 'identity', 'contact', 'incident', 'perpetrator'],
      });
      const minutes = (new Date(res.body.expiresAt).getTime() - before) / 60000;
      expect(minutes).toBeGreaterThan(119);
      expect(minutes).toBeLessThan(121);
      const [stored] = await sql(`SELECT enc_justification FROM break_glass_grants WHERE id = $1`, [grantId]);
      expect(Buffer.from(stored.enc_justification).toString('utf8')).not.toContain('cầu cứu');
    });

    it('while active, the police reads identity, incident and perpetrator, never health', async () => {
      const res = await as('police.longbien').get(`/api/v1/cases/${caseId}`).expect(200);
      expect(res.body.survivor.fullName).toMatch(/^Thử Nghiệm Số/);
      expect(res.body.incident.narrative).toMatch(/^Tường thuật/);
      expect(res.body.perpetrator.relationship).toBe('spouse');
      expect(res.body.health).toBeUndefined();
      // The case list (SQL scope of the same rule) shows it too, triage only, and is flagged as a read under
      // the grant is; the colleague's list below, without it, is not.
      const { result: list, statements } = await statementsDuring(() =>
        as('police.longbien').get('/api/v1/cases').expect(200),
      );
      expect((list.body.items as { id: string }[]).map((i) => i.id)).toContain(caseId);
      // The page's own statement says whether the grant shows a case of it: no query of its own.
      expect(statements.filter((q) => q.includes('break_glass_grants'))).toHaveLength(1);
      const [listed] = await sql(`SELECT reason, returned_ids FROM audit_events WHERE request_id = $1`, [
        list.headers['x-request-id'],
      ]);
      expect(listed.reason).toBe('break_glass');
      expect(listed.returned_ids).toContain(caseId);
      // A page that does not show it is not flagged: the flag is about what the page showed, not what the grant
      // would show. A newer case referred to the police fills a page of one.
      const referred = await newCase();
      const police = await organizationId(t, tok['ward.longbien'], 'Công an phường Long Biên');
      const consent = await giveConsent(t, tok['ward.longbien'], referred, {
        organizationId: police,
        categories: ['identity'],
        givenBy: 'survivor',
      });
      await refer(t, tok['ward.longbien'], referred, police, consent);
      const first = await as('police.longbien').get('/api/v1/cases?pageSize=1').expect(200);
      expect((first.body.items as { id: string }[]).map((i) => i.id)).toEqual([referred]);
      const [unflagged] = await sql(`SELECT reason FROM audit_events WHERE request_id = $1`, [
        first.headers['x-request-id'],
      ]);
      expect(unflagged.reason).toBeNull();
    });

    it('the grant is the opener’s alone: a colleague of the same organisation, and another provider, still see nothing', async () => {
      const [{ id: police }] = await sql<{ id: string }>(
        `SELECT organization_id AS id FROM users WHERE username = 'police.longbien'`,
      );
      const colleague = await givenSignedIn(t, { role: 'provider', organizationId: police });
      const asColleague = (url: string) => http().get(url).set('Authorization', `Bearer ${colleague.token}`);
      await asColleague(`/api/v1/cases/${caseId}`).expect(404);
      const list = await asColleague('/api/v1/cases?pageSize=200').expect(200);
      expect((list.body.items as { id: string }[]).map((i) => i.id)).not.toContain(caseId);
      const [listed] = await sql(`SELECT reason FROM audit_events WHERE request_id = $1`, [
        list.headers['x-request-id'],
      ]);
      expect(listed.reason).toBeNull();
      await as('health.longbien').get(`/api/v1/cases/${caseId}`).expect(404);
    });

    it('health opens the same case: health categories, never the perpetrator', async () => {
      const res = await open('health.longbien', caseId).expect(201);
      expect(res.body.categories).toEqual(['triage', 'identity', 'contact', 'incident', 'health']);
      const view = await as('health.longbien').get(`/api/v1/cases/${caseId}`).expect(200);
      expect(view.body.health.injuries).toBeDefined();
      expect(view.body.perpetrator).toBeUndefined();
    });

    it('the log has the opening and flags every read under the grant; no justification text', async () => {
      const rows = await sql<{ action: string; reason: string | null; fields: string[]; outcome: string }>(
        `SELECT e.action, e.reason, e.fields, e.outcome FROM audit_events e JOIN users u ON u.id = e.actor_id
         WHERE e.case_id = $1 AND u.username = 'police.longbien' ORDER BY e.at, e.seq`,
        [caseId],
      );
      // The justification is free text sealed with the case's key: `notes`, as every such text written is.
      expect(rows).toContainEqual({
        action: 'break_glass.open',
        outcome: 'allowed',
        reason: 'break_glass',
        fields: ['notes'],
      });
      const reads = rows.filter((r) => r.action === 'case.read' && r.outcome === 'allowed');
      expect(reads).toHaveLength(1);
      expect(reads[0]).toMatchObject({
        reason: 'break_glass',
        fields: ['triage', 'identity', 'contact', 'incident', 'perpetrator'],
      });
      const dump = JSON.stringify(await sql('SELECT * FROM audit_events'));
      expect(dump).not.toContain('cầu cứu');
      expect(dump).not.toContain('Thử Nghiệm');
    });

    /** A new case referred to the Long Biên police under the survivor's consent (identity). */
    const referredToPolice = async () => {
      const caseId = await newCase();
      const police = await organizationId(t, tok['ward.longbien'], 'Công an phường Long Biên');
      const consentId = await giveConsent(t, tok['ward.longbien'], caseId, {
        organizationId: police,
        categories: ['identity'],
        givenBy: 'survivor',
      });
      const referral = await refer(t, tok['ward.longbien'], caseId, police, consentId, 'routine');
      return { caseId, consentId, referral };
    };
    type QueuedGrant = { id: string; openedAt: string; priorReferral: { endedAt: string } | null };
    /** Grant `id` as the Hà Nội supervisor's review queue shows it, and the whole queue's page. */
    const queued = async (id: string) => {
      const queue = await as('supervisor.hanoi').get('/api/v1/break-glass?pageSize=200').expect(200);
      const items = queue.body.items as QueuedGrant[];
      const item = items.find((i) => i.id === id)!;
      return { item: item as QueuedGrant & { priorReferral: { endedAt: string } }, items };
    };

    it('the review queue shows what became of the organisation’s referral before the grant: one the survivor withdrew consent from', async () => {
      const { caseId: withdrawn, consentId, referral } = await referredToPolice();
      await as('ward.longbien').delete(`/api/v1/cases/${withdrawn}/consents/${consentId}`).expect(200);
      const grant = await open('police.longbien', withdrawn).expect(201);
      const { item, items } = await queued(grant.body.id);
      const prior = item.priorReferral;
      expect(prior).toEqual({
        id: referral.id,
        status: 'revoked',
        revokeCause: 'consent_withdrawn',
        createdAt: referral.createdAt,
        endedAt: expect.any(String),
      });
      // Ended before the grant was opened: the grant reached what had been closed to the organisation.
      expect(Date.parse(prior.endedAt)).toBeLessThan(Date.parse(item.openedAt));
      // A grant with no referral before it: none.
      expect(items.find((i) => i.id === grantId)?.priorReferral).toBeNull();
    });

    it('the review queue shows a referral whose consent ended after the grant as access takes it: revoked then, not before', async () => {
      const { caseId: later, consentId, referral } = await referredToPolice();
      const grant = await open('police.longbien', later).expect(201);
      // The consent ends after the grant opened; no provider request has swept it yet.
      await sql(`UPDATE consents SET expires_at = clock_timestamp() WHERE id = $1`, [consentId]);
      const { item } = await queued(grant.body.id);
      expect(item.priorReferral).toMatchObject({
        id: referral.id,
        status: 'revoked',
        revokeCause: 'consent_expired',
      });
      expect(Date.parse(item.priorReferral.endedAt)).toBeGreaterThan(Date.parse(item.openedAt));
      expect((await sql(`SELECT status FROM referrals WHERE id = $1`, [referral.id]))[0].status).toBe(
        'pending',
      );
    });

    it('a ward officer’s ordinary read is not flagged', async () => {
      await as('ward.longbien').get(`/api/v1/cases/${caseId}`).expect(200);
      const [row] = await sql(
        `SELECT e.reason FROM audit_events e JOIN users u ON u.id = e.actor_id
         WHERE e.case_id = $1 AND u.username = 'ward.longbien' AND e.action = 'case.read'`,
        [caseId],
      );
      expect(row.reason).toBeNull();
    });

    it('a read (or a list) its organisation’s referral shows in full is the referral’s, not emergency access: not flagged', async () => {
      const covered = await newCase();
      const health = await organizationId(t, tok['ward.longbien'], 'Trạm y tế phường Long Biên');
      const consentId = await giveConsent(t, tok['ward.longbien'], covered, {
        organizationId: health,
        categories: ['identity', 'contact', 'incident', 'perpetrator', 'health'],
        givenBy: 'survivor',
      });
      const referral = await as('ward.longbien')
        .post(`/api/v1/cases/${covered}/referrals`, {
          organizationId: health,
          consentId,
          services: ['medical_care'],
          urgency: 'urgent',
        })
        .expect(201);
      await as('health.longbien').post(`/api/v1/referrals/${referral.body.id}/accept`, {}).expect(200);
      await open('health.longbien', covered).expect(201);
      const view = await as('health.longbien').get(`/api/v1/cases/${covered}`).expect(200);
      expect(view.body.health).toBeDefined();
      const reads = await sql<{ reason: string | null; fields: string[] }>(
        `SELECT e.reason, e.fields FROM audit_events e JOIN users u ON u.id = e.actor_id
          WHERE e.case_id = $1 AND u.username = 'health.longbien' AND e.action = 'case.read'`,
        [covered],
      );
      expect(reads).toEqual([
        { reason: null, fields: ['triage', 'identity', 'contact', 'incident', 'health'] },
      ]);
      // Nor is a page of the list that shows it (the newest of the provider's cases: a page of one).
      const page = await as('health.longbien').get('/api/v1/cases?pageSize=1').expect(200);
      expect((page.body.items as { id: string }[]).map((i) => i.id)).toEqual([covered]);
      const [listed] = await sql(`SELECT reason FROM audit_events WHERE request_id = $1`, [
        page.headers['x-request-id'],
      ]);
      expect(listed.reason).toBeNull();
      // Shown by its referral and by the grant alike: listed once, counted once.
      const all = await as('health.longbien').get('/api/v1/cases?pageSize=200').expect(200);
      const ids = (all.body.items as { id: string }[]).map((i) => i.id);
      expect(ids.filter((id) => id === covered)).toHaveLength(1);
      expect(new Set(ids).size).toBe(ids.length);
      expect(all.body.total).toBe(ids.length);
    });

    it('the grant ends by itself when it expires', async () => {
      await sql(
        `UPDATE break_glass_grants SET opened_at = now() - interval '3 hours', expires_at = now() - interval '1 second'
         WHERE id = $1`,
        [grantId],
      );
      await as('police.longbien').get(`/api/v1/cases/${caseId}`).expect(404);
      const list = await as('police.longbien').get('/api/v1/cases').expect(200);
      expect((list.body.items as { id: string }[]).map((i) => i.id)).not.toContain(caseId);
      // The health grant is untouched.
      await as('health.longbien').get(`/api/v1/cases/${caseId}`).expect(200);
    });
  });

  describe('a case that closes or is shredded', () => {
    const CLOSE = { reason: 'Đã hỗ trợ xong (giả định)' };
    const grantsOf = (caseId: string) =>
      sql<{ id: string; ended: boolean }>(
        `SELECT id, expires_at <= now() AS ended FROM break_glass_grants WHERE case_id = $1 ORDER BY id`,
        [caseId],
      );
    const endEntries = (caseId: string) =>
      sql(
        `SELECT resource_id, outcome, reason FROM audit_events
          WHERE action = 'break_glass.end' AND case_id = $1 ORDER BY resource_id`,
        [caseId],
      );

    it('closing the case ends its running emergency access, on record; a closed case opens none', async () => {
      const caseId = await newCase();
      const police = (await open('police.longbien', caseId).expect(201)).body.id as string;
      const health = (await open('health.longbien', caseId).expect(201)).body.id as string;
      await as('police.longbien').get(`/api/v1/cases/${caseId}`).expect(200);

      await as('ward.longbien').post(`/api/v1/cases/${caseId}/close`, CLOSE).expect(200);
      await as('police.longbien').get(`/api/v1/cases/${caseId}`).expect(404);
      await as('health.longbien').get(`/api/v1/cases/${caseId}`).expect(404);
      expect(await grantsOf(caseId)).toEqual([police, health].sort().map((id) => ({ id, ended: true })));
      expect(await endEntries(caseId)).toEqual(
        [police, health]
          .sort()
          .map((id) => ({ resource_id: id, outcome: 'allowed', reason: 'break_glass.case_closed' })),
      );

      const again = await open('police.longbien', caseId).set('Accept-Language', 'vi').expect(409);
      expect(again.body).toMatchObject({ code: 'conflict.state' });
      expect(again.body.detail).toMatch(/Vụ việc đã đóng/);
      expect((await open('police.longbien', caseId).expect(409)).body.detail).toMatch(/The case is closed/);
      expect(await grantsOf(caseId)).toHaveLength(2);
      const refused = await sql(
        `SELECT outcome, reason FROM audit_events
          WHERE action = 'break_glass.open' AND case_id = $1 AND outcome = 'denied'`,
        [caseId],
      );
      expect(refused).toEqual([
        { outcome: 'denied', reason: 'conflict.state' },
        { outcome: 'denied', reason: 'conflict.state' },
      ]);
    });

    it('a grant still running on a closed case (one from before grants ended with their case) shows nothing', async () => {
      const caseId = await newCase();
      await open('police.longbien', caseId).expect(201);
      await as('police.longbien').get(`/api/v1/cases/${caseId}`).expect(200);
      // Closed behind the service's back, as a case closed by an earlier version was: its grant still runs.
      await sql(`UPDATE cases SET status = 'closed', closed_at = now() WHERE id = $1`, [caseId]);
      expect(await grantsOf(caseId)).toEqual([expect.objectContaining({ ended: false })]);
      await as('police.longbien').get(`/api/v1/cases/${caseId}`).expect(404);
      const list = await as('police.longbien').get('/api/v1/cases').expect(200);
      expect((list.body.items as { id: string }[]).map((i) => i.id)).not.toContain(caseId);
    });

    it('shredding the case ends its running emergency access too', async () => {
      const caseId = await newCase();
      const police = (await open('police.longbien', caseId).expect(201)).body.id as string;
      await as('admin').post(`/api/v1/cases/${caseId}/shred`, { password: DEMO_PASSWORD }).expect(200);
      expect(await grantsOf(caseId)).toEqual([{ id: police, ended: true }]);
      expect(await endEntries(caseId)).toEqual([
        { resource_id: police, outcome: 'allowed', reason: 'break_glass.case_shredded' },
      ]);
      await as('police.longbien').get(`/api/v1/cases/${caseId}`).expect(404);
      // Its grant is still judged, without a note: there is no key left to seal one with (409, on record).
      const withNote = await as('supervisor.hanoi')
        .post(`/api/v1/break-glass/${police}/review`, {
          justified: false,
          note: 'Không cần thiết (giả định)',
        })
        .expect(409);
      expect(withNote.body.detail).toMatch(/crypto-shredded: send the review again without a note \(note\)/);
      expect(JSON.stringify(withNote.body)).not.toContain('Không cần thiết');
      expect(
        await sql(
          `SELECT outcome, reason, case_id FROM audit_events WHERE action = 'break_glass.review' AND resource_id = $1`,
          [police],
        ),
      ).toEqual([{ outcome: 'denied', reason: 'conflict.state', case_id: caseId }]);
      const judged = await as('supervisor.hanoi')
        .post(`/api/v1/break-glass/${police}/review`, { justified: false })
        .expect(200);
      // Shredded, not unreadable: its justification went with the case's key.
      expect(judged.body).toMatchObject({
        status: 'reviewed',
        justified: false,
        justification: null,
        unreadable: false,
      });
    });
  });

  it('a justification that does not open (moved from another grant) is logged as an incident and shown as unreadable; the queue still shows every grant', async () => {
    const first = (await open('police.longbien', await newCase()).expect(201)).body.id as string;
    const second = (await open('police.longbien', await newCase()).expect(201)).body.id as string;
    const [kept] = await sql<{ enc_justification: Buffer }>(
      `SELECT enc_justification FROM break_glass_grants WHERE id = $1`,
      [second],
    );
    await sql(
      `UPDATE break_glass_grants SET enc_justification = (SELECT enc_justification FROM break_glass_grants WHERE id = $1)
        WHERE id = $2`,
      [first, second],
    );
    try {
      const res = await as('supervisor.hanoi').get('/api/v1/break-glass').expect(200);
      const shown = (id: string) =>
        (res.body.items as { id: string; justification: string | null; unreadable: boolean }[]).find(
          (g) => g.id === id,
        );
      expect(shown(second)).toMatchObject({ justification: null, unreadable: true });
      expect(shown(first)).toMatchObject({ justification: expect.any(String), unreadable: false });
      const incident = t.logs.filter((l) => l.includes('does not open: shown without it'));
      expect(incident).toHaveLength(1);
      expect(incident[0]).toContain(second);
      expect(incident[0]).toMatch(/crypto\.(integrity|unknown_key)/); // another case's key, or this one's misused
    } finally {
      await sql(`UPDATE break_glass_grants SET enc_justification = $1 WHERE id = $2`, [
        kept.enc_justification,
        second,
      ]);
    }
    await as('supervisor.hanoi').get('/api/v1/break-glass').expect(200);
  });

  it('a justification under a KEK version this instance lacks (its keys behind the others’) is shown as unreadable with a warning, not an incident', async () => {
    const caseId = await newCase();
    const grant = (await open('police.longbien', caseId).expect(201)).body.id as string;
    // As if a rotation elsewhere had re-wrapped the case's key with a version this keyring does not hold yet.
    const [key] = await sql<{ kek_version: number }>(
      `SELECT kek_version FROM data_keys WHERE owner_type = 'case' AND owner_id = $1`,
      [caseId],
    );
    await sql(`UPDATE data_keys SET kek_version = 99 WHERE owner_type = 'case' AND owner_id = $1`, [caseId]);
    try {
      const res = await as('supervisor.hanoi').get('/api/v1/break-glass').expect(200);
      const shown = (res.body.items as { id: string; unreadable: boolean }[]).find((g) => g.id === grant);
      expect(shown).toMatchObject({ justification: null, unreadable: true });
      const said = t.logs.filter((l) => l.includes(grant));
      expect(said.join('\n')).toMatch(/a KEK version this instance lacks/);
      expect(said.join('\n')).toMatch(/"level":"warn"/);
      expect(said.join('\n')).not.toMatch(/does not open: shown without it/);
    } finally {
      await sql(`UPDATE data_keys SET kek_version = $1 WHERE owner_type = 'case' AND owner_id = $2`, [
        key.kek_version,
        caseId,
      ]);
    }
  });

  describe('an account that changes', () => {
    it('a grant runs once: not opened again while it runs; disabling the account ends it, on record, and enabled again it reads nothing', async () => {
      const [{ organization_id: orgId }] = await sql(
        `SELECT organization_id FROM users WHERE username = 'police.longbien'`,
      );
      const caseId = await newCase();
      const provider = await givenSignedIn(t, { role: 'provider', organizationId: orgId });
      const admin = await givenSignedIn(t, { role: 'admin' });
      const openWith = (token: string) =>
        http()
          .post(`/api/v1/cases/${caseId}/break-glass`)
          .auth(token, { type: 'bearer' })
          .send({ justification: JUSTIFICATION, password: TEST_PASSWORD });
      const setStatus = (status: string) =>
        http()
          .patch(`/api/v1/users/${provider.user.id}`)
          .auth(admin.token, { type: 'bearer' })
          .send({ status })
          .expect(200);
      const grant = (await openWith(provider.token).expect(201)).body.id as string;
      const again = await openWith(provider.token).expect(409);
      expect(again.body.detail).toMatch(/still running/);
      expect(await sql(`SELECT 1 FROM break_glass_grants WHERE case_id = $1`, [caseId])).toHaveLength(1);
      await setStatus('disabled');
      expect(
        await sql(
          `SELECT g.expires_at <= now() AS over, e.reason, e.actor_id FROM break_glass_grants g
             JOIN audit_events e ON e.resource_id = g.id AND e.action = 'break_glass.end'
            WHERE g.id = $1`,
          [grant],
        ),
      ).toEqual([{ over: true, reason: 'break_glass.account_changed', actor_id: admin.user.id }]);
      await setStatus('active');
      const { accessToken } = (
        await http()
          .post('/api/v1/auth/login')
          .send({ username: provider.user.username, password: TEST_PASSWORD })
          .expect(200)
      ).body;
      await http().get(`/api/v1/cases/${caseId}`).auth(accessToken, { type: 'bearer' }).expect(404);
      // A new emergency needs a new grant, justified again.
      await openWith(accessToken).expect(201);
      await http().get(`/api/v1/cases/${caseId}`).auth(accessToken, { type: 'bearer' }).expect(200);
    });
  });

  describe('who may open', () => {
    it('a provider of another sector (social) is refused like a missing case', async () => {
      const caseId = await newCase();
      const res = await open('social.hanoi', caseId).expect(404);
      expect(res.body.code).toBe('resource.not_found');
      await as('social.hanoi').get(`/api/v1/cases/${caseId}`).expect(404);
    });

    it('a provider whose organisation does not serve the case’s commune is refused (404) at once, and it is logged', async () => {
      const caseId = await newCase('ward.bode', { wardCode: '00118' });
      // While another transaction holds the case (a change under way), the refusal neither waits nor locks.
      const holder = new Client({ connectionString: t.db.url });
      await holder.connect();
      let res: request.Response | string;
      try {
        await holder.query('BEGIN');
        await holder.query('SELECT 1 FROM cases WHERE id = $1 FOR UPDATE', [caseId]);
        const waited = new Promise<string>((r) => setTimeout(() => r('waited for the lock'), 3_000));
        res = await Promise.race([open('police.longbien', caseId).then((r) => r), waited]);
      } finally {
        await holder.query('ROLLBACK');
        await holder.end();
      }
      expect(typeof res === 'string' ? res : res.status).toBe(404);
      expect(typeof res === 'string' ? res : res.body.code).toBe('resource.not_found');
      await as('police.longbien').get(`/api/v1/cases/${caseId}`).expect(404);
      const denied = await sql(
        `SELECT outcome FROM audit_events WHERE case_id = $1 AND action = 'break_glass.open'`,
        [caseId],
      );
      expect(denied).toEqual([{ outcome: 'denied' }]);
      expect(await sql(`SELECT 1 FROM break_glass_grants WHERE case_id = $1`, [caseId])).toHaveLength(0);
    });

    it('an unknown case answers 404; ward officers and supervisors cannot open at all', async () => {
      await open('police.longbien', '00000000-0000-4000-8000-000000000000').expect(404);
      const caseId = await newCase();
      await open('ward.longbien', caseId).expect(404);
      await open('supervisor.hanoi', caseId).expect(404);
    });
  });

  describe('review queue', () => {
    let caseId: string;
    let grantId: string;

    beforeAll(async () => {
      caseId = await newCase();
      grantId = (await open('police.longbien', caseId).expect(201)).body.id;
    });

    it('the supervisor of the province lists pending grants with their justification, and the read is logged', async () => {
      const res = await as('supervisor.hanoi').get('/api/v1/break-glass?status=pending').expect(200);
      const item = (res.body.items as Record<string, any>[]).find((i) => i.id === grantId);
      expect(item).toMatchObject({
        caseId,
        username: 'police.longbien',
        sector: 'police',
        provinceCode: '01',
        wardCode: '00145',
        status: 'pending',
        active: true,
        justification: JUSTIFICATION,
        justified: null,
      });
      expect(item!.caseCode).toMatch(/^HV01-/);
      const logged = await sql<{ returned_ids: string[] }>(
        `SELECT e.returned_ids FROM audit_events e JOIN users u ON u.id = e.actor_id
         WHERE u.username = 'supervisor.hanoi' AND e.action = 'break_glass.review' AND e.resource_id IS NULL`,
      );
      expect(logged.some((l) => l.returned_ids.includes(grantId))).toBe(true);
      // A grant in Hải Phòng too.
      const haiWard = await givenSignedIn(t, { role: 'ward_officer', wardCodes: ['10507'] });
      const haiCase = (
        await withBearer(t, haiWard.token)
          .post('/api/v1/cases', caseBody({ wardCode: '10507' }))
          .expect(201)
      ).body.id as string;
      const haiPolice = await givenOrganization(t, {
        name: 'Công an phường Thành Đông (giả định)',
        sector: 'police',
        serviceArea: { communeCodes: ['10507'] },
      });
      const haiOfficer = await givenSignedIn(t, { role: 'provider', organizationId: haiPolice.id });
      const haiGrant = (
        await withBearer(t, haiOfficer.token)
          .post(`/api/v1/cases/${haiCase}/break-glass`, {
            justification: JUSTIFICATION,
            password: TEST_PASSWORD,
          })
          .expect(201)
      ).body.id as string;
      // A national supervisor's read of the queue: one entry per case of the grants it showed, naming the case
      // (found with its other accesses), each in that case's province with that case's grants only (Hà Nội's
      // supervisors see no Hải Phòng ids).
      const national = await givenSignedIn(t, { role: 'supervisor' }); // no province: national
      const read = await withBearer(t, national.token).get('/api/v1/break-glass?pageSize=200').expect(200);
      const shown = new Map(
        (read.body.items as { id: string; provinceCode: string }[]).map((i) => [i.id, i.provinceCode]),
      );
      expect(shown.get(haiGrant)).toBe('31');
      expect(shown.get(grantId)).toBe('01');
      const entries = await sql<{ case_id: string; jurisdictions: string[]; returned_ids: string[] }>(
        `SELECT case_id, jurisdictions, returned_ids FROM audit_events WHERE request_id = $1 AND action = 'break_glass.review'`,
        [read.headers['x-request-id']],
      );
      const cases = new Map(
        (read.body.items as { id: string; caseId: string }[]).map((i) => [i.id, i.caseId]),
      );
      expect(entries).toHaveLength(new Set(cases.values()).size);
      for (const e of entries) {
        expect(new Set(e.returned_ids.map((id) => cases.get(id)))).toEqual(new Set([e.case_id]));
        const provinces = new Set(e.returned_ids.map((id) => shown.get(id)));
        expect(provinces.size).toBe(1);
        expect(e.jurisdictions).toContain([...provinces][0]);
      }
      // Asked for by case, the access log names that read of the Hải Phòng justification.
      const byCase = await withBearer(t, national.token)
        .get(`/api/v1/audit/events?caseId=${haiCase}&action=break_glass.review`)
        .expect(200);
      expect(byCase.body.items).toContainEqual(
        expect.objectContaining({ requestId: read.headers['x-request-id'], returnedIds: [haiGrant] }),
      );
    });

    it('pages the queue: a page holds pageSize grants at most, the pages together every one once', async () => {
      await open('health.longbien', caseId).expect(201); // a second grant in the province
      const all = await as('supervisor.hanoi').get('/api/v1/break-glass?pageSize=200').expect(200);
      const total = all.body.total as number;
      expect(total).toBeGreaterThanOrEqual(2);
      expect(all.body.items).toHaveLength(total);
      const seen: string[] = [];
      for (let page = 1; page <= total; page++) {
        const res = await as('supervisor.hanoi')
          .get(`/api/v1/break-glass?page=${page}&pageSize=1`)
          .expect(200);
        expect(res.body).toMatchObject({ total, page, pageSize: 1 });
        expect(res.body.items).toHaveLength(1);
        seen.push((res.body.items as { id: string }[])[0].id);
      }
      expect(seen).toEqual((all.body.items as { id: string }[]).map((i) => i.id));
    });

    it('a supervisor of another province neither sees nor reviews it', async () => {
      const res = await as('supervisor.haiphong').get('/api/v1/break-glass').expect(200);
      expect((res.body.items as { id: string }[]).map((i) => i.id)).not.toContain(grantId);
      // Refused before any row is locked: a grant's id alone locks nothing of another province.
      const { result: denied, statements } = await statementsDuring(() =>
        as('supervisor.haiphong')
          .post(`/api/v1/break-glass/${grantId}/review`, { justified: false })
          .expect(404),
      );
      expect(denied.body.code).toBe('resource.not_found');
      expect(statements.filter((sql) => /FOR (SHARE|UPDATE)/.test(sql))).toEqual([]);
      // On record in the grant's province too: Hà Nội's supervisors see the attempt on their case.
      const [entry] = await sql(
        `SELECT case_id, province_code, jurisdictions FROM audit_events
          WHERE request_id = $1 AND action = 'break_glass.review'`,
        [denied.body.requestId],
      );
      expect(entry).toMatchObject({ case_id: caseId, province_code: '01' });
      expect([...entry.jurisdictions].sort()).toEqual(['01', '31']);
      // Its own supervisors (Hải Phòng) see it without the case and its place.
      const seenThere = await as('supervisor.haiphong')
        .get(`/api/v1/audit/events?action=break_glass.review&outcome=denied`)
        .expect(200);
      const shown = (seenThere.body.items as { requestId: string; caseId?: string }[]).find(
        (i) => i.requestId === denied.body.requestId,
      );
      expect(shown).toBeDefined();
      expect(shown?.caseId).toBeUndefined();
    });

    it('providers and ward officers have no queue', async () => {
      await as('police.longbien').get('/api/v1/break-glass').expect(403);
      await as('ward.longbien').get('/api/v1/break-glass').expect(403);
      // A provider approving its own emergency access, refused at the route: on record with the grant's case
      // and place, so that the case's supervisors see the attempt.
      const selfApproval = await as('police.longbien')
        .post(`/api/v1/break-glass/${grantId}/review`, { justified: true })
        .expect(404);
      const [entry] = await sql(
        `SELECT resource_id, case_id, province_code, outcome, reason FROM audit_events
          WHERE request_id = $1 AND action = 'break_glass.review'`,
        [selfApproval.body.requestId],
      );
      expect(entry).toEqual({
        resource_id: grantId,
        case_id: caseId,
        province_code: '01',
        outcome: 'denied',
        reason: 'auth.forbidden',
      });
    });

    it('a verdict needs a recent step-up of the supervisor’s session: a token alone gives none', async () => {
      const { user, token } = await givenSignedIn(t, { role: 'supervisor', provinceCode: '01' });
      const review = (body: object) =>
        request(t.app.getHttpServer())
          .post(`/api/v1/break-glass/${grantId}/review`)
          .auth(token, { type: 'bearer' })
          .send(body);
      const refused = await review({ justified: true }).expect(403);
      expect(refused.body.code).toBe('auth.step_up_required');
      await request(t.app.getHttpServer())
        .post('/api/v1/auth/step-up')
        .auth(token, { type: 'bearer' })
        .send({ password: user.password })
        .expect(200);
      // Past the step-up now (refused by the body, which is checked after it): the verdict is left to the
      // next test's supervisor.
      await review({ justified: 'yes' }).expect(400);
    });

    it('the supervisor marks it justified, once; it leaves the pending queue and the review is logged', async () => {
      await as('supervisor.hanoi')
        .post(`/api/v1/break-glass/${grantId}/review`, { justified: 'yes' })
        .expect(400);
      const res = await as('supervisor.hanoi')
        .post(`/api/v1/break-glass/${grantId}/review`, {
          justified: true,
          note: 'Đã xác minh cuộc gọi (giả định)',
        })
        .expect(200);
      expect(res.body).toMatchObject({
        id: grantId,
        status: 'reviewed',
        justified: true,
        reviewNote: 'Đã xác minh cuộc gọi (giả định)',
      });
      expect(res.body.reviewedAt).toEqual(expect.any(String));
      await as('supervisor.hanoi')
        .post(`/api/v1/break-glass/${grantId}/review`, { justified: false })
        .expect(409);

      const pending = await as('supervisor.hanoi').get('/api/v1/break-glass?status=pending').expect(200);
      expect((pending.body.items as { id: string }[]).map((i) => i.id)).not.toContain(grantId);
      const reviewed = await as('supervisor.hanoi').get('/api/v1/break-glass?status=reviewed').expect(200);
      expect((reviewed.body.items as { id: string }[]).map((i) => i.id)).toContain(grantId);

      const log = await sql(
        `SELECT outcome, reason, case_id, fields FROM audit_events WHERE action = 'break_glass.review' AND resource_id = $1
         ORDER BY at, seq`,
        [grantId],
      );
      // The case's code and commune shown are `triage`; the note written and the justification shown `notes`.
      expect(log).toContainEqual({
        outcome: 'allowed',
        reason: 'break_glass.justified',
        case_id: caseId,
        fields: ['triage', 'notes'],
      });
      // So is a page of the queue that shows grants and justifications; an empty page shows nothing.
      const reads = await sql(
        `SELECT fields, returned_ids FROM audit_events
          WHERE action = 'break_glass.review' AND reason = 'break_glass.queue' AND request_id = ANY($1)
          ORDER BY seq`,
        [[pending.headers['x-request-id'], reviewed.headers['x-request-id']]],
      );
      expect(reads).toContainEqual({
        fields: ['triage', 'notes'],
        returned_ids: expect.arrayContaining([grantId]),
      });
      const empty = await as('supervisor.hanoi')
        .get('/api/v1/break-glass?status=reviewed&page=99')
        .expect(200);
      expect(
        await sql(`SELECT fields FROM audit_events WHERE request_id = $1 AND action = 'break_glass.review'`, [
          empty.headers['x-request-id'],
        ]),
      ).toEqual([{ fields: [] }]);
      // Hai Phong (404), a role without any review rule refused at the route, a supervisor without a step-up,
      // then the second review (409).
      expect(log.filter((l) => l.outcome === 'denied').map((l) => l.reason)).toEqual([
        'resource.not_found',
        'auth.forbidden',
        'auth.step_up_required',
        'conflict.state',
      ]);
      expect(JSON.stringify(await sql('SELECT * FROM audit_events'))).not.toContain('xác minh');
    });

    it('found unjustified, the access ends at once, and its user cannot open that case again', async () => {
      const other = await newCase();
      const grant = (await open('health.longbien', other).expect(201)).body.id as string;
      await as('health.longbien').get(`/api/v1/cases/${other}`).expect(200);
      const res = await as('supervisor.hanoi')
        .post(`/api/v1/break-glass/${grant}/review`, { justified: false })
        .expect(200);
      expect(res.body).toMatchObject({ justified: false, active: false });
      await as('health.longbien').get(`/api/v1/cases/${other}`).expect(404);
      const again = await open('health.longbien', other).expect(409);
      expect(again.body.code).toBe('conflict.state');
      const [refusal] = await sql(
        `SELECT outcome, reason FROM audit_events WHERE action = 'break_glass.open' AND request_id = $1`,
        [again.body.requestId],
      );
      expect(refusal).toEqual({ outcome: 'denied', reason: 'break_glass.unjustified' });
    });
  });
});
