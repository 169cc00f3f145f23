import { MigrationInterface, QueryRunner } from 'typeorm';
import { dropInvalidIndex } from './invalid-index';

/**
 * A provider's inbox (`GET /api/v1/referrals`) lists the accepted and the ended referrals newest first (by when each was
 * made, not when it was answered), after the
 * pending ones (most urgent deadline first, as before). By deadline, oldest first, an organisation's newest
 * accepted or ended referrals (work just taken on, a decline or a revocation to act on) were at the far end of
 * a list whose pages stop at 10,000 rows, and its only filter (status) kept that order. Read in this index's
 * order, so that a page still stops after its rows (the columns are referralListOrderSql's); it replaces
 * referrals_org_rank_due_idx. `IF NOT EXISTS`, so that on a large database it can be built `CONCURRENTLY` by hand
 * first with this name and definition (docs/deployment.md).
 */
export class InboxNewestAnswered1764000004700 implements MigrationInterface {
  name = 'InboxNewestAnswered1764000004700';

  async up(q: QueryRunner): Promise<void> {
    await dropInvalidIndex(q, 'referrals_org_order_idx');
    await q.query(
      `CREATE INDEX IF NOT EXISTS referrals_org_order_idx
         ON referrals (organization_id, (CASE status WHEN 'pending' THEN 0 WHEN 'accepted' THEN 1 ELSE 2 END),
                       (CASE WHEN status = 'pending' THEN due_at END), created_at DESC, id)`,
    );
    await q.query(`DROP INDEX IF EXISTS referrals_org_rank_due_idx`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE INDEX referrals_org_rank_due_idx
         ON referrals (organization_id, (CASE status WHEN 'pending' THEN 0 WHEN 'accepted' THEN 1 ELSE 2 END), due_at, id)`,
    );
    await q.query(`DROP INDEX referrals_org_order_idx`);
  }
}
