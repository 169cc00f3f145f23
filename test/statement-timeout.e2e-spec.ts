import { Client } from 'pg';
import request from 'supertest';
import { DataSource } from 'typeorm';
import type { TestApp } from './support/app';
import { caseBody, signInAll, startDemoApp, Tokens } from './support/casework';
import { someoneWaitsForALock } from './support/wait';

/**
 * HAVEN_DB_STATEMENT_TIMEOUT_MS: no statement of the service's pool runs longer (a request holding a connection
 * for minutes would starve the others), and a request stopped so is told to ask for less, not to retry at once.
 */
describe('statement timeout (end to end)', () => {
  let t: TestApp;
  let tok: Tokens;
  const http = () => request(t.app.getHttpServer());

  beforeAll(async () => {
    t = await startDemoApp({ HAVEN_DB_STATEMENT_TIMEOUT_MS: '400' });
    tok = await signInAll(t, ['ward.longbien', 'supervisor.hanoi']);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('a statement past the timeout is stopped: 503, told to ask for less, nothing changed, the connection free again', async () => {
    const created = await http()
      .post('/api/v1/cases')
      .set('Authorization', `Bearer ${tok['ward.longbien']}`)
      .send(caseBody())
      .expect(201);
    const id = created.body.id as string;
    const holder = new Client({ connectionString: t.db.url });
    await holder.connect();
    try {
      // Someone else holds the case for longer than the timeout: the change waits on it, and is stopped.
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM cases WHERE id = $1 FOR UPDATE', [id]);
      const change = http()
        .patch(`/api/v1/cases/${id}`)
        .set('Authorization', `Bearer ${tok['ward.longbien']}`)
        .set('If-Match', '"1"')
        .send({ risk: { level: 'low' } }) // registered 'high' (caseBody)
        .then((r) => r);
      await someoneWaitsForALock(async (sql) => (await holder.query<{ n: number }>(sql)).rows);
      const stopped = await change;
      expect(stopped.status).toBe(503);
      expect(stopped.body.code).toBe('service.unavailable');
      expect(stopped.body.detail).toMatch(/took too long/);
      expect(Number(stopped.headers['retry-after'])).toBeGreaterThanOrEqual(30);
      await holder.query('COMMIT');
    } finally {
      await holder.end();
    }
    const [row] = await t.app
      .get(DataSource)
      .query<{ risk_level: string; version: number }[]>(
        `SELECT risk_level, version FROM cases WHERE id = $1`,
        [id],
      );
    expect(row).toEqual({ risk_level: 'high', version: 1 });
    // And no change on record for it.
    expect(
      await t.app
        .get(DataSource)
        .query(`SELECT outcome FROM audit_events WHERE case_id = $1 AND action = 'case.update'`, [id]),
    ).not.toContainEqual({ outcome: 'allowed' });
    // The pool goes on serving.
    await http()
      .get(`/api/v1/cases/${id}`)
      .set('Authorization', `Bearer ${tok['ward.longbien']}`)
      .expect(200);
  });

  it('the access-log verification reads the whole log, however long that takes: not cut by the timeout', async () => {
    const holder = new Client({ connectionString: t.db.url });
    await holder.connect();
    try {
      // The log held by someone else for longer than the timeout: the verification's read of it waits.
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE audit_events IN ACCESS EXCLUSIVE MODE');
      const verifying = http()
        .get('/api/v1/audit/verify')
        .set('Authorization', `Bearer ${tok['supervisor.hanoi']}`)
        .then((r) => r);
      await someoneWaitsForALock(async (sql) => (await holder.query<{ n: number }>(sql)).rows);
      await new Promise((r) => setTimeout(r, 1_000));
      await holder.query('COMMIT');
      const res = await verifying;
      expect(res.status).toBe(200);
      expect(res.body.ok).toBe(true);
    } finally {
      await holder.end();
    }
  });
});
