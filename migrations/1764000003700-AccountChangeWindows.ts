import { MigrationInterface, QueryRunner } from 'typeorm';
import { dropInvalidIndex } from './invalid-index';

/**
 * The anomaly rule after_admin_reset watches an account from an administrator's change to it (its creation, a
 * reset, new communes, its enabling) until a day after the account's first sign-in since: waiting a day before
 * using a password an administrator set no longer evades it. Two small partial indexes of the access log: the
 * sign-ins that got in, by account and time (the first one after a change is one index probe), and the
 * administrators' changes to accounts, by time (the rule looks back a month for them). `IF NOT EXISTS`: on a
 * large access log build them `CONCURRENTLY` by hand first with these names and definitions (docs/deployment.md),
 * since each build blocks appends to the log until the migration commits. (The predicate is written as an OR,
 * not `IN (...)`: PostgreSQL prints an `IN` list in a form it then reads back differently, and the bulk seed
 * rebuilds indexes from their printed definitions.)
 */
export class AccountChangeWindows1764000003700 implements MigrationInterface {
  name = 'AccountChangeWindows1764000003700';

  async up(q: QueryRunner): Promise<void> {
    await dropInvalidIndex(q, 'audit_events_sign_ins_idx');
    await q.query(
      `CREATE INDEX IF NOT EXISTS audit_events_sign_ins_idx ON audit_events (actor_id, at)
         WHERE action = 'auth.login' AND outcome = 'allowed'`,
    );
    await dropInvalidIndex(q, 'audit_events_account_changes_idx');
    await q.query(
      `CREATE INDEX IF NOT EXISTS audit_events_account_changes_idx ON audit_events (at)
         WHERE (action = 'user.create' OR action = 'user.update') AND outcome = 'allowed'`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX audit_events_account_changes_idx`);
    await q.query(`DROP INDEX audit_events_sign_ins_idx`);
  }
}
