import { MigrationInterface, QueryRunner } from 'typeorm';
import { dropInvalidIndex } from './invalid-index';

/**
 * The report counts a live referral whose consent has ended as revoked, as access decisions do (docs/reports.md):
 * it looks up the consent of a pending or accepted referral. The referrals' covering index holds `consent_id`
 * too, so that the referrals' part of a report is still read from the index alone (the consents of live
 * referrals only then probed by their key). Built under a new name, then the old one dropped, as
 * ReferralReportCases did: `IF NOT EXISTS`, so that on a large database it can be built `CONCURRENTLY` by hand
 * first with this name and definition (docs/deployment.md); the build blocks writes to `referrals` until the
 * migration commits.
 */
export class ReferralReportConsents1764000003200 implements MigrationInterface {
  name = 'ReferralReportConsents1764000003200';

  async up(q: QueryRunner): Promise<void> {
    await dropInvalidIndex(q, 'referrals_report_consents_idx');
    await q.query(
      `CREATE INDEX IF NOT EXISTS referrals_report_consents_idx
         ON referrals (case_province_code, case_reported_at)
         INCLUDE (case_ward_code, organization_id, status, due_at, created_at, accepted_at, case_id, consent_id)`,
    );
    await q.query(`DROP INDEX IF EXISTS referrals_report_cases_idx`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE INDEX referrals_report_cases_idx ON referrals (case_province_code, case_reported_at)
         INCLUDE (case_ward_code, organization_id, status, due_at, created_at, accepted_at, case_id)`,
    );
    await q.query(`DROP INDEX referrals_report_consents_idx`);
  }
}
