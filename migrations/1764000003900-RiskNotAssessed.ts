import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A case may be registered before its risk is assessed (the contract's `risk` is optional): `risk_level` is
 * null until the ward records it. A child under 16 whose risk is not assessed is due as one at high risk
 * (statutoryUrgency). Reverting is refused while a case has no risk recorded: the ward records it first (a
 * level made up for it would show as assessed).
 */
export class RiskNotAssessed1764000003900 implements MigrationInterface {
  name = 'RiskNotAssessed1764000003900';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE cases ALTER COLUMN risk_level DROP NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    const [{ n }] = (await q.query(`SELECT count(*)::int AS n FROM cases WHERE risk_level IS NULL`)) as {
      n: number;
    }[];
    if (n > 0) {
      throw new Error(
        `${n} cases have no risk recorded (registered before it was assessed): the ward records it ` +
          '(PATCH /api/v1/cases/:id {risk}) before this migration can be reverted',
      );
    }
    await q.query(`ALTER TABLE cases ALTER COLUMN risk_level SET NOT NULL`);
  }
}
