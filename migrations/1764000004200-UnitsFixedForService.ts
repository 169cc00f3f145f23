import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The running service never changes an administrative unit: `units:import` (run as the owner) does. A unit's
 * province decides whose supervisors see what its staff and cases do (a ward officer's province is read from
 * their communes' units), so a runtime role that could `UPDATE admin_units SET province_code` would move a
 * commune, and everything read through it, under another province's supervisors. It keeps INSERT: the demo data
 * adds its units, once, to an empty installation.
 */
export class UnitsFixedForService1764000004200 implements MigrationInterface {
  name = 'UnitsFixedForService1764000004200';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`REVOKE UPDATE ON TABLE admin_units FROM haven_app`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`GRANT UPDATE ON TABLE admin_units TO haven_app`);
  }
}
