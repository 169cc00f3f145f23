import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A provider's note is written once and never changed: the service only inserts notes, and no DELETE was ever
 * granted on them (ServiceRoleNarrowed). Without UPDATE either, a runtime role that is misused (a flaw in the
 * service, a stolen connection string) cannot rewrite what a provider recorded of a survivor's case.
 */
export class NotesAppendOnly1764000003500 implements MigrationInterface {
  name = 'NotesAppendOnly1764000003500';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`REVOKE UPDATE ON TABLE referral_notes FROM haven_app`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`GRANT UPDATE ON TABLE referral_notes TO haven_app`);
  }
}
