import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { createTestDatabase, TestDatabase } from '../../test/support/database';
import { loadConfig } from '../config/config';
import { dataSourceOptions } from './data-source-options';
import { releaseRequirement, requireOfEveryRelease } from '../../migrations/schema-requirements';
import { APP_SECRET_FILE, openRuntimeDataSource, provisionEmbeddedAppLogin } from './runtime-role';

describe('the runtime database role', () => {
  let db: TestDatabase;
  let dataDir: string;
  const silent = pino({ level: 'silent' });
  const options = () =>
    dataSourceOptions({ url: db.url, poolSize: 2, applicationName: 'haven-test-runtime' });

  beforeAll(async () => {
    db = await createTestDatabase();
    dataDir = mkdtempSync(join(process.env.HAVEN_TEST_ROOT ?? tmpdir(), 'runtime-role-'));
  });
  afterAll(async () => {
    await db.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('on the embedded server: provisions haven_app_login, a member of haven_app that cannot change the log', async () => {
    const owner = await new DataSource(options()).initialize();
    let url: string;
    try {
      url = await provisionEmbeddedAppLogin(owner, db.url, dataDir);
      // Idempotent, same password (kept in HAVEN_DATA_DIR, 0600).
      expect(await provisionEmbeddedAppLogin(owner, db.url, dataDir)).toBe(url);
    } finally {
      await owner.destroy();
    }
    expect(statSync(join(dataDir, APP_SECRET_FILE)).mode & 0o777).toBe(0o600);
    const client = new Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query<{ role: string }>('SELECT current_user AS role');
      expect(rows[0].role).toBe('haven_app_login');
      await client.query(`INSERT INTO demo_seed_runs (step) VALUES ('runtime-role-probe')`);
      await expect(client.query('DELETE FROM audit_events')).rejects.toMatchObject({ code: '42501' });
      await expect(client.query('TRUNCATE audit_events')).rejects.toMatchObject({ code: '42501' });
      await expect(client.query('CREATE TABLE x (a int)')).rejects.toMatchObject({ code: '42501' });
      // The KEK floor (keys:rotate's) can be read, not moved.
      await client.query('SELECT min_version FROM kek_floors');
      await expect(
        client.query(`INSERT INTO kek_floors (kek_id, min_version) VALUES ('haven-kek', 1)`),
      ).rejects.toMatchObject({ code: '42501' });
      await expect(client.query('DELETE FROM kek_floors')).rejects.toMatchObject({ code: '42501' });
      // A KEK version's check can be read and registered, never replaced or removed.
      await client.query(
        `INSERT INTO kek_checks (kek_id, kek_version, wrapped_check) VALUES ('probe-kek', 1, '\\x00')`,
      );
      await client.query('SELECT wrapped_check FROM kek_checks');
      await expect(
        client.query(`UPDATE kek_checks SET wrapped_check = '\\x01' WHERE kek_id = 'probe-kek'`),
      ).rejects.toMatchObject({ code: '42501' });
      await expect(client.query('DELETE FROM kek_checks')).rejects.toMatchObject({ code: '42501' });
      // Rows go only where the service itself deletes them (expired tokens, throttle counters, scopes).
      for (const table of [
        'cases',
        'referrals',
        'referral_notes',
        'consents',
        'break_glass_grants',
        'data_keys',
        'users',
      ]) {
        await expect(client.query(`DELETE FROM ${table}`)).rejects.toMatchObject({ code: '42501' });
      }
      await client.query(`DELETE FROM login_throttle WHERE key = 'runtime-role-probe'`);
      // What an older release needs is the migrations' to say: the service only reads it.
      await client.query('SELECT migration FROM schema_requirements');
      await expect(
        client.query(`INSERT INTO schema_requirements (migration, reason) VALUES ('X1', 'probe')`),
      ).rejects.toMatchObject({ code: '42501' });
      // Units are the importer's (as the owner): a commune is never moved to another province by the service.
      await expect(
        client.query(`UPDATE admin_units SET province_code = province_code WHERE level = 'commune'`),
      ).rejects.toMatchObject({ code: '42501' });
      await expect(
        client.query('CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$'),
      ).rejects.toMatchObject({
        code: '42501',
      });
    } finally {
      await client.end();
    }
  });

  it('migrates as the owner and opens the pool as DATABASE_APP_URL', async () => {
    const config = loadConfig({ DATABASE_URL: db.url, DATABASE_APP_URL: db.appUrl, HAVEN_DATA_DIR: dataDir });
    const runtime = await openRuntimeDataSource(options(), db.url, config, silent);
    try {
      const [{ role }] = await runtime.query<{ role: string }[]>('SELECT current_user AS role');
      expect(role).toBe('haven_test_app');
    } finally {
      await runtime.destroy();
    }
  });

  it('refuses a member of haven_app that may create roles, or was granted more on the integrity tables', async () => {
    // A login role of its own (roles are the cluster's, shared with the other test files).
    const probe = `haven_probe_${randomBytes(4).toString('hex')}`;
    const owner = await new DataSource(options()).initialize();
    await owner.query(`CREATE ROLE ${probe} LOGIN PASSWORD 'probe-only' IN ROLE haven_app`);
    const url = new URL(db.url);
    url.username = probe;
    url.password = 'probe-only';
    const config = loadConfig({
      DATABASE_URL: db.url,
      DATABASE_APP_URL: url.toString(),
      HAVEN_DATA_DIR: dataDir,
    });
    const cases = [
      [`ALTER ROLE ${probe} CREATEROLE`, `ALTER ROLE ${probe} NOCREATEROLE`, /may create roles/],
      // Memberships it holds without inheriting them: a SET ROLE away from the owner's or a superuser's rights.
      [
        `CREATE ROLE ${probe}_admin NOLOGIN CREATEROLE; GRANT ${probe}_admin TO ${probe} WITH INHERIT FALSE`,
        `DROP ROLE ${probe}_admin`,
        /may create roles/,
      ],
      // (postgres owns the tables here too.)
      [
        `GRANT postgres TO ${probe} WITH INHERIT FALSE`,
        `REVOKE postgres FROM ${probe}`,
        /may become.*a superuser, owns the access log/,
      ],
      [
        `GRANT DELETE ON audit_checkpoints TO ${probe}`,
        `REVOKE DELETE ON audit_checkpoints FROM ${probe}`,
        /may change the checkpoints/,
      ],
      [
        `GRANT TRUNCATE ON audit_chain_heads TO ${probe}`,
        `REVOKE TRUNCATE ON audit_chain_heads FROM ${probe}`,
        /delete the stripe heads/,
      ],
      [`GRANT UPDATE ON kek_floors TO ${probe}`, `REVOKE UPDATE ON kek_floors FROM ${probe}`, /KEK floor/],
      // Granted to a role it may become without inheriting it: a SET ROLE away as well.
      [
        `CREATE ROLE ${probe}_ops NOLOGIN; GRANT UPDATE ON kek_floors TO ${probe}_ops;
         GRANT DELETE ON data_keys TO ${probe}_ops;
         GRANT ${probe}_ops TO ${probe} WITH INHERIT FALSE`,
        `REVOKE ALL ON kek_floors, data_keys FROM ${probe}_ops; DROP ROLE ${probe}_ops`,
        /KEK floor.*may delete from data_keys/,
      ],
      [
        `CREATE ROLE ${probe}_creator NOLOGIN; GRANT CREATE ON SCHEMA public TO ${probe}_creator;
         GRANT ${probe}_creator TO ${probe} WITH INHERIT FALSE`,
        `REVOKE CREATE ON SCHEMA public FROM ${probe}_creator; DROP ROLE ${probe}_creator`,
        /may create objects in schema public/,
      ],
      [
        `GRANT UPDATE ON kek_checks TO ${probe}`,
        `REVOKE UPDATE ON kek_checks FROM ${probe}`,
        /change the KEK checks/,
      ],
      [
        `GRANT UPDATE ON referral_notes TO ${probe}`,
        `REVOKE UPDATE ON referral_notes FROM ${probe}`,
        /may UPDATE referral_notes/,
      ],
      // On one column only: as much a change (a note moved to another organisation, the floor lowered).
      [
        `GRANT UPDATE (organization_id) ON referral_notes TO ${probe}`,
        `REVOKE UPDATE (organization_id) ON referral_notes FROM ${probe}`,
        /may UPDATE referral_notes/,
      ],
      [
        `GRANT UPDATE (min_version) ON kek_floors TO ${probe}`,
        `REVOKE UPDATE (min_version) ON kek_floors FROM ${probe}`,
        /KEK floor/,
      ],
      [
        `GRANT UPDATE (reason) ON audit_events TO ${probe}`,
        `REVOKE UPDATE (reason) ON audit_events FROM ${probe}`,
        /may UPDATE, DELETE or TRUNCATE the access log/,
      ],
      // Emptying a table the service deletes rows of: every officer's communes gone at once.
      [
        `GRANT TRUNCATE ON user_communes TO ${probe}`,
        `REVOKE TRUNCATE ON user_communes FROM ${probe}`,
        /may TRUNCATE user_communes \(/,
      ],
      // A commune moved to another province (only units:import, as the owner, changes units).
      [
        `GRANT UPDATE (province_code) ON admin_units TO ${probe}`,
        `REVOKE UPDATE (province_code) ON admin_units FROM ${probe}`,
        /may UPDATE admin_units \(/,
      ],
      // A trigger on the log would rewrite every entry as it is written.
      [
        `GRANT TRIGGER ON audit_events, cases TO ${probe}`,
        `REVOKE TRIGGER ON audit_events, cases FROM ${probe}`,
        /may create triggers on audit_events, cases \(/,
      ],
      // Another isolation by default (a managed server's parameter group): every data key's write refused (HKF02).
      [
        `ALTER ROLE ${probe} SET default_transaction_isolation = 'repeatable read'`,
        `ALTER ROLE ${probe} RESET default_transaction_isolation`,
        /transactions default to repeatable read; Haven runs in read committed/,
      ],
      // setval: the log's numbering moved to its end stops every instance (the service only draws numbers).
      [
        `GRANT UPDATE ON SEQUENCE audit_events_seq TO ${probe}`,
        `REVOKE UPDATE ON SEQUENCE audit_events_seq FROM ${probe}`,
        /may set the sequences audit_events_seq \(/,
      ],
      [
        `GRANT DELETE ON cases TO ${probe}`,
        `REVOKE DELETE ON cases FROM ${probe}`,
        /may delete from cases \(/,
      ],
      [
        `GRANT DELETE ON referrals, break_glass_grants TO ${probe}`,
        `REVOKE DELETE ON referrals, break_glass_grants FROM ${probe}`,
        /may delete from break_glass_grants, referrals \(/,
      ],
      [
        `GRANT DELETE ON data_keys TO ${probe}`,
        `REVOKE DELETE ON data_keys FROM ${probe}`,
        /may delete from data_keys \(/,
      ],
      [
        `GRANT CREATE ON SCHEMA public TO ${probe}`,
        `REVOKE CREATE ON SCHEMA public FROM ${probe}`,
        /create objects/,
      ],
      // A schema of its own, first on its path: its operators in place of the built-in ones (GRANT ALL PRIVILEGES
      // ON DATABASE, a common setup line, gives it).
      [
        `GRANT ALL PRIVILEGES ON DATABASE "${new URL(db.url).pathname.slice(1)}" TO ${probe}`,
        `REVOKE ALL PRIVILEGES ON DATABASE "${new URL(db.url).pathname.slice(1)}" FROM ${probe}`,
        /may create schemas in this database \(/,
      ],
      [
        `CREATE SCHEMA ${probe}_own AUTHORIZATION ${probe}`,
        `DROP SCHEMA ${probe}_own`,
        new RegExp(`may create objects in schema ${probe}_own`),
      ],
    ] as const;
    try {
      // As haven_app's member and nothing more: accepted.
      await (await openRuntimeDataSource(options(), db.url, config, silent)).destroy();
      for (const [grant, revoke, refusal] of cases) {
        await owner.query(grant);
        try {
          await expect(openRuntimeDataSource(options(), db.url, config, silent)).rejects.toThrow(refusal);
        } finally {
          await owner.query(revoke);
        }
      }
    } finally {
      await owner.query(`DROP ROLE ${probe}`);
      await owner.destroy();
    }
  });

  it('names which connection could not connect, and as which role (its log masks PostgreSQL’s quoted text)', async () => {
    const wrong = new URL(db.appUrl);
    wrong.password = 'not-the-password';
    const config = loadConfig({
      DATABASE_URL: db.url,
      DATABASE_APP_URL: wrong.toString(),
      HAVEN_DATA_DIR: dataDir,
    });
    const refused = await openRuntimeDataSource(options(), db.url, config, silent).then(
      () => 'connected',
      (e: Error) => e.message,
    );
    expect(refused).toMatch(
      new RegExp(
        `DATABASE_APP_URL \\(the runtime role\\): cannot connect as role ${wrong.username} \\(SQLSTATE 28P01`,
      ),
    );
    expect(refused).not.toContain('not-the-password');
  });

  it('refuses to run as a role that could change the log', async () => {
    const config = loadConfig({ DATABASE_URL: db.url, DATABASE_APP_URL: db.url, HAVEN_DATA_DIR: dataDir });
    await expect(openRuntimeDataSource(options(), db.url, config, silent)).rejects.toThrow(
      /runtime database role postgres is \(or may become, with SET ROLE\) a superuser, owns the access log/,
    );
  });

  it('a database ahead of this build: started with a warning, refused once a newer migration requires it; another database than DATABASE_URL’s refused, whatever its schema', async () => {
    const config = (env: Record<string, string> = {}) =>
      loadConfig({ DATABASE_URL: db.url, DATABASE_APP_URL: db.appUrl, HAVEN_DATA_DIR: dataDir, ...env });
    const owner = await new DataSource(options()).initialize();
    const newer = 'SomethingNewer1799999999999';
    /** Opens the runtime pool and closes it again; the warnings and errors it logged. */
    const started = async (env: Record<string, string> = {}) => {
      const lines: { level: number; migrations?: string[]; required?: string[] }[] = [];
      const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
      const runtime = await openRuntimeDataSource(options(), db.url, config(env), logger);
      await runtime.destroy();
      return lines.filter((l) => l.migrations);
    };
    const runner = owner.createQueryRunner();
    try {
      // A newer release applied a migration this one does not know (then it was rolled back to this one): a
      // compatible change starts, saying so.
      await owner.query(`INSERT INTO migrations ("timestamp", name) VALUES (1799999999999, $1)`, [newer]);
      const compatible = await started();
      expect(compatible).toEqual([expect.objectContaining({ level: 40, migrations: [newer] })]);
      expect(compatible[0]).not.toHaveProperty('required');
      // One the code before it would be wrong on is listed by its migration: refused, naming it and why.
      await requireOfEveryRelease(runner, newer, 'wrong codes of two-factor are counted');
      await expect(openRuntimeDataSource(options(), db.url, config(), silent)).rejects.toThrow(
        new RegExp(`which cannot run on it: ${newer} \\(wrong codes of two-factor are counted\\)`),
      );
      // Allowed on purpose: it starts, and says so as an error.
      expect(await started({ HAVEN_ALLOW_NEWER_SCHEMA: '1' })).toEqual([
        expect.objectContaining({ level: 50, migrations: [newer], required: [newer] }),
      ]);
    } finally {
      await releaseRequirement(runner, newer);
      await runner.release();
      await owner.query(`DELETE FROM migrations WHERE name = $1`, [newer]);
      await owner.destroy();
    }
    // DATABASE_APP_URL reaching another database: one without Haven's schema, and another installation's of the
    // same release (every migration there, as here).
    const other = await createTestDatabase();
    const bare = new URL(other.appUrl);
    bare.pathname = '/postgres';
    try {
      for (const url of [bare.toString(), other.appUrl]) {
        await expect(
          openRuntimeDataSource(options(), db.url, config({ DATABASE_APP_URL: url }), silent),
        ).rejects.toThrow(/the runtime role's connection reaches another database than DATABASE_URL's/);
      }
      // A refused start says why, even when closing the refused pool fails too.
      const destroy = DataSource.prototype.destroy;
      const closing = jest.spyOn(DataSource.prototype, 'destroy').mockImplementationOnce(async function (
        this: DataSource,
      ) {
        await destroy.call(this);
        throw new Error('the pool could not close');
      });
      try {
        await expect(
          openRuntimeDataSource(options(), db.url, config({ DATABASE_APP_URL: other.appUrl }), silent),
        ).rejects.toThrow(/reaches another database than DATABASE_URL's/);
      } finally {
        closing.mockRestore();
      }
      // The same database through another search_path: said so (a bare 42P01 would be retried).
      const elsewhere = new URL(db.appUrl);
      elsewhere.searchParams.set('options', '-c search_path=nowhere');
      await expect(
        openRuntimeDataSource(options(), db.url, config({ DATABASE_APP_URL: elsewhere.toString() }), silent),
      ).rejects.toThrow(/DATABASE_APP_URL: the runtime role's search_path leads to no schema, not to public/);
    } finally {
      await other.drop();
    }
  });

  it('warns when another login role of haven_app may connect to this database (roles are the whole server’s)', async () => {
    const config = loadConfig({ DATABASE_URL: db.url, DATABASE_APP_URL: db.appUrl, HAVEN_DATA_DIR: dataDir });
    const owner = await new DataSource(options()).initialize();
    const [{ name }] = await owner.query<{ name: string }[]>('SELECT current_database() AS name');
    // Another installation's runtime role on the same server.
    const stranger = `haven_other_${randomBytes(4).toString('hex')}`;
    await owner.query(`CREATE ROLE ${stranger} LOGIN PASSWORD 'other-only' IN ROLE haven_app`);
    // A member that may only administer the role (as PostgreSQL 16 makes the CREATEROLE role that created it, a
    // managed server's owner): it holds none of haven_app's rights.
    const administers = `${stranger}_admin`;
    await owner.query(`CREATE ROLE ${administers} LOGIN`);
    await owner.query(`GRANT haven_app TO ${administers} WITH ADMIN TRUE, INHERIT FALSE, SET FALSE`);
    // A login that may SET ROLE to a role inheriting haven_app's rights (it holds them a SET ROLE away).
    const through = `${stranger}_via`;
    await owner.query(`CREATE ROLE ${through}_group NOLOGIN`);
    await owner.query(`GRANT haven_app TO ${through}_group WITH INHERIT TRUE, SET FALSE`);
    await owner.query(`CREATE ROLE ${through} LOGIN`);
    await owner.query(`GRANT ${through}_group TO ${through} WITH INHERIT FALSE, SET TRUE`);
    const warnings = async (): Promise<{ roles?: string[] }[]> => {
      const lines: { level: number; roles?: string[] }[] = [];
      const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
      const runtime = await openRuntimeDataSource(options(), db.url, config, logger);
      await runtime.destroy();
      return lines.filter((l) => l.level === 40 && l.roles);
    };
    try {
      const [warning] = await warnings();
      expect(warning.roles).toContain(stranger);
      expect(warning.roles).not.toContain('haven_test_app');
      expect(warning.roles).not.toContain(administers);
      expect(warning.roles).toContain(through);
      // CONNECT to this installation's roles only: the stranger can no longer come in, nothing to say.
      await owner.query(`REVOKE CONNECT ON DATABASE ${name} FROM PUBLIC`);
      await owner.query(`GRANT CONNECT ON DATABASE ${name} TO haven_test_app`);
      expect(await warnings()).toEqual([]);
    } finally {
      await owner.query(`GRANT CONNECT ON DATABASE ${name} TO PUBLIC`);
      await owner.query(`REVOKE CONNECT ON DATABASE ${name} FROM haven_test_app`);
      await owner.query(`DROP ROLE ${stranger}`);
      await owner.query(`DROP ROLE ${administers}`);
      await owner.query(`DROP ROLE ${through}`);
      await owner.query(`DROP ROLE ${through}_group`);
      await owner.destroy();
    }
  });
});
