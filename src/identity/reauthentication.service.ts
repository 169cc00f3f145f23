import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { AuditService } from '../audit/audit.service';
import type { AuditEntryInput } from '../audit/audit.types';
import type { Principal } from '../authz/principal';
import { DomainError } from '../common/errors/domain-error';
import { LOGGER } from '../common/logging/logger.module';
import { PasswordHasher } from '../crypto/password-hasher';
import { LoginThrottleService } from './login-throttle.service';
import type { User } from './user.entity';
import { UsersRepository } from './users.repository';

/**
 * Step-up before an operation that cannot be taken back or that opens what is otherwise closed (ASVS 2.1.6,
 * 3.7.1): the signed-in user gives their password again — to change it, to crypto-shred a case, to open
 * emergency access. A stolen access token alone is then not enough for them, and a wrong password counts as a
 * failed sign-in of the account and of the address (the same lock), so the token cannot be used to guess the
 * password faster than the sign-in allows.
 */
@Injectable()
export class ReauthenticationService {
  constructor(
    private readonly users: UsersRepository,
    private readonly hasher: PasswordHasher,
    private readonly throttle: LoginThrottleService,
    private readonly audit: AuditService,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /**
   * The signed-in user's account when `password` is its password. Otherwise throws `auth.reauthentication_failed`
   * (403), or `auth.throttled` (429, before any check) while the account or the address is locked, and writes
   * `refused` to the access log as denied, with that code as its reason. Nothing is logged on success: the
   * operation's own entry follows.
   */
  async confirm(p: Principal, password: string, refused: AuditEntryInput): Promise<User> {
    const user = await this.users.findById(p.userId);
    if (!user || user.status !== 'active') throw new DomainError('auth.unauthenticated');
    const keys = this.throttle.keysFor(user.username, p.request?.ip ?? '');
    const refuse = async (e: DomainError): Promise<never> => {
      await this.audit.recordDenied(p, { ...refused, reason: e.code });
      throw e;
    };
    const lockedFor = await this.throttle.lockedForSeconds(keys);
    if (lockedFor > 0) return refuse(new DomainError('auth.throttled', undefined, undefined, lockedFor));
    if (!(await this.hasher.verify(user.passwordHash, password)).valid) {
      const locked = await this.throttle.recordFailure(keys);
      // No password, username or address in the log.
      this.logger.info({ event: 'auth.reauthentication_failed', userId: user.id, locked }, 'wrong password');
      return refuse(new DomainError('auth.reauthentication_failed'));
    }
    await this.throttle.recordSuccess(keys);
    return user;
  }
}
