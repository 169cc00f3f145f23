import { MigrationInterface, QueryRunner } from 'typeorm';
import { dropInvalidIndex } from './invalid-index';

/**
 * An account's live emergency grants, found by index: disabling an account, or resetting its password or
 * two-factor, ends them (UsersService, `lockLiveGrants`/`endGrants` on `g.user_id`), which scanned every grant
 * ever opened, in the administrator's transaction with the account's row locked. `IF NOT EXISTS`, so that a large
 * table's index can be built `CONCURRENTLY` by hand first with this name and definition (docs/deployment.md).
 */
export class GrantsByUser1764000003100 implements MigrationInterface {
  name = 'GrantsByUser1764000003100';

  async up(q: QueryRunner): Promise<void> {
    await dropInvalidIndex(q, 'break_glass_grants_user_idx');
    await q.query(
      `CREATE INDEX IF NOT EXISTS break_glass_grants_user_idx ON break_glass_grants (user_id, expires_at)`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX break_glass_grants_user_idx`);
  }
}
