import { MigrationInterface, QueryRunner } from 'typeorm';
import { dropInvalidIndex } from './invalid-index';

/**
 * A provider's inbox (`GET /api/v1/referrals` without a status) lists its live referrals (pending, accepted)
 * first, each part most urgent deadline first: ordered by deadline alone, a year of ended referrals filled the
 * first pages before a new one waiting for an answer. Read in this index's order, as InboxIndex's was, so that a
 * page still stops after its rows; it replaces that index. `IF NOT EXISTS`, so that on a large database it can
 * be built `CONCURRENTLY` by hand first with this name and definition (docs/deployment.md).
 */
export class InboxLiveFirst1764000003300 implements MigrationInterface {
  name = 'InboxLiveFirst1764000003300';

  async up(q: QueryRunner): Promise<void> {
    await dropInvalidIndex(q, 'referrals_org_live_due_idx');
    await q.query(
      `CREATE INDEX IF NOT EXISTS referrals_org_live_due_idx
         ON referrals (organization_id, (status IN ('pending', 'accepted')) DESC, due_at, id)`,
    );
    await q.query(`DROP INDEX IF EXISTS referrals_org_due_idx`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX referrals_org_due_idx ON referrals (organization_id, due_at, id)`);
    await q.query(`DROP INDEX referrals_org_live_due_idx`);
  }
}
