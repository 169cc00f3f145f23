import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A case may be registered before its risk is assessed (the contract's `risk` is optional): `risk_level` is
 * null until the ward records it. A child under 16 whose risk is not assessed is due as one at high risk
 * (statutoryUrgency). Reverting records every unassessed case as `high` (the level its deadlines already took
 * for a child), which the triage then shows as if assessed.
 */
export class RiskNotAssessed1764000003900 implements MigrationInterface {
  name = 'RiskNotAssessed1764000003900';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE cases ALTER COLUMN risk_level DROP NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`UPDATE cases SET risk_level = 'high' WHERE risk_level IS NULL`);
    await q.query(`ALTER TABLE cases ALTER COLUMN risk_level SET NOT NULL`);
  }
}
