import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * An organisation whose sector changes loses the referrals whose consent was given to its old sector (revoked,
 * `organization_changed`): that consent does not cover it any more.
 */
export class OrganizationChangeEndsReferrals1764000001700 implements MigrationInterface {
  name = 'OrganizationChangeEndsReferrals1764000001700';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE referrals DROP CONSTRAINT referrals_revoke_cause_check`);
    await q.query(
      `ALTER TABLE referrals ADD CONSTRAINT referrals_revoke_cause_check
         CHECK (revoke_cause IN ('ward', 'consent_withdrawn', 'consent_expired', 'case_closed', 'case_shredded',
                                 'organization_changed'))`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    // NOT VALID: referrals already revoked for the newer causes keep them (validating would fail on them).
    await q.query(`ALTER TABLE referrals DROP CONSTRAINT referrals_revoke_cause_check`);
    await q.query(
      `ALTER TABLE referrals ADD CONSTRAINT referrals_revoke_cause_check
         CHECK (revoke_cause IN ('ward', 'consent_withdrawn', 'consent_expired', 'case_closed', 'case_shredded'))
         NOT VALID`,
    );
  }
}
