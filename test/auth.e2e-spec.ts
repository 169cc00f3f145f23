import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import request from 'supertest';
import { DataSource, QueryFailedError } from 'typeorm';
import { APP_CONFIG, AppConfig } from '../src/config/config';
import { PasswordHasher } from '../src/crypto/password-hasher';
import { LoginThrottleService } from '../src/identity/login-throttle.service';
import { TokenService } from '../src/identity/token.service';
import { UsersRepository } from '../src/identity/users.repository';
import { REAUTH_PER_MINUTE } from '../src/identity/reauthentication.service';
import { startTestApp, TestApp } from './support/app';
import {
  codeFor,
  givenDemoUnits,
  givenOrganization,
  givenPasswordReset,
  givenSignedIn,
  givenSignedInWithTotp,
  givenTotp,
  givenUser,
  TEST_PASSWORD,
} from './support/identity';
import { statementsDuring } from './support/statements';
import { someoneWaitsForALock } from './support/wait';

const PROBLEM = /^application\/problem\+json/;

/**
 * An app of the describe's own (`env` over the test configuration), with the demo's administrative units, started
 * before its tests and closed after them: a getter, since the app exists once beforeAll has run.
 */
function appOfDescribe(env: Record<string, string>): () => TestApp {
  let t: TestApp | undefined;
  beforeAll(async () => {
    t = await startTestApp(env);
    await givenDemoUnits(t);
  });
  afterAll(async () => {
    await t?.close();
  });
  return () => t!;
}

describe('sign-in, tokens and two-factor (end to end)', () => {
  let t: TestApp;
  const http = () => request(t.app.getHttpServer());
  const login = (body: Record<string, unknown>) => http().post('/api/v1/auth/login').send(body);

  beforeAll(async () => {
    // A higher per-IP limit: every request of this file comes from 127.0.0.1 (the IP lock has its own test).
    t = await startTestApp({ HAVEN_LOGIN_IP_MAX_FAILURES: '1000' });
    await givenDemoUnits(t);
  });
  afterAll(async () => {
    await t.close();
  });

  it('signs in a ward officer with a 15-minute bearer token that opens the API', async () => {
    const u = await givenUser(t, { role: 'ward_officer', username: 'ward.signin' });
    const res = await login({ username: 'Ward.Signin', password: TEST_PASSWORD }).expect(200);
    expect(res.body).toEqual({
      accessToken: expect.stringMatching(/^[\w-]+\.[\w-]+\.[\w-]+$/),
      tokenType: 'Bearer',
      expiresIn: 900,
      user: { id: u.id, username: 'ward.signin', role: 'ward_officer' },
      totpEnrollmentRequired: false,
      passwordChangeRequired: false,
    });
    const claims = JSON.parse(Buffer.from(res.body.accessToken.split('.')[1], 'base64url').toString('utf8'));
    expect(claims).toMatchObject({ sub: u.id, jti: expect.any(String), iss: 'haven', aud: 'haven-api' });
    expect(claims.exp - claims.iat).toBe(900);
    // Nothing about the person or their scope travels in the token.
    expect(Object.keys(claims).sort()).toEqual(['aud', 'exp', 'iat', 'iss', 'jti', 'sub', 'ver']);
    const header = JSON.parse(Buffer.from(res.body.accessToken.split('.')[0], 'base64url').toString('utf8'));
    expect(header.alg).toBe('HS256');

    const me = await http().get('/api/v1/auth/me').auth(res.body.accessToken, { type: 'bearer' }).expect(200);
    expect(me.body).toMatchObject({
      id: u.id,
      role: 'ward_officer',
      wardCodes: ['00145'],
      totpEnabled: false,
    });
  });

  it('answers an unknown user and a wrong password with the same 401 body, in comparable time', async () => {
    await givenUser(t, { role: 'ward_officer', username: 'known.officer' });
    const strip = (b: Record<string, unknown>) => ({ ...b, requestId: undefined });
    // The account's commune's province is looked up once too (cached): not on every refusal of the account.
    await login({ username: 'known.officer', password: 'not-the-password-0' }).expect(401);
    const verify = jest.spyOn(t.app.get(PasswordHasher), 'verify');
    try {
      const t0 = Date.now();
      const { result: wrong, statements: forKnown } = await statementsDuring(() =>
        login({ username: 'known.officer', password: 'not-the-password-1' }).expect(401),
      );
      const t1 = Date.now();
      const { result: unknown, statements: forUnknown } = await statementsDuring(() =>
        login({ username: 'nobody.here', password: 'not-the-password-1' }).expect(401),
      );
      const t2 = Date.now();
      // The same statements on both paths (the refusal's entry looks the account up either way): no query
      // fewer for an unknown username to answer it sooner.
      expect(forUnknown).toEqual(forKnown);
      expect(wrong.headers['content-type']).toMatch(PROBLEM);
      expect(strip(wrong.body)).toEqual(strip(unknown.body));
      expect(wrong.body).toMatchObject({ status: 401, code: 'auth.invalid_credentials' });
      // Every 401 names the scheme that opens the API (RFC 9110: a 401 carries a challenge).
      expect([wrong.headers['www-authenticate'], unknown.headers['www-authenticate']]).toEqual([
        'Bearer',
        'Bearer',
      ]);
      // Both paths run one Argon2id verification (~150 ms), awaited: an unknown user must not answer much
      // faster. (A bound below, not a ratio of the two: a loaded machine only makes each take longer.)
      expect(verify).toHaveBeenCalledTimes(2);
      expect(t1 - t0).toBeGreaterThanOrEqual(20);
      expect(t2 - t1).toBeGreaterThanOrEqual(20);
      expect(JSON.stringify(wrong.body)).not.toMatch(/known\.officer|not-the-password/);
    } finally {
      verify.mockRestore();
    }
  });

  it('writes every attempt to the access log: the account’s when known, no actor for an unknown username', async () => {
    const u = await givenUser(t, { role: 'ward_officer', username: 'ward.audited' });
    await login({ username: 'ward.audited', password: 'wrong-password-audit' }).expect(401);
    await login({ username: 'ward.audited', password: TEST_PASSWORD }).expect(200);
    await login({ username: 'nobody.audited', password: 'wrong-password-audit' }).expect(401);
    const rows = await t.app.get(DataSource).query(
      `SELECT action, outcome, actor_id, reason, commune_code, province_code, ip FROM audit_events
        WHERE action LIKE 'auth.%' ORDER BY seq DESC LIMIT 3`,
    );
    expect(rows.reverse()).toEqual([
      expect.objectContaining({
        action: 'auth.login_failed',
        outcome: 'denied',
        actor_id: u.id,
        reason: 'auth.invalid_credentials',
      }),
      expect.objectContaining({ action: 'auth.login', outcome: 'allowed', actor_id: u.id }),
      expect.objectContaining({ action: 'auth.login_failed', outcome: 'denied', actor_id: null }),
    ]);
    expect(JSON.stringify(rows)).not.toMatch(/nobody|wrong-password/);
  });

  it('a username no account can have (a space inside, a NUL byte) is an unknown user or a malformed request, never a 500', async () => {
    const entries = async () =>
      (
        await t.app
          .get(DataSource)
          .query(
            `SELECT count(*)::int AS n FROM audit_events WHERE action = 'auth.login_failed' AND actor_id IS NULL`,
          )
      )[0].n as number;
    const before = await entries();
    const { result: spaced, statements } = await statementsDuring(() =>
      login({ username: 'ward longbien', password: 'whatever-password-1' }).expect(401),
    );
    expect(spaced.body.code).toBe('auth.invalid_credentials');
    expect(await entries()).toBe(before + 1); // counted and on record, as any unknown user
    // Not looked up: no account can have that name (the users table's pattern).
    expect(statements.filter((q) => /FROM "users"/.test(q))).toEqual([]);
    // No text Haven keeps holds a NUL character: refused before any handler, as a malformed body is.
    const nul = await login({ username: 'ward\u0000longbien', password: 'whatever-password-1' }).expect(400);
    expect(nul.body.code).toBe('request.validation');
  });

  it('ignores X-Forwarded-For unless HAVEN_TRUST_PROXY names the proxy: the socket’s peer is the client', async () => {
    await request(t.app.getHttpServer())
      .post('/api/v1/auth/login')
      .set('X-Forwarded-For', '203.0.113.7')
      .send({ username: 'nobody.forwarded', password: 'wrong-password-xff' })
      .expect(401);
    const [row] = await t.app
      .get(DataSource)
      .query(`SELECT ip FROM audit_events WHERE action = 'auth.login_failed' ORDER BY seq DESC LIMIT 1`);
    expect(row.ip).not.toBe('203.0.113.7');
    expect(row.ip).toMatch(/127\.0\.0\.1|::1/);
  });

  it('refuses a malformed sign-in body with 400 (not counted as a failure)', async () => {
    const res = await login({ username: 'x', password: 123, extra: true }).expect(400);
    expect(res.body.code).toBe('request.validation');
    const fields = new Set(res.body.errors.map((e: { field: string }) => e.field));
    // `extra`, declared by no route, is not echoed (a key could be a person's name).
    expect([...fields].sort()).toEqual(['?', 'password']);
    // Not counted: the account can still sign in after many malformed attempts.
    await givenUser(t, { role: 'ward_officer', username: 'ward.malformed' });
    for (let i = 0; i < 6; i++) await login({ username: 'ward.malformed', password: 1 }).expect(400);
    await login({ username: 'ward.malformed', password: TEST_PASSWORD }).expect(200);
    // An empty code field (a form's, for an account without two-factor) is no code, not a malformed one.
    await login({ username: 'ward.malformed', password: TEST_PASSWORD, totp: '' }).expect(200);
    await login({ username: 'ward.malformed', password: TEST_PASSWORD, totp: '12345' }).expect(400);
  });

  it('a sign-in with a query string or an If-Match is refused before it is tried: nothing signed in, nothing logged', async () => {
    const u = await givenUser(t, { role: 'ward_officer', username: 'ward.queried' });
    const before = await t.app
      .get(DataSource)
      .query(`SELECT count(*)::int AS n FROM audit_events WHERE actor_id = $1`, [u.id]);
    const queried = await request(t.app.getHttpServer())
      .post('/api/v1/auth/login?lang=vi')
      .send({ username: 'ward.queried', password: TEST_PASSWORD })
      .expect(400);
    expect(queried.body.detail).toMatch(/takes no query parameters/);
    await request(t.app.getHttpServer())
      .post('/api/v1/auth/login')
      .set('If-Match', '"1"')
      .send({ username: 'ward.queried', password: TEST_PASSWORD })
      .expect(412);
    // No sign-in happened (none on the log), and the account signs in as before.
    expect(
      await t.app
        .get(DataSource)
        .query(`SELECT count(*)::int AS n FROM audit_events WHERE actor_id = $1`, [u.id]),
    ).toEqual(before);
    await login({ username: 'ward.queried', password: TEST_PASSWORD }).expect(200);
  });

  it('locks an account after repeated failures (429), even for the right password, without telling which', async () => {
    const lockedUser = await givenUser(t, { role: 'ward_officer', username: 'ward.locked' });
    for (let i = 0; i < 5; i++) {
      await login({ username: 'ward.locked', password: `wrong-password-${i}` }).expect(401);
    }
    const locked = await login({ username: 'ward.locked', password: TEST_PASSWORD }).expect(429);
    expect(locked.body).toMatchObject({ status: 429, code: 'auth.throttled' });
    // Refused again and again while locked: on the access log once (each entry would stay for good).
    for (let i = 0; i < 5; i++) await login({ username: 'ward.locked', password: TEST_PASSWORD }).expect(429);
    const throttled = () =>
      t.app
        .get(DataSource)
        .query(`SELECT 1 FROM audit_events WHERE actor_id = $1 AND reason = 'auth.throttled'`, [
          lockedUser.id,
        ]);
    expect(await throttled()).toHaveLength(1);
    // A lock of the account that ends at another time (a new lock) is logged once again.
    await t.app
      .get(DataSource)
      .query(
        `UPDATE login_throttle SET locked_until = locked_until + interval '1 minute' WHERE locked_until > now()`,
      );
    for (let i = 0; i < 3; i++) await login({ username: 'ward.locked', password: TEST_PASSWORD }).expect(429);
    expect(await throttled()).toHaveLength(2);
    // It says when to try again: the rest of the lock (HAVEN_LOGIN_LOCK_SECONDS, 900 s by default).
    const retryAfter = Number(locked.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(890);
    expect(retryAfter).toBeLessThanOrEqual(900);
    // An unknown username locks the same way, so a lock does not reveal that an account exists.
    for (let i = 0; i < 5; i++)
      await login({ username: 'ghost.user', password: `wrong-password-${i}` }).expect(401);
    await login({ username: 'ghost.user', password: 'whatever-password' }).expect(429);
    // Other accounts are not affected.
    await givenUser(t, { role: 'ward_officer', username: 'ward.free' });
    await login({ username: 'ward.free', password: TEST_PASSWORD }).expect(200);
    // The lock is stored in PostgreSQL (shared by every instance), keyed by a hash, never the username.
    const rows = await t.app
      .get(DataSource)
      .query(`SELECT key, locked_until FROM login_throttle WHERE locked_until > now()`);
    expect(rows.length).toBeGreaterThanOrEqual(2);
    expect(JSON.stringify(rows)).not.toMatch(/ward\.locked|ghost/);
  });

  it('sheds sign-ins while password checks are queued for more than 10 s (a flood): 503 at once, neither counted nor checked', async () => {
    await givenUser(t, { role: 'ward_officer', username: 'ward.flooded' });
    const db = t.app.get(DataSource);
    const hasher = t.app.get(PasswordHasher);
    const account = t.app.get(LoginThrottleService).keysFor('ward.flooded', '').keyOf('account');
    const entries = async () =>
      (await db.query(`SELECT count(*)::int AS n FROM audit_events WHERE action LIKE 'auth.login%'`))[0].n;
    const before = await entries();
    const backlog = jest.spyOn(hasher, 'backlogSeconds', 'get').mockReturnValue(12);
    const verify = jest.spyOn(hasher, 'verify');
    try {
      const shed = await login({ username: 'ward.flooded', password: TEST_PASSWORD })
        .set('Accept-Language', 'vi')
        .expect(503);
      expect(shed.body.code).toBe('service.unavailable');
      expect(shed.body.detail).toMatch(/thử lại sau vài giây/);
      expect(shed.headers['retry-after']).toBe('5');
      expect(verify).not.toHaveBeenCalled();
      expect(await db.query(`SELECT 1 FROM login_throttle WHERE key = $1`, [account])).toEqual([]);
      expect(await entries()).toBe(before);
    } finally {
      backlog.mockRestore();
      verify.mockRestore();
    }
    // Below the bound, as usual.
    await login({ username: 'ward.flooded', password: TEST_PASSWORD }).expect(200);
  });

  it('holds the lock under a burst: of 25 sign-ins sent at once, at most 5 reach the password check', async () => {
    await givenUser(t, { role: 'ward_officer', username: 'ward.burst' });
    const answers = await Promise.all(
      Array.from({ length: 25 }, (_, i) =>
        login({ username: 'ward.burst', password: i === 24 ? TEST_PASSWORD : `wrong-burst-${i}` }),
      ),
    );
    const by = (status: number) => answers.filter((a) => a.status === status).length;
    expect(by(401) + by(200)).toBeLessThanOrEqual(5);
    expect(by(429)).toBeGreaterThanOrEqual(20);
    expect(by(401) + by(200) + by(429)).toBe(25);
    // Locked now, the right password included.
    await login({ username: 'ward.burst', password: TEST_PASSWORD }).expect(429);
  });

  it('outside the demo, a demo account neither signs in nor keeps its session (its password was printed for all)', async () => {
    const u = await givenUser(t, { role: 'admin', username: 'admin.leftover' });
    const token = (await login({ username: 'admin.leftover', password: TEST_PASSWORD }).expect(200)).body
      .accessToken as string;
    await http().get('/api/v1/auth/me').auth(token, { type: 'bearer' }).expect(200);
    // As if seeded by an earlier demo run on this database (this app runs without HAVEN_DEMO).
    await t.app.get(DataSource).query(`UPDATE users SET demo_account = true WHERE id = $1`, [u.id]);
    const refused = await login({ username: 'admin.leftover', password: TEST_PASSWORD }).expect(401);
    expect(refused.body.code).toBe('auth.invalid_credentials');
    await http().get('/api/v1/auth/me').auth(token, { type: 'bearer' }).expect(401);
  });

  it('re-hashing an old hash at sign-in never undoes a password reset made meanwhile', async () => {
    const u = await givenUser(t, { role: 'ward_officer', username: 'ward.rehash' });
    const hasher = t.app.get(PasswordHasher);
    const db = t.app.get(DataSource);
    const resetHash = await hasher.hash('reset-meanwhile-lantern-77');
    // The stored hash has old parameters, and an administrator resets the password while it is re-hashed.
    const verify = jest.spyOn(hasher, 'verify').mockResolvedValueOnce({ valid: true, needsRehash: true });
    const original = hasher.hash.bind(hasher);
    const hash = jest.spyOn(hasher, 'hash').mockImplementationOnce(async (password: string) => {
      await db.query(`UPDATE users SET password_hash = $2 WHERE id = $1`, [u.id, resetHash]);
      return original(password);
    });
    try {
      await login({ username: 'ward.rehash', password: TEST_PASSWORD }).expect(200);
    } finally {
      verify.mockRestore();
      hash.mockRestore();
    }
    const [row] = await db.query(`SELECT password_hash FROM users WHERE id = $1`, [u.id]);
    expect(row.password_hash).toBe(resetHash);
    await login({ username: 'ward.rehash', password: 'reset-meanwhile-lantern-77' }).expect(200);
  });

  it('an account disabled while its password was being checked is refused, and not signed in on the log after it', async () => {
    const u = await givenUser(t, { role: 'ward_officer', username: 'ward.disabled.meanwhile' });
    const hasher = t.app.get(PasswordHasher);
    const db = t.app.get(DataSource);
    const original = hasher.verify.bind(hasher);
    // An administrator disables the account (its sessions' version moves on) while the password is checked.
    const verify = jest.spyOn(hasher, 'verify').mockImplementationOnce(async (hash, password) => {
      const result = await original(hash, password);
      await db.query(
        `UPDATE users SET status = 'disabled', token_version = token_version + 1 WHERE id = $1`,
        [u.id],
      );
      return result;
    });
    try {
      const res = await login({ username: 'ward.disabled.meanwhile', password: TEST_PASSWORD }).expect(401);
      expect(res.body.accessToken).toBeUndefined();
    } finally {
      verify.mockRestore();
    }
    const entries = await db.query<{ action: string; outcome: string }[]>(
      `SELECT action, outcome FROM audit_events WHERE resource_id = $1 AND action LIKE 'auth.%' ORDER BY seq`,
      [u.id],
    );
    expect(entries).toEqual([{ action: 'auth.login_failed', outcome: 'denied' }]);
  });

  it('a lock ends when its time is up, and failures older than the window count no more', async () => {
    await givenUser(t, { role: 'ward_officer', username: 'ward.expiring' });
    const db = t.app.get(DataSource);
    const account = t.app.get(LoginThrottleService).keysFor('ward.expiring', '').keyOf('account');
    const failures = async () =>
      ((await db.query(`SELECT failures FROM login_throttle WHERE key = $1`, [account]))[0]?.failures ??
        null) as number | null;
    // Locked until a second ago: the right password signs in.
    await db.query(
      `INSERT INTO login_throttle (key, failures, window_started_at, locked_until)
       VALUES ($1, 0, now() - interval '20 minutes', now() - interval '1 second')`,
      [account],
    );
    await login({ username: 'ward.expiring', password: TEST_PASSWORD }).expect(200);
    // The account's count from this test's address (its sign-in's, on the access log).
    const [{ ip }] = await db.query<{ ip: string }[]>(
      `SELECT e.ip FROM audit_events e JOIN users u ON u.id = e.actor_id
        WHERE u.username = 'ward.expiring' AND e.action = 'auth.login' ORDER BY e.seq DESC LIMIT 1`,
    );
    const here = t.app.get(LoginThrottleService).keysFor('ward.expiring', ip).keyOf('accountHere');
    // Four failures, one short of the lock, but counted in a window that ended (15 minutes by default): the next
    // failure starts a new count, and the one after it is no lock either.
    await db.query(
      `INSERT INTO login_throttle (key, failures, window_started_at) VALUES ($1, 4, now() - interval '16 minutes')
       ON CONFLICT (key) DO UPDATE SET failures = 4, window_started_at = now() - interval '16 minutes',
                                       locked_until = NULL`,
      [account],
    );
    await login({ username: 'ward.expiring', password: 'wrong-password-77' }).expect(401);
    expect(await failures()).toBe(1);
    await login({ username: 'ward.expiring', password: 'wrong-password-77' }).expect(401);
    // Four failures from this address within the window: the fifth locks the account from here.
    await db.query(`UPDATE login_throttle SET failures = 4, window_started_at = now() WHERE key = $1`, [
      here,
    ]);
    await login({ username: 'ward.expiring', password: 'wrong-password-77' }).expect(401);
    await login({ username: 'ward.expiring', password: TEST_PASSWORD }).expect(429);
  });

  it("a stranger's guesses from elsewhere lock the account from there, not its user at the office; from many addresses, everywhere", async () => {
    const throttle = t.app.get(LoginThrottleService);
    const db = t.app.get(DataSource);
    const { maxFailuresPerAccount: fromOne, maxFailuresPerAccountTotal: fromAll } = t.config.auth;
    await givenUser(t, { role: 'ward_officer', username: 'ward.known.name' });
    /** A wrong password for the account from `ip`, as a sign-in counts it: the seconds it is refused for. */
    const guess = async (ip: string): Promise<number> => {
      const keys = throttle.keysFor('ward.known.name', ip);
      const lock = await throttle.begin(keys);
      if (lock.seconds === 0) await throttle.recordFailure(keys);
      return lock.seconds;
    };
    for (let i = 0; i < fromOne; i++) expect(await guess('198.51.100.40')).toBe(0);
    expect(await guess('198.51.100.40')).toBeGreaterThan(0);
    // The user, at the office (this test's address), still signs in.
    await login({ username: 'ward.known.name', password: TEST_PASSWORD }).expect(200);
    // An IPv6 site counts as one address (its /48): guesses from its /64s add up.
    const site = (n: number) => `2001:db8:ab:${n}::5`;
    for (let i = 0; i < fromOne; i++) expect(await guess(site(i))).toBe(0);
    expect(await guess(site(fromOne))).toBeGreaterThan(0);
    await login({ username: 'ward.known.name', password: TEST_PASSWORD }).expect(200);
    // Guesses from ten addresses, five each (what each allows): the account is locked from everywhere.
    expect(fromAll % fromOne).toBe(0);
    for (let a = 0; a < fromAll / fromOne; a++) {
      for (let i = 0; i < fromOne; i++) expect(await guess(`203.0.113.${100 + a}`)).toBe(0);
    }
    const office = await login({ username: 'ward.known.name', password: TEST_PASSWORD }).expect(429);
    expect(office.body.code).toBe('auth.throttled');
    // An administrator's reset of the password lifts it (nothing else in the application would): the user signs in
    // with the new one. The guessers' own addresses stay locked for the account.
    const { token: adminToken } = await steppedUpAdmin('admin.unlocks');
    const [{ id }] = await db.query<{ id: string }[]>(
      `SELECT id FROM users WHERE username = 'ward.known.name'`,
    );
    await http()
      .patch(`/api/v1/users/${id}`)
      .auth(adminToken, { type: 'bearer' })
      .send({ password: 'copper-lantern-river-91' })
      .expect(200);
    await login({ username: 'ward.known.name', password: 'copper-lantern-river-91' }).expect(200);
    expect(await guess('198.51.100.40')).toBeGreaterThan(0);
  });

  it('an attempt refused by one lock counts against nothing: a locked address cannot go on to lock accounts', async () => {
    const throttle = t.app.get(LoginThrottleService);
    const db = t.app.get(DataSource);
    const fromLocked = throttle.keysFor('ward.victim', '203.0.113.9');
    await db.query(
      `INSERT INTO login_throttle (key, failures, window_started_at, locked_until)
       VALUES ($1, 0, now(), now() + interval '10 minutes')`,
      [fromLocked.keyOf('address')],
    );
    for (let i = 0; i < 10; i++) expect((await throttle.begin(fromLocked)).seconds).toBeGreaterThan(0);
    expect(
      await db.query(`SELECT failures FROM login_throttle WHERE key = $1`, [fromLocked.keyOf('account')]),
    ).toEqual([]);
    // The account's own user, elsewhere, is not locked out by them.
    expect((await throttle.begin(throttle.keysFor('ward.victim', '198.51.100.7'))).seconds).toBe(0);
  });

  it('the throttle takes an account’s and an address’s rows in one order: a success never deadlocks with another attempt', async () => {
    const throttle = t.app.get(LoginThrottleService);
    const keys = throttle.keysFor('ward.lock.order', '198.51.100.23');
    expect(keys.keyOf('account') < keys.keyOf('address')).toBe(true); // the order begin() inserts them in
    await throttle.begin(keys);
    // Another attempt's begin(), as it locks them: the account's row, then (below) the address's.
    const other = new Client({ connectionString: t.db.url });
    await other.connect();
    try {
      await other.query(`BEGIN; SET LOCAL lock_timeout = '5s'`);
      await other.query(`SELECT 1 FROM login_throttle WHERE key = $1 FOR UPDATE`, [keys.keyOf('account')]);
      const success = throttle.recordSuccess(keys);
      await someoneWaitsForALock(async (q) => (await other.query<{ n: number }>(q)).rows);
      // The success waits holding nothing: the other attempt takes the address's row at once.
      await other.query(`SELECT 1 FROM login_throttle WHERE key = $1 FOR UPDATE`, [keys.keyOf('address')]);
      await other.query('COMMIT');
      await success;
    } finally {
      await other.query('ROLLBACK').catch(() => undefined);
      await other.end();
    }
  });

  it('pruning the throttle removes rows whose window and lock are over, and passes over a row a sign-in holds', async () => {
    const throttle = t.app.get(LoginThrottleService);
    const db = t.app.get(DataSource);
    const key = (name: string) => `a:prune-${name}-${randomUUID()}`;
    const [over, locked, recent, held] = ['over', 'locked', 'recent', 'held'].map(key);
    await db.query(
      `INSERT INTO login_throttle (key, failures, window_started_at, locked_until) VALUES
         ($1, 3, now() - interval '2 days', NULL),
         ($2, 0, now() - interval '2 days', now() + interval '1 hour'),
         ($3, 2, now(), NULL),
         ($4, 1, now() - interval '2 days', NULL)`,
      [over, locked, recent, held],
    );
    const other = new Client({ connectionString: t.db.url });
    await other.connect();
    try {
      await other.query('BEGIN');
      await other.query(`SELECT 1 FROM login_throttle WHERE key = $1 FOR UPDATE`, [held]);
      await throttle.prune(); // does not wait for the held row
      await other.query('COMMIT');
    } finally {
      await other.end();
    }
    const left = (
      await db.query<{ key: string }[]>(`SELECT key FROM login_throttle WHERE key = ANY($1)`, [
        [over, locked, recent, held],
      ])
    ).map((r) => r.key);
    expect(left.sort()).toEqual([held, locked, recent].sort());
  });

  it('a success whose password check ran while wrong guesses locked the account leaves the lock in place', async () => {
    const throttle = t.app.get(LoginThrottleService);
    const db = t.app.get(DataSource);
    const keys = throttle.keysFor('ward.raced', '198.51.100.40');
    expect((await throttle.begin(keys)).seconds).toBe(0); // the right password, being checked
    // Meanwhile, guesses from elsewhere (from as many addresses as it takes) reach the account's limit and lock it.
    const { maxFailuresPerAccount: fromOne, maxFailuresPerAccountTotal: fromAll } = t.config.auth;
    for (let a = 0; a < fromAll / fromOne; a++) {
      const guesses = throttle.keysFor('ward.raced', `203.0.113.${40 + a}`);
      for (let i = 0; i < fromOne && !(await throttle.begin(guesses)).seconds; i++)
        await throttle.recordFailure(guesses);
    }
    const lockedUntil = async () =>
      (
        await db.query<{ locked_until: Date | null }[]>(
          `SELECT locked_until FROM login_throttle WHERE key = $1`,
          [keys.keyOf('account')],
        )
      )[0]?.locked_until ?? null;
    const lock = await lockedUntil();
    expect(lock?.getTime()).toBeGreaterThan(Date.now());
    await throttle.recordSuccess(keys);
    expect(await lockedUntil()).toEqual(lock);
    expect((await throttle.begin(throttle.keysFor('ward.raced', '198.51.100.41'))).seconds).toBeGreaterThan(
      0,
    );
  });

  it('a successful sign-in clears the account’s failure count', async () => {
    await givenUser(t, { role: 'ward_officer', username: 'ward.reset' });
    for (let i = 0; i < 4; i++)
      await login({ username: 'ward.reset', password: `wrong-password-${i}` }).expect(401);
    await login({ username: 'ward.reset', password: TEST_PASSWORD }).expect(200);
    for (let i = 0; i < 4; i++)
      await login({ username: 'ward.reset', password: `wrong-password-${i}` }).expect(401);
    await login({ username: 'ward.reset', password: TEST_PASSWORD }).expect(200);
  });

  it('an admin without two-factor gets a token that can only set it up; after set-up a code is required', async () => {
    await givenUser(t, { role: 'admin', username: 'admin.new' });
    const first = await login({ username: 'admin.new', password: TEST_PASSWORD }).expect(200);
    expect(first.body.totpEnrollmentRequired).toBe(true);
    const limited = first.body.accessToken as string;
    const denied = await http().get('/api/v1/users').auth(limited, { type: 'bearer' }).expect(403);
    expect(denied.body.code).toBe('auth.totp_enrollment_required');

    const enroll = await http()
      .post('/api/v1/auth/totp/enroll')
      .auth(limited, { type: 'bearer' })
      .expect(200);
    expect(enroll.body.otpauthUrl).toMatch(/^otpauth:\/\/totp\/Haven:admin\.new\?/);
    const secret = enroll.body.secret as string;
    // The secret is sealed in the database, never stored as such.
    const stored = await t.app
      .get(DataSource)
      .query(`SELECT totp_pending_secret::text AS s FROM users WHERE username = 'admin.new'`);
    expect(stored[0].s).not.toContain(Buffer.from(secret).toString('hex'));

    const verify = (body: object) =>
      http().post('/api/v1/auth/totp/verify').auth(limited, { type: 'bearer' }).send(body);
    await verify({ code: '000000', password: TEST_PASSWORD }).expect(422);
    // The password too: a stolen token alone binds no authenticator to the account.
    await verify({ code: await codeFor(secret, -30) }).expect(400);
    const wrong = await verify({ code: await codeFor(secret, -30), password: 'ZZMARKER-not-mine' }).expect(
      403,
    );
    expect(wrong.body.code).toBe('auth.reauthentication_failed');
    await verify({ code: await codeFor(secret, -30), password: TEST_PASSWORD }).expect(200, {
      totpEnabled: true,
    });
    const activations = await t.app.get(DataSource).query(
      `SELECT outcome, reason FROM audit_events WHERE action = 'auth.totp_activate'
          AND resource_id = (SELECT id FROM users WHERE username = 'admin.new') ORDER BY seq`,
    );
    expect(activations).toEqual([
      { outcome: 'denied', reason: 'auth.totp_invalid' },
      { outcome: 'denied', reason: 'auth.reauthentication_failed' },
      { outcome: 'allowed', reason: null },
    ]);
    // Setting up two-factor ends the earlier session.
    await http().get('/api/v1/auth/me').auth(limited, { type: 'bearer' }).expect(401);

    const noCode = await login({ username: 'admin.new', password: TEST_PASSWORD }).expect(401);
    expect(noCode.body.code).toBe('auth.totp_required');
    // A form that sends its empty code field sends no code: the first step again, not a 400 about the field.
    const emptyCode = await login({ username: 'admin.new', password: TEST_PASSWORD, totp: '' }).expect(401);
    expect(emptyCode.body.code).toBe('auth.totp_required');
    expect(emptyCode.headers['www-authenticate']).toBe('Bearer');
    const badCode = await login({ username: 'admin.new', password: TEST_PASSWORD, totp: '000000' }).expect(
      401,
    );
    expect(badCode.body.code).toBe('auth.invalid_credentials');
    // The answer does not say the password was right; the access log does.
    const attempts = await t.app
      .get(DataSource)
      .query(
        `SELECT reason FROM audit_events WHERE action = 'auth.login_failed' AND request_id = ANY($1) ORDER BY seq`,
        [[noCode.body.requestId, badCode.body.requestId]],
      );
    expect(attempts).toEqual([{ reason: 'auth.totp_required' }, { reason: 'auth.totp_invalid' }]);
    const code = await codeFor(secret);
    const ok = await login({ username: 'admin.new', password: TEST_PASSWORD, totp: code }).expect(200);
    expect(ok.body.totpEnrollmentRequired).toBe(false);
    await http().get('/api/v1/users').auth(ok.body.accessToken, { type: 'bearer' }).expect(200);
    // A code is accepted once.
    await login({ username: 'admin.new', password: TEST_PASSWORD, totp: code }).expect(401);
    // Enrolling again is refused while two-factor is on; so is finishing a set-up (409, not a demand for a code
    // this request cannot carry).
    await http().post('/api/v1/auth/totp/enroll').auth(ok.body.accessToken, { type: 'bearer' }).expect(409);
    const again = await http()
      .post('/api/v1/auth/totp/verify')
      .auth(ok.body.accessToken, { type: 'bearer' })
      .send({ code: await codeFor(secret, 30), password: TEST_PASSWORD })
      .expect(409);
    expect(again.body.code).toBe('conflict.state');
    // Both enrolments are on the access log, the refused one with its reason; the secret is not.
    const enrolments = await t.app.get(DataSource).query(
      `SELECT outcome, reason, to_jsonb(e)::text AS entry FROM audit_events e WHERE action = 'auth.totp_enroll'
          AND resource_id = (SELECT id FROM users WHERE username = 'admin.new') ORDER BY seq`,
    );
    expect(
      enrolments.map(({ outcome, reason }: { outcome: string; reason: string | null }) => ({
        outcome,
        reason,
      })),
    ).toEqual([
      { outcome: 'allowed', reason: null },
      { outcome: 'denied', reason: 'conflict.state' },
    ]);
    for (const e of enrolments) expect(e.entry).not.toContain(secret);
  });

  it('a supervisor needs two-factor too; a ward officer may opt in and is then held to it', async () => {
    await givenUser(t, { role: 'supervisor', username: 'supervisor.new', provinceCode: '01' });
    const s = await login({ username: 'supervisor.new', password: TEST_PASSWORD }).expect(200);
    expect(s.body.totpEnrollmentRequired).toBe(true);
    await http().get('/api/v1/organizations').auth(s.body.accessToken, { type: 'bearer' }).expect(403);

    const w = await givenUser(t, { role: 'ward_officer', username: 'ward.optin' });
    const secret = await givenTotp(t, w.id);
    await login({ username: 'ward.optin', password: TEST_PASSWORD }).expect(401);
    await login({ username: 'ward.optin', password: TEST_PASSWORD, totp: await codeFor(secret) }).expect(200);
  });

  it('ten wrong authenticator codes in a row lock the account’s two-factor until an administrator resets it', async () => {
    const {
      user: w,
      token,
      secret,
    } = await givenSignedInWithTotp(t, { role: 'ward_officer', username: 'ward.codeguess' });
    const db = t.app.get(DataSource);
    // Nine wrong codes already, over days (the sign-in throttle's window lets four through every 15 minutes).
    await db.query(`UPDATE users SET totp_failures = 9 WHERE id = $1`, [w.id]);
    const right = await codeFor(secret);
    const wrong = right === '000000' ? '111111' : '000000';
    await login({ username: 'ward.codeguess', password: TEST_PASSWORD, totp: wrong }).expect(401);
    // The tenth in a row: even the right code is refused now, and says why: a lock (429, as the contract answers
    // a locked sign-in), with no time to wait for (an administrator ends it).
    const locked = await login({ username: 'ward.codeguess', password: TEST_PASSWORD, totp: right })
      .set('Accept-Language', 'vi')
      .expect(429);
    expect(locked.body.code).toBe('auth.totp_locked');
    expect(locked.headers['retry-after']).toBeUndefined();
    expect(locked.body.title).toMatch(/quản trị viên/);
    const [entry] = await db.query(`SELECT outcome, reason FROM audit_events WHERE request_id = $1`, [
      locked.body.requestId,
    ]);
    expect(entry).toEqual({ outcome: 'denied', reason: 'auth.totp_locked' });
    // A session of the account steps up no more either (here: to change the password), on record alike.
    const stepUp = await changePassword(token, {
      currentPassword: TEST_PASSWORD,
      newPassword: 'quartz-harbor-lantern-48',
      totp: await codeFor(secret, 30),
    }).expect(429);
    expect(stepUp.body.code).toBe('auth.totp_locked');
    expect(
      (await db.query(`SELECT reason FROM audit_events WHERE request_id = $1`, [stepUp.body.requestId]))[0],
    ).toEqual({ reason: 'auth.totp_locked' });
    // Counted against the user's step-ups, as the sign-in's refusal is against the account's sign-ins: each
    // checked a password.
    const stepUps = t.app.get(LoginThrottleService).reauthKeysFor(w.id, '').keyOf('stepUps');
    expect(await db.query(`SELECT failures FROM login_throttle WHERE key = $1`, [stepUps])).toEqual([
      { failures: 1 },
    ]);
    // An administrator resets its two-factor, with a new password: it signs in (and sets both up again).
    await givenPasswordReset(t, w.id, 'basalt-reset-lantern-27', { resetTotp: true });
    const again = await login({ username: 'ward.codeguess', password: 'basalt-reset-lantern-27' }).expect(
      200,
    );
    expect(again.body.passwordChangeRequired).toBe(true);
    expect((await db.query(`SELECT totp_failures FROM users WHERE id = $1`, [w.id]))[0].totp_failures).toBe(
      0,
    );
  });

  it('a code this instance cannot check (the secret does not open here) is no wrong code: nothing counted, nothing locked', async () => {
    const {
      user: w,
      token,
      secret,
    } = await givenSignedInWithTotp(t, { role: 'ward_officer', username: 'ward.unopened' });
    const db = t.app.get(DataSource);
    const [{ sealed }] = await db.query(`SELECT totp_secret AS sealed FROM users WHERE id = $1`, [w.id]);
    // What a keyring that cannot open the user's secret meets (here: one bit of the sealed secret changed).
    await db.query(
      `UPDATE users SET totp_secret = set_bit(totp_secret, 200, 1 - get_bit(totp_secret, 200)) WHERE id = $1`,
      [w.id],
    );
    const throttle = t.app.get(LoginThrottleService);
    const { maxFailuresPerAccount } = t.app.get<AppConfig>(APP_CONFIG).auth;
    for (let i = 0; i <= maxFailuresPerAccount; i++) {
      const signIn = await login({ username: 'ward.unopened', password: TEST_PASSWORD, totp: '123456' });
      expect(signIn.status).toBeGreaterThanOrEqual(500);
      const stepUp = await changePassword(token, {
        currentPassword: TEST_PASSWORD,
        newPassword: 'quartz-harbor-lantern-49',
        totp: '123456',
      });
      expect(stepUp.status).toBeGreaterThanOrEqual(500);
    }
    const counted = async (keys: string[]) =>
      (
        await db.query<{ failures: number }[]>(`SELECT failures FROM login_throttle WHERE key = ANY($1)`, [
          keys,
        ])
      ).map((r) => r.failures);
    const signInKeys = throttle.keysFor('ward.unopened', '::ffff:127.0.0.1');
    expect(await counted([signInKeys.keyOf('account'), signInKeys.keyOf('accountHere')])).toEqual([0, 0]);
    expect(await counted([throttle.reauthKeysFor(w.id, '').keyOf('stepUps')])).toEqual([0]);
    expect((await db.query(`SELECT totp_failures FROM users WHERE id = $1`, [w.id]))[0].totp_failures).toBe(
      0,
    );
    // Once it opens again, the right code signs in at once.
    await db.query(`UPDATE users SET totp_secret = $2 WHERE id = $1`, [w.id, sealed]);
    await login({ username: 'ward.unopened', password: TEST_PASSWORD, totp: await codeFor(secret) }).expect(
      200,
    );
  });

  it('disabling a user cuts off the tokens already issued and refuses sign-in with the same 401', async () => {
    const { token: adminToken } = await steppedUpAdmin('admin.disabler');
    const w = await givenUser(t, { role: 'ward_officer', username: 'ward.disabled' });
    const token = (await login({ username: 'ward.disabled', password: TEST_PASSWORD }).expect(200)).body
      .accessToken;
    await http().get('/api/v1/auth/me').auth(token, { type: 'bearer' }).expect(200);

    await http()
      .patch(`/api/v1/users/${w.id}`)
      .auth(adminToken, { type: 'bearer' })
      .send({ status: 'disabled' })
      .expect(200);
    const refused = await http().get('/api/v1/auth/me').auth(token, { type: 'bearer' }).expect(401);
    expect(refused.body.code).toBe('auth.unauthenticated');
    expect(refused.headers['www-authenticate']).toBe('Bearer');
    const signIn = await login({ username: 'ward.disabled', password: TEST_PASSWORD }).expect(401);
    expect(signIn.body.code).toBe('auth.invalid_credentials');

    // Re-enabling does not bring the old token back.
    await http()
      .patch(`/api/v1/users/${w.id}`)
      .auth(adminToken, { type: 'bearer' })
      .send({ status: 'active' })
      .expect(200);
    await http().get('/api/v1/auth/me').auth(token, { type: 'bearer' }).expect(401);
    await login({ username: 'ward.disabled', password: TEST_PASSWORD }).expect(200);
  });

  it('a password reset by an admin ends the user’s sessions and the new password works', async () => {
    const { token: adminToken } = await steppedUpAdmin('admin.resetter');
    const w = await givenUser(t, { role: 'ward_officer', username: 'ward.reset.pw' });
    const token = (await login({ username: 'ward.reset.pw', password: TEST_PASSWORD }).expect(200)).body
      .accessToken;
    const weak = await http()
      .patch(`/api/v1/users/${w.id}`)
      .auth(adminToken, { type: 'bearer' })
      .send({ password: 'password1234' })
      .expect(422);
    expect(weak.body.code).toBe('user.password_weak');
    expect(JSON.stringify(weak.body)).not.toContain('password1234');
    await http()
      .patch(`/api/v1/users/${w.id}`)
      .auth(adminToken, { type: 'bearer' })
      .send({ password: 'lantern-river-copper-77' })
      .expect(200);
    await http().get('/api/v1/auth/me').auth(token, { type: 'bearer' }).expect(401);
    await login({ username: 'ward.reset.pw', password: TEST_PASSWORD }).expect(401);
    await login({ username: 'ward.reset.pw', password: 'lantern-river-copper-77' }).expect(200);
  });

  it('a session lookup the database refuses for a moment is a 503 to try again, a bug a 500: neither signs the session out', async () => {
    const { token } = await givenSignedIn(t, { role: 'ward_officer', username: 'ward.session.refused' });
    const me = () => http().get('/api/v1/auth/me').auth(token, { type: 'bearer' });
    const users = t.app.get(UsersRepository);
    // Too many connections, as PostgreSQL answers it past max_connections (TypeORM's wrapping).
    const tooMany = new QueryFailedError(
      'SELECT …',
      [],
      Object.assign(new Error('sorry, too many clients'), { code: '53300' }),
    );
    const lookup = jest.spyOn(users, 'findSession').mockRejectedValueOnce(tooMany);
    try {
      const busy = await me().expect(503);
      expect(busy.body.code).toBe('service.unavailable');
      expect(busy.headers['retry-after']).toBe('1');
      lookup.mockRejectedValueOnce(new TypeError('a bug'));
      expect((await me().expect(500)).body.code).toBe('internal');
    } finally {
      lookup.mockRestore();
    }
    await me().expect(200);
  });

  it('keeps a sign-out for an hour past its token’s expiry, so an instance whose clock is behind still refuses the token', async () => {
    const u = await givenUser(t, { role: 'ward_officer', username: 'ward.pruned' });
    const db = t.app.get(DataSource);
    const [recent, old] = [randomUUID(), randomUUID()];
    await db.query(
      `INSERT INTO revoked_tokens (jti, user_id, expires_at)
       VALUES ($1, $3, now() - interval '30 minutes'), ($2, $3, now() - interval '61 minutes')`,
      [recent, old, u.id],
    );
    await t.app.get(TokenService).pruneRevoked();
    const left = await db.query(`SELECT jti FROM revoked_tokens WHERE jti = ANY($1::uuid[])`, [
      [recent, old],
    ]);
    expect(left).toEqual([{ jti: recent }]);
  });

  it('sign-out revokes the token; other sessions go on', async () => {
    await givenUser(t, { role: 'ward_officer', username: 'ward.logout' });
    const a = (await login({ username: 'ward.logout', password: TEST_PASSWORD }).expect(200)).body
      .accessToken;
    const b = (await login({ username: 'ward.logout', password: TEST_PASSWORD }).expect(200)).body
      .accessToken;
    await http().post('/api/v1/auth/logout').auth(a, { type: 'bearer' }).expect(204);
    await http().get('/api/v1/auth/me').auth(a, { type: 'bearer' }).expect(401);
    await http().post('/api/v1/auth/logout').auth(a, { type: 'bearer' }).expect(401);
    await http().get('/api/v1/auth/me').auth(b, { type: 'bearer' }).expect(200);
  });

  it('a token used after its session ended is on the access log, once, in the account’s jurisdiction', async () => {
    const user = await givenUser(t, { role: 'ward_officer', username: 'ward.replayed' });
    const signIn = async () =>
      (await login({ username: 'ward.replayed', password: TEST_PASSWORD }).expect(200)).body
        .accessToken as string;
    const refused = () =>
      t.app
        .get(DataSource)
        .query<{ outcome: string; reason: string; actor_id: string; jurisdictions: string[] }[]>(
          `SELECT outcome, reason, actor_id, jurisdictions FROM audit_events
          WHERE action = 'auth.session_refused' AND actor_id = $1 ORDER BY seq`,
          [user.id],
        );
    const signedOut = await signIn();
    const other = await signIn();
    const unsigned = await signIn(); // signed out at once; used below with its signature altered
    await http().post('/api/v1/auth/logout').auth(unsigned, { type: 'bearer' }).expect(204);
    await http().post('/api/v1/auth/logout').auth(signedOut, { type: 'bearer' }).expect(204);
    // Replayed again and again: one entry.
    for (let i = 0; i < 3; i++)
      await http().get('/api/v1/auth/me').auth(signedOut, { type: 'bearer' }).expect(401);
    expect(await refused()).toEqual([
      { outcome: 'denied', reason: 'auth.token_revoked', actor_id: user.id, jurisdictions: ['01'] },
    ]);
    // A reset by an administrator supersedes every earlier token of the account.
    await givenPasswordReset(t, user.id, 'reset-by-admin-harbour-51');
    await http().get('/api/v1/auth/me').auth(other, { type: 'bearer' }).expect(401);
    expect((await refused()).map((r) => r.reason)).toEqual(['auth.token_revoked', 'auth.token_superseded']);
    // A token Haven never signed is refused without an entry (it names no session): here one whose session ended
    // and was never logged, its signature altered.
    const [head, body, signature] = unsigned.split('.');
    const altered = `${head}.${body}.${signature.startsWith('A') ? 'B' : 'A'}${signature.slice(1)}`;
    await http().get('/api/v1/auth/me').auth(altered, { type: 'bearer' }).expect(401);
    expect(await refused()).toHaveLength(2);
    // The same token as signed is on the log: the test above could have seen one.
    await http().get('/api/v1/auth/me').auth(unsigned, { type: 'bearer' }).expect(401);
    expect(await refused()).toHaveLength(3);
  });

  /** The access-log entries about an account (resource_id), oldest first, but its sign-ins. */
  const entriesAbout = (id: string) =>
    t.app.get(DataSource).query<
      {
        action: string;
        outcome: string;
        actor_id: string | null;
        reason: string | null;
        jurisdictions: string[];
        request_id: string | null;
      }[]
    >(
      `SELECT action, outcome, actor_id, reason, jurisdictions, request_id FROM audit_events
        WHERE resource_id = $1 AND action NOT LIKE 'auth.login%' ORDER BY seq`,
      [id],
    );
  /** Account administration asks for a recent step-up: the next step's code (the sign-in used this one). */
  const stepUp = async (token: string, secret: string) =>
    http()
      .post('/api/v1/auth/step-up')
      .auth(token, { type: 'bearer' })
      .send({ password: TEST_PASSWORD, totp: await codeFor(secret, 30) })
      .expect(200);
  /** A new administrator with two-factor, signed in and stepped up: its id and token. */
  const steppedUpAdmin = async (username: string): Promise<{ id: string; token: string }> => {
    const admin = await givenUser(t, { role: 'admin', username });
    const secret = await givenTotp(t, admin.id);
    const token = (
      await login({ username, password: TEST_PASSWORD, totp: await codeFor(secret) }).expect(200)
    ).body.accessToken as string;
    await stepUp(token, secret);
    return { id: admin.id, token };
  };
  const changePassword = (token: string, body: Record<string, unknown>) =>
    http().post('/api/v1/auth/password').auth(token, { type: 'bearer' }).send(body);

  it('a user changes their own password with the current one: every session ends, the new one signs in', async () => {
    const u = await givenUser(t, { role: 'ward_officer', username: 'ward.changer' });
    const a = (await login({ username: 'ward.changer', password: TEST_PASSWORD }).expect(200)).body
      .accessToken;
    const b = (await login({ username: 'ward.changer', password: TEST_PASSWORD }).expect(200)).body
      .accessToken;
    await changePassword(a, { currentPassword: TEST_PASSWORD, newPassword: 'quiet-meadow-lantern-58' })
      .set('X-Request-Id', 'fa55c4a9e0000001')
      .expect(204);
    // This session and the other one have ended; the old password is refused, the new one signs in.
    await http().get('/api/v1/auth/me').auth(a, { type: 'bearer' }).expect(401);
    await http().get('/api/v1/auth/me').auth(b, { type: 'bearer' }).expect(401);
    await login({ username: 'ward.changer', password: TEST_PASSWORD }).expect(401);
    await login({ username: 'ward.changer', password: 'quiet-meadow-lantern-58' }).expect(200);
    // On the access log under the account, in its commune's province (Hà Nội), with the request.
    // (The first entry about it: its creation by the test's factory.)
    expect((await entriesAbout(u.id)).slice(1)).toEqual([
      {
        action: 'auth.password_change',
        outcome: 'allowed',
        actor_id: u.id,
        reason: null,
        jurisdictions: ['01'],
        request_id: 'fa55c4a9e0000001',
      },
    ]);
    expect(t.logs.join('')).not.toContain('quiet-meadow-lantern-58');
  });

  it('a change is refused when the password changed since it was checked, not when only its hash was renewed', async () => {
    const hasher = t.app.get(PasswordHasher);
    const db = t.app.get(DataSource);
    const u = await givenUser(t, { role: 'ward_officer', username: 'ward.meanwhile' });
    const signIn = async (password: string) =>
      (await login({ username: 'ward.meanwhile', password }).expect(200)).body.accessToken as string;
    // Between the check of the current password and the change, the account's hash is replaced: hash() is
    // the step in between (it hashes the new password).
    const hash = hasher.hash.bind(hasher);
    const meanwhile = (password: string) =>
      jest.spyOn(hasher, 'hash').mockImplementationOnce(async (given) => {
        await db.query(`UPDATE users SET password_hash = $1 WHERE id = $2`, [await hash(password), u.id]);
        return hash(given);
      });
    try {
      // Renewed for the same password (a sign-in's rehash): the change goes through.
      meanwhile(TEST_PASSWORD);
      await changePassword(await signIn(TEST_PASSWORD), {
        currentPassword: TEST_PASSWORD,
        newPassword: 'amber-valley-lantern-31',
      }).expect(204);
      // Reset to another password meanwhile (an administrator): refused, and the reset stands.
      meanwhile('orchid-reset-lantern-44');
      const res = await changePassword(await signIn('amber-valley-lantern-31'), {
        currentPassword: 'amber-valley-lantern-31',
        newPassword: 'copper-river-lantern-19',
      }).expect(409);
      expect(res.body.detail).toMatch(/changed meanwhile/);
      await login({ username: 'ward.meanwhile', password: 'orchid-reset-lantern-44' }).expect(200);
      await login({ username: 'ward.meanwhile', password: 'copper-river-lantern-19' }).expect(401);
      // The session ended meanwhile (an administrator reset the account's two-factor, which ends them all):
      // refused as signed out, and the password stays.
      const token = await signIn('orchid-reset-lantern-44');
      jest.spyOn(hasher, 'hash').mockImplementationOnce(async (given) => {
        await db.query(`UPDATE users SET token_version = token_version + 1 WHERE id = $1`, [u.id]);
        return hash(given);
      });
      await changePassword(token, {
        currentPassword: 'orchid-reset-lantern-44',
        newPassword: 'copper-river-lantern-19',
      }).expect(401);
      await login({ username: 'ward.meanwhile', password: 'orchid-reset-lantern-44' }).expect(200);
    } finally {
      jest.restoreAllMocks();
    }
  });

  it('an account whose password an administrator set (creation, reset) must choose its own before anything else', async () => {
    const u = await givenUser(
      t,
      { role: 'ward_officer', username: 'ward.newcomer' },
      { passwordChangeRequired: true },
    );
    const signedIn = await login({ username: 'ward.newcomer', password: TEST_PASSWORD }).expect(200);
    expect(signedIn.body).toMatchObject({ passwordChangeRequired: true, totpEnrollmentRequired: false });
    const token = signedIn.body.accessToken as string;
    // It sees itself and may sign out or change the password; nothing else, with a problem that says why.
    const me = await http().get('/api/v1/auth/me').auth(token, { type: 'bearer' }).expect(200);
    expect(me.body).toMatchObject({ id: u.id, passwordChangeRequired: true });
    for (const path of ['/api/v1/cases', '/api/v1/organizations', `/api/v1/cases/${u.id}`]) {
      const res = await http()
        .get(path)
        .auth(token, { type: 'bearer' })
        .set('Accept-Language', 'vi')
        .expect(403);
      expect(res.body).toMatchObject({
        code: 'auth.password_change_required',
        title: 'Cần đặt mật khẩu mới trước khi sử dụng Haven',
      });
    }
    // The refusals of case routes are on record with that reason.
    const refusals = await t.app
      .get(DataSource)
      .query<{ action: string; reason: string }[]>(
        `SELECT action, reason FROM audit_events WHERE actor_id = $1 AND outcome = 'denied' ORDER BY seq`,
        [u.id],
      );
    expect(refusals).toEqual([
      { action: 'case.list', reason: 'auth.password_change_required' },
      { action: 'case.read', reason: 'auth.password_change_required' },
    ]);
    await changePassword(token, {
      currentPassword: TEST_PASSWORD,
      newPassword: 'harbor-maple-lantern-27',
    }).expect(204);
    const after = await login({ username: 'ward.newcomer', password: 'harbor-maple-lantern-27' }).expect(200);
    expect(after.body.passwordChangeRequired).toBe(false);
    await http().get('/api/v1/cases').auth(after.body.accessToken, { type: 'bearer' }).expect(200);
    // An administrator's reset sets it again.
    const [row] = await t.app
      .get(DataSource)
      .query(`SELECT password_change_required FROM users WHERE id = $1`, [u.id]);
    expect(row.password_change_required).toBe(false);
    await givenPasswordReset(t, u.id, 'reset-by-admin-lantern-55');
    const reset = await login({ username: 'ward.newcomer', password: 'reset-by-admin-lantern-55' }).expect(
      200,
    );
    expect(reset.body.passwordChangeRequired).toBe(true);
  });

  it('refuses a password change with a wrong current password (403, counted like a failed sign-in), a weak or unchanged new one (422), each on record', async () => {
    const u = await givenUser(t, { role: 'ward_officer', username: 'ward.guesser' });
    const token = (await login({ username: 'ward.guesser', password: TEST_PASSWORD }).expect(200)).body
      .accessToken as string;
    const account = () =>
      t.app
        .get(DataSource)
        .query<{ password_hash: string; token_version: number }[]>(
          `SELECT password_hash, token_version FROM users WHERE id = $1`,
          [u.id],
        );
    const [before] = await account();
    const weak = await changePassword(token, { currentPassword: TEST_PASSWORD, newPassword: 'password1234' })
      .set('Accept-Language', 'vi')
      .expect(422);
    expect(weak.body).toMatchObject({ code: 'user.password_weak', errors: [{ field: 'newPassword' }] });
    expect(weak.body.title).toBe('Mật khẩu quá ngắn hoặc quá phổ biến');
    const same = await changePassword(token, { currentPassword: TEST_PASSWORD, newPassword: TEST_PASSWORD });
    expect(same.status).toBe(422);
    expect(same.body.errors).toEqual([
      expect.objectContaining({ field: 'newPassword', code: 'sameAsCurrent' }),
    ]);
    await changePassword(token, { currentPassword: TEST_PASSWORD }).expect(400);
    const wrong = await changePassword(token, {
      currentPassword: 'ZZMARKER-not-current',
      newPassword: 'amber-harbor-violet-31',
    }).expect(403);
    expect(wrong.body).toMatchObject({ code: 'auth.reauthentication_failed' });
    expect(JSON.stringify([weak.body, same.body, wrong.body])).not.toMatch(
      /ZZMARKER|password1234|amber-harbor/,
    );
    // Four more wrong guesses lock the user's step-ups (5 failures, as for sign-in): the session cannot guess on.
    for (let i = 0; i < 4; i++) {
      await changePassword(token, {
        currentPassword: `wrong-guess-${i}`,
        newPassword: 'amber-harbor-violet-31',
      }).expect(403);
    }
    const locked = await changePassword(token, {
      currentPassword: TEST_PASSWORD,
      newPassword: 'amber-harbor-violet-31',
    }).expect(429);
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
    // Nothing changed: the password is the old one.
    expect(await account()).toEqual([before]);
    await http().get('/api/v1/auth/me').auth(token, { type: 'bearer' }).expect(200);
    const entries = (await entriesAbout(u.id)).slice(1); // after its creation
    expect(entries.map((e) => [e.action, e.outcome, e.reason])).toEqual([
      ['auth.password_change', 'denied', 'user.password_weak'],
      ['auth.password_change', 'denied', 'unprocessable'],
      ...Array.from({ length: 5 }, () => ['auth.password_change', 'denied', 'auth.reauthentication_failed']),
      ['auth.password_change', 'denied', 'auth.throttled'],
    ]);
    expect(new Set(entries.map((e) => e.actor_id))).toEqual(new Set([u.id]));
    expect(t.logs.join('')).not.toMatch(/ZZMARKER|amber-harbor|wrong-guess/);
    // A stolen token's guesses lock its step-ups, not its owner's sign-in.
    await login({ username: 'ward.guesser', password: TEST_PASSWORD }).expect(200);
  });

  it('a stranger’s wrong sign-ins lock the account’s sign-in, not its signed-in user’s step-up', async () => {
    await givenUser(t, { role: 'ward_officer', username: 'ward.targeted' });
    const token = (await login({ username: 'ward.targeted', password: TEST_PASSWORD }).expect(200)).body
      .accessToken as string;
    // Anyone who knows the username (a predictable one) locks its sign-in.
    for (let i = 0; i < 5; i++)
      await login({ username: 'ward.targeted', password: `guess-${i}` }).expect(401);
    await login({ username: 'ward.targeted', password: TEST_PASSWORD }).expect(429);
    // The user, signed in, still steps up: here to change the password (as a provider would to open emergency
    // access).
    await changePassword(token, {
      currentPassword: TEST_PASSWORD,
      newPassword: 'indigo-harbor-lantern-62',
    }).expect(204);
  });

  it('wrong sign-ins from the same office lock its address for sign-ins, not a signed-in user’s step-up', async () => {
    await givenUser(t, { role: 'ward_officer', username: 'ward.behind.nat' });
    const token = (await login({ username: 'ward.behind.nat', password: TEST_PASSWORD }).expect(200)).body
      .accessToken as string;
    const db = t.app.get(DataSource);
    const [{ ip }] = await db.query<{ ip: string }[]>(
      `SELECT e.ip FROM audit_events e JOIN users u ON u.id = e.actor_id
        WHERE u.username = 'ward.behind.nat' AND e.action = 'auth.login' ORDER BY e.seq DESC LIMIT 1`,
    );
    const keys = t.app.get(LoginThrottleService).keysFor('anyone', ip);
    // What thirty wrong sign-ins on made-up names from the office's address leave: its address locked.
    await db.query(
      `INSERT INTO login_throttle (key, failures, window_started_at, locked_until)
       VALUES ($1, 0, now(), now() + interval '10 minutes')
       ON CONFLICT (key) DO UPDATE SET locked_until = excluded.locked_until`,
      [keys.keyOf('address')],
    );
    try {
      await login({ username: 'ward.behind.nat', password: TEST_PASSWORD }).expect(429);
      // The signed-in user still steps up (as a provider opening emergency access would).
      await http()
        .post('/api/v1/auth/step-up')
        .auth(token, { type: 'bearer' })
        .send({ password: TEST_PASSWORD })
        .expect(200);
      // A wrong password is still counted, on the user's step-ups (and refused as wrong, not as locked).
      const wrong = await http()
        .post('/api/v1/auth/step-up')
        .auth(token, { type: 'bearer' })
        .send({ password: 'not-the-password-31' })
        .expect(403);
      expect(wrong.body.code).toBe('auth.reauthentication_failed');
      const own = t.app
        .get(LoginThrottleService)
        .reauthKeysFor((await db.query(`SELECT id FROM users WHERE username = 'ward.behind.nat'`))[0].id, ip);
      expect(
        await db.query(`SELECT failures FROM login_throttle WHERE key = $1`, [own.keyOf('stepUps')]),
      ).toEqual([{ failures: 1 }]);
    } finally {
      await db.query(`DELETE FROM login_throttle WHERE key = $1`, [keys.keyOf('address')]);
    }
  });

  it('a step-up’s failure that locks only the office’s address is not a lock of the user’s step-ups', async () => {
    const throttle = t.app.get(LoginThrottleService);
    const db = t.app.get(DataSource);
    const ip = '198.51.100.77';
    const stepUp = throttle.reauthKeysFor('00000000-0000-4000-8000-0000000000f7', ip);
    // The office's address one failure short of its limit (others' wrong sign-ins).
    await db.query(`INSERT INTO login_throttle (key, failures, window_started_at) VALUES ($1, $2, now())`, [
      stepUp.keyOf('address'),
      t.config.auth.maxFailuresPerIp - 1,
    ]);
    try {
      expect((await throttle.begin(stepUp)).seconds).toBe(0);
      // The wrong password's failure locks the address, for the sign-ins from there...
      expect(await throttle.recordFailure(stepUp)).toBe(false);
      expect((await throttle.begin(throttle.keysFor('anyone', ip))).seconds).toBeGreaterThan(0);
      // ...not the user's step-ups, as recordFailure said (the step-up's log line is `locked: false`).
      expect((await throttle.begin(stepUp)).seconds).toBe(0);
    } finally {
      await db.query(`DELETE FROM login_throttle WHERE key = ANY($1)`, [stepUp.keys]);
    }
  });

  it('a flood of step-ups with the right password is refused before any hash: one at a time per user, a few a minute; sign-ins go on', async () => {
    await givenUser(t, { role: 'ward_officer', username: 'ward.flooder' });
    const token = (await login({ username: 'ward.flooder', password: TEST_PASSWORD }).expect(200)).body
      .accessToken as string;
    const stepUp = () =>
      http()
        .post('/api/v1/auth/step-up')
        .auth(token, { type: 'bearer' })
        .send({ password: TEST_PASSWORD })
        .then((r) => r);
    // Sent together: one is checked, the others refused at once (429) while it runs.
    const together = await Promise.all(Array.from({ length: 8 }, stepUp));
    const statuses = together.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(6);
    expect(statuses.filter((s) => s !== 429).every((s) => s === 204 || s === 200)).toBe(true);
    expect(together.find((r) => r.status === 429)?.headers['retry-after']).toBeDefined();
    // One after another: past REAUTH_PER_MINUTE in the minute, refused too.
    const answers: number[] = [];
    for (let i = 0; i < REAUTH_PER_MINUTE; i++) answers.push((await stepUp()).status);
    expect(answers.at(-1)).toBe(429);
    expect(answers.filter((s) => s !== 429).length).toBeLessThanOrEqual(REAUTH_PER_MINUTE);
    // On the log once, not once per refusal.
    const [{ n }] = await t.app.get(DataSource).query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM audit_events e JOIN users u ON u.id = e.actor_id
          WHERE u.username = 'ward.flooder' AND e.outcome = 'denied' AND e.reason = 'auth.throttled'`,
    );
    expect(n).toBe(1);
    // Everyone else's sign-ins are not held up.
    await login({ username: 'ward.flooder', password: TEST_PASSWORD }).expect(200);
  });

  it('with two-factor, a step-up needs a new authenticator code as well as the password: missing (not counted), reused or wrong (counted) are refused', async () => {
    const u = await givenUser(t, { role: 'ward_officer', username: 'ward.stepup' });
    const secret = await givenTotp(t, u.id);
    const signInCode = await codeFor(secret);
    const token = (
      await login({ username: 'ward.stepup', password: TEST_PASSWORD, totp: signInCode }).expect(200)
    ).body.accessToken as string;
    const change = (extra: Record<string, unknown>) =>
      changePassword(token, {
        currentPassword: TEST_PASSWORD,
        newPassword: 'cobalt-meadow-lantern-88',
        ...extra,
      });
    const [before] = await t.app
      .get(DataSource)
      .query(`SELECT password_hash FROM users WHERE id = $1`, [u.id]);

    // No code: refused before the password is looked at, and not counted (six times, past the lock's five).
    for (let i = 0; i < 6; i++) {
      const missing = await change({ currentPassword: i % 2 ? TEST_PASSWORD : `ZZMARKER-${i}` })
        .set('Accept-Language', 'vi')
        .expect(403);
      expect(missing.body).toMatchObject({
        code: 'auth.reauthentication_code_required',
        title: 'Cần xác nhận bằng mã mới từ ứng dụng xác thực cùng với mật khẩu',
      });
    }
    await change({ totp: 'abc' }).expect(400);
    // An empty code field is no code.
    const empty = await change({ totp: '' }).expect(403);
    expect(empty.body.code).toBe('auth.reauthentication_code_required');
    // The code that signed in is not accepted again; a code of an hour ago is not accepted; the right code
    // with a wrong password is refused alike (which was wrong is not said).
    const reused = await change({ totp: signInCode }).expect(403);
    expect(reused.body.code).toBe('auth.reauthentication_failed');
    const fresh = await codeFor(secret, 30);
    const valid = [await codeFor(secret, -30), signInCode, fresh, await codeFor(secret, 60)];
    let stale = await codeFor(secret, -3600);
    for (let back = 3630; valid.includes(stale); back += 30) stale = await codeFor(secret, -back);
    await change({ totp: stale }).expect(403);
    const wrongPassword = await change({ currentPassword: 'ZZMARKER-wrong', totp: fresh }).expect(403);
    expect({ ...wrongPassword.body, requestId: 0 }).toEqual({ ...reused.body, requestId: 0 });
    const [unchanged] = await t.app
      .get(DataSource)
      .query(`SELECT password_hash FROM users WHERE id = $1`, [u.id]);
    expect(unchanged).toEqual(before);
    // A new password the rules refuse is refused before the code is looked at: the code stays usable.
    const weak = await change({ totp: fresh, newPassword: 'short' }).expect(422);
    expect(weak.body.code).toBe('user.password_weak');
    // Three failures counted, none for the missing codes (five lock): the right password with the next step's
    // code (not consumed by the wrong password above, which is checked first, nor by the weak one) passes.
    await change({ totp: fresh }).expect(204);
    const [after] = await t.app
      .get(DataSource)
      .query(`SELECT password_hash FROM users WHERE id = $1`, [u.id]);
    expect(after.password_hash).not.toBe(before.password_hash);
    // That code is used up now: the session ended with the change, and a sign-in cannot take it again.
    await login({ username: 'ward.stepup', password: 'cobalt-meadow-lantern-88', totp: fresh }).expect(401);
    const entries = (await entriesAbout(u.id)).filter((e) => e.action === 'auth.password_change');
    expect(entries.map((e) => [e.outcome, e.reason])).toEqual([
      // Six without a code, one with an empty one.
      ...Array.from({ length: 7 }, () => ['denied', 'auth.reauthentication_code_required']),
      ...Array.from({ length: 3 }, () => ['denied', 'auth.reauthentication_failed']),
      ['denied', 'user.password_weak'],
      ['allowed', null],
    ]);
    expect(t.logs.join('')).not.toMatch(/ZZMARKER|cobalt-meadow/);
  });

  it('account and organisation administration needs a recent step-up of the same session: a token alone creates no account', async () => {
    const { user: admin, token } = await givenSignedIn(
      t,
      { role: 'admin', username: 'admin.stepper' },
      { steppedUp: false },
    );
    const other = (
      await givenSignedIn(t, { role: 'admin', username: 'admin.stepper.two' }, { steppedUp: false })
    ).token;
    const create = (bearer: string, username: string) =>
      http()
        .post('/api/v1/users')
        .auth(bearer, { type: 'bearer' })
        .send({ username, password: 'quiet-harbour-lantern-52', role: 'ward_officer', wardCodes: ['00145'] });
    const refused = await create(token, 'ward.by.token').set('Accept-Language', 'vi').expect(403);
    expect(refused.body.code).toBe('auth.step_up_required');
    expect(refused.body.title).toMatch(/Hãy xác nhận lại danh tính trước/);
    await http()
      .post('/api/v1/organizations')
      .auth(token, { type: 'bearer' })
      .send({ name: 'Tổ chức bởi token', sector: 'health', serviceArea: { communeCodes: ['00145'] } })
      .expect(403);
    const stepUp = (bearer: string, password: string) =>
      http().post('/api/v1/auth/step-up').auth(bearer, { type: 'bearer' }).send({ password });
    expect((await stepUp(token, 'not-my-password-at-all').expect(403)).body.code).toBe(
      'auth.reauthentication_failed',
    );
    await create(token, 'ward.by.token').expect(403);
    const before = Date.now();
    const ok = await stepUp(token, TEST_PASSWORD).expect(200);
    const until = Date.parse(ok.body.stepUpUntil);
    expect(until).toBeGreaterThan(before + 9 * 60_000);
    expect(until).toBeLessThanOrEqual(Date.now() + 10 * 60_000 + 1000);
    await create(token, 'ward.by.person').expect(201);
    // Another session is another matter: the same administrator's second session, and another administrator.
    const secondSession = (
      await t.app.get(TokenService).issue((await t.app.get(UsersRepository).findById(admin.id))!)
    ).accessToken;
    await create(secondSession, 'ward.by.second.session').expect(403);
    await create(other, 'ward.by.other').expect(403);
    // Once it lapses, again.
    const db = t.app.get(DataSource);
    await db.query(
      `UPDATE session_step_ups SET expires_at = now() - interval '1 second' WHERE user_id = $1`,
      [admin.id],
    );
    await create(token, 'ward.too.late').expect(403);
    const entries = await db.query(
      `SELECT action, outcome, reason FROM audit_events WHERE actor_id = $1 ORDER BY seq`,
      [admin.id],
    );
    expect(entries).toEqual([
      { action: 'user.create', outcome: 'denied', reason: 'auth.step_up_required' },
      { action: 'organization.create', outcome: 'denied', reason: 'auth.step_up_required' },
      { action: 'auth.step_up', outcome: 'denied', reason: 'auth.reauthentication_failed' },
      { action: 'user.create', outcome: 'denied', reason: 'auth.step_up_required' },
      { action: 'auth.step_up', outcome: 'allowed', reason: null },
      { action: 'user.create', outcome: 'allowed', reason: null },
      { action: 'user.create', outcome: 'denied', reason: 'auth.step_up_required' }, // the second session
      { action: 'user.create', outcome: 'denied', reason: 'auth.step_up_required' }, // lapsed
    ]);
    // Only the stepped-up session's account exists; no organisation was made by a token alone.
    const made = await db.query<{ username: string }[]>(
      `SELECT username FROM users WHERE username LIKE 'ward.by.%' OR username = 'ward.too.late' ORDER BY 1`,
    );
    expect(made).toEqual([{ username: 'ward.by.person' }]);
    expect(await db.query(`SELECT 1 FROM organizations WHERE name = 'Tổ chức bởi token'`)).toEqual([]);
    // A change of an account or an organisation refused for want of a step-up is on record where they work:
    // Hà Nội's supervisors see a token alone trying to reset their officer (the administrator has no province).
    const officer = await givenUser(t, { role: 'ward_officer', wardCodes: ['00145'] });
    const org = await givenOrganization(t, {
      name: 'Tổ chức thử bước xác nhận (giả định)',
      sector: 'legal',
      serviceArea: { provinceCode: '31' },
    });
    const reset = await http()
      .patch(`/api/v1/users/${officer.id}`)
      .auth(other, { type: 'bearer' })
      .send({ password: 'quiet-harbour-lantern-53', resetTotp: true })
      .expect(403);
    const renamed = await http()
      .patch(`/api/v1/organizations/${org.id}`)
      .auth(other, { type: 'bearer' })
      .send({ name: 'Tên khác (giả định)' })
      .expect(403);
    /** Where a refusal for want of a step-up was placed on the access log: its resource and jurisdictions. */
    const placed = async (refused: { body: { requestId: string } }) => {
      const [row] = await db.query<{ reason: string; resource_id: string | null; jurisdictions: string[] }[]>(
        `SELECT reason, resource_id, jurisdictions FROM audit_events WHERE request_id = $1`,
        [refused.body.requestId],
      );
      expect(row.reason).toBe('auth.step_up_required');
      return [row.resource_id, row.jurisdictions];
    };
    expect(await placed(reset)).toEqual([officer.id, ['01']]);
    expect(await placed(renamed)).toEqual([org.id, ['31']]);
    // So is one of an account or an organisation to be made: where its request names (Hà Nội's commune; Hải
    // Phòng's province).
    expect(await placed(await create(other, 'ward.by.other.again').expect(403))).toEqual([null, ['01']]);
    const organize = (body: object) =>
      http().post('/api/v1/organizations').auth(other, { type: 'bearer' }).send(body).expect(403);
    const organizedThere = await organize({
      name: 'Tổ chức khác bởi token',
      sector: 'legal',
      serviceArea: { provinceCode: '31' },
    });
    expect(await placed(organizedThere)).toEqual([null, ['31']]);
    // Only what a service area is read from places it: a stray key naming an organisation elsewhere (Hải Phòng's)
    // does not make Hải Phòng's supervisors see an attempt in Hà Nội.
    const stray = await organize({
      name: 'Tổ chức lạc khoá (giả định)',
      sector: 'legal',
      serviceArea: { communeCodes: ['00145'], organizationId: org.id },
    });
    expect(await placed(stray)).toEqual([null, ['01']]);
  });

  it('puts account administration and sign-outs on the access log, in the jurisdiction of the account concerned', async () => {
    const { id: adminId, token: adminToken } = await steppedUpAdmin('admin.audited');
    const asAdmin = (req: request.Test) => req.auth(adminToken, { type: 'bearer' });
    const created = await asAdmin(http().post('/api/v1/users'))
      .send({
        username: 'ward.administered',
        password: TEST_PASSWORD,
        role: 'ward_officer',
        wardCodes: ['00145'],
      })
      .expect(201);
    const id = created.body.id as string;
    await asAdmin(http().patch(`/api/v1/users/${id}`))
      .send({ password: 'copper-lantern-river-90', resetTotp: true })
      .expect(200);
    await asAdmin(http().patch(`/api/v1/users/${id}`))
      .send({ status: 'disabled' })
      .expect(200);
    await asAdmin(http().patch(`/api/v1/users/${id}`))
      .send({ status: 'disabled' })
      .expect(200); // no change
    await asAdmin(http().patch(`/api/v1/users/${id}`))
      .send({ status: 'active' })
      .expect(200);
    const units = await t.app
      .get(DataSource)
      .query<{ code: string; province_code: string }[]>(
        `SELECT code, province_code FROM admin_units WHERE level = 'commune' AND province_code <> '01' LIMIT 1`,
      );
    await asAdmin(http().patch(`/api/v1/users/${id}`))
      .send({ wardCodes: [units[0].code] })
      .expect(200);
    // The same communes again: no change, nothing on the log.
    await asAdmin(http().patch(`/api/v1/users/${id}`))
      .send({ wardCodes: [units[0].code] })
      .expect(200);
    const other = units[0].province_code;
    expect(await entriesAbout(id)).toEqual(
      [
        ['user.create', null, ['01']],
        ['user.update', 'user.password_reset', ['01']],
        ['user.update', 'user.totp_reset', ['01']],
        ['user.update', 'user.disabled', ['01']],
        ['user.update', 'user.enabled', ['01']],
        // The communes it served and the ones it serves now: the supervisors of both provinces see it.
        ['user.update', 'user.communes_changed', ['01', other].sort()],
      ].map(([action, reason, jurisdictions]) =>
        expect.objectContaining({ action, reason, jurisdictions, outcome: 'allowed', actor_id: adminId }),
      ),
    );
    // The administrator set the password: the officer chooses their own first (a test of its own below).
    const first = (
      await login({ username: 'ward.administered', password: 'copper-lantern-river-90' }).expect(200)
    ).body.accessToken as string;
    await changePassword(first, {
      currentPassword: 'copper-lantern-river-90',
      newPassword: 'willow-harbour-signal-64',
    }).expect(204);
    // A ward officer may not administer accounts: refused, and on record.
    const ward = (
      await login({ username: 'ward.administered', password: 'willow-harbour-signal-64' }).expect(200)
    ).body.accessToken as string;
    await http()
      .patch(`/api/v1/users/${id}`)
      .auth(ward, { type: 'bearer' })
      .send({ status: 'disabled' })
      .expect(404);
    // Sign-out too.
    await http().post('/api/v1/auth/logout').auth(ward, { type: 'bearer' }).expect(204);
    const rows = await t.app
      .get(DataSource)
      .query<{ action: string; outcome: string; resource_id: string | null; reason: string | null }[]>(
        `SELECT action, outcome, resource_id, reason FROM audit_events WHERE actor_id = $1 ORDER BY seq`,
        [id],
      );
    expect(rows.filter((r) => r.action !== 'auth.login')).toEqual([
      { action: 'auth.password_change', outcome: 'allowed', resource_id: id, reason: null },
      { action: 'user.update', outcome: 'denied', resource_id: id, reason: 'auth.forbidden' },
      { action: 'auth.logout', outcome: 'allowed', resource_id: null, reason: null },
    ]);
  });

  it('refuses missing, malformed, tampered and foreign tokens with a 401 problem', async () => {
    await givenUser(t, { role: 'ward_officer', username: 'ward.tokens' });
    const token = (await login({ username: 'ward.tokens', password: TEST_PASSWORD }).expect(200)).body
      .accessToken as string;
    const [h, p, s] = token.split('.');
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, sub: '00000000-0000-4000-8000-000000000000' })).toString('base64url')}.${s}`;
    // The same session's claims, its expiry a minute later: only the signature can refuse it.
    const stretched = `${h}.${Buffer.from(JSON.stringify({ ...claims, exp: claims.exp + 60 })).toString('base64url')}.${s}`;
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${p}.`;
    await http().get('/api/v1/organizations').auth(token, { type: 'bearer' }).expect(200);
    for (const auth of [
      undefined,
      'Bearer',
      'Bearer not-a-jwt',
      `Bearer ${forged}`,
      `Bearer ${stretched}`,
      `Bearer ${none}`,
      `Basic ${token}`,
    ]) {
      const req = http().get('/api/v1/organizations');
      const res = await (auth ? req.set('Authorization', auth) : req).expect(401);
      expect(res.headers['content-type']).toMatch(PROBLEM);
      expect(res.body.code).toBe('auth.unauthenticated');
    }
  });

  it('never writes passwords, codes or tokens to the log', async () => {
    await givenUser(t, { role: 'ward_officer', username: 'ward.logcheck' });
    await login({ username: 'ward.logcheck', password: 'ZZMARKER-wrong-password' }).expect(401);
    const ok = await login({ username: 'ward.logcheck', password: TEST_PASSWORD }).expect(200);
    await http().get('/api/v1/auth/me').auth(ok.body.accessToken, { type: 'bearer' }).expect(200);
    const logs = t.logs.join('');
    expect(logs).not.toContain('ZZMARKER');
    expect(logs).not.toContain(TEST_PASSWORD);
    expect(logs).not.toContain(ok.body.accessToken);
    expect(logs).not.toContain(ok.body.accessToken.split('.')[2]);
  });
});

describe('token expiry (short TTL)', () => {
  const app = appOfDescribe({ HAVEN_ACCESS_TOKEN_TTL_SECONDS: '5' });

  it('an expired token is refused with 401', async () => {
    const t = app();
    await givenUser(t, { role: 'ward_officer', username: 'ward.expiry' });
    const res = await request(t.app.getHttpServer())
      .post('/api/v1/auth/login')
      .send({ username: 'ward.expiry', password: TEST_PASSWORD })
      .expect(200);
    expect(res.body.expiresIn).toBe(5);
    const token = res.body.accessToken as string;
    // `iat` and `exp` are whole seconds (iat rounded down), so a token lives between 4 and 5 s: the first use
    // comes well inside that, and the wait is measured from the token's own `exp`, not from a guess of the clock.
    const { iat, exp } = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as {
      iat: number;
      exp: number;
    };
    expect(exp - iat).toBe(5);
    await request(t.app.getHttpServer()).get('/api/v1/auth/me').auth(token, { type: 'bearer' }).expect(200);
    await new Promise((r) => setTimeout(r, Math.max(0, exp * 1000 - Date.now()) + 1100));
    const expired = await request(t.app.getHttpServer())
      .get('/api/v1/auth/me')
      .auth(token, { type: 'bearer' })
      .expect(401);
    expect(expired.body.code).toBe('auth.unauthenticated');
  });
});

describe('per-network throttling of IPv6 clients', () => {
  const app = appOfDescribe({ HAVEN_LOGIN_NETWORK_MAX_FAILURES: '4' });

  it('a client rotating through the /64s of its /48 is locked by the /48’s count; another /48 is not', async () => {
    const throttle = app().app.get(LoginThrottleService);
    const attempt = async (username: string, ip: string) => {
      const keys = throttle.keysFor(username, ip);
      const lock = await throttle.begin(keys);
      if (lock.seconds === 0) await throttle.recordFailure(keys);
      return lock.seconds;
    };
    // Four failures, each from a /64 of its own (each /64 far below its limit of 30), on four accounts.
    for (let i = 0; i < 4; i++) expect(await attempt(`ward.net.${i}`, `2001:db8:77:${i}::1`)).toBe(0);
    // The fifth, from yet another /64 of that /48: refused.
    expect(await attempt('ward.net.4', '2001:db8:77:99::1')).toBeGreaterThan(0);
    // Another site, and an IPv4 client, are not.
    expect(await attempt('ward.net.5', '2001:db8:78::1')).toBe(0);
    expect(await attempt('ward.net.6', '198.51.100.77')).toBe(0);
  });

  it('a success gives the /48 back its attempt, as the address’s', async () => {
    const throttle = app().app.get(LoginThrottleService);
    for (let i = 0; i < 10; i++) {
      const keys = throttle.keysFor('ward.net.ok', `2001:db8:88:${i}::1`);
      expect((await throttle.begin(keys)).seconds).toBe(0);
      await throttle.recordSuccess(keys);
    }
  });
});

describe('per-IP throttling of two-step sign-ins', () => {
  const app = appOfDescribe({ HAVEN_LOGIN_IP_MAX_FAILURES: '3' });

  it('the first step of two-factor sign-ins (the right password, no code) does not lock the address', async () => {
    const t = app();
    const http = () => request(t.app.getHttpServer());
    const staff: Awaited<ReturnType<typeof givenSignedInWithTotp>>[] = [];
    for (let i = 0; i < 5; i++) staff.push(await givenSignedInWithTotp(t, { role: 'supervisor' }));
    // Five colleagues behind one address, each asked for the code first, then signing in with it.
    for (const { user, secret } of staff) {
      const first = await http()
        .post('/api/v1/auth/login')
        .send({ username: user.username, password: user.password })
        .expect(401);
      expect(first.body.code).toBe('auth.totp_required');
      await http()
        .post('/api/v1/auth/login')
        .send({ username: user.username, password: user.password, totp: await codeFor(secret) })
        .expect(200);
    }
    // Wrong passwords still count: the address locks at its limit.
    for (const { user } of staff.slice(0, 3)) {
      await http()
        .post('/api/v1/auth/login')
        .send({ username: user.username, password: 'guess-1' })
        .expect(401);
    }
    await http()
      .post('/api/v1/auth/login')
      .send({ username: staff[4].user.username, password: staff[4].user.password })
      .expect(429);
  });
});

describe('per-IP throttling', () => {
  const app = appOfDescribe({ HAVEN_LOGIN_IP_MAX_FAILURES: '3' });

  it('locks the client IP after failures spread over many usernames', async () => {
    const t = app();
    await givenUser(t, { role: 'ward_officer', username: 'ward.ip' });
    const http = () => request(t.app.getHttpServer());
    for (const u of ['spray.one', 'spray.two', 'spray.three']) {
      await http().post('/api/v1/auth/login').send({ username: u, password: 'guess-password-1' }).expect(401);
    }
    await http()
      .post('/api/v1/auth/login')
      .send({ username: 'ward.ip', password: TEST_PASSWORD })
      .expect(429);
    // Other usernames from the locked address: refused, and not on the access log again.
    for (const u of ['spray.four', 'spray.five', 'ward.ip']) {
      await http().post('/api/v1/auth/login').send({ username: u, password: 'guess-password-2' }).expect(429);
    }
    const throttled = await t.app
      .get(DataSource)
      .query(`SELECT 1 FROM audit_events WHERE reason = 'auth.throttled'`);
    expect(throttled).toHaveLength(1);
  });
});
