import { MigrationInterface, QueryRunner } from 'typeorm';
import { dropInvalidIndex } from './invalid-index';

/**
 * A search by date of birth alone (the contract's `POST /cases/search` takes any one of `fullName`,
 * `dateOfBirth`, `phone`): a blind index of the date by itself, under its own key. Cases registered before it
 * have a date only inside `enc_identity`: the service fills their index in the background (`DateOfBirthBackfill`),
 * since a migration holds no keys. `IF NOT EXISTS` throughout: the column added, the table is locked until the
 * migration commits, over both index builds (about a second each per million cases); on a large database add
 * the column by hand (instant), build both indexes `CONCURRENTLY` with these names and definitions, then migrate
 * (docs/deployment.md). In a rolling deploy, a date of birth an instance of the previous version changes keeps
 * its old date's index (that version does not know the column): stop the old instances before serving with this
 * one, or let them only read meanwhile.
 */
export class DateOfBirthIndex1764000002400 implements MigrationInterface {
  name = 'DateOfBirthIndex1764000002400';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE cases ADD COLUMN IF NOT EXISTS bi_dob bytea`);
    await dropInvalidIndex(q, 'cases_bi_dob_idx');
    await q.query(`CREATE INDEX IF NOT EXISTS cases_bi_dob_idx ON cases (bi_dob)`);
    // The cases still to fill, found at each start without reading the table: empty once they are done (a
    // case registered or changed since gets its index with its write).
    await dropInvalidIndex(q, 'cases_bi_dob_pending_idx');
    await q.query(
      `CREATE INDEX IF NOT EXISTS cases_bi_dob_pending_idx ON cases (id)
         WHERE bi_dob IS NULL AND bi_name_dob IS NOT NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX cases_bi_dob_pending_idx`);
    await q.query(`DROP INDEX cases_bi_dob_idx`);
    await q.query(`ALTER TABLE cases DROP COLUMN bi_dob`);
  }
}
