import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Wrong authenticator codes in a row, per account (TotpService.check). The sign-in throttle's window lets four
 * wrong codes through every fifteen minutes without a lock, for ever: whoever has the password could wear a
 * six-digit code down (about a third of a year's guesses find one). Past ten in a row, two-factor sign-ins
 * and step-ups of the account are refused until an administrator resets its two-factor (with a new password:
 * the old one is known to someone). A right code sets the count back to zero.
 */
export class TotpFailures1764000003000 implements MigrationInterface {
  name = 'TotpFailures1764000003000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE users ADD COLUMN totp_failures integer NOT NULL DEFAULT 0 CHECK (totp_failures >= 0)`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE users DROP COLUMN totp_failures`);
  }
}
