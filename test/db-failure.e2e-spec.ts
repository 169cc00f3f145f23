import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { NestExpressApplication } from '@nestjs/platform-express';
import request from 'supertest';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { createHavenApp } from '../src/app.factory';
import { createLogger } from '../src/common/logging/logger';
import { loadConfig } from '../src/config/config';
import { EmbeddedPostgres } from '../src/database/embedded-postgres';
import { caseBody, DEMO_PASSWORD } from './support/casework';
import { freePort } from './support/process';

/**
 * Issue 9, item 2: the database goes away under a running service and comes back. The app runs on an
 * embedded PostgreSQL of its own (not the shared test server) so that this file can stop and start it.
 */
describe('database failure and recovery (end to end)', () => {
  let root: string;
  let pg: EmbeddedPostgres;
  let app: NestExpressApplication;
  const logs: string[] = [];
  const tokens: Record<string, string> = {};
  let caseId: string;

  const http = () => request(app.getHttpServer());
  const as = (username: string) => ({ Authorization: `Bearer ${tokens[username]}` });

  beforeAll(async () => {
    root = await mkdtemp(join(process.env.HAVEN_TEST_ROOT ?? tmpdir(), 'db-failure-'));
    pg = new EmbeddedPostgres({
      clusterDir: join(root, 'postgres'),
      port: await freePort(),
      password: 'test-only-superuser',
      settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' },
    });
    await pg.start();
    await pg.createDatabaseIfMissing('haven');
    const url = pg.url('haven');
    const config = loadConfig({
      NODE_ENV: 'test',
      DATABASE_URL: url,
      HAVEN_DATA_DIR: join(root, 'data'),
      HAVEN_DB_POOL_SIZE: '5',
      HAVEN_DEMO: '1',
      HAVEN_DEMO_PASSWORD: DEMO_PASSWORD,
      LOG_LEVEL: 'info',
    });
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        logs.push(chunk.toString('utf8'));
        cb();
      },
    });
    app = await createHavenApp(config, createLogger(config.logLevel, sink), url);
    for (const username of ['ward.longbien', 'supervisor.hanoi']) {
      const res = await http()
        .post('/api/v1/auth/login')
        .send({ username, password: DEMO_PASSWORD })
        .expect(200);
      tokens[username] = res.body.accessToken as string;
    }
    caseId = (await http().post('/api/v1/cases').set(as('ward.longbien')).send(caseBody()).expect(201)).body
      .id as string;
  }, 120_000);

  afterAll(async () => {
    await app?.close();
    await pg?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  }, 60_000);

  const expectUnavailable = (res: request.Response): void => {
    expect(res.status).toBe(503);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({ status: 503, code: 'service.unavailable' });
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0); // when to try again, as documented
  };

  it('answers 503 problems quickly while PostgreSQL is down, and recovers without a restart', async () => {
    await http().get('/health').expect(200);
    await pg.stop();

    let started = Date.now();
    const probe = await http().get('/health');
    expectUnavailable(probe);
    expect(Date.now() - started).toBeLessThan(6000);
    // Logged as a refusal (a warning, the request's line too), with why the database did not answer, not as a
    // failure at error level with the refusal's own stack: a monitor probing every second must not bury errors.
    const lines = logs
      .map(
        (l) =>
          JSON.parse(l) as { level: string; msg: string; requestId?: string; reqId?: string; err?: object },
      )
      .filter((l) => l.requestId === probe.body.requestId || l.reqId === probe.body.requestId);
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      ['warn', 'request refused: service unavailable'],
      ['warn', 'request refused'],
    ]);
    expect(lines[0].err).toMatchObject({ code: 'ECONNREFUSED' });

    // Reads and writes under load: every one is a fast 503, none a 500 or a hang.
    started = Date.now();
    const during = await Promise.all([
      ...Array.from({ length: 8 }, () => http().get(`/api/v1/cases/${caseId}`).set(as('ward.longbien'))),
      ...Array.from({ length: 4 }, () =>
        http().post('/api/v1/cases').set(as('ward.longbien')).send(caseBody()),
      ),
      http().get('/api/v1/audit/verify').set(as('supervisor.hanoi')),
    ]);
    expect(Date.now() - started).toBeLessThan(12_000);
    for (const res of during) expectUnavailable(res);
    // Submitted values never reach the body.
    expect(JSON.stringify(during.map((r) => r.body))).not.toContain('Thử Nghiệm');

    await pg.start();

    // The pool reconnects by itself: no restart of the app.
    let health = await http().get('/health');
    for (let i = 0; i < 20 && health.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 250));
      health = await http().get('/health');
    }
    expect(health.status).toBe(200);
    expect(health.body).toEqual({ status: 'ok' });

    const read = await http().get(`/api/v1/cases/${caseId}`).set(as('ward.longbien')).expect(200);
    expect(read.body.id).toBe(caseId);
    const created = await http().post('/api/v1/cases').set(as('ward.longbien')).send(caseBody()).expect(201);

    // Nothing of the refused writes was kept: exactly the two cases answered 201, each with its data key.
    const ds = app.get(DataSource);
    const cases = await ds.query<{ id: string }[]>(`SELECT id FROM cases ORDER BY id`);
    expect(cases.map((c) => c.id).sort()).toEqual([caseId, created.body.id as string].sort());
    const keys = await ds.query<{ n: string }[]>(
      `SELECT count(*) AS n FROM data_keys WHERE owner_type = 'case'`,
    );
    expect(Number(keys[0].n)).toBe(2);

    const verify = await http().get('/api/v1/audit/verify').set(as('supervisor.hanoi')).expect(200);
    expect(verify.body).toMatchObject({ ok: true });
    expect(verify.body.firstBadSeq).toBeUndefined();
  }, 90_000);

  it('a database that takes no writes (a standby after a fail-over, or set read-only) is unhealthy: /health and requests answer 503 until it takes them again', async () => {
    const owner = new Client({ connectionString: pg.url('haven') });
    await owner.connect();
    // The owner's own session keeps writing, whatever the server's default says.
    await owner.query(`SET default_transaction_read_only = off`);
    const readOnly = async (on: boolean) => {
      await owner.query(
        on
          ? `ALTER SYSTEM SET default_transaction_read_only = on`
          : `ALTER SYSTEM RESET default_transaction_read_only`,
      );
      await owner.query(`SELECT pg_reload_conf()`);
    };
    const until = async (status: number) => {
      let res = await http().get('/health');
      for (let i = 0; i < 40 && res.status !== status; i++) {
        await new Promise((r) => setTimeout(r, 100));
        res = await http().get('/health');
      }
      return res;
    };
    try {
      await http().get('/health').expect(200);
      await readOnly(true);
      const health = await until(503);
      expectUnavailable(health);
      expect(health.body.detail).toMatch(/takes no writes/);
      const before = await owner.query<{ n: string }>(`SELECT count(*) AS n FROM cases`);
      expectUnavailable(await http().get(`/api/v1/cases/${caseId}`).set(as('ward.longbien')));
      expectUnavailable(await http().post('/api/v1/cases').set(as('ward.longbien')).send(caseBody()));
      expect((await owner.query<{ n: string }>(`SELECT count(*) AS n FROM cases`)).rows).toEqual(before.rows);
    } finally {
      await readOnly(false);
    }
    try {
      expect((await until(200)).body).toEqual({ status: 'ok' });
      await http().get(`/api/v1/cases/${caseId}`).set(as('ward.longbien')).expect(200);
    } finally {
      await owner.end();
    }
  }, 60_000);

  it('logged the outage without survivor data', () => {
    const text = logs.join('');
    expect(text).toContain('service.unavailable');
    expect(text).not.toContain('Thử Nghiệm');
  });
});
