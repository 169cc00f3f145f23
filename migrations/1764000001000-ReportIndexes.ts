import { MigrationInterface, QueryRunner } from 'typeorm';
import { dropInvalidIndex } from './invalid-index';

/**
 * The report summary of a province and a period counts its cases from an index alone (an index-only scan),
 * not from the case rows: the cases of a province and period are spread over about as many heap pages as
 * there are cases (they are registered in every province at once), so on a cold cache the report read one
 * random page per case (issue 8: ~16,600 pages, 1.3-3.0 s of a report at a million cases; the index's range,
 * ~440 pages; docs/performance.md). It replaces the narrower index with the same key, so a write to `cases`
 * maintains no more indexes than before. `IF NOT EXISTS`: on a large database the index can be built
 * `CONCURRENTLY` by hand first (docs/deployment.md).
 */
export class ReportIndexes1764000001000 implements MigrationInterface {
  name = 'ReportIndexes1764000001000';

  async up(q: QueryRunner): Promise<void> {
    // The triage columns the report counts (reports.repository.ts, CTE c), after the key it filters on.
    await dropInvalidIndex(q, 'cases_report_idx');
    await q.query(
      `CREATE INDEX IF NOT EXISTS cases_report_idx ON cases (province_code, reported_at)
         INCLUDE (ward_code, gbv_type, forms, survivor_sex, age_group, child_vn, child_gbvims, report_channel, id)`,
    );
    await q.query(`DROP INDEX IF EXISTS cases_province_reported_idx`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX cases_province_reported_idx ON cases (province_code, reported_at)`);
    await q.query(`DROP INDEX cases_report_idx`);
  }
}
