import { randomBytes } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { KEY_PROVIDER } from '../src/crypto/crypto.module';
import type { KeyProvider } from '../src/crypto';
import { dataSourceOptions } from '../src/database/data-source-options';
import type { TestApp } from './support/app';
import { caseBody, signInAll, startDemoApp, Tokens } from './support/casework';
import { freePort, launchedPerTest, waitForHealth } from './support/process';

// The stale instance runs the built service (dist/, made by `npm test`'s pretest build) as a real process.
const launch = launchedPerTest();

/**
 * After a key rotation raised the database's KEK floor (docs/keys.md), an instance that does not have the
 * rotated keyring yet refuses registrations whole, with a 503 in both languages, and registers again as soon
 * as it has the new version: no data key it makes can become unreadable when the old version is retired. An
 * instance holding another key under a version the database knows (KEK checks) is refused the same way.
 */
describe('the KEK floor and the KEK checks (end to end)', () => {
  let t: TestApp;
  let owner: DataSource;
  let tokens: Tokens;
  /** The app's development keyring as it was before any rotation (v1 only). */
  let keyringV1: string;
  const http = () => request(t.app.getHttpServer());
  const as = (username: string) => ({ Authorization: `Bearer ${tokens[username]}` });

  beforeAll(async () => {
    t = await startDemoApp();
    keyringV1 = readFileSync(join(t.config.dataDir, 'keys', 'keyring.json'), 'utf8');
    tokens = await signInAll(t, ['ward.longbien']);
    owner = await new DataSource(
      dataSourceOptions({ url: t.db.url, poolSize: 1, applicationName: 'haven-test-owner' }),
    ).initialize();
  }, 120_000);
  afterAll(async () => {
    await owner?.destroy();
    await t?.close();
  });

  const counts = async () => {
    const [row] = await owner.query(
      `SELECT (SELECT count(*) FROM cases)::int AS cases, (SELECT count(*) FROM data_keys)::int AS keys,
              (SELECT count(*) FROM audit_events WHERE action = 'case.create')::int AS entries`,
    );
    return row as { cases: number; keys: number; entries: number };
  };
  const numberOf = (code: string) => Number(code.split('-').pop());
  /** Another instance of the service on the app's database, with `keyring` as HAVEN_MASTER_KEY. */
  const launchWith = async (keyring: string, extra: Record<string, string> = {}) =>
    launch({
      DATABASE_URL: t.db.url,
      DATABASE_APP_URL: t.db.appUrl,
      HAVEN_DATA_DIR: await mkdtemp(join(t.config.dataDir, 'instance-')),
      HAVEN_MASTER_KEY: keyring,
      PORT: String(await freePort()),
      ...extra,
    });

  it('refuses a registration whole while the keys are older than the floor, and registers once they are not', async () => {
    const first = await http().post('/api/v1/cases').set(as('ward.longbien')).send(caseBody()).expect(201);
    const before = await counts();

    // A rotation elsewhere moved the floor to v2; this instance's development keyring has only v1.
    await owner.query(`INSERT INTO kek_floors (kek_id, min_version) VALUES ('haven-kek', 2)`);
    const marker = 'Floor Probe Name';
    const refused = await http()
      .post('/api/v1/cases')
      .set(as('ward.longbien'))
      .set('Accept-Language', 'vi')
      .send(caseBody({ survivor: { ...(caseBody().survivor as object), fullName: marker } }))
      .expect(503);
    expect(refused.body).toMatchObject({ status: 503, code: 'service.unavailable' });
    expect(refused.body.detail).toMatch(/khóa mã hóa chưa được cập nhật/);
    const english = await http().post('/api/v1/cases').set(as('ward.longbien')).send(caseBody()).expect(503);
    expect(english.body.detail).toMatch(/its keys are out of date/);
    expect(await counts()).toEqual(before);
    // The operator finds the versions in the log; the survivor's name is nowhere in it.
    const logged = t.logs.join('');
    expect(logged).toContain('haven-kek v1, below the KEK floor v2');
    expect(logged).not.toContain(marker);

    // Reading is not affected.
    await http().get(`/api/v1/cases/${first.body.id}`).set(as('ward.longbien')).expect(200);

    // The rotated keyring arrives (here: the development provider adds v2 to its file).
    await t.app.get<symbol, KeyProvider>(KEY_PROVIDER).addKekVersion();
    const next = await http().post('/api/v1/cases').set(as('ward.longbien')).send(caseBody()).expect(201);
    const [key] = await owner.query(`SELECT kek_version FROM data_keys WHERE owner_id = $1`, [next.body.id]);
    expect(key.kek_version).toBe(2);
    // The refused registrations used no case number.
    expect(numberOf(next.body.code as string)).toBe(numberOf(first.body.code as string) + 1);
  });

  it('refuses to start an instance whose newest KEK version is below the floor (exit 78), naming where its keys come from', async () => {
    await owner.query(
      `INSERT INTO kek_floors AS f (kek_id, min_version) VALUES ('haven-kek', 2)
       ON CONFLICT (kek_id) DO UPDATE SET min_version = GREATEST(f.min_version, 2)`,
    );
    // The same root (so the access log's checkpoint key matches), but the keyring from before v2.
    const run = await launchWith(keyringV1);
    expect(await run.exited).toBe(78);
    expect(run.output()).toMatch(
      /HAVEN_MASTER_KEY \/ HAVEN_MASTER_KEY_FILE: a key rotation raised the database's KEK floor to haven-kek v2, and this instance's newest KEK version is v1/,
    );
    expect(run.output()).not.toContain(JSON.parse(keyringV1).root as string);
    // The running instance is unaffected.
    await http().post('/api/v1/cases').set(as('ward.longbien')).send(caseBody()).expect(201);
  });

  /** The app's keyring with another random key under its newest version (same root, same version numbers). */
  const withAnotherNewestKey = (document: string): string => {
    const doc = JSON.parse(document) as { keks: Array<{ key: string }> };
    doc.keks[doc.keks.length - 1].key = randomBytes(32).toString('base64');
    return JSON.stringify(doc, null, 2);
  };

  it('refuses registrations whole while this instance holds another key under its active version, and registers once it does not', async () => {
    await http().post('/api/v1/cases').set(as('ward.longbien')).send(caseBody()).expect(201);
    const before = await counts();
    const path = join(t.config.dataDir, 'keys', 'keyring.json');
    const original = readFileSync(path, 'utf8');
    const install = (document: string) => {
      writeFileSync(`${path}.next`, document, { mode: 0o600 });
      renameSync(`${path}.next`, path);
    };
    install(withAnotherNewestKey(original)); // e.g. a keyring prepared twice, the other copy installed here
    try {
      const refused = await http()
        .post('/api/v1/cases')
        .set(as('ward.longbien'))
        .set('Accept-Language', 'vi')
        .send(caseBody())
        .expect(503);
      expect(refused.body).toMatchObject({ status: 503, code: 'service.unavailable' });
      expect(refused.body.detail).toMatch(/không khớp với khóa của các máy chủ khác/);
      const english = await http()
        .post('/api/v1/cases')
        .set(as('ward.longbien'))
        .send(caseBody())
        .expect(503);
      expect(english.body.detail).toMatch(/its keys do not match the other servers' keys/);
      expect(english.headers['retry-after']).toBeDefined();
      expect(await counts()).toEqual(before);
      expect(t.logs.join('')).toMatch(/crypto\.kek_mismatch: this process's haven-kek v\d+ is another key/);
    } finally {
      install(original);
    }
    await http().post('/api/v1/cases').set(as('ward.longbien')).send(caseBody()).expect(201);
  });

  /** `work` on a new case whose data key is marked wrapped with KEK v9 (this keyring has none), put back after. */
  const withCaseUnderKekV9 = async (work: (caseId: string) => Promise<void>): Promise<string> => {
    const made = await http().post('/api/v1/cases').set(as('ward.longbien')).send(caseBody()).expect(201);
    const caseId = made.body.id as string;
    const [{ kek_version: version }] = await owner.query<{ kek_version: number }[]>(
      `SELECT kek_version FROM data_keys WHERE owner_id = $1`,
      [caseId],
    );
    await owner.query(`UPDATE data_keys SET kek_version = 9 WHERE owner_id = $1`, [caseId]);
    try {
      await work(caseId);
    } finally {
      await owner.query(`UPDATE data_keys SET kek_version = $2 WHERE owner_id = $1`, [caseId, version]);
    }
    return caseId;
  };

  it('a record whose data key is wrapped with a KEK version this instance lacks answers 503 (its keys are behind), not 500', async () => {
    // As after keys:rotate re-wrapped it with a version whose keyring this instance was not given.
    const made = await withCaseUnderKekV9(async (caseId) => {
      const res = await http()
        .get(`/api/v1/cases/${caseId}`)
        .set(as('ward.longbien'))
        .set('Accept-Language', 'vi')
        .expect(503);
      expect(res.body).toMatchObject({ code: 'service.unavailable' });
      expect(res.body.detail).toMatch(/khóa mã hóa chưa được cập nhật/);
      expect(res.headers['retry-after']).toBeDefined();
    });
    await http().get(`/api/v1/cases/${made}`).set(as('ward.longbien')).expect(200);
  });

  it('refuses to start an instance whose keys lack a version live data keys are wrapped with (exit 78), naming it', async () => {
    // As after a rotation's new version wrapped it, with this keyring rolled back to before that version.
    await withCaseUnderKekV9(async () => {
      const keyring = readFileSync(join(t.config.dataDir, 'keys', 'keyring.json'), 'utf8');
      const run = await launchWith(keyring);
      expect(await run.exited).toBe(78);
      expect(run.output()).toMatch(
        /HAVEN_MASTER_KEY \/ HAVEN_MASTER_KEY_FILE: the database's data keys are wrapped with haven-kek v9 \(1 data keys\), which this instance's keys do not hold/,
      );
      // Another version excused is no excuse for this one, nor the same number of another KEK.
      const other = await launchWith(keyring, { HAVEN_ALLOW_MISSING_KEK_VERSIONS: '8,other-kek:9' });
      expect(await other.exited).toBe(78);
      expect(other.output()).toMatch(/data keys are wrapped with haven-kek v9 \(1 data keys\), which this/);
      // This version named as lost for good (by its number, of this keyring's KEK, or with the KEK's name): it
      // starts, saying which records it cannot read.
      for (const named of ['9', 'haven-kek:9']) {
        const port = await freePort();
        const lost = await launchWith(keyring, {
          HAVEN_ALLOW_MISSING_KEK_VERSIONS: named,
          PORT: String(port),
        });
        await waitForHealth(port, lost);
        expect(lost.output()).toMatch(
          /wrapped with haven-kek v9 \(1 data keys\), which this instance's keys do not hold/,
        );
        lost.child.kill('SIGTERM');
        await lost.exited;
      }
    });
  });

  it('refuses to start an instance holding another key under a version the database knows (exit 78)', async () => {
    // A registration, so that the active version's check is on record whichever test ran before.
    await http().post('/api/v1/cases').set(as('ward.longbien')).send(caseBody()).expect(201);
    const current = readFileSync(join(t.config.dataDir, 'keys', 'keyring.json'), 'utf8');
    const other = withAnotherNewestKey(current);
    const run = await launchWith(other);
    expect(await run.exited).toBe(78);
    expect(run.output()).toMatch(
      /HAVEN_MASTER_KEY \/ HAVEN_MASTER_KEY_FILE: this instance's haven-kek v\d+ is another key than the database's data keys are wrapped with/,
    );
    const keks = (JSON.parse(other) as { keks: Array<{ key: string }> }).keks;
    expect(run.output()).not.toContain(keks[keks.length - 1].key);
    // The running instance is unaffected.
    await http().post('/api/v1/cases').set(as('ward.longbien')).send(caseBody()).expect(201);
  });

  it('a KEK version only installed wraps no new data key; a registration the floor then refuses makes the next one ask again', async () => {
    const versionOf = async (caseId: string) =>
      (await owner.query(`SELECT kek_version FROM data_keys WHERE owner_id = $1`, [caseId]))[0]
        .kek_version as number;
    const register = () => http().post('/api/v1/cases').set(as('ward.longbien')).send(caseBody());
    const before = await versionOf((await register().expect(201)).body.id);
    // The next keyring reaches this instance first: the others cannot open its new version yet, so what this
    // one registers stays on the version the database has taken up.
    const installed = await t.app.get<symbol, KeyProvider>(KEY_PROVIDER).addKekVersion();
    expect(installed.version).toBe(before + 1);
    expect(await versionOf((await register().expect(201)).body.id)).toBe(before);
    // A rotation raises the floor to it before this instance has looked again (its wait cut short here): the
    // registration is refused whole, and the next one asks again rather than 5 s later.
    await owner.query(
      `INSERT INTO kek_floors (kek_id, min_version) VALUES ('haven-kek', $1)
       ON CONFLICT (kek_id) DO UPDATE SET min_version = EXCLUDED.min_version`,
      [installed.version],
    );
    await register().expect(503);
    expect(await versionOf((await register().expect(201)).body.id)).toBe(installed.version);
  });
});
