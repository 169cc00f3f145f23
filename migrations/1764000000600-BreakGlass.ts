import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Emergency ("break-glass") access: a police or health provider opens a case it has no referral for, with a
 * justification sealed with the case's data key. The grant lasts until `expires_at` and is reviewed once by a
 * supervisor of the case's province (`justified`, with an optional sealed note).
 */
export class BreakGlass1764000000600 implements MigrationInterface {
  name = 'BreakGlass1764000000600';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE break_glass_grants (
        id                uuid        PRIMARY KEY,
        case_id           uuid        NOT NULL REFERENCES cases (id),
        user_id           uuid        NOT NULL REFERENCES users (id),
        organization_id   uuid        NOT NULL REFERENCES organizations (id),
        sector            varchar(10) NOT NULL CHECK (sector IN ('police', 'health')),
        categories        text[]      NOT NULL,
        province_code     varchar(2)  NOT NULL REFERENCES admin_units (code),
        ward_code         varchar(5)  NOT NULL REFERENCES admin_units (code),
        enc_justification bytea       NOT NULL,
        opened_at         timestamptz NOT NULL DEFAULT now(),
        expires_at        timestamptz NOT NULL,
        reviewed_by       uuid        REFERENCES users (id),
        reviewed_at       timestamptz,
        justified         boolean,
        enc_review_note   bytea,
        CONSTRAINT break_glass_expiry CHECK (expires_at > opened_at),
        CONSTRAINT break_glass_review CHECK (
          (reviewed_at IS NULL) = (justified IS NULL) AND (reviewed_at IS NULL) = (reviewed_by IS NULL)
          AND (enc_review_note IS NULL OR reviewed_at IS NOT NULL))
      )`);
    await q.query(
      `CREATE INDEX break_glass_grants_case_user_idx ON break_glass_grants (case_id, user_id, expires_at)`,
    );
    await q.query(
      `CREATE INDEX break_glass_grants_queue_idx ON break_glass_grants (province_code, opened_at)
       WHERE reviewed_at IS NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE break_glass_grants`);
  }
}
