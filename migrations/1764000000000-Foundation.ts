import { MigrationInterface, QueryRunner } from 'typeorm';

export class Foundation1764000000000 implements MigrationInterface {
  name = 'Foundation1764000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE EXTENSION IF NOT EXISTS pgcrypto`);
    await q.query(`
      CREATE TABLE admin_units (
        code          varchar(5)  PRIMARY KEY,
        level         varchar(8)  NOT NULL CHECK (level IN ('province', 'commune')),
        kind          varchar(10) NOT NULL CHECK (kind IN ('tinh', 'thanh_pho', 'phuong', 'xa', 'dac_khu')),
        province_code varchar(2)  REFERENCES admin_units (code),
        name_vi       text        NOT NULL,
        name_en       text        NOT NULL,
        full_name_vi  text        NOT NULL,
        full_name_en  text        NOT NULL,
        created_at    timestamptz NOT NULL DEFAULT now(),
        updated_at    timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT admin_units_shape CHECK (
          (level = 'province' AND code ~ '^[0-9]{2}$' AND province_code IS NULL AND kind IN ('tinh', 'thanh_pho'))
          OR (level = 'commune' AND code ~ '^[0-9]{5}$' AND province_code IS NOT NULL AND kind IN ('phuong', 'xa', 'dac_khu'))
        )
      )`);
    await q.query(`CREATE INDEX admin_units_province_idx ON admin_units (province_code)`);
    await q.query(`
      CREATE TABLE demo_seed_runs (
        step       text        PRIMARY KEY,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE demo_seed_runs`);
    await q.query(`DROP TABLE admin_units`);
  }
}
