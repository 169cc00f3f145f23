import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import { DomainError } from '../common/errors/domain-error';
import type { AppAbility } from './ability.factory';
import type { Principal } from './principal';

/** What the access guard attaches to an authenticated request. */
export interface AuthenticatedRequest extends Request {
  user?: Principal;
  ability?: AppAbility;
}

/** The signed-in caller (set by the access guard). */
export const CurrentPrincipal = createParamDecorator((_data: unknown, ctx: ExecutionContext): Principal => {
  const req = ctx.switchToHttp().getRequest<AuthenticatedRequest>();
  if (!req.user) throw new DomainError('auth.unauthenticated');
  return req.user;
});

/** The caller's ability, built once per request from the rules in ability.factory.ts. */
export const CurrentAbility = createParamDecorator((_data: unknown, ctx: ExecutionContext): AppAbility => {
  const req = ctx.switchToHttp().getRequest<AuthenticatedRequest>();
  if (!req.ability) throw new DomainError('auth.unauthenticated');
  return req.ability;
});
