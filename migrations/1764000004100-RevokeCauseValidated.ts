import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Validates the revoke cause's CHECK that OrganizationsRetired added NOT VALID: a scan of `referrals` under a
 * SHARE UPDATE EXCLUSIVE lock, which blocks neither reads nor writes (in OrganizationsRetired's own transaction it
 * would have run under the ACCESS EXCLUSIVE lock its ALTERs took, to the end). Nothing to undo: a validated
 * constraint is the same constraint.
 */
export class RevokeCauseValidated1764000004100 implements MigrationInterface {
  name = 'RevokeCauseValidated1764000004100';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE referrals VALIDATE CONSTRAINT referrals_revoke_cause_check`);
  }

  async down(): Promise<void> {
    // The constraint stays validated; OrganizationsRetired's down() replaces it.
  }
}
