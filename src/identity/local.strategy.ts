import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { Request } from 'express';
import { Strategy } from 'passport-local';
import { requestContextOf } from '../common/http/request-context';
import { AuthService, SignedIn } from './auth.service';

/** Passport's username/password strategy; the work (throttle, Argon2id, TOTP) is AuthService.signIn. */
@Injectable()
export class LocalStrategy extends PassportStrategy(Strategy, 'local') {
  constructor(private readonly auth: AuthService) {
    super({ usernameField: 'username', passwordField: 'password', passReqToCallback: true, session: false });
  }

  validate(req: Request, username: string, password: string): Promise<SignedIn> {
    const body = req.body as { totp?: unknown } | undefined;
    return this.auth.signIn({
      username,
      password,
      totp: body?.totp,
      request: requestContextOf(req),
    });
  }
}
