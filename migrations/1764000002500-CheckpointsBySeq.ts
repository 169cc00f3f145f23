import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The newest checkpoint is the one with the highest seq (the last stored among equals), not the last stored
 * (NEWEST_CHECKPOINT_SQL): two instances sign at once, and the one that read the heads first may store second.
 * Read at every start, checkpoint and verification, from the index below.
 *
 * Ordered by a column anyone who may insert a checkpoint writes, a row with a seq beyond the log would stand as
 * the newest for good (as an id chosen would have, CheckpointIdsGenerated). So a checkpoint's seq must be the one
 * its document states, and no further than the log's heads go: a forged row can claim no more than the log now
 * holds, and the next checkpoint signed over a later entry stands above it. A replayed old document keeps its
 * old seq. The function names its tables with their schema and puts pg_temp last (CheckpointTriggerPinned).
 */
export class CheckpointsBySeq1764000002500 implements MigrationInterface {
  name = 'CheckpointsBySeq1764000002500';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX audit_checkpoints_seq_idx ON audit_checkpoints (seq, id)`);
    await q.query(`
      CREATE FUNCTION audit_checkpoint_seq_stated() RETURNS trigger LANGUAGE plpgsql
        SET search_path = pg_catalog, public, pg_temp AS $$
      DECLARE
        stated bigint;
        reached bigint;
      BEGIN
        BEGIN
          stated := (NEW.document::jsonb ->> 'seq')::bigint;
        EXCEPTION WHEN others THEN
          stated := NULL;
        END;
        SELECT coalesce(max(h.last_seq), 0) INTO reached FROM public.audit_chain_heads h;
        IF stated IS DISTINCT FROM NEW.seq OR NEW.seq > reached THEN
          RAISE EXCEPTION 'haven: a checkpoint''s seq is the one its document states, no further than the log goes'
            USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
      END $$`);
    // After the id guard (triggers of one event fire in name order).
    await q.query(
      `CREATE TRIGGER audit_checkpoints_seq_stated BEFORE INSERT ON audit_checkpoints
         FOR EACH ROW EXECUTE FUNCTION audit_checkpoint_seq_stated()`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER audit_checkpoints_seq_stated ON audit_checkpoints`);
    await q.query(`DROP FUNCTION audit_checkpoint_seq_stated()`);
    await q.query(`DROP INDEX audit_checkpoints_seq_idx`);
  }
}
