import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * An organisation's name is unique among the active organisations of its province: a retired one (closed, or
 * merged into another) no longer holds its name, so its successor may take it. Before, the only way to reuse a
 * name was to rename the retired record, and every referral and consent made to it then showed the new name, not
 * the one the survivor consented to. Reinstating a retired organisation whose name an active one took is
 * refused (409 organization.name_taken): rename one of them first. Reverted, every name is unique again: the
 * revert stops, naming them, while two organisations of a province share one (a retired one and its successor,
 * or two retired ones). Before OrganizationNameSpellings, so that a retired organisation and its successor whose
 * names differ only in spelling do not stop that migration.
 */
export class RetiredOrganizationNamesFree1764000004550 implements MigrationInterface {
  name = 'RetiredOrganizationNamesFree1764000004550';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX organizations_province_name_key`);
    await q.query(
      `CREATE UNIQUE INDEX organizations_province_name_key
         ON organizations (province_code, coalesce(name_key, lower(name))) WHERE retired_at IS NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    const shared = (await q.query(
      `SELECT string_agg(id::text, ' and ' ORDER BY id) AS ids, province_code
         FROM organizations GROUP BY province_code, coalesce(name_key, lower(name))
        HAVING count(*) > 1 ORDER BY 1`,
    )) as { ids: string; province_code: string }[];
    if (shared.length) {
      throw new Error(
        `organisations (retired ones included) share a name in one province: ` +
          `${shared.map((s) => `${s.ids} (province ${s.province_code})`).join(', ')}; rename the retired one of each, ` +
          `then revert again`,
      );
    }
    await q.query(`DROP INDEX organizations_province_name_key`);
    await q.query(
      `CREATE UNIQUE INDEX organizations_province_name_key
         ON organizations (province_code, coalesce(name_key, lower(name)))`,
    );
  }
}
