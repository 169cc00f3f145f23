import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A provider records which of the requested services it delivered when it completes a referral (product brief,
 * step 5: "providers record services delivered"). Plaintext like the services requested (triage facts); only
 * on a completed referral, and only services it requested (a CHECK, as the service checks it too).
 */
export class ServicesDelivered1764000002000 implements MigrationInterface {
  name = 'ServicesDelivered1764000002000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE referrals ADD COLUMN services_delivered text[]
         CONSTRAINT referrals_services_delivered_check
           CHECK (services_delivered IS NULL OR (status = 'completed' AND services_delivered <@ services))`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE referrals DROP COLUMN services_delivered`);
  }
}
