import { MigrationInterface, QueryRunner } from 'typeorm';

/** A trigger function that runs `body` as the function's owner (the migrations' role), then returns NULL. */
function definer(name: string, body: string): string {
  return `CREATE FUNCTION ${name}() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    BEGIN
      ${body}
      RETURN NULL;
    END $$`;
}

/**
 * The number of cases of each commune, kept by the database (`case_counts`), so that a case list's total
 * adds up at most a province's communes instead of counting its cases (issue 8: a supervisor's list counted
 * all 37,638 cases of Hà Nội's on every page at a million cases: ~16 ms warm, up to 890 ms cold). Triggers on
 * `cases` keep it in the same transaction as the rows, whoever writes them; the service's role may only read
 * it. A list whose scope names nothing but the case's commune and province counts from here (cases.repository).
 */
export class CaseCounts1764000001200 implements MigrationInterface {
  name = 'CaseCounts1764000001200';

  async up(q: QueryRunner): Promise<void> {
    // No case may be written between the counting below and the triggers (the migration's transaction holds
    // the lock to its end): it would be missing from the counts.
    await q.query(`LOCK TABLE cases IN SHARE ROW EXCLUSIVE MODE`);
    await q.query(`
      CREATE TABLE case_counts (
        province_code varchar(2) NOT NULL,
        ward_code     varchar(5) NOT NULL,
        n             bigint     NOT NULL CHECK (n >= 0),
        PRIMARY KEY (province_code, ward_code)
      )`);
    await q.query(`
      INSERT INTO case_counts (province_code, ward_code, n)
      SELECT province_code, ward_code, count(*) FROM cases GROUP BY province_code, ward_code`);
    // The functions run as their owner: the service's role cannot write the counts itself. Rows are locked in
    // one order, so that two statements adding cases to the same communes cannot deadlock.
    await q.query(
      definer(
        'case_counts_add',
        `INSERT INTO case_counts AS k (province_code, ward_code, n)
         SELECT province_code, ward_code, count(*) FROM added
          GROUP BY province_code, ward_code ORDER BY province_code, ward_code
         ON CONFLICT (province_code, ward_code) DO UPDATE SET n = k.n + EXCLUDED.n;`,
      ),
    );
    await q.query(
      definer(
        'case_counts_remove',
        `UPDATE case_counts k SET n = k.n - d.n
           FROM (SELECT province_code, ward_code, count(*) AS n FROM removed
                  GROUP BY province_code, ward_code ORDER BY province_code, ward_code) d
          WHERE k.province_code = d.province_code AND k.ward_code = d.ward_code;`,
      ),
    );
    await q.query(
      definer(
        'case_counts_move',
        `UPDATE case_counts SET n = n - 1 WHERE province_code = OLD.province_code AND ward_code = OLD.ward_code;
         INSERT INTO case_counts AS k (province_code, ward_code, n) VALUES (NEW.province_code, NEW.ward_code, 1)
         ON CONFLICT (province_code, ward_code) DO UPDATE SET n = k.n + 1;`,
      ),
    );
    await q.query(definer('case_counts_clear', `DELETE FROM case_counts;`));
    for (const f of ['case_counts_add', 'case_counts_remove', 'case_counts_move', 'case_counts_clear']) {
      await q.query(`REVOKE ALL ON FUNCTION ${f}() FROM PUBLIC`);
    }
    await q.query(`
      CREATE TRIGGER case_counts_add AFTER INSERT ON cases REFERENCING NEW TABLE AS added
        FOR EACH STATEMENT EXECUTE FUNCTION case_counts_add()`);
    await q.query(`
      CREATE TRIGGER case_counts_remove AFTER DELETE ON cases REFERENCING OLD TABLE AS removed
        FOR EACH STATEMENT EXECUTE FUNCTION case_counts_remove()`);
    await q.query(`
      CREATE TRIGGER case_counts_move AFTER UPDATE OF province_code, ward_code ON cases FOR EACH ROW
        WHEN (OLD.province_code IS DISTINCT FROM NEW.province_code OR OLD.ward_code IS DISTINCT FROM NEW.ward_code)
        EXECUTE FUNCTION case_counts_move()`);
    await q.query(`
      CREATE TRIGGER case_counts_clear AFTER TRUNCATE ON cases
        FOR EACH STATEMENT EXECUTE FUNCTION case_counts_clear()`);
    await q.query(`REVOKE ALL ON TABLE case_counts FROM haven_app`);
    await q.query(`GRANT SELECT ON TABLE case_counts TO haven_app`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of ['case_counts_add', 'case_counts_remove', 'case_counts_move', 'case_counts_clear']) {
      await q.query(`DROP TRIGGER ${t} ON cases`);
      await q.query(`DROP FUNCTION ${t}()`);
    }
    await q.query(`DROP TABLE case_counts`);
  }
}
