import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A checkpoint row takes the next id of its identity, never one chosen (INSERT … OVERRIDING SYSTEM VALUE, which
 * INSERT alone allows): the newest checkpoint is the one with the highest id, and a row placed above every later
 * one would stand as the newest for good (the start-up key check and the next checkpoint read it).
 */
export class CheckpointIdsGenerated1764000002100 implements MigrationInterface {
  name = 'CheckpointIdsGenerated1764000002100';

  async up(q: QueryRunner): Promise<void> {
    // The identity's nextval() runs as the row is formed, before this trigger: a generated id is the session's
    // currval(). A chosen one is not (or there is no currval yet in the session: refused too).
    await q.query(`
      CREATE FUNCTION audit_checkpoint_id_generated() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.id IS DISTINCT FROM currval(pg_get_serial_sequence('audit_checkpoints', 'id')) THEN
          RAISE EXCEPTION 'haven: a checkpoint takes the next id, never one chosen'
            USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN NEW;
      EXCEPTION WHEN object_not_in_prerequisite_state THEN
        RAISE EXCEPTION 'haven: a checkpoint takes the next id, never one chosen'
          USING ERRCODE = 'insufficient_privilege';
      END $$`);
    await q.query(
      `CREATE TRIGGER audit_checkpoints_generated_id BEFORE INSERT ON audit_checkpoints
         FOR EACH ROW EXECUTE FUNCTION audit_checkpoint_id_generated()`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER audit_checkpoints_generated_id ON audit_checkpoints`);
    await q.query(`DROP FUNCTION audit_checkpoint_id_generated()`);
  }
}
