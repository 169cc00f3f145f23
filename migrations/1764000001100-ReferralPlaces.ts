import { MigrationInterface, QueryRunner } from 'typeorm';
import { dropInvalidIndex } from './invalid-index';

/**
 * A referral carries its case's place and report date (`case_province_code`, `case_ward_code`,
 * `case_reported_at`), so that the report summary counts a province's referrals from an index range of their
 * own instead of reading every referral and joining it to the province's cases (issue 8: at a million cases
 * that read was 0.3-1.9 s of a cold report; docs/performance.md). The database keeps the copies right, whoever
 * writes: a referral's are always taken from its case when it is inserted or they are written, and a change of
 * a case's place (the service never makes one) is carried to its referrals. They are plaintext triage columns
 * of the case already; nothing of a survivor's is copied.
 */
export class ReferralPlaces1764000001100 implements MigrationInterface {
  name = 'ReferralPlaces1764000001100';

  async up(q: QueryRunner): Promise<void> {
    // No referral or case place may be written between the copy below and the triggers (the migration's
    // transaction holds the locks to its end).
    await q.query(`LOCK TABLE cases, referrals IN SHARE ROW EXCLUSIVE MODE`);
    await q.query(`
      ALTER TABLE referrals
        ADD COLUMN case_province_code varchar(2),
        ADD COLUMN case_ward_code     varchar(5),
        ADD COLUMN case_reported_at   timestamptz`);
    await q.query(`
      UPDATE referrals r
         SET case_province_code = c.province_code, case_ward_code = c.ward_code, case_reported_at = c.reported_at
        FROM cases c
       WHERE c.id = r.case_id`);
    await q.query(`
      ALTER TABLE referrals
        ALTER COLUMN case_province_code SET NOT NULL,
        ALTER COLUMN case_ward_code SET NOT NULL,
        ALTER COLUMN case_reported_at SET NOT NULL`);
    // Whatever an insert or an update says, the copies are the case's.
    await q.query(`
      CREATE FUNCTION referrals_case_place() RETURNS trigger
      LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
      BEGIN
        SELECT c.province_code, c.ward_code, c.reported_at
          INTO NEW.case_province_code, NEW.case_ward_code, NEW.case_reported_at
          FROM cases c WHERE c.id = NEW.case_id;
        IF NOT FOUND THEN
          RAISE EXCEPTION 'referral''s case does not exist' USING ERRCODE = 'foreign_key_violation';
        END IF;
        RETURN NEW;
      END $$`);
    await q.query(`
      CREATE TRIGGER referrals_case_place
        BEFORE INSERT OR UPDATE OF case_id, case_province_code, case_ward_code, case_reported_at ON referrals
        FOR EACH ROW EXECUTE FUNCTION referrals_case_place()`);
    await q.query(`
      CREATE FUNCTION cases_place_to_referrals() RETURNS trigger
      LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
      BEGIN
        UPDATE referrals SET case_province_code = NEW.province_code, case_ward_code = NEW.ward_code,
                             case_reported_at = NEW.reported_at
         WHERE case_id = NEW.id;
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE TRIGGER cases_place_to_referrals
        AFTER UPDATE OF province_code, ward_code, reported_at ON cases
        FOR EACH ROW
        WHEN (OLD.province_code IS DISTINCT FROM NEW.province_code OR OLD.ward_code IS DISTINCT FROM NEW.ward_code
              OR OLD.reported_at IS DISTINCT FROM NEW.reported_at)
        EXECUTE FUNCTION cases_place_to_referrals()`);
    // The report's referral part (reports.repository.ts, CTE r) as an index-only range scan: the key it filters
    // on, then every column it counts. On a large database it can be built CONCURRENTLY by hand once the
    // columns exist (docs/deployment.md).
    await dropInvalidIndex(q, 'referrals_report_idx');
    await q.query(
      `CREATE INDEX IF NOT EXISTS referrals_report_idx ON referrals (case_province_code, case_reported_at)
         INCLUDE (case_ward_code, organization_id, status, due_at, created_at, accepted_at)`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX referrals_report_idx`);
    await q.query(`DROP TRIGGER cases_place_to_referrals ON cases`);
    await q.query(`DROP FUNCTION cases_place_to_referrals()`);
    await q.query(`DROP TRIGGER referrals_case_place ON referrals`);
    await q.query(`DROP FUNCTION referrals_case_place()`);
    await q.query(
      `ALTER TABLE referrals DROP COLUMN case_province_code, DROP COLUMN case_ward_code, DROP COLUMN case_reported_at`,
    );
  }
}
