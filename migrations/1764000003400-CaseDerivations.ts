import { MigrationInterface, QueryRunner } from 'typeorm';
import { dropInvalidIndex } from './invalid-index';

/**
 * Which rules derived each case's stored facts (`derived_with`: its blind indexes, age group, child flags and
 * contexts; CASE_DERIVATIONS in src/cases/case-derivation.ts). Every case stored so far has 1, the rules before
 * the column; a registration writes the current version, and the service brings the others to it in the
 * background (`CaseRederivation`: a migration holds no keys, and the facts are encrypted). The column's default
 * stays 1, so that a case an instance of the previous version registers is taken too; one it changes after it
 * was taken is not (stop the old instances before serving with this one: docs/deployment.md).
 * The pending index finds what is left at once (nothing, once done); it replaces DateOfBirthIndex's, whose cases
 * (no index of the date alone) are among these. Adding the column is instant (a constant default); the index is
 * `IF NOT EXISTS`, so that on a large database it can be built `CONCURRENTLY` by hand first with this name and
 * definition (docs/deployment.md). A later change of a rule raises the version with a migration of its own that
 * moves this index's predicate along.
 */
export class CaseDerivations1764000003400 implements MigrationInterface {
  name = 'CaseDerivations1764000003400';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE cases ADD COLUMN IF NOT EXISTS derived_with smallint NOT NULL DEFAULT 1`);
    await dropInvalidIndex(q, 'cases_derivations_pending_idx');
    await q.query(
      `CREATE INDEX IF NOT EXISTS cases_derivations_pending_idx ON cases (id) WHERE derived_with < 2`,
    );
    await q.query(`DROP INDEX IF EXISTS cases_bi_dob_pending_idx`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE INDEX cases_bi_dob_pending_idx ON cases (id) WHERE bi_dob IS NULL AND bi_name_dob IS NOT NULL`,
    );
    await q.query(`DROP INDEX cases_derivations_pending_idx`);
    await q.query(`ALTER TABLE cases DROP COLUMN derived_with`);
  }
}
