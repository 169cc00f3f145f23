import { MigrationInterface, QueryRunner } from 'typeorm';
import { dropInvalidIndex } from './invalid-index';

/**
 * A provider's inbox (`GET /api/v1/referrals`) lists the referrals waiting for an answer first, then the
 * accepted ones, then the ended ones, each part most urgent deadline first. InboxLiveFirst put pending and
 * accepted together by deadline, and an accepted referral keeps the deadline of its answer, long past: a month
 * of accepted work filled the first page before a new emergency. Read in this index's order, so that a page
 * still stops after its rows (the expression is referralListRankSql's); it replaces referrals_org_live_due_idx.
 * `IF NOT EXISTS`, so that on a large database it can be built `CONCURRENTLY` by hand first with this name and
 * definition (docs/deployment.md).
 */
export class InboxPendingFirst1764000003800 implements MigrationInterface {
  name = 'InboxPendingFirst1764000003800';

  async up(q: QueryRunner): Promise<void> {
    await dropInvalidIndex(q, 'referrals_org_rank_due_idx');
    await q.query(
      `CREATE INDEX IF NOT EXISTS referrals_org_rank_due_idx
         ON referrals (organization_id, (CASE status WHEN 'pending' THEN 0 WHEN 'accepted' THEN 1 ELSE 2 END), due_at, id)`,
    );
    await q.query(`DROP INDEX IF EXISTS referrals_org_live_due_idx`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE INDEX referrals_org_live_due_idx
         ON referrals (organization_id, (status IN ('pending', 'accepted')) DESC, due_at, id)`,
    );
    await q.query(`DROP INDEX referrals_org_rank_due_idx`);
  }
}
