import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `schema_requirements`: the migrations an older release cannot run without. A release started on a database
 * migrated by a newer one (a rollback) finds migrations it does not know there; it starts, with a warning, unless
 * one of them is listed here, which a migration does (`requireOfEveryRelease`, schema-requirements.ts) when the code before it would be
 * wrong on its schema (a guard the old code would not apply, a column it would not fill). Then the older release
 * is refused at start (docs/deployment.md, "Migrations run once"). The service reads the table, never writes it.
 */
export class SchemaRequirements1764000004400 implements MigrationInterface {
  name = 'SchemaRequirements1764000004400';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE schema_requirements (
        migration  text        PRIMARY KEY,
        reason     text        NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`REVOKE ALL ON TABLE schema_requirements FROM haven_app`);
    await q.query(`GRANT SELECT ON TABLE schema_requirements TO haven_app`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE schema_requirements`);
  }
}
