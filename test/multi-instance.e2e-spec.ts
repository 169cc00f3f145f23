import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { Client } from 'pg';
import { caseBody } from './support/casework';
import { createTestDatabase, TestDatabase } from './support/database';
import { freePort, launch, Running, waitForHealth } from './support/process';

// Two real service processes (the built dist/src/main.js) on ONE database, as behind a load balancer
// (docs/deployment.md): same master key, separate data directories. Requests alternate between them and run
// concurrently; the database and the access log must come out as if there were one instance.

const AUDIT_VERIFY_CLI = join(__dirname, '..', 'dist', 'src', 'cli', 'audit-verify.js');
const PASSWORD = 'multi-instance-demo-password';
const POLICE = 'Công an phường Long Biên';
const CASES = 8;
const ACCEPTS_PER_REFERRAL = 8;

type Name = 'a' | 'b';

interface Instance {
  name: Name;
  port: number;
  dataDir: string;
  run: Running;
}

interface Reply {
  instance: Name;
  requestId: string;
  status: number;
  body: any;
}

/** A request the test made, and the access-log entries ("action/outcome") it must have left, in any order. */
interface Sent {
  requestId: string;
  expectAudit: string[];
}

describe('two service instances on one database', () => {
  jest.setTimeout(60000);

  // Generated for this run only (never stored): both instances must share it.
  const masterKey = randomBytes(32).toString('base64');
  let db: TestDatabase;
  let owner: Client;
  const inst: Partial<Record<Name, Instance>> = {};
  const sent: Sent[] = [];
  let counter = 0;
  const tokens: Record<string, Record<Name, string>> = {};
  let police = '';
  let policeUserId = '';
  const cases: { id: string; code: string; fullName: string }[] = [];
  const referrals: string[] = [];
  let caseReadsOk = 0;

  const at = (i: number): Instance => (i % 2 === 0 ? inst.a! : inst.b!);

  async function start(name: Name): Promise<Instance> {
    const dataDir = await mkdtemp(join(process.env.HAVEN_TEST_ROOT!, `multi-${name}-`));
    const port = await freePort();
    const run = launch({
      DATABASE_URL: db.url,
      DATABASE_APP_URL: db.appUrl,
      HAVEN_DEMO: '1',
      HAVEN_DEMO_PASSWORD: PASSWORD,
      HAVEN_MASTER_KEY: masterKey,
      HAVEN_DATA_DIR: dataDir,
      HAVEN_DB_POOL_SIZE: '10',
      // Both instances issue checkpoints on their own timers while the load runs.
      HAVEN_AUDIT_CHECKPOINT_INTERVAL_SECONDS: '1',
      PORT: String(port),
    });
    const instance = { name, port, dataDir, run };
    inst[name] = instance;
    await waitForHealth(port, run);
    return instance;
  }

  /** One HTTP request to one instance, tagged with a request id that the access log keeps. */
  async function call(
    i: Instance,
    method: string,
    path: string,
    opts: { token?: string; body?: unknown; audit?: (status: number) => string[] } = {},
  ): Promise<Reply> {
    const requestId = `${i.name}ced${String(++counter).padStart(13, '0')}`;
    const headers: Record<string, string> = { 'x-request-id': requestId };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`http://127.0.0.1:${i.port}${path}`, {
      method,
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    });
    const text = await res.text();
    if (res.status >= 500) {
      // No test here expects a 5xx: show the instance's error lines, so that a failure says why.
      const errors = i.run
        .output()
        .split('\n')
        .filter((l) => /"level":"(error|fatal)"/.test(l) || l.includes(requestId));
      process.stderr.write(
        `${method} ${path} (${requestId}) answered ${res.status} on ${i.name}:\n${errors.join('\n')}\n`,
      );
    }
    expect(res.headers.get('x-request-id')).toBe(requestId);
    const reply: Reply = {
      instance: i.name,
      requestId,
      status: res.status,
      body: text ? (JSON.parse(text) as unknown) : null,
    };
    sent.push({ requestId, expectAudit: opts.audit ? opts.audit(res.status) : [] });
    return reply;
  }

  const outcome = (status: number): string => (status < 400 ? 'allowed' : 'denied');
  const logged =
    (action: string) =>
    (status: number): string[] => [`${action}/${outcome(status)}`];

  function signIn(i: Instance, username: string, password = PASSWORD): Promise<Reply> {
    return call(i, 'POST', '/api/v1/auth/login', {
      body: { username, password },
      audit: (s) => [s === 200 ? 'auth.login/allowed' : 'auth.login_failed/denied'],
    });
  }

  async function verifyCli(dataDir: string, key = masterKey, args: string[] = []) {
    const run = launch(
      { DATABASE_URL: db.url, HAVEN_MASTER_KEY: key, HAVEN_DATA_DIR: dataDir, LOG_LEVEL: 'warn' },
      AUDIT_VERIFY_CLI,
      args,
    );
    const code = await run.exited;
    const line = run
      .output()
      .split('\n')
      .find((l) => l.startsWith('{'));
    if (!line) throw new Error(`audit:verify printed no result (exit ${code}):\n${run.output()}`);
    return {
      code,
      result: JSON.parse(line) as {
        ok: boolean;
        checked: number;
        lastSeq: number;
        workers: number;
        problem?: string;
        checkpoint: { seq: number; sources: string[] } | null;
      },
    };
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    owner = new Client({ connectionString: db.url });
    await owner.connect();
  });

  afterAll(async () => {
    for (const i of Object.values(inst)) {
      if (i.run.child.exitCode === null && i.run.child.signalCode === null) {
        i.run.child.kill('SIGTERM');
        await i.run.exited;
      }
    }
    await owner?.end();
    await db?.drop();
  });

  it('starts two instances on one database, one after the other; the demo data is seeded once', async () => {
    const a = await start('a');
    expect(a.run.output()).toContain('demo data seeded');
    const b = await start('b');
    expect(b.run.output()).not.toContain('demo data seeded');
    expect(b.run.output()).not.toMatch(/"level":"(error|fatal)"/); // no error or fatal line

    const { rows } = await owner.query<{ users: number; seeds: number }>(
      `SELECT (SELECT count(*)::int FROM users) AS users, (SELECT count(*)::int FROM demo_seed_runs) AS seeds`,
    );
    expect(rows[0]).toEqual({ users: 8, seeds: 3 });
  });

  it('signs in on both instances at once; a token from one works on the other, and so does a sign-out', async () => {
    const users = ['ward.longbien', 'police.longbien', 'supervisor.hanoi'];
    const replies = await Promise.all(users.flatMap((u) => [signIn(inst.a!, u), signIn(inst.b!, u)]));
    for (const r of replies) expect(r.status).toBe(200);
    users.forEach((u, k) => {
      tokens[u] = { a: replies[2 * k].body.accessToken, b: replies[2 * k + 1].body.accessToken };
    });

    // Each token is accepted by the instance that did not issue it: the signing key comes from the shared
    // master key, the session check from the shared database.
    const me = await Promise.all(
      users.flatMap((u) =>
        (['a', 'b'] as const).map((n) =>
          call(n === 'a' ? inst.b! : inst.a!, 'GET', '/api/v1/auth/me', { token: tokens[u][n] }),
        ),
      ),
    );
    me.forEach((r, k) => {
      expect(r.status).toBe(200);
      expect(r.body.username).toBe(users[Math.floor(k / 2)]);
    });
    policeUserId = me[2].body.id;

    // Signed out on B, refused on A (revoked tokens live in the database).
    const extra = (await signIn(inst.a!, 'ward.longbien')).body.accessToken as string;
    const meOn = async (i: Instance, audit?: (status: number) => string[]) =>
      (await call(i, 'GET', '/api/v1/auth/me', { token: extra, audit })).status;
    expect(await meOn(inst.a!)).toBe(200);
    expect(
      (await call(inst.b!, 'POST', '/api/v1/auth/logout', { token: extra, audit: logged('auth.logout') }))
        .status,
    ).toBe(204);
    // The signed-out token, used again on A, is on the log (auth.session_refused).
    expect(await meOn(inst.a!, logged('auth.session_refused'))).toBe(401);

    const orgs = await call(inst.a!, 'GET', '/api/v1/organizations', { token: tokens['ward.longbien'].a });
    expect(orgs.status).toBe(200);
    police = (orgs.body.items as { id: string; name: string }[]).find((o) => o.name === POLICE)!.id;
    expect(police).toBeDefined();
  });

  it('locks an account whose failed sign-ins were spread over both instances (the throttle is shared)', async () => {
    const failures = await Promise.all(
      Array.from({ length: 5 }, (_, k) => signIn(at(k), 'social.hanoi', 'wrong-password-123')),
    );
    for (const r of failures) expect(r.status).toBe(401);
    const locked = await Promise.all([signIn(inst.a!, 'social.hanoi'), signIn(inst.b!, 'social.hanoi')]);
    for (const r of locked) {
      expect(r.status).toBe(429);
      expect(r.body.code).toBe('auth.throttled');
    }
  });

  it('creates cases on both instances at once: every code unique, the sequence without gaps', async () => {
    const bodies = Array.from({ length: CASES }, () => caseBody());
    const created = await Promise.all(
      bodies.map((body, k) =>
        call(at(k), 'POST', '/api/v1/cases', {
          token: tokens['ward.longbien'][at(k + 1).name], // a token issued by the other instance
          body,
          audit: logged('case.create'),
        }),
      ),
    );
    for (const r of created) expect(r.status).toBe(201);
    for (const [k, r] of created.entries()) {
      const { fullName } = bodies[k].survivor as { fullName: string };
      cases.push({ id: r.body.id, code: r.body.code, fullName });
    }
    expect(cases.map((c) => c.code).sort()).toEqual(
      Array.from({ length: CASES }, (_, k) => `HV01-2026-${String(k + 1).padStart(6, '0')}`),
    );
    const { rows } = await owner.query<{ last_value: number }>(
      `SELECT last_value FROM case_sequences WHERE province_code = '01' AND year = 2026`,
    );
    expect(rows).toEqual([{ last_value: CASES }]);
  });

  it('reads every case on both instances (sealed on one, opened on the other) and lists them on both', async () => {
    const reads = await Promise.all(
      cases.flatMap((c) =>
        (['a', 'b'] as const).map((n) =>
          call(inst[n]!, 'GET', `/api/v1/cases/${c.id}`, {
            token: tokens['ward.longbien'][n],
            audit: logged('case.read'),
          }),
        ),
      ),
    );
    reads.forEach((r, k) => {
      const c = cases[Math.floor(k / 2)];
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ id: c.id, code: c.code, survivor: { fullName: c.fullName } });
    });
    caseReadsOk += reads.filter((r) => r.status === 200).length;

    const lists = await Promise.all(
      (['a', 'b'] as const).map((n) =>
        call(inst[n]!, 'GET', '/api/v1/cases?pageSize=100', {
          token: tokens['ward.longbien'].a,
          audit: logged('case.list'),
        }),
      ),
    );
    for (const l of lists) {
      expect(l.status).toBe(200);
      expect(l.body.total).toBe(CASES);
      expect((l.body.items as { id: string }[]).map((i) => i.id).sort()).toEqual(
        cases.map((c) => c.id).sort(),
      );
    }
  });

  it('records consents and referrals to the police on both instances', async () => {
    const made = await Promise.all(
      cases.map(async (c, k) => {
        const consent = await call(at(k), 'POST', `/api/v1/cases/${c.id}/consents`, {
          token: tokens['ward.longbien'][at(k).name],
          body: { organizationId: police, categories: ['identity'], givenBy: 'survivor' },
          audit: logged('consent.create'),
        });
        expect(consent.status).toBe(201);
        const referral = await call(at(k + 1), 'POST', `/api/v1/cases/${c.id}/referrals`, {
          token: tokens['ward.longbien'][at(k + 1).name],
          body: {
            organizationId: police,
            consentId: consent.body.id,
            services: ['police_protection'],
            urgency: 'urgent',
          },
          audit: logged('referral.create'),
        });
        expect(referral.status).toBe(201);
        expect(referral.body).toMatchObject({ status: 'pending', caseId: c.id, organizationId: police });
        return referral.body.id as string;
      }),
    );
    referrals.push(...made);

    for (const n of ['a', 'b'] as const) {
      const inbox = await call(inst[n]!, 'GET', '/api/v1/referrals?status=pending', {
        token: tokens['police.longbien'][n],
        audit: logged('referral.list'),
      });
      expect(inbox.status).toBe(200);
      expect((inbox.body.items as { id: string }[]).map((i) => i.id).sort()).toEqual([...referrals].sort());
    }
  });

  it('lets exactly one of many concurrent accepts win, whichever instance they reach', async () => {
    const races = await Promise.all(
      referrals.map((id) =>
        Promise.all(
          Array.from({ length: ACCEPTS_PER_REFERRAL }, (_, k) =>
            call(at(k), 'POST', `/api/v1/referrals/${id}/accept`, {
              token: tokens['police.longbien'][at(k + 1).name],
              audit: logged('referral.accept'),
            }),
          ),
        ),
      ),
    );
    const winners = new Map<string, Reply>();
    races.forEach((replies, k) => {
      const statuses = replies.map((r) => r.status).sort();
      expect(statuses).toEqual([200, ...Array<number>(ACCEPTS_PER_REFERRAL - 1).fill(409)]);
      for (const r of replies.filter((x) => x.status === 409)) expect(r.body.code).toBe('conflict.state');
      const won = replies.find((r) => r.status === 200)!;
      expect(won.body).toMatchObject({ id: referrals[k], status: 'accepted', version: 2 });
      winners.set(referrals[k], won);
    });

    // The same state through either instance, and in the rows.
    for (const id of referrals) {
      const views = await Promise.all(
        (['a', 'b'] as const).map((n) =>
          call(inst[n]!, 'GET', `/api/v1/referrals/${id}`, {
            token: tokens['police.longbien'][n],
            audit: logged('referral.read'),
          }),
        ),
      );
      for (const v of views) {
        expect(v.status).toBe(200);
        expect(v.body).toMatchObject({
          status: 'accepted',
          version: 2,
          acceptedAt: winners.get(id)!.body.acceptedAt,
        });
      }
    }
    const { rows } = await owner.query<{
      id: string;
      status: string;
      version: number;
      accepted_by: string;
      accepted_at: Date;
    }>(`SELECT id, status, version, accepted_by, accepted_at FROM referrals WHERE id = ANY($1::uuid[])`, [
      referrals,
    ]);
    expect(rows).toHaveLength(CASES);
    for (const r of rows) {
      expect(r).toMatchObject({ status: 'accepted', version: 2, accepted_by: policeUserId });
      expect(r.accepted_at.toISOString()).toBe(winners.get(r.id)!.body.acceptedAt);
    }
    // One allowed acceptance per referral in the log, written by the request that won; the others denied.
    const accepts = await owner.query<{ resource_id: string; outcome: string; request_id: string }>(
      `SELECT resource_id, outcome, request_id FROM audit_events WHERE action = 'referral.accept'`,
    );
    for (const id of referrals) {
      const mine = accepts.rows.filter((e) => e.resource_id === id);
      expect(mine.filter((e) => e.outcome === 'allowed').map((e) => e.request_id)).toEqual([
        winners.get(id)!.requestId,
      ]);
      expect(mine.filter((e) => e.outcome === 'denied')).toHaveLength(ACCEPTS_PER_REFERRAL - 1);
    }
  });

  it('keeps one intact access log that both instances wrote', async () => {
    const verifyOn = (n: Name) =>
      call(inst[n]!, 'GET', '/api/v1/audit/verify', {
        token: tokens['supervisor.hanoi'][n],
        audit: logged('audit.verify'),
      });
    const onA = await verifyOn('a');
    const onB = await verifyOn('b');
    for (const v of [onA, onB]) {
      expect(v.status).toBe(200);
      expect(v.body).toMatchObject({ ok: true });
      expect(v.body.checkpoint).not.toBeNull();
    }
    // B's check covers everything A's did, plus A's own audit.verify entry. (Not compared by lastSeq: each
    // instance draws seqs a few at a time, so across instances seq is only close to time order, docs/audit.md.)
    expect(onB.body.checked).toBeGreaterThan(onA.body.checked);

    // Every request of this test left exactly the entries it should have, on whichever instance it ran.
    const { rows } = await owner.query<{ request_id: string; action: string; outcome: string }>(
      `SELECT request_id, action, outcome FROM audit_events WHERE request_id ~ '^[ab]ced[0-9]{13}$'`,
    );
    const actual = new Map<string, string[]>();
    for (const r of rows)
      actual.set(r.request_id, [...(actual.get(r.request_id) ?? []), `${r.action}/${r.outcome}`]);
    const expected = new Map<string, string[]>();
    for (const s of sent) if (s.expectAudit.length) expected.set(s.requestId, s.expectAudit);
    const sortAll = (m: Map<string, string[]>) =>
      Object.fromEntries(
        [...m.entries()].map(([k, v]) => [k, [...v].sort()]).sort(([x], [y]) => (x < y ? -1 : 1)),
      );
    expect(sortAll(actual)).toEqual(sortAll(expected));
    expect(rows.some((r) => r.request_id.startsWith('aced'))).toBe(true);
    expect(rows.some((r) => r.request_id.startsWith('bced'))).toBe(true);

    const reads = await owner.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM audit_events WHERE action = 'case.read' AND outcome = 'allowed'`,
    );
    expect(reads.rows[0].n).toBe(caseReadsOk);
    const stripes = await owner.query<{ n: number }>(
      `SELECT count(DISTINCT stripe)::int AS n FROM audit_events`,
    );
    expect(stripes.rows[0].n).toBeGreaterThan(1);

    // Independently of both services: the CLI recomputes the chain against each instance's checkpoint file.
    const cliA = await verifyCli(inst.a!.dataDir);
    expect(cliA.code).toBe(0);
    expect(cliA.result).toMatchObject({ ok: true });
    expect(cliA.result.checked).toBeGreaterThan(onB.body.checked);
    expect(cliA.result.checkpoint).not.toBeNull();
    const cliB = await verifyCli(inst.a!.dataDir, masterKey, [
      '--checkpoints',
      join(inst.b!.dataDir, 'checkpoints', 'checkpoints.jsonl'),
    ]);
    expect(cliB.code).toBe(0);
    expect(cliB.result.ok).toBe(true);
    // Each instance's copy (repeatable), this host's file left out (a replica may be behind it).
    const copies = await verifyCli(inst.a!.dataDir, masterKey, [
      '--checkpoints',
      join(inst.b!.dataDir, 'checkpoints', 'checkpoints.jsonl'),
      '--checkpoints',
      join(inst.a!.dataDir, 'checkpoints', 'checkpoints.jsonl'),
      '--no-local-checkpoints',
    ]);
    expect(copies.code).toBe(0);
    expect(copies.result.ok).toBe(true);
    expect(copies.result.checkpoint?.sources).toEqual(expect.not.arrayContaining(['file']));
    expect(copies.result.checkpoint?.sources).toContain('offhost');
    // An off-host copy named but not there (a mount that failed, a mistyped path), or empty: an error (2), not
    // an "ok" from the database's own checkpoints alone.
    const empty = join(inst.a!.dataDir, 'empty-checkpoints.jsonl');
    writeFileSync(empty, '');
    for (const path of [join(inst.a!.dataDir, 'no-such-copy.jsonl'), empty]) {
      const run = launch(
        {
          DATABASE_URL: db.url,
          HAVEN_MASTER_KEY: masterKey,
          HAVEN_DATA_DIR: inst.a!.dataDir,
          LOG_LEVEL: 'warn',
        },
        AUDIT_VERIFY_CLI,
        ['--checkpoints', path],
      );
      expect(await run.exited).toBe(2);
      expect(run.output()).toContain(`--checkpoints ${path}: no such file, or no checkpoint in it`);
      expect(run.output()).not.toMatch(/"ok":true/);
    }
    // The built worker threads (compiled JavaScript, as in production) give the same answer.
    const threads = await verifyCli(inst.a!.dataDir, masterKey, [
      '--workers',
      '2',
      '--min-entries-per-worker',
      '1',
    ]);
    expect(threads.code).toBe(0);
    expect(threads.result).toMatchObject({ ok: true, workers: 2 });
    expect(threads.result.checked).toBeGreaterThanOrEqual(cliA.result.checked);
    // The check is not vacuous: under another key the same log does not verify.
    const foreign = await verifyCli(inst.a!.dataDir, randomBytes(32).toString('base64'));
    expect(foreign.code).toBe(1);
    expect(foreign.result).toMatchObject({ ok: false, problem: 'entry_altered' });
  });

  it('stops both instances on SIGTERM (exit 0); their last checkpoints cover the whole log', async () => {
    const a = inst.a!;
    const b = inst.b!;
    a.run.child.kill('SIGTERM');
    b.run.child.kill('SIGTERM');
    expect(await Promise.all([a.run.exited, b.run.exited])).toEqual([0, 0]);
    for (const i of [a, b]) {
      expect(i.run.output()).toContain('stopped cleanly');
      expect(i.run.output()).not.toMatch(/"level":"(error|fatal)"/);
      const lines = readFileSync(join(i.dataDir, 'checkpoints', 'checkpoints.jsonl'), 'utf8')
        .trim()
        .split('\n');
      expect(lines.length).toBeGreaterThanOrEqual(2); // at start and at shutdown at least
    }
    const { rows } = await owner.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_checkpoints`);
    expect(rows[0].n).toBeGreaterThanOrEqual(4);
    const after = await verifyCli(b.dataDir);
    expect(after.code).toBe(0);
    expect(after.result.ok).toBe(true);
    expect(after.result.checkpoint?.seq).toBe(after.result.lastSeq);
  });
});
