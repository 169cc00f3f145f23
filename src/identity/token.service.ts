import { Inject, Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { InjectDataSource } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { DataSource, EntityManager } from 'typeorm';
import { APP_CONFIG, AppConfig } from '../config/config';
import { returnedRows } from '../database/pg-errors';

export const TOKEN_ISSUER = 'haven';
export const TOKEN_AUDIENCE = 'haven-api';
export const TOKEN_ALGORITHM = 'HS256';

/** Claims of a Haven access token. Nothing about the person or their scope: that is read from the database. */
export interface AccessTokenClaims {
  sub: string;
  jti: string;
  /** users.token_version when issued: a later disable, password reset or TOTP change invalidates it. */
  ver: number;
  /** Present (true) on a token that may only enrol two-factor authentication. */
  enr?: true;
  iat: number;
  exp: number;
  iss: string;
  aud: string;
}

export interface IssuedToken {
  accessToken: string;
  expiresIn: number;
  jti: string;
}

/**
 * Issues short-lived access tokens (JWT, HS256 with the token-signing key derived by the crypto module) and
 * records signed-out tokens until they expire.
 */
@Injectable()
export class TokenService {
  constructor(
    private readonly jwt: JwtService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {}

  async issue(user: { id: string; tokenVersion: number }, enrollmentOnly = false): Promise<IssuedToken> {
    const jti = randomUUID();
    const expiresIn = this.config.auth.accessTokenTtlSeconds;
    const payload: Pick<AccessTokenClaims, 'ver' | 'enr'> = {
      ver: user.tokenVersion,
      ...(enrollmentOnly ? { enr: true as const } : {}),
    };
    const accessToken = await this.jwt.signAsync(payload, {
      subject: user.id,
      jwtid: jti,
      expiresIn,
      issuer: TOKEN_ISSUER,
      audience: TOKEN_AUDIENCE,
      algorithm: TOKEN_ALGORITHM,
    });
    return { accessToken, expiresIn, jti };
  }

  /** Sign-out: the token is refused from now on; the row is pruned once the token would have expired. */
  async revoke(jti: string, userId: string, expiresAt: Date, manager?: EntityManager): Promise<void> {
    await (manager ?? this.dataSource.manager).query(
      `INSERT INTO revoked_tokens (jti, user_id, expires_at) VALUES ($1, $2, $3) ON CONFLICT (jti) DO NOTHING`,
      [jti, userId, expiresAt],
    );
  }

  /**
   * Forgets sign-outs of tokens that expired an hour ago. Expiry is checked on each instance's clock, this on
   * the database's: the hour is the clock difference it tolerates before a signed-out token, still unexpired by
   * a slow instance's clock, would be accepted again (it was one minute).
   */
  async pruneRevoked(): Promise<number> {
    const rows = returnedRows(
      await this.dataSource.query(
        `DELETE FROM revoked_tokens WHERE expires_at < now() - interval '1 hour' RETURNING jti`,
      ),
    );
    return rows.length;
  }
}
