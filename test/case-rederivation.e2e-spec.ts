import { randomUUID } from 'node:crypto';
import { AuditService } from '../src/audit/audit.service';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { CASE_DERIVATIONS } from '../src/cases/case-derivation';
import { CaseRederivation } from '../src/cases/case-rederivation.service';
import { LOGGER } from '../src/common/logging/logger.module';
import { APP_CONFIG } from '../src/config/config';
import { DataKeyService, FieldEncryptionService } from '../src/crypto';
import { BlindIndexService } from '../src/crypto/blind-index.service';
import type { TestApp } from './support/app';
import { caseBody, giveConsent, organizationId, signInAll, startDemoApp, Tokens } from './support/casework';
import { withBearer } from './support/http';

// Its own file: Passport strategies are process-wide, so two applications must not share a test file.
describe('cases stored under older derivation rules brought to the current ones (CaseRederivation)', () => {
  let t: TestApp;
  let tokens: Tokens;
  let owner: Client;
  const as = () => withBearer(t, tokens['ward.longbien']);

  beforeAll(async () => {
    t = await startDemoApp();
    tokens = await signInAll(t, ['ward.longbien']);
    owner = new Client({ connectionString: t.db.url });
    await owner.connect();
  });
  afterAll(async () => {
    await owner.end();
    await t.close();
  });

  const register = async (
    survivor: Record<string, unknown>,
    incident: Record<string, unknown> = {},
  ): Promise<string> => {
    const body = caseBody();
    const res = await as()
      .post('/api/v1/cases', {
        ...body,
        survivor: { ...(body.survivor as object), ...survivor },
        incident: { ...(body.incident as object), ...incident },
      })
      .expect(201);
    return res.body.id as string;
  };
  const found = async (probe: Record<string, string>): Promise<string[]> =>
    (await as().post('/api/v1/cases/search', probe).expect(200)).body.items.map((i: { id: string }) => i.id);
  type Stored = {
    id: string;
    bi_name: Buffer | null;
    bi_name_dob: Buffer | null;
    bi_phone: Buffer | null;
    bi_dob: Buffer | null;
    age_group: string;
    child_vn: boolean | null;
    child_gbvims: boolean | null;
    contexts: string[];
    incident_date: Date | null;
    version: number;
    updated_at: Date;
    derived_with: number;
  };
  const rows = (ids: string[]) =>
    owner
      .query<Stored>(
        `SELECT id, bi_name, bi_name_dob, bi_phone, bi_dob, age_group, child_vn, child_gbvims, contexts,
                incident_date, version, updated_at, derived_with
           FROM cases WHERE id = ANY($1) ORDER BY id`,
        [ids],
      )
      .then((r) => r.rows);
  /** As the rules before left a case: indexes of the old forms (here: none, or another's), contexts fewer. */
  const asOfOldRules = (ids: string[], contexts?: string[]) =>
    owner.query(
      `UPDATE cases SET derived_with = 1, bi_dob = NULL, bi_name = bi_phone, age_group = 'unknown',
              incident_date = incident_date - 1, contexts = coalesce($2::text[], contexts)
        WHERE id = ANY($1)`,
      [ids, contexts ?? null],
    );

  it('registrations are derived under the current rules: nothing for it to take', async () => {
    const id = await register({ dateOfBirth: '1984-03-03' });
    expect((await rows([id]))[0].derived_with).toBe(CASE_DERIVATIONS);
    await t.app.get(CaseRederivation).run();
    await expect(t.app.get(CaseRederivation).run()).resolves.toEqual({ rederived: 0, failed: 0 });
  });

  it('derives indexes, age and contexts again a batch at a time, leaving locked rows to their change and keeping the contexts given', async () => {
    const dated = [
      await register({ dateOfBirth: '1977-04-12' }),
      await register({ dateOfBirth: '1977-04-12' }),
      await register({ dateOfBirth: '1981-09-30' }),
    ];
    const aged = await register({ dateOfBirth: undefined, ageYears: 40 });
    // 17 at the incident, 18 at the report: child sexual abuse under the rule that judges it at the incident,
    // which the rule before (the age at the report) did not derive.
    const turned18 = await register(
      { dateOfBirth: '2008-06-01' },
      { occurredAt: '2026-05-01T10:00:00+07:00', forms: ['sexual'], gbvType: 'rape' },
    );
    const all = [...dated, aged, turned18];
    const registered = await rows(all);
    expect(registered.find((r) => r.id === turned18)!.contexts).toEqual([
      'intimate_partner',
      'child_sexual_abuse',
    ]);
    const blind = t.app.get(BlindIndexService);
    expect(registered.find((r) => r.id === dated[2])!.bi_dob!.toString('hex')).toBe(
      blind.dateOfBirth('1981-09-30').toString('hex'),
    );

    await asOfOldRules(all.filter((id) => id !== turned18));
    // One context the ward gave (trafficking) stays; the one the old rule did not derive comes back.
    await asOfOldRules([turned18], ['intimate_partner', 'trafficking']);
    expect(await found({ dateOfBirth: '1977-04-12' })).toEqual([]);

    // One row is being changed meanwhile: skipped, not waited for.
    const locker = new Client({ connectionString: t.db.url });
    await locker.connect();
    const busy = dated[0];
    const job = t.app.get(CaseRederivation);
    try {
      await locker.query('BEGIN');
      await locker.query(`SELECT 1 FROM cases WHERE id = $1 FOR UPDATE`, [busy]);
      await expect(job.run(2)).resolves.toEqual({ rederived: 4, failed: 0 });
      expect((await rows([busy]))[0]).toMatchObject({ derived_with: 1, bi_dob: null });
    } finally {
      await locker.query('ROLLBACK');
      await locker.end();
    }
    await expect(job.run()).resolves.toEqual({ rederived: 1, failed: 0 });
    await expect(job.run()).resolves.toEqual({ rederived: 0, failed: 0 });

    // What the registrations wrote, nothing else changed (no version, no updated_at), the context given kept.
    const after = await rows(all);
    expect(after.filter((r) => r.id !== turned18)).toEqual(registered.filter((r) => r.id !== turned18));
    expect(after.find((r) => r.id === turned18)).toEqual({
      ...registered.find((r) => r.id === turned18),
      contexts: ['intimate_partner', 'child_sexual_abuse', 'trafficking'],
    });
    expect((await found({ dateOfBirth: '1977-04-12' })).sort()).toEqual(dated.slice(0, 2).sort());
    const view = await as().get(`/api/v1/cases/${dated[2]}`).expect(200);
    expect(await found({ fullName: view.body.survivor.fullName })).toEqual([dated[2]]);
  });

  it('child flags judged otherwise move, whatever the consents (they take the age now), and a child at high risk makes the waiting referrals urgent', async () => {
    const job = t.app.get(CaseRederivation);
    await job.run();
    // An adult of 30 whom the old rules (say) took for a child, with a child-protection duty recorded on that
    // ground, as the old rules let the ward record it (the service refuses it now: she is 30 by her date of
    // birth); its reason is never opened here.
    const adult = await register({ dateOfBirth: '1996-01-01' });
    await owner.query(`UPDATE cases SET child_vn = true, child_gbvims = true WHERE id = $1`, [adult]);
    const police = await organizationId(t, tokens['ward.longbien'], 'Công an phường Long Biên');
    const duty = randomUUID();
    await owner.query(
      `INSERT INTO consents (id, case_id, organization_id, categories, legal_basis, enc_reason, created_by)
       SELECT $1, c.id, $3, ARRAY['identity'], 'child_protection_duty', '\\x00'::bytea, c.created_by
         FROM cases c WHERE c.id = $2`,
      [duty, adult, police],
    );
    await asOfOldRules([adult]);
    // The flags are the report's, for reports and urgency: they move to the rules' judgement, the duty aside
    // (it grounds no new referral, consentMisfit, whatever the flags say).
    await expect(job.run()).resolves.toEqual({ rederived: 1, failed: 0 });
    expect((await rows([adult]))[0]).toMatchObject({
      child_vn: false,
      child_gbvims: false,
      derived_with: CASE_DERIVATIONS,
    });
    const refused = await as()
      .post(`/api/v1/cases/${adult}/referrals`, {
        organizationId: police,
        consentId: duty,
        services: ['police_protection'],
        urgency: 'urgent',
      })
      .expect(422);
    expect(refused.body.detail).toMatch(/no longer fits the survivor’s age/);

    // A girl of 12 at high risk whom the old rules took for an adult: her routine referral, made then, becomes
    // urgent and due within the law's 12 hours once she is known to be a child.
    const child = await register({ dateOfBirth: '2014-02-02' });
    await owner.query(`UPDATE cases SET child_vn = false, child_gbvims = false WHERE id = $1`, [child]);
    const health = await organizationId(t, tokens['ward.longbien'], 'Trạm y tế phường Long Biên');
    const consent = await giveConsent(t, tokens['ward.longbien'], child, {
      organizationId: health,
      categories: ['identity'],
      givenBy: 'guardian',
    });
    const made = await as()
      .post(`/api/v1/cases/${child}/referrals`, {
        organizationId: health,
        consentId: consent,
        services: ['medical_care'],
        urgency: 'routine',
      })
      .expect(201);
    expect(made.body.urgency).toBe('routine');
    await asOfOldRules([child]);
    await expect(job.run()).resolves.toEqual({ rederived: 1, failed: 0 });
    const [referral] = (
      await owner.query<{ urgency: string; hours: string }>(
        `SELECT urgency, extract(epoch FROM due_at - now()) / 3600 AS hours FROM referrals WHERE id = $1`,
        [made.body.id],
      )
    ).rows;
    expect(referral.urgency).toBe('urgent');
    expect(Number(referral.hours)).toBeLessThanOrEqual(12);
    // On the log, by the system (nobody changed the case): the provider's deadline moved.
    const raisedEntries = (
      await owner.query(
        `SELECT actor_id, action, reason, case_id, fields FROM audit_events WHERE resource_id = $1 AND action = 'referral.update'`,
        [made.body.id],
      )
    ).rows;
    expect(raisedEntries).toEqual([
      {
        actor_id: null,
        action: 'referral.update',
        reason: 'referral.statutory_deadline',
        case_id: child,
        fields: ['triage'],
      },
    ]);
    expect((await rows([child]))[0]).toMatchObject({ child_vn: true, child_gbvims: true });
  });

  it('marks a shredded case done without opening anything', async () => {
    const id = await register({ dateOfBirth: '1962-07-07' });
    await owner.query(
      `UPDATE cases SET shredded_at = now(), derived_with = 1, bi_name = NULL, bi_name_dob = NULL, bi_phone = NULL,
              bi_dob = NULL, enc_identity = NULL, enc_contact = NULL, enc_incident = NULL, enc_perpetrator = NULL,
              enc_health = NULL
        WHERE id = $1`,
      [id],
    );
    await owner.query(`DELETE FROM data_keys WHERE owner_id = $1`, [id]);
    await expect(t.app.get(CaseRederivation).run()).resolves.toEqual({ rederived: 1, failed: 0 });
    expect((await rows([id]))[0]).toMatchObject({ derived_with: CASE_DERIVATIONS, bi_name: null });
  });

  it('runs at start and every ten minutes, is started once, and stops with the service', async () => {
    // A job of its own, with the service's parts, whose timer the test holds.
    const own = new CaseRederivation(
      t.app.get(DataSource),
      t.app.get(DataKeyService),
      t.app.get(FieldEncryptionService),
      t.app.get(BlindIndexService),
      t.app.get(LOGGER),
      t.app.get(APP_CONFIG),
      t.app.get(AuditService),
    );
    const every = jest.spyOn(global, 'setInterval');
    const runs = jest.spyOn(own, 'run');
    const id = await register({ dateOfBirth: '1955-05-05' });
    await asOfOldRules([id]);
    const done = async () => (await rows([id]))[0].derived_with === CASE_DERIVATIONS;
    const until = async (want: boolean) => {
      for (let i = 0; i < 50 && (await done()) !== want; i++) await new Promise((r) => setTimeout(r, 100));
      return done();
    };
    try {
      own.start();
      own.start(); // started once
      expect(every).toHaveBeenCalledTimes(1);
      const [tick, ms] = every.mock.calls[0] as [() => void, number];
      expect(ms).toBe(10 * 60 * 1000);
      expect(await until(true)).toBe(true); // the run at start
      // A case left under the old rules later (an instance of the previous version): the next run takes it.
      await asOfOldRules([id]);
      tick();
      expect(await until(true)).toBe(true);
      await own.beforeApplicationShutdown();
      await asOfOldRules([id]);
      const before = runs.mock.calls.length;
      expect(before).toBe(2);
      tick(); // after the stop: no run
      expect(runs.mock.calls.length).toBe(before);
      await new Promise((r) => setTimeout(r, 300));
      expect(await done()).toBe(false);
    } finally {
      every.mockRestore();
      await own.beforeApplicationShutdown();
      await t.app.get(CaseRederivation).run();
    }
  });

  it('passes over a case whose sections cannot be opened, and tries it again at the next run', async () => {
    const good = await register({ dateOfBirth: '1969-02-01' });
    const broken = await register({ dateOfBirth: '1969-02-01' });
    await asOfOldRules([good, broken]);
    // Another row's ciphertext: bound to its own row, it does not open here.
    await owner.query(
      `UPDATE cases SET enc_identity = (SELECT enc_identity FROM cases WHERE id = $1) WHERE id = $2`,
      [good, broken],
    );
    const job = t.app.get(CaseRederivation);
    await expect(job.run()).resolves.toEqual({ rederived: 1, failed: 1 });
    await expect(job.run()).resolves.toEqual({ rederived: 0, failed: 1 });
    expect(await found({ dateOfBirth: '1969-02-01' })).toEqual([good]);
    expect((await rows([broken]))[0].derived_with).toBe(1);
    // Said in the log without anything of the case.
    const warned = t.logs.filter((l) => l.includes('case re-derivation'));
    expect(warned.at(-1)).toMatch(/"rederived":0,"failed":1/);
    // Named by id with the error's code, so that someone can put its key right.
    expect(JSON.parse(warned.at(-1)!)).toMatchObject({
      failedCases: [{ id: broken, code: 'crypto.unknown_key' }],
    });
    expect(warned.join('\n')).not.toMatch(/1969/);
    // Put right (here: its own ciphertext back is not possible; the case is shredded), nothing is left.
    await owner.query(`UPDATE cases SET shredded_at = now() WHERE id = $1`, [broken]);
    await expect(job.run()).resolves.toEqual({ rederived: 1, failed: 0 });
  });
});
