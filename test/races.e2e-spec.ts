import { randomUUID } from 'node:crypto';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Client } from 'pg';
import pino from 'pino';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { createHavenApp } from '../src/app.factory';
import { ChainStripes } from '../src/audit/audit-stripes';
import { AuditService } from '../src/audit/audit.service';
import { DataKeyService, FieldEncryptionService } from '../src/crypto';
import { PasswordHasher } from '../src/crypto/password-hasher';
import { ReauthenticationService } from '../src/identity/reauthentication.service';
import { CasesRepository } from '../src/cases/cases.repository';
import { ConsentExpiryService } from '../src/consents/consent-expiry.service';
import { OrganizationsRepository } from '../src/directory/organizations.repository';
import { OrganizationsService } from '../src/directory/organizations.service';
import { ReferralsRepository } from '../src/referrals/referrals.repository';
import type { TestApp } from './support/app';
import { held, releaseAllGates } from './support/gate';
import { someoneWaitsForALock } from './support/wait';
import {
  caseBody,
  DEMO_PASSWORD,
  giveConsent,
  organizationId,
  signInAll,
  startDemoApp,
  Tokens,
} from './support/casework';
import { givenOrganization, givenSignedIn, TEST_PASSWORD } from './support/identity';
import { withBearer } from './support/http';

/**
 * Two requests interleaved at the point where one of them used to decide on a row it had not locked: each test
 * holds the first request there, runs the other, and shows that the first no longer acts on what it read.
 */
describe('concurrent changes', () => {
  let t: TestApp;
  let tok: Tokens;
  let other: NestExpressApplication | undefined;
  const http = () => request(t.app.getHttpServer());
  const as = (token: string) => withBearer(t, token);
  /** Emergency access to `caseId` asked for with `token` (its holder's `password`) on `app`, this one by default. */
  const breakGlass = (token: string, caseId: string, password = DEMO_PASSWORD, app = t.app) =>
    request(app.getHttpServer())
      .post(`/api/v1/cases/${caseId}/break-glass`)
      .set('Authorization', `Bearer ${token}`)
      .send({ justification: 'Nạn nhân gọi cầu cứu ngay lúc này (giả định)', password });
  /** PATCH /organizations/:id as the (stepped-up) demo admin. */
  const changeOrganization = async (id: string, body: object) =>
    http()
      .patch(`/api/v1/organizations/${id}`)
      .set('Authorization', `Bearer ${tok.admin}`)
      .send(body)
      .expect(200);
  const sql = <T = Record<string, any>>(q: string, p: unknown[] = []): Promise<T[]> =>
    t.app.get(DataSource).query(q, p);
  const newCase = async () =>
    (await as(tok['ward.longbien']).post('/api/v1/cases', caseBody()).expect(201)).body.id as string;
  /** Until some statement of this database waits for a row lock (up to 5 s). */
  const someoneWaitsForALockHere = () => someoneWaitsForALock((q) => sql<{ n: number }>(q));

  /** ward.longbien refers case `caseId` to `organizationId` under `consentId`; the answer, whatever it is. */
  const refer = (caseId: string, organizationId: string, consentId: string) =>
    as(tok['ward.longbien'])
      .post(`/api/v1/cases/${caseId}/referrals`, {
        organizationId,
        consentId,
        services: ['police_protection'],
        urgency: 'urgent',
      })
      .then((r) => r);
  /** A new organisation of `sector` serving `communeCodes` (synthetic). */
  const organizationIn = (name: string, sector: 'police' | 'health' | 'social', communeCodes: string[]) =>
    givenOrganization(t, { name, sector, serviceArea: { communeCodes } });
  /** The same, with a provider of it signed in. */
  const providerIn = async (name: string, sector: 'police' | 'health' | 'social', communeCodes: string[]) => {
    const org = await organizationIn(name, sector, communeCodes);
    return { org, ...(await givenSignedIn(t, { role: 'provider', organizationId: org.id })) };
  };

  /**
   * An organisation's change of area, held after its new communes are written and before it commits (its row
   * lock held): `g.release()` lets it commit, `changing` is its answer.
   */
  const areaChangeHeld = async (orgId: string, communeCodes: string[]) => {
    const g = held(OrganizationsRepository.prototype, 'replaceCommunes');
    const changing = http()
      .patch(`/api/v1/organizations/${orgId}`)
      .set('Authorization', `Bearer ${tok.admin}`)
      .send({ serviceArea: { communeCodes } })
      .then((r) => r);
    await g.hit;
    return { g, changing };
  };

  beforeAll(async () => {
    t = await startDemoApp();
    tok = await signInAll(t, [
      'ward.longbien',
      'ward.bode',
      'supervisor.hanoi',
      'health.longbien',
      'police.longbien',
      'admin',
    ]);
  });
  afterAll(async () => {
    await other?.close();
    await t.close();
  });
  afterEach(() => {
    releaseAllGates();
    jest.restoreAllMocks();
  });

  /** A new case of ward.longbien with a survivor's consent to the police of Long Biên for an hour. */
  async function caseWithConsent(): Promise<{ police: string; caseId: string; consentId: string }> {
    const police = await organizationId(t, tok['ward.longbien'], 'Công an phường Long Biên');
    const caseId = await newCase();
    const consentId = await giveConsent(t, tok['ward.longbien'], caseId, {
      organizationId: police,
      categories: ['identity'],
      givenBy: 'survivor',
      expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    });
    return { police, caseId, consentId };
  }

  /**
   * Sends `send` while another transaction holds the row `lockSql` locks (as a case's close or another move
   * would hold it): `whileHeld` runs once the request waits for it, and the answer comes once the holder commits.
   */
  async function sentWhileHeld(
    lockSql: string,
    id: string,
    send: () => Promise<request.Response>,
    whileHeld: (holder: Client) => Promise<void>,
  ): Promise<request.Response> {
    const holder = new Client({ connectionString: t.db.url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query(lockSql, [id]);
      const answer = send();
      await someoneWaitsForALockHere();
      await whileHeld(holder);
      await holder.query('COMMIT');
      return await answer;
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      await holder.end();
    }
  }

  /** The database's clock, read on `holder` (when it lets go of what it holds, for a test that waits on it). */
  const clockOf = async (holder: Client): Promise<number> =>
    (await holder.query<{ at: Date }>('SELECT clock_timestamp() AS at')).rows[0].at.getTime();

  /**
   * Ends consent `consentId` five seconds from now by the database's clock (time enough, on a loaded machine,
   * for the request to reach the lock); returns what `whileHeld` of sentWhileHeld does: checks the consent
   * still runs while the request waits (a slow set-up would have let it expire before), then waits past its end.
   */
  const endsWhileHeld = async (consentId: string): Promise<(holder: Client) => Promise<void>> => {
    await sql(`UPDATE consents SET expires_at = clock_timestamp() + interval '5 seconds' WHERE id = $1`, [
      consentId,
    ]);
    const [{ expires_at: expiresAt }] = await sql<{ expires_at: Date }>(
      `SELECT expires_at FROM consents WHERE id = $1`,
      [consentId],
    );
    return async (holder) => {
      const now = await clockOf(holder);
      expect(now).toBeLessThan(expiresAt.getTime());
      await new Promise((r) => setTimeout(r, expiresAt.getTime() - now + 500));
    };
  };

  /** Ends consent `consentId` a second from now by the database's clock, and waits until it has. */
  const endsMeanwhile = async (consentId: string): Promise<void> => {
    await sql(`UPDATE consents SET expires_at = clock_timestamp() + interval '1 second' WHERE id = $1`, [
      consentId,
    ]);
    await new Promise((r) => setTimeout(r, 1_500));
  };

  /**
   * A referral to the police of Long Biên (under a consent for an hour), held by another transaction while
   * police.longbien's accept waits for it. `prepare`, given the consent, runs before the referral is held and
   * returns what runs while it is (endsWhileHeld sets the consent's end first: a change of its expiry is carried
   * to its referrals, and would wait for the holder).
   */
  async function acceptAfterAWait(
    prepare: (consentId: string) => Promise<(holder: Client) => Promise<void>>,
  ): Promise<{ referral: string; accepted: request.Response }> {
    const { police, caseId, consentId } = await caseWithConsent();
    const referral = (await refer(caseId, police, consentId)).body.id as string;
    const whileHeld = await prepare(consentId);
    const accepted = await sentWhileHeld(
      'SELECT 1 FROM referrals WHERE id = $1 FOR UPDATE',
      referral,
      () =>
        as(tok['police.longbien'])
          .post(`/api/v1/referrals/${referral}/accept`)
          .then((r) => r),
      whileHeld,
    );
    return { referral, accepted };
  }

  it('the expiry sweep waits for no referral another transaction holds, and takes a bounded batch of consents at a time', async () => {
    const expiry = t.app.get(ConsentExpiryService);
    const manager = t.app.get(DataSource).manager;
    const meta = { requestId: null };
    await expiry.revokeExpired(manager, meta, 10_000); // what earlier tests left
    const made: { consent: string; referral: string }[] = [];
    for (let i = 0; i < 3; i++) {
      const { police, caseId, consentId } = await caseWithConsent();
      made.push({ consent: consentId, referral: (await refer(caseId, police, consentId)).body.id as string });
    }
    // Swept in their consents' order.
    const [a, b, c] = made.sort((x, y) => (x.consent < y.consent ? -1 : 1)).map((m) => m.referral);
    await sql(`UPDATE consents SET expires_at = clock_timestamp() - interval '1 second' WHERE id = ANY($1)`, [
      made.map((m) => m.consent),
    ]);
    const live = async () =>
      (
        await sql<{ id: string }>(
          `SELECT id FROM referrals WHERE id = ANY($1) AND status = 'pending' ORDER BY id`,
          [[a, b, c]],
        )
      ).map((r) => r.id);
    const holder = new Client({ connectionString: t.db.url });
    await holder.connect();
    try {
      // The second is held (a move of it under way, another request's sweep): not waited for.
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM referrals WHERE id = $1 FOR UPDATE', [b]);
      const swept = await Promise.race([
        expiry.revokeExpired(manager, meta, 2),
        new Promise<string>((r) => setTimeout(() => r('waited'), 5_000)),
      ]);
      // Two consents in this sweep: the first's referral revoked, the second's skipped, the third's left.
      expect(swept).toEqual([a]);
      expect(await live()).toEqual([b, c].sort());
      expect(await expiry.revokeExpired(manager, meta)).toEqual([c]);
      await holder.query('COMMIT');
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      await holder.end();
    }
    // Let go: the next sweep takes it.
    expect(await expiry.revokeExpired(manager, meta)).toEqual([b]);
    expect(await live()).toEqual([]);
  });

  it('a caller who may not see a referral neither waits for its lock nor takes it: its 404 comes at once', async () => {
    const { police, caseId, consentId } = await caseWithConsent();
    const referral = (await refer(caseId, police, consentId)).body.id as string;
    const holder = new Client({ connectionString: t.db.url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM referrals WHERE id = $1 FOR UPDATE', [referral]); // a move under way
      for (const [path, body, action] of [
        ['accept', undefined, 'referral.accept'],
        ['notes', { text: 'ghi chú (giả định)' }, 'note.create'],
      ] as const) {
        const waited = new Promise<string>((r) => setTimeout(() => r('waited for the lock'), 3_000));
        const answer = as(tok['health.longbien'])
          .post(`/api/v1/referrals/${referral}/${path}`, body)
          .then((r) => r);
        const res = await Promise.race([answer, waited]);
        expect(typeof res === 'string' ? res : res.status).toBe(404);
        // Refused on record once, in the case's place, as before the change.
        const requestId = typeof res === 'string' ? '' : (res.body.requestId as string);
        expect(
          await sql(
            `SELECT action, outcome, case_id, province_code FROM audit_events WHERE request_id = $1 ORDER BY seq`,
            [requestId],
          ),
        ).toEqual([{ action, outcome: 'denied', case_id: caseId, province_code: '01' }]);
      }
      // Its organisation, which may, waits for the lock (and moves the referral once it is free).
      const accepting = as(tok['police.longbien'])
        .post(`/api/v1/referrals/${referral}/accept`)
        .then((r) => r.status);
      await someoneWaitsForALockHere();
      await holder.query('ROLLBACK');
      expect(await accepting).toBe(200);
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      await holder.end();
    }
  });

  it('a ward officer of another commune neither waits for a case’s or a consent’s lock nor takes it: 404 at once (change, close, withdrawal, consent, referral)', async () => {
    const { caseId, consentId } = await caseWithConsent();
    const holder = new Client({ connectionString: t.db.url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM cases WHERE id = $1 FOR UPDATE', [caseId]);
      await holder.query('SELECT 1 FROM consents WHERE id = $1 FOR UPDATE', [consentId]);
      const other = as(tok['ward.bode']);
      for (const send of [
        () => other.patch(`/api/v1/cases/${caseId}`, { version: 1, risk: { level: 'low' } }),
        () => other.post(`/api/v1/cases/${caseId}/close`, { reason: 'thử (giả định)' }),
        () => other.delete(`/api/v1/cases/${caseId}/consents/${consentId}`),
        () =>
          other.post(`/api/v1/cases/${caseId}/consents`, {
            sector: 'health',
            categories: ['health'],
            givenBy: 'survivor',
          }),
        () =>
          other.post(`/api/v1/cases/${caseId}/referrals`, {
            organizationId: randomUUID(),
            consentId,
            services: ['police_protection'],
            urgency: 'routine',
          }),
      ]) {
        const waited = new Promise<string>((r) => setTimeout(() => r('waited for the lock'), 3_000));
        const res = await Promise.race([send().then((r) => r), waited]);
        expect(typeof res === 'string' ? res : res.status).toBe(404);
        // Refused on record once, in the case's place: its supervisors see the attempt.
        const requestId = typeof res === 'string' ? '' : (res.body.requestId as string);
        expect(
          await sql(
            `SELECT outcome, case_id, province_code FROM audit_events WHERE request_id = $1 ORDER BY seq`,
            [requestId],
          ),
        ).toEqual([{ outcome: 'denied', case_id: caseId, province_code: '01' }]);
      }
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
  });

  it('a move that waited for its referral is timed when it got it, not when its transaction began', async () => {
    let released = 0;
    const { accepted } = await acceptAfterAWait(() =>
      Promise.resolve(async (holder: Client) => {
        await new Promise((r) => setTimeout(r, 300));
        released = await clockOf(holder);
      }),
    );
    expect(accepted.status).toBe(200);
    expect(Date.parse(accepted.body.acceptedAt)).toBeGreaterThanOrEqual(released);
  });

  it('a move that waited for its referral is decided as of when it got it: a consent that ended meanwhile refuses it', async () => {
    // The consent ends while the accept waits, before it gets the referral (its end set before the hold).
    const { referral, accepted } = await acceptAfterAWait(endsWhileHeld);
    expect(accepted.status).toBe(409);
    const [row] = await sql(`SELECT status FROM referrals WHERE id = $1`, [referral]);
    expect(row.status).toBe('pending');
  });

  it('a referral that waited for its case is decided and timed as of when it got it, not when its transaction began', async () => {
    /** ward.longbien's referral of a new case, made while another transaction holds the case. */
    const referWhileHeld = async (whileHeld: (consentId: string, holder: Client) => Promise<void>) => {
      const { police, caseId, consentId } = await caseWithConsent();
      const answer = await sentWhileHeld(
        'SELECT 1 FROM cases WHERE id = $1 FOR UPDATE',
        caseId,
        () => refer(caseId, police, consentId),
        (holder) => whileHeld(consentId, holder),
      );
      return { caseId, answer };
    };
    // The consent ends while the referral waits: refused (422), nothing made.
    const ended = await referWhileHeld((consentId) => endsMeanwhile(consentId));
    expect(ended.answer.status).toBe(422);
    expect(await sql(`SELECT 1 FROM referrals WHERE case_id = $1`, [ended.caseId])).toEqual([]);
    // The consent is withdrawn while the referral waits for it (a withdrawal holds it, not the case): refused.
    const { police, caseId, consentId } = await caseWithConsent();
    const withdrawn = await sentWhileHeld(
      'SELECT 1 FROM consents WHERE id = $1 FOR UPDATE',
      consentId,
      () => refer(caseId, police, consentId),
      async (holder) => {
        await holder.query(`UPDATE consents SET withdrawn_at = clock_timestamp() WHERE id = $1`, [consentId]);
      },
    );
    expect(withdrawn.status).toBe(422);
    expect(await sql(`SELECT 1 FROM referrals WHERE case_id = $1`, [caseId])).toEqual([]);
    // Made once it got the case: created then, and due from then.
    let released = 0;
    const made = await referWhileHeld(async (_consentId, holder) => {
      await new Promise((r) => setTimeout(r, 300));
      released = await clockOf(holder);
    });
    expect(made.answer.status).toBe(201);
    const [row] = await sql<{ created_at: Date; due_at: Date }>(
      `SELECT created_at, due_at FROM referrals WHERE id = $1`,
      [made.answer.body.id],
    );
    expect(row.created_at.getTime()).toBeGreaterThanOrEqual(released);
    expect(Date.parse(made.answer.body.dueAt)).toBe(row.due_at.getTime());
  });

  it('a referral that waited for its case, whose organisation’s open referral rested on a consent that expired meanwhile, is made: the old one revoked', async () => {
    const { police, caseId, consentId: old } = await caseWithConsent();
    const first = await refer(caseId, police, old);
    expect(first.status).toBe(201);
    const renewed = await giveConsent(t, tok['ward.longbien'], caseId, {
      organizationId: police,
      categories: ['identity'],
      givenBy: 'survivor',
      expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    });
    // The old consent ends two seconds from now: after the sweep of expired consents the request runs first,
    // before it gets the case.
    const made = await sentWhileHeld(
      'SELECT 1 FROM cases WHERE id = $1 FOR UPDATE',
      caseId,
      () => refer(caseId, police, renewed),
      await endsWhileHeld(old),
    );
    // Not "already has an open referral": that one's ground had ended, and it is revoked (on record) first.
    expect(made.status).toBe(201);
    const rows = await sql<{ id: string; status: string; revoke_cause: string | null }>(
      `SELECT id, status, revoke_cause FROM referrals WHERE case_id = $1 ORDER BY created_at`,
      [caseId],
    );
    expect(rows.map((r) => [r.id, r.status, r.revoke_cause])).toEqual([
      [first.body.id, 'revoked', 'consent_expired'],
      [made.body.id, 'pending', null],
    ]);
    expect(
      await sql(`SELECT actor_id FROM audit_events WHERE action = 'referral.revoke' AND resource_id = $1`, [
        first.body.id,
      ]),
    ).toEqual([{ actor_id: null }]);
  });

  it('a withdrawal that waited for its consent (a referral being made under it) is refused if the consent expired meanwhile', async () => {
    const { caseId, consentId } = await caseWithConsent();
    // It ends two seconds from now, while the withdrawal waits (the holder's lock keeps others from changing it).
    const withdrawn = await sentWhileHeld(
      'SELECT 1 FROM consents WHERE id = $1 FOR SHARE',
      consentId,
      () =>
        as(tok['ward.longbien'])
          .delete(`/api/v1/cases/${caseId}/consents/${consentId}`)
          .then((r) => r),
      await endsWhileHeld(consentId),
    );
    expect(withdrawn.status).toBe(409);
    expect(withdrawn.body.detail).toMatch(/expired/);
    const [row] = await sql(`SELECT withdrawn_at FROM consents WHERE id = $1`, [consentId]);
    expect(row.withdrawn_at).toBeNull();
  });

  it('a referral made while its organisation changes sector is revoked with the others its old sector’s consent gave', async () => {
    const org = await organizationIn('Công an thử đồng thời A (giả định)', 'police', ['00145']);
    const caseId = await newCase();
    const consentId = await giveConsent(t, tok['ward.longbien'], caseId, {
      sector: 'police',
      categories: ['identity', 'incident'],
      givenBy: 'survivor',
    });
    const g = held(ReferralsRepository.prototype, 'organization');
    const creating = refer(caseId, org.id, consentId);
    await g.hit;
    // The change waits for the referral's transaction (the organisation is share-locked by it)…
    const changing = changeOrganization(org.id, { sector: 'health' });
    await someoneWaitsForALockHere();
    g.release();
    expect((await creating).status).toBe(201);
    await changing;
    // …and then finds the referral, which a consent to police no longer covers.
    const rows = await sql(`SELECT status, revoke_cause FROM referrals WHERE case_id = $1`, [caseId]);
    expect(rows).toEqual([{ status: 'revoked', revoke_cause: 'organization_changed' }]);
  });

  it('a referral waiting for its organisation’s change of area sees the new area: a sector consent no longer reaches it', async () => {
    const org = await organizationIn('Công an thử đổi địa bàn đồng thời (giả định)', 'police', [
      '00145',
      '00118',
    ]);
    const caseId = await newCase(); // in 00145
    const consentId = await giveConsent(t, tok['ward.longbien'], caseId, {
      sector: 'police',
      categories: ['identity'],
      givenBy: 'survivor',
    });
    // The change holds the organisation's row lock with its new communes written, not yet committed…
    const { g, changing } = await areaChangeHeld(org.id, ['00118']);
    // …while the referral waits for it.
    const creating = refer(caseId, org.id, consentId);
    await someoneWaitsForALockHere();
    g.release();
    expect((await changing).status).toBe(200);
    const created = await creating;
    expect(created.status).toBe(422);
    const rows = await sql(`SELECT status FROM referrals WHERE case_id = $1`, [caseId]);
    expect(rows).toEqual([]);
  });

  it('emergency access asked for while the organisation changes sector is refused, not granted under the old one', async () => {
    const { org, token, user } = await providerIn('Công an thử đồng thời B (giả định)', 'police', ['00145']);
    const caseId = await newCase();
    const g = held(ReauthenticationService.prototype, 'confirm');
    const opening = breakGlass(token, caseId, TEST_PASSWORD).then((r) => r);
    await g.hit;
    await changeOrganization(org.id, { sector: 'health' });
    g.release();
    const res = await opening;
    expect(res.status).toBe(409);
    expect(res.body.detail).toMatch(/sector changed meanwhile/);
    const [entry] = await sql(`SELECT action, outcome, reason FROM audit_events WHERE request_id = $1`, [
      res.body.requestId,
    ]);
    expect(entry).toEqual({ action: 'break_glass.open', outcome: 'denied', reason: 'conflict.state' });
    expect(await sql(`SELECT 1 FROM break_glass_grants WHERE user_id = $1`, [user.id])).toEqual([]);
    jest.restoreAllMocks();
    await as(token).get(`/api/v1/cases/${caseId}`).expect(404);
  });

  /**
   * Sends `send`, holds it at `gate` (by default past its step-up, where the password is asked for again), has
   * the demo administrator disable account `userId` meanwhile, and gives the request's answer.
   */
  const disabledDuringStepUp = async (
    userId: string,
    send: () => request.Test,
    gate: () => ReturnType<typeof held> = () => held(ReauthenticationService.prototype, 'confirm'),
  ): Promise<request.Response> => {
    const g = gate();
    const answer = send().then((r) => r);
    await g.hit;
    await http()
      .patch(`/api/v1/users/${userId}`)
      .set('Authorization', `Bearer ${tok.admin}`)
      .send({ status: 'disabled' })
      .expect(200);
    g.release();
    try {
      return await answer;
    } finally {
      g.restore();
    }
  };

  it('emergency access asked for while an administrator disables the account opens nothing (401)', async () => {
    const { token, user } = await providerIn('Công an thử khoá tài khoản F (giả định)', 'police', ['00145']);
    const caseId = await newCase();
    // Past the step-up (the session was valid when the request came), before the grant is made.
    const refused = await disabledDuringStepUp(user.id, () => breakGlass(token, caseId, TEST_PASSWORD));
    expect(refused.status).toBe(401);
    expect(await sql(`SELECT 1 FROM break_glass_grants WHERE user_id = $1`, [user.id])).toEqual([]);
    // On record, in the case's place (the password was right: this was no guess).
    expect(
      await sql(
        `SELECT action, outcome, reason, case_id, province_code FROM audit_events WHERE request_id = $1`,
        [refused.body.requestId],
      ),
    ).toEqual([
      {
        action: 'break_glass.open',
        outcome: 'denied',
        reason: 'auth.unauthenticated',
        case_id: caseId,
        province_code: '01',
      },
    ]);
  });

  it('a shred asked for while an administrator disables the asking account shreds nothing (401, on record)', async () => {
    const { user, token } = await givenSignedIn(t, { role: 'admin', username: 'admin.shredder.race' });
    const caseId = await newCase();
    // Past the step-up (the session was valid when the request came), before the shred.
    const refused = await disabledDuringStepUp(user.id, () =>
      http().post(`/api/v1/cases/${caseId}/shred`).set('Authorization', `Bearer ${token}`).send({
        password: TEST_PASSWORD,
      }),
    );
    expect(refused.status).toBe(401);
    expect(await sql(`SELECT shredded_at FROM cases WHERE id = $1`, [caseId])).toEqual([
      { shredded_at: null },
    ]);
    expect(
      await sql(`SELECT action, outcome, reason FROM audit_events WHERE request_id = $1`, [
        refused.body.requestId,
      ]),
    ).toEqual([{ action: 'case.shred', outcome: 'denied', reason: 'auth.unauthenticated' }]);
    // In the case's place: its province's supervisors see the attempt (the administrator has no province).
    expect(
      await sql(`SELECT case_id, province_code, jurisdictions FROM audit_events WHERE request_id = $1`, [
        refused.body.requestId,
      ]),
    ).toEqual([{ case_id: caseId, province_code: '01', jurisdictions: ['01'] }]);
  });

  it('an administrator disabled while its request waits (a password hashed) changes no account or organisation (401, on record)', async () => {
    const { user: admin, token } = await givenSignedIn(t, { role: 'admin', username: 'admin.reset.race' });
    const { user: officer } = await givenSignedIn(t, { role: 'ward_officer', wardCodes: ['00145'] });
    const [before] = await sql(`SELECT password_hash, token_version FROM users WHERE id = $1`, [officer.id]);
    const refused = await disabledDuringStepUp(
      admin.id,
      () =>
        http()
          .patch(`/api/v1/users/${officer.id}`)
          .set('Authorization', `Bearer ${token}`)
          .send({ password: 'granite-harbor-lantern-93', resetTotp: true }),
      () => held(PasswordHasher.prototype, 'hash'),
    );
    expect(refused.status).toBe(401);
    expect(await sql(`SELECT password_hash, token_version FROM users WHERE id = $1`, [officer.id])).toEqual([
      before,
    ]);
    expect(
      await sql(`SELECT action, outcome, reason, resource_id FROM audit_events WHERE request_id = $1`, [
        refused.body.requestId,
      ]),
    ).toEqual([
      { action: 'user.update', outcome: 'denied', reason: 'auth.unauthenticated', resource_id: officer.id },
    ]);
    /** `send`, by a new administrator `username` who is disabled while it is held at `gate`: refused (401). */
    const refusedOnceDisabled = async (
      username: string,
      send: (token: string) => request.Test,
      gate: () => ReturnType<typeof held>,
    ) => {
      const { user, token } = await givenSignedIn(t, { role: 'admin', username });
      expect((await disabledDuringStepUp(user.id, () => send(token), gate)).status).toBe(401);
    };
    // Nor an account made (the same wait: its password hashed).
    await refusedOnceDisabled(
      'admin.create.race',
      (token) =>
        http()
          .post('/api/v1/users')
          .set('Authorization', `Bearer ${token}`)
          .send({ username: 'admin.made.race', role: 'admin', password: 'granite-harbor-lantern-94' }),
      () => held(PasswordHasher.prototype, 'hash'),
    );
    expect(await sql(`SELECT 1 FROM users WHERE username = 'admin.made.race'`)).toEqual([]);
    // Nor an organisation (held where its service area is looked up, before its transaction).
    const name = 'Đội thử khoá quản trị (giả định)';
    await refusedOnceDisabled(
      'admin.org.race',
      (token) =>
        http()
          .post('/api/v1/organizations')
          .set('Authorization', `Bearer ${token}`)
          .send({ name, sector: 'legal', serviceArea: { provinceCode: '01' } }),
      () =>
        held(OrganizationsService.prototype as unknown as { resolveArea(): Promise<unknown> }, 'resolveArea'),
    );
    expect(await sql(`SELECT 1 FROM organizations WHERE name = $1`, [name])).toEqual([]);
  });

  it('an account disabled while its emergency access is being opened: the disabling waits for it and ends it', async () => {
    const { token, user } = await providerIn('Công an thử khoá tài khoản G (giả định)', 'police', ['00145']);
    const caseId = await newCase();
    // The grant is made and its account held (FOR SHARE), not committed yet.
    const g = held(FieldEncryptionService.prototype, 'encrypt', {
      when: (...args: unknown[]) => (args[1] as { table?: string })?.table === 'break_glass_grants',
    });
    const opening = breakGlass(token, caseId, TEST_PASSWORD).then((r) => r);
    await g.hit;
    const disabling = http()
      .patch(`/api/v1/users/${user.id}`)
      .set('Authorization', `Bearer ${tok.admin}`)
      .send({ status: 'disabled' })
      .then((r) => r);
    await someoneWaitsForALockHere();
    g.release();
    expect((await opening).status).toBe(201);
    expect((await disabling).status).toBe(200);
    const grants = await sql(
      `SELECT g.expires_at <= now() AS over, e.reason FROM break_glass_grants g
         JOIN audit_events e ON e.resource_id = g.id AND e.action = 'break_glass.end'
        WHERE g.user_id = $1`,
      [user.id],
    );
    expect(grants).toEqual([{ over: true, reason: 'break_glass.account_changed' }]);
  });

  it('emergency access waiting for its organisation’s change of area sees the new area: none outside it', async () => {
    const { org, token, user } = await providerIn('Công an thử đổi địa bàn C (giả định)', 'police', [
      '00145',
      '00118',
    ]);
    const caseId = await newCase(); // in 00145
    const { g, changing } = await areaChangeHeld(org.id, ['00118']);
    const opening = breakGlass(token, caseId, TEST_PASSWORD).then((r) => r);
    await someoneWaitsForALockHere();
    g.release();
    expect((await changing).status).toBe(200);
    expect((await opening).status).toBe(404);
    expect(await sql(`SELECT 1 FROM break_glass_grants WHERE user_id = $1`, [user.id])).toEqual([]);
  });

  it('a grant found unjustified ends the user’s other emergency access to the case as well', async () => {
    const caseId = await newCase();
    const openGrant = () => breakGlass(tok['health.longbien'], caseId);
    const first = (await openGrant().expect(201)).body.id as string;
    // Not again while the first runs; once it has ended (unreviewed yet), a second one.
    await openGrant().expect(409);
    await sql(
      `UPDATE break_glass_grants SET expires_at = opened_at + interval '1 millisecond' WHERE id = $1`,
      [first],
    );
    const second = (await openGrant().expect(201)).body.id as string;
    await as(tok['health.longbien']).get(`/api/v1/cases/${caseId}`).expect(200);
    await as(tok['supervisor.hanoi'])
      .post(`/api/v1/break-glass/${first}/review`, { justified: false })
      .expect(200);
    await as(tok['health.longbien']).get(`/api/v1/cases/${caseId}`).expect(404);
    const ended = await sql(
      `SELECT e.resource_id, e.reason, g.expires_at <= now() AS over
         FROM audit_events e JOIN break_glass_grants g ON g.id = e.resource_id
        WHERE e.action = 'break_glass.end' AND e.case_id = $1`,
      [caseId],
    );
    expect(ended).toEqual([{ resource_id: second, reason: 'break_glass.unjustified', over: true }]);
    await openGrant().expect(409);
  });

  it('a close that began before an emergency access was opened, and waited for it, ends it, after the reads made under it meanwhile', async () => {
    const caseId = await newCase();
    // The close's transaction has begun (its now() is earlier than the grant's opening), and holds no lock yet.
    let calls = 0;
    const g = held(CasesRepository.prototype, 'findById', {
      before: true,
      when: (...args: Parameters<CasesRepository['findById']>) => args[3] === true && calls++ === 0,
    });
    const closing = as(tok['ward.longbien'])
      .post(`/api/v1/cases/${caseId}/close`, { reason: 'Đã hỗ trợ xong (giả định)' })
      .then((r) => r);
    await g.hit;
    const grant = (await breakGlass(tok['police.longbien'], caseId).expect(201)).body.id as string;
    // A read under the grant while the close waits: allowed, and on record before the grant's end.
    const read = await as(tok['police.longbien']).get(`/api/v1/cases/${caseId}`).expect(200);
    await new Promise((r) => setTimeout(r, 20));
    g.release();
    expect((await closing).status).toBe(200);
    // The close and the grant's end are timed when the close got the case, after the grant's opening, and
    // after the read made under it meanwhile.
    const [ended] = await sql(
      `SELECT g.expires_at <= now() AS over, g.expires_at > g.opened_at AS after_opening, e.reason,
              c.closed_at > g.opened_at AS closed_after, g.expires_at > r.at AS after_the_read
         FROM break_glass_grants g JOIN audit_events e ON e.resource_id = g.id AND e.action = 'break_glass.end'
         JOIN cases c ON c.id = g.case_id
         JOIN audit_events r ON r.request_id = $2 AND r.action = 'case.read' AND r.outcome = 'allowed'
        WHERE g.id = $1`,
      [grant, read.headers['x-request-id']],
    );
    expect(ended).toEqual({
      over: true,
      after_opening: true,
      reason: 'break_glass.case_closed',
      closed_after: true,
      after_the_read: true,
    });
    await as(tok['police.longbien']).get(`/api/v1/cases/${caseId}`).expect(404);
  });

  it('a verdict of "unjustified" and an emergency access opened meanwhile on another instance, on one stripe: no deadlock, the new grant ends too', async () => {
    // A second instance on the same database and keys, as in production (closed with the first, afterAll:
    // closing it stops nothing of the first's, but its shutdown waits for the first's database).
    other = await createHavenApp(t.config, pino({ level: 'silent' }), t.db.url);
    try {
      const caseId = await newCase();
      const openOn = (app: NestExpressApplication) =>
        breakGlass(tok['health.longbien'], caseId, DEMO_PASSWORD, app);
      const first = (await openOn(t.app).expect(201)).body.id as string;
      // Run out (not reviewed yet): the same user may open the case again.
      await sql(
        `UPDATE break_glass_grants SET expires_at = opened_at + interval '1 millisecond' WHERE id = $1`,
        [first],
      );
      // Both instances take stripe 0 (one time in 16 by chance with one entry in flight each).
      const take = ChainStripes.prototype.take;
      jest.spyOn(ChainStripes.prototype, 'take').mockImplementation(function (
        this: ChainStripes,
        holder,
        again,
      ) {
        return take.call(this, holder, again ?? 0);
      });
      // The other instance's open holds the case FOR UPDATE and waits before its entry.
      const g = held(other.get(DataKeyService), 'get', { before: true });
      const opening = openOn(other).then((r) => r);
      await g.hit;
      const reviewing = as(tok['supervisor.hanoi'])
        .post(`/api/v1/break-glass/${first}/review`, { justified: false })
        .then((r) => r);
      await someoneWaitsForALockHere(); // the review, for the case
      g.release();
      const [opened, reviewed] = await Promise.all([opening, reviewing]);
      expect([opened.status, reviewed.status]).toEqual([201, 200]);
      const live = await sql(`SELECT id FROM break_glass_grants WHERE case_id = $1 AND expires_at > now()`, [
        caseId,
      ]);
      expect(live).toEqual([]);
    } finally {
      jest.restoreAllMocks();
    }
  });

  it('entries of an organisation’s staff belong to its new province once its move has committed', async () => {
    const { org, token, user } = await providerIn('Trung tâm thử đồng thời D (giả định)', 'social', [
      '00145',
    ]);
    const g = held(AuditService.prototype, 'recordChanges', {
      before: true,
      when: (...args: Parameters<AuditService['recordChanges']>) => args[2].action === 'organization.update',
    });
    const moving = changeOrganization(org.id, { serviceArea: { communeCodes: ['10507'] } });
    await g.hit;
    // A request of its staff while the move is not committed yet: the old province, read and cached.
    await as(token).get('/api/v1/referrals').expect(200);
    g.release();
    await moving;
    await as(token).get('/api/v1/referrals').expect(200);
    const [last] = await sql(
      `SELECT jurisdictions FROM audit_events WHERE actor_id = $1 ORDER BY seq DESC LIMIT 1`,
      [user.id],
    );
    expect(last.jurisdictions).toEqual(['31']);
  });

  it('entries of an organisation’s staff on another instance belong to its new province as soon as its move commits', async () => {
    other ??= await createHavenApp(t.config, pino({ level: 'silent' }), t.db.url);
    const { org, token, user } = await providerIn('Trung tâm thử hai máy E (giả định)', 'social', ['00145']);
    const onOther = () =>
      request(other!.getHttpServer()).get('/api/v1/referrals').set('Authorization', `Bearer ${token}`);
    const lastJurisdictions = async () =>
      (
        await sql(`SELECT jurisdictions FROM audit_events WHERE actor_id = $1 ORDER BY seq DESC LIMIT 1`, [
          user.id,
        ])
      )[0].jurisdictions as string[];
    await onOther().expect(200); // the other instance has seen the organisation in Hà Nội
    expect(await lastJurisdictions()).toEqual(['01']);
    await changeOrganization(org.id, { serviceArea: { communeCodes: ['10507'] } }); // on this instance
    await onOther().expect(200);
    expect(await lastJurisdictions()).toEqual(['31']);
  });

  /**
   * A case of ward.longbien with an accepted referral to a demo organisation (`provider`'s), under a consent to
   * `categories`; returns its consent and its survivor's name too.
   */
  const acceptedBy = async (
    provider: 'police.longbien' | 'health.longbien',
    categories: string[],
    services: string[],
  ) => {
    const body = caseBody();
    const caseId = (await as(tok['ward.longbien']).post('/api/v1/cases', body).expect(201)).body.id as string;
    const name = provider === 'police.longbien' ? 'Công an phường Long Biên' : 'Trạm y tế phường Long Biên';
    const [{ id: org }] = await sql(`SELECT id FROM organizations WHERE name = $1`, [name]);
    const consentId = await giveConsent(t, tok['ward.longbien'], caseId, {
      organizationId: org,
      categories,
      givenBy: 'survivor',
    });
    const referral = (
      await as(tok['ward.longbien'])
        .post(`/api/v1/cases/${caseId}/referrals`, {
          organizationId: org,
          consentId,
          services,
          urgency: 'urgent',
          note: 'Ghi chú chuyển gửi ZZNOTE (giả định)',
        })
        .expect(201)
    ).body.id as string;
    await as(tok[provider]).post(`/api/v1/referrals/${referral}/accept`).expect(200);
    return { caseId, consentId, referral, name: (body.survivor as { fullName: string }).fullName };
  };
  const acceptedByPolice = () => acceptedBy('police.longbien', ['identity'], ['police_protection']);

  it('a change that makes a child’s referrals urgent, having waited for her case, dates their deadline from when it got it', async () => {
    // A girl of 12 at medium risk, referred routinely (five days).
    const body = caseBody({ risk: { level: 'medium' } });
    const caseId = (
      await as(tok['ward.longbien'])
        .post('/api/v1/cases', {
          ...body,
          survivor: { ...(body.survivor as object), dateOfBirth: '2014-02-02' },
        })
        .expect(201)
    ).body as { id: string; version: number };
    const police = await organizationId(t, tok['ward.longbien'], 'Công an phường Long Biên');
    const consentId = await giveConsent(t, tok['ward.longbien'], caseId.id, {
      organizationId: police,
      categories: ['identity'],
      givenBy: 'guardian',
    });
    const referral = (
      await as(tok['ward.longbien'])
        .post(`/api/v1/cases/${caseId.id}/referrals`, {
          organizationId: police,
          consentId,
          services: ['police_protection'],
          urgency: 'routine',
        })
        .expect(201)
    ).body.id as string;
    // Her risk raised to high while another transaction holds the case: her referral becomes urgent (12 hours).
    let released = 0;
    const raised = await sentWhileHeld(
      'SELECT 1 FROM cases WHERE id = $1 FOR UPDATE',
      caseId.id,
      () =>
        as(tok['ward.longbien'])
          .patch(`/api/v1/cases/${caseId.id}`, { version: caseId.version, risk: { level: 'high' } })
          .then((r) => r),
      async (holder) => {
        await new Promise((r) => setTimeout(r, 300));
        released = await clockOf(holder);
      },
    );
    expect(raised.status).toBe(200);
    const [row] = await sql<{ urgency: string; due_at: Date }>(
      `SELECT urgency, due_at FROM referrals WHERE id = $1`,
      [referral],
    );
    expect(row.urgency).toBe('urgent');
    expect(row.due_at.getTime()).toBeGreaterThanOrEqual(released + 12 * 3_600_000);
  });

  it('a consent that waited for its case is judged, and dated, when it got it: one ending meanwhile is refused', async () => {
    const caseId = await newCase();
    const police = await organizationId(t, tok['ward.longbien'], 'Công an phường Long Biên');
    const create = (expiresAt: string) => () =>
      as(tok['ward.longbien'])
        .post(`/api/v1/cases/${caseId}/consents`, {
          organizationId: police,
          categories: ['identity'],
          givenBy: 'survivor',
          expiresAt,
        })
        .then((r) => r);
    const hold = (ms: number) => async (holder: Client) => {
      await new Promise((r) => setTimeout(r, ms));
      return void (released = await clockOf(holder));
    };
    let released = 0;
    // Ends a second from now; the case is held a second and a half.
    const ended = await sentWhileHeld(
      'SELECT 1 FROM cases WHERE id = $1 FOR UPDATE',
      caseId,
      create(new Date(Date.now() + 1_000).toISOString()),
      hold(1_500),
    );
    expect(ended.status).toBe(400);
    expect(ended.body.errors[0]).toMatchObject({ field: 'expiresAt' });
    // One that still runs is made, dated once it got the case.
    const made = await sentWhileHeld(
      'SELECT 1 FROM cases WHERE id = $1 FOR UPDATE',
      caseId,
      create(new Date(Date.now() + 3_600_000).toISOString()),
      hold(300),
    );
    expect(made.status).toBe(201);
    expect(made.body.status).toBe('active');
    expect(Date.parse(made.body.createdAt)).toBeGreaterThanOrEqual(released);
  });

  it('a note that waited for its referral is timed when it got it, not when its transaction began', async () => {
    const { referral } = await acceptedByPolice();
    let released = 0;
    const note = await sentWhileHeld(
      'SELECT 1 FROM referrals WHERE id = $1 FOR UPDATE',
      referral,
      () =>
        as(tok['police.longbien'])
          .post(`/api/v1/referrals/${referral}/notes`, { text: 'Ghi chú khi chờ (giả định)' })
          .then((r) => r),
      async (holder) => {
        await new Promise((r) => setTimeout(r, 300));
        released = await clockOf(holder);
      },
    );
    expect(note.status).toBe(201);
    expect(Date.parse(note.body.createdAt)).toBeGreaterThanOrEqual(released);
  });
  /** Once a read is held at `g` (its grounds checked), the ward revokes `referral`; then the read goes on. */
  const revokedWhileHeld = async (g: { hit: Promise<void>; release: () => void }, referral: string) => {
    await g.hit;
    await as(tok['ward.longbien'])
      .post(`/api/v1/referrals/${referral}/revoke`, { reason: 'Thu hồi (giả định)' })
      .expect(200);
    g.release();
  };

  /** Once `g` holds a read: the case crypto-shredded by the administrator (no longer held), then the read let go. */
  const shreddedWhileHeld = async (
    g: { hit: Promise<void>; release: () => void; restore: () => void },
    caseId: string,
  ) => {
    await g.hit;
    g.restore();
    await as(tok.admin).post(`/api/v1/cases/${caseId}/shred`, { password: DEMO_PASSWORD }).expect(200);
    g.release();
  };

  /**
   * A note of health.longbien on `referral`, held once it has locked the referral (the lock kept): its answer
   * once it ends, and `release` to let it go on.
   */
  const noteHoldingItsReferral = async (referral: string) => {
    const g = held(ReferralsRepository.prototype, 'findLocked', {
      when: (...args: Parameters<ReferralsRepository['findLocked']>) => args[1] === referral,
    });
    const noting = as(tok['health.longbien'])
      .post(`/api/v1/referrals/${referral}/notes`, { text: 'Ghi chú đồng thời (giả định)' })
      .then((r) => r);
    await g.hit;
    jest.restoreAllMocks();
    return { noting, release: g.release };
  };

  it('a note and the revocation of its referral come one after the other, the note first if it read the referral first', async () => {
    const { caseId, consentId, referral } = await acceptedBy(
      'health.longbien',
      ['identity'],
      ['medical_care'],
    );
    const { noting, release } = await noteHoldingItsReferral(referral);
    // The withdrawal waits for the note's transaction, which holds the referral…
    const withdrawing = as(tok['ward.longbien'])
      .delete(`/api/v1/cases/${caseId}/consents/${consentId}`)
      .then((r) => r);
    await someoneWaitsForALockHere();
    release();
    expect((await noting).status).toBe(201);
    expect((await withdrawing).status).toBe(200);
    // …so the note was made while the referral was live: its entry comes before the revocation's.
    const [order] = await sql(
      `SELECT (SELECT at FROM audit_events WHERE action = 'note.create' AND case_id = $1) <
              (SELECT at FROM audit_events WHERE action = 'referral.revoke' AND resource_id = $2) AS noted_first`,
      [caseId, referral],
    );
    expect(order).toEqual({ noted_first: true });
    const [row] = await sql(`SELECT status FROM referrals WHERE id = $1`, [referral]);
    expect(row.status).toBe('revoked');
  });

  it('a note holding its referral and the close of its case come one after the other, without a deadlock', async () => {
    const { caseId, referral } = await acceptedBy('health.longbien', ['identity'], ['medical_care']);
    const { noting, release } = await noteHoldingItsReferral(referral);
    // The close holds the case and waits for the referral; the note's row then refers to that case (a foreign
    // key's check takes the case's row FOR KEY SHARE), which a close's lock must not block.
    const closing = as(tok['ward.longbien'])
      .post(`/api/v1/cases/${caseId}/close`, { reason: 'Đã hỗ trợ xong (giả định)' })
      .then((r) => r);
    await someoneWaitsForALockHere();
    release();
    expect((await noting).status).toBe(201);
    expect((await closing).status).toBe(200);
    const [row] = await sql(`SELECT status FROM referrals WHERE id = $1`, [referral]);
    expect(row.status).toBe('revoked');
  });

  /** A read whose grounds ended mid-read is on record as what it was allowed, then as getting nothing (`reason`). */
  const expectAllowedThenRefused = async (action: string, requestId: string, reason: string) =>
    expect(
      await sql(
        `SELECT outcome, reason FROM audit_events WHERE request_id = $1 AND action = $2 ORDER BY seq`,
        [requestId, action],
      ),
    ).toEqual([
      { outcome: 'allowed', reason: null },
      { outcome: 'denied', reason },
    ]);

  it('a ward officer’s case read whose case is shredded between its check and its fetch answers 409, on record', async () => {
    const caseId = await newCase();
    const g = held(CasesRepository.prototype, 'findWithReferrals');
    const reading = as(tok['ward.longbien'])
      .get(`/api/v1/cases/${caseId}`)
      .then((r) => r);
    await shreddedWhileHeld(g, caseId);
    const read = await reading;
    expect(read.status).toBe(409);
    expect(read.body.code).toBe('conflict.state');
    await expectAllowedThenRefused('case.read', read.body.requestId, 'conflict.state');
  });

  it('a ward officer’s list of consents whose case is shredded between its check and its reasons’ fetch answers 409, on record', async () => {
    const caseId = await newCase();
    await giveConsent(t, tok['ward.longbien'], caseId, {
      sector: 'health',
      categories: ['health'],
      legalBasis: 'imminent_danger',
      reason: 'Lý do khẩn cấp (giả định)',
    });
    let calls = 0;
    const g = held(CasesRepository.prototype, 'findById', {
      when: (...args: Parameters<CasesRepository['findById']>) => args[1] === caseId && calls++ === 0,
    });
    const reading = as(tok['ward.longbien'])
      .get(`/api/v1/cases/${caseId}/consents`)
      .then((r) => r);
    await shreddedWhileHeld(g, caseId);
    const read = await reading;
    expect(read.status).toBe(409);
    expect(JSON.stringify(read.body)).not.toContain('Lý do');
    await expectAllowedThenRefused('consent.read', read.body.requestId, 'conflict.state');
  });

  it('a ward officer’s referral read whose case is shredded between its check and its fetch answers 409, on record', async () => {
    const { referral } = await acceptedByPolice();
    const g = held(ReferralsRepository.prototype, 'findWithCase');
    const reading = as(tok['ward.longbien'])
      .get(`/api/v1/referrals/${referral}`)
      .then((r) => r);
    const [{ case_id: caseId }] = await sql(`SELECT case_id FROM referrals WHERE id = $1`, [referral]);
    await shreddedWhileHeld(g, caseId);
    const read = await reading;
    expect(read.status).toBe(409);
    expect(JSON.stringify(read.body)).not.toContain('ZZNOTE');
    await expectAllowedThenRefused('referral.read', read.body.requestId, 'conflict.state');
  });

  it('a provider’s referral read whose referral is revoked between its check and its fetch hands out nothing', async () => {
    const { referral } = await acceptedByPolice();
    const before = await as(tok['police.longbien']).get(`/api/v1/referrals/${referral}`).expect(200);
    expect(JSON.stringify(before.body)).toContain('ZZNOTE');
    const g = held(ReferralsRepository.prototype, 'findWithCase');
    const reading = as(tok['police.longbien'])
      .get(`/api/v1/referrals/${referral}`)
      .then((r) => r);
    await revokedWhileHeld(g, referral);
    const read = await reading;
    expect(read.status).toBe(404);
    expect(JSON.stringify(read.body)).not.toContain('ZZNOTE');
    await expectAllowedThenRefused('referral.read', read.body.requestId, 'resource.not_found');
  });

  it('a provider’s case read whose referral is revoked between its check and its fetch hands out nothing', async () => {
    const { caseId, referral, name } = await acceptedByPolice();
    expect(
      JSON.stringify((await as(tok['police.longbien']).get(`/api/v1/cases/${caseId}`).expect(200)).body),
    ).toContain(name);
    const g = held(CasesRepository.prototype, 'findWithReferrals');
    const reading = as(tok['police.longbien'])
      .get(`/api/v1/cases/${caseId}`)
      .then((r) => r);
    await revokedWhileHeld(g, referral); // checked: the referral was accepted
    const read = await reading;
    expect(read.status).toBe(404);
    expect(JSON.stringify(read.body)).not.toContain(name);
  });

  it('a case read allowed through an emergency grant that ends before its fetch hands out nothing, a referral notwithstanding', async () => {
    // A referral under a consent to the contact details only…
    const { caseId, name } = await acceptedBy('health.longbien', ['contact'], ['medical_care']);
    // …and an emergency grant, which shows the survivor's name too.
    const grant = (await breakGlass(tok['health.longbien'], caseId).expect(201)).body.id as string;
    const g = held(CasesRepository.prototype, 'findWithReferrals');
    const reading = as(tok['health.longbien'])
      .get(`/api/v1/cases/${caseId}`)
      .then((r) => r);
    await g.hit; // checked with the grant running
    await as(tok['supervisor.hanoi'])
      .post(`/api/v1/break-glass/${grant}/review`, { justified: false })
      .expect(200);
    g.release();
    const read = await reading;
    expect(read.status).toBe(404);
    expect(JSON.stringify(read.body)).not.toContain(name);
    jest.restoreAllMocks();
    // Its referral alone still shows what its consent releases, and not the name.
    const after = await as(tok['health.longbien']).get(`/api/v1/cases/${caseId}`).expect(200);
    expect(after.body.survivor).toBeDefined();
    expect(JSON.stringify(after.body)).not.toContain(name);
  });
});
