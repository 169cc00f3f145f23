import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { Logger } from 'pino';
import { AuditService } from '../audit/audit.service';
import type { Principal } from '../authz/principal';
import type { RequestContext } from '../common/http/request-context';
import { DomainError } from '../common/errors/domain-error';
import type { ErrorCode, LocalizedText } from '../common/errors/error-catalog';
import { APP_CONFIG, type AppConfig } from '../config/config';
import { LOGGER } from '../common/logging/logger.module';
import { MAX_PASSWORD_BYTES, PasswordHasher } from '../crypto/password-hasher';
import type { ChangePasswordDto, MeResponse } from './dto/auth.dto';
import { USERNAME } from './dto/user.dto';
import { assertPasswordAcceptable } from './password-policy';
import { demoAccountShut } from './demo-accounts';
import { LoggedMarks } from '../common/logged-marks';
import { LoginThrottleService } from './login-throttle.service';
import { ReauthenticationService } from './reauthentication.service';
import { IssuedToken, TokenService } from './token.service';
import { assertTotpNotEnabled, TotpEnrollment, TotpService } from './totp.service';
import { Role, User } from './user.entity';
import { UsersRepository } from './users.repository';

const SAME_PASSWORD = () =>
  new DomainError('unprocessable', undefined, [
    {
      field: 'newPassword',
      code: 'sameAsCurrent',
      message: { en: 'is the current password', vi: 'trùng với mật khẩu hiện tại' },
    },
  ]);
const CHANGED_MEANWHILE = () =>
  new DomainError('conflict.state', {
    en: 'The password was changed meanwhile; sign in again.',
    vi: 'Mật khẩu vừa được thay đổi; vui lòng đăng nhập lại.',
  });

/** Seconds of queued password checks past which a new sign-in is refused (503), and when to try again. */
const SIGN_IN_BACKLOG_SECONDS = 10;
const SIGN_IN_RETRY_SECONDS = 5;
const BUSY: LocalizedText = {
  en: 'Too many sign-ins are being checked right now; try again in a few seconds.',
  vi: 'Hệ thống đang kiểm tra quá nhiều lượt đăng nhập; vui lòng thử lại sau vài giây.',
};

/** Roles that must sign in with a second factor. */
export const TOTP_REQUIRED_ROLES: ReadonlySet<Role> = new Set(['supervisor', 'admin']);

export interface Credentials {
  username: unknown;
  password: unknown;
  totp?: unknown;
  /** The sign-in request: its address keys the throttle, and the access-log entry records all of it. */
  request: RequestContext;
}

export interface SignedIn extends IssuedToken {
  user: { id: string; username: string; role: Role };
  /** The account must set up two-factor authentication; the token may do nothing else. */
  totpEnrollmentRequired: boolean;
  /** An administrator set the password: the account must choose its own first (POST /auth/password). */
  passwordChangeRequired: boolean;
}

/**
 * Sign-in, sign-out and two-factor set-up. Protects against guessing and enumeration: one answer for an
 * unknown username, a wrong password and a disabled account (each costs one Argon2id verification), and
 * a per-account and per-IP lock after repeated failures, checked before any password is looked at. (A two-factor
 * account's right password without its code answers auth.totp_required: a two-step sign-in tells that the
 * password was right, and the code protects the account from then on.)
 */
@Injectable()
export class AuthService {
  /**
   * Locked throttle keys whose refusal is on the access log, and when their lock ends; and `sign-in.busy`, the
   * log line of sign-ins shed while password checks are queued.
   */
  private readonly loggedLocks = new LoggedMarks();

  constructor(
    private readonly users: UsersRepository,
    private readonly hasher: PasswordHasher,
    private readonly throttle: LoginThrottleService,
    private readonly tokens: TokenService,
    private readonly totp: TotpService,
    private readonly audit: AuditService,
    @Inject(LOGGER) private readonly logger: Logger,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly reauth: ReauthenticationService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async signIn(c: Credentials): Promise<SignedIn> {
    // A flood of sign-ins (a password-spraying run) queues Argon2 checks faster than the workers do them: past
    // SIGN_IN_BACKLOG_SECONDS of queue, a new one is refused at once (503, Retry-After), neither counted nor
    // checked, rather than answered minutes later (its client would have given up) behind the flood.
    const backlog = this.hasher.backlogSeconds;
    if (backlog > SIGN_IN_BACKLOG_SECONDS) {
      // Said once a minute in this process (not per request: a flood's).
      await this.loggedLocks.once([{ key: 'sign-in.busy', until: Date.now() + 60_000 }], () =>
        Promise.resolve(
          this.logger.warn(
            { backlogSeconds: Math.round(backlog) },
            'sign-ins refused: password checks queued',
          ),
        ),
      );
      throw new DomainError('service.unavailable', BUSY, undefined, SIGN_IN_RETRY_SECONDS);
    }
    const username = typeof c.username === 'string' ? c.username : '';
    const password = typeof c.password === 'string' ? c.password : '';
    const keys = this.throttle.keysFor(username, c.request.ip ?? '');
    // A name no account can have (the users table's CHECK) is never looked up: one with a NUL byte would be
    // refused by PostgreSQL as a 500, before the attempt is counted.
    const validShape = USERNAME.test(username.trim()) && password.length > 0;
    const found = validShape ? await this.users.findForSignIn(username) : null;
    const user = found?.user ?? null;
    // Every attempt goes to the access log (auth.login / auth.login_failed), in the account's jurisdiction;
    // one on an unknown username has no account and is visible to national supervisors only.
    // `logged`: the reason on the access log, when it says more than the answer may (a wrong authenticator code
    // after the right password answers as a wrong password, and is logged as what it is).
    const logRefusal = (reason: ErrorCode | LoggedRefusal) =>
      this.audit.recordSignIn({ userId: user?.id ?? null, outcome: 'denied', reason, request: c.request });
    const refuse = async (
      code: 'auth.invalid_credentials' | 'auth.totp_required',
      logged: LoggedRefusal = code,
    ) => {
      await logRefusal(logged);
      return new DomainError(code);
    };
    // The attempt is counted before the password is checked (LoginThrottleService.begin).
    const lock = await this.throttle.begin(keys);
    if (lock.seconds > 0) {
      // On the log once per locked key and lock, in this process (keyed by the locked keys only, each with its
      // own end: an address locked for guessing does not silence a later lock of an account it named): a refusal
      // costs next to nothing to send, and each entry would stay for good.
      await this.loggedLocks.once(lock.keys, () => logRefusal('auth.throttled'), { perUntil: true });
      throw new DomainError('auth.throttled', undefined, undefined, lock.seconds);
    }

    const fail = async (
      logged: Exclude<LoggedRefusal, 'auth.totp_required'> = 'auth.invalid_credentials',
    ): Promise<never> => {
      const locked = await this.throttle.recordFailure(keys);
      // No username, password or IP in the log: the user id only when the account exists.
      this.logger.info({ event: 'auth.login_failed', locked }, 'sign-in refused');
      throw await refuse('auth.invalid_credentials', logged);
    };

    // A demo account outside the demo answers as an unknown one.
    if (
      !user ||
      demoAccountShut(user, this.config) ||
      Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES
    ) {
      await this.hasher.verifyDummy(password);
      return fail();
    }
    const check = await this.hasher.verify(user.passwordHash, password);
    if (!check.valid || user.status !== 'active') return fail();
    // The staff of a retired organisation: refused as a disabled account is, before any two-factor step (no code
    // used up, no password confirmed by `auth.totp_required`), and counted as a failure as one is (counted
    // otherwise, the throttle's answers would tell whether the password was right). On the log as what it is,
    // which the anomaly rules do not count as guessing.
    if (found?.organizationRetired) {
      return fail('auth.organization_retired');
    }

    const enforceTotp = this.totp.enforcedFor(user);
    let enrollmentOnly = false;
    if (user.totpEnabledAt && enforceTotp) {
      if (c.totp === undefined || c.totp === null || c.totp === '') {
        // The first step of a two-step sign-in: the answer tells that the password was right (the code is what
        // protects the account then), and the access log says so too. Not a failure of the address.
        await this.throttle.recordPasswordOnly(keys);
        throw await refuse('auth.totp_required');
      }
      const code =
        typeof c.totp === 'string'
          ? await this.totp.check(user, c.totp, () => this.throttle.giveBack(keys))
          : 'wrong';
      if (code === 'locked') {
        // Counted as a failure as well (a step-up's is too): a password was checked for it.
        await this.throttle.recordFailure(keys);
        await logRefusal('auth.totp_locked');
        throw new DomainError('auth.totp_locked');
      }
      if (code === 'wrong') {
        // Answered as a wrong password, logged as what it is for the supervisors: a stolen password, or a user's
        // slip (docs/audit.md). (The two-step sign-in tells the password was right anyway: auth.totp_required.)
        return fail('auth.totp_invalid');
      }
    } else if (!user.totpEnabledAt && enforceTotp && TOTP_REQUIRED_ROLES.has(user.role)) {
      enrollmentOnly = true;
    }

    // The account as it is now, held while the sign-in goes on the log: one disabled, reset or given a new
    // password while its password was being checked (~0.1 s) is refused, rather than signed in on the log after
    // that change with a token of its old version (refused at first use); so is one whose organisation was
    // retired meanwhile (their sessions end too: JwtStrategy).
    const current = await this.dataSource.transaction(async (m) => {
      const [row] = await m.query<{ token_version: number; password_change_required: boolean }[]>(
        `SELECT u.token_version, u.password_change_required FROM users u
           LEFT JOIN organizations o ON o.id = u.organization_id
          WHERE u.id = $1 AND u.status = 'active' AND o.retired_at IS NULL FOR SHARE OF u`,
        [user.id],
      );
      if (row?.token_version !== user.tokenVersion) return null;
      await this.audit.recordSignIn({ userId: user.id, outcome: 'allowed', request: c.request }, m);
      return row;
    });
    if (!current) return fail();
    await this.throttle.recordSuccess(keys);
    if (check.needsRehash) await this.rehash(user, password);
    const token = await this.tokens.issue(user, enrollmentOnly);
    this.logger.info({ event: 'auth.login', userId: user.id, enrollmentOnly }, 'signed in');
    return {
      ...token,
      user: { id: user.id, username: user.username, role: user.role },
      totpEnrollmentRequired: enrollmentOnly,
      passwordChangeRequired: current.password_change_required,
    };
  }

  /** Sign-out: the token is refused from now on, and the access log says so (`auth.logout`). */
  async signOut(p: Principal): Promise<void> {
    await this.dataSource.transaction(async (m) => {
      await this.tokens.revoke(p.tokenId, p.userId, p.tokenExpiresAt, m);
      await this.audit.record(m, p, { action: 'auth.logout', resourceType: 'session' });
    });
  }

  /**
   * A user changes their own password, giving the current one (ASVS 2.1.5, 2.1.6). A wrong current password
   * counts against the user's step-ups and the address with the sign-in's limits, so a stolen session cannot
   * be used to guess it faster than the sign-in's limits allow on that key (on top of the sign-in's own); a
   * locked key is refused (429) before any check.
   * The new password follows the account rules and must differ from the current one, both checked first: a
   * refusal of the new password uses up neither the authenticator code given with it (the retry would wait for
   * the next one) nor an attempt. A change ends every session, this one included: the client signs in again.
   * Every attempt is on the access log (`auth.password_change`, allowed or denied with its reason); no password
   * is logged anywhere.
   */
  async changePassword(p: Principal, dto: ChangePasswordDto): Promise<void> {
    const entry = { action: 'auth.password_change', resourceType: 'user', resourceId: p.userId } as const;
    await this.audit.refusalsOnRecord(p, entry, () => {
      assertPasswordAcceptable(dto.newPassword, p.username, 'newPassword');
      if (dto.newPassword.normalize('NFC') === dto.currentPassword.normalize('NFC')) throw SAME_PASSWORD();
    });
    const user = await this.reauth.confirm(p, { password: dto.currentPassword, totp: dto.totp }, entry);
    await this.audit.refusalsOnRecord(p, entry, async () => {
      const hash = await this.hasher.hash(dto.newPassword);
      await this.dataSource.transaction(async (m) => {
        const now = await m.getRepository(User).findOne({
          where: { id: user.id },
          lock: { mode: 'for_no_key_update' },
        });
        // The session ended meanwhile (the account disabled, its password or two-factor reset by an administrator,
        // all of which end every session): no change on its word.
        if (!now || now.status !== 'active' || now.tokenVersion !== p.tokenVersion) {
          throw new DomainError('auth.unauthenticated');
        }
        // Changed meanwhile (another change, an admin reset): the password given may not be current any more.
        // A hash renewed for the same password (a sign-in's rehash under new parameters) is no change: the
        // password given still opens it (checked again only then, holding the row).
        if (
          now.passwordHash !== user.passwordHash &&
          !(await this.hasher.verify(now.passwordHash, dto.currentPassword)).valid
        ) {
          throw CHANGED_MEANWHILE();
        }
        await this.users.update(
          user.id,
          {
            passwordHash: hash,
            passwordChangedAt: new Date(),
            passwordChangeRequired: false,
            tokenVersion: now.tokenVersion + 1,
          },
          m,
        );
        await this.audit.record(m, p, entry);
      });
      this.logger.info({ event: 'auth.password_change', userId: user.id }, 'password changed');
    });
  }

  /** A new pending two-factor secret; on the access log (`auth.totp_enroll`), a refusal too. */
  async enrollTotp(p: Principal): Promise<TotpEnrollment> {
    const entry = { action: 'auth.totp_enroll', resourceType: 'user', resourceId: p.userId } as const;
    const user = await this.userOf(p);
    return this.audit.refusalsOnRecord(p, entry, () =>
      this.totp.enroll(user, (m) => this.audit.record(m, p, entry)),
    );
  }

  /**
   * Activates two-factor with its first code, after the password again (ReauthenticationService): a stolen
   * token alone must not bind an authenticator to the account. On the access log (`auth.totp_activate`).
   */
  async activateTotp(p: Principal, code: string, password: string): Promise<void> {
    const entry = { action: 'auth.totp_activate', resourceType: 'user', resourceId: p.userId } as const;
    // Already on: nothing to finish (409, as the activation itself says). Checked before the password, which
    // would ask an account with two-factor for a code this request cannot carry.
    const current = await this.userOf(p);
    await this.audit.refusalsOnRecord(p, entry, () => assertTotpNotEnabled(current));
    const user = await this.reauth.confirm(p, { password }, entry);
    await this.audit.refusalsOnRecord(p, entry, () =>
      this.totp.activate(user, code, p, (m) => this.audit.record(m, p, entry)),
    );
  }

  async me(p: Principal): Promise<MeResponse> {
    const user = await this.userOf(p);
    const wards = await this.users.wardCodesOf([user.id]);
    return {
      id: user.id,
      username: user.username,
      role: user.role,
      wardCodes: wards.get(user.id) ?? [],
      organizationId: user.organizationId,
      provinceCode: user.provinceCode,
      totpEnabled: user.totpEnabledAt !== null,
      totpEnrollmentRequired: p.enrollmentOnly,
      passwordChangeRequired: p.passwordChangeRequired,
    };
  }

  private async userOf(p: Principal): Promise<User> {
    const user = await this.users.findById(p.userId);
    if (!user) throw new DomainError('auth.unauthenticated');
    return user;
  }

  /**
   * Stores the password again with the current hashing parameters, unless the stored hash changed meanwhile
   * (a reset or a change during this sign-in): writing the old password back would undo it.
   */
  private async rehash(user: User, password: string): Promise<void> {
    const hash = await this.hasher.hash(password);
    await this.dataSource.query(`UPDATE users SET password_hash = $2 WHERE id = $1 AND password_hash = $3`, [
      user.id,
      hash,
      user.passwordHash,
    ]);
  }
}

/**
 * What a refused sign-in's entry says when it says more than the answer may (docs/audit.md): a wrong code after
 * the right password, the right password of a retired organisation's account.
 */
type LoggedRefusal =
  'auth.invalid_credentials' | 'auth.totp_required' | 'auth.totp_invalid' | 'auth.organization_retired';
