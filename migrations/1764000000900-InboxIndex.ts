import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A provider's inbox (`GET /api/v1/referrals`), most urgent deadline first, read in index order: the first page
 * stops after its rows instead of reading and sorting every referral of the organisation (issue 8; measured in
 * docs/performance.md). Filters by status keep `referrals_org_status_idx`.
 */
export class InboxIndex1764000000900 implements MigrationInterface {
  name = 'InboxIndex1764000000900';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX referrals_org_due_idx ON referrals (organization_id, due_at, id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX referrals_org_due_idx`);
  }
}
