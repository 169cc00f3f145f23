import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * An account whose password an administrator set (at creation or by a reset) must choose its own at its next
 * sign-in before doing anything else: the administrator knew that password. Existing accounts are not flagged.
 */
export class PasswordChangeRequired1764000001400 implements MigrationInterface {
  name = 'PasswordChangeRequired1764000001400';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE users ADD COLUMN password_change_required boolean NOT NULL DEFAULT false`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE users DROP COLUMN password_change_required`);
  }
}
