import { MigrationInterface, QueryRunner } from 'typeorm';
import { dropInvalidIndex } from './invalid-index';

/**
 * `GET /audit/events?caseId=` finds, besides the entries about the case, the list reads that returned it: a
 * search or list of cases (`resource_type` 'case', `returned_ids` the cases shown) and a list of referrals
 * (`resource_type` 'referral', `returned_ids` the referrals shown). Only entries that returned a list are
 * indexed (most return none). `IF NOT EXISTS`: on a large access log build it `CONCURRENTLY` by hand first with this name
 * and definition (docs/deployment.md), since the build blocks appends to the log until the migration commits.
 */
export class AccessLogReturnedIds1764000002600 implements MigrationInterface {
  name = 'AccessLogReturnedIds1764000002600';

  async up(q: QueryRunner): Promise<void> {
    await dropInvalidIndex(q, 'audit_events_returned_idx');
    await q.query(
      `CREATE INDEX IF NOT EXISTS audit_events_returned_idx ON audit_events USING gin (returned_ids)
         WHERE returned_ids <> '{}'`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX audit_events_returned_idx`);
  }
}
