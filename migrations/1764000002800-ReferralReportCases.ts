import { MigrationInterface, QueryRunner } from 'typeorm';
import { dropInvalidIndex } from './invalid-index';

/**
 * The report counts the cases its referrals are of (fewer than 5 and none of the referral figures is published,
 * docs/reports.md): the referrals' covering index (ReferralPlaces) holds `case_id` too, so that the referrals'
 * part of a report is still read from the index alone. Built under a new name, then the old one dropped:
 * `IF NOT EXISTS`, so that on a large database it can be built `CONCURRENTLY` by hand first with this name and
 * definition (docs/deployment.md); the build blocks writes to `referrals` until the migration commits.
 */
export class ReferralReportCases1764000002800 implements MigrationInterface {
  name = 'ReferralReportCases1764000002800';

  async up(q: QueryRunner): Promise<void> {
    await dropInvalidIndex(q, 'referrals_report_cases_idx');
    await q.query(
      `CREATE INDEX IF NOT EXISTS referrals_report_cases_idx ON referrals (case_province_code, case_reported_at)
         INCLUDE (case_ward_code, organization_id, status, due_at, created_at, accepted_at, case_id)`,
    );
    await q.query(`DROP INDEX IF EXISTS referrals_report_idx`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE INDEX referrals_report_idx ON referrals (case_province_code, case_reported_at)
         INCLUDE (case_ward_code, organization_id, status, due_at, created_at, accepted_at)`,
    );
    await q.query(`DROP INDEX referrals_report_cases_idx`);
  }
}
