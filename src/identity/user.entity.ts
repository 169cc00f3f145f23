import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import type { LocalizedText } from '../common/errors/error-catalog';

export const ROLES = ['ward_officer', 'provider', 'supervisor', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** What a person reads for each role, in both languages (messages about an account's role). */
export const ROLE_NAMES: Record<Role, LocalizedText> = {
  ward_officer: { en: 'ward officer', vi: 'cán bộ cấp xã' },
  provider: { en: 'service provider', vi: 'cán bộ cơ quan cung cấp dịch vụ' },
  supervisor: { en: 'supervisor', vi: 'giám sát viên' },
  admin: { en: 'administrator', vi: 'quản trị viên' },
};

export type UserStatus = 'active' | 'disabled';

/**
 * A staff account with exactly one role. Its scope: communes (ward_officer, in user_communes), one
 * organisation (provider), a province or nothing = national (supervisor). Secrets are stored only as an
 * Argon2id hash (password) and sealed bytes (TOTP).
 */
@Entity({ name: 'users' })
export class User {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ type: 'varchar', length: 64 })
  username!: string;

  @Column({ type: 'varchar', length: 12 })
  role!: Role;

  @Column({ type: 'varchar', length: 8, default: 'active' })
  status!: UserStatus;

  @Column({ name: 'password_hash', type: 'text' })
  passwordHash!: string;

  @Column({ name: 'password_changed_at', type: 'timestamptz', default: () => 'now()' })
  passwordChangedAt!: Date;

  /** Bumped on disable, password reset and TOTP changes: every token carrying an older version is refused. */
  @Column({ name: 'token_version', type: 'integer', default: 1 })
  tokenVersion!: number;

  @Column({ name: 'organization_id', type: 'uuid', nullable: true })
  organizationId!: string | null;

  /** Supervisor jurisdiction; null for a national supervisor (and for every other role). */
  @Column({ name: 'province_code', type: 'varchar', length: 2, nullable: true })
  provinceCode!: string | null;

  @Column({ name: 'totp_secret', type: 'bytea', nullable: true })
  totpSecret!: Buffer | null;

  @Column({ name: 'totp_pending_secret', type: 'bytea', nullable: true })
  totpPendingSecret!: Buffer | null;

  @Column({ name: 'totp_enabled_at', type: 'timestamptz', nullable: true })
  totpEnabledAt!: Date | null;

  /** The last TOTP time step accepted: a code is never accepted twice. */
  @Column({ name: 'totp_last_step', type: 'bigint', nullable: true })
  totpLastStep!: string | null;

  /** Wrong authenticator codes in a row (TotpService.check): past MAX_TOTP_FAILURES, none is checked. */
  @Column({ name: 'totp_failures', type: 'integer', default: 0 })
  totpFailures!: number;

  /**
   * An administrator set the password (creation, reset): the account must choose its own before anything
   * else (POST /auth/password); cleared by that change.
   */
  @Column({ name: 'password_change_required', type: 'boolean', default: false })
  passwordChangeRequired!: boolean;

  /**
   * The demo's: seeded by the demo data set, or made by one of its accounts (`madeInDemo`). Shut outside the
   * demo (demoAccountShut); a seeded one is not asked for two-factor or a step-up while the demo runs.
   */
  @Column({ name: 'demo_account', type: 'boolean', default: false })
  demoAccount!: boolean;

  /** Made by one of the demo's accounts while the demo ran: the demo's, but asked for all a real one is. */
  @Column({ name: 'made_in_demo', type: 'boolean', default: false })
  madeInDemo!: boolean;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
