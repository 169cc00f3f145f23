import { MigrationInterface, QueryRunner } from 'typeorm';
import { dropInvalidIndex } from './invalid-index';

/**
 * The blind indexes of a case's name, name and date of birth, phone and date of birth, each led by the case's
 * commune. A search (or a registration's duplicate warning) is a ward officer's, of its own communes: with the
 * indexes of the whole country, every case in the country of the name searched was read from the table and then
 * dropped as out of scope, so the time of an empty answer grew with how many cases of that name, or that person,
 * there were elsewhere (a slow oracle, but one across jurisdictions). Led by the commune, a search reads only its
 * own communes' entries. `IF NOT EXISTS` throughout, so that on a large database they can be built `CONCURRENTLY`
 * by hand first with these names and definitions (docs/deployment.md); the country-wide ones are dropped after.
 */
const BY_COMMUNE = [
  ['cases_ward_bi_name_idx', 'bi_name', 'cases_bi_name_idx'],
  ['cases_ward_bi_name_dob_idx', 'bi_name_dob', 'cases_bi_name_dob_idx'],
  ['cases_ward_bi_phone_idx', 'bi_phone', 'cases_bi_phone_idx'],
  ['cases_ward_bi_dob_idx', 'bi_dob', 'cases_bi_dob_idx'],
] as const;

export class BlindIndexesByCommune1764000004800 implements MigrationInterface {
  name = 'BlindIndexesByCommune1764000004800';

  async up(q: QueryRunner): Promise<void> {
    for (const [index, column] of BY_COMMUNE) {
      await dropInvalidIndex(q, index);
      await q.query(`CREATE INDEX IF NOT EXISTS ${index} ON cases (ward_code, ${column})`);
    }
    for (const [, , countryWide] of BY_COMMUNE) await q.query(`DROP INDEX IF EXISTS ${countryWide}`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const [index, column, countryWide] of BY_COMMUNE) {
      await q.query(`CREATE INDEX ${countryWide} ON cases (${column})`);
      await q.query(`DROP INDEX ${index}`);
    }
  }
}
