import { ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import { DomainError } from '../common/errors/domain-error';
import { isDatabaseUnavailable } from '../common/errors/problem.filter';
import { AbilityFactory } from './ability.factory';
import type { AuthenticatedRequest } from './current-principal.decorator';
import { POLICY_KEY, PUBLIC_KEY, RoutePolicy } from './policy.decorator';

/**
 * The global gate in front of every route: @Public routes pass; every other route needs a valid bearer
 * token (the 'jwt' strategy of the identity module) AND a @Policy that the caller's ability grants. A route
 * without either decorator is refused to everyone (fail closed). A route addressing one record (it has
 * path parameters) answers a denial with the same 404 as a missing record, so it never confirms existence.
 */
@Injectable()
export class AccessGuard extends AuthGuard('jwt') {
  constructor(
    private readonly reflector: Reflector,
    private readonly abilities: AbilityFactory,
  ) {
    super();
  }

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return false;
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, targets)) return true;

    await super.canActivate(context); // throws auth.unauthenticated (see handleRequest)
    const req = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const principal = req.user;
    if (!principal) throw new DomainError('auth.unauthenticated');

    const policy = this.reflector.get<RoutePolicy | undefined>(POLICY_KEY, context.getHandler());
    if (!policy) throw new DomainError('auth.forbidden');

    const ability = this.abilities.createFor(principal);
    req.ability = ability;
    if (ability.can(policy.action, policy.subject)) return true;
    if (principal.enrollmentOnly) throw new DomainError('auth.totp_enrollment_required');
    const addressesRecord = Object.keys(req.params ?? {}).length > 0;
    throw new DomainError(addressesRecord ? 'resource.not_found' : 'auth.forbidden');
  }

  override handleRequest<T>(err: unknown, user: T): T {
    if (err instanceof DomainError) throw err;
    // The session lookup could not reach the database: a 503 problem (ProblemFilter), not a sign-out.
    if (isDatabaseUnavailable(err)) throw err;
    if (err || !user) throw new DomainError('auth.unauthenticated');
    return user;
  }
}
