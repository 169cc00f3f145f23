import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { AuditService } from '../audit/audit.service';
import type { AuditEntryInput } from '../audit/audit.types';
import type { Principal } from '../authz/principal';
import { DomainError } from '../common/errors/domain-error';
import { SlidingWindowLimiter } from '../common/http/rate-limiter';
import { ThrottledRefusals } from '../common/throttled-refusals';
import { LOGGER } from '../common/logging/logger.module';
import { PasswordHasher } from '../crypto/password-hasher';
import { LoginThrottleService } from './login-throttle.service';
import { CodeCheck, TotpService } from './totp.service';
import type { User } from './user.entity';
import { UsersRepository } from './users.repository';

/** How many step-ups a user may ask for in a minute (each an Argon2 check), per process. */
export const REAUTH_PER_MINUTE = 30;

/** What a step-up asks for: the password, and a current authenticator code when the account has two-factor. */
export interface StepUp {
  password: string;
  totp?: string;
}

/**
 * Step-up before an operation that cannot be taken back or that opens what is otherwise closed (ASVS 2.1.6,
 * 3.7.1): the signed-in user authenticates again as at sign-in — the password, and a fresh code from the
 * authenticator app when the account has two-factor — to change the password, to crypto-shred a case, to open
 * emergency access. A stolen access token alone is then not enough for them, nor a token and a phished
 * password, and a wrong password or code counts as a failed attempt of the user's step-ups and of the address
 * (the sign-in's limits and lock), so the token cannot be used to guess either faster than those limits allow
 * on the step-ups' key (which whoever holds a token has on top of the sign-in's own).
 * The user's step-ups are counted apart from the account's sign-ins (LoginThrottleService.reauthKeysFor), and
 * only their own lock refuses them: a stranger's wrong sign-ins, on the account or from the same office's
 * address, do not keep a signed-in provider from opening emergency access.
 *
 * A right password resets those counts, so they do not bound how often a user may step up: each check is an
 * Argon2 hash on the password-hashing workers, which the sign-ins of everyone share, and a flood of them (one
 * account's, in parallel) pushed the workers' backlog past the point where every sign-in is refused. So a user
 * has one check under way at a time in this process, and at most REAUTH_PER_MINUTE a minute; past either, a
 * step-up is refused at once (429 `auth.throttled`), before any hash, its refusal on the log once a minute.
 */
@Injectable()
export class ReauthenticationService {
  private readonly checking = new Set<string>();
  private readonly perMinute = new SlidingWindowLimiter(REAUTH_PER_MINUTE, 60_000);
  private readonly busyRefusals = new ThrottledRefusals();

  constructor(
    private readonly users: UsersRepository,
    private readonly hasher: PasswordHasher,
    private readonly throttle: LoginThrottleService,
    private readonly totp: TotpService,
    private readonly audit: AuditService,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /**
   * The signed-in user's account when `given` authenticates them: its password, and for an account with
   * two-factor a code not used before (TotpService.check). Otherwise throws, and writes `refused` to the access
   * log as denied with the code as its reason:
   * - `auth.reauthentication_code_required` (403) when the account has two-factor and no code was given, before
   *   anything else (so it tells nothing about the password and is not counted);
   * - `auth.throttled` (429, before the password is checked) while the user's step-ups are locked, or when this
   *   attempt is beyond their limit, or while the user has another step-up under way in this process or
   *   has asked for REAUTH_PER_MINUTE this minute (on the log once a minute then);
   * - `auth.reauthentication_failed` (403) for a wrong password or code, counted toward the lock. Which of the
   *   two was wrong is not said, as at sign-in;
   * - `auth.totp_locked` (429, no Retry-After) after the right password when the account's codes are refused (too many wrong in a
   *   row; TotpService.check), counted toward the lock as a sign-in's is.
   * Nothing is logged on success: the operation's own entry follows. `refused` may be a function, called only on
   * a refusal (as AuditService.refusalsOnRecord's): a step-up about a case puts its refusal in the case's place,
   * so that the province's supervisors see the attempt under the case, with no query when the step-up succeeds.
   */
  async confirm(
    p: Principal,
    given: StepUp,
    refused: AuditEntryInput | (() => Promise<AuditEntryInput>),
  ): Promise<User> {
    const user = await this.users.findById(p.userId);
    if (!user || user.status !== 'active') throw new DomainError('auth.unauthenticated');
    const record = async (e: DomainError): Promise<void> => {
      const entry = typeof refused === 'function' ? await refused() : refused;
      await this.audit.recordDenied(p, { ...entry, reason: e.code });
    };
    const refuse = async (e: DomainError): Promise<never> => {
      await record(e);
      throw e;
    };
    const needsCode = user.totpEnabledAt !== null && this.totp.enforcedFor(user);
    if (needsCode && !given.totp) return refuse(new DomainError('auth.reauthentication_code_required'));
    // One check at a time per user, and a few a minute (see the class comment).
    if (this.checking.has(user.id) || !this.perMinute.take(user.id)) {
      // On the log once a minute per user (the wait may be near zero while another check runs).
      await this.busyRefusals.refuse(user.id, this.perMinute.msUntilFree(user.id), record, {
        quietMs: 60_000,
      });
    }
    this.checking.add(user.id);
    try {
      return await this.check(p, user, given, needsCode, refuse);
    } finally {
      this.checking.delete(user.id);
    }
  }

  private async check(
    p: Principal,
    user: User,
    given: StepUp,
    needsCode: boolean,
    refuse: (e: DomainError) => Promise<never>,
  ): Promise<User> {
    const keys = this.throttle.reauthKeysFor(user.id, p.request?.ip ?? '');
    // Counted before the password is checked, as a sign-in is (LoginThrottleService.begin).
    const lock = await this.throttle.begin(keys);
    if (lock.seconds > 0)
      return refuse(new DomainError('auth.throttled', undefined, undefined, lock.seconds));
    const passwordRight = (await this.hasher.verify(user.passwordHash, given.password)).valid;
    const code: CodeCheck = !passwordRight
      ? 'wrong'
      : needsCode
        ? await this.totp.check(user, given.totp!, () => this.throttle.giveBack(keys))
        : 'right';
    if (code !== 'right') {
      // Counted, a refusal of the account's locked codes too (as at sign-in: a password was checked for it).
      const locked = await this.throttle.recordFailure(keys);
      const reason = code === 'locked' ? 'auth.totp_locked' : 'auth.reauthentication_failed';
      // No password, code, username or address in the log.
      this.logger.info({ event: reason, userId: user.id, locked }, 'step-up refused');
      return refuse(new DomainError(reason));
    }
    await this.throttle.recordSuccess(keys);
    return user;
  }
}
