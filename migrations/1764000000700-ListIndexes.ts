import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Indexes for the case list of supervisors at scale (issue 8; plans in bench/results/scale-plans.md): a page
 * of a province's cases, newest first, and of the whole country for a national supervisor, read in index
 * order instead of sorting every case of the area. Ward officers use cases_ward_created_idx.
 */
export class ListIndexes1764000000700 implements MigrationInterface {
  name = 'ListIndexes1764000000700';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX cases_province_created_idx ON cases (province_code, created_at DESC, id)`);
    await q.query(`CREATE INDEX cases_created_idx ON cases (created_at DESC, id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX cases_created_idx`);
    await q.query(`DROP INDEX cases_province_created_idx`);
  }
}
