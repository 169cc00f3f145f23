import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { generateSecret, generateURI, verify } from 'otplib';
import type { Logger } from 'pino';
import { DataSource, EntityManager } from 'typeorm';
import { DomainError } from '../common/errors/domain-error';
import { LOGGER } from '../common/logging/logger.module';
import { APP_CONFIG, type AppConfig } from '../config/config';
import { returnedRows } from '../database/pg-errors';
import { demoRelaxed } from './demo-accounts';
import { TotpSecretCipher } from './totp-secret.cipher';
import { User } from './user.entity';

export const TOTP_ISSUER = 'Haven';
/** Accept the previous and next 30-second step too (clock drift between phone and server). */
const EPOCH_TOLERANCE_SECONDS = 30;

export interface TotpEnrollment {
  secret: string;
  otpauthUrl: string;
}

/**
 * Two-factor authentication with TOTP (RFC 6238: SHA-1, 6 digits, 30 s, as every authenticator app).
 * Enrolment stores a pending secret, activated by a first valid code; a code is never accepted twice (the
 * last accepted time step is kept and compared atomically).
 */
/**
 * Wrong authenticator codes in a row after which an account's codes are no longer checked (NIST SP 800-63B
 * allows at most 100): a guesser who has the password gets ten tries at a one-in-a-few-hundred-thousand code,
 * a user who mistypes gets room to.
 */
export const MAX_TOTP_FAILURES = 10;

@Injectable()
export class TotpService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly cipher: TotpSecretCipher,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /**
   * Whether two-factor applies to this account at sign-in and step-up: always, except for the demo's own
   * accounts while the demo runs (whoever tries the demo has no authenticator set up for them).
   */
  enforcedFor(user: User): boolean {
    return !demoRelaxed(user, this.config);
  }

  /** A new pending secret, sealed; `alongside` runs in the same transaction (the access-log entry). */
  async enroll(
    user: User,
    alongside?: (manager: EntityManager) => Promise<unknown>,
  ): Promise<TotpEnrollment> {
    assertTotpNotEnabled(user);
    const secret = generateSecret({ length: 20 });
    await this.dataSource.transaction(async (manager) => {
      // One enrolment of the account at a time (a double click): the second waits, then finds the data key the
      // first made instead of making one too (which failed), and its secret replaces the first's.
      await manager.query(`SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE`, [user.id]);
      const sealed = await this.cipher.seal(user.id, 'totp_pending_secret', secret, manager);
      await manager.query(`UPDATE users SET totp_pending_secret = $2, updated_at = now() WHERE id = $1`, [
        user.id,
        sealed,
      ]);
      await alongside?.(manager);
    });
    return { secret, otpauthUrl: generateURI({ issuer: TOTP_ISSUER, label: user.username, secret }) };
  }

  /**
   * Activates the pending secret with a first code; every earlier session of the user ends (token version).
   * `session`: the token version of the session asking; one ended meanwhile (the account disabled or its
   * password reset while its password was checked, say to lock out whoever had it) activates nothing (401).
   */
  async activate(
    user: User,
    code: string,
    session: { tokenVersion: number },
    alongside?: (manager: EntityManager) => Promise<unknown>,
  ): Promise<void> {
    if (user.totpEnabledAt || !user.totpPendingSecret) {
      throw new DomainError('conflict.state', {
        en: 'There is no two-factor set-up waiting for a code; start with /auth/totp/enroll.',
        vi: 'Không có thiết lập xác thực hai lớp nào đang chờ mã; hãy bắt đầu với /auth/totp/enroll.',
      });
    }
    await this.dataSource.transaction(async (manager) => {
      const secret = await this.cipher.open(user.id, 'totp_pending_secret', user.totpPendingSecret!, manager);
      const step = await matchingStep(secret, code, null);
      if (step === null) throw new DomainError('auth.totp_invalid');
      const sealed = await this.cipher.seal(user.id, 'totp_secret', secret, manager);
      const updated = returnedRows(
        await manager.query(
          `UPDATE users
            SET totp_secret = $2, totp_enabled_at = now(), totp_pending_secret = NULL, totp_last_step = $3,
                totp_failures = 0, token_version = token_version + 1, updated_at = now()
          WHERE id = $1 AND totp_enabled_at IS NULL AND token_version = $4
          RETURNING id`,
          [user.id, sealed, step, session.tokenVersion],
        ),
      );
      if (updated.length === 0) {
        const [now] = await manager.query<{ enabled: boolean }[]>(
          `SELECT totp_enabled_at IS NOT NULL AS enabled FROM users WHERE id = $1`,
          [user.id],
        );
        throw new DomainError(now && !now.enabled ? 'auth.unauthenticated' : 'conflict.state');
      }
      // E.g. the activation's access-log entry, in its transaction.
      await alongside?.(manager);
    });
  }

  /**
   * Checks a code against the user's active secret and consumes its time step: a code accepted once (at
   * sign-in or at a step-up) is never accepted again, so a step-up right after a sign-in waits for the next one.
   * Each code is counted as wrong before it is checked (so a burst cannot pass the limit), and a right one sets
   * the count back to zero: past MAX_TOTP_FAILURES wrong codes in a row, answers `locked` without checking,
   * until an administrator resets the account's two-factor (its callers refuse with `auth.totp_locked`).
   * A secret this instance cannot open (a keyring behind a rotation, the database gone) is its fault, not a wrong
   * code of the user's: it throws before anything is counted (ten such retries would lock the account's codes on
   * every instance, until an administrator reset them with a new password), after `undecided` (its caller gives
   * back what it counted of the attempt; a give-back that fails is logged, and the user's attempt stays counted).
   */
  async check(user: User, code: string, undecided?: () => Promise<void>): Promise<CodeCheck> {
    if (!user.totpSecret) return 'wrong';
    let secret: string;
    try {
      secret = await this.cipher.open(user.id, 'totp_secret', user.totpSecret);
    } catch (e) {
      await undecided?.().catch((failed: unknown) =>
        this.logger.warn(
          { err: failed, userId: user.id },
          'an unchecked authenticator code stays counted: its give-back failed',
        ),
      );
      throw e;
    }
    // Counted in the same statement that finds whether every step this instance would accept is used already
    // (the step stored, as it is now, ahead of its clock: another instance's runs fast). Then no code can be
    // right here, so guessing brings no one nearer to a right one: refused without counting, so that a user
    // retrying meanwhile is not pushed toward the lock (clocks: NTP).
    const counted = returnedRows<{ ahead: boolean }>(
      await this.dataSource.query(
        `UPDATE users
            SET totp_failures = CASE WHEN totp_last_step >= $3 THEN totp_failures ELSE totp_failures + 1 END
          WHERE id = $1 AND totp_failures < $2
          RETURNING coalesce(totp_last_step >= $3, false) AS ahead`,
        [user.id, MAX_TOTP_FAILURES, highestStep(Date.now())],
      ),
    );
    if (counted.length === 0) return 'locked';
    if (counted[0].ahead) return 'wrong';
    if (!/^\d{6}$/.test(code)) return 'wrong';
    const step = await matchingStep(
      secret,
      code,
      user.totpLastStep === null ? null : Number(user.totpLastStep),
    );
    if (step === null) return 'wrong';
    // Two sign-ins racing with the same code: only one moves the step forward.
    const rows = returnedRows(
      await this.dataSource.query(
        `UPDATE users SET totp_last_step = $2, totp_failures = 0
        WHERE id = $1 AND (totp_last_step IS NULL OR totp_last_step < $2)
        RETURNING id`,
        [user.id, step],
      ),
    );
    return rows.length === 1 ? 'right' : 'wrong';
  }
}

/**
 * What TotpService.check made of a code: `locked` when the account's codes are refused (MAX_TOTP_FAILURES wrong
 * in a row) and the code was not checked.
 */
export type CodeCheck = 'right' | 'wrong' | 'locked';

/** The latest time step a code is accepted for at `nowMs` (the window reaches EPOCH_TOLERANCE_SECONDS ahead). */
function highestStep(nowMs: number): number {
  return Math.floor((Math.floor(nowMs / 1000) + EPOCH_TOLERANCE_SECONDS) / 30);
}

async function matchingStep(secret: string, code: string, afterStep: number | null): Promise<number | null> {
  if (!/^\d{6}$/.test(code)) return null;
  try {
    const result = await verify({
      secret,
      token: code,
      epochTolerance: EPOCH_TOLERANCE_SECONDS,
      ...(afterStep === null ? {} : { afterTimeStep: afterStep }),
    });
    return result.valid && 'timeStep' in result ? result.timeStep : null;
  } catch {
    return null;
  }
}

/** Refuses (409) what only an account without two-factor may do: set it up. An administrator can reset it. */
export function assertTotpNotEnabled(user: Pick<User, 'totpEnabledAt'>): void {
  if (user.totpEnabledAt) {
    throw new DomainError('conflict.state', {
      en: 'Two-factor authentication is already set up; an administrator can reset it.',
      vi: 'Xác thực hai lớp đã được thiết lập; quản trị viên có thể đặt lại.',
    });
  }
}
