import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { defineAbilityFor } from '../src/authz/ability.factory';
import type { Principal } from '../src/authz/principal';
import { PasswordHasher } from '../src/crypto/password-hasher';
import { UsersRepository } from '../src/identity/users.repository';
import { UsersService } from '../src/identity/users.service';
import { startTestApp, TestApp } from './support/app';
import {
  adminPrincipal,
  givenDemoUnits,
  givenOrganization,
  givenSignedIn,
  givenTotp,
  givenUser,
} from './support/identity';
import { held } from './support/gate';
import { someoneWaitsForALock } from './support/wait';
import { withBearer } from './support/http';

const PROBLEM = /^application\/problem\+json/;

describe('directory and account administration (end to end)', () => {
  let t: TestApp;
  let admin: string;
  let ward: string;
  let supervisor: string;
  const http = () => request(t.app.getHttpServer());
  const as = (token: string) => withBearer(t, token);

  beforeAll(async () => {
    t = await startTestApp();
    await givenDemoUnits(t);
    admin = (await givenSignedIn(t, { role: 'admin' })).token;
    ward = (await givenSignedIn(t, { role: 'ward_officer', wardCodes: ['00145'] })).token;
    supervisor = (await givenSignedIn(t, { role: 'supervisor', provinceCode: '01' })).token;
  });
  afterAll(async () => {
    await t.close();
  });

  describe('administrative units', () => {
    it('lists the provinces, or the communes of one province, to anyone signed in', async () => {
      const provinces = await as(ward).get('/api/v1/admin-units').expect(200);
      expect(provinces.body.items.map((u: { code: string }) => u.code)).toEqual(['01', '11', '31']);
      expect(provinces.body.items[0]).toEqual({
        code: '01',
        level: 'province',
        kind: 'thanh_pho',
        provinceCode: null,
        nameVi: 'Hà Nội',
        nameEn: 'Hanoi',
        fullNameVi: 'Thành phố Hà Nội',
        fullNameEn: 'Hanoi City',
      });
      const communes = await as(supervisor).get('/api/v1/admin-units?province=01').expect(200);
      expect(communes.body.items.map((u: { code: string }) => u.code)).toEqual(
        expect.arrayContaining(['00145', '00118', '00127', '00136']),
      );
      expect(communes.body.items.every((u: { provinceCode: string }) => u.provinceCode === '01')).toBe(true);
      await as(ward).get('/api/v1/admin-units?province=99').expect(200, { items: [] });
      await as(ward).get('/api/v1/admin-units?province=abc').expect(400);
    });

    it('needs a signed-in caller', async () => {
      const res = await http().get('/api/v1/admin-units').expect(401);
      expect(res.headers['content-type']).toMatch(PROBLEM);
    });
  });

  describe('organisations', () => {
    let policeId: string;

    it('an admin creates organisations serving communes or a whole province', async () => {
      const police = await as(admin)
        .post('/api/v1/organizations', {
          name: 'Công an phường Long Biên',
          sector: 'police',
          serviceArea: { communeCodes: ['00145'] },
        })
        .expect(201);
      policeId = police.body.id;
      expect(police.body).toEqual({
        id: expect.any(String),
        name: 'Công an phường Long Biên',
        sector: 'police',
        serviceArea: { type: 'communes', provinceCode: '01', communeCodes: ['00145'] },
        status: 'active',
        retiredAt: null,
      });
      const social = await as(admin)
        .post('/api/v1/organizations', {
          name: 'Trung tâm Công tác xã hội Hà Nội',
          sector: 'social',
          serviceArea: { provinceCode: '01' },
        })
        .expect(201);
      expect(social.body.serviceArea).toEqual({ type: 'province', provinceCode: '01' });
      await as(admin)
        .post('/api/v1/organizations', {
          name: 'Bệnh viện Hải Phòng',
          sector: 'health',
          serviceArea: { provinceCode: '31' },
        })
        .expect(201);
    });

    it('a name or a filter with a NUL character is a 400, not a statement PostgreSQL refuses (500)', async () => {
      const named = await as(admin)
        .post('/api/v1/organizations', {
          name: 'Trạm y tế\u0000 giả định',
          sector: 'health',
          serviceArea: { provinceCode: '01' },
        })
        .expect(400);
      expect(named.body.code).toBe('request.validation');
      expect(named.body.detail).toMatch(/NUL/);
      await as(ward).get('/api/v1/organizations?wardCode=00145%00').expect(400);
    });

    it('anyone signed in lists them, filtered by sector and by the commune served', async () => {
      const all = await as(ward).get('/api/v1/organizations').expect(200);
      expect(all.body.items).toHaveLength(3);
      const longBien = await as(ward).get('/api/v1/organizations?wardCode=00145').expect(200);
      expect(longBien.body.items.map((o: { name: string }) => o.name).sort()).toEqual([
        'Công an phường Long Biên',
        'Trung tâm Công tác xã hội Hà Nội',
      ]);
      const boDe = await as(ward).get('/api/v1/organizations?wardCode=00118').expect(200);
      expect(boDe.body.items.map((o: { name: string }) => o.name)).toEqual([
        'Trung tâm Công tác xã hội Hà Nội',
      ]);
      const police = await as(supervisor)
        .get('/api/v1/organizations?sector=police&wardCode=00145')
        .expect(200);
      expect(police.body.items.map((o: { id: string }) => o.id)).toEqual([policeId]);
      await as(ward).get('/api/v1/organizations?sector=army').expect(400);
      await as(ward).get(`/api/v1/organizations/${policeId}`).expect(200);
    });

    it('lists them in pages, with the total', async () => {
      const all = await as(ward).get('/api/v1/organizations').expect(200);
      expect(all.body).toMatchObject({ total: 3, page: 1, pageSize: 200 });
      const pages = [];
      for (const page of [1, 2, 3]) {
        const res = await as(ward).get(`/api/v1/organizations?page=${page}&pageSize=1`).expect(200);
        expect(res.body).toMatchObject({ total: 3, page, pageSize: 1 });
        pages.push(...res.body.items);
      }
      expect(pages).toEqual(all.body.items);
      const past = await as(ward).get('/api/v1/organizations?page=4&pageSize=1').expect(200);
      expect(past.body).toMatchObject({ items: [], total: 3 });
      await as(ward).get('/api/v1/organizations?pageSize=201').expect(400);
      await as(ward).get('/api/v1/organizations?page=10001&pageSize=1').expect(200);
      const deep = await as(ward).get('/api/v1/organizations?page=10002&pageSize=1').expect(400);
      expect(deep.body.errors[0].field).toBe('page');
    });

    it('an admin updates name, sector and service area', async () => {
      const res = await as(admin)
        .patch(`/api/v1/organizations/${policeId}`, {
          name: 'Công an phường Long Biên (mới)',
          serviceArea: { communeCodes: ['00145', '00127'] },
        })
        .expect(200);
      expect(res.body.serviceArea).toEqual({
        type: 'communes',
        provinceCode: '01',
        communeCodes: ['00127', '00145'],
      });
      const viet = await as(ward).get('/api/v1/organizations?wardCode=00127').expect(200);
      expect(viet.body.items.map((o: { id: string }) => o.id)).toContain(policeId);
      // A list where the area is an object is a malformed body (400), not an area that names nothing (422).
      for (const serviceArea of [[{ provinceCode: '01' }], []]) {
        const bad = await as(admin).patch(`/api/v1/organizations/${policeId}`, { serviceArea }).expect(400);
        expect(bad.body.errors.map((e: { field: string }) => e.field)).toContain('serviceArea');
      }
    });

    it('two area changes at once leave the organisation in one province: one after the other', async () => {
      const org = (
        await as(admin)
          .post('/api/v1/organizations', {
            name: 'Tổ chức đổi địa bàn đồng thời (giả định)',
            sector: 'legal',
            serviceArea: { communeCodes: ['00145'] },
          })
          .expect(201)
      ).body.id as string;
      // Without the organisation's row lock this failed in about two runs of three (20 rounds each).
      for (let round = 0; round < 20; round++) {
        const answers = await Promise.all([
          as(admin).patch(`/api/v1/organizations/${org}`, { serviceArea: { communeCodes: ['10507'] } }),
          as(admin).patch(`/api/v1/organizations/${org}`, {
            serviceArea: { communeCodes: ['00118', '00127'] },
          }),
        ]);
        expect(answers.map((a) => a.status)).toEqual([200, 200]);
        const rows = await t.app.get(DataSource).query<{ province_code: string }[]>(
          `SELECT DISTINCT u.province_code FROM organization_communes oc
             JOIN admin_units u ON u.code = oc.commune_code WHERE oc.organization_id = $1`,
          [org],
        );
        expect(rows).toHaveLength(1);
      }
    });

    it('puts every creation and change on the access log, in the province served (both when it moves)', async () => {
      const entries = (id: string) =>
        t.app
          .get(DataSource)
          .query<{ action: string; outcome: string; reason: string | null; jurisdictions: string[] }[]>(
            `SELECT action, outcome, reason, jurisdictions FROM audit_events WHERE resource_id = $1 ORDER BY seq`,
            [id],
          );
      // The police station's creation and the change above (renamed, area changed; same province).
      expect(await entries(policeId)).toEqual([
        { action: 'organization.create', outcome: 'allowed', reason: null, jurisdictions: ['01'] },
        {
          action: 'organization.update',
          outcome: 'allowed',
          reason: 'organization.renamed',
          jurisdictions: ['01'],
        },
        {
          action: 'organization.update',
          outcome: 'allowed',
          reason: 'organization.area_changed',
          jurisdictions: ['01'],
        },
      ]);
      // A Hai Phong hospital becomes police in Ha Noi: what its providers may read changes, and both provinces'
      // supervisors see it. Sending the same name changes nothing and writes nothing.
      const all = await as(admin).get('/api/v1/organizations').expect(200);
      const hospital = all.body.items.find((o: { name: string }) => o.name === 'Bệnh viện Hải Phòng');
      await as(admin)
        .patch(`/api/v1/organizations/${hospital.id}`, {
          name: 'Bệnh viện Hải Phòng',
          sector: 'police',
          serviceArea: { provinceCode: '01' },
        })
        .expect(200);
      expect((await entries(hospital.id)).slice(1)).toEqual(
        ['organization.sector_changed', 'organization.area_changed'].map((reason) => ({
          action: 'organization.update',
          outcome: 'allowed',
          reason,
          jurisdictions: ['01', '31'],
        })),
      );
      // The same values again (the police station's communes in another order too): no change, no entry.
      await as(admin)
        .patch(`/api/v1/organizations/${hospital.id}`, {
          sector: 'police',
          serviceArea: { provinceCode: '01' },
        })
        .expect(200);
      await as(admin)
        .patch(`/api/v1/organizations/${policeId}`, { serviceArea: { communeCodes: ['00127', '00145'] } })
        .expect(200);
      expect(await entries(hospital.id)).toHaveLength(3);
      expect(await entries(policeId)).toHaveLength(3);
      // A refused change is on record in the organisation's province.
      await as(admin)
        .patch(`/api/v1/organizations/${hospital.id}`, { name: 'Trung tâm Công tác xã hội Hà Nội' })
        .expect(409);
      expect((await entries(hospital.id)).at(-1)).toEqual({
        action: 'organization.update',
        outcome: 'denied',
        reason: 'organization.name_taken',
        jurisdictions: ['01'],
      });
      // Refused at the route: on record too.
      await as(ward).patch(`/api/v1/organizations/${hospital.id}`, { sector: 'health' }).expect(404);
      expect((await entries(hospital.id)).at(-1)).toMatchObject({
        action: 'organization.update',
        outcome: 'denied',
        reason: 'auth.forbidden',
      });
    });

    it('refuses bad service areas and duplicate names with clear problems', async () => {
      const both = await as(admin)
        .post('/api/v1/organizations', {
          name: 'X',
          sector: 'legal',
          serviceArea: { provinceCode: '01', communeCodes: ['00145'] },
        })
        .expect(422);
      expect(both.body.errors[0]).toMatchObject({ field: 'serviceArea', code: 'exactlyOne' });
      const unknown = await as(admin)
        .post('/api/v1/organizations', {
          name: 'X',
          sector: 'legal',
          serviceArea: { communeCodes: ['99999'] },
        })
        .expect(422);
      expect(unknown.body.errors[0].code).toBe('unknownCommune');
      const twoProvinces = await as(admin)
        .post('/api/v1/organizations', {
          name: 'X',
          sector: 'legal',
          serviceArea: { communeCodes: ['00145', '10507'] },
        })
        .expect(422);
      expect(twoProvinces.body.errors[0].code).toBe('oneProvince');
      const noProvince = await as(admin)
        .post('/api/v1/organizations', { name: 'X', sector: 'legal', serviceArea: { provinceCode: '99' } })
        .expect(422);
      expect(noProvince.body.errors[0]).toMatchObject({
        field: 'serviceArea.provinceCode',
        code: 'unknownProvince',
      });
      const dup = await as(admin)
        .post('/api/v1/organizations', {
          name: 'trung tâm công tác xã hội hà nội',
          sector: 'social',
          serviceArea: { provinceCode: '01' },
        })
        .expect(409);
      expect(dup.body.code).toBe('organization.name_taken');
      await as(admin)
        .post('/api/v1/organizations', { name: 'X', sector: 'army', serviceArea: {} })
        .expect(400);
      // Each refusal of the service is on record with its reason, in the provinces the area named that exist
      // (the malformed body, refused before it, is not: it names no organisation and asks nothing of one).
      const refused = await t.app
        .get(DataSource)
        .query<{ reason: string; jurisdictions: string[] }[]>(
          `SELECT reason, jurisdictions FROM audit_events WHERE action = 'organization.create' AND outcome = 'denied' ORDER BY seq DESC LIMIT 5`,
        );
      expect(refused.reverse()).toEqual([
        { reason: 'unprocessable', jurisdictions: ['01'] },
        { reason: 'unprocessable', jurisdictions: [] },
        { reason: 'unprocessable', jurisdictions: ['01', '31'] },
        { reason: 'unprocessable', jurisdictions: [] },
        { reason: 'organization.name_taken', jurisdictions: ['01'] },
      ]);
      // A province sent as null is no province: a 400 naming the field, as for any field that takes no null.
      const nullProvince = await as(admin)
        .post('/api/v1/organizations', { name: 'X', sector: 'legal', serviceArea: { provinceCode: null } })
        .expect(400);
      expect(nullProvince.body.errors).toContainEqual(
        expect.objectContaining({ field: 'serviceArea.provinceCode', code: 'isNotNull' }),
      );
    });

    it('a name is the same whatever its case, Unicode form or spacing, and is stored composed', async () => {
      // The same name in Vietnamese capitals, typed decomposed (NFD), or with its spaces doubled: taken too.
      for (const name of [
        'TRUNG TÂM CÔNG TÁC XÃ HỘI HÀ NỘI',
        'Trung tâm Công tác xã hội Hà Nội'.normalize('NFD'),
        '  Trung  tâm Công tác xã hội   Hà Nội ',
      ]) {
        const same = await as(admin)
          .post('/api/v1/organizations', { name, sector: 'social', serviceArea: { provinceCode: '01' } })
          .expect(409);
        expect(same.body.code).toBe('organization.name_taken');
      }
      // A name stored decomposed would not match its composed search: names are stored composed.
      const composed = await as(admin)
        .post('/api/v1/organizations', {
          name: 'Đội Hỗ Trợ Thử Nghiệm'.normalize('NFD'),
          sector: 'legal',
          serviceArea: { provinceCode: '01' },
        })
        .expect(201);
      expect(composed.body.name).toBe('Đội Hỗ Trợ Thử Nghiệm'.normalize('NFC'));
      // 200 characters as the validator counts them, 201 as the database does (emoji variation selectors): a
      // 400 naming the field, not the table's CHECK as a 500.
      const long = await as(admin)
        .post('/api/v1/organizations', {
          name: `${'a'.repeat(199)}\u2764\uFE0F`,
          sector: 'legal',
          serviceArea: { provinceCode: '01' },
        })
        .expect(400);
      expect(long.body.errors[0].field).toBe('name');
    });

    it('a name is the same whichever vowel of oa, oe or uy bears its tone, with Ð for Đ; one no one can read is refused', async () => {
      const create = (name: string) =>
        as(admin).post('/api/v1/organizations', {
          name,
          sector: 'health',
          serviceArea: { provinceCode: '01' },
        });
      await create('Trạm y tế phường Yên Hòa (thử nghiệm)').expect(201);
      await create('Ðội thủy thử nghiệm').expect(201);
      // As the official list of units writes it, as old text converted writes Đ: the same organisations.
      for (const name of ['TRẠM Y TẾ PHƯỜNG YÊN HOÀ (thử nghiệm)', 'Đội thuỷ thử nghiệm']) {
        const same = await create(name).expect(409);
        expect(same.body.code).toBe('organization.name_taken');
      }
      // Nothing a list shows (a zero-width space), a right-to-left override that shows a name reversed, a line
      // break, no letter: refused, in both languages, before anything is written.
      const unreadable = [
        ['\u200b', 'contains a control or invisible character', 'chứa ký tự điều khiển hoặc ký tự ẩn'],
        [
          'Trạm y tế\u202e phường Yên Hòa',
          'contains a control or invisible character',
          'chứa ký tự điều khiển hoặc ký tự ẩn',
        ],
        [
          'Trạm y tế\nphường',
          'contains a control or invisible character',
          'chứa ký tự điều khiển hoặc ký tự ẩn',
        ],
        ['12 - 34', 'has no letter', 'không có chữ cái nào'],
      ];
      for (const [name, en, vi] of unreadable) {
        const refused = await create(name).expect(400);
        expect(refused.body.errors).toEqual([{ field: 'name', code: 'invalid', message: en }]);
        const inVietnamese = await create(name).set('Accept-Language', 'vi').expect(400);
        expect(inVietnamese.body.errors).toEqual([{ field: 'name', code: 'invalid', message: vi }]);
      }
      // A name stored before names were checked, sent back unchanged with another change: no new name, not
      // refused; a new one like it is.
      const legacy = 'Trạm y tế\u200b cũ (thử nghiệm)';
      const old = await create('Trạm y tế cũ tạm (thử nghiệm)').expect(201);
      await t.app
        .get(DataSource)
        .query(`UPDATE organizations SET name = $2 WHERE id = $1`, [old.body.id, legacy]);
      await as(admin)
        .patch(`/api/v1/organizations/${old.body.id}`, { name: legacy, sector: 'legal' })
        .expect(200);
      await as(admin)
        .patch(`/api/v1/organizations/${old.body.id}`, { name: `${legacy} 2` })
        .expect(400);
      const named = await t.app
        .get(DataSource)
        .query<{ n: number }[]>(
          `SELECT count(*)::int AS n FROM organizations WHERE name LIKE '%phường%' AND name ~ '[\u200b\u202e\n]'`,
        );
      expect(named).toEqual([{ n: 0 }]);
    });
    it('a retired organisation frees its name for a successor; reinstated while one holds it, it is refused', async () => {
      const body = {
        name: 'Trạm y tế xã thử sáp nhập',
        sector: 'health',
        serviceArea: { provinceCode: '01' },
      };
      const old = await as(admin).post('/api/v1/organizations', body).expect(201);
      expect((await as(admin).post('/api/v1/organizations', body).expect(409)).body.code).toBe(
        'organization.name_taken',
      );
      await as(admin).patch(`/api/v1/organizations/${old.body.id}`, { status: 'retired' }).expect(200);
      // Merged away: its successor takes the name, and the retired one keeps it (what its referrals showed).
      const successor = await as(admin)
        .post('/api/v1/organizations', { ...body, name: 'TRẠM Y TẾ XÃ THỬ SÁP NHẬP' })
        .expect(201);
      expect(successor.body.id).not.toBe(old.body.id);
      const kept = await as(admin).get(`/api/v1/organizations/${old.body.id}`).expect(200);
      expect(kept.body).toMatchObject({ name: body.name, status: 'retired' });
      // Brought back while the successor holds the name: refused, and nothing changed.
      const back = await as(admin)
        .patch(`/api/v1/organizations/${old.body.id}`, { status: 'active' })
        .expect(409);
      expect(back.body.code).toBe('organization.name_taken');
      expect((await as(admin).get(`/api/v1/organizations/${old.body.id}`).expect(200)).body.status).toBe(
        'retired',
      );
      // Renamed, it may come back.
      await as(admin)
        .patch(`/api/v1/organizations/${old.body.id}`, { status: 'active', name: 'Trạm y tế xã thử (cũ)' })
        .expect(200);
    });

    it('only admins create or change them: 403 for the collection, 404 for a record', async () => {
      const body = { name: 'Y', sector: 'legal', serviceArea: { provinceCode: '01' } };
      const forbidden = await as(ward).post('/api/v1/organizations', body).expect(403);
      expect(forbidden.body.code).toBe('auth.forbidden');
      await as(supervisor).post('/api/v1/organizations', body).expect(403);
      const hidden = await as(ward).patch(`/api/v1/organizations/${policeId}`, { name: 'Z' }).expect(404);
      const missing = await as(admin)
        .patch('/api/v1/organizations/00000000-0000-4000-8000-000000000000', { name: 'Z' })
        .expect(404);
      const strip = (b: Record<string, unknown>) => ({ ...b, requestId: undefined });
      expect(strip(hidden.body)).toEqual(strip(missing.body));
      expect(hidden.body.code).toBe('resource.not_found');
      await http().post('/api/v1/organizations').send(body).expect(401);
    });
  });

  describe('users', () => {
    let orgId: string;
    beforeAll(async () => {
      orgId = (
        await givenOrganization(t, {
          name: 'Trạm y tế phường Bồ Đề',
          sector: 'health',
          serviceArea: { communeCodes: ['00118'] },
        })
      ).id;
    });

    it('an admin creates an account of each role with its scope; the password is never returned', async () => {
      const officer = await as(admin)
        .post('/api/v1/users', {
          username: 'Ward.BoDe.2',
          password: 'quiet-lake-morning-19',
          role: 'ward_officer',
          wardCodes: ['00118', '00127'],
        })
        .expect(201);
      expect(officer.body).toMatchObject({
        username: 'ward.bode.2',
        role: 'ward_officer',
        status: 'active',
        wardCodes: ['00118', '00127'],
        organizationId: null,
        provinceCode: null,
        totpEnabled: false,
      });
      expect(JSON.stringify(officer.body)).not.toMatch(/quiet-lake|hash|argon/i);
      const provider = await as(admin)
        .post('/api/v1/users', {
          username: 'health.bode',
          password: 'quiet-lake-morning-19',
          role: 'provider',
          organizationId: orgId,
        })
        .expect(201);
      expect(provider.body.organizationId).toBe(orgId);
      const national = await as(admin)
        .post('/api/v1/users', {
          username: 'supervisor.national',
          password: 'quiet-lake-morning-19',
          role: 'supervisor',
          national: true,
        })
        .expect(201);
      expect(national.body.provinceCode).toBeNull();
    });

    it('keeps one active national supervisor: the only ones who see what administrators do to administrators', async () => {
      const nationals = async () =>
        (
          await t.app
            .get(DataSource)
            .query<{ id: string }[]>(
              `SELECT id FROM users WHERE role = 'supervisor' AND province_code IS NULL AND status = 'active'`,
            )
        ).map((r) => r.id);
      const [only] = await nationals();
      expect(await nationals()).toEqual([only]);
      const refused = await as(admin).patch(`/api/v1/users/${only}`, { status: 'disabled' }).expect(409);
      expect(refused.body.detail).toMatch(/last active national supervisor/);
      // With another, either may go.
      const second = await as(admin)
        .post('/api/v1/users', {
          username: 'supervisor.national.2',
          password: 'quiet-lake-morning-19',
          role: 'supervisor',
          national: true,
        })
        .expect(201);
      await as(admin).patch(`/api/v1/users/${only}`, { status: 'disabled' }).expect(200);
      await as(admin).patch(`/api/v1/users/${second.body.id}`, { status: 'disabled' }).expect(409);
      await as(admin).patch(`/api/v1/users/${only}`, { status: 'active' }).expect(200);
    });

    it('stores only an Argon2id hash', async () => {
      const rows = await t.app
        .get(DataSource)
        .query(`SELECT password_hash FROM users WHERE username = 'ward.bode.2'`);
      expect(rows[0].password_hash).toMatch(/^\$argon2id\$v=19\$m=65536,t=2,p=1\$/);
    });

    it('refuses weak passwords, taken usernames and scopes that do not fit the role', async () => {
      const weak = await as(admin)
        .post('/api/v1/users', { username: 'weak.one', password: 'qwerty123456', role: 'admin' })
        .expect(422);
      expect(weak.body.code).toBe('user.password_weak');
      expect(JSON.stringify(weak.body)).not.toContain('qwerty123456');
      await as(admin)
        .post('/api/v1/users', { username: 'short.one', password: 'Short-1', role: 'admin' })
        .expect(422);
      const taken = await as(admin)
        .post('/api/v1/users', {
          username: 'WARD.BODE.2',
          password: 'quiet-lake-morning-19',
          role: 'ward_officer',
          wardCodes: ['00118'],
        })
        .expect(409);
      expect(taken.body.code).toBe('user.username_taken');
      // On record, each with its reason (and nothing of what was sent).
      const refused = await t.app
        .get(DataSource)
        .query(
          `SELECT e.reason, e.resource_id FROM audit_events e WHERE e.action = 'user.create' AND e.outcome = 'denied' ORDER BY e.seq DESC LIMIT 3`,
        );
      expect(refused).toEqual([
        { reason: 'user.username_taken', resource_id: null },
        { reason: 'user.password_weak', resource_id: null },
        { reason: 'user.password_weak', resource_id: null },
      ]);
      const mismatch = await as(admin)
        .post('/api/v1/users', {
          username: 'odd.one',
          password: 'quiet-lake-morning-19',
          role: 'provider',
          wardCodes: ['00118'],
        })
        .expect(400);
      expect(
        mismatch.body.errors.map((e: { field: string; code: string }) => `${e.field}:${e.code}`).sort(),
      ).toEqual(['organizationId:isDefined', 'wardCodes:roleMismatch']);
      // Said in Vietnamese with the role's Vietnamese name.
      const mismatchVi = await as(admin)
        .post('/api/v1/users', {
          username: 'odd.one',
          password: 'quiet-lake-morning-19',
          role: 'provider',
          wardCodes: ['00118'],
        })
        .set('Accept-Language', 'vi')
        .expect(400);
      expect(mismatchVi.body.errors).toContainEqual({
        field: 'wardCodes',
        code: 'roleMismatch',
        message: 'không dùng cho vai trò cán bộ cơ quan cung cấp dịch vụ',
      });
      await as(admin)
        .post('/api/v1/users', {
          username: 'sup.both',
          password: 'quiet-lake-morning-19',
          role: 'supervisor',
        })
        .expect(400);
      // A scope field sent as null is refused, not counted as given and then read as absent: a supervisor
      // with a null province would have been national, a provider with a null organisation a 500, an officer
      // with null communes an account serving none.
      for (const [role, scope] of [
        ['supervisor', { provinceCode: null }],
        ['supervisor', { provinceCode: null, national: false }],
        ['provider', { organizationId: null }],
        ['ward_officer', { wardCodes: null }],
      ] as const) {
        const field = Object.keys(scope)[0];
        const refused = await as(admin)
          .post('/api/v1/users', {
            username: 'scope.null',
            password: 'quiet-lake-morning-19',
            role,
            ...scope,
          })
          .expect(400);
        expect(refused.body.errors).toContainEqual(expect.objectContaining({ field, code: 'isNotNull' }));
      }
      expect(await t.app.get(DataSource).query(`SELECT 1 FROM users WHERE username = 'scope.null'`)).toEqual(
        [],
      );
      const unknownWard = await as(admin)
        .post('/api/v1/users', {
          username: 'ward.nowhere',
          password: 'quiet-lake-morning-19',
          role: 'ward_officer',
          wardCodes: ['99999'],
        })
        .expect(422);
      expect(unknownWard.body.errors[0].code).toBe('unknownCommune');
      // Communes of one province (Ha Noi's 00145 and Hai Phong's 10507 are not): created or changed.
      const twoProvinces = await as(admin)
        .post('/api/v1/users', {
          username: 'ward.two.provinces',
          password: 'quiet-lake-morning-19',
          role: 'ward_officer',
          wardCodes: ['00145', '10507'],
        })
        .expect(422);
      expect(twoProvinces.body.errors[0]).toMatchObject({ field: 'wardCodes', code: 'oneProvince' });
      const one = await as(admin)
        .post('/api/v1/users', {
          username: 'ward.one.province',
          password: 'quiet-lake-morning-19',
          role: 'ward_officer',
          wardCodes: ['00145'],
        })
        .expect(201);
      const widened = await as(admin)
        .patch(`/api/v1/users/${one.body.id}`, { wardCodes: ['00145', '10507'] })
        .expect(422);
      expect(widened.body.errors[0]).toMatchObject({ field: 'wardCodes', code: 'oneProvince' });
      await as(admin)
        .post('/api/v1/users', {
          username: 'prov.nowhere',
          password: 'quiet-lake-morning-19',
          role: 'provider',
          organizationId: '00000000-0000-4000-8000-000000000000',
        })
        .expect(422);
    });

    it('lists accounts with paging and filters', async () => {
      const page = await as(admin).get('/api/v1/users?role=ward_officer&pageSize=2').expect(200);
      expect(page.body).toMatchObject({ page: 1, pageSize: 2, total: expect.any(Number) });
      expect(page.body.total).toBeGreaterThanOrEqual(2);
      expect(page.body.items).toHaveLength(2);
      expect(page.body.items.every((u: { role: string }) => u.role === 'ward_officer')).toBe(true);
      await as(admin).get('/api/v1/users?pageSize=1000').expect(400);
      await as(admin).get('/api/v1/users?page=202').expect(400); // past the first 10,000 (pages of 50)
    });

    it('an admin may not disable their own account', async () => {
      const self = await givenSignedIn(t, { role: 'admin' });
      const res = await as(self.token)
        .patch(`/api/v1/users/${self.user.id}`, { status: 'disabled' })
        .expect(409);
      expect(res.body.code).toBe('conflict.state');
    });

    it('says which communes a change leaves with no active ward officer (their cases seen by no one there)', async () => {
      const first = await givenUser(t, { role: 'ward_officer', wardCodes: ['03151', '03158'] });
      const second = await givenUser(t, { role: 'ward_officer', wardCodes: ['03158'] });
      // Mường Lay is left to no one; Sín Thầu keeps the second officer.
      const moved = await as(admin)
        .patch(`/api/v1/users/${first.id}`, { wardCodes: ['03158'] })
        .expect(200);
      expect(moved.body).toMatchObject({ wardCodes: ['03158'], unstaffedCommunes: ['03151'] });
      // The second disabled: the first still serves Sín Thầu, nothing to say.
      const disabled = await as(admin)
        .patch(`/api/v1/users/${second.id}`, { status: 'disabled' })
        .expect(200);
      expect(disabled.body.status).toBe('disabled');
      expect(disabled.body).not.toHaveProperty('unstaffedCommunes');
      // Then the first too: Sín Thầu is left to no one.
      const last = await as(admin).patch(`/api/v1/users/${first.id}`, { status: 'disabled' }).expect(200);
      expect(last.body.unstaffedCommunes).toEqual(['03158']);
      // Enabled again, or another change (a password reset): nothing to say.
      const back = await as(admin).patch(`/api/v1/users/${first.id}`, { status: 'active' }).expect(200);
      expect(back.body).not.toHaveProperty('unstaffedCommunes');
      const reset = await as(admin)
        .patch(`/api/v1/users/${second.id}`, { password: 'granite-reset-lantern-38' })
        .expect(200);
      expect(reset.body).not.toHaveProperty('unstaffedCommunes');
    });

    it("two admins disabling a commune's last two officers at once: the second is told the commune is left to no one", async () => {
      const one = await givenUser(t, { role: 'ward_officer', wardCodes: ['03151'] });
      const two = await givenUser(t, { role: 'ward_officer', wardCodes: ['03151'] });
      // The first change held after its check, before it commits: the second, checking then, would still see
      // the first's officer active, and the first saw the second's (neither told).
      const g = held(t.app.get(UsersRepository), 'communesWithoutOfficer');
      try {
        const first = as(admin)
          .patch(`/api/v1/users/${one.id}`, { status: 'disabled' })
          .then((r) => r);
        await g.hit;
        const second = as(admin)
          .patch(`/api/v1/users/${two.id}`, { status: 'disabled' })
          .then((r) => r);
        // The second waits for the first to commit (every account change holds the active administrators first:
        // holdAdministrator), and then sees the first's officer disabled.
        await someoneWaitsForALock((q) => t.app.get(DataSource).query(q));
        g.release();
        const [a, b] = [await first, await second];
        expect([a.status, b.status]).toEqual([200, 200]);
        expect(a.body).not.toHaveProperty('unstaffedCommunes');
        expect(b.body.unstaffedCommunes).toEqual(['03151']);
      } finally {
        g.release();
        g.restore();
      }
    });

    it('resetting two-factor makes the user set it up again, with a new password to change at first sign-in', async () => {
      const u = await givenUser(t, { role: 'ward_officer' });
      await givenTotp(t, u.id);
      // Not alone: whoever has the old password could sign in and set up their own authenticator first.
      const alone = await as(admin)
        .patch(`/api/v1/users/${u.id}`, { resetTotp: true, wardCodes: ['00136'] })
        .set('Accept-Language', 'vi')
        .expect(400);
      expect(alone.body.errors).toEqual([
        expect.objectContaining({
          field: 'password',
          code: 'isDefined',
          message: expect.stringMatching(/bắt buộc/),
        }),
      ]);
      expect((await as(admin).get(`/api/v1/users/${u.id}`).expect(200)).body).toMatchObject({
        totpEnabled: true,
        wardCodes: ['00145'],
      });
      const res = await as(admin)
        .patch(`/api/v1/users/${u.id}`, {
          resetTotp: true,
          password: 'granite-reset-lantern-37',
          wardCodes: ['00136'],
        })
        .expect(200);
      expect(res.body).toMatchObject({ totpEnabled: false, wardCodes: ['00136'] });
      // The old password opens nothing; the new one must be changed first.
      await http()
        .post('/api/v1/auth/login')
        .send({ username: u.username, password: u.password })
        .expect(401);
      const signedIn = await http()
        .post('/api/v1/auth/login')
        .send({ username: u.username, password: 'granite-reset-lantern-37' })
        .expect(200);
      expect(signedIn.body.passwordChangeRequired).toBe(true);
    });

    it('nobody but an admin reaches the account endpoints: 403 for collections, 404 for records', async () => {
      const target = await givenUser(t, { role: 'ward_officer' });
      for (const token of [ward, supervisor]) {
        expect((await as(token).get('/api/v1/users').expect(403)).body.code).toBe('auth.forbidden');
        await as(token)
          .post('/api/v1/users', { username: 'x.y.z', password: 'quiet-lake-morning-19', role: 'admin' })
          .expect(403);
        const hidden = await as(token)
          .patch(`/api/v1/users/${target.id}`, { status: 'disabled' })
          .expect(404);
        expect(hidden.body.code).toBe('resource.not_found');
        await as(token).get(`/api/v1/users/${target.id}`).expect(404);
      }
      await http().get('/api/v1/users').expect(401);
      await http().patch(`/api/v1/users/${target.id}`).send({ status: 'disabled' }).expect(401);
      // Refused, and nothing written: no account made, the target still active with its sessions' version.
      const db = t.app.get(DataSource);
      expect(await db.query(`SELECT 1 FROM users WHERE username = 'x.y.z'`)).toEqual([]);
      expect(await db.query(`SELECT status, token_version FROM users WHERE id = $1`, [target.id])).toEqual([
        { status: 'active', token_version: 1 },
      ]);
      // A malformed id answers like an id of nothing, as for every other record (cases, referrals, consents).
      for (const kind of ['users', 'organizations']) {
        const malformed = await as(admin).get(`/api/v1/${kind}/not-a-uuid`).expect(404);
        const nothing = await as(admin)
          .get(`/api/v1/${kind}/00000000-0000-4000-8000-000000000000`)
          .expect(404);
        expect({ ...malformed.body, requestId: 0 }).toEqual({ ...nothing.body, requestId: 0 });
        expect(malformed.body.code).toBe('resource.not_found');
        await as(admin).patch(`/api/v1/${kind}/not-a-uuid`, { name: 'x' }).expect(404);
      }
    });
  });
});

describe('administrators administering administrators (end to end)', () => {
  let t: TestApp;
  const http = () => request(t.app.getHttpServer());
  const patch = (token: string, id: string, body: object) =>
    http().patch(`/api/v1/users/${id}`).set('Authorization', `Bearer ${token}`).send(body);

  beforeAll(async () => {
    t = await startTestApp();
    await givenDemoUnits(t);
  });
  afterAll(async () => {
    await t.close();
  });

  it('an administrator resets neither their own password nor their own two-factor through account administration', async () => {
    const { user, token } = await givenSignedIn(t, { role: 'admin', username: 'admin.self' });
    const [before] = await t.app
      .get(DataSource)
      .query(`SELECT password_hash FROM users WHERE id = $1`, [user.id]);
    const own = await patch(token, user.id, { password: 'taken-over-lantern-90' })
      .set('Accept-Language', 'vi')
      .expect(403);
    expect(own.body).toMatchObject({ code: 'auth.forbidden' });
    expect(own.body.detail).toMatch(/\/auth\/password/);
    await patch(token, user.id, { resetTotp: true }).expect(403);
    // Its id in upper case is the same account (PostgreSQL compares UUIDs in any case).
    await patch(token, user.id.toUpperCase(), { password: 'taken-over-lantern-90', resetTotp: true }).expect(
      403,
    );
    const [after] = await t.app
      .get(DataSource)
      .query(`SELECT password_hash FROM users WHERE id = $1`, [user.id]);
    expect(after).toEqual(before);
    // Each refusal is on record, in the refused account's entry.
    const refusals = await t.app
      .get(DataSource)
      .query(
        `SELECT reason FROM audit_events WHERE action = 'user.update' AND outcome = 'denied' AND actor_id = $1 AND resource_id = $1 ORDER BY seq`,
        [user.id],
      );
    expect(refusals).toEqual([
      { reason: 'auth.forbidden' },
      { reason: 'auth.forbidden' },
      { reason: 'auth.forbidden' },
    ]);
    // Another account's, as before.
    const other = await givenUser(t, { role: 'ward_officer', username: 'ward.reset.by.admin' });
    await patch(token, other.id, { password: 'reset-by-admin-lantern-91' }).expect(200);
    // A refused change of another account is in that account's jurisdiction, as a change is: Ha Noi's
    // supervisors see an attempt on their officer (the administrator has no province of its own).
    await patch(token, other.id, { password: 'qwerty123456' }).expect(422);
    const [weak] = await t.app
      .get(DataSource)
      .query(
        `SELECT reason, jurisdictions FROM audit_events WHERE action = 'user.update' AND outcome = 'denied' AND resource_id = $1 ORDER BY seq DESC LIMIT 1`,
        [other.id],
      );
    expect(weak).toEqual({ reason: 'user.password_weak', jurisdictions: ['01'] });
    // So is a refused new account, in the provinces it would have worked in (a Hải Phòng commune's officer).
    const refusedCreate = await http()
      .post('/api/v1/users')
      .set('Authorization', `Bearer ${token}`)
      .send({
        username: 'ward.weak.new',
        role: 'ward_officer',
        wardCodes: ['10507'],
        password: 'qwerty123456',
      })
      .expect(422);
    const [created] = await t.app
      .get(DataSource)
      .query(`SELECT action, reason, jurisdictions FROM audit_events WHERE request_id = $1`, [
        refusedCreate.body.requestId,
      ]);
    expect(created).toEqual({ action: 'user.create', reason: 'user.password_weak', jurisdictions: ['31'] });
  });

  it('two administrators disabling each other at once leave one of them active', async () => {
    const db = t.app.get(DataSource);
    const a = await givenSignedIn(t, { role: 'admin', username: 'admin.first' });
    const b = await givenSignedIn(t, { role: 'admin', username: 'admin.second' });
    // Only these two stay active, and a demo administrator left by an earlier demo run (this app runs without
    // the demo: that account signs in nowhere, so it does not count as another administrator).
    const leftover = await givenUser(t, { role: 'admin', username: 'admin.demo.leftover' });
    await db.query(`UPDATE users SET demo_account = true WHERE id = $1`, [leftover.id]);
    await db.query(`UPDATE users SET status = 'disabled' WHERE role = 'admin' AND id <> ALL($1::uuid[])`, [
      [a.user.id, b.user.id, leftover.id],
    ]);
    // Through the service, so that both run at once (over HTTP the second's token may already be refused).
    const as = (u: { id: string; username: string }): [Principal, ReturnType<typeof defineAbilityFor>] => {
      const p = adminPrincipal(u.id, u.username, {
        tokenId: randomUUID(),
        tokenExpiresAt: new Date(Date.now() + 60_000),
        requestId: randomUUID(),
      });
      return [p, defineAbilityFor(p)];
    };
    const users = t.app.get(UsersService);
    const answers = await Promise.allSettled([
      users.update(b.user.id, { status: 'disabled' }, ...as(a.user)),
      users.update(a.user.id, { status: 'disabled' }, ...as(b.user)),
    ]);
    expect(answers.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    // The second waited for the first, which disabled its own caller: a disabled administrator changes nothing.
    const refused = answers.find((r): r is PromiseRejectedResult => r.status === 'rejected')!;
    expect(refused.reason).toMatchObject({ code: 'auth.unauthenticated' });
    const [{ n }] = await db.query(
      `SELECT count(*)::int AS n FROM users WHERE role = 'admin' AND status = 'active' AND NOT demo_account`,
    );
    expect(n).toBe(1);
  });

  it('users:create-admin is refused on a database that holds the demo (its accounts would stand beside the real ones)', async () => {
    const db = t.app.get(DataSource);
    await db.query(`UPDATE users SET status = 'disabled' WHERE role = 'admin'`);
    await db.query(`INSERT INTO demo_seed_runs (step) VALUES ('accounts')`);
    try {
      await expect(
        t.app.get(UsersService).createFirstAdmin('admin.over.demo', 'an-initial-passphrase-2026'),
      ).rejects.toMatchObject({
        code: 'conflict.state',
        detail: { en: expect.stringMatching(/HAVEN_DEMO=0/) },
      });
    } finally {
      // As the owner: the service's role deletes nothing there.
      const owner = new Client({ connectionString: t.db.url });
      await owner.connect();
      await owner.query(`DELETE FROM demo_seed_runs`);
      await owner.end();
    }
    const [made] = await db.query(`SELECT count(*)::int AS n FROM users WHERE username = 'admin.over.demo'`);
    expect(made.n).toBe(0);
  });

  it('users:create-admin is refused while an administrator is active, before it hashes the password', async () => {
    const db = t.app.get(DataSource);
    await givenUser(t, { role: 'admin', username: 'admin.active' });
    const hash = jest.spyOn(t.app.get(PasswordHasher), 'hash');
    try {
      await expect(
        t.app.get(UsersService).createFirstAdmin('admin.operator', 'an-initial-passphrase-2026'),
      ).rejects.toMatchObject({ code: 'conflict.state' });
      // The refusal costs no Argon2 hash, and is on record.
      expect(hash).not.toHaveBeenCalled();
    } finally {
      hash.mockRestore();
    }
    const [made] = await db.query(`SELECT count(*)::int AS n FROM users WHERE username = 'admin.operator'`);
    expect(made.n).toBe(0);
    const [entry] = await db.query(
      `SELECT outcome, reason FROM audit_events WHERE action = 'user.create' AND actor_id IS NULL ORDER BY seq DESC LIMIT 1`,
    );
    expect(entry).toEqual({ outcome: 'denied', reason: 'conflict.state' });
  });

  it('users:reset-admin puts a sole administrator right: a new password to change, no two-factor, sessions ended, on record', async () => {
    const db = t.app.get(DataSource);
    const { user, token } = await givenSignedIn(t, { role: 'admin', username: 'admin.locked.out' });
    await givenTotp(t, user.id);
    await db.query(`UPDATE users SET totp_failures = 10 WHERE id = $1`, [user.id]); // ten wrong codes
    const users = t.app.get(UsersService);
    // Administrators only (the others are put right by an administrator), and a password the rules take.
    const officer = await givenUser(t, { role: 'ward_officer', username: 'ward.not.admin' });
    for (const name of [officer.username, 'nobody.at.all']) {
      await expect(users.resetAdminByOperator(name, 'granite-operator-lantern-51')).rejects.toMatchObject({
        code: 'resource.not_found',
      });
    }
    await expect(users.resetAdminByOperator(user.username, 'short')).rejects.toMatchObject({
      code: 'user.password_weak',
    });
    expect(await users.resetAdminByOperator(user.username, 'granite-operator-lantern-51')).toMatchObject({
      id: user.id,
      active: true,
    });
    const [row] = await db.query(
      `SELECT totp_enabled_at, totp_secret, totp_failures, password_change_required FROM users WHERE id = $1`,
      [user.id],
    );
    expect(row).toEqual({
      totp_enabled_at: null,
      totp_secret: null,
      totp_failures: 0,
      password_change_required: true,
    });
    await http().get('/api/v1/auth/me').auth(token, { type: 'bearer' }).expect(401);
    const signedIn = await http()
      .post('/api/v1/auth/login')
      .send({ username: user.username, password: 'granite-operator-lantern-51' })
      .expect(200);
    expect(signedIn.body).toMatchObject({ passwordChangeRequired: true, totpEnrollmentRequired: true });
    const entries = await db.query(
      `SELECT outcome, reason, resource_id FROM audit_events
        WHERE action = 'user.update' AND actor_id IS NULL ORDER BY seq DESC LIMIT 4`,
    );
    expect(entries.reverse()).toEqual([
      { outcome: 'denied', reason: 'resource.not_found', resource_id: null },
      { outcome: 'denied', reason: 'resource.not_found', resource_id: null },
      { outcome: 'denied', reason: 'user.password_weak', resource_id: null },
      { outcome: 'allowed', reason: 'user.reset_by_operator', resource_id: user.id },
    ]);
  });

  it('two operators running users:create-admin at once make one administrator', async () => {
    const db = t.app.get(DataSource);
    await db.query(`UPDATE users SET status = 'disabled' WHERE role = 'admin'`);
    const users = t.app.get(UsersService);
    // The first run is held inside its transaction, its account written and its check made, until the second
    // waits for it: without the lock the second would see no administrator and make one too.
    // (The second's check waits for the lock, and the gate is open by then.)
    const g = held(t.app.get(UsersRepository), 'activeAdminIds', {
      when: (...args: Parameters<UsersRepository['activeAdminIds']>) => args[1] !== undefined,
    });
    try {
      const first = users.createFirstAdmin('first.operator', 'an-initial-passphrase-2026').then(
        () => 'made',
        (e: { code?: string }) => e.code,
      );
      await g.hit;
      const second = users.createFirstAdmin('second.operator', 'another-initial-passphrase-2026').then(
        () => 'made',
        (e: { code?: string }) => e.code,
      );
      await someoneWaitsForALock((q) => db.query(q));
      g.release();
      expect([await first, await second]).toEqual(['made', 'conflict.state']);
    } finally {
      g.release();
      g.restore();
    }
    const active = await db.query(
      `SELECT username FROM users WHERE role = 'admin' AND status = 'active' AND NOT demo_account`,
    );
    expect(active).toEqual([{ username: 'first.operator' }]);
  });
});
