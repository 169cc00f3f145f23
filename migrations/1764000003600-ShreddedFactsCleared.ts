import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A shred now clears the case's incident date and contexts (facts of the encrypted content that no report
 * reads: CasesRepository.markShredded). Cases shredded before keep them in plaintext: cleared here as well.
 * Without a new version: nobody changed what was said of the case, its content was destroyed before.
 */
export class ShreddedFactsCleared1764000003600 implements MigrationInterface {
  name = 'ShreddedFactsCleared1764000003600';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `UPDATE cases SET incident_date = NULL, contexts = '{}'
        WHERE shredded_at IS NOT NULL AND (incident_date IS NOT NULL OR contexts <> '{}')`,
    );
  }

  async down(): Promise<void> {
    // Nothing to give back: what was cleared came from content that no longer exists.
  }
}
