import { MigrationInterface, QueryRunner } from 'typeorm';

/** The tables the running service deletes rows from (expired tokens and step-ups, throttle counters, scopes). */
const DELETABLE = [
  'revoked_tokens',
  'session_step_ups',
  'login_throttle',
  'user_communes',
  'organization_communes',
];

/**
 * The KEK floor's trigger function (migration KekFloors), `readCommittedOnly`: with this migration's refusal of
 * other isolation levels.
 */
function kekFloorFunction(readCommittedOnly: boolean): string {
  const isolation = readCommittedOnly
    ? `IF current_setting('transaction_isolation') <> 'read committed'
             AND EXISTS (SELECT 1 FROM written k WHERE k.wrapped_dek IS NOT NULL) THEN
            RAISE EXCEPTION 'data keys are written in READ COMMITTED transactions only (the KEK floor)'
              USING ERRCODE = 'HKF02';
          END IF;`
    : '';
  return `
      CREATE OR REPLACE FUNCTION data_keys_kek_floor() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
          below record;
        BEGIN
          ${isolation}
          SELECT k.kek_id, k.kek_version, f.min_version INTO below
            FROM written k JOIN public.kek_floors f ON f.kek_id = k.kek_id
           WHERE k.wrapped_dek IS NOT NULL AND k.kek_version < f.min_version
           LIMIT 1;
          IF FOUND THEN
            RAISE EXCEPTION 'data key wrapped with % v%, below the KEK floor v% (install the rotated keyring)',
              below.kek_id, below.kek_version, below.min_version USING ERRCODE = 'HKF01';
          END IF;
          RETURN NULL;
        END $$`;
}

/**
 * What the service's role (haven_app) may do, narrowed to what it does:
 * - no DELETE except on DELETABLE: a case goes only by crypto-shredding, a grant, a note or a data key never;
 * - a destroyed data key (its tombstone) cannot be changed back: keys.md's "the owner never gets a new key";
 * - nobody but the owner creates objects in schema `public` (a cluster upgraded from PostgreSQL 14 or older
 *   keeps PUBLIC's old CREATE right there, with which a role could plant same-named functions);
 * - the KEK floor is checked in READ COMMITTED writes only: a REPEATABLE READ transaction whose snapshot predates
 *   a raise would read the old floor, and `keys:rotate` waits only for transactions that had written by then.
 */
export class ServiceRoleNarrowed1764000001800 implements MigrationInterface {
  name = 'ServiceRoleNarrowed1764000001800';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`REVOKE DELETE ON ALL TABLES IN SCHEMA public FROM haven_app`);
    await q.query(`GRANT DELETE ON TABLE ${DELETABLE.join(', ')} TO haven_app`);
    await q.query(`ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE DELETE ON TABLES FROM haven_app`);
    await q.query(`REVOKE CREATE ON SCHEMA public FROM PUBLIC`);

    await q.query(`
      CREATE FUNCTION data_keys_tombstone_final() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          RAISE EXCEPTION 'data key of % % was destroyed: it stays destroyed', OLD.owner_type, OLD.owner_id
            USING ERRCODE = 'HKD01';
        END $$`);
    // WHEN: only a destroyed key's row calls the function; every other update costs nothing more.
    await q.query(`
      CREATE TRIGGER data_keys_tombstone_final BEFORE UPDATE ON data_keys
        FOR EACH ROW WHEN (OLD.destroyed_at IS NOT NULL) EXECUTE FUNCTION data_keys_tombstone_final()`);

    await q.query(kekFloorFunction(true));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(kekFloorFunction(false));
    await q.query(`DROP TRIGGER data_keys_tombstone_final ON data_keys`);
    await q.query(`DROP FUNCTION data_keys_tombstone_final()`);
    // PUBLIC's CREATE on `public` is not given back: PostgreSQL 15 and later do not give it either.
    await q.query(`ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT DELETE ON TABLES TO haven_app`);
    await q.query(`GRANT DELETE ON ALL TABLES IN SCHEMA public TO haven_app`);
    // The log and its guards never had DELETE (AccessLog, KekFloors).
    await q.query(
      `REVOKE DELETE ON TABLE audit_events, audit_checkpoints, audit_chain_heads, kek_floors, case_counts, migrations
         FROM haven_app`,
    );
  }
}
