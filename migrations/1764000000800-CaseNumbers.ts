import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Case numbers drawn inside the registration's own statement (issue 8): `next_case_code(province, year)`
 * counts the province's cases of the year and returns the case's code, `HV<province>-<year>-<number>`, the
 * number at least 6 digits (as `caseCode()` writes it for the bulk seeder). Called once per case the
 * registration's statement inserts, so a registration that does not land draws no number: no gaps. The
 * counter's row stays locked until that statement ends.
 */
export class CaseNumbers1764000000800 implements MigrationInterface {
  name = 'CaseNumbers1764000000800';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE FUNCTION next_case_code(province text, year int) RETURNS text
      LANGUAGE sql VOLATILE STRICT SET search_path = public, pg_temp AS $$
        INSERT INTO case_sequences AS s (province_code, year, last_value) VALUES (province, year, 1)
        ON CONFLICT (province_code, year) DO UPDATE SET last_value = s.last_value + 1
        RETURNING 'HV' || s.province_code || '-' || s.year || '-'
                  || lpad(s.last_value::text, greatest(6, length(s.last_value::text)), '0')
      $$`);
    // The service's role only (functions are executable by PUBLIC by default).
    await q.query(`REVOKE ALL ON FUNCTION next_case_code(text, int) FROM PUBLIC`);
    await q.query(`GRANT EXECUTE ON FUNCTION next_case_code(text, int) TO haven_app`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION next_case_code(text, int)`);
  }
}
