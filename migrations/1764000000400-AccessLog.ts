import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The access log (docs/audit.md) and the database role the application runs as.
 *
 * - `haven_app` (NOLOGIN): the privileges of the running service. It gets SELECT/INSERT/UPDATE/DELETE on the
 *   tables of the schema (now, and through default privileges on every table and sequence later migrations
 *   create as the same role), but only INSERT and SELECT on the log, and nothing that alters the schema. The
 *   service connects as a LOGIN member of it (embedded: `haven_app_login`; otherwise DATABASE_APP_URL);
 *   migrations keep running as the owner (DATABASE_URL). A future table that must be append-only revokes
 *   UPDATE, DELETE from haven_app in its own migration; a migration run as another role grants explicitly.
 * - `audit_events`: one row per access, chained per stripe with a keyed MAC; `audit_chain_heads`: the head of
 *   each stripe (locked FOR UPDATE by one writer at a time per stripe); `audit_checkpoints`: signed heads.
 *   Triggers reject UPDATE, DELETE and TRUNCATE on the log and checkpoints, and rewinding a stripe head,
 *   whoever asks (the owner included; a superuser can disable them, which the chain and checkpoints detect).
 *
 * Roles belong to the whole cluster, not to one database: `down` revokes this database's grants but leaves
 * the role (other databases of the cluster may use it).
 */
export class AccessLog1764000000400 implements MigrationInterface {
  name = 'AccessLog1764000000400';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      DO $$
      BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'haven_app') THEN
          CREATE ROLE haven_app NOLOGIN;
        END IF;
      EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL; -- created concurrently by a migration of another database of the cluster
      END $$`);

    await q.query(`CREATE SEQUENCE audit_events_seq AS bigint START WITH 1 NO CYCLE`);
    await q.query(`
      CREATE TABLE audit_events (
        seq            bigint       PRIMARY KEY,
        stripe         smallint     NOT NULL CHECK (stripe BETWEEN 0 AND 255),
        prev_seq       bigint       NOT NULL CHECK (prev_seq >= 0 AND prev_seq < seq),
        at             timestamptz  NOT NULL,
        actor_id       uuid,
        actor_role     varchar(12)  CHECK (actor_role IN ('ward_officer', 'provider', 'supervisor', 'admin')),
        actor_org_id   uuid,
        actor_communes varchar(5)[] NOT NULL DEFAULT '{}',
        action         varchar(32)  NOT NULL CHECK (action ~ '^[a-z][a-z_]*\\.[a-z][a-z_]*$'),
        resource_type  varchar(24)  CHECK (resource_type ~ '^[a-z][a-z_]*$'),
        resource_id    uuid,
        case_id        uuid,
        fields         varchar(12)[] NOT NULL DEFAULT '{}',
        outcome        varchar(7)   NOT NULL CHECK (outcome IN ('allowed', 'denied', 'error')),
        reason         varchar(64)  CHECK (reason ~ '^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)*$'),
        ip             varchar(45),
        user_agent     varchar(256),
        request_id     varchar(64),
        returned_ids   uuid[]       NOT NULL DEFAULT '{}',
        province_code  varchar(2),
        commune_code   varchar(5),
        jurisdictions  varchar(2)[] NOT NULL DEFAULT '{}',
        mac            bytea        NOT NULL CHECK (length(mac) = 32)
      )`);
    // The supervisor API filters by case, actor, period and jurisdiction, newest first.
    await q.query(
      `CREATE INDEX audit_events_case_idx ON audit_events (case_id, seq) WHERE case_id IS NOT NULL`,
    );
    await q.query(
      `CREATE INDEX audit_events_actor_idx ON audit_events (actor_id, seq) WHERE actor_id IS NOT NULL`,
    );
    await q.query(`CREATE INDEX audit_events_at_idx ON audit_events (at)`);
    await q.query(`CREATE INDEX audit_events_jurisdictions_idx ON audit_events USING gin (jurisdictions)`);

    await q.query(`
      CREATE TABLE audit_chain_heads (
        stripe     smallint    PRIMARY KEY CHECK (stripe BETWEEN 0 AND 255),
        last_seq   bigint      NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
        head       bytea       NOT NULL CHECK (length(head) = 32),
        updated_at timestamptz
      )`);
    // 16 stripes: up to 16 transactions append at the same time (see docs/audit.md before changing it).
    await q.query(`
      INSERT INTO audit_chain_heads (stripe, head)
      SELECT s, decode(repeat('00', 32), 'hex') FROM generate_series(0, 15) AS s`);

    await q.query(`
      CREATE TABLE audit_checkpoints (
        id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        seq        bigint      NOT NULL CHECK (seq >= 0),
        at         timestamptz NOT NULL,
        root       bytea       NOT NULL CHECK (length(root) = 32),
        key_id     varchar(64) NOT NULL,
        signature  bytea       NOT NULL CHECK (length(signature) = 64),
        document   text        NOT NULL
      )`);
    await q.query(`CREATE INDEX audit_checkpoints_at_idx ON audit_checkpoints (at)`);

    await q.query(`
      CREATE FUNCTION audit_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'haven: % on % is not allowed: the access log is append-only', TG_OP, TG_TABLE_NAME
          USING ERRCODE = 'insufficient_privilege';
      END $$`);
    await q.query(`
      CREATE FUNCTION audit_head_advance_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.stripe <> OLD.stripe OR NEW.last_seq <= OLD.last_seq THEN
          RAISE EXCEPTION 'haven: an access-log chain head may only move forward'
            USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN NEW;
      END $$`);
    for (const table of ['audit_events', 'audit_checkpoints', 'audit_chain_heads']) {
      const ops = table === 'audit_chain_heads' ? 'DELETE' : 'UPDATE OR DELETE';
      await q.query(
        `CREATE TRIGGER ${table}_append_only BEFORE ${ops} ON ${table} FOR EACH ROW EXECUTE FUNCTION audit_reject_change()`,
      );
      await q.query(
        `CREATE TRIGGER ${table}_no_truncate BEFORE TRUNCATE ON ${table} FOR EACH STATEMENT EXECUTE FUNCTION audit_reject_change()`,
      );
    }
    await q.query(
      `CREATE TRIGGER audit_chain_heads_forward BEFORE UPDATE ON audit_chain_heads FOR EACH ROW EXECUTE FUNCTION audit_head_advance_only()`,
    );

    // What the running service may do. Everything else stays with the owner that runs migrations.
    await q.query(`GRANT USAGE ON SCHEMA public TO haven_app`);
    await q.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO haven_app`);
    await q.query(`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO haven_app`);
    await q.query(
      `ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO haven_app`,
    );
    await q.query(`ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO haven_app`);
    await q.query(`REVOKE ALL ON TABLE migrations FROM haven_app`);
    await q.query(`GRANT SELECT ON TABLE migrations TO haven_app`);
    await q.query(
      `REVOKE ALL ON TABLE audit_events, audit_checkpoints, audit_chain_heads FROM haven_app, PUBLIC`,
    );
    await q.query(`GRANT SELECT, INSERT ON TABLE audit_events, audit_checkpoints TO haven_app`);
    await q.query(`GRANT SELECT, UPDATE ON TABLE audit_chain_heads TO haven_app`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE audit_checkpoints`);
    await q.query(`DROP TABLE audit_chain_heads`);
    await q.query(`DROP TABLE audit_events`);
    await q.query(`DROP SEQUENCE audit_events_seq`);
    await q.query(`DROP FUNCTION audit_head_advance_only()`);
    await q.query(`DROP FUNCTION audit_reject_change()`);
    await q.query(
      `ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE USAGE, SELECT ON SEQUENCES FROM haven_app`,
    );
    await q.query(
      `ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM haven_app`,
    );
    await q.query(`REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM haven_app`);
    await q.query(`REVOKE ALL ON ALL TABLES IN SCHEMA public FROM haven_app`);
    await q.query(`REVOKE USAGE ON SCHEMA public FROM haven_app`);
  }
}
