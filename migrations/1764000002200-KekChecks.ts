import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Which key each KEK version is (`kek_checks`): a random value wrapped with the version by the first process
 * that wrapped a data key with it. A process opens the check before it wraps its first data key with a version,
 * and at start for every version it holds, so an instance whose keyring holds another key under the same
 * version (a keyring prepared twice, another master key in single-secret mode) is refused before it writes data
 * keys no other instance can open (docs/keys.md, "One key per KEK version"). The service's role may read the
 * checks and add one, never change or remove one.
 */
export class KekChecks1764000002200 implements MigrationInterface {
  name = 'KekChecks1764000002200';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE kek_checks (
        kek_id        text        NOT NULL CHECK (kek_id <> ''),
        kek_version   integer     NOT NULL CHECK (kek_version > 0),
        wrapped_check bytea       NOT NULL,
        registered_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT kek_checks_pkey PRIMARY KEY (kek_id, kek_version)
      )`);
    await q.query(`REVOKE ALL ON TABLE kek_checks FROM haven_app`);
    await q.query(`GRANT SELECT, INSERT ON TABLE kek_checks TO haven_app`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE kek_checks`);
  }
}
