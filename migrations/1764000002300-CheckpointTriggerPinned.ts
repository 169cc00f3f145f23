import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The checkpoint id guard (CheckpointIdsGenerated) named its table unqualified, and ran with the inserting
 * session's search path, where a temporary table comes first: a role could create a temporary
 * `audit_checkpoints` with an identity of its own, set that sequence to the id it wanted (its current value in
 * the session, which the guard compares with), and place a checkpoint above every later one after all. The table
 * is named with its schema now, and the function's path puts pg_temp last, so no temporary object stands in for
 * anything it names (as the KEK floor's function does). The service does not use temporary tables; the right to
 * make them is not taken from anyone here.
 */
export class CheckpointTriggerPinned1764000002300 implements MigrationInterface {
  name = 'CheckpointTriggerPinned1764000002300';

  async up(q: QueryRunner): Promise<void> {
    await q.query(guard(`'public.audit_checkpoints'`, `SET search_path = pg_catalog, public, pg_temp`));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(guard(`'audit_checkpoints'`, ''));
  }
}

/** The guard's function, naming the table as `table` (an SQL string literal), with `settings` (or none). */
function guard(table: string, settings: string): string {
  return `
    CREATE OR REPLACE FUNCTION audit_checkpoint_id_generated() RETURNS trigger LANGUAGE plpgsql ${settings} AS $$
    BEGIN
      IF NEW.id IS DISTINCT FROM currval(pg_get_serial_sequence(${table}, 'id')) THEN
        RAISE EXCEPTION 'haven: a checkpoint takes the next id, never one chosen'
          USING ERRCODE = 'insufficient_privilege';
      END IF;
      RETURN NEW;
    EXCEPTION WHEN object_not_in_prerequisite_state THEN
      RAISE EXCEPTION 'haven: a checkpoint takes the next id, never one chosen'
        USING ERRCODE = 'insufficient_privilege';
    END $$`;
}
