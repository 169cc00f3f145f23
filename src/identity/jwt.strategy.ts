import { Inject, Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { Request } from 'express';
import type { Logger } from 'pino';
import { createSecretKey } from 'node:crypto';
import { ExtractJwt, Strategy } from 'passport-jwt';
import type { Principal } from '../authz/principal';
import { requestContextOf } from '../common/http/request-context';
import { AuditService } from '../audit/audit.service';
import type { AuditActor } from '../audit/audit.types';
import { LoggedMarks } from '../common/logged-marks';
import { LOGGER } from '../common/logging/logger.module';
import { APP_CONFIG, type AppConfig } from '../config/config';
import { PurposeKeys } from '../crypto';
import { demoAccountShut, demoRelaxed } from './demo-accounts';
import { AccessTokenClaims, TOKEN_ALGORITHM, TOKEN_AUDIENCE, TOKEN_ISSUER } from './token.service';
import { UsersRepository } from './users.repository';
import { UUID_PATTERN } from '../common/http/uuid-param';

/**
 * Authenticates `Authorization: Bearer` on every request: a valid signature, issuer, audience and expiry,
 * then one query that the account is still active, the token's version is current and it was not signed out.
 * The caller's role and scope come from that query, never from the token. A token Haven signed whose session
 * has ended is on the access log (`auth.session_refused`): a stolen token replayed afterwards shows.
 */
@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  /** Tokens whose ended session was logged, and when (recordEnded). */
  private readonly endedTokens = new LoggedMarks();

  constructor(
    keys: PurposeKeys,
    private readonly users: UsersRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly audit: AuditService,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    super({
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
      // A KeyObject, not the raw bytes: given bytes, jsonwebtoken first tries to parse them as a public key on
      // every verification (a thrown exception per request, the largest CPU cost of a request in a profile).
      // jsonwebtoken accepts a KeyObject; passport-jwt's types only lack it.
      secretOrKey: createSecretKey(keys.tokenSigningKey()) as unknown as Buffer,
      algorithms: [TOKEN_ALGORITHM],
      issuer: TOKEN_ISSUER,
      audience: TOKEN_AUDIENCE,
      ignoreExpiration: false,
      jsonWebTokenOptions: { clockTolerance: 0, maxAge: '1h' },
      // validate() puts the request's id, address and user agent on the principal, for the access log.
      passReqToCallback: true,
    });
  }

  async validate(req: Request, claims: Partial<AccessTokenClaims>): Promise<Principal | false> {
    const { sub, jti, ver, exp } = claims;
    if (
      typeof sub !== 'string' ||
      !UUID_PATTERN.test(sub) ||
      typeof jti !== 'string' ||
      !UUID_PATTERN.test(jti)
    )
      return false;
    if (typeof ver !== 'number' || typeof exp !== 'number') return false;
    const row = await this.users.findSession(sub, jti);
    if (!row) return false;
    const ended: SessionEndReason | null =
      row.status !== 'active'
        ? 'auth.account_disabled'
        : row.revoked
          ? 'auth.token_revoked'
          : row.organizationRetired
            ? 'auth.organization_retired'
            : row.tokenVersion !== ver
              ? 'auth.token_superseded'
              : null;
    // The account as the access log and the rules see it, from this one look-up.
    const actor = {
      userId: row.id,
      role: row.role,
      wardCodes: row.role === 'ward_officer' ? row.wardCodes : [],
      organizationId: row.role === 'provider' ? row.organizationId : null,
      organizationProvince: row.role === 'provider' ? row.organizationProvince : null,
      provinceCode: row.role === 'supervisor' ? row.provinceCode : null,
      request: requestContextOf(req),
    };
    if (ended) {
      await this.recordEnded(actor, jti, ended);
      return false;
    }
    if (demoAccountShut(row, this.config)) return false;
    return {
      ...actor,
      username: row.username,
      sector: row.role === 'provider' ? row.sector : null,
      enrollmentOnly: claims.enr === true,
      passwordChangeRequired: row.passwordChangeRequired,
      demoRelaxed: demoRelaxed(row, this.config),
      demoAccount: row.demoAccount,
      tokenId: jti,
      tokenExpiresAt: new Date(exp * 1000),
      tokenVersion: ver,
    };
  }

  /**
   * The access-log entry of a token whose session has ended (`auth.session_refused`, denied, in the account's
   * jurisdiction: a stolen token replayed after its session ended shows), once per token and ENDED_TOKEN_QUIET_MS
   * in this process: a client retrying a signed-out token must not fill the log. The answer is 401 whatever
   * becomes of the entry; a failure to write it is logged.
   */
  private async recordEnded(actor: AuditActor, jti: string, reason: SessionEndReason): Promise<void> {
    try {
      await this.endedTokens.once([{ key: jti, until: Date.now() + ENDED_TOKEN_QUIET_MS }], () =>
        this.audit.recordDenied(actor, { action: 'auth.session_refused', resourceType: 'session', reason }),
      );
    } catch (e) {
      // Not on the log: the token's next use tries again. (`reason` is a redacted key in the logger's output.)
      this.logger.warn({ err: e, sessionEnd: reason }, 'could not log a refused session');
    }
  }
}

/**
 * Why a token's session ended, the `reason` of its `auth.session_refused` entry (docs/audit.md): the account
 * was disabled, its organisation retired (its sessions end; after a reinstatement a token still in its hour
 * works again), the token signed out, or the account's password, two-factor, status or communes changed since
 * it was issued. The client is answered 401 `auth.unauthenticated` whatever the reason.
 */
type SessionEndReason =
  'auth.account_disabled' | 'auth.organization_retired' | 'auth.token_revoked' | 'auth.token_superseded';

/** How long a token whose session ended is not logged again after its entry. */
const ENDED_TOKEN_QUIET_MS = 10 * 60_000;
