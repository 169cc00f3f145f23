import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Cases, consents, referrals and notes. Triage facts are plaintext columns (statistics, scoping); every
 * other field category is one `enc_*` bytea column holding a ciphertext sealed with the case's data key and
 * bound to its table, column and row. Blind indexes (`bi_*`) serve duplicate checks and search.
 */
export class Cases1764000000500 implements MigrationInterface {
  name = 'Cases1764000000500';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE case_sequences (
        province_code varchar(2) NOT NULL REFERENCES admin_units (code),
        year          int        NOT NULL,
        last_value    int        NOT NULL,
        PRIMARY KEY (province_code, year)
      )`);
    await q.query(`
      CREATE TABLE cases (
        id              uuid        PRIMARY KEY,
        code            text        NOT NULL UNIQUE,
        ward_code       varchar(5)  NOT NULL REFERENCES admin_units (code),
        province_code   varchar(2)  NOT NULL REFERENCES admin_units (code),
        status          text        NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
        reported_at     timestamptz NOT NULL,
        report_channel  text        NOT NULL CHECK (report_channel IN ('walk_in', 'phone', 'hotline_111', 'police',
                                      'school', 'health_facility', 'community', 'other')),
        risk_level      text        NOT NULL CHECK (risk_level IN ('low', 'medium', 'high', 'critical')),
        survivor_sex    text        NOT NULL CHECK (survivor_sex IN ('female', 'male', 'other', 'unknown')),
        age_group       text        NOT NULL CHECK (age_group IN ('0-5', '6-11', '12-15', '16-17', '18-59', '60+', 'unknown')),
        child_vn        boolean,
        child_gbvims    boolean,
        gbv_type        text        NOT NULL CHECK (gbv_type IN ('rape', 'sexual_assault', 'physical_assault',
                                      'forced_marriage', 'denial_of_resources_opportunities_or_services',
                                      'psychological_emotional_abuse', 'non_gbv')),
        forms           text[]      NOT NULL CHECK (cardinality(forms) > 0
                                      AND forms <@ ARRAY['physical', 'psychological', 'sexual', 'economic']),
        contexts        text[]      NOT NULL DEFAULT '{}' CHECK (contexts <@ ARRAY['intimate_partner',
                                      'child_sexual_abuse', 'trafficking', 'early_marriage']),
        incident_date   date,
        enc_identity    bytea,
        enc_contact     bytea,
        enc_incident    bytea,
        enc_perpetrator bytea,
        enc_health      bytea,
        enc_close_reason bytea,
        bi_name         bytea,
        bi_name_dob     bytea,
        bi_phone        bytea,
        version         int         NOT NULL DEFAULT 1,
        created_by      uuid        NOT NULL REFERENCES users (id),
        created_at      timestamptz NOT NULL DEFAULT now(),
        updated_by      uuid        REFERENCES users (id),
        updated_at      timestamptz NOT NULL DEFAULT now(),
        closed_by       uuid        REFERENCES users (id),
        closed_at       timestamptz,
        shredded_at     timestamptz,
        CONSTRAINT cases_closed CHECK ((status = 'closed') = (closed_at IS NOT NULL))
      )`);
    await q.query(`CREATE INDEX cases_ward_created_idx ON cases (ward_code, created_at DESC)`);
    await q.query(`CREATE INDEX cases_province_reported_idx ON cases (province_code, reported_at)`);
    await q.query(`CREATE INDEX cases_bi_name_idx ON cases (bi_name)`);
    await q.query(`CREATE INDEX cases_bi_name_dob_idx ON cases (bi_name_dob)`);
    await q.query(`CREATE INDEX cases_bi_phone_idx ON cases (bi_phone)`);

    await q.query(`
      CREATE TABLE consents (
        id              uuid        PRIMARY KEY,
        case_id         uuid        NOT NULL REFERENCES cases (id),
        organization_id uuid        REFERENCES organizations (id),
        sector          text        CHECK (sector IN ('police', 'health', 'social', 'shelter', 'legal', 'other')),
        categories      text[]      NOT NULL CHECK (cardinality(categories) > 0
                                      AND categories <@ ARRAY['identity', 'contact', 'incident', 'perpetrator', 'health']),
        given_by        text        CHECK (given_by IN ('survivor', 'guardian')),
        legal_basis     text        CHECK (legal_basis IN ('child_protection_duty', 'imminent_danger', 'court_order')),
        enc_reason      bytea,
        expires_at      timestamptz,
        withdrawn_at    timestamptz,
        withdrawn_by    uuid        REFERENCES users (id),
        created_by      uuid        NOT NULL REFERENCES users (id),
        created_at      timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT consents_one_recipient CHECK ((organization_id IS NULL) <> (sector IS NULL)),
        CONSTRAINT consents_one_ground CHECK ((given_by IS NULL) <> (legal_basis IS NULL)),
        CONSTRAINT consents_basis_has_reason CHECK (legal_basis IS NULL OR enc_reason IS NOT NULL)
      )`);
    await q.query(`CREATE INDEX consents_case_idx ON consents (case_id)`);
    await q.query(
      `CREATE INDEX consents_expiry_idx ON consents (expires_at) WHERE withdrawn_at IS NULL AND expires_at IS NOT NULL`,
    );

    await q.query(`
      CREATE TABLE referrals (
        id                 uuid        PRIMARY KEY,
        case_id            uuid        NOT NULL REFERENCES cases (id),
        organization_id    uuid        NOT NULL REFERENCES organizations (id),
        consent_id         uuid        NOT NULL REFERENCES consents (id),
        services           text[]      NOT NULL CHECK (cardinality(services) > 0 AND services <@ ARRAY['medical_care',
                                         'forensic_exam', 'psychosocial_support', 'safe_shelter', 'legal_aid',
                                         'police_protection', 'no_contact_order', 'investigation',
                                         'child_protection_assessment', 'economic_support', 'other']),
        urgency            text        NOT NULL CHECK (urgency IN ('routine', 'urgent', 'emergency')),
        status             text        NOT NULL DEFAULT 'pending'
                                         CHECK (status IN ('pending', 'accepted', 'declined', 'completed', 'revoked')),
        due_at             timestamptz NOT NULL,
        enc_note           bytea,
        enc_decline_reason bytea,
        enc_revoke_reason  bytea,
        outcome            text        CHECK (outcome IN ('services_delivered', 'client_declined',
                                         'unable_to_contact', 'referred_onward', 'other')),
        revoke_cause       text        CHECK (revoke_cause IN ('ward', 'consent_withdrawn', 'consent_expired')),
        accepted_at        timestamptz,
        accepted_by        uuid        REFERENCES users (id),
        declined_at        timestamptz,
        declined_by        uuid        REFERENCES users (id),
        completed_at       timestamptz,
        completed_by       uuid        REFERENCES users (id),
        revoked_at         timestamptz,
        revoked_by         uuid        REFERENCES users (id),
        version            int         NOT NULL DEFAULT 1,
        created_by         uuid        NOT NULL REFERENCES users (id),
        created_at         timestamptz NOT NULL DEFAULT now(),
        updated_at         timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT referrals_accepted CHECK ((status IN ('accepted', 'completed')) <= (accepted_at IS NOT NULL)),
        CONSTRAINT referrals_completed CHECK ((status = 'completed') = (outcome IS NOT NULL)),
        CONSTRAINT referrals_revoked CHECK ((status = 'revoked') = (revoke_cause IS NOT NULL))
      )`);
    await q.query(`CREATE INDEX referrals_case_idx ON referrals (case_id)`);
    await q.query(
      `CREATE INDEX referrals_org_status_idx ON referrals (organization_id, status, created_at DESC)`,
    );
    await q.query(
      `CREATE INDEX referrals_consent_idx ON referrals (consent_id) WHERE status IN ('pending', 'accepted')`,
    );
    await q.query(`CREATE INDEX referrals_due_idx ON referrals (due_at) WHERE status = 'pending'`);
    // One live referral per case and organisation.
    await q.query(
      `CREATE UNIQUE INDEX referrals_one_live_idx ON referrals (case_id, organization_id) WHERE status IN ('pending', 'accepted')`,
    );

    await q.query(`
      CREATE TABLE referral_notes (
        id              uuid        PRIMARY KEY,
        case_id         uuid        NOT NULL REFERENCES cases (id),
        referral_id     uuid        NOT NULL REFERENCES referrals (id),
        organization_id uuid        REFERENCES organizations (id),
        author_id       uuid        NOT NULL REFERENCES users (id),
        enc_text        bytea       NOT NULL,
        created_at      timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX referral_notes_referral_idx ON referral_notes (referral_id, created_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE referral_notes`);
    await q.query(`DROP TABLE referrals`);
    await q.query(`DROP TABLE consents`);
    await q.query(`DROP TABLE cases`);
    await q.query(`DROP TABLE case_sequences`);
  }
}
