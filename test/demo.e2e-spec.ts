import request from 'supertest';
import { DataSource } from 'typeorm';
import { DEMO_ACCOUNTS } from '../src/identity/demo-accounts';
import { startTestApp, TestApp } from './support/app';
import { givenSignedIn } from './support/identity';

const DEMO_PASSWORD = 'demo-passphrase-for-tests-7';

describe('demo data set (end to end)', () => {
  let t: TestApp;
  const http = () => request(t.app.getHttpServer());
  const login = (username: string) =>
    http().post('/api/v1/auth/login').send({ username, password: DEMO_PASSWORD }).expect(200);

  beforeAll(async () => {
    t = await startTestApp({ HAVEN_DEMO: '1', HAVEN_DEMO_PASSWORD: DEMO_PASSWORD });
  });
  afterAll(async () => {
    await t.close();
  });

  it('seeds every contract account; each signs in with the demo password, without two-factor in demo mode', async () => {
    for (const a of DEMO_ACCOUNTS) {
      const res = await login(a.username);
      expect(res.body.user).toMatchObject({ username: a.username, role: a.role });
      expect(res.body.totpEnrollmentRequired).toBe(false);
    }
  });

  it('gives each account the contract scope', async () => {
    const me = async (username: string) =>
      (
        await http()
          .get('/api/v1/auth/me')
          .auth((await login(username)).body.accessToken, { type: 'bearer' })
          .expect(200)
      ).body;
    expect(await me('ward.longbien')).toMatchObject({ role: 'ward_officer', wardCodes: ['00145'] });
    expect(await me('ward.bode')).toMatchObject({ wardCodes: ['00118'] });
    expect(await me('supervisor.hanoi')).toMatchObject({ role: 'supervisor', provinceCode: '01' });
    expect(await me('supervisor.haiphong')).toMatchObject({ provinceCode: '31' });

    const token = (await login('ward.longbien')).body.accessToken;
    const orgs = await http()
      .get('/api/v1/organizations?wardCode=00145')
      .auth(token, { type: 'bearer' })
      .expect(200);
    const byName = Object.fromEntries(
      (orgs.body.items as { id: string; name: string; sector: string; serviceArea: unknown }[]).map((o) => [
        o.name,
        o,
      ]),
    );
    expect(byName['Công an phường Long Biên']).toMatchObject({
      sector: 'police',
      serviceArea: { type: 'communes', provinceCode: '01', communeCodes: ['00145'] },
    });
    expect(byName['Trạm y tế phường Long Biên']).toMatchObject({ sector: 'health' });
    expect(byName['Trung tâm Công tác xã hội Hà Nội']).toMatchObject({
      sector: 'social',
      serviceArea: { type: 'province', provinceCode: '01' },
    });
    const police = await me('police.longbien');
    expect(police.organizationId).toBe(byName['Công an phường Long Biên'].id);
    expect((await me('social.hanoi')).organizationId).toBe(byName['Trung tâm Công tác xã hội Hà Nội'].id);
  });

  it("the demo's administrator uses the contract's administration routes as written (no step-up); other administrators step up", async () => {
    const newWardOfficer = (token: string, username: string, ward: string) =>
      http()
        .post('/api/v1/users')
        .auth(token, { type: 'bearer' })
        .send({ username, password: 'quiet-harbour-lantern-52', role: 'ward_officer', wardCodes: [ward] });
    const admin = (await login('admin')).body.accessToken as string;
    const made = await newWardOfficer(admin, 'ward.vietHung', '00127').expect(201);
    await http()
      .patch(`/api/v1/users/${made.body.id}`)
      .auth(admin, { type: 'bearer' })
      .send({ status: 'disabled' })
      .expect(200);
    await http()
      .post('/api/v1/organizations')
      .auth(admin, { type: 'bearer' })
      .send({
        name: 'Trạm y tế phường Việt Hưng',
        sector: 'health',
        serviceArea: { communeCodes: ['00127'] },
      })
      .expect(201);
    // An administrator who is not one of the demo's accounts (made in demo mode) is asked for a step-up.
    const { token } = await givenSignedIn(t, { role: 'admin', username: 'admin.real' }, { steppedUp: false });
    const refused = await newWardOfficer(token, 'ward.phucLoi', '00136').expect(403);
    expect(refused.body.code).toBe('auth.step_up_required');
    // What the demo's administrator made is the demo's (shut once the demo stops: demo_account); what another
    // makes is not.
    const other = (await givenSignedIn(t, { role: 'admin', username: 'admin.other' })).token;
    const real = await newWardOfficer(other, 'ward.phucLoi', '00136').expect(201);
    const demoFlags = await t.app
      .get(DataSource)
      .query<{ id: string; demo_account: boolean; made_in_demo: boolean }[]>(
        `SELECT id, demo_account, made_in_demo FROM users WHERE id = ANY($1::uuid[]) ORDER BY username`,
        [[made.body.id, real.body.id]],
      );
    expect(demoFlags).toEqual([
      { id: real.body.id, demo_account: false, made_in_demo: false },
      { id: made.body.id, demo_account: true, made_in_demo: true },
    ]);
    // And so is what such an account makes in turn (an administrator the demo's made, set up by whoever holds
    // the printed password).
    const second = await givenSignedIn(t, { role: 'admin', username: 'admin.second' });
    // (Flagged as UsersService flags an account the demo's administrator makes; its session reads it per request.)
    await t.app
      .get(DataSource)
      .query(`UPDATE users SET demo_account = true, made_in_demo = true WHERE id = $1`, [second.user.id]);
    const grandchild = await newWardOfficer(second.token, 'ward.phucDong', '00118').expect(201);
    const [flags] = await t.app
      .get(DataSource)
      .query<{ demo_account: boolean; made_in_demo: boolean }[]>(
        `SELECT demo_account, made_in_demo FROM users WHERE id = $1`,
        [grandchild.body.id],
      );
    expect(flags).toEqual({ demo_account: true, made_in_demo: true });
    // But it does not share the demo's password: it is asked for two-factor as any account of its role.
    await http()
      .post('/api/v1/users')
      .auth(admin, { type: 'bearer' })
      .send({
        username: 'supervisor.made',
        password: 'quiet-harbour-lantern-52',
        role: 'supervisor',
        provinceCode: '01',
      })
      .expect(201);
    const signedIn = await http()
      .post('/api/v1/auth/login')
      .send({ username: 'supervisor.made', password: 'quiet-harbour-lantern-52' })
      .expect(200);
    expect(signedIn.body.totpEnrollmentRequired).toBe(true);
  });

  it('never logs the demo password', () => {
    expect(t.logs.join('')).not.toContain(DEMO_PASSWORD);
  });
});
