import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The report summary of a province and a period reads its counts from two indexes alone (index-only scans),
 * not from the case and referral rows: the cases of a province and period are spread over as many heap pages
 * as there are cases (they are registered in every province at once), so a report on a cold cache read one
 * random page per case (issue 8: 1.3-3.0 s at a million cases, 0.7 s with these; docs/performance.md).
 * Each replaces a narrower index with the same key, so a write maintains no more indexes than before.
 * `IF NOT EXISTS`: on a large database the indexes can be built `CONCURRENTLY` by hand first (docs/deployment.md).
 */
export class ReportIndexes1764000001000 implements MigrationInterface {
  name = 'ReportIndexes1764000001000';

  async up(q: QueryRunner): Promise<void> {
    // The triage columns the report counts (reports.repository.ts, CTE c), after the key it filters on.
    await q.query(
      `CREATE INDEX IF NOT EXISTS cases_report_idx ON cases (province_code, reported_at)
         INCLUDE (ward_code, gbv_type, forms, survivor_sex, age_group, child_vn, child_gbvims, report_channel, id)`,
    );
    await q.query(`DROP INDEX IF EXISTS cases_province_reported_idx`);
    // The referral columns the report counts (CTE r); also every lookup of a case's referrals.
    await q.query(
      `CREATE INDEX IF NOT EXISTS referrals_case_report_idx ON referrals (case_id)
         INCLUDE (organization_id, status, due_at, created_at, accepted_at)`,
    );
    await q.query(`DROP INDEX IF EXISTS referrals_case_idx`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX referrals_case_idx ON referrals (case_id)`);
    await q.query(`DROP INDEX referrals_case_report_idx`);
    await q.query(`CREATE INDEX cases_province_reported_idx ON cases (province_code, reported_at)`);
    await q.query(`DROP INDEX cases_report_idx`);
  }
}
