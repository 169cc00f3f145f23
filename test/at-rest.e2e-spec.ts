import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../src/database/data-source-options';
import type { TestApp } from './support/app';
import { logicalDump, scanDirectory } from './support/at-rest';
import { caseBody, DEMO_PASSWORD, organizationId, signInAll, startDemoApp, Tokens } from './support/casework';

/**
 * The stolen-backup threat on the real tables: survivor data entered through the API (case sections, consent
 * reason, referral note, decline reason, provider note, close reason) appears neither in the PostgreSQL data
 * directory after a CHECKPOINT nor in a dump of the database, in NFC, NFD or as its ASCII token. The triage
 * facts, which are plaintext by design, are found, so the scan is shown to work.
 */
describe('nothing readable at rest, through the real API and tables', () => {
  let t: TestApp;
  let tok: Tokens;
  let owner: DataSource;

  beforeAll(async () => {
    t = await startDemoApp();
    tok = await signInAll(t, ['ward.longbien', 'police.longbien', 'supervisor.hanoi']);
    owner = await new DataSource(
      dataSourceOptions({ url: t.db.url, poolSize: 1, applicationName: 'haven-test-at-rest' }),
    ).initialize();
  });
  afterAll(async () => {
    await owner?.destroy();
    await t?.close();
  });

  it('finds no survivor marker in the data directory or the dump', async () => {
    const token = () => `mk${randomBytes(8).toString('hex')}`;
    const m = {
      name: `Lê Thị Thuỷ Hoà ${token()}`.normalize('NFD'),
      phone: `09${String(randomBytes(4).readUInt32BE(0) % 1e8).padStart(8, '0')}`,
      address: `Ngõ ${token()} phố Ngọc Lâm, Long Biên`.normalize('NFC'),
      safety: `Chỉ gọi sau 8 giờ tối ${token()}`.normalize('NFC'),
      narrative: `Bị đe doạ bằng dao tại nhà ${token()}`.normalize('NFC'),
      perpetrator: `Phạm Văn Đe Doạ ${token()}`.normalize('NFC'),
      injuries: `Gãy xương cổ tay ${token()}`.normalize('NFD'),
      reason: `Nguy hiểm tức thời ${token()}`,
      referralNote: `Đưa đến nhà tạm lánh ${token()}`,
      providerNote: `Đã gặp nạn nhân ${token()}`,
      declineReason: `Không đủ nhân lực ${token()}`,
      revokeReason: `Nạn nhân đổi ý ${token()}`,
      justification: `Nghe tiếng kêu cứu tại nhà ${token()}`,
      reviewNote: `Cần thiết vì nguy hiểm ${token()}`,
      closeReason: `Đã chuyển nơi ở ${token()}`,
    };
    const http = () => request(t.app.getHttpServer());
    const ward = (method: 'post' | 'delete', url: string, body?: object) =>
      http()[method](url).set('Authorization', `Bearer ${tok['ward.longbien']}`).send(body);
    const police = (url: string, body?: object) =>
      http().post(url).set('Authorization', `Bearer ${tok['police.longbien']}`).send(body);

    const created = await ward(
      'post',
      '/api/v1/cases',
      caseBody({
        survivor: {
          fullName: m.name,
          sex: 'female',
          dateOfBirth: '1992-02-02',
          phone: m.phone,
          address: m.address,
          safeContactNotes: m.safety,
        },
        incident: { forms: ['physical'], gbvType: 'physical_assault', narrative: m.narrative },
        perpetrator: { fullName: m.perpetrator, relationship: 'former_partner' },
        health: { injuries: m.injuries },
      }),
    ).expect(201);
    const caseId = created.body.id as string;
    expect(created.body.survivor.fullName).toBe(m.name);
    expect(created.body.incident.narrative).toBe(m.narrative);
    const policeOrg = await organizationId(t, tok['ward.longbien'], 'Công an phường Long Biên');
    const consent = await ward('post', `/api/v1/cases/${caseId}/consents`, {
      organizationId: policeOrg,
      categories: ['identity', 'incident'],
      legalBasis: 'imminent_danger',
      reason: m.reason,
    }).expect(201);
    const r1 = await ward('post', `/api/v1/cases/${caseId}/referrals`, {
      organizationId: policeOrg,
      consentId: consent.body.id,
      services: ['police_protection'],
      urgency: 'emergency',
      note: m.referralNote,
    }).expect(201);
    await police(`/api/v1/referrals/${r1.body.id}/accept`).expect(200);
    await police(`/api/v1/referrals/${r1.body.id}/notes`, { text: m.providerNote }).expect(201);
    await police(`/api/v1/referrals/${r1.body.id}/complete`, { outcome: 'services_delivered' }).expect(200);
    /** Another routine referral of the case to the police, under the same consent. */
    const referAgain = () =>
      ward('post', `/api/v1/cases/${caseId}/referrals`, {
        organizationId: policeOrg,
        consentId: consent.body.id,
        services: ['investigation'],
        urgency: 'routine',
      }).expect(201);
    const r2 = await referAgain();
    await police(`/api/v1/referrals/${r2.body.id}/decline`, { reason: m.declineReason }).expect(200);
    const r3 = await referAgain();
    await ward('post', `/api/v1/referrals/${r3.body.id}/revoke`, { reason: m.revokeReason }).expect(200);
    // Emergency access, its justification and its review's note.
    const grant = await police(`/api/v1/cases/${caseId}/break-glass`, {
      justification: m.justification,
      password: DEMO_PASSWORD,
    }).expect(201);
    await http()
      .post(`/api/v1/break-glass/${grant.body.id}/review`)
      .set('Authorization', `Bearer ${tok['supervisor.hanoi']}`)
      .send({ justified: true, note: m.reviewNote })
      .expect(200);
    await ward('post', `/api/v1/cases/${caseId}/close`, { reason: m.closeReason }).expect(200);

    // A plaintext value of this database alone (the access log keeps a request's user agent, its product/version
    // tokens: a version starts with a digit): found, it proves the scan reads this database's files (the case
    // code is the same in every test database of the cluster). Letters after the version's first digit: a token
    // with seven digits in a row is dropped from the log (it could be a phone number), and random hex has them
    // in one run of seven or so.
    const letters = randomBytes(8)
      .toString('hex')
      .replace(/[0-9]/g, (d) => 'ghijklmnop'[Number(d)]);
    const control = Buffer.from(`haven-at-rest-control/1.${letters}`);
    await http()
      .get(`/api/v1/cases/${caseId}`)
      .set('Authorization', `Bearer ${tok['ward.longbien']}`)
      .set('User-Agent', control.toString())
      .expect(200);

    await owner.query('CHECKPOINT');
    const needles = Object.values(m).flatMap((v) => [
      Buffer.from(v.normalize('NFC')),
      Buffer.from(v.normalize('NFD')),
      ...(v.match(/mk[0-9a-f]{16}/g) ?? []).map((x) => Buffer.from(x)),
    ]);

    const files = scanDirectory(process.env.HAVEN_TEST_PG_DATA_DIR!, [...needles, control]);
    expect(files.hits.get(control)?.length ?? 0).toBeGreaterThan(0);
    const leaks = needles
      .filter((n) => files.hits.has(n))
      .map((n) => ({ needle: n.toString(), files: files.hits.get(n) }));
    expect(leaks).toEqual([]);

    const dump = await logicalDump(owner, t.db.url);
    expect(dump.text.includes(control)).toBe(true);
    expect(needles.filter((n) => dump.text.includes(n)).map((n) => n.toString())).toEqual([]);
  });
});
