import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A session's recent step-up (ReauthenticationService): account and organisation administration asks for one,
 * so that a stolen access token alone creates no account and resets no password. One row per access token
 * (its jti), until it lapses; pruned after that.
 */
export class StepUps1764000001500 implements MigrationInterface {
  name = 'StepUps1764000001500';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE session_step_ups (
        token_id   uuid        PRIMARY KEY,
        user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        expires_at timestamptz NOT NULL
      )`);
    await q.query(`CREATE INDEX session_step_ups_expires_idx ON session_step_ups (expires_at)`);
    await q.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE session_step_ups TO haven_app`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE session_step_ups`);
  }
}
