import { Inject, Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { Request } from 'express';
import { createSecretKey } from 'node:crypto';
import { ExtractJwt, Strategy } from 'passport-jwt';
import type { Principal } from '../authz/principal';
import { requestContextOf } from '../common/http/request-context';
import { APP_CONFIG, type AppConfig } from '../config/config';
import { PurposeKeys } from '../crypto';
import { demoAccountShut } from './demo-accounts';
import { AccessTokenClaims, TOKEN_ALGORITHM, TOKEN_AUDIENCE, TOKEN_ISSUER } from './token.service';
import { UsersRepository } from './users.repository';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Authenticates `Authorization: Bearer` on every request: a valid signature, issuer, audience and expiry,
 * then one query that the account is still active, the token's version is current and it was not signed out.
 * The caller's role and scope come from that query, never from the token.
 */
@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  constructor(
    keys: PurposeKeys,
    private readonly users: UsersRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
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
    if (typeof sub !== 'string' || !UUID.test(sub) || typeof jti !== 'string' || !UUID.test(jti))
      return false;
    if (typeof ver !== 'number' || typeof exp !== 'number') return false;
    const row = await this.users.findSession(sub, jti);
    if (!row || row.status !== 'active' || row.revoked || row.tokenVersion !== ver) return false;
    if (demoAccountShut(row, this.config)) return false;
    return {
      userId: row.id,
      username: row.username,
      role: row.role,
      wardCodes: row.role === 'ward_officer' ? row.wardCodes : [],
      organizationId: row.role === 'provider' ? row.organizationId : null,
      sector: row.role === 'provider' ? row.sector : null,
      provinceCode: row.role === 'supervisor' ? row.provinceCode : null,
      enrollmentOnly: claims.enr === true,
      passwordChangeRequired: row.passwordChangeRequired,
      tokenId: jti,
      tokenExpiresAt: new Date(exp * 1000),
      request: requestContextOf(req),
    };
  }
}
