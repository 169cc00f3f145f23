import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * An organisation can be retired (closed, merged away): `retired_at` set. A retired one is left out of the
 * organisation list by default, takes no new referral or consent, and its live referrals were revoked when it
 * was retired (`organization_retired`, a new revoke cause). Adding a nullable column is a change of metadata
 * only; the CHECK is replaced NOT VALID (no scan while this transaction holds `referrals` against reads and
 * writes), and validated by the next migration, in a transaction of its own that blocks neither
 * (RevokeCauseValidated).
 */
export class OrganizationsRetired1764000004000 implements MigrationInterface {
  name = 'OrganizationsRetired1764000004000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE organizations ADD COLUMN retired_at timestamptz`);
    await q.query(`ALTER TABLE referrals DROP CONSTRAINT referrals_revoke_cause_check`);
    await q.query(
      `ALTER TABLE referrals ADD CONSTRAINT referrals_revoke_cause_check
         CHECK (revoke_cause IN ('ward', 'consent_withdrawn', 'consent_expired', 'case_closed', 'case_shredded',
                                 'organization_changed', 'organization_retired'))
         NOT VALID`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    // NOT VALID: referrals already revoked for the newer cause keep it (validating would fail on them).
    await q.query(`ALTER TABLE referrals DROP CONSTRAINT referrals_revoke_cause_check`);
    await q.query(
      `ALTER TABLE referrals ADD CONSTRAINT referrals_revoke_cause_check
         CHECK (revoke_cause IN ('ward', 'consent_withdrawn', 'consent_expired', 'case_closed', 'case_shredded',
                                 'organization_changed'))
         NOT VALID`,
    );
    await q.query(`ALTER TABLE organizations DROP COLUMN retired_at`);
  }
}
