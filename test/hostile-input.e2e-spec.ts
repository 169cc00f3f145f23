import fc from 'fast-check';
import request from 'supertest';
import { DataSource } from 'typeorm';
import type { TestApp } from './support/app';
import { badId, encodeHostile, hostileValue, hugeString, mutated, stringLeaves } from './support/arbitraries';
import { caseBody, organizationId, signInAll, startDemoApp, Tokens } from './support/casework';

// Issue 9, item 1: property-based tests of every endpoint that takes input. Whatever a broken or hostile client
// sends (wrong types, missing and extra fields, huge strings, deep nesting, invalid dates and enums, unicode edge
// cases, injection strings, bad ids in paths):
//   (a) the answer is a 4xx problem response, never a 5xx; an input that happens to be valid may succeed;
//   (b) an error answer never echoes a submitted value (any string value of 8 characters or more);
//   (c) the database holds exactly the rows of the requests that succeeded.
// The seed is fixed so a failure replays; every property makes its runs, and fails if it runs out of time.

// 500s this file found, now fixed and covered: a consent with null recipient/ground (CHECK violation), a
// case PATCH clearing a required field with null (NOT NULL violation), a body class-transformer cannot map
// ({"password": {"constructor": "…"}}), an organisation without serviceArea. HAVEN_FUZZ_SEED replays another
// seed locally; CI always uses the fixed one.
const SEED = Number(process.env.HAVEN_FUZZ_SEED ?? 20261123);
// A property takes 0.2-1.5 s here; one still running after this fails (it does not pass on fewer runs).
const TIME_LIMIT_MS = 20_000;
fc.configureGlobal({
  seed: SEED,
  endOnFailure: true,
  interruptAfterTimeLimit: TIME_LIMIT_MS,
  markInterruptAsFailure: true,
});

const TABLES = ['cases', 'consents', 'referrals', 'referral_notes', 'users', 'organizations'] as const;
type Table = (typeof TABLES)[number];
type Counts = Record<Table, number>;

const DEMO_USERS = ['admin', 'ward.longbien', 'police.longbien', 'supervisor.hanoi'];

function submittedKeys(v: unknown, out: string[] = []): string[] {
  if (Array.isArray(v)) for (const x of v) submittedKeys(x, out);
  else if (v !== null && typeof v === 'object')
    for (const [k, x] of Object.entries(v)) {
      out.push(k);
      submittedKeys(x, out);
    }
  return out;
}

describe('hostile input (property-based)', () => {
  let t: TestApp;
  let tok: Tokens;
  let police: string;
  let limitBytes: number;
  const ids: Record<string, string> = {};

  const http = () => request(t.app.getHttpServer());

  /** Sends any JSON value as the body (supertest would form-encode a bare string). */
  function send(
    method: 'post' | 'patch',
    url: string,
    user: string | null,
    body: unknown,
  ): Promise<request.Response> {
    let r = http()[method](url).set('Content-Type', 'application/json');
    if (user) r = r.set('Authorization', `Bearer ${tok[user]}`);
    return r.send(JSON.stringify(body)).then((res) => res);
  }

  function get(url: string, user: string): Promise<request.Response> {
    return http()
      .get(url)
      .set('Authorization', `Bearer ${tok[user]}`)
      .then((res) => res);
  }

  /** Properties (a) and (b). Returns whether the request succeeded. */
  function checkAnswer(res: request.Response, submitted: unknown, extraValues: string[] = []): boolean {
    const bodyBytes = Buffer.byteLength(JSON.stringify(submitted) ?? '', 'utf8');
    if (res.status >= 500) {
      const id = String(res.body?.requestId ?? 'none');
      const log = t.logs.filter((l) => l.includes(id) && /error|err"/i.test(l)).join('\n');
      const req = (res as unknown as { req: { method: string; path: string } }).req;
      throw new Error(
        `${res.status} for ${req.method} ${req.path} with ${JSON.stringify(submitted)?.slice(0, 1500)}\n${log.slice(0, 3000)}`,
      );
    }
    if (bodyBytes > limitBytes) expect(res.status).toBe(413);
    if (res.status < 400) {
      expect(res.status).toBeGreaterThanOrEqual(200);
      expect(res.status).toBeLessThan(300);
      return true;
    }
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body.status).toBe(res.status);
    const answer = res.text;
    const keys = submittedKeys(submitted);
    for (const value of [...stringLeaves(submitted), ...extraValues]) {
      // Field names may be quoted in errors[].field; a value that is part of a submitted key is not checked.
      if (value.length < 8 || keys.some((k) => k.includes(value))) continue;
      const escaped = JSON.stringify(value).slice(1, -1);
      if (answer.includes(value) || answer.includes(escaped)) {
        throw new Error(
          `the ${res.status} answer echoes a submitted value: ${JSON.stringify(value).slice(0, 200)}`,
        );
      }
    }
    return false;
  }

  async function counts(): Promise<Counts> {
    const ds = t.app.get(DataSource);
    const out = {} as Counts;
    for (const table of TABLES) {
      const [row] = await ds.query(`SELECT count(*)::int AS n FROM ${table}`);
      out[table] = row.n;
    }
    return out;
  }

  async function rowExists(table: Table, id: unknown): Promise<boolean> {
    if (typeof id !== 'string') return false;
    const [row] = await t.app
      .get(DataSource)
      .query(`SELECT count(*)::int AS n FROM ${table} WHERE id = $1`, [id]);
    return row.n === 1;
  }

  /**
   * Runs a property and checks (c): the row counts grew by exactly the number of creations that succeeded,
   * each of which must be found by its id.
   */
  async function withRowAccounting(
    run: (created: (table: Table, res: request.Response) => Promise<void>) => Promise<void>,
  ): Promise<void> {
    const before = await counts();
    const expected = { ...before };
    const created = async (table: Table, res: request.Response) => {
      expected[table]++;
      expect(await rowExists(table, res.body.id)).toBe(true);
    };
    await run(created);
    expect(await counts()).toEqual(expected);
  }

  let n = 0;
  const unique = () => `${Date.now().toString(36)}${++n}`;

  beforeAll(async () => {
    // A high per-IP sign-in limit so the sign-in property reaches the validation and the credential check
    // instead of the IP lock (429 stays an accepted answer).
    t = await startDemoApp({ HAVEN_LOGIN_IP_MAX_FAILURES: '10000' });
    limitBytes = t.config.bodyLimitBytes;
    tok = await signInAll(t, DEMO_USERS);
    police = await organizationId(t, tok['ward.longbien'], 'Công an phường Long Biên');

    // One case with a consent for the police, and three referrals: pending (decline), accepted (complete), accepted
    // (notes). Each on a case of its own so no rule on duplicate referrals interferes.
    const referral = async (accept: boolean) => {
      const c = await send('post', '/api/v1/cases', 'ward.longbien', caseBody());
      expect(c.status).toBe(201);
      const consent = await send('post', `/api/v1/cases/${c.body.id}/consents`, 'ward.longbien', {
        organizationId: police,
        categories: ['identity', 'incident'],
        givenBy: 'survivor',
      });
      expect(consent.status).toBe(201);
      const r = await send('post', `/api/v1/cases/${c.body.id}/referrals`, 'ward.longbien', {
        organizationId: police,
        consentId: consent.body.id,
        services: ['police_protection'],
        urgency: 'urgent',
      });
      expect(r.status).toBe(201);
      if (accept) {
        const a = await send('post', `/api/v1/referrals/${r.body.id}/accept`, 'police.longbien', {});
        expect(a.status).toBe(200);
      }
      return {
        caseId: c.body.id as string,
        consentId: consent.body.id as string,
        referralId: r.body.id as string,
      };
    };
    const a = await referral(false);
    ids.case = a.caseId;
    ids.consent = a.consentId;
    ids.decline = a.referralId;
    ids.complete = (await referral(true)).referralId;
    ids.notes = (await referral(true)).referralId;
  }, 60_000);

  afterAll(async () => {
    await t?.close();
  });

  it('POST /cases: hostile case bodies', async () => {
    await withRowAccounting(async (created) => {
      await fc.assert(
        fc.asyncProperty(mutated(caseBody), async (body) => {
          const res = await send('post', '/api/v1/cases', 'ward.longbien', body);
          if (checkAnswer(res, body)) await created('cases', res);
        }),
        { numRuns: 60 },
      );
    });
  });

  it('PATCH /cases/:id: hostile updates', async () => {
    await withRowAccounting(async () => {
      await fc.assert(
        fc.asyncProperty(
          mutated(() => ({
            version: 1,
            reportChannel: 'phone',
            survivor: { address: 'Địa chỉ mới giả định', phone: '0900 111 222' },
            incident: { narrative: 'Bổ sung giả định', occurredAt: '2026-11-19T21:00:00+07:00' },
            risk: { level: 'critical' },
          })),
          fc.boolean(),
          async (body, currentVersion) => {
            // Half the runs carry the current version, so a valid update can actually succeed.
            if (currentVersion && body && typeof body === 'object' && 'version' in body) {
              const cur = await get(`/api/v1/cases/${ids.case}`, 'ward.longbien');
              body.version = cur.body.version;
            }
            const res = await send('patch', `/api/v1/cases/${ids.case}`, 'ward.longbien', body);
            checkAnswer(res, body);
          },
        ),
        { numRuns: 50 },
      );
    });
  });

  it('POST /cases/search: hostile searches', async () => {
    await withRowAccounting(async () => {
      await fc.assert(
        fc.asyncProperty(
          mutated(() => ({
            fullName: 'nguyen thi thuy hoa',
            dateOfBirth: '1985-03-04',
            phone: '0912345678',
          })),
          async (body) => {
            const res = await send('post', '/api/v1/cases/search', 'ward.longbien', body);
            checkAnswer(res, body);
          },
        ),
        { numRuns: 50 },
      );
    });
  });

  it('POST /cases/:id/consents: hostile consents', async () => {
    const IN_A_MONTH = new Date(Date.now() + 30 * 86_400_000).toISOString();
    await withRowAccounting(async (created) => {
      await fc.assert(
        fc.asyncProperty(
          mutated(() => ({
            organizationId: police,
            categories: ['identity', 'incident'],
            givenBy: 'survivor',
            expiresAt: IN_A_MONTH, // a fixed date would be refused as past once it has passed
          })),
          async (body) => {
            const res = await send('post', `/api/v1/cases/${ids.case}/consents`, 'ward.longbien', body);
            if (checkAnswer(res, body)) await created('consents', res);
          },
        ),
        { numRuns: 50 },
      );
    });
  });

  it('POST /cases/:id/referrals: hostile referrals', async () => {
    await withRowAccounting(async (created) => {
      await fc.assert(
        fc.asyncProperty(
          mutated(() => ({
            organizationId: police,
            consentId: ids.consent,
            services: ['police_protection'],
            urgency: 'routine',
            note: 'ghi chú giả định',
          })),
          async (body) => {
            const res = await send('post', `/api/v1/cases/${ids.case}/referrals`, 'ward.longbien', body);
            if (checkAnswer(res, body)) await created('referrals', res);
          },
        ),
        { numRuns: 50 },
      );
    });
  });

  it('POST /referrals/:id/decline, /complete and /notes: hostile bodies', async () => {
    await withRowAccounting(async (created) => {
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            mutated(() => ({ reason: 'ngoài thẩm quyền giả định' })).map((b) => ['decline', b] as const),
            mutated(() => ({ outcome: 'services_delivered' })).map((b) => ['complete', b] as const),
            mutated(() => ({ text: 'đã liên hệ giả định' })).map((b) => ['notes', b] as const),
          ),
          async ([action, body]) => {
            const res = await send(
              'post',
              `/api/v1/referrals/${ids[action]}/${action}`,
              'police.longbien',
              body,
            );
            if (checkAnswer(res, body) && action === 'notes') {
              // A note has no view of its own: it is counted, and found on the referral.
              await created('referral_notes', { body: { id: await lastNoteId() } } as request.Response);
            }
          },
        ),
        { numRuns: 60 },
      );
    });
  });

  async function lastNoteId(): Promise<string> {
    const [row] = await t.app
      .get(DataSource)
      .query('SELECT id FROM referral_notes WHERE referral_id = $1 ORDER BY created_at DESC LIMIT 1', [
        ids.notes,
      ]);
    return row.id;
  }

  it('POST /users and POST /organizations (admin): hostile bodies', async () => {
    await withRowAccounting(async (created) => {
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            mutated(() => {
              const u = unique();
              return {
                username: `fuzz.user.${u}`,
                password: `Khong-phai-mat-khau-that-${u}`,
                role: 'ward_officer',
                wardCodes: ['00145'],
              };
            }).map((b) => ['users', b] as const),
            mutated(() => ({
              name: `Tổ chức thử nghiệm ${unique()}`,
              sector: 'health',
              serviceArea: { communeCodes: ['00145'] },
            })).map((b) => ['organizations', b] as const),
          ),
          async ([table, body]) => {
            const res = await send('post', `/api/v1/${table}`, 'admin', body);
            if (checkAnswer(res, body)) await created(table, res);
          },
        ),
        { numRuns: 40 },
      );
    });
  });

  it('PATCH /users/:id and PATCH /organizations/:id (admin): hostile updates, null for a field that has no unset', async () => {
    const u = unique();
    const user = await send('post', '/api/v1/users', 'admin', {
      username: `fuzz.patched.${u}`,
      password: `Khong-phai-mat-khau-that-${u}`,
      role: 'ward_officer',
      wardCodes: ['00145'],
    });
    expect(user.status).toBe(201);
    const org = await send('post', '/api/v1/organizations', 'admin', {
      name: `Tổ chức sửa thử ${u}`,
      sector: 'health',
      serviceArea: { communeCodes: ['00145'] },
    });
    expect(org.status).toBe(201);
    const state = () =>
      t.app.get(DataSource).query(
        `SELECT u.status, u.password_hash, (SELECT array_agg(commune_code ORDER BY commune_code) FROM user_communes w WHERE w.user_id = u.id) AS wards,
                  o.name, o.sector
             FROM users u, organizations o WHERE u.id = $1 AND o.id = $2`,
        [user.body.id, org.body.id],
      );
    const before = await state();
    for (const field of ['status', 'password', 'resetTotp', 'wardCodes']) {
      const res = await send('patch', `/api/v1/users/${user.body.id}`, 'admin', { [field]: null });
      expect(res.status).toBe(400);
      expect(res.body.errors).toContainEqual(expect.objectContaining({ field, code: 'isNotNull' }));
    }
    for (const field of ['name', 'sector', 'serviceArea']) {
      const res = await send('patch', `/api/v1/organizations/${org.body.id}`, 'admin', { [field]: null });
      expect(res.status).toBe(400);
      expect(res.body.errors).toContainEqual(expect.objectContaining({ field, code: 'isNotNull' }));
    }
    // Inside the service area too: a list of communes given as null is no list (not "communes of two provinces").
    for (const area of [{ communeCodes: null }, { provinceCode: null }]) {
      const res = await send('patch', `/api/v1/organizations/${org.body.id}`, 'admin', { serviceArea: area });
      expect(res.status).toBe(400);
      expect(res.body.errors).toContainEqual(
        expect.objectContaining({ field: `serviceArea.${Object.keys(area)[0]}`, code: 'isNotNull' }),
      );
    }
    expect(await state()).toEqual(before);
    // Blank names (white space only) are refused as such, never a 500 from the database's rule.
    for (const name of ['   ', '\u00a0', '\t']) {
      const blank = await send('patch', `/api/v1/organizations/${org.body.id}`, 'admin', { name });
      expect(blank.status).toBe(400);
      expect(blank.body.errors).toContainEqual(
        expect.objectContaining({ field: 'name', code: 'isNotBlank' }),
      );
      const created = await send('post', '/api/v1/organizations', 'admin', {
        name,
        sector: 'health',
        serviceArea: { communeCodes: ['00145'] },
      });
      expect(created.status).toBe(400);
    }
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          mutated(() => ({ status: 'active', wardCodes: ['00145'] })).map(
            (b) => ['users', user.body.id, b] as const,
          ),
          mutated(() => ({
            name: `Tổ chức sửa thử ${unique()}`,
            sector: 'health',
            serviceArea: { communeCodes: ['00145'] },
          })).map((b) => ['organizations', org.body.id, b] as const),
        ),
        async ([table, id, body]) => {
          checkAnswer(await send('patch', `/api/v1/${table}/${id}`, 'admin', body), body);
        },
      ),
      { numRuns: 40 },
    );
  });

  /** A query string from any JSON object: arrays repeat the key, objects use brackets, the rest is text. */
  function queryString(q: Record<string, unknown>): string {
    const parts: string[] = [];
    const add = (k: string, v: unknown) => {
      if (Array.isArray(v)) for (const x of v) add(k, x);
      else if (v !== null && typeof v === 'object')
        for (const [sub, x] of Object.entries(v)) add(`${k}[${sub}]`, x);
      else parts.push(`${encodeHostile(k)}=${encodeHostile(String(v))}`);
    };
    for (const [k, v] of Object.entries(q)) add(k, v);
    return parts.join('&');
  }

  const queryArb = (keys: string[]) =>
    fc.dictionary(fc.oneof(fc.constantFrom(...keys), fc.string({ maxLength: 12 })), hostileValue, {
      minKeys: 1,
      maxKeys: 4,
    });

  it('GET /reports/summary and GET /audit/events: hostile query parameters', async () => {
    await withRowAccounting(async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            queryArb(['province', 'ward', 'from', 'to']).map((q) => ['/api/v1/reports/summary', q] as const),
            queryArb([
              'caseId',
              'actorId',
              'action',
              'outcome',
              'from',
              'to',
              'page',
              'pageSize',
              'beforeSeq',
            ]).map((q) => ['/api/v1/audit/events', q] as const),
          ),
          async ([path, q]) => {
            const qs = queryString(q);
            const res = await get(`${path}?${qs}`, 'supervisor.hanoi');
            // An over-long URL is refused by Node itself (431), which is still a 4xx but not a problem body.
            if (res.status === 431) return;
            checkAnswer(res, q);
          },
        ),
        { numRuns: 60 },
      );
    });
  });

  it('bad ids in paths: not UUIDs, injection strings, UUIDs of nothing', async () => {
    await withRowAccounting(async () => {
      const routes: [string, 'get' | 'post' | 'patch', string, (id: string) => string, unknown][] = [
        ['get', 'get', 'ward.longbien', (id) => `/api/v1/cases/${id}`, undefined],
        [
          'patch',
          'patch',
          'ward.longbien',
          (id) => `/api/v1/cases/${id}`,
          { version: 1, risk: { level: 'low' } },
        ],
        [
          'consent',
          'post',
          'ward.longbien',
          (id) => `/api/v1/cases/${id}/consents`,
          { organizationId: police, categories: ['identity'], givenBy: 'survivor' },
        ],
        [
          'referral',
          'post',
          'ward.longbien',
          (id) => `/api/v1/cases/${id}/referrals`,
          {
            organizationId: police,
            consentId: ids.consent,
            services: ['police_protection'],
            urgency: 'routine',
          },
        ],
        [
          'decline',
          'post',
          'police.longbien',
          (id) => `/api/v1/referrals/${id}/decline`,
          { reason: 'không rõ' },
        ],
        [
          'complete',
          'post',
          'police.longbien',
          (id) => `/api/v1/referrals/${id}/complete`,
          { outcome: 'other' },
        ],
        ['notes', 'post', 'police.longbien', (id) => `/api/v1/referrals/${id}/notes`, { text: 'ghi chú' }],
        ['referral', 'get', 'police.longbien', (id) => `/api/v1/referrals/${id}`, undefined],
        ['organization', 'get', 'admin', (id) => `/api/v1/organizations/${id}`, undefined],
        ['user', 'get', 'admin', (id) => `/api/v1/users/${id}`, undefined],
      ];
      await fc.assert(
        fc.asyncProperty(fc.nat({ max: routes.length - 1 }), badId, async (i, id) => {
          const [, method, user, url, body] = routes[i];
          const path = url(encodeHostile(id));
          const res = method === 'get' ? await get(path, user) : await send(method, path, user, body);
          expect(res.status).toBeGreaterThanOrEqual(400);
          if (res.status === 431) return;
          checkAnswer(res, body, [id]);
        }),
        { numRuns: 60 },
      );
    });
  });

  it('a path whose percent-encoding cannot be decoded answers as a path of no route: 404, signed in or not, not a 400 about a body', async () => {
    const noRoute = await http().get('/api/v1/no-such-route');
    expect([noRoute.status, noRoute.body.code]).toEqual([404, 'route.not_found']);
    for (const [user, path] of [
      ['ward.longbien', '/api/v1/cases/%E0'],
      ['police.longbien', '/api/v1/referrals/%ZZ'],
      ['admin', '/api/v1/users/%C3%28'],
    ] as const) {
      for (const res of [await get(path, user), await http().get(path)]) {
        expect([res.status, res.body.code]).toEqual([404, 'route.not_found']);
      }
    }
  });

  it('HEAD is no method of the API: a case read, verification or checkpoint runs for no one who asks for headers alone', async () => {
    // Express answers HEAD with a GET route's handler: a case's sections would be decrypted and a read of its
    // survivor's identity put on record that disclosed nothing, a verification or a signature run for nothing.
    const db = t.app.get(DataSource);
    const entries = async () =>
      (await db.query<{ n: number }[]>(`SELECT count(*)::int AS n FROM audit_events`))[0].n;
    const checkpoints = async () =>
      (await db.query<{ n: number }[]>(`SELECT count(*)::int AS n FROM audit_checkpoints`))[0].n;
    const [before, signed] = [await entries(), await checkpoints()];
    for (const [user, path] of [
      ['ward.longbien', `/api/v1/cases/${ids.case}`],
      ['ward.longbien', '/api/v1/cases'],
      ['supervisor.hanoi', '/api/v1/audit/verify'],
      ['supervisor.hanoi', '/api/v1/audit/checkpoints/latest'],
    ] as const) {
      const res = await http().head(path).set('Authorization', `Bearer ${tok[user]}`);
      expect([path, res.status]).toEqual([path, 404]);
    }
    expect([await entries(), await checkpoints()]).toEqual([before, signed]);
    // The same reads by GET are on record; a load balancer's HEAD of the health check still answers.
    await get(`/api/v1/cases/${ids.case}`, 'ward.longbien').then((res) => expect(res.status).toBe(200));
    expect(await entries()).toBe(before + 1);
    expect((await http().head('/health')).status).toBe(200);
  });

  it('bodies over the size limit are refused with 413 on every route', async () => {
    await withRowAccounting(async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(
            '/api/v1/cases',
            '/api/v1/cases/search',
            `/api/v1/cases/${'00000000-0000-4000-8000-000000000000'}/consents`,
            '/api/v1/auth/login',
            '/api/v1/users',
          ),
          hugeString(limitBytesOrDefault(), 2 * limitBytesOrDefault()),
          async (url, huge) => {
            const body = { ...caseBody(), survivor: { fullName: huge } };
            const res = await send('post', url, url.endsWith('login') ? null : 'ward.longbien', body);
            expect(res.status).toBe(413);
            checkAnswer(res, body);
          },
        ),
        { numRuns: 12 },
      );
    });
  });

  // The body limit is read from the configuration once the app runs; the arbitrary is built before that.
  function limitBytesOrDefault(): number {
    return limitBytes ?? 256 * 1024;
  }

  it('POST /auth/login: hostile sign-ins never reach a real account', async () => {
    await withRowAccounting(async () => {
      await fc.assert(
        fc.asyncProperty(
          mutated(() => ({ username: `fuzz.nobody.${unique()}`, password: 'not-the-password-of-anyone' })),
          async (body) => {
            // The username space excludes every real account, so no real account is ever locked.
            for (const leaf of stringLeaves(body)) expect(DEMO_USERS).not.toContain(leaf.toLowerCase());
            const res = await send('post', '/api/v1/auth/login', null, body);
            expect(checkAnswer(res, body)).toBe(false);
          },
        ),
        { numRuns: 40 },
      );
    });
    // The demo accounts still sign in.
    await signInAll(t, ['ward.longbien']);
  });

  it('POST /auth/password: hostile password changes never change a password', async () => {
    // An account of its own: the wrong current passwords lock it, and nothing else uses it.
    const u = unique();
    const account = { username: `fuzz.changer.${u}`, password: `Khong-phai-mat-khau-that-${u}` };
    const made = await send('post', '/api/v1/users', 'admin', {
      ...account,
      role: 'ward_officer',
      wardCodes: ['00145'],
    });
    expect(made.status).toBe(201);
    const signedIn = await send('post', '/api/v1/auth/login', null, account);
    expect(signedIn.status).toBe(200);
    tok.changer = signedIn.body.accessToken;
    const hash = async () =>
      (
        await t.app
          .get(DataSource)
          .query(`SELECT password_hash, token_version FROM users WHERE id = $1`, [made.body.id])
      )[0];
    const before = await hash();
    await withRowAccounting(async () => {
      await fc.assert(
        fc.asyncProperty(
          mutated(() => ({
            currentPassword: 'not-the-current-password',
            newPassword: `Mat-khau-moi-gia-dinh-${unique()}`,
          })),
          async (body) => {
            const res = await send('post', '/api/v1/auth/password', 'changer', body);
            expect(checkAnswer(res, body)).toBe(false);
          },
        ),
        { numRuns: 40 },
      );
    });
    expect(await hash()).toEqual(before);
  });
});
