import { Body, Controller, Get, Module, Post, Query, Res } from '@nestjs/common';
import type { Response } from 'express';
import { Type } from 'class-transformer';
import { getMetadataStorage, IsIn, IsInt, IsString, MaxLength, ValidateNested } from 'class-validator';
import type { AddressInfo } from 'node:net';
import { request as httpRequest } from 'node:http';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { Public } from '../src/authz/policy.decorator';
import { hasOwnMessage } from '../src/common/errors/validation-errors';
import { startTestApp, TestApp } from './support/app';
import { gate } from './support/gate';
import { waitFor } from './support/wait';

class ProbeNested {
  @IsString() @MaxLength(30) fullName!: string;
}
class ProbeDto {
  @IsIn(['low', 'high']) level!: string;
  @IsInt() count!: number;
  @ValidateNested() @Type(() => ProbeNested) survivor!: ProbeNested;
}

/**
 * GET /probe/slow's call: a gate (`hit` once it is in its handler, which answers when the test calls `release`),
 * and `answered` once it has written its answer.
 */
function slowCall() {
  const g = gate();
  let answered!: () => void;
  const call = { ...g, answered: new Promise<void>((r) => (answered = r)) };
  slowCalls.push({ reached: g.reached, released: g.released, answered });
  return call;
}
const slowCalls: { reached: () => void; released: Promise<void>; answered: () => void }[] = [];

// A test-only controller to drive the global pipes and filters (public: no sign-in needed).
@Public()
@Controller('probe')
class ProbeController {
  constructor(private readonly db: DataSource) {}

  /** A statement PostgreSQL refuses as one of two deadlocked transactions is refused (SQLSTATE 40P01). */
  @Get('deadlock')
  async deadlock(): Promise<never> {
    await this.db.query(`DO $$ BEGIN RAISE EXCEPTION 'deadlock (simulated)' USING ERRCODE = '40P01'; END $$`);
    throw new Error('unreachable');
  }

  @Post()
  echo(@Body() dto: ProbeDto): { ok: true; level: string } {
    return { ok: true, level: dto.level };
  }

  @Get('slow')
  async slow(@Res() res: Response): Promise<void> {
    const call = slowCalls.shift()!;
    call.reached();
    await call.released;
    res.json({ ok: true });
    call.answered();
  }

  @Get('boom')
  boom(@Query('name') _name?: string): never {
    const e = new Error('relation "secret_table" does not exist: SELECT * FROM secret_table WHERE x = 1');
    throw e;
  }
}
@Module({ controllers: [ProbeController] })
class ProbeModule {}

const PROBLEM = /^application\/problem\+json/;

describe('application (end to end)', () => {
  let t: TestApp;
  const http = () => request(t.app.getHttpServer());

  beforeAll(async () => {
    t = await startTestApp({}, [ProbeModule]);
  });
  afterAll(async () => {
    await t.close();
  });

  it('GET /health checks the database', async () => {
    const res = await http().get('/health').expect(200);
    expect(res.body).toEqual({ status: 'ok' });
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('keeps a caller’s X-Request-Id only when it looks machine-made (a UUID, 16–64 hex digits): never words', async () => {
    const idOf = async (given: string) =>
      (await http().get('/health').set('X-Request-Id', given).expect(200)).headers['x-request-id'];
    for (const kept of ['3f2c8a1e-5b7d-4e29-9c41-0a6b2d8e7f13', '0123456789abcdef', 'C0FFEE'.repeat(4)]) {
      expect(await idOf(kept)).toBe(kept);
    }
    // A name, a phone number, a case number, words: replaced by a UUID of the service's own.
    for (const refused of [
      'nguyenthihoa-0987654321',
      '0987654321',
      '098765432117640000000', // a phone number and a timestamp: digits are hex, but a number alone is refused
      'HN-2026-000123',
      'e2e-audit-read-0001',
    ]) {
      expect(await idOf(refused)).toMatch(
        /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
      );
    }
    expect(await idOf('a'.repeat(65))).not.toBe('a'.repeat(65));
  });

  it('GET /docs-json is an OpenAPI 3 document generated from the code', async () => {
    const res = await http().get('/docs-json').expect(200);
    expect(res.body.openapi).toMatch(/^3\./);
    expect(Object.keys(res.body.paths)).toEqual(expect.arrayContaining(['/health', '/api/v1/probe']));
    expect(res.body.components.schemas.Problem).toBeDefined();
  });

  it('GET /docs serves Swagger UI', async () => {
    const res = await http().get('/docs').redirects(1).expect(200);
    expect(res.text).toContain('swagger-ui');
  });

  it('unknown routes are 404 problems, inside and outside the API prefix, without echoing the path', async () => {
    for (const path of ['/no-such-page?name=Nguyen', '/api/v1/no-such-route?name=Nguyen']) {
      const res = await http().get(path).expect(404);
      expect(res.headers['content-type']).toMatch(PROBLEM);
      expect(res.body).toMatchObject({
        status: 404,
        code: 'route.not_found',
        type: 'urn:haven:problem:route.not_found',
      });
      expect(JSON.stringify(res.body)).not.toContain('Nguyen');
      expect(res.body.requestId).toBe(res.headers['x-request-id']);
    }
  });

  it('malformed JSON is a 400 problem', async () => {
    const res = await http()
      .post('/api/v1/probe')
      .set('Content-Type', 'application/json')
      .send('{"level": ')
      .expect(400);
    expect(res.headers['content-type']).toMatch(PROBLEM);
    expect(res.body.code).toBe('request.malformed_json');
  });

  it('a body over the documented limit is a 413 problem', async () => {
    const huge = JSON.stringify({
      level: 'low',
      count: 1,
      survivor: { fullName: 'x'.repeat(t.config.bodyLimitBytes) },
    });
    const res = await http()
      .post('/api/v1/probe')
      .set('Content-Type', 'application/json')
      .send(huge)
      .expect(413);
    expect(res.headers['content-type']).toBe('application/problem+json; charset=utf-8');
    expect(res.body.code).toBe('request.too_large');
    // Whatever the method: a GET sent with such a body too (the OpenAPI document lists 413 on every operation).
    const get = await http()
      .get('/api/v1/cases')
      .set('Content-Type', 'application/json')
      .send(huge)
      .expect(413);
    expect(get.body.code).toBe('request.too_large');
  });

  it('a non-JSON body is a 415 problem', async () => {
    const res = await http()
      .post('/api/v1/probe')
      .set('Content-Type', 'text/plain')
      .send('level=low')
      .expect(415);
    expect(res.body.code).toBe('request.unsupported_media_type');
  });

  it('an unknown charset or content encoding is a 415 problem, not a 500 (the body parser’s refusals)', async () => {
    const charset = await http()
      .post('/api/v1/probe')
      .set('Content-Type', 'application/json; charset=latin1')
      .send('{"level":"low"}')
      .expect(415);
    expect(charset.body.code).toBe('request.unsupported_media_type');
    const encoding = await http()
      .post('/api/v1/probe')
      .set('Content-Type', 'application/json')
      .set('Content-Encoding', 'foo')
      .send('{"level":"low"}')
      .expect(415);
    expect(encoding.body.code).toBe('request.unsupported_media_type');
  });

  it('a body that is not what its Content-Encoding says is a 400 problem, not a 500', async () => {
    const res = await http()
      .post('/api/v1/probe')
      .set('Content-Type', 'application/json')
      .set('Content-Encoding', 'gzip')
      .send('{"level":"low"} is not gzip')
      .expect(400);
    expect(res.headers['content-type']).toMatch(PROBLEM);
    expect(res.body.code).toBe('request.validation');
  });

  it('a deadlock or another passing contention is a 503 problem to try again, not a 500', async () => {
    const res = await http().get('/api/v1/probe/deadlock').expect(503);
    expect(res.headers['content-type']).toMatch(PROBLEM);
    expect(res.headers['retry-after']).toBe('1');
    expect(res.body).toMatchObject({
      code: 'service.unavailable',
      detail: expect.stringMatching(/try again/),
    });
    expect(JSON.stringify(res.body)).not.toMatch(/simulated|40P01/);
  });

  it('sends no ETag: a hash of a response’s content (a case’s) is not for caches to keep', async () => {
    const res = await http().get('/health').expect(200);
    expect(res.headers.etag).toBeUndefined();
  });

  it('an unknown key that is no name (a person’s, keyed by a buggy client) is not echoed back', async () => {
    const res = await http()
      .post('/api/v1/probe')
      .send({ level: 'low', 'Nguyễn Thị Lan 0912345678': 'x', survivor: { 'Lan 0912': 'x' } })
      .expect(400);
    const fields = (res.body.errors as { field: string; code: string }[]).map((e) => `${e.field}:${e.code}`);
    expect(fields).toEqual(expect.arrayContaining(['?:whitelistValidation']));
    expect(JSON.stringify(res.body)).not.toMatch(/Lan|0912/);
  });

  it('validation rejects unknown and invalid fields with errors[] naming each field, never echoing values', async () => {
    const res = await http()
      .post('/api/v1/probe')
      .send({
        level: 'MARKER-LEVEL',
        count: 'MARKER-COUNT',
        survivor: { fullName: 'MARKER-NAME-IS-FAR-TOO-LONG-FOR-IT' },
        extra: 'MARKER-EXTRA',
        pageSize: 'MARKER-MISPLACED',
      })
      .expect(400);
    expect(res.headers['content-type']).toMatch(PROBLEM);
    expect(res.body).toMatchObject({
      status: 400,
      code: 'request.validation',
      title: 'The request is not valid',
    });
    const fields = (res.body.errors as { field: string; code: string; message: string }[]).map(
      (e) => `${e.field}:${e.code}`,
    );
    expect(fields).toEqual(
      expect.arrayContaining([
        'level:isIn',
        'count:isInt',
        'survivor.fullName:maxLength',
        // A key no DTO of the API declares is not echoed (it could be a person's name); one declared elsewhere is.
        '?:whitelistValidation',
        'pageSize:whitelistValidation',
      ]),
    );
    expect(JSON.stringify(res.body)).not.toMatch(/MARKER/);
  });

  it('lists 50 field errors at most, and counts the others: a body of many unknown keys is not answered with megabytes', async () => {
    const body: Record<string, unknown> = { level: 'low', count: 1 };
    for (let i = 0; i < 1_500; i++) body[`k${i}`] = 0;
    const res = await http().post('/api/v1/probe').send(body).expect(400);
    expect(res.body.errors).toHaveLength(50);
    expect(res.body.errorsOmitted).toBe(1_450);
    expect(res.body.detail).toMatch(/first 50 .*errorsOmitted/);
    const vi = await http().post('/api/v1/probe').set('Accept-Language', 'vi').send(body).expect(400);
    expect(vi.body.detail).toMatch(/50 trường đầu tiên/);
    // Fifty or fewer: all of them, and no count.
    const few = await http().post('/api/v1/probe').send({ level: 'low', count: 1, k1: 0, k2: 0 }).expect(400);
    expect(few.body.errors).toHaveLength(2);
    expect(few.body).not.toHaveProperty('errorsOmitted');
  });

  it('a refusal that names no field says what is wrong with the request, not to see errors[]', async () => {
    const res = await http().post('/api/v1/auth/login').send([1, 2]).expect(400);
    expect(res.body).toMatchObject({ code: 'request.validation' });
    expect(res.body).not.toHaveProperty('errors');
    expect(res.body.detail).toMatch(/JSON object/);
    const vi = await http().post('/api/v1/auth/login').set('Accept-Language', 'vi').send([1]).expect(400);
    expect(vi.body.detail).toMatch(/đối tượng JSON/);
  });

  it('every constraint of every request body has a message of its own, in both languages', () => {
    // class-validator's registry holds the constraints of every DTO class the app has loaded.
    const registry = getMetadataStorage() as unknown as {
      validationMetadatas: Map<unknown, { name?: string; type: string }[]>;
    };
    const codes = new Set<string>();
    for (const metas of registry.validationMetadatas.values())
      for (const m of metas) if (m.type !== 'conditionalValidation') codes.add(m.name ?? m.type);
    expect(codes.size).toBeGreaterThan(10);
    expect([...codes].filter((code) => !hasOwnMessage(code))).toEqual([]);
  });

  it('a valid body passes the global pipe', async () => {
    const res = await http()
      .post('/api/v1/probe')
      .send({ level: 'low', count: 2, survivor: { fullName: 'An' } })
      .expect(201);
    expect(res.body).toEqual({ ok: true, level: 'low' });
  });

  it('problems are in Vietnamese when the client asks for it', async () => {
    const res = await http()
      .post('/api/v1/probe')
      .set('Accept-Language', 'vi-VN,vi;q=0.9,en;q=0.5')
      .send({})
      .expect(400);
    expect(res.headers['content-language']).toBe('vi');
    expect(res.body.title).toBe('Yêu cầu không hợp lệ');
    expect(res.body.errors[0].message).toMatch(/[ạảãáàâấầẩẫậăắằẳẵặ]|không|phải|là/);
  });

  it('an unexpected error is a 500 problem with the request id and no stack trace or SQL', async () => {
    const res = await http().get('/api/v1/probe/boom').set('X-Request-Id', 'b00f000000000001').expect(500);
    expect(res.headers['content-type']).toMatch(PROBLEM);
    expect(res.body).toMatchObject({ status: 500, code: 'internal', requestId: 'b00f000000000001' });
    const text = JSON.stringify(res.body);
    expect(text).not.toMatch(/secret_table|SELECT|at .*\.ts|stack/i);
  });

  /** The request log's line of one request (src/common/logging/http-logger.ts). */
  const requestLine = (requestId: string) =>
    t.logs
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.reqId === requestId && typeof l.responseTime === 'number');

  it('logs a failed request at error level, without its query string', async () => {
    await http().get('/api/v1/probe/boom?name=ZZQUERY').set('X-Request-Id', 'b00f000000000002').expect(500);
    expect(requestLine('b00f000000000002')).toMatchObject({
      level: 'error',
      msg: 'request failed',
      req: { id: 'b00f000000000002', method: 'GET', route: '/api/v1/probe/boom' },
      res: { statusCode: 500 },
    });
    expect(t.logs.join('')).not.toContain('ZZQUERY');
  });

  it('logs a request whose client went away before the response as aborted, once', async () => {
    const server = t.app.getHttpServer().listen(0);
    try {
      await new Promise((r) => server.once('listening', r));
      const { port } = server.address() as AddressInfo;
      const req = httpRequest({
        port,
        path: '/api/v1/probe/slow',
        headers: { 'X-Request-Id': 'ab0f000000000001' },
      });
      req.on('error', () => undefined);
      const call = slowCall();
      req.end();
      // Gone while the handler works (not before the server has read the request, on a stalled event loop).
      await call.hit;
      req.destroy();
      await waitFor(
        () => t.logs.some((l) => l.includes('ab0f000000000001') && l.includes('responseTime')),
        5_000,
      );
      // And not a second line when the handler answers, onto the connection already gone.
      call.release();
      await call.answered;
      await new Promise((r) => setImmediate(r));
    } finally {
      await new Promise((r) => server.close(r));
    }
    const lines = t.logs.filter((l) => l.includes('ab0f000000000001') && l.includes('responseTime'));
    expect(lines).toHaveLength(1);
    expect(requestLine('ab0f000000000001')).toMatchObject({
      level: 'info',
      msg: 'request aborted',
      aborted: true,
      req: { method: 'GET', route: '/api/v1/probe/slow' },
    });
  });

  it('logs are JSON with a request id, never the body, and redact sensitive headers', async () => {
    const marker = 'ZZMARKER-Thị-Hoa-0987654321';
    await http()
      .post('/api/v1/probe')
      .set('Authorization', 'Bearer ZZMARKER-token-0987654321')
      .set('X-Request-Id', 'c4ec000000000042')
      .send({ level: 'low', count: 1, survivor: { fullName: marker } })
      .expect(201);
    await http()
      .post('/api/v1/probe')
      .send({ level: marker, count: 1, survivor: { fullName: marker } })
      .expect(400);
    // A path as a client mistakenly sends it, with a name and a phone in it: to a route (as its id) and to none.
    const inPath = encodeURIComponent(marker);
    await http().get(`/api/v1/cases/${inPath}`).set('X-Request-Id', 'c4ec000000000043').expect(401);
    await http().get(`/api/v1/survivors/${inPath}`).set('X-Request-Id', 'c4ec000000000044').expect(404);
    const lines = t.logs.join('');
    expect(lines).not.toContain('ZZMARKER');
    expect(lines).not.toContain(inPath);
    const byId = (reqId: string) =>
      t.logs.map((l) => JSON.parse(l) as { reqId?: string; req?: unknown }).find((l) => l.reqId === reqId)
        ?.req;
    expect(byId('c4ec000000000043')).toMatchObject({ route: '/api/v1/cases/:id' });
    expect(byId('c4ec000000000044')).toMatchObject({ route: null });
    const entry = t.logs
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.reqId === 'c4ec000000000042');
    expect(entry).toMatchObject({
      level: 'info',
      msg: 'request completed',
      req: { method: 'POST', route: '/api/v1/probe' },
      res: { statusCode: 201 },
    });
    expect(entry).not.toHaveProperty('aborted');
    expect(typeof entry?.responseTime).toBe('number');
  });
});

describe('HTTP hardening', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ HAVEN_CORS_ORIGINS: 'https://haven.example.vn' }, [ProbeModule]);
  });
  afterAll(async () => {
    await t.close();
  });

  it('sends security headers and no framework banner', async () => {
    const res = await request(t.app.getHttpServer()).get('/health').expect(200);
    expect(res.headers['x-powered-by']).toBeUndefined();
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['strict-transport-security']).toMatch(/max-age=/);
    expect(res.headers['content-security-policy']).toBe("default-src 'none';frame-ancestors 'none'");
    // Only the API's documentation page runs scripts (Swagger UI's own, inline ones included).
    const docs = await request(t.app.getHttpServer()).get('/docs/').expect(200);
    expect(docs.headers['content-security-policy']).toContain("script-src 'self' 'unsafe-inline'");
    expect(docs.headers['content-security-policy']).toContain("frame-ancestors 'none'");
  });

  it('forbids caching of every answer: data, problems and errors raised before routing', async () => {
    const server = t.app.getHttpServer();
    const answers = [
      await request(server).get('/health').expect(200),
      await request(server).get('/api/v1/no-such-route').expect(404),
      await request(server).get('/api/v1/cases').expect(401),
      await request(server)
        .post('/api/v1/probe')
        .set('Content-Type', 'application/json')
        .send('{')
        .expect(400),
    ];
    for (const res of answers) expect(res.headers['cache-control']).toBe('no-store');
  });

  it('allows cross-origin calls from the configured origins only', async () => {
    const ok = await request(t.app.getHttpServer()).get('/health').set('Origin', 'https://haven.example.vn');
    expect(ok.headers['access-control-allow-origin']).toBe('https://haven.example.vn');
    // A browser client may read when to try again and the request's id.
    expect(ok.headers['access-control-expose-headers']).toBe(
      'Retry-After,X-Request-Id,WWW-Authenticate,Content-Disposition',
    );
    const other = await request(t.app.getHttpServer()).get('/health').set('Origin', 'https://evil.example');
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('refuses a body nested deeper than the limit with a 400 problem', async () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 40; i++) deep = { a: deep };
    const res = await request(t.app.getHttpServer())
      .post('/api/v1/probe')
      .send({ level: 'low', count: 1, deep })
      .expect(400);
    expect(res.body.code).toBe('request.validation');
    expect(res.body.detail).toMatch(/nested deeper/);
  });

  it('refuses a body with a __proto__, constructor or prototype key as an unknown field (400), not dropped', async () => {
    for (const key of ['__proto__', 'constructor', 'prototype']) {
      const res = await request(t.app.getHttpServer())
        .post('/api/v1/probe')
        .set('Content-Type', 'application/json')
        .send(`{"level":"low","count":1,"${key}":{"a":1}}`)
        .expect(400);
      expect(res.body.code).toBe('request.validation');
      expect(res.body.detail).toMatch(/key no field has/);
    }
    // In a query string it is a parameter like another, for the route to take or refuse (not "the JSON body"):
    // /health takes none.
    const query = await request(t.app.getHttpServer()).get('/health?constructor=1').expect(400);
    expect(query.body.detail).toMatch(/takes no query parameters/);
  });

  it('refuses a body of more values than the limit with a 400 problem, before validation', async () => {
    const res = await request(t.app.getHttpServer())
      .post('/api/v1/probe')
      .send({ level: 'low', count: 1, deep: new Array(50_000).fill({}) })
      .expect(400);
    expect(res.body.code).toBe('request.validation');
    expect(res.body.detail).toMatch(/more than 2000 values/);
    expect(res.body.errors).toBeUndefined();
  });
});
