import { createPublicKey, randomBytes, randomUUID, verify } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { checkpointMessage } from '../src/audit/audit-checkpoint';
import { givenPrincipal } from './support/principal';
import { ANOMALY_RULES, AuditQueryService } from '../src/audit/audit-query.service';
import { AuditService } from '../src/audit/audit.service';
import type { AuditActor } from '../src/audit/audit.types';
import { APP_CONFIG, AppConfig } from '../src/config/config';
import { startTestApp, TestApp } from './support/app';
import {
  FACTORY_ADMIN_ID,
  givenDemoUnits,
  givenPasswordReset,
  givenSignedIn,
  givenUser,
} from './support/identity';

const CASE_HANOI = '0a000000-0000-4000-8000-000000000001';
const CASE_HAIPHONG = '0a000000-0000-4000-8000-000000000031';
const PROBLEM = /^application\/problem\+json/;

/** The supervisors' access-log API, through HTTP, with the app running as the restricted database role. */
describe('access log (end to end)', () => {
  let t: TestApp;
  const http = () => request(t.app.getHttpServer());
  const tokens: Record<'hanoi' | 'haiphong' | 'national' | 'ward' | 'admin', string> = {} as never;
  const ids: Record<string, string> = {};
  const get = (who: keyof typeof tokens, path: string) =>
    http().get(`/api/v1/audit/${path}`).auth(tokens[who], { type: 'bearer' });
  /** Runs `work` with the clock (Date.now) at `ms`: the entries it writes carry that moment. */
  const atTime = async <T>(ms: number, work: () => Promise<T>): Promise<T> => {
    const now = jest.spyOn(Date, 'now').mockReturnValue(ms);
    try {
      return await work();
    } finally {
      now.mockRestore();
    }
  };
  /** A read of case `caseId` by ward officer `officerId` (of Long Biên) at `ms`, on the log. */
  const caseReadAt = (officerId: string, ms: number, caseId: string) =>
    atTime(ms, () =>
      t.app.get(DataSource).transaction((m) =>
        t.app.get(AuditService).record(m, user(officerId, ['00145']), {
          action: 'case.read',
          resourceType: 'case',
          caseId,
          resourceId: caseId,
          provinceCode: '01',
        }),
      ),
    );
  /** An administrator's change `reason` to Hà Nội account `userId` at `ms`, sent with request id `requestId`. */
  const accountChangeAt = (userId: string, ms: number, reason: string, requestId: string = randomUUID()) =>
    atTime(ms, () =>
      t.app.get(DataSource).transaction((m) =>
        t.app.get(AuditService).record(m, null, {
          action: 'user.update',
          resourceType: 'user',
          resourceId: userId,
          reason,
          subjectProvinces: ['01'],
          request: { requestId },
        }),
      ),
    );

  beforeAll(async () => {
    t = await startTestApp();
    await givenDemoUnits(t);
    for (const [who, dto] of [
      ['hanoi', { role: 'supervisor', provinceCode: '01' }],
      ['haiphong', { role: 'supervisor', provinceCode: '31' }],
      ['national', { role: 'supervisor' }],
      ['ward', { role: 'ward_officer', wardCodes: ['00145'] }],
      ['admin', { role: 'admin' }],
    ] as [keyof typeof tokens, Parameters<typeof givenSignedIn>[1]][]) {
      const { user, token } = await givenSignedIn(t, dto);
      tokens[who] = token;
      ids[who] = user.id;
    }
    const { user: wardHaiphong } = await givenSignedIn(t, { role: 'ward_officer', wardCodes: ['10507'] });
    ids.wardHaiphong = user(wardHaiphong.id, ['10507']).userId;

    // What the case and sign-in features write (their own tests cover that they do).
    const audit = t.app.get(AuditService);
    const ds = t.app.get(DataSource);
    const ward = user(ids.ward, ['00145']);
    await ds.transaction((m) =>
      audit.record(m, ward, {
        action: 'case.read',
        resourceType: 'case',
        resourceId: CASE_HANOI,
        caseId: CASE_HANOI,
        fields: ['triage', 'identity'],
        provinceCode: '01',
        wardCode: '00145',
      }),
    );
    await audit.recordDenied(ward, {
      action: 'case.read',
      resourceType: 'case',
      resourceId: CASE_HAIPHONG,
      caseId: CASE_HAIPHONG,
      provinceCode: '31',
      wardCode: '10507',
      reason: 'resource.not_found',
    });
    await ds.transaction((m) =>
      audit.record(m, user(ids.wardHaiphong, ['10507']), {
        action: 'case.read',
        resourceType: 'case',
        resourceId: CASE_HAIPHONG,
        caseId: CASE_HAIPHONG,
        fields: ['triage'],
        provinceCode: '31',
        wardCode: '10507',
      }),
    );
    await audit.recordSignIn({ userId: ids.ward, outcome: 'allowed' });
    await audit.recordSignIn({ userId: null, outcome: 'denied', reason: 'auth.invalid_credentials' });
  });
  afterAll(async () => {
    await t.close();
  });

  function user(userId: string, wardCodes: string[]): AuditActor {
    return { userId, role: 'ward_officer', organizationId: null, wardCodes, provinceCode: null };
  }
  /**
   * `n` allowed reads of distinct cases by `actor`, entry i written at `startMs + i * stepMs` (Date.now mocked),
   * in `provinceCode`; `action(i)` names each (case.read by default).
   */
  /** The many_cases findings of the Hai Phong ward officer in a period, as its supervisor sees them. */
  async function manyCasesOfHaiphongWard(from: string, to: string): Promise<[number, string][]> {
    const res = await get('haiphong', `anomalies?from=${from}&to=${to}`).expect(200);
    return (res.body.items as { rule: string; actorId: string; count: number; windowStart: string }[])
      .filter((i) => i.rule === 'many_cases' && i.actorId === ids.wardHaiphong)
      .map((i) => [i.count, i.windowStart]);
  }

  async function readsAt(
    actor: AuditActor,
    n: number,
    startMs: number,
    stepMs: number,
    opts: { provinceCode: string; casePrefix: string; action?: (i: number) => 'case.read' | 'case.update' },
  ): Promise<void> {
    const audit = t.app.get(AuditService);
    const now = jest.spyOn(Date, 'now');
    try {
      for (let i = 0; i < n; i++) {
        now.mockReturnValue(startMs + i * stepMs);
        const caseId = `${opts.casePrefix}000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
        await t.app.get(DataSource).transaction((m) =>
          audit.record(m, actor, {
            action: opts.action?.(i) ?? 'case.read',
            resourceType: 'case',
            caseId,
            resourceId: caseId,
            provinceCode: opts.provinceCode,
          }),
        );
      }
    } finally {
      now.mockRestore();
    }
  }
  const summary = (items: { action: string; caseId?: string; actorId: string | null; outcome: string }[]) =>
    items
      .filter((i) => i.action !== 'audit.read')
      .map((i) => `${i.action} ${i.outcome} ${i.caseId ?? '-'} ${i.actorId ?? 'anonymous'}`)
      .sort();

  it('runs as the restricted database role, which cannot change the log', async () => {
    const ds = t.app.get(DataSource);
    const [{ role }] = await ds.query<{ role: string }[]>('SELECT current_user AS role');
    expect(role).toBe('haven_test_app');
    await expect(ds.query(`UPDATE audit_events SET outcome = 'allowed'`)).rejects.toMatchObject({
      code: '42501',
    });
    await expect(ds.query(`DELETE FROM audit_events`)).rejects.toMatchObject({ code: '42501' });
  });

  it('a provincial supervisor sees the entries of the province only: its cases and its accounts', async () => {
    const res = await get('hanoi', 'events').expect(200);
    expect(summary(res.body.items)).toEqual(
      [
        `auth.login allowed - ${ids.ward}`,
        `case.read allowed ${CASE_HANOI} ${ids.ward}`,
        // A Hanoi officer's attempt on a Hai Phong case: both provinces' supervisors see it, Hanoi's without the
        // case (next test).
        `case.read denied - ${ids.ward}`,
        // The creation of the province's accounts (by the test factory's administrator).
        `user.create allowed - ${FACTORY_ADMIN_ID}`,
        `user.create allowed - ${FACTORY_ADMIN_ID}`,
      ].sort(),
    );
    const created = (items: { action: string; resourceId: string }[]) =>
      items
        .filter((i) => i.action === 'user.create')
        .map((i) => i.resourceId)
        .sort();
    expect(created(res.body.items)).toEqual([ids.hanoi, ids.ward].sort());
    const haiphong = await get('haiphong', 'events').expect(200);
    expect(summary(haiphong.body.items)).toEqual(
      [
        `case.read allowed ${CASE_HAIPHONG} ${ids.wardHaiphong}`,
        `case.read denied ${CASE_HAIPHONG} ${ids.ward}`,
        `user.create allowed - ${FACTORY_ADMIN_ID}`,
        `user.create allowed - ${FACTORY_ADMIN_ID}`,
      ].sort(),
    );
    expect(created(haiphong.body.items)).toEqual([ids.haiphong, ids.wardHaiphong].sort());
  });

  it('a refusal about another province’s case shows the staff’s province neither the case nor its place', async () => {
    const denied = (await get('hanoi', `events?actorId=${ids.ward}&outcome=denied`).expect(200)).body.items;
    expect(denied).toEqual([
      expect.objectContaining({
        action: 'case.read',
        resourceId: CASE_HAIPHONG,
        provinceCode: null,
        wardCode: null,
      }),
    ]);
    expect(denied[0].caseId).toBeUndefined();
    // Nor does a filter on the case find it: the same answer as for an id that is no case at all.
    const byCase = await get('hanoi', `events?caseId=${CASE_HAIPHONG}`).expect(200);
    expect(byCase.body).toMatchObject({ items: [], total: 0 });
    // The case's own province sees it whole.
    const there = await get('haiphong', `events?caseId=${CASE_HAIPHONG}&outcome=denied`).expect(200);
    expect(there.body.items).toEqual([
      expect.objectContaining({
        caseId: CASE_HAIPHONG,
        provinceCode: '31',
        wardCode: '10507',
        actorId: ids.ward,
      }),
    ]);
  });

  it('a national supervisor sees everything, including sign-in attempts on unknown usernames', async () => {
    const res = await get('national', 'events').expect(200);
    expect(summary(res.body.items)).toEqual(
      expect.arrayContaining([
        `auth.login_failed denied - anonymous`,
        `case.read allowed ${CASE_HAIPHONG} ${ids.wardHaiphong}`,
      ]),
    );
    const failed = res.body.items.find((i: { action: string }) => i.action === 'auth.login_failed');
    expect(failed).toMatchObject({
      actorId: null,
      actorRole: null,
      outcome: 'denied',
      reason: 'auth.invalid_credentials',
    });
  });

  it('an item has the contract’s fields', async () => {
    const res = await get('hanoi', `events?caseId=${CASE_HANOI}`).expect(200);
    expect(res.body).toMatchObject({ total: 1, page: 1 });
    expect(res.body.items[0]).toMatchObject({
      seq: expect.any(Number),
      at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      actorId: ids.ward,
      actorRole: 'ward_officer',
      action: 'case.read',
      caseId: CASE_HANOI,
      resourceType: 'case',
      resourceId: CASE_HANOI,
      fields: ['triage', 'identity'],
      outcome: 'allowed',
      ip: null,
      requestId: null,
    });
  });

  it('filters by case, actor, action, outcome and period, and paginates', async () => {
    const ofWard = await get('national', `events?actorId=${ids.ward}&action=case.read`).expect(200);
    expect(ofWard.body.total).toBe(2);
    const denied = await get('national', `events?outcome=denied&action=case.read`).expect(200);
    expect(denied.body.items.map((i: { caseId: string }) => i.caseId)).toEqual([CASE_HAIPHONG]);
    const future = await get(
      'national',
      `events?from=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`,
    );
    expect(future.body).toMatchObject({ items: [], total: 0 });
    const page = await get('national', 'events?pageSize=2&page=2').expect(200);
    expect(page.body.items).toHaveLength(2);
    expect(page.body.total).toBeGreaterThanOrEqual(5);
    // Each read adds an entry: walked by nextBeforeSeq, the pages after the first repeat and skip nothing.
    const first = await get('national', 'events?pageSize=2').expect(200);
    const { nextBeforeSeq } = first.body as { nextBeforeSeq: number };
    expect(nextBeforeSeq).toBe(first.body.items[1].seq);
    const second = await get('national', `events?pageSize=2&beforeSeq=${nextBeforeSeq}`).expect(200);
    const seqs = [...first.body.items, ...second.body.items].map((i: { seq: number }) => i.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => b - a));
    expect(new Set(seqs).size).toBe(4);
    // The same four, read at once (the two reads since are newer than all of them).
    const together = await get('national', `events?pageSize=4&beforeSeq=${seqs[0] + 1}`).expect(200);
    expect(together.body.items.map((i: { seq: number }) => i.seq)).toEqual(seqs);
    // By offset instead, the pages move with every read (each is a newer entry), and so does the total.
    const moved = await get('national', 'events?pageSize=2&page=2').expect(200);
    expect(moved.body.items[0].seq).toBeGreaterThan(second.body.items[0].seq);
    expect(moved.body.total).toBeGreaterThan(first.body.total);
    // A period that ends before it starts is a mistake, not an empty list.
    // Parameters given empty, as the contract writes them (or a form's blank fields), are filters left out.
    const blank = await get('national', 'events?caseId=&actorId=&action=&outcome=&from=&to=&page=').expect(
      200,
    );
    const none = await get('national', 'events').expect(200);
    expect(blank.body.items[0].seq).toBe(none.body.items[1].seq); // the newest before the second read's own
    expect(blank.body.page).toBe(1);
    await get('national', 'events?name=').expect(400); // a parameter it does not take, even empty
    const reversed = await get('national', 'events?from=2026-12-01&to=2026-11-01').expect(400);
    expect(reversed.body.errors[0].field).toBe('from');
    for (const bad of [
      'caseId=Nguyen',
      'action=case.peek',
      'outcome=maybe',
      'from=yesterday',
      'page=0',
      // Whole numbers in decimal digits only: what Number() would also have read is refused.
      'page=1e1',
      'pageSize=0x10',
      'page=%202',
      'page=2.0',
      // Past the first 10,000 entries (pages of 50 by default): walked on by beforeSeq.
      'page=202',
      'page=52&pageSize=200',
      'beforeSeq=0',
      'beforeSeq=x',
      'beforeSeq=1e21',
      'beforeSeq=99999999999999999999',
      'name=x',
    ]) {
      const res = await get('national', `events?${bad}`).expect(400);
      expect(res.headers['content-type']).toMatch(PROBLEM);
    }
  });

  it('counts a list up to HAVEN_AUDIT_COUNT_LIMIT, and says when more entries match', async () => {
    const audit = t.app.get<AppConfig>(APP_CONFIG).audit as { countLimit: number };
    const limit = audit.countLimit;
    try {
      const exact = (await get('national', 'events?pageSize=1').expect(200)).body;
      expect(exact.total).toBeGreaterThan(3);
      expect(exact.totalCapped).toBe(false);
      audit.countLimit = 3;
      const capped = (await get('national', 'events?pageSize=1').expect(200)).body;
      expect(capped).toMatchObject({ total: 3, totalCapped: true });
      expect(capped.items).toHaveLength(1);
      // A filter that matches fewer is counted exactly.
      const few = (await get('national', 'events?action=audit.verify').expect(200)).body;
      expect(few.totalCapped).toBe(false);
      expect(few.total).toBe(few.items.length);
      audit.countLimit = exact.total + 100;
      const again = (await get('national', 'events?pageSize=1').expect(200)).body;
      expect(again.totalCapped).toBe(false);
      expect(again.total).toBeGreaterThanOrEqual(exact.total + 3); // the reads since are on the log
    } finally {
      audit.countLimit = limit;
    }
  });
  it('logs every read of the log, with the request’s id, address and user agent', async () => {
    await get('hanoi', `events?caseId=${CASE_HANOI}`)
      .set('X-Request-Id', 'ad17ead000000001')
      .set('User-Agent', 'HavenConsole/2.1 (Nguyen Thi Hoa; 0987654321) Hoa lives at Hang Bac Hoa/0987654321')
      .expect(200);
    const res = await get('hanoi', 'events?action=audit.read').expect(200);
    const read = res.body.items.find((i: { requestId: string }) => i.requestId === 'ad17ead000000001');
    expect(read).toMatchObject({
      actorId: ids.hanoi,
      actorRole: 'supervisor',
      action: 'audit.read',
      caseId: CASE_HANOI,
      resourceType: 'audit_log',
      outcome: 'allowed',
      ip: expect.stringMatching(/127\.0\.0\.1|::1/),
      userAgent: 'HavenConsole/2.1',
    });
    // Reads by the Hanoi supervisor are not the Hai Phong supervisor's business.
    const other = await get('haiphong', 'events?action=audit.read').expect(200);
    expect(other.body.items.every((i: { actorId: string }) => i.actorId === ids.haiphong)).toBe(true);
  });

  it('is for supervisors only', async () => {
    for (const who of ['ward', 'admin'] as const) {
      for (const path of ['events', 'verify', 'checkpoints/latest', 'anomalies']) {
        const res = await get(who, path).expect(403);
        expect(res.body.code).toBe('auth.forbidden');
      }
    }
    await http().get('/api/v1/audit/events').expect(401);
  });

  it('publishes signed checkpoints that verify with the published public key', async () => {
    const issued = await http()
      .post('/api/v1/audit/checkpoints')
      .auth(tokens.national, { type: 'bearer' })
      .expect(200);
    const latest = await get('hanoi', 'checkpoints/latest').expect(200);
    // The request for it is on the log, and the checkpoint covers it: a newer one than the one just issued.
    expect(latest.body.seq).toBeGreaterThan(issued.body.seq);
    const requests = await get('hanoi', 'events?action=audit.checkpoint&outcome=allowed').expect(200);
    expect(requests.body.items[0]).toMatchObject({ actorId: ids.hanoi, seq: latest.body.seq });
    expect(latest.body).toMatchObject({
      seq: expect.any(Number),
      root: expect.stringMatching(/^[0-9a-f]{64}$/),
      at: expect.any(String),
      keyId: expect.stringMatching(/^ed25519:[0-9a-f]{16}$/),
      signature: expect.any(String),
    });
    const key = await get('hanoi', 'checkpoints/public-key').expect(200);
    expect(key.body).toMatchObject({ algorithm: 'Ed25519', keyId: latest.body.keyId });
    const publicKey = createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(key.body.publicKey, 'base64').toString('base64url') },
      format: 'jwk',
    });
    const signature = Buffer.from(latest.body.signature, 'base64');
    expect(verify(null, checkpointMessage(latest.body), publicKey, signature)).toBe(true);
    expect(
      verify(null, checkpointMessage({ ...latest.body, seq: latest.body.seq - 1 }), publicKey, signature),
    ).toBe(false);
    // Kept outside the database too.
    expect(existsSync(join(t.config.dataDir, 'checkpoints', 'checkpoints.jsonl'))).toBe(true);
  });

  it('issues the checkpoints requests ask for one a second at most, each covering the requests it answers', async () => {
    const ds = t.app.get(DataSource);
    const stored = async () =>
      Number((await ds.query(`SELECT count(*) AS n FROM audit_checkpoints`))[0].n as string);
    const before = await stored();
    // Five at once share the checkpoints issued after their entries: fewer than one each.
    const together = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        get(i % 2 ? 'hanoi' : 'national', 'checkpoints/latest').expect(200),
      ),
    );
    expect(await stored()).toBeLessThan(before + 5);
    for (const res of together) {
      const [own] = await ds.query(
        `SELECT seq, stripe FROM audit_events WHERE request_id = $1 AND action = 'audit.checkpoint'`,
        [res.headers['x-request-id']],
      );
      const head = (res.body.heads as { stripe: number; seq: number }[]).find((h) => h.stripe === own.stripe);
      expect(head?.seq).toBeGreaterThanOrEqual(Number(own.seq));
    }
    // One after another (a loop): a second apart at least.
    const first = await get('national', 'checkpoints/latest').expect(200);
    const second = await http()
      .post('/api/v1/audit/checkpoints')
      .auth(tokens.national, { type: 'bearer' })
      .expect(200);
    expect(second.body.seq).toBeGreaterThan(first.body.seq);
    expect(Date.parse(second.body.at) - Date.parse(first.body.at)).toBeGreaterThanOrEqual(1000);
  });

  it('verifies the log, logs the verification, and finds a superuser’s edit', async () => {
    const asked = Date.now();
    const ok = await get('hanoi', 'verify').expect(200);
    expect(ok.body).toMatchObject({
      ok: true,
      checked: expect.any(Number),
      checkpoint: { sources: ['file', 'database'] },
    });
    expect(ok.body.firstBadSeq).toBeUndefined();
    // When its pass began: after the request was sent (no pass was running), before its answer.
    expect(Date.parse(ok.body.startedAt)).toBeGreaterThanOrEqual(asked);
    expect(Date.parse(ok.body.startedAt)).toBeLessThanOrEqual(Date.now());
    // Allowed ones only: refusals of other roles at the route are on record too.
    const verifications = await get('hanoi', 'events?action=audit.verify&outcome=allowed').expect(200);
    expect(verifications.body.total).toBe(1);
    // Requests arriving while a pass runs share it (one pass per process), each on the log.
    const service = t.app.get(AuditQueryService);
    const passes = jest.spyOn(service as unknown as { verifyOnce: () => Promise<unknown> }, 'verifyOnce');
    const supervisor = (userId: string, provinceCode: string | null) =>
      givenPrincipal({ userId, role: 'supervisor', provinceCode });
    try {
      const together = await Promise.all([
        service.verify(supervisor(ids.hanoi, '01')),
        service.verify(supervisor(ids.national, null)),
        service.verify(supervisor(ids.hanoi, '01')),
      ]);
      expect(passes).toHaveBeenCalledTimes(1);
      expect(together.every((r) => r === together[0] && r.ok)).toBe(true);
      expect(together[0].startedAt).toEqual(expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/));
      // And the next request, once it is over, runs a pass of its own.
      await get('hanoi', 'verify').expect(200);
      expect(passes).toHaveBeenCalledTimes(2);

      // A pass that took half a second: the next begins no sooner than a second after it ended, however soon it
      // is asked for (a supervisor's loop verifies a third of the time at most).
      const original = (AuditQueryService.prototype as unknown as { verifyOnce: () => Promise<unknown> })
        .verifyOnce;
      passes.mockImplementationOnce(async () => {
        const answer = await original.call(service);
        await new Promise((resolve) => setTimeout(resolve, 500));
        return answer;
      });
      const slow = await get('hanoi', 'verify').expect(200);
      const next = await get('national', 'verify').expect(200);
      expect(passes).toHaveBeenCalledTimes(4);
      expect(Date.parse(next.body.startedAt) - Date.parse(slow.body.startedAt)).toBeGreaterThanOrEqual(1450);

      // A pass of three seconds: its rest (six) is too long to hold a request for (VERIFY_WAIT_MS, five);
      // refused at once with when to come back (on the log once), and a pass runs then.
      passes.mockImplementationOnce(async () => {
        const answer = await original.call(service);
        await new Promise((resolve) => setTimeout(resolve, 3000));
        return answer;
      });
      await get('hanoi', 'verify').expect(200);
      const refused = await get('hanoi', 'verify').expect(429);
      expect(refused.body.code).toBe('auth.throttled');
      expect(refused.body.detail).toMatch(/the next can begin in [67] s/);
      const retryAfter = Number(refused.headers['retry-after']);
      expect(retryAfter).toBeGreaterThanOrEqual(6);
      await get('hanoi', 'verify').expect(429);
      expect(passes).toHaveBeenCalledTimes(5);
      await new Promise((resolve) => setTimeout(resolve, retryAfter * 1000));
      await get('hanoi', 'verify').expect(200);
      expect(passes).toHaveBeenCalledTimes(6);
      const refusals = await get('national', 'events?action=audit.verify&outcome=denied').expect(200);
      expect(
        refusals.body.items.filter((i: { reason: string }) => i.reason === 'auth.throttled'),
      ).toHaveLength(1);
    } finally {
      passes.mockRestore();
    }
    const shared = await get('national', 'events?action=audit.verify&outcome=allowed').expect(200);
    expect(shared.body.total).toBe(9);

    const target = (await get('national', `events?caseId=${CASE_HANOI}&action=case.read`).expect(200)).body
      .items[0];
    const admin = new Client({ connectionString: t.db.url });
    await admin.connect();
    try {
      await admin.query('SET session_replication_role = replica');
      await admin.query(`UPDATE audit_events SET fields = '{triage}' WHERE seq = $1`, [target.seq]);
    } finally {
      await admin.end();
    }
    const bad = await get('hanoi', 'verify').expect(200);
    expect(bad.body).toMatchObject({ ok: false, firstBadSeq: target.seq, problem: 'entry_altered' });
  });

  it('lists anomalies by documented rules, within the jurisdiction', async () => {
    const audit = t.app.get(AuditService);
    const ward = user(ids.ward, ['00145']);
    for (let i = 0; i < 6; i++) {
      await audit.recordDenied(ward, { action: 'case.read', resourceType: 'case', provinceCode: '01' });
    }
    const res = await get('hanoi', 'anomalies').expect(200);
    const bilingual = (en: RegExp, vi: RegExp) => ({
      en: expect.stringMatching(en),
      vi: expect.stringMatching(vi),
    });
    expect(res.body.rules).toEqual({
      many_cases: bilingual(/at least 20 distinct cases/, /ít nhất 20 vụ việc/),
      many_searches: bilingual(
        /searched cases at least 30 times within one hour/,
        /ít nhất 30 lần trong một giờ/,
      ),
      many_searches_daily: bilingual(
        /searched cases at least 150 times in a day/,
        /ít nhất 150 lần trong một ngày/,
      ),
      many_break_glass: bilingual(
        /opened emergency access to cases at least 3 times in a day/,
        /mở truy cập khẩn cấp vào vụ việc ít nhất 3 lần trong một ngày/,
      ),
      repeated_denials: bilingual(/at least 5 denied/, /ít nhất 5 lần/),
      many_accounts: bilingual(/refused for at least 5 different accounts/, /ít nhất 5 tài khoản khác nhau/),
      after_admin_reset: bilingual(
        /until 24 hours after its first sign-in since \(or after the change, if later; changes up to 31 days/,
        /cho đến 24 giờ sau lần đăng nhập đầu tiên của tài khoản/,
      ),
      outside_hours: bilingual(
        /Monday-Friday 7:00-19:00 Vietnam time/,
        /ngoài giờ làm việc \(7:00-19:00 từ thứ Hai đến thứ Sáu, giờ Việt Nam; thứ Bảy và Chủ nhật/,
      ),
    });
    expect(res.body.items).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ rule: 'repeated_denials', actorId: ids.ward, count: expect.any(Number) }),
      ]),
    );
    // Those denials were about Hanoi cases by a Hanoi officer: nothing for Hai Phong.
    const other = await get('haiphong', 'anomalies').expect(200);
    expect(other.body.items.filter((i: { rule: string }) => i.rule === 'repeated_denials')).toEqual([]);
    // Refusals for what a request asked (a state, a consent that does not apply) are on record, not probing.
    const careless = user(randomUUID(), ['00145']);
    for (const reason of [
      'conflict.state',
      'unprocessable',
      'conflict.state',
      'unprocessable',
      'conflict.version',
    ])
      await audit.recordDenied(careless, {
        action: 'referral.create',
        resourceType: 'referral',
        provinceCode: '01',
        reason,
      });
    const again = await get('hanoi', 'anomalies').expect(200);
    expect(again.body.items.filter((i: { actorId: string }) => i.actorId === careless.userId)).toEqual([]);
  });

  it('a supervisor refused whole verifications while the last one rests is not probing; refused searches are', async () => {
    const audit = t.app.get(AuditService);
    const impatient = await givenUser(t, { role: 'supervisor', provinceCode: '01' });
    const searching = await givenUser(t, { role: 'ward_officer', wardCodes: ['00145'] });
    for (let i = 0; i < 6; i++) {
      await audit.recordDenied(
        givenPrincipal({ userId: impatient.id, role: 'supervisor', provinceCode: '01' }),
        {
          action: 'audit.verify',
          resourceType: 'audit_log',
          reason: 'auth.throttled',
        },
      );
      await audit.recordDenied(user(searching.id, ['00145']), {
        action: 'case.search',
        resourceType: 'case',
        reason: 'auth.throttled',
      });
    }
    const denials = ((await get('hanoi', 'anomalies').expect(200)).body.items as Record<string, unknown>[])
      .filter((i) => i.rule === 'repeated_denials')
      .map((i) => i.actorId);
    expect(denials).toContain(searching.id);
    expect(denials).not.toContain(impatient.id);
  });

  it('flags sign-ins refused for many accounts from one address (password spraying), within the jurisdiction', async () => {
    const audit = t.app.get(AuditService);
    const sprayer = '198.51.100.23';
    const refuse = (userId: string, ip: string, reason = 'auth.invalid_credentials') =>
      audit.recordSignIn({ userId, outcome: 'denied', reason, request: { requestId: randomUUID(), ip } });
    const accounts: Array<{ id: string }> = [];
    for (let i = 0; i < 6; i++) accounts.push(await givenUser(t, { role: 'ward_officer' })); // Hà Nội
    const found = async (as: Parameters<typeof get>[0], ip: string) =>
      ((await get(as, 'anomalies').expect(200)).body.items as Array<Record<string, unknown>>).filter(
        (i) => i.ip === ip || accounts.some((a) => a.id === i.actorId),
      );

    // One guess on each of four accounts: below both rules. Another account asked for its authenticator code
    // (its password was right: the normal first step of a two-factor sign-in) is no wrong guess.
    for (const a of accounts.slice(0, 4)) await refuse(a.id, sprayer);
    await refuse(accounts[5].id, sprayer, 'auth.totp_required');
    // Nor is one refused for its wrong codes in a row (its password was right too).
    await refuse(accounts[1].id, sprayer, 'auth.totp_locked');
    expect(await found('national', sprayer)).toEqual([]);
    // The fifth account: found once (both hour grids catch it), by address, with no account named.
    await refuse(accounts[4].id, sprayer);
    const spraying = expect.objectContaining({
      rule: 'many_accounts',
      ip: sprayer,
      actorId: null,
      count: 5,
      seqs: expect.any(Array),
    });
    const [finding] = await found('national', sprayer);
    expect(finding).toEqual(spraying);
    expect(await found('hanoi', sprayer)).toEqual([spraying]);
    expect(await found('haiphong', sprayer)).toEqual([]);
    // Among its entries to look at, first: the attempts from that address whose password was right.
    const right = await t.app.get(DataSource).query<{ seq: string }[]>(
      `SELECT seq FROM audit_events WHERE ip = $1 AND reason IN ('auth.totp_required', 'auth.totp_locked')
          ORDER BY seq`,
      [sprayer],
    );
    expect((finding.seqs as number[]).slice(0, 2)).toEqual(right.map((r) => Number(r.seq)));
    expect(finding.seqs).toHaveLength(7);
    // A sign-in that got in from that address in the window comes first of all: the account it took.
    const { seq: tookSeq } = await audit.recordSignIn({
      userId: accounts[2].id,
      outcome: 'allowed',
      request: { requestId: randomUUID(), ip: sprayer },
    });
    const [after] = await found('national', sprayer);
    expect(after).toEqual(expect.objectContaining({ rule: 'many_accounts', count: 5 }));
    expect((after.seqs as number[])[0]).toBe(tookSeq);
    expect(after.seqs).toHaveLength(8);

    // Many guesses on one account from another address are that account's repeated denials, not spraying.
    const other = '198.51.100.24';
    for (let i = 0; i < 5; i++) await refuse(accounts[0].id, other);
    const one = (await found('national', other)).filter((i) => i.ip === other || i.rule === 'many_accounts');
    expect(one).toEqual([]);
    expect(
      (await found('national', other)).filter((i) => i.rule === 'repeated_denials').map((i) => i.actorId),
    ).toEqual([accounts[0].id]);

    // A two-factor account's two-step sign-ins (the right password, its code asked for) are not repeated
    // denials, however many in an hour; its wrong codes are.
    const office = '198.51.100.25';
    const repeated = async () =>
      (await found('national', office)).filter(
        (i) => i.rule === 'repeated_denials' && i.actorId === accounts[5].id,
      );
    for (let i = 0; i < 6; i++) await refuse(accounts[5].id, office, 'auth.totp_required');
    expect(await repeated()).toEqual([]);
    for (let i = 0; i < 5; i++) await refuse(accounts[5].id, office, 'auth.totp_invalid');
    expect(await repeated()).toEqual([expect.objectContaining({ count: 5 })]);

    // A new address of one IPv6 /64 for every guess is one address, as the sign-in throttle counts it: spraying
    // five accounts so is found, under the network; guesses on unknown names so are repeated denials.
    const network = '2001:db8:77:1::/64';
    for (const [i, a] of accounts.slice(0, 5).entries()) await refuse(a.id, `2001:db8:77:1::${i + 1}`);
    expect((await found('national', network)).filter((i) => i.rule === 'many_accounts')).toEqual([
      expect.objectContaining({ rule: 'many_accounts', ip: network, count: 5 }),
    ]);
    const guesses = '2001:db8:78:2::/64';
    for (let i = 0; i < 5; i++) await refuse(null as unknown as string, `2001:db8:78:2:${i}::9%eth0`);
    expect(
      (await found('national', guesses)).filter((i) => i.ip === guesses).map((i) => [i.rule, i.count]),
    ).toEqual([['repeated_denials', 5]]);
  });

  describe('many searches', () => {
    /** `n` allowed searches by `searcherId`, `stepMs` apart from `startMs` (by the clock the entries take). */
    const searches = async (searcherId: string, n: number, startMs: number, stepMs: number) => {
      const audit = t.app.get(AuditService);
      for (let i = 0; i < n; i++) {
        await atTime(startMs + i * stepMs, () =>
          t.app.get(DataSource).transaction((m) =>
            audit.record(m, user(searcherId, ['00145']), {
              action: 'case.search',
              resourceType: 'case',
              fields: ['triage', 'identity'],
              returnedIds: [],
            }),
          ),
        );
      }
    };
    /** The many_searches(_daily) findings about `searcherId` in a period: rule, count and window. */
    const flagged = async (searcherId: string, from: string, to: string) =>
      (await get('hanoi', `anomalies?from=${from}&to=${to}`).expect(200)).body.items
        .filter(
          (i: { rule: string; actorId: string }) =>
            i.rule.startsWith('many_searches') && i.actorId === searcherId,
        )
        .map((i: { rule: string; count: number; windowStart: string }) => [i.rule, i.count, i.windowStart]);

    it('flags an account that searched cases 30 times in an hour (testing names against the cases), not 29', async () => {
      const searcher = await givenUser(t, { role: 'ward_officer', wardCodes: ['00145'] });
      // A minute apart, Wednesday 4 and Thursday 5 November 2026, working hours.
      await searches(searcher.id, 29, Date.parse('2026-11-04T02:00:00.000Z'), 60_000);
      await searches(searcher.id, 30, Date.parse('2026-11-05T02:00:00.000Z'), 60_000);
      expect(await flagged(searcher.id, '2026-11-04T00:00:00Z', '2026-11-05T00:00:00Z')).toEqual([]);
      expect(await flagged(searcher.id, '2026-11-05T00:00:00Z', '2026-11-06T00:00:00Z')).toEqual([
        ['many_searches', 30, expect.any(String)],
      ]);
    });

    it('flags an account that searched 150 times in a Vietnam day, paced under the hourly count', async () => {
      const searcher = await givenUser(t, { role: 'ward_officer', wardCodes: ['00145'] });
      // Five minutes apart (18 in any 90 minutes), from 07:00 Hanoi (00:00 UTC) on Tuesday 10 November 2026: 149,
      // then on the 11th, 150.
      await searches(searcher.id, 149, Date.parse('2026-11-10T00:00:00.000Z'), 300_000);
      await searches(searcher.id, 150, Date.parse('2026-11-11T00:00:00.000Z'), 300_000);
      expect(await flagged(searcher.id, '2026-11-10T00:00:00Z', '2026-11-11T00:00:00Z')).toEqual([]);
      // The Vietnam day: from 17:00 UTC the day before.
      expect(await flagged(searcher.id, '2026-11-11T00:00:00Z', '2026-11-12T00:00:00Z')).toEqual([
        ['many_searches_daily', 150, '2026-11-10T17:00:00.000Z'],
      ]);
      // A period starting at noon (Hanoi) counts that day from its start: the morning's searches too.
      expect(await flagged(searcher.id, '2026-11-11T05:00:00Z', '2026-11-12T00:00:00Z')).toEqual([
        ['many_searches_daily', 150, '2026-11-10T17:00:00.000Z'],
      ]);
      // One whose last search came before the period starts is not reported.
      expect(await flagged(searcher.id, '2026-11-11T13:00:00Z', '2026-11-12T00:00:00Z')).toEqual([]);
    });
  });

  it('flags an account that opened emergency access 3 times in a Vietnam day, not twice', async () => {
    const audit = t.app.get(AuditService);
    const officer = await givenUser(t, { role: 'ward_officer', wardCodes: ['00145'] });
    const police: AuditActor = {
      userId: officer.id,
      role: 'provider',
      organizationId: randomUUID(),
      wardCodes: [],
      provinceCode: null,
    };
    /** `n` emergency accesses opened by the police account, an hour apart from `startMs`. */
    const opens = async (n: number, startMs: number) => {
      for (let i = 0; i < n; i++) {
        await atTime(startMs + i * 3_600_000, () =>
          t.app.get(DataSource).transaction((m) =>
            audit.record(m, police, {
              action: 'break_glass.open',
              resourceType: 'break_glass',
              resourceId: randomUUID(),
              caseId: randomUUID(),
              fields: ['notes'],
              provinceCode: '01',
              wardCode: '00145',
              reason: 'break_glass',
            }),
          ),
        );
      }
    };
    const flagged = async (from: string, to: string) =>
      (await get('hanoi', `anomalies?from=${from}&to=${to}`).expect(200)).body.items
        .filter(
          (i: { rule: string; actorId: string }) => i.rule === 'many_break_glass' && i.actorId === officer.id,
        )
        .map((i: { count: number; windowStart: string }) => [i.count, i.windowStart]);
    // Two on Monday 16 November 2026 (from 09:00 Hanoi), three on Tuesday the 17th.
    await opens(2, Date.parse('2026-11-16T02:00:00.000Z'));
    await opens(3, Date.parse('2026-11-17T02:00:00.000Z'));
    expect(await flagged('2026-11-16T00:00:00Z', '2026-11-17T00:00:00Z')).toEqual([]);
    expect(await flagged('2026-11-17T00:00:00Z', '2026-11-18T00:00:00Z')).toEqual([
      [3, '2026-11-16T17:00:00.000Z'],
    ]);
    // Another province's supervisor does not see them.
    const other = await get('haiphong', 'anomalies?from=2026-11-17T00:00:00Z&to=2026-11-18T00:00:00Z').expect(
      200,
    );
    expect(other.body.items.filter((i: { rule: string }) => i.rule === 'many_break_glass')).toEqual([]);
  });

  it('flags an account that read many cases in an hour, and access outside working hours (Vietnam time)', async () => {
    // Sunday 1 November 2026, 22:30 in Hanoi (15:30 UTC), a case a minute; a change answers with the case, so
    // one read in three is one.
    await readsAt(user(ids.ward, ['00145']), 21, Date.parse('2026-11-01T15:30:00.000Z'), 60_000, {
      provinceCode: '01',
      casePrefix: '0b',
      action: (i) => (i % 3 === 0 ? 'case.update' : 'case.read'),
    });
    const res = await get('hanoi', 'anomalies?from=2026-11-01T00:00:00Z&to=2026-11-02T00:00:00Z').expect(200);
    const rules = res.body.items.map((i: { rule: string; actorId: string; count: number }) => [
      i.rule,
      i.actorId,
      i.count,
    ]);
    expect(rules).toEqual(
      expect.arrayContaining([
        ['many_cases', ids.ward, 21],
        ['outside_hours', ids.ward, 21],
      ]),
    );
    // Caught by both windows (on the hour, on the half hour), reported once.
    expect(rules.filter(([rule]: [string]) => rule === 'many_cases')).toHaveLength(1);
    const outside = res.body.items.find((i: { rule: string }) => i.rule === 'outside_hours');
    // The window is that day in Vietnam: from 17:00 UTC the day before.
    expect(outside).toMatchObject({ windowStart: '2026-10-31T17:00:00.000Z', seqs: expect.any(Array) });
    expect(outside.seqs).toHaveLength(20);
    const elsewhere = await get(
      'haiphong',
      'anomalies?from=2026-11-01T00:00:00Z&to=2026-11-02T00:00:00Z',
    ).expect(200);
    expect(elsewhere.body.items).toEqual([]);
  });

  it('lists at most a set number of findings of a rule, its newest, and says how many more there are', async () => {
    const rules = ANOMALY_RULES as { listedPerRule: number };
    const listed = rules.listedPerRule;
    // A case read at 22:00 in Hanoi on three evenings (Saturday 10 to Monday 12 October 2026): three days outside
    // working hours, one finding each.
    for (const [i, day] of ['10', '11', '12'].entries()) {
      await readsAt(user(ids.ward, ['00145']), 1, Date.parse(`2026-10-${day}T15:00:00.000Z`), 0, {
        provinceCode: '01',
        casePrefix: `3${i}`,
      });
    }
    const found = async () =>
      (await get('hanoi', 'anomalies?from=2026-10-10&to=2026-10-13').expect(200)).body as {
        items: { rule: string; windowStart: string }[];
        omitted: Record<string, number>;
      };
    expect((await found()).omitted).toEqual({});
    rules.listedPerRule = 2;
    try {
      const capped = await found();
      expect(capped.items.filter((i) => i.rule === 'outside_hours').map((i) => i.windowStart)).toEqual([
        '2026-10-11T17:00:00.000Z',
        '2026-10-10T17:00:00.000Z',
      ]);
      expect(capped.omitted).toEqual({ outside_hours: 1 });
    } finally {
      rules.listedPerRule = listed;
    }
  });

  it('a burst split across an hour boundary is caught by the window on the half hour, and reported once', async () => {
    const audit = t.app.get(AuditService);
    const ward = user(ids.wardHaiphong, ['10507']);
    // Tuesday 3 November 2026, 10:50 to 11:10 in Hanoi (03:50 to 04:10 UTC): 19 cases before 11:00, 19 after.
    const start = Date.parse('2026-11-03T03:50:30.000Z');
    await readsAt(ward, 38, start, 30_000, { provinceCode: '31', casePrefix: '0c' });
    const now = jest.spyOn(Date, 'now');
    try {
      for (const minutes of [7.5, 8, 8.5, 10.5, 11, 11.5]) {
        now.mockReturnValue(start + minutes * 60_000);
        await audit.recordDenied(ward, { action: 'case.read', resourceType: 'case', provinceCode: '31' });
      }
    } finally {
      now.mockRestore();
    }
    const res = await get('haiphong', 'anomalies?from=2026-11-03&to=2026-11-04').expect(200);
    const found = (res.body.items as { rule: string; actorId: string; count: number; windowStart: string }[])
      .filter((i) => i.actorId === ids.wardHaiphong)
      .map((i) => [i.rule, i.count, i.windowStart]);
    expect(found.sort()).toEqual([
      ['many_cases', 38, '2026-11-03T03:30:00.000Z'],
      ['repeated_denials', 6, '2026-11-03T03:30:00.000Z'],
    ]);
  });

  it('a burst within one hour is caught wherever it starts; reads further apart than the windows are not', async () => {
    const ward = user(ids.wardHaiphong, ['10507']);
    const many = (day: string) => manyCasesOfHaiphongWard(day, `${day}T23:59:59Z`);
    /** 19 distinct cases read from each of two instants, 2 s apart (38 cases in all). */
    const twoBursts = async (...starts: [string, string]) => {
      for (const [i, start] of starts.entries())
        await readsAt(ward, 19, Date.parse(start), 2_000, {
          provinceCode: '31',
          casePrefix: ['0d', '0e'][i],
        });
    };
    // Wednesday 4 November 2026: 19 cases at 10:29 and 19 at 11:01 in Hanoi, 38 in 32 minutes. One-hour windows
    // on the hour and on the half hour each held 19 of them.
    await twoBursts('2026-11-04T03:29:00.000Z', '2026-11-04T04:01:00.000Z');
    expect(await many('2026-11-04')).toEqual([[38, '2026-11-04T03:00:00.000Z']]);
    // Thursday 5 November: 19 at 13:00 and 19 at 14:31, more than 90 minutes apart: no window holds 20.
    await twoBursts('2026-11-05T06:00:00.000Z', '2026-11-05T07:31:00.000Z');
    expect(await many('2026-11-05')).toEqual([]);
    // Friday 6 November: 20 cases from 10:05 to 10:15 and one more at 11:20. The windows from 09:30 (20) and
    // from 10:00 (21) both flag it: one finding, the window that holds the other's.
    await readsAt(ward, 20, Date.parse('2026-11-06T03:05:00.000Z'), 30_000, {
      provinceCode: '31',
      casePrefix: '0d',
    });
    await readsAt(ward, 1, Date.parse('2026-11-06T04:20:00.000Z'), 0, {
      provinceCode: '31',
      casePrefix: '0f',
    });
    expect(await many('2026-11-06')).toEqual([[21, '2026-11-06T03:00:00.000Z']]);
  });

  it("password spraying behind an office's address is one burst: the other staff's sign-ins neither split it nor fill its entries", async () => {
    const audit = t.app.get(AuditService);
    const office = '198.51.100.77';
    const staff: Array<{ id: string }> = [];
    const guessed: Array<{ id: string }> = [];
    for (let i = 0; i < 5; i++) staff.push(await givenUser(t, { role: 'ward_officer' }));
    for (let i = 0; i < 5; i++) guessed.push(await givenUser(t, { role: 'ward_officer' }));
    const signIn = async (at: string, userId: string, outcome: 'allowed' | 'denied') => {
      const now = jest.spyOn(Date, 'now').mockReturnValue(Date.parse(at));
      try {
        return await audit.recordSignIn({
          userId,
          outcome,
          ...(outcome === 'denied' ? { reason: 'auth.invalid_credentials' as const } : {}),
          request: { requestId: randomUUID(), ip: office },
        });
      } finally {
        now.mockRestore();
      }
    };
    // Thursday 12 November 2026 (UTC): the staff sign in through the morning; five wrong guesses 10:35-10:47.
    for (const [i, at] of ['09:35', '10:05', '10:40', '11:10', '11:40'].entries())
      await signIn(`2026-11-12T${at}:00.000Z`, staff[i].id, 'allowed');
    // One of the accounts it will guess at signs in itself before the guessing: not an account it took.
    await signIn('2026-11-12T10:06:00.000Z', guessed[0].id, 'allowed');
    const guesses: number[] = [];
    for (const [i, a] of guessed.entries())
      guesses.push((await signIn(`2026-11-12T10:${35 + 3 * i}:00.000Z`, a.id, 'denied')).seq);
    const found = (
      (await get('national', 'anomalies?from=2026-11-12T00:00:00Z&to=2026-11-13T00:00:00Z').expect(200)).body
        .items as Record<string, unknown>[]
    ).filter((i) => i.rule === 'many_accounts' && i.ip === office);
    expect(found).toEqual([
      expect.objectContaining({
        count: 5,
        firstAt: '2026-11-12T10:35:00.000Z',
        lastAt: '2026-11-12T10:47:00.000Z',
        seqs: guesses,
      }),
    ]);
  });

  it("a spray's burst is its guesses: other accounts' two-factor sign-ins from the office neither set its edges nor hide its guesses", async () => {
    const audit = t.app.get(AuditService);
    const office = '198.51.100.78';
    const staff: Array<{ id: string }> = [];
    const guessed: Array<{ id: string }> = [];
    for (let i = 0; i < 24; i++) staff.push(await givenUser(t, { role: 'supervisor' }));
    for (let i = 0; i < 5; i++) guessed.push(await givenUser(t, { role: 'ward_officer' }));
    const refused = async (
      at: string,
      userId: string,
      reason: 'auth.invalid_credentials' | 'auth.totp_required',
    ) => {
      const now = jest.spyOn(Date, 'now').mockReturnValue(Date.parse(at));
      try {
        return (
          await audit.recordSignIn({
            userId,
            outcome: 'denied',
            reason,
            request: { requestId: randomUUID(), ip: office },
          })
        ).seq;
      } finally {
        now.mockRestore();
      }
    };
    // Friday 13 November 2026 (UTC): two-factor colleagues' first steps (a right password, asked for a code)
    // through the morning, 20 of them in the hour before the guessing and 2 after it; five wrong guesses
    // 10:35-10:47, with one colleague's first step among them; then a right password on a guessed account.
    for (let i = 0; i < 20; i++)
      await refused(
        `2026-11-13T09:${String(35 + i).padStart(2, '0')}:00.000Z`,
        staff[i].id,
        'auth.totp_required',
      );
    for (const [i, at] of ['11:10', '11:40'].entries())
      await refused(`2026-11-13T${at}:00.000Z`, staff[20 + i].id, 'auth.totp_required');
    const guesses: number[] = [];
    for (const [i, a] of guessed.entries())
      guesses.push(await refused(`2026-11-13T10:${35 + 3 * i}:00.000Z`, a.id, 'auth.invalid_credentials'));
    const during = await refused('2026-11-13T10:40:30.000Z', staff[22].id, 'auth.totp_required');
    const hit = await refused('2026-11-13T10:52:00.000Z', guessed[2].id, 'auth.totp_required');
    // And a right password on an account it never got wrong, 3 minutes after: a spray that stopped at what it found.
    const found3 = await refused('2026-11-13T10:55:00.000Z', staff[23].id, 'auth.totp_required');
    const found = (
      (await get('national', 'anomalies?from=2026-11-13T00:00:00Z&to=2026-11-14T00:00:00Z').expect(200)).body
        .items as Record<string, unknown>[]
    ).filter((i) => i.rule === 'many_accounts' && i.ip === office);
    // One finding from the first guess to the right password on a guessed account; its entries: the right
    // passwords within the burst or just after it (which it may have found), then every guess.
    expect(found).toEqual([
      expect.objectContaining({
        count: 5,
        firstAt: '2026-11-13T10:35:00.000Z',
        lastAt: '2026-11-13T10:52:00.000Z',
        seqs: [during, hit, found3, ...guesses],
      }),
    ]);
  });

  it('a burst across the start of the period looked at is seen whole, and reported', async () => {
    const ward = user(ids.wardHaiphong, ['10507']);
    // Tuesday 10 November 2026: 19 cases read from 23:45 UTC the day before (06:45 in Hanoi), 19 more from
    // 00:02 UTC. A review of the day from 00:00 UTC holds 19 of them, the one before 19 too.
    await readsAt(ward, 19, Date.parse('2026-11-09T23:45:00.000Z'), 20_000, {
      provinceCode: '31',
      casePrefix: '1a',
    });
    await readsAt(ward, 19, Date.parse('2026-11-10T00:02:00.000Z'), 20_000, {
      provinceCode: '31',
      casePrefix: '1b',
    });
    const counts = async (from: string, to: string) =>
      (await manyCasesOfHaiphongWard(from, to)).map(([count]) => count);
    expect(await counts('2026-11-10T00:00:00Z', '2026-11-11T00:00:00Z')).toEqual([38]);
    // The period before it ends before the second half: not reported there (once is enough).
    expect(await counts('2026-11-09T00:00:00Z', '2026-11-10T00:00:00Z')).toEqual([]);
  });

  it('looks at a period of at most 31 days that ends after it starts', async () => {
    await get('hanoi', 'anomalies?from=2026-10-01&to=2026-11-01').expect(200);
    const long = await get('hanoi', 'anomalies?from=2026-10-01&to=2026-11-02').expect(400);
    expect(long.body.errors).toEqual([expect.objectContaining({ field: 'from' })]);
    expect(long.body.errors[0].message).toMatch(/31 days/);
    // A default start is 7 days before the end given.
    await get('hanoi', 'anomalies?to=2026-11-02').expect(200);
    await get('hanoi', 'anomalies?from=2025-11-02').expect(400);
    await get('hanoi', 'anomalies?from=2026-11-02&to=2026-11-02').expect(400);
    await get('hanoi', 'anomalies?from=2026-11-03&to=2026-11-02').expect(400);
  });

  it('flags case data read by an account within a day after an administrator created it or reset its password', async () => {
    const audit = t.app.get(AuditService);
    const ds = t.app.get(DataSource);
    const officer = await givenUser(t, { role: 'ward_officer', username: 'ward.taken.over' });
    const read = (at: number, caseId: string) => {
      const now = jest.spyOn(Date, 'now').mockReturnValue(at);
      return ds
        .transaction((m) =>
          audit.record(m, user(officer.id, ['00145']), {
            action: 'case.read',
            resourceType: 'case',
            caseId,
            resourceId: caseId,
            provinceCode: '01',
          }),
        )
        .finally(() => now.mockRestore());
    };
    const before = Date.now() - 3600_000;
    await read(before, '0c000000-0000-4000-8000-000000000001'); // before the reset: not flagged
    // A password and a two-factor reset in one change: one reset, two entries.
    await givenPasswordReset(t, officer.id, 'reset-by-admin-lantern-66', { resetTotp: true });
    const [reset] = await ds.query(
      `SELECT min(at) AS at FROM audit_events WHERE action = 'user.update' AND resource_id = $1`,
      [officer.id],
    );
    const [created] = await ds.query(
      `SELECT at FROM audit_events WHERE action = 'user.create' AND resource_id = $1`,
      [officer.id],
    );
    await read(Date.now(), '0c000000-0000-4000-8000-000000000002');
    await read(Date.now(), '0c000000-0000-4000-8000-000000000003');
    const res = await get('hanoi', 'anomalies').expect(200);
    const flagged = res.body.items.filter(
      (i: { rule: string; actorId: string }) => i.rule === 'after_admin_reset' && i.actorId === officer.id,
    );
    // One row per change: the reset, and the account's creation (an administrator could have made it for
    // themselves); the read before both is in neither.
    expect(flagged).toEqual([
      expect.objectContaining({
        count: 2,
        windowStart: new Date(reset.at).toISOString(),
        actorRole: 'ward_officer',
      }),
      expect.objectContaining({ count: 2, windowStart: new Date(created.at).toISOString() }),
    ]);
    expect(res.body.rules.after_admin_reset.vi).toMatch(/tạo tài khoản đó, đặt lại mật khẩu/);
    // Not in another province's view.
    const elsewhere = await get('haiphong', 'anomalies').expect(200);
    expect(elsewhere.body.items.filter((i: { actorId: string }) => i.actorId === officer.id)).toEqual([]);
  });

  it('after_admin_reset: a change sent again with the same request id days later is a change of its own; enabling an account is one', async () => {
    const officer = await givenUser(t, { role: 'ward_officer' });
    const change = (ms: number, reason: string, requestId: string) =>
      accountChangeAt(officer.id, ms, reason, requestId);
    const read = (ms: number, caseId: string) => caseReadAt(officer.id, ms, caseId);
    const hour = 3600_000;
    const now = Date.now();
    // The client's own request id (X-Request-Id), the same both times: three days ago and one day ago.
    const sameId = 'c1a2b3c4d5e6f708';
    await change(now - 72 * hour, 'user.password_reset', sameId);
    await change(now - 24 * hour, 'user.password_reset', sameId);
    await read(now - 23 * hour, '0c000000-0000-4000-8000-0000000000a1');
    // Disabled long ago, enabled two hours ago (someone may have set its password meanwhile), then a read.
    await change(now - 2 * hour, 'user.enabled', randomUUID());
    await read(now - hour, '0c000000-0000-4000-8000-0000000000a2');
    const flagged = ((await get('hanoi', 'anomalies').expect(200)).body.items as Record<string, unknown>[])
      .filter((i) => i.rule === 'after_admin_reset' && i.actorId === officer.id)
      .map((i) => [i.windowStart, i.count]);
    // The first reset's window ended before the reads; the second's holds both, the enabling's the last.
    expect(flagged).toEqual([
      [new Date(now - 2 * hour).toISOString(), 1],
      [new Date(now - 24 * hour).toISOString(), 2],
    ]);

    // One request's two entries on either side of a minute's turn are still one change.
    const other = await givenUser(t, { role: 'ward_officer' });
    const turn = Math.floor((now - 5 * hour) / 60_000) * 60_000;
    const both = 'd1a2b3c4d5e6f709';
    for (const [ms, reason] of [
      [turn - 3, 'user.password_reset'],
      [turn + 3, 'user.totp_reset'],
    ] as const)
      await accountChangeAt(other.id, ms, reason, both);
    await caseReadAt(other.id, turn + 10 * 60_000, '0c000000-0000-4000-8000-0000000000a3');
    expect(
      ((await get('hanoi', 'anomalies').expect(200)).body.items as Record<string, unknown>[])
        .filter((i) => i.rule === 'after_admin_reset' && i.actorId === other.id)
        .map((i) => [i.windowStart, i.count]),
    ).toEqual([[new Date(turn - 3).toISOString(), 1]]);
  });

  it('after_admin_reset: a supervisor taken over is flagged for reading the access log and reports', async () => {
    const supervisor = await givenUser(t, { role: 'supervisor', provinceCode: '01' });
    const hour = 3600_000;
    const now = Date.now();
    await accountChangeAt(supervisor.id, now - 3 * hour, 'user.password_reset');
    const as: AuditActor = {
      userId: supervisor.id,
      role: 'supervisor',
      organizationId: null,
      wardCodes: [],
      provinceCode: '01',
    };
    for (const [ms, action, resourceType] of [
      [now - 2 * hour, 'audit.read', 'audit_log'],
      [now - hour, 'report.read', 'report'],
    ] as const) {
      await atTime(ms, () =>
        t.app
          .get(DataSource)
          .transaction((m) => t.app.get(AuditService).record(m, as, { action, resourceType })),
      );
    }
    const flagged = ((await get('hanoi', 'anomalies').expect(200)).body.items as Record<string, unknown>[])
      .filter((i) => i.rule === 'after_admin_reset' && i.actorId === supervisor.id)
      .map((i) => [i.windowStart, i.count, i.actorRole]);
    expect(flagged).toContainEqual([new Date(now - 3 * hour).toISOString(), 2, 'supervisor']);
  });

  it('after_admin_reset: waiting before using the password an administrator set does not evade it', async () => {
    const audit = t.app.get(AuditService);
    const officer = await givenUser(t, { role: 'ward_officer' });
    const read = (ms: number, caseId: string) => caseReadAt(officer.id, ms, caseId);
    const hour = 3600_000;
    const now = Date.now();
    // Reset ten days ago (before the default week looked at), first signed in since two days ago: the reads
    // of the day after that sign-in are flagged, a read the day after is not.
    const reset = now - 240 * hour;
    const change = (ms: number, reason: string) => accountChangeAt(officer.id, ms, reason);
    await change(reset, 'user.password_reset');
    // Another change before the same first sign-in: one window with the first (its reads reported once).
    await change(now - 100 * hour, 'user.totp_reset');
    await atTime(now - 48 * hour, () => audit.recordSignIn({ userId: officer.id, outcome: 'allowed' }));
    await read(now - 47 * hour, '0c000000-0000-4000-8000-0000000000b1');
    await read(now - 25 * hour, '0c000000-0000-4000-8000-0000000000b2');
    // A second sign-in does not start the window again.
    await atTime(now - 20 * hour, () => audit.recordSignIn({ userId: officer.id, outcome: 'allowed' }));
    await read(now - 19 * hour, '0c000000-0000-4000-8000-0000000000b3');
    const flagged = ((await get('hanoi', 'anomalies').expect(200)).body.items as Record<string, unknown>[])
      .filter((i) => i.rule === 'after_admin_reset' && i.actorId === officer.id)
      .map((i) => [i.windowStart, i.count, i.lastAt]);
    expect(flagged).toEqual([[new Date(reset).toISOString(), 2, new Date(now - 25 * hour).toISOString()]]);
  });

  // Last: it breaks the chain for good.
  it('a checkpoint refused because the log no longer matches its heads is on the log, as an error with its reason', async () => {
    const admin = new Client({ connectionString: t.db.url });
    await admin.connect();
    try {
      // The refused request's own entry re-chains the stripe it lands on: every stripe with entries is broken
      // below, and at least two must have some (entries written at once spread over stripes), else the one
      // stripe broken could be the one healed (this test was refused or not by that draw).
      const stripesWithEntries = async () =>
        Number(
          (await admin.query<{ n: string }>(`SELECT count(*) AS n FROM audit_chain_heads WHERE last_seq > 0`))
            .rows[0].n,
        );
      for (let round = 0; round < 10 && (await stripesWithEntries()) < 2; round++) {
        await Promise.all(
          Array.from({ length: 10 }, () =>
            http().get('/api/v1/audit/checkpoints/latest').auth(tokens.national, { type: 'bearer' }),
          ),
        );
      }
      await admin.query('SET session_replication_role = replica');
      const { rowCount } = await admin.query(`UPDATE audit_chain_heads SET head = $1 WHERE last_seq > 0`, [
        randomBytes(32),
      ]);
      expect(rowCount).toBeGreaterThanOrEqual(2);
    } finally {
      await admin.end();
    }
    const refused = await http()
      .post('/api/v1/audit/checkpoints')
      .auth(tokens.national, { type: 'bearer' })
      .expect(409);
    expect(refused.body.code).toBe('audit.checkpoint_refused');
    // The request (before the check, so that a checkpoint would cover it), then what became of it.
    const entries = await t.app
      .get(DataSource)
      .query(`SELECT action, outcome, reason FROM audit_events WHERE request_id = $1 ORDER BY seq`, [
        refused.body.requestId,
      ]);
    expect(entries).toEqual([
      { action: 'audit.checkpoint', outcome: 'allowed', reason: null },
      { action: 'audit.checkpoint', outcome: 'error', reason: 'audit.checkpoint_refused' },
    ]);
  });
});
