import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * An organisation's name is unique in its province whatever its case and Unicode form: `lower(name)` folded
 * only A-Z in the embedded cluster's C locale ("ĐỒN CÔNG AN" and "Đồn công an" were two names), and a name typed
 * decomposed (NFD, as some Vietnamese keyboards send it) never equalled the composed one. The key
 * (organizationNameKey: NFC, lower case, spaces collapsed) is computed by the service, as PostgreSQL 15-16 have no
 * Unicode case folding without ICU; it is filled here for the organisations there are. A row written without
 * it (by an instance of the previous version during a rolling deploy) is keyed by `lower(name)` as before.
 * Organisations whose names now collide stop the migration, naming them, rather than one being renamed.
 */
/** organizationNameKey (src/directory/organization-name.ts) as of this migration: a migration does not change. */
function nameKey(name: string): string {
  return name.normalize('NFC').trim().replace(/\s+/gu, ' ').toLowerCase();
}

export class OrganizationNameKey1764000002700 implements MigrationInterface {
  name = 'OrganizationNameKey1764000002700';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE organizations ADD COLUMN name_key text`);
    const rows = (await q.query(`SELECT id, name, province_code FROM organizations ORDER BY id`)) as {
      id: string;
      name: string;
      province_code: string;
    }[];
    const seen = new Map<string, string>();
    const collisions: string[] = [];
    for (const r of rows) {
      const key = nameKey(r.name);
      const other = seen.get(`${r.province_code}\u0000${key}`);
      if (other) collisions.push(`${other} and ${r.id} (province ${r.province_code})`);
      seen.set(`${r.province_code}\u0000${key}`, r.id);
      await q.query(`UPDATE organizations SET name_key = $2 WHERE id = $1`, [r.id, key]);
    }
    if (collisions.length) {
      throw new Error(
        `organisations with the same name in one province once case and Unicode form are set aside: ` +
          `${collisions.join(', ')}; rename one of each, then run the migrations again`,
      );
    }
    await q.query(`DROP INDEX organizations_province_name_key`);
    await q.query(
      `CREATE UNIQUE INDEX organizations_province_name_key
         ON organizations (province_code, coalesce(name_key, lower(name)))`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX organizations_province_name_key`);
    await q.query(`ALTER TABLE organizations DROP COLUMN name_key`);
    await q.query(
      `CREATE UNIQUE INDEX organizations_province_name_key ON organizations (province_code, lower(name))`,
    );
  }
}
