import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A stripe head moves forward only (AccessLog), and now no further than the seqs `audit_events_seq` has handed
 * out: every entry the service writes takes its seq from there first. Before, the application role could move a
 * head to any seq at all (say 4,000,000,000,000,000), and for good: no later entry on that stripe could be written
 * (a 500 for every request that took it), no checkpoint could ever be signed again (the heads named no entry),
 * and the checkpoint guard, which compares with the heads (CheckpointsBySeq), let a row claim that seq and stand
 * as the newest checkpoint. A head moved within the sequence's range by someone other than the service names an
 * entry that is not there, which verification reports; the next entry on the stripe moves it on.
 *
 * The sequence is named with its schema, so that no object of the session stands in for it, and read with
 * pg_sequence_last_value() (null before its first value is handed out), an expression the trigger evaluates
 * without a query of its own: it runs on every entry the service writes.
 */
export class ChainHeadsWithinSequence1764000002900 implements MigrationInterface {
  name = 'ChainHeadsWithinSequence1764000002900';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      headGuard(`OR NEW.last_seq > coalesce(pg_sequence_last_value('public.audit_events_seq'), 0)`),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(headGuard(''));
  }
}

/** The head trigger's function, refusing a move that goes back, changes stripe, or meets `more` (SQL). */
function headGuard(more: string): string {
  return `
    CREATE OR REPLACE FUNCTION audit_head_advance_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.stripe <> OLD.stripe OR NEW.last_seq <= OLD.last_seq ${more} THEN
        RAISE EXCEPTION 'haven: an access-log chain head may only move forward'
          USING ERRCODE = 'insufficient_privilege';
      END IF;
      RETURN NEW;
    END $$`;
}
