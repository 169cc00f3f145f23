import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * An account one of the demo's accounts made while the demo ran is the demo's too (`demo_account`): shut with
 * them once the demo stops, rather than left standing on the database, made by whoever held the printed password.
 * `made_in_demo` tells it from the seeded accounts, which share that password and so are not asked for
 * two-factor or a step-up while the demo runs (demoRelaxed): an account made in the demo is asked, as any other.
 * Accounts made before this migration are left as they were (who made them is on the access log). Reverted, the
 * column goes and accounts made in the demo are no longer the demo's (they would otherwise become relaxed).
 */
export class AccountsMadeInDemo1764000004900 implements MigrationInterface {
  name = 'AccountsMadeInDemo1764000004900';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE users ADD COLUMN made_in_demo boolean NOT NULL DEFAULT false`);
    await q.query(
      `ALTER TABLE users ADD CONSTRAINT users_made_in_demo_check CHECK (NOT made_in_demo OR demo_account)`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    // The constraint first: it would refuse the update below (made_in_demo without demo_account).
    await q.query(`ALTER TABLE users DROP CONSTRAINT users_made_in_demo_check`);
    await q.query(`UPDATE users SET demo_account = false WHERE made_in_demo`);
    await q.query(`ALTER TABLE users DROP COLUMN made_in_demo`);
  }
}
