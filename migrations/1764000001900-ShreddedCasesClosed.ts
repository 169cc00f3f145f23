import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Crypto-shredding now closes a case still open (nothing can be added to it, and a close needs a reason sealed
 * with the key the shred destroyed). Cases shredded before that stayed open for ever, in their ward's open
 * work: they are closed as of their shredding, by whoever shredded them (from the access log's entry).
 */
export class ShreddedCasesClosed1764000001900 implements MigrationInterface {
  name = 'ShreddedCasesClosed1764000001900';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `UPDATE cases c
          SET status = 'closed', closed_at = c.shredded_at, version = c.version + 1, updated_at = now(),
              closed_by = s.actor_id, updated_by = s.actor_id
         FROM (SELECT c2.id, (SELECT e.actor_id FROM audit_events e
                               WHERE e.action = 'case.shred' AND e.outcome = 'allowed' AND e.case_id = c2.id
                               ORDER BY e.seq DESC LIMIT 1) AS actor_id
                 FROM cases c2 WHERE c2.status = 'open' AND c2.shredded_at IS NOT NULL) s
        WHERE c.id = s.id`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    // Open again what a shred closed (no reason, closed as it was shredded), as the code before it left them.
    await q.query(
      `UPDATE cases SET status = 'open', closed_at = NULL, closed_by = NULL, version = version + 1, updated_at = now()
        WHERE shredded_at IS NOT NULL AND status = 'closed' AND enc_close_reason IS NULL
          AND closed_at = shredded_at`,
    );
  }
}
