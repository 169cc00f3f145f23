import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Closing or crypto-shredding a case ends its live referrals (revoked, with the case's end as the cause): a
 * provider then sees nothing of it, as after any other end of a referral.
 */
export class CaseEndsReferrals1764000001600 implements MigrationInterface {
  name = 'CaseEndsReferrals1764000001600';

  async up(q: QueryRunner): Promise<void> {
    // The column's CHECK, as PostgreSQL named it (table_column_check). NOT VALID: applied again after a revert,
    // referrals revoked meanwhile for a later migration's cause keep it (OrganizationChangeEndsReferrals, whose
    // CHECK is validated, comes next).
    await q.query(`ALTER TABLE referrals DROP CONSTRAINT referrals_revoke_cause_check`);
    await q.query(
      `ALTER TABLE referrals ADD CONSTRAINT referrals_revoke_cause_check
         CHECK (revoke_cause IN ('ward', 'consent_withdrawn', 'consent_expired', 'case_closed', 'case_shredded'))
         NOT VALID`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    // NOT VALID: referrals already revoked for the newer causes keep them (validating would fail on them).
    await q.query(`ALTER TABLE referrals DROP CONSTRAINT referrals_revoke_cause_check`);
    await q.query(
      `ALTER TABLE referrals ADD CONSTRAINT referrals_revoke_cause_check
         CHECK (revoke_cause IN ('ward', 'consent_withdrawn', 'consent_expired'))
         NOT VALID`,
    );
  }
}
