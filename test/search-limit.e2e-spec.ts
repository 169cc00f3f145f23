import request from 'supertest';
import { DataSource } from 'typeorm';
import type { TestApp } from './support/app';
import { signInAll, startDemoApp } from './support/casework';

// Its own file: Passport strategies are process-wide, so two applications must not share a test file.
describe('case search rate limit', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startDemoApp({ HAVEN_SEARCH_PER_MINUTE: '2' });
  });
  afterAll(async () => {
    await t.close();
  });

  it('limits searches per account and minute with a 429 problem', async () => {
    const tokens = await signInAll(t, ['ward.longbien', 'ward.bode']);
    const search = (user: string) =>
      request(t.app.getHttpServer())
        .post('/api/v1/cases/search')
        .set('Authorization', `Bearer ${tokens[user]}`)
        .send({ fullName: 'ai do' });
    // Requests refused as invalid use up nothing.
    for (const body of [{}, { dateOfBirth: '1990-02-30' }]) {
      await request(t.app.getHttpServer())
        .post('/api/v1/cases/search')
        .set('Authorization', `Bearer ${tokens['ward.longbien']}`)
        .send(body)
        .expect(400);
    }
    await search('ward.longbien').expect(200);
    await search('ward.longbien').expect(200);
    const res = await search('ward.longbien').expect(429);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body.code).toBe('auth.throttled');
    // Until the oldest of the minute's searches leaves the window.
    const retryAfter = Number(res.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(50);
    expect(retryAfter).toBeLessThanOrEqual(60);
    // The refusal is on the access log, once while the account waits: the repeats would only say it again.
    await search('ward.longbien').expect(429);
    await search('ward.longbien').expect(429);
    const refused = await t.app
      .get(DataSource)
      .query(`SELECT outcome, reason FROM audit_events WHERE action = 'case.search' AND outcome = 'denied'`);
    expect(refused).toEqual([{ outcome: 'denied', reason: 'auth.throttled' }]);
    // Another account is not affected.
    await search('ward.bode').expect(200);
  });
});
