import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Organisations (sector, service area), user accounts (one role and its scope), revoked access tokens and
 * the sign-in throttle. Usernames are stored lower-case; throttle keys are hashes, never a raw username or IP.
 */
export class Identity1764000000300 implements MigrationInterface {
  name = 'Identity1764000000300';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE organizations (
        id            uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
        name          text        NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
        sector        varchar(10) NOT NULL
                      CHECK (sector IN ('police', 'health', 'social', 'shelter', 'legal', 'other')),
        province_code varchar(2)  NOT NULL REFERENCES admin_units (code),
        service_scope varchar(8)  NOT NULL CHECK (service_scope IN ('province', 'communes')),
        created_at    timestamptz NOT NULL DEFAULT now(),
        updated_at    timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(
      `CREATE UNIQUE INDEX organizations_province_name_key ON organizations (province_code, lower(name))`,
    );
    await q.query(`CREATE INDEX organizations_sector_idx ON organizations (sector)`);
    await q.query(`
      CREATE TABLE organization_communes (
        organization_id uuid       NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
        commune_code    varchar(5) NOT NULL REFERENCES admin_units (code),
        PRIMARY KEY (organization_id, commune_code)
      )`);
    await q.query(`CREATE INDEX organization_communes_commune_idx ON organization_communes (commune_code)`);

    await q.query(`
      CREATE TABLE users (
        id                  uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
        username            varchar(64) NOT NULL CHECK (username ~ '^[a-z0-9][a-z0-9._-]{2,63}$'),
        role                varchar(12) NOT NULL
                            CHECK (role IN ('ward_officer', 'provider', 'supervisor', 'admin')),
        status              varchar(8)  NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
        password_hash       text        NOT NULL,
        password_changed_at timestamptz NOT NULL DEFAULT now(),
        token_version       integer     NOT NULL DEFAULT 1,
        organization_id     uuid        REFERENCES organizations (id),
        province_code       varchar(2)  REFERENCES admin_units (code),
        totp_secret         bytea,
        totp_pending_secret bytea,
        totp_enabled_at     timestamptz,
        totp_last_step      bigint,
        demo_account        boolean     NOT NULL DEFAULT false,
        created_at          timestamptz NOT NULL DEFAULT now(),
        updated_at          timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT users_role_scope CHECK (
          (role = 'provider' AND organization_id IS NOT NULL AND province_code IS NULL)
          OR (role = 'supervisor' AND organization_id IS NULL)
          OR (role IN ('ward_officer', 'admin') AND organization_id IS NULL AND province_code IS NULL)
        ),
        CONSTRAINT users_totp_shape CHECK ((totp_secret IS NULL) = (totp_enabled_at IS NULL))
      )`);
    await q.query(`CREATE UNIQUE INDEX users_username_key ON users (username)`);
    await q.query(`CREATE INDEX users_organization_idx ON users (organization_id)`);
    await q.query(`
      CREATE TABLE user_communes (
        user_id      uuid       NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        commune_code varchar(5) NOT NULL REFERENCES admin_units (code),
        PRIMARY KEY (user_id, commune_code)
      )`);
    await q.query(`CREATE INDEX user_communes_commune_idx ON user_communes (commune_code)`);

    // Signed-out tokens until they would have expired anyway; pruned after that.
    await q.query(`
      CREATE TABLE revoked_tokens (
        jti        uuid        PRIMARY KEY,
        user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        expires_at timestamptz NOT NULL,
        revoked_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX revoked_tokens_expires_idx ON revoked_tokens (expires_at)`);

    // Failed sign-ins per account and per client IP (keys are SHA-256 hashes), shared by every instance.
    await q.query(`
      CREATE TABLE login_throttle (
        key               varchar(80) PRIMARY KEY,
        failures          integer     NOT NULL CHECK (failures >= 0),
        window_started_at timestamptz NOT NULL,
        locked_until      timestamptz
      )`);
    await q.query(`CREATE INDEX login_throttle_window_idx ON login_throttle (window_started_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE login_throttle`);
    await q.query(`DROP TABLE revoked_tokens`);
    await q.query(`DROP TABLE user_communes`);
    await q.query(`DROP TABLE users`);
    await q.query(`DROP TABLE organization_communes`);
    await q.query(`DROP TABLE organizations`);
  }
}
