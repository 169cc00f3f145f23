import { randomInt } from 'node:crypto';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { DataSource, DataSourceOptions } from 'typeorm';
import { ConfigError, type AppConfig } from '../config/config';
import { dataSourceOptions } from './data-source-options';
import { readOrCreateSecret } from './embedded-database';
import { assertSchemaOfThisBuild, runMigrationsLocked } from './migrate';

/** The group role migrations grant the service's privileges to (migration 1764000000400-AccessLog). */
export const APP_GROUP_ROLE = 'haven_app';
/** The login role Haven provisions on its embedded server; its password lives in HAVEN_DATA_DIR. */
export const EMBEDDED_APP_LOGIN = 'haven_app_login';
export const APP_SECRET_FILE = 'postgres-app.secret';

/**
 * Starts the database side of the service: applies pending migrations as the schema owner (DATABASE_URL or
 * the embedded superuser), then opens the runtime pool as a role that is a member of `haven_app` and may
 * only INSERT and SELECT on the access log:
 * - embedded server: `haven_app_login`, created (or re-passworded) here with a password kept in
 *   HAVEN_DATA_DIR/postgres-app.secret (0600);
 * - DATABASE_URL: DATABASE_APP_URL, which must be such a role (checked; the service refuses to start otherwise);
 *   without it (development only; production requires it) the service runs as the owner and says so.
 */
export async function openRuntimeDataSource(
  options: DataSourceOptions,
  ownerUrl: string,
  config: AppConfig,
  logger: Logger,
): Promise<DataSource> {
  const owner = await connectAs(
    config.database.url ? 'DATABASE_URL (the schema owner)' : 'the embedded server (the schema owner)',
    ownerUrl,
    new DataSource(dataSourceOptions({ url: ownerUrl, poolSize: 2, applicationName: 'haven-migrate' })),
  );
  let runtimeUrl: string;
  let restricted = true;
  try {
    const applied = await runMigrationsLocked(owner, (holder) =>
      logger.warn(
        { holderPid: holder.pid, holderApplication: holder.application },
        'waiting for the migration lock, held by another session (another instance migrating, or migrations:run)',
      ),
    );
    if (applied.length) logger.info({ migrations: applied.map((m) => m.name) }, 'migrations applied');
    if (config.database.appUrl) {
      runtimeUrl = config.database.appUrl;
    } else if (!config.database.url) {
      runtimeUrl = await provisionEmbeddedAppLogin(owner, ownerUrl, config.dataDir);
    } else {
      restricted = false;
      runtimeUrl = ownerUrl;
      logger.warn(
        'DATABASE_APP_URL is not set: the service runs as the schema owner, which could alter the access log. ' +
          'Set DATABASE_APP_URL to a login role that is a member of haven_app (required in production).',
      );
    }
    // This start's token, held by the owner's session while the runtime role's connection looks for it: found
    // only on the same server and in the same database (advisory locks are per database).
    const token = [randomInt(1, 2 ** 31), randomInt(1, 2 ** 31)];
    const holder = owner.createQueryRunner();
    await holder.connect();
    try {
      await holder.query('SELECT pg_advisory_lock($1, $2)', token);
      const runtime = await connectAs(
        config.database.appUrl ? 'DATABASE_APP_URL (the runtime role)' : 'the runtime role',
        runtimeUrl,
        new DataSource({ ...options, url: runtimeUrl } as DataSourceOptions),
      );
      try {
        await checkRuntime(runtime, token, restricted, config, logger);
        return runtime;
      } catch (e) {
        // The refusal is what the operator must read, not a failure to close the pool it refused.
        await runtime.destroy().catch(() => undefined);
        throw e;
      }
    } finally {
      await holder.query('SELECT pg_advisory_unlock($1, $2)', token).catch(() => undefined);
      await holder.release();
    }
  } finally {
    await owner.destroy();
  }
}

/**
 * What a start asks of the runtime role's connection: the database the owner migrated (`token`), this build's
 * schema, and (`restricted`: not the owner itself) the rights of haven_app and no more.
 */
async function checkRuntime(
  runtime: DataSource,
  token: readonly number[],
  restricted: boolean,
  config: AppConfig,
  logger: Logger,
): Promise<void> {
  await assertSameDatabase(runtime, token);
  await assertReadCommitted(runtime);
  await assertSchemaOfThisBuild(runtime, config.database.allowNewerSchema, (unknown, required) => {
    if (required.length) {
      logger.error(
        { migrations: unknown, required },
        'the database is ahead of this build, which cannot run on it (HAVEN_ALLOW_NEWER_SCHEMA=1): what the ' +
          'required migrations added is not in force',
      );
    } else {
      logger.warn(
        { migrations: unknown },
        'the database is ahead of this build (migrations applied by a newer release; none requires it)',
      );
    }
  });
  if (!restricted) return;
  await assertRestrictedRole(runtime);
  const others = await otherAppLogins(runtime);
  if (others.length) {
    logger.warn(
      { roles: others },
      `other login roles may connect to this database as members of ${APP_GROUP_ROLE} (roles are the server's, ` +
        "not the database's: another installation's runtime role on this server writes this one's accounts " +
        "and cases): REVOKE CONNECT ON DATABASE ... FROM PUBLIC and grant CONNECT to this installation's roles " +
        'only, or give each installation a server of its own (docs/deployment.md)',
    );
  }
}

/**
 * Refuses a runtime connection whose transactions are not READ COMMITTED by default (`default_transaction_isolation`
 * set on the database, the role or in the URL's options, as a managed server's parameter group may): Haven's
 * writes are made for it, and the database refuses a data key written from a REPEATABLE READ or SERIALIZABLE
 * transaction (HKF02, migration ServiceRoleNarrowed: the KEK floor could be read from a snapshot taken before a
 * rotation raised it), so every registration would fail.
 */
async function assertReadCommitted(runtime: DataSource): Promise<void> {
  const [{ level }] = await runtime.query<{ level: string }[]>(
    `SELECT current_setting('default_transaction_isolation') AS level`,
  );
  if (level !== 'read committed') {
    throw new ConfigError([
      `DATABASE_APP_URL: the runtime database role's transactions default to ${level}; Haven runs in read ` +
        'committed: reset default_transaction_isolation for this database and role (ALTER DATABASE / ALTER ROLE ' +
        '... RESET default_transaction_isolation), or remove it from the connection options.',
    ]);
  }
}

/**
 * Refuses a runtime connection that does not reach the database the owner migrated: it must see the advisory
 * lock `token` the owner's session holds (DATABASE_APP_URL naming another database, or another installation's of
 * the same release, would otherwise pass every other check and run there), and find its tables in schema public
 * (a search_path set on the role or in the URL could lead to another schema's copy of them).
 */
async function assertSameDatabase(runtime: DataSource, token: readonly number[]): Promise<void> {
  const [{ same, schema }] = await runtime.query<{ same: boolean; schema: string | null }[]>(
    `SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_database d ON d.oid = l.database
                     WHERE l.locktype = 'advisory' AND d.datname = current_database() AND l.granted
                       AND l.classid = $1::oid AND l.objid = $2::oid AND l.objsubid = 2) AS same,
            current_schema() AS schema`,
    [String(token[0]), String(token[1])],
  );
  if (!same) {
    throw new ConfigError([
      "DATABASE_APP_URL: the runtime role's connection reaches another database than DATABASE_URL's (it does not " +
        'see the lock this start holds there): both must name the same database on the same server',
    ]);
  }
  // Its tables are found by name through its search_path, which must lead where the owner migrated.
  if (schema !== 'public') {
    throw new ConfigError([
      `DATABASE_APP_URL: the runtime role's search_path leads to ${schema ?? 'no schema'}, not to public, the ` +
        'schema the owner migrated (its tables are looked for there)',
    ]);
  }
}

/**
 * The login roles other than this one that hold haven_app's rights (through any chain of roles: inherited, or a
 * SET ROLE away) and may connect to this database: haven_app is the server's, so every Haven database on one
 * server grants its rights to the runtime roles of all of them (superusers left out: they may do anything
 * anyway). A membership that gives neither (PostgreSQL 16 makes the CREATEROLE role that creates haven_app, the
 * owner on a managed server, its member with ADMIN alone) is not one. At most 20, by name.
 */
export async function otherAppLogins(dataSource: DataSource): Promise<string[]> {
  const rows = await dataSource.query<{ rolname: string }[]>(
    `SELECT r.rolname FROM pg_roles r
      WHERE r.rolcanlogin AND NOT r.rolsuper AND r.rolname <> current_user
        AND CASE WHEN current_setting('server_version_num')::int >= 160000
                 -- Its rights inherited, or a SET ROLE away (a role may always SET to itself): a role it may
                 -- become that inherits haven_app's.
                 THEN EXISTS (SELECT 1 FROM pg_roles g
                               WHERE pg_has_role(r.oid, g.oid, 'SET') AND pg_has_role(g.oid, '${APP_GROUP_ROLE}', 'USAGE'))
                 ELSE pg_has_role(r.oid, '${APP_GROUP_ROLE}', 'MEMBER') END
        AND has_database_privilege(r.oid, current_database(), 'CONNECT')
      ORDER BY r.rolname LIMIT 20`,
  );
  return rows.map((r) => r.rolname);
}

/**
 * Opens `dataSource`, or fails naming which connection and role could not connect, with PostgreSQL's code: its
 * own message quotes the role and database, and the log masks quoted text (it may be a submitted value), so an
 * operator could not tell whether DATABASE_URL or DATABASE_APP_URL was wrong. The role is configuration.
 */
async function connectAs(which: string, url: string, dataSource: DataSource): Promise<DataSource> {
  try {
    return await dataSource.initialize();
  } catch (e) {
    let role = '(unknown)';
    try {
      role = decodeURIComponent(new URL(url).username) || '(default)';
    } catch {
      // not a URL: say so by the placeholder
    }
    const code = (e as { code?: unknown }).code;
    throw new Error(
      `${which}: cannot connect as role ${role} (${typeof code === 'string' ? `SQLSTATE ${code}` : (e as Error).name}; ` +
        '28P01 wrong password, 28000 no such role or not allowed from here, 3D000 no such database)',
      { cause: e },
    );
  }
}

/** Creates or updates the embedded runtime login role; returns its connection URL. */
export async function provisionEmbeddedAppLogin(
  owner: DataSource,
  ownerUrl: string,
  dataDir: string,
): Promise<string> {
  const password = await readOrCreateSecret(join(dataDir, APP_SECRET_FILE));
  // Role DDL takes no bind parameters; the password is base64url (checked), so it needs no escaping.
  if (!/^[A-Za-z0-9_-]{16,128}$/.test(password))
    throw new Error(`${APP_SECRET_FILE} is not a Haven-generated secret`);
  await owner.query(`
    DO $$
    BEGIN
      IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${EMBEDDED_APP_LOGIN}') THEN
        CREATE ROLE ${EMBEDDED_APP_LOGIN} LOGIN;
      END IF;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
      NULL; -- created at the same moment by another start
    END $$`);
  await owner.query(
    `ALTER ROLE ${EMBEDDED_APP_LOGIN} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS ` +
      `INHERIT PASSWORD '${password}'`,
  );
  await owner.query(`GRANT ${APP_GROUP_ROLE} TO ${EMBEDDED_APP_LOGIN}`);
  const url = new URL(ownerUrl);
  url.username = EMBEDDED_APP_LOGIN;
  url.password = password; // base64url: nothing to escape
  return url.toString();
}

/**
 * The tables whose rows the running service deletes (expired tokens and step-ups, throttle counters, scopes);
 * on every other, a runtime role that may DELETE is refused (migration ServiceRoleNarrowed keeps its own list).
 */
const SERVICE_DELETES = [
  'login_throttle',
  'organization_communes',
  'revoked_tokens',
  'session_step_ups',
  'user_communes',
] as const;

/**
 * SQL: the tables of schema public (but `except`, SQL for a text[]) on which the role, or a role it may become
 * (`become`), holds `privilege`; with `sequences`, its sequences instead (UPDATE: setval).
 */
function relationsWith(
  privilege: 'DELETE' | 'TRUNCATE' | 'TRIGGER' | 'UPDATE',
  { except, sequences = false }: { except?: string; sequences?: boolean } = {},
): string {
  const kinds = sequences ? `c.relkind = 'S'` : `c.relkind IN ('r', 'p')`;
  const holds = sequences ? 'has_sequence_privilege' : 'has_table_privilege';
  return `(SELECT coalesce(array_agg(c.relname::text ORDER BY c.relname), '{}')
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = 'public' AND ${kinds}${except ? ` AND c.relname <> ALL(${except})` : ''}
                AND EXISTS (SELECT 1 FROM become b WHERE ${holds}(b.oid, c.oid, '${privilege}')))`;
}

/**
 * Refuses a runtime role that could change the log or the keys' floor: a superuser, the table's owner (or a
 * member of it), a role that may create roles (it could grant itself more), or a role granted more than the
 * service needs on the tables that guard integrity, each also through a role it may become with SET ROLE (a
 * membership without INHERIT grants nothing until then): UPDATE, DELETE or TRUNCATE on the log or its checkpoints,
 * DELETE or TRUNCATE on the stripe heads, any write on `kek_floors`, UPDATE, DELETE or TRUNCATE on `kek_checks`,
 * DELETE on a table but SERVICE_DELETES, TRUNCATE or TRIGGER on any (a BEFORE INSERT trigger on the log would
 * rewrite every instance's entries as they are written), UPDATE on `referral_notes` or `admin_units`, UPDATE on a
 * sequence (setval: `audit_events_seq` moved to its end, or a checkpoint stated at a seq no entry will reach),
 * CREATE on the database or in any schema (a schema of its own first on its search path).
 * UPDATE and INSERT count when granted on one column only (`has_any_column_privilege`: `has_table_privilege`
 * sees table-wide grants alone, and `UPDATE (organization_id) ON referral_notes` would move a note). It must be a member of haven_app. (A role supplied through DATABASE_APP_URL is
 * checked so; the embedded server's own is made that way.)
 */
export async function assertRestrictedRole(dataSource: DataSource): Promise<void> {
  const [r] = await dataSource.query<
    {
      superuser: boolean;
      createrole: boolean;
      member: boolean;
      owner: boolean;
      can_change: boolean;
      can_change_guards: boolean;
      can_rewrite_notes: boolean;
      can_move_units: boolean;
      deletes: string[];
      truncates: string[];
      triggers: string[];
      sequences: string[];
      creates_schemas: boolean;
      creates_in: string[];
      role: string;
    }[]
  >(
    // Privileges are those of the role or of any role it may become (`become`: MEMBER, inherited or not, a SET
    // ROLE away), as the superuser, CREATEROLE and owner checks take them.
    `WITH become AS (SELECT g.oid FROM pg_roles g WHERE pg_has_role(current_user, g.oid, 'MEMBER'))
     SELECT current_user AS role,
            EXISTS (SELECT 1 FROM pg_roles g JOIN become b ON b.oid = g.oid
                     WHERE g.rolsuper OR g.rolbypassrls) AS superuser,
            EXISTS (SELECT 1 FROM pg_roles g JOIN become b ON b.oid = g.oid WHERE g.rolcreaterole) AS createrole,
            pg_has_role(current_user, '${APP_GROUP_ROLE}', 'USAGE') AS member,
            pg_has_role(current_user, (SELECT tableowner FROM pg_tables
                                        WHERE schemaname = 'public' AND tablename = 'audit_events'), 'MEMBER') AS owner,
            EXISTS (SELECT 1 FROM become b
                     WHERE has_table_privilege(b.oid, 'public.audit_events', 'DELETE, TRUNCATE')
                        OR has_any_column_privilege(b.oid, 'public.audit_events', 'UPDATE')) AS can_change,
            EXISTS (SELECT 1 FROM become b
                     WHERE has_table_privilege(b.oid, 'public.audit_checkpoints', 'DELETE, TRUNCATE')
                        OR has_any_column_privilege(b.oid, 'public.audit_checkpoints', 'UPDATE')
                        OR has_table_privilege(b.oid, 'public.audit_chain_heads', 'DELETE, TRUNCATE')
                        OR has_table_privilege(b.oid, 'public.kek_floors', 'DELETE, TRUNCATE')
                        OR has_any_column_privilege(b.oid, 'public.kek_floors', 'INSERT, UPDATE')
                        OR has_table_privilege(b.oid, 'public.kek_checks', 'DELETE, TRUNCATE')
                        OR has_any_column_privilege(b.oid, 'public.kek_checks', 'UPDATE'))
              AS can_change_guards,
            EXISTS (SELECT 1 FROM become b WHERE has_any_column_privilege(b.oid, 'public.referral_notes', 'UPDATE'))
              AS can_rewrite_notes,
            EXISTS (SELECT 1 FROM become b WHERE has_any_column_privilege(b.oid, 'public.admin_units', 'UPDATE'))
              AS can_move_units,
            ${relationsWith('DELETE', { except: '$1::text[]' })} AS deletes,
            ${relationsWith('TRUNCATE')} AS truncates,
            ${relationsWith('TRIGGER')} AS triggers,
            ${relationsWith('UPDATE', { sequences: true })} AS sequences,
            EXISTS (SELECT 1 FROM become b WHERE has_database_privilege(b.oid, current_database(), 'CREATE'))
              AS creates_schemas,
            ARRAY(SELECT n.nspname::text FROM pg_namespace n
                   WHERE n.nspname !~ '^pg_(temp|toast_temp)_'
                     AND EXISTS (SELECT 1 FROM become b WHERE has_schema_privilege(b.oid, n.oid, 'CREATE'))
                   ORDER BY 1) AS creates_in`,
    [SERVICE_DELETES],
  );
  const problems: string[] = [];
  if (!r?.member) problems.push(`is not a member of ${APP_GROUP_ROLE}`);
  if (r?.superuser) problems.push('is (or may become, with SET ROLE) a superuser');
  if (r?.owner) problems.push('owns the access log (or is a member of its owner)');
  if (r?.can_change) problems.push('may UPDATE, DELETE or TRUNCATE the access log');
  if (r?.can_change_guards) {
    problems.push(
      'may change the checkpoints, delete the stripe heads, write the KEK floor or change the KEK checks',
    );
  }
  if (r?.can_rewrite_notes) problems.push('may UPDATE referral_notes (a provider’s note is never changed)');
  if (r?.can_move_units) {
    problems.push(
      'may UPDATE admin_units (a commune given another province takes what its staff and cases show to that ' +
        'province’s supervisors; units:import changes units, as the owner)',
    );
  }
  if (r?.deletes.length) {
    problems.push(
      `may delete from ${r.deletes.join(', ')} (a case goes by crypto-shredding only; the service deletes rows ` +
        `of ${SERVICE_DELETES.join(', ')} alone)`,
    );
  }
  if (r?.truncates.length) {
    problems.push(`may TRUNCATE ${r.truncates.join(', ')} (the service never empties a table)`);
  }
  if (r?.triggers.length) {
    problems.push(
      `may create triggers on ${r.triggers.join(', ')} (a trigger could rewrite or drop what every instance writes)`,
    );
  }
  if (r?.sequences.length) {
    problems.push(
      `may set the sequences ${r.sequences.join(', ')} (setval: the access log's numbering moved far ahead stops ` +
        'every instance; the service only draws numbers)',
    );
  }
  // A schema of its own first on its search path would put its operators and functions in place of the built-in
  // ones wherever a session's path reaches (the guards' functions run with a path of their own: GuardFunctionsPinned).
  if (r?.creates_schemas) problems.push('may create schemas in this database (CREATE on the database)');
  if (r?.creates_in.length) problems.push(`may create objects in schema ${r.creates_in.join(', ')}`);
  if (r?.createrole) problems.push('may create roles (CREATEROLE, its own or a role it may become)');
  if (problems.length) {
    throw new ConfigError([
      `DATABASE_APP_URL: the runtime database role ${r?.role ?? ''} ${problems.join(', ')}. Connect the service ` +
        `as a login role that is a member of ${APP_GROUP_ROLE} and nothing more.`,
    ]);
  }
}
