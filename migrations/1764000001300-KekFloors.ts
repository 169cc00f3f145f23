import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The lowest KEK version a data key may still be wrapped with, per KEK id (`kek_floors`), enforced by the
 * database for every writer. `keys:rotate` raises it to the version it rotates to; from then on a data key
 * wrapped with an older version is refused (SQLSTATE HKF01), so an instance that has not installed the rotated
 * keyring cannot create keys that become unreadable once the old version is removed from the keyring: the
 * CLI's list of versions no key uses stays true (docs/keys.md). The service's role may only read the floors.
 *
 * The triggers read the floor after the statement's rows are written, when its transaction has an id, so that
 * the CLI, which waits after raising the floor for every transaction that was running then, also waits for any
 * writer that read the old floor.
 */
export class KekFloors1764000001300 implements MigrationInterface {
  name = 'KekFloors1764000001300';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE kek_floors (
        kek_id      text        PRIMARY KEY,
        min_version integer     NOT NULL CHECK (min_version >= 1),
        raised_at   timestamptz NOT NULL DEFAULT now()
      )`);
    // Statement-level, over the rows the statement wrote: a row-level plpgsql trigger cost ~24 µs per row here
    // (a bulk load of a million keys: ~24 s more), this one ~3 µs per row in bulk and one check per registration.
    // It runs after the rows are written, so its transaction has an id before it reads the floor. Invoker's
    // rights (the service's role may read the floors); the table is schema-qualified, so a temporary table of
    // the same name cannot stand in for it.
    await q.query(`
      CREATE FUNCTION data_keys_kek_floor() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
          below record;
        BEGIN
          SELECT k.kek_id, k.kek_version, f.min_version INTO below
            FROM written k JOIN public.kek_floors f ON f.kek_id = k.kek_id
           WHERE k.wrapped_dek IS NOT NULL AND k.kek_version < f.min_version
           LIMIT 1;
          IF FOUND THEN
            RAISE EXCEPTION 'data key wrapped with % v%, below the KEK floor v% (install the rotated keyring)',
              below.kek_id, below.kek_version, below.min_version USING ERRCODE = 'HKF01';
          END IF;
          RETURN NULL;
        END $$`);
    // Destroyed keys (wrapped_dek NULL) are exempt: shredding a key of an old version must keep working.
    // (PostgreSQL takes one event per trigger with transition tables, hence two.)
    await q.query(`
      CREATE TRIGGER data_keys_kek_floor_insert AFTER INSERT ON data_keys REFERENCING NEW TABLE AS written
        FOR EACH STATEMENT EXECUTE FUNCTION data_keys_kek_floor()`);
    await q.query(`
      CREATE TRIGGER data_keys_kek_floor_update AFTER UPDATE ON data_keys REFERENCING NEW TABLE AS written
        FOR EACH STATEMENT EXECUTE FUNCTION data_keys_kek_floor()`);
    await q.query(`REVOKE ALL ON TABLE kek_floors FROM haven_app`);
    await q.query(`GRANT SELECT ON TABLE kek_floors TO haven_app`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER data_keys_kek_floor_insert ON data_keys`);
    await q.query(`DROP TRIGGER data_keys_kek_floor_update ON data_keys`);
    await q.query(`DROP FUNCTION data_keys_kek_floor()`);
    await q.query(`DROP TABLE kek_floors`);
  }
}
