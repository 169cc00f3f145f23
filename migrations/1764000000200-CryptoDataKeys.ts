import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Data keys (DEKs) for envelope encryption: one per owner row (a case), wrapped by a KEK version. A shredded
 * key keeps its row as a tombstone (wrapped_dek NULL, destroyed_at set) so the owner can never get a new key
 * and reads fail with crypto.key_destroyed.
 */
export class CryptoDataKeys1764000000200 implements MigrationInterface {
  name = 'CryptoDataKeys1764000000200';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE data_keys (
        owner_type   text        NOT NULL CHECK (owner_type ~ '^[a-z][a-z0-9_]{0,62}$'),
        owner_id     uuid        NOT NULL,
        dek_id       uuid        NOT NULL,
        kek_id       text        NOT NULL CHECK (kek_id <> ''),
        kek_version  integer     NOT NULL CHECK (kek_version > 0),
        wrapped_dek  bytea,
        created_at   timestamptz NOT NULL DEFAULT now(),
        rotated_at   timestamptz,
        destroyed_at timestamptz,
        CONSTRAINT data_keys_pkey PRIMARY KEY (owner_type, owner_id),
        CONSTRAINT data_keys_dek_id_key UNIQUE (dek_id),
        CONSTRAINT data_keys_destroyed_shape CHECK ((wrapped_dek IS NULL) = (destroyed_at IS NOT NULL))
      )`);
    // Rotation looks for live keys not yet on the active KEK version.
    await q.query(
      `CREATE INDEX data_keys_kek_idx ON data_keys (kek_id, kek_version) WHERE destroyed_at IS NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE data_keys`);
  }
}
