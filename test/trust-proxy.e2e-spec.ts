import request from 'supertest';
import { DataSource } from 'typeorm';
import { startTestApp, TestApp } from './support/app';

/**
 * Behind a load balancer named in HAVEN_TRUST_PROXY, the client is the address in X-Forwarded-For: the access
 * log records it, and the per-IP sign-in throttle counts each client apart instead of every client together.
 * (One app per test file: passport strategies are process-wide. The untrusted default is in auth.e2e-spec.ts.)
 */
describe('HAVEN_TRUST_PROXY (end to end)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ HAVEN_TRUST_PROXY: 'loopback', HAVEN_LOGIN_IP_MAX_FAILURES: '3' });
  });
  afterAll(async () => {
    await t.close();
  });

  const loginFrom = (forwardedFor: string, username: string) =>
    request(t.app.getHttpServer())
      .post('/api/v1/auth/login')
      .set('X-Forwarded-For', forwardedFor)
      .send({ username, password: 'wrong-password-proxy' });

  it('records the forwarded client address in the access log and the request log (the nearest address the proxy did not add)', async () => {
    const res = await loginFrom('198.51.100.99, 203.0.113.7', 'nobody.proxied').expect(401);
    const [row] = await t.app
      .get(DataSource)
      .query(`SELECT ip FROM audit_events WHERE action = 'auth.login_failed' ORDER BY seq DESC LIMIT 1`);
    expect(row.ip).toBe('203.0.113.7');
    // The request's line in the application log names the same client (it named the proxy before).
    const id = res.headers['x-request-id'];
    const line = t.logs
      .join('')
      .split('\n')
      .filter((l) => l.includes(id) && l.includes('"res"'))
      .map((l) => JSON.parse(l) as { req: { remoteAddress: string } })[0];
    expect(line.req.remoteAddress).toBe('203.0.113.7');
  });

  it('takes a forwarded address with a port as the address, and one that is no address as the proxy’s', async () => {
    const ipOf = async (forwardedFor: string) => {
      await loginFrom(forwardedFor, 'nobody.ported').expect(401);
      const [row] = await t.app
        .get(DataSource)
        .query(`SELECT ip FROM audit_events WHERE action = 'auth.login_failed' ORDER BY seq DESC LIMIT 1`);
      return row.ip as string;
    };
    expect(await ipOf('203.0.113.8:51234')).toBe('203.0.113.8');
    expect(await ipOf('[2001:db8::8]:443')).toBe('2001:db8::8');
    expect(await ipOf('not-an-address')).toMatch(/^(127\.0\.0\.1|::1|::ffff:127\.0\.0\.1)$/);
  });

  it('throttles sign-in per client behind the proxy, not for everyone at once', async () => {
    for (let i = 0; i < 3; i++) await loginFrom('192.0.2.10', `nobody.${i}`).expect(401);
    const locked = await loginFrom('192.0.2.10', 'nobody.again');
    expect(locked.status).toBe(429);
    // Another client through the same proxy is not locked out.
    await loginFrom('192.0.2.11', 'nobody.else').expect(401);
  });
});
