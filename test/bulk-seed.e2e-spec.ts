import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { Client } from 'pg';
import { bulkSeed, BulkSeedResult } from '../bench/scale/bulk-seed';
import { incidentDateOf } from '../src/cases/case-classification';
import { createCryptoServices, type CryptoServices } from '../src/crypto';
import type { TestApp } from './support/app';
import { caseBody, signInAll, startDemoApp, Tokens } from './support/casework';
import { withBearer } from './support/http';

/**
 * The scale benchmark's bulk seed writes straight into PostgreSQL. What it writes must be what the service
 * writes: cases the service decrypts and finds by blind index, case numbers that continue, referrals that pass
 * every constraint, and access-log entries that verify as one chain with the service's own.
 */
describe('bulk seed for the scale benchmark (bench/scale/bulk-seed.ts)', () => {
  jest.setTimeout(120000);
  let t: TestApp;
  let tokens: Tokens;
  let owner: Client;
  let seeded: BulkSeedResult;
  let crypto: CryptoServices;
  let indexesBefore: string[];
  // The seed drops the loaded tables' plain indexes and builds them again after the load.
  const indexes = async () =>
    (
      await owner.query<{ def: string }>(
        `SELECT indexdef AS def FROM pg_indexes
          WHERE tablename IN ('data_keys', 'cases', 'consents', 'referrals', 'audit_events') ORDER BY indexname`,
      )
    ).rows.map((r) => r.def);
  const as = (user: string) => withBearer(t, tokens[user]);

  beforeAll(async () => {
    t = await startDemoApp();
    tokens = await signInAll(t, ['ward.longbien', 'ward.bode', 'supervisor.hanoi']);
    // Entries of the service itself before the bulk ones: the chain must continue from them.
    await as('ward.longbien').post('/api/v1/cases', caseBody()).expect(201);
    owner = new Client({ connectionString: t.db.url });
    await owner.connect();
    crypto = await createCryptoServices({ dataDir: t.config.dataDir, production: false });
    indexesBefore = await indexes();
    seeded = await bulkSeed(owner, crypto, { cases: 400, auditEntries: 5000 });
  });
  afterAll(async () => {
    await owner.end();
    await t.close();
  });

  it('writes the cases, referrals and entries it reports', async () => {
    expect(seeded).toMatchObject({ cases: 400, auditEntries: 5000 });
    const counts = await owner.query<{ cases: number; keys: number; referrals: number; entries: number }>(
      `SELECT (SELECT count(*)::int FROM cases) AS cases, (SELECT count(*)::int FROM data_keys) AS keys,
              (SELECT count(*)::int FROM referrals) AS referrals, (SELECT count(*)::int FROM audit_events) AS entries`,
    );
    expect(counts.rows[0].cases).toBe(401);
    expect(counts.rows[0].keys).toBe(401);
    expect(counts.rows[0].referrals).toBe(seeded.referrals);
    expect(seeded.referrals).toBeGreaterThan(150);
    expect(counts.rows[0].entries).toBeGreaterThan(5000);
  });

  it('leaves every index of the tables it loads as the migrations made it', async () => {
    expect(indexesBefore.length).toBeGreaterThan(25);
    expect(await indexes()).toEqual(indexesBefore);
    const invalid = await owner.query(`SELECT 1 FROM pg_index WHERE NOT indisvalid OR NOT indisready`);
    expect(invalid.rowCount).toBe(0);
  });

  it('leaves nothing behind when it fails: each part is one transaction, its indexes included', async () => {
    const state = async () =>
      (
        await owner.query(
          `SELECT (SELECT count(*)::int FROM cases) AS cases, (SELECT count(*)::int FROM data_keys) AS keys,
                  (SELECT count(*)::int FROM audit_events) AS entries,
                  (SELECT count(*)::int FROM organizations) AS organizations,
                  (SELECT array_agg(last_seq ORDER BY stripe) FROM audit_chain_heads) AS heads`,
        )
      ).rows[0];
    const before = await state();
    // Fails at the nth call: the 25th case (two batches of 10 already on their way), the 100th entry.
    const failingAt = <A extends unknown[], R>(n: number, fn: (...args: A) => R) => {
      let calls = 0;
      return (...args: A): R => {
        if (++calls === n) throw new Error('injected failure');
        return fn(...args);
      };
    };
    const keyProvider = Object.create(crypto.keyProvider) as CryptoServices['keyProvider'];
    keyProvider.wrapDek = failingAt(25, crypto.keyProvider.wrapDek.bind(crypto.keyProvider));
    await expect(
      bulkSeed(owner, { ...crypto, keyProvider }, { cases: 30, auditEntries: 0, caseBatch: 10 }),
    ).rejects.toThrow('injected failure');
    expect(await state()).toEqual(before);
    expect(await indexes()).toEqual(indexesBefore);

    // A keyring holding another key under the database's version seeds nothing.
    const stranger = await createCryptoServices({
      dataDir: await mkdtemp(join(t.config.dataDir, 'stranger-')),
      production: false,
    });
    await expect(bulkSeed(owner, stranger, { cases: 5, auditEntries: 0 })).rejects.toThrow(
      /another key than the database's \(kek_checks\)/,
    );
    expect(await state()).toEqual(before);

    const keys = Object.create(crypto.keys) as CryptoServices['keys'];
    keys.auditChainMac = failingAt(100, crypto.keys.auditChainMac.bind(crypto.keys));
    await expect(bulkSeed(owner, { ...crypto, keys }, { cases: 0, auditEntries: 500 })).rejects.toThrow(
      'injected failure',
    );
    expect(await state()).toEqual(before);
    expect(await indexes()).toEqual(indexesBefore);
  });

  it('seeds cases the service lists, decrypts and finds by name and phone', async () => {
    const inScope = await owner.query<{ id: string }>(
      `SELECT id FROM cases WHERE ward_code = '00145' AND code <> (SELECT min(code) FROM cases) ORDER BY code LIMIT 3`,
    );
    expect(inScope.rows.length).toBeGreaterThan(0);
    const total = (
      await owner.query<{ n: number }>(`SELECT count(*)::int AS n FROM cases WHERE ward_code = '00145'`)
    ).rows[0].n;
    const list = await as('ward.longbien').get('/api/v1/cases?pageSize=1').expect(200);
    expect(list.body.total).toBe(total);

    for (const { id } of inScope.rows) {
      const view = await as('ward.longbien').get(`/api/v1/cases/${id}`).expect(200);
      const name = view.body.survivor.fullName as string;
      const serial = /^Người Thử Tải (\d+)$/.exec(name)?.[1];
      expect(serial).toBeDefined();
      expect(view.body.survivor.phone).toBe(`09${serial!.padStart(8, '0')}`);
      expect(view.body.incident.narrative).toContain(serial);

      const byName = await as('ward.longbien').post('/api/v1/cases/search', {
        fullName: `nguoi thu tai ${serial}`,
      });
      expect(byName.status).toBe(200);
      expect(byName.body.items.map((i: { id: string }) => i.id)).toContain(id);
      const byPhone = await as('ward.longbien').post('/api/v1/cases/search', {
        phone: view.body.survivor.phone,
      });
      expect(byPhone.body.items.map((i: { id: string }) => i.id)).toContain(id);
    }
  });

  it('seeds what the service would have written: consents the survivor’s age allows, the law’s urgency, reasons, Vietnam dates, nothing to come', async () => {
    const one = async (sql: string) => (await owner.query<{ n: number }>(sql)).rows[0].n;
    // Children under 16 consent through a guardian; none of the seeded consents is one the service refuses
    // (each is given at the report: the age then is the case's flags).
    expect(
      await one(`SELECT count(*)::int AS n FROM consents cs JOIN cases c ON c.id = cs.case_id
                  WHERE (cs.given_by = 'survivor' AND c.child_vn IS TRUE)
                     OR (cs.legal_basis = 'child_protection_duty' AND c.child_gbvims IS FALSE)`),
    ).toBe(0);
    expect(
      await one(`SELECT count(*)::int AS n FROM consents cs JOIN cases c ON c.id = cs.case_id
                  WHERE c.child_vn AND cs.given_by = 'guardian'`),
    ).toBeGreaterThan(0);
    // A child under 16 at high or critical risk is referred urgently at least, due within the law's 12 hours.
    const urgentChildren = await owner.query<{ urgency: string; hours: number }>(
      `SELECT r.urgency, extract(epoch FROM r.due_at - r.created_at) / 3600 AS hours
         FROM referrals r JOIN cases c ON c.id = r.case_id
        WHERE c.child_vn AND c.risk_level IN ('high', 'critical')`,
    );
    expect(urgentChildren.rows.length).toBeGreaterThan(0);
    for (const row of urgentChildren.rows) {
      expect(row.urgency).not.toBe('routine');
      expect(Number(row.hours)).toBeLessThanOrEqual(12);
    }
    // Every decline and revocation has its reason; nothing happened after the seed ran.
    expect(
      await one(`SELECT count(*)::int AS n FROM referrals
                  WHERE (status = 'declined' AND enc_decline_reason IS NULL)
                     OR (status = 'revoked' AND enc_revoke_reason IS NULL)`),
    ).toBe(0);
    expect(
      await one(`SELECT count(*)::int AS n FROM referrals
                  WHERE greatest(created_at, accepted_at, declined_at, completed_at, revoked_at) > now()`),
    ).toBe(0);
    // The reason opens for the ward, as one the service sealed; the incident's date is Vietnam's.
    const ended = await owner.query<{ id: string; status: string; ward_code: string }>(
      `SELECT r.id, r.status, c.ward_code FROM referrals r JOIN cases c ON c.id = r.case_id
        WHERE r.status IN ('declined', 'revoked') AND c.ward_code IN ('00145', '00118') ORDER BY r.id LIMIT 2`,
    );
    expect(ended.rows.length).toBeGreaterThan(0);
    for (const row of ended.rows) {
      const officer = row.ward_code === '00145' ? 'ward.longbien' : 'ward.bode';
      const view = await as(officer).get(`/api/v1/referrals/${row.id}`).expect(200);
      const reason = row.status === 'declined' ? view.body.declineReason : view.body.revokeReason;
      expect(reason).toMatch(/^Lý do thử tải số \d+/);
      const caseView = await as(officer).get(`/api/v1/cases/${view.body.caseId}`).expect(200);
      expect(caseView.body.triage.incidentDate).toBe(incidentDateOf(caseView.body.incident.occurredAt));
    }
  });

  it('continues the case numbers: a case registered afterwards gets the next free one', async () => {
    const res = await as('ward.longbien').post('/api/v1/cases', caseBody()).expect(201);
    const clash = await owner.query(`SELECT 1 FROM cases WHERE code = $1 AND id <> $2`, [
      res.body.code,
      res.body.id,
    ]);
    expect(clash.rowCount).toBe(0);
  });

  it('seeds fewer entries than there are chain stripes, leaving the other stripes’ heads as they were', async () => {
    const heads = async () =>
      (
        await owner.query<{ stripe: number; last_seq: string }>(
          `SELECT stripe, last_seq FROM audit_chain_heads ORDER BY stripe`,
        )
      ).rows;
    const before = await heads();
    const small = await bulkSeed(owner, crypto, { cases: 2, auditEntries: 5 });
    expect(small).toMatchObject({ cases: 2, auditEntries: 5 });
    const after = await heads();
    const moved = after.filter((h, i) => h.last_seq !== before[i].last_seq);
    expect(moved).toHaveLength(5);
    const res = await as('supervisor.hanoi').get('/api/v1/audit/verify').expect(200);
    expect(res.body).toMatchObject({ ok: true });
  });

  it('appends entries that verify as one chain with the service’s own, before and after', async () => {
    await as('ward.longbien').get('/api/v1/cases').expect(200); // an entry after the bulk ones
    const res = await as('supervisor.hanoi').get('/api/v1/audit/verify').expect(200);
    expect(res.body).toMatchObject({ ok: true });
    expect(res.body.checked).toBeGreaterThan(5000);
    // And the check can fail: one bulk entry changed by a superuser is found.
    await owner.query(`SET session_replication_role = replica`);
    const target = await owner.query<{ seq: string }>(
      `SELECT seq FROM audit_events WHERE action = 'case.list' AND actor_role = 'ward_officer' ORDER BY seq LIMIT 1 OFFSET 10`,
    );
    await owner.query(`UPDATE audit_events SET returned_ids = returned_ids[2:] WHERE seq = $1`, [
      target.rows[0].seq,
    ]);
    await owner.query(`RESET session_replication_role`);
    const after = await as('supervisor.hanoi').get('/api/v1/audit/verify').expect(200);
    expect(after.body).toMatchObject({ ok: false, firstBadSeq: Number(target.rows[0].seq) });
  });
});
