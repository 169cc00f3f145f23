import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import {
  caseBody,
  giveConsent,
  organizationId,
  refer,
  signInAll,
  startDemoApp,
  Tokens,
} from './support/casework';
import type { TestApp } from './support/app';
import { givenOrganization, givenSignedIn } from './support/identity';
import { statementsDuring } from './support/statements';

// Marker strings in every survivor field: none may reach the access log (nor the application's log).
const MARKERS = [
  'Markerwoman Zyx',
  '0911 222 333',
  'Marker Street 77',
  'marker narrative qwv',
  'Markerman Pqj',
];

/** Runs `work` while the database refuses access-log entries of `action` (a CHECK constraint, dropped after). */
async function whileRefused(owner: Client, action: string, work: () => Promise<void>): Promise<void> {
  await owner.query(
    `ALTER TABLE audit_events ADD CONSTRAINT probe_refuse CHECK (action <> '${action}') NOT VALID`,
  );
  try {
    await work();
  } finally {
    await owner.query(`ALTER TABLE audit_events DROP CONSTRAINT probe_refuse`);
  }
}

/** How many access-log entries of `action` have `id` in `column`. */
async function entryCount(
  owner: Client,
  action: string,
  column: 'case_id' | 'resource_id',
  id: string,
): Promise<number> {
  const { rows } = await owner.query<{ n: string }>(
    `SELECT count(*) AS n FROM audit_events WHERE action = $1 AND ${column} = $2`,
    [action, id],
  );
  return Number(rows[0].n);
}

/** The access log as case work writes it, through HTTP, with the app on the restricted database role. */
describe('access log of case work (end to end)', () => {
  let t: TestApp;
  let tokens: Tokens;
  let caseId: string;
  const http = () => request(t.app.getHttpServer());
  const as = (username: string) => ({ Authorization: `Bearer ${tokens[username]}` });

  beforeAll(async () => {
    t = await startDemoApp({ HAVEN_DB_POOL_SIZE: '10' });
    tokens = await signInAll(t, [
      'ward.longbien',
      'police.longbien',
      'health.longbien',
      'supervisor.hanoi',
      'admin',
    ]);
    const body = caseBody({
      survivor: {
        fullName: MARKERS[0],
        sex: 'female',
        dateOfBirth: '1990-01-15',
        phone: MARKERS[1],
        address: MARKERS[2],
      },
      incident: {
        occurredAt: '2026-11-19T21:00:00+07:00',
        forms: ['physical'],
        gbvType: 'physical_assault',
        narrative: MARKERS[3],
      },
      perpetrator: { fullName: MARKERS[4], relationship: 'spouse' },
    });
    caseId = (await http().post('/api/v1/cases').set(as('ward.longbien')).send(body).expect(201)).body.id;
    await http()
      .post('/api/v1/cases/search')
      .set(as('ward.longbien'))
      .send({ fullName: MARKERS[0] })
      .expect(200);
    await http().get(`/api/v1/cases/${caseId}`).set(as('police.longbien')).expect(404);
  });
  afterAll(async () => {
    await t.close();
  });

  const entries = () =>
    t.app
      .get(DataSource)
      .query<{ action: string; outcome: string; case_id: string | null }[]>(
        `SELECT action, outcome, case_id FROM audit_events ORDER BY seq`,
      );

  it('200 concurrent case reads write 200 entries and the chain verifies', async () => {
    const before = (await entries()).filter(
      (e) => e.action === 'case.read' && e.outcome === 'allowed',
    ).length;
    const reads = await Promise.all(
      Array.from({ length: 200 }, () => http().get(`/api/v1/cases/${caseId}`).set(as('ward.longbien'))),
    );
    expect(reads.map((r) => r.status)).toEqual(Array(200).fill(200));
    const after = (await entries()).filter(
      (e) => e.action === 'case.read' && e.outcome === 'allowed' && e.case_id === caseId,
    );
    expect(after.length - before).toBe(200);
    const stripes = await t.app
      .get(DataSource)
      .query<{ n: string }[]>(
        `SELECT count(DISTINCT stripe) AS n FROM audit_events WHERE action = 'case.read'`,
      );
    expect(Number(stripes[0].n)).toBeGreaterThan(1);
    const verified = await http().get('/api/v1/audit/verify').set(as('supervisor.hanoi')).expect(200);
    expect(verified.body).toMatchObject({ ok: true });
    expect(verified.body.checked).toBeGreaterThanOrEqual(200);
  });

  it('records the creation, the search, and the provider’s denied attempt', async () => {
    const count = async (query: string) =>
      (
        await http()
          .get(`/api/v1/audit/events?caseId=${caseId}&${query}`)
          .set(as('supervisor.hanoi'))
          .expect(200)
      ).body.total as number;
    expect(await count('action=case.create')).toBe(1);
    expect(await count('action=case.read&outcome=allowed')).toBe(200);
    expect(await count('action=case.read&outcome=denied')).toBe(1);
    const search = await http()
      .get('/api/v1/audit/events?action=case.search')
      .set(as('supervisor.hanoi'))
      .expect(200);
    // Found by the survivor's name: the result says this case's survivor bears it (identity).
    expect(search.body.items[0]).toMatchObject({
      outcome: 'allowed',
      returnedIds: [caseId],
      fields: ['triage', 'identity'],
    });
  });

  it('a registration whose entry the database refuses stores nothing: no case, no data key, no number drawn', async () => {
    // The data key, the case and the entry are one statement (AuditService.recordWith): all or nothing.
    const owner = new Client({ connectionString: t.db.url });
    await owner.connect();
    const count = async (sql: string) => Number((await owner.query<{ n: string }>(sql)).rows[0].n);
    const cases = () => count(`SELECT count(*) AS n FROM cases`);
    const keys = () => count(`SELECT count(*) AS n FROM data_keys WHERE owner_type = 'case'`);
    const drawn = () => count(`SELECT coalesce(sum(last_value), 0) AS n FROM case_sequences`);
    try {
      const [cases0, keys0, drawn0] = [await cases(), await keys(), await drawn()];
      await whileRefused(owner, 'case.create', async () => {
        const refused = await http()
          .post('/api/v1/cases')
          .set(as('ward.longbien'))
          .send(caseBody({ survivor: { fullName: MARKERS[0], sex: 'female' } }));
        expect(refused.status).toBeGreaterThanOrEqual(500);
        expect(JSON.stringify(refused.body)).not.toContain(MARKERS[0]);
      });
      // Nothing stored, and no case number drawn: the next registration takes the next number, no gap.
      expect([await cases(), await keys(), await drawn()]).toEqual([cases0, keys0, drawn0]);
      const next = await http().post('/api/v1/cases').set(as('ward.longbien')).send(caseBody()).expect(201);
      expect([await cases(), await keys(), await drawn()]).toEqual([cases0 + 1, keys0 + 1, drawn0 + 1]);
      const { rows } = await owner.query<{ last_value: number }>(
        `SELECT last_value FROM case_sequences WHERE province_code = '01' AND year = 2026`,
      );
      expect(next.body.code).toBe(`HV01-2026-${String(rows[0].last_value).padStart(6, '0')}`);
    } finally {
      await owner.end();
    }
  });

  it('a case read whose entry the database refuses hands out nothing, and leaves no entry', async () => {
    // The ciphertexts come back only with the read's entry, in one statement (AuditService.recordRead).
    const owner = new Client({ connectionString: t.db.url });
    await owner.connect();
    const reads = () => entryCount(owner, 'case.read', 'case_id', caseId);
    try {
      const before = await reads();
      await whileRefused(owner, 'case.read', async () => {
        const refused = await http().get(`/api/v1/cases/${caseId}`).set(as('ward.longbien'));
        expect(refused.status).toBeGreaterThanOrEqual(500);
        for (const marker of MARKERS) expect(JSON.stringify(refused.body)).not.toContain(marker);
      });
      expect(await reads()).toBe(before);
      const read = await http().get(`/api/v1/cases/${caseId}`).set(as('ward.longbien')).expect(200);
      expect(read.body.survivor.fullName).toBe(MARKERS[0]);
      expect(await reads()).toBe(before + 1);
    } finally {
      await owner.end();
    }
  });

  /**
   * A case of its own (one live referral per organisation), with the first marker as the survivor's name,
   * referred to the police of Long Biên under a consent to `categories`.
   */
  const referredCase = async (
    categories: string[],
    urgency: string,
  ): Promise<{ caseId: string; referralId: string }> => {
    const ward = tokens['ward.longbien'];
    const police = await organizationId(t, ward, 'Công an phường Long Biên');
    const caseId = (
      await http()
        .post('/api/v1/cases')
        .set(as('ward.longbien'))
        .send(caseBody({ survivor: { fullName: MARKERS[0], sex: 'female' } }))
        .expect(201)
    ).body.id;
    const consent = await giveConsent(t, ward, caseId, {
      organizationId: police,
      categories,
      givenBy: 'survivor',
    });
    return { caseId, referralId: (await refer(t, ward, caseId, police, consent, urgency)).id };
  };

  it('case and referral reads take ciphertexts only in the statement that writes their entry', async () => {
    const { caseId, referralId } = await referredCase(['identity', 'incident'], 'routine');
    await http().post(`/api/v1/referrals/${referralId}/accept`).set(as('police.longbien')).expect(200);
    await http()
      .post(`/api/v1/referrals/${referralId}/notes`)
      .set(as('police.longbien'))
      .send({ text: 'ghi chú của công an' })
      .expect(201);
    const reads: [string, string][] = [
      ['ward.longbien', `/api/v1/cases/${caseId}`],
      ['ward.longbien', `/api/v1/referrals/${referralId}`],
      ['police.longbien', `/api/v1/referrals/${referralId}`],
    ];
    for (const [user, url] of reads) {
      const { result: res, statements } = await statementsDuring(() =>
        http().get(url).set(as(user)).expect(200),
      );
      const sealed = statements.filter((sql) => /\benc_\w+/.test(sql));
      expect(sealed).toHaveLength(1);
      expect(sealed[0]).toMatch(/INSERT INTO audit_events/);
      expect(JSON.stringify(res.body)).toContain(url.includes('cases') ? MARKERS[0] : 'ghi chú của công an');
    }
  });

  it('a caseId filter finds the searches and lists that returned the case, and only those', async () => {
    const { caseId: listed, referralId } = await referredCase(['identity'], 'routine');
    const events = async (query: string) =>
      (await http().get(`/api/v1/audit/events?${query}`).set(as('supervisor.hanoi')).expect(200)).body
        .items as { seq: number; returnedIds: string[]; fields: string[] }[];
    /** The newest entry of `action`, after `work` wrote it. */
    const newest = async (action: string, work: () => Promise<unknown>) => {
      await work();
      return (await events(`action=${action}&pageSize=1`))[0];
    };
    const search = (fullName: string) =>
      http().post('/api/v1/cases/search').set(as('ward.longbien')).send({ fullName }).expect(200);
    const returned = [
      await newest('case.search', () => search(MARKERS[0])),
      await newest('case.list', () =>
        http().get('/api/v1/cases?pageSize=100').set(as('ward.longbien')).expect(200),
      ),
      await newest('referral.list', () =>
        http().get('/api/v1/referrals?pageSize=100').set(as('police.longbien')).expect(200),
      ),
    ];
    expect(returned[0].returnedIds).toContain(listed);
    expect(returned[1].returnedIds).toContain(listed);
    expect(returned[2].returnedIds).toContain(referralId);
    const missed = await newest('case.search', () => search('Nobody Qqxz'));
    expect(missed.returnedIds).toEqual([]);
    expect(missed.fields).toEqual(['triage']); // nothing found, nothing told
    // Found by a phone number (the first case's): the result tells its survivor's contact.
    const byPhone = await newest('case.search', () =>
      http().post('/api/v1/cases/search').set(as('ward.longbien')).send({ phone: MARKERS[1] }).expect(200),
    );
    expect(byPhone.returnedIds).toContain(caseId);
    expect(byPhone.fields).toEqual(['triage', 'contact']);

    const byCase = (await events(`caseId=${listed}&pageSize=100`)).map((e) => e.seq);
    for (const e of returned) expect(byCase).toContain(e.seq);
    expect(byCase).not.toContain(missed.seq);
    // Another case's filter finds none of the list reads that did not return it.
    const elsewhere = (await events(`caseId=${randomUUID()}&pageSize=100`)).map((e) => e.seq);
    expect(elsewhere).toEqual([]);
  });

  it('a provider’s refused read of a case it may not see runs the statements of one of no case at all', async () => {
    const { caseId: other } = await referredCase(['identity'], 'routine');
    // The statements, their parameters aside (the access-log entries differ in their values only).
    const statementsOf = async (id: string) =>
      (
        await statementsDuring(() => http().get(`/api/v1/cases/${id}`).set(as('health.longbien')).expect(404))
      ).statements.map((sql) => sql.replace(/\s+/g, ' '));
    const existing = await statementsOf(other); // referred to police, not to this health provider
    const missing = await statementsOf(randomUUID());
    expect(existing).toEqual(missing);
  });

  it('a referral read whose entry the database refuses hands out nothing, and leaves no entry', async () => {
    const { referralId } = await referredCase(['identity'], 'emergency');
    const owner = new Client({ connectionString: t.db.url });
    await owner.connect();
    const reads = () => entryCount(owner, 'referral.read', 'resource_id', referralId);
    try {
      await whileRefused(owner, 'referral.read', async () => {
        const refused = await http().get(`/api/v1/referrals/${referralId}`).set(as('ward.longbien'));
        expect(refused.status).toBeGreaterThanOrEqual(500);
        for (const marker of [...MARKERS, 'ghi chú giả'])
          expect(JSON.stringify(refused.body)).not.toContain(marker);
      });
      expect(await reads()).toBe(0);
      const read = await http().get(`/api/v1/referrals/${referralId}`).set(as('ward.longbien')).expect(200);
      expect(read.body).toMatchObject({ note: 'ghi chú giả', case: { survivor: { fullName: MARKERS[0] } } });
      expect(await reads()).toBe(1);
    } finally {
      await owner.end();
    }
  });

  it('an accept whose entry the database refuses changes nothing: the referral stays pending, then accepts once', async () => {
    // The new state and the move's entry are one statement (AuditService.recordWith in the move's transaction).
    const police = await organizationId(t, tokens['ward.longbien'], 'Công an phường Long Biên');
    const ward = tokens['ward.longbien'];
    const consent = await giveConsent(t, ward, caseId, {
      organizationId: police,
      categories: ['identity'],
      givenBy: 'survivor',
    });
    const referral = await refer(t, ward, caseId, police, consent);
    const owner = new Client({ connectionString: t.db.url });
    await owner.connect();
    const state = async () =>
      (
        await owner.query<{ status: string; version: number; accepted_at: Date | null }>(
          `SELECT status, version, accepted_at FROM referrals WHERE id = $1`,
          [referral.id],
        )
      ).rows[0];
    const accepts = () => entryCount(owner, 'referral.accept', 'resource_id', referral.id);
    try {
      const before = await state();
      await whileRefused(owner, 'referral.accept', async () => {
        const refused = await http()
          .post(`/api/v1/referrals/${referral.id}/accept`)
          .set(as('police.longbien'));
        expect(refused.status).toBeGreaterThanOrEqual(500);
      });
      expect(await state()).toEqual(before);
      expect(await accepts()).toBe(0);
      const accepted = await http()
        .post(`/api/v1/referrals/${referral.id}/accept`)
        .set(as('police.longbien'))
        .expect(200);
      expect(accepted.body).toMatchObject({ status: 'accepted', version: before.version + 1 });
      expect(await state()).toMatchObject({ status: 'accepted', version: before.version + 1 });
      expect(await accepts()).toBe(1);
    } finally {
      await owner.end();
    }
  });

  it("a list shown to two provinces shows each province's supervisors the ids of its own cases only", async () => {
    const haiWard = await givenSignedIn(t, { role: 'ward_officer', wardCodes: ['10507'] });
    const haiCase = (
      await http()
        .post('/api/v1/cases')
        .set({ Authorization: `Bearer ${haiWard.token}` })
        .send(caseBody({ wardCode: '10507' }))
        .expect(201)
    ).body.id as string;
    const national = await givenSignedIn(t, { role: 'supervisor' }); // no province: national
    const nationally = { Authorization: `Bearer ${national.token}` };
    const list = await http().get('/api/v1/cases?pageSize=200').set(nationally).expect(200);
    const listed = (list.body.items as { id: string }[]).map((i) => i.id);
    expect(listed).toEqual(expect.arrayContaining([caseId, haiCase]));
    const requestId = list.headers['x-request-id'];
    const haiphong = (await signInAll(t, ['supervisor.haiphong']))['supervisor.haiphong'];
    /** The list's entry as `headers` sees it, through the access log's API (undefined: not shown). */
    const seenBy = async (headers: Record<string, string>, filter = '') =>
      (
        (
          await http()
            .get(`/api/v1/audit/events?action=case.list&actorId=${national.user.id}${filter}`)
            .set(headers)
            .expect(200)
        ).body.items as { requestId: string; returnedIds: string[] }[]
      ).find((i) => i.requestId === requestId);
    const [ids31, ids01] = await Promise.all(
      ['31', '01'].map(async (province) =>
        (
          await t.app
            .get(DataSource)
            .query<{ id: string }[]>(`SELECT id FROM cases WHERE id = ANY($1) AND province_code = $2`, [
              listed,
              province,
            ])
        ).map((r) => r.id),
      ),
    );
    expect(ids31).toContain(haiCase);
    // Each province's supervisors: the list, with its own cases' ids, in the list's order.
    const forHaiphong = await seenBy({ Authorization: `Bearer ${haiphong}` });
    expect(forHaiphong?.returnedIds).toEqual(listed.filter((id) => ids31.includes(id)));
    const forHanoi = await seenBy(as('supervisor.hanoi'));
    expect(forHanoi?.returnedIds).toEqual(listed.filter((id) => ids01.includes(id)));
    expect(forHanoi?.returnedIds).toContain(caseId);
    // Asked for by another province's case, the list is not found; by its own, it is. National: all of it.
    expect(await seenBy({ Authorization: `Bearer ${haiphong}` }, `&caseId=${caseId}`)).toBeUndefined();
    expect(await seenBy({ Authorization: `Bearer ${haiphong}` }, `&caseId=${haiCase}`)).toBeDefined();
    expect((await seenBy(nationally))?.returnedIds).toEqual(listed);
  });

  it("a national supervisor's look at a case's access trail is on record in the case's province; another province's look does not say where the case is", async () => {
    const national = await givenSignedIn(t, { role: 'supervisor' }); // no province: national
    const haiphong = (await signInAll(t, ['supervisor.haiphong']))['supervisor.haiphong'];
    const look = async (token: string) =>
      (
        await http()
          .get(`/api/v1/audit/events?caseId=${caseId}`)
          .set({ Authorization: `Bearer ${token}` })
          .expect(200)
      ).headers['x-request-id'];
    const lookedNationally = await look(national.token);
    const lookedFromHaiphong = await look(haiphong);
    /** The audit.read entry of `requestId` as `token` sees it through the API (undefined: not shown). */
    const seenBy = async (token: string, requestId: string) =>
      (
        (
          await http()
            .get('/api/v1/audit/events?action=audit.read&pageSize=200')
            .set({ Authorization: `Bearer ${token}` })
            .expect(200)
        ).body.items as { requestId: string; caseId: string | null; provinceCode: string | null }[]
      ).find((i) => i.requestId === requestId);
    // The case is Hà Nội's: its supervisors see who looked at its trail, as they see every access to it.
    expect(await seenBy(tokens['supervisor.hanoi'], lookedNationally)).toMatchObject({
      caseId,
      provinceCode: '01',
    });
    // Hai Phong's supervisor found nothing there, and its own entry names no province of the case.
    const own = await seenBy(haiphong, lookedFromHaiphong);
    expect(own).toBeDefined();
    expect(own?.provinceCode).not.toBe('01');
    expect(await seenBy(tokens['supervisor.hanoi'], lookedFromHaiphong)).toBeUndefined();
  });

  it("another province's look at a case's trail that finds its entries is on record in the case's province too", async () => {
    // A Hai Phong organisation reads a Hà Nội case through its referral: the read's entry is in both provinces.
    const org = await givenOrganization(t, {
      name: 'Trung tâm hỗ trợ Hải Phòng (giả định)',
      sector: 'police',
      serviceArea: { provinceCode: '31' },
    });
    const staff = await givenSignedIn(t, { role: 'provider', organizationId: org.id });
    const c = (await http().post('/api/v1/cases').set(as('ward.longbien')).send(caseBody()).expect(201)).body;
    const consentId = await giveConsent(t, tokens['ward.longbien'], c.id, {
      organizationId: org.id,
      categories: ['identity'],
      givenBy: 'survivor',
    });
    const r = await refer(t, tokens['ward.longbien'], c.id, org.id, consentId);
    const byStaff = { Authorization: `Bearer ${staff.token}` };
    await http().post(`/api/v1/referrals/${r.id}/accept`).set(byStaff).expect(200);
    await http().get(`/api/v1/cases/${c.id}`).set(byStaff).expect(200);
    // Hai Phong's supervisor looks at the case's trail and finds that read (its province's).
    const haiphong = (await signInAll(t, ['supervisor.haiphong']))['supervisor.haiphong'];
    const looked = await http()
      .get(`/api/v1/audit/events?caseId=${c.id}`)
      .set({ Authorization: `Bearer ${haiphong}` })
      .expect(200);
    expect(looked.body.items).toEqual(
      expect.arrayContaining([expect.objectContaining({ action: 'case.read', actorId: staff.user.id })]),
    );
    // The same look, the id written in upper case (PostgreSQL matches it all the same).
    const shouted = await http()
      .get(`/api/v1/audit/events?caseId=${c.id.toUpperCase()}`)
      .set({ Authorization: `Bearer ${haiphong}` })
      .expect(200);
    expect(shouted.body.items.length).toBe(looked.body.items.length + 1); // and the first look's entry
    // And a page past those entries (beforeSeq): what the look finds decides, not what one page shows.
    const paged = await http()
      .get(`/api/v1/audit/events?caseId=${c.id}&beforeSeq=1`)
      .set({ Authorization: `Bearer ${haiphong}` })
      .expect(200);
    expect(paged.body.items).toEqual([]);
    // Hà Nội's supervisors see both looks at their case's trail, as every other access to it.
    const reads = (
      await http()
        .get('/api/v1/audit/events?action=audit.read&pageSize=200')
        .set(as('supervisor.hanoi'))
        .expect(200)
    ).body.items as { requestId: string; caseId: string | null; provinceCode: string | null }[];
    for (const look of [looked, shouted, paged]) {
      expect(reads.find((i) => i.requestId === look.headers['x-request-id'])).toMatchObject({
        caseId: c.id,
        provinceCode: '01',
      });
    }
  });

  it('each entry carries the request that caused it: its id, address and user agent', async () => {
    // A case of its own, which no provider has a referral of.
    const own = await http().post('/api/v1/cases').set(as('ward.longbien')).send(caseBody()).expect(201);
    const send = (username: string, requestId: string, status: number) =>
      http()
        .get(`/api/v1/cases/${own.body.id as string}`)
        .set(as(username))
        .set('X-Request-Id', requestId)
        .set('User-Agent', `HavenConsole/3.0 (${username})`)
        .expect(status);
    // Allowed, refused by the service (no referral of the police's), refused at the route (no rule at all).
    await send('ward.longbien', 'c0e7ead000000001', 200);
    await send('police.longbien', 'c0e7ead000000002', 404);
    await send('admin', 'c0e7ead000000003', 404);
    const rows = await t.app.get(DataSource).query<Record<string, string>[]>(
      `SELECT request_id, actor_role, outcome, ip, user_agent FROM audit_events
          WHERE request_id LIKE 'c0e7ead%' ORDER BY seq`,
    );
    const address = expect.stringMatching(/^(127\.0\.0\.1|::1|::ffff:127\.0\.0\.1)$/);
    expect(rows).toEqual([
      {
        request_id: 'c0e7ead000000001',
        actor_role: 'ward_officer',
        outcome: 'allowed',
        ip: address,
        user_agent: 'HavenConsole/3.0',
      },
      {
        request_id: 'c0e7ead000000002',
        actor_role: 'provider',
        outcome: 'denied',
        ip: address,
        user_agent: 'HavenConsole/3.0',
      },
      {
        request_id: 'c0e7ead000000003',
        actor_role: 'admin',
        outcome: 'denied',
        ip: address,
        user_agent: 'HavenConsole/3.0',
      },
    ]);
  });

  it('no survivor marker appears in any access-log entry, nor in the application log', async () => {
    const rows = await t.app
      .get(DataSource)
      .query<{ row: string }[]>(`SELECT row_to_json(e)::text AS row FROM audit_events e`);
    expect(rows.length).toBeGreaterThan(200);
    const everything = `${rows.map((r) => r.row).join('\n')}\n${t.logs.join('')}`.toLowerCase();
    for (const marker of MARKERS) {
      expect(everything).not.toContain(marker.toLowerCase());
    }
    expect(everything).not.toContain('markerwoman');
    expect(everything).not.toContain('0911222333');
  });
});
