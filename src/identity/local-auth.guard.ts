import { ExecutionContext, Injectable } from '@nestjs/common';
import { AuthGuard } from '@nestjs/passport';
import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import type { Request } from 'express';
import { DomainError } from '../common/errors/domain-error';
import { validationException } from '../common/errors/validation-errors';
import { LoginDto } from './dto/auth.dto';

/**
 * Runs the local strategy on POST /auth/login. The body is validated first (guards run before pipes), so a
 * malformed request is a 400 and never counts as a failed sign-in.
 */
@Injectable()
export class LocalAuthGuard extends AuthGuard('local') {
  override async canActivate(context: ExecutionContext): Promise<boolean> {
    const req = context.switchToHttp().getRequest<Request>();
    const body: unknown = req.body ?? {};
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new DomainError('request.validation');
    }
    let dto: LoginDto;
    try {
      dto = plainToInstance(LoginDto, body);
    } catch {
      throw new DomainError('request.validation'); // a body class-transformer cannot map
    }
    const errors = await validate(dto, {
      whitelist: true,
      forbidNonWhitelisted: true,
      forbidUnknownValues: true,
      validationError: { target: false, value: false },
    });
    if (errors.length) throw validationException(errors);
    return (await super.canActivate(context)) as boolean;
  }

  override handleRequest<T>(err: unknown, user: T): T {
    if (err instanceof Error) throw err;
    if (err || !user) throw new DomainError('auth.invalid_credentials');
    return user;
  }
}
