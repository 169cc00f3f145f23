import { realDifferences } from './schema-drift';

describe('realDifferences', () => {
  it('leaves out drops of what only the migrations name, with their restores, and keeps everything else', () => {
    const up = [
      'ALTER TABLE "users" DROP CONSTRAINT "users_role_check"',
      'DROP INDEX "public"."cases_report_idx"',
      'ALTER TABLE "cases" ADD "note" text',
      // Dropped and made again under the same name: a real change of its definition.
      'DROP INDEX "public"."referrals_case_idx"',
      'CREATE INDEX "referrals_case_idx" ON "referrals" ("case_id", "status")',
    ];
    const down = [
      'DROP INDEX "public"."referrals_case_idx"',
      'CREATE INDEX "referrals_case_idx" ON "referrals" ("case_id")',
      'ALTER TABLE "cases" DROP COLUMN "note"',
      'CREATE INDEX "cases_report_idx" ON "cases" ("province_code", "reported_at")',
      'ALTER TABLE "users" ADD CONSTRAINT "users_role_check" CHECK (role IN (\'admin\'))',
    ];
    expect(realDifferences(up, down)).toEqual({
      up: [up[2], up[3], up[4]],
      down: [down[0], down[1], down[2]],
    });
  });
});
