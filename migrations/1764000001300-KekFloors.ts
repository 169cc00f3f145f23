import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The lowest KEK version a data key may still be wrapped with, per KEK id (`kek_floors`), enforced by the
 * database for every writer. `keys:rotate` raises it to the version it rotates to; from then on a data key
 * wrapped with an older version is refused (SQLSTATE HKF01), so an instance that has not installed the rotated
 * keyring cannot create keys that become unreadable once the old version is removed from the keyring: the
 * CLI's list of versions no key uses stays true (docs/keys.md). The service's role may only read the floors.
 *
 * The trigger gives its transaction an id before reading the floor, so that the CLI, which waits after raising
 * the floor for every transaction that was running then, also waits for any writer that read the old floor.
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
    await q.query(`
      CREATE FUNCTION data_keys_kek_floor() RETURNS trigger
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
        DECLARE
          floor_version integer;
        BEGIN
          PERFORM pg_current_xact_id();
          SELECT min_version INTO floor_version FROM kek_floors WHERE kek_id = NEW.kek_id;
          IF floor_version IS NOT NULL AND NEW.kek_version < floor_version THEN
            RAISE EXCEPTION 'data key wrapped with % v%, below the KEK floor v% (install the rotated keyring)',
              NEW.kek_id, NEW.kek_version, floor_version USING ERRCODE = 'HKF01';
          END IF;
          RETURN NEW;
        END $$`);
    await q.query(`REVOKE ALL ON FUNCTION data_keys_kek_floor() FROM PUBLIC`);
    // Destroyed keys (wrapped_dek NULL) are exempt: shredding a key of an old version must keep working.
    await q.query(`
      CREATE TRIGGER data_keys_kek_floor BEFORE INSERT OR UPDATE OF kek_id, kek_version, wrapped_dek
        ON data_keys FOR EACH ROW WHEN (NEW.wrapped_dek IS NOT NULL)
        EXECUTE FUNCTION data_keys_kek_floor()`);
    await q.query(`REVOKE ALL ON TABLE kek_floors FROM haven_app`);
    await q.query(`GRANT SELECT ON TABLE kek_floors TO haven_app`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER data_keys_kek_floor ON data_keys`);
    await q.query(`DROP FUNCTION data_keys_kek_floor()`);
    await q.query(`DROP TABLE kek_floors`);
  }
}
