import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiBearerAuth, ApiForbiddenResponse, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { Problem } from '../common/errors/problem';
import type { Action, SubjectName } from './subjects';

export const POLICY_KEY = 'haven:policy';
export const PUBLIC_KEY = 'haven:public';

export interface RoutePolicy {
  readonly action: Action;
  readonly subject: SubjectName;
  /** What the route's path parameters name, for the access log's entry of a refusal (AccessGuard). */
  readonly on?: RouteTarget;
}

/**
 * Which path parameter of a route holds which id: the case the route is about, the referral or the emergency
 * access grant it is about (their case is looked up), or another record it addresses (a consent, an account, an
 * organisation). A route's every path parameter is declared here (test/routes.e2e-spec.ts checks it).
 */
export interface RouteTarget {
  readonly case?: string;
  readonly referral?: string;
  readonly grant?: string;
  readonly record?: string;
}

/**
 * The one access decision of a route: the caller must be signed in and hold a rule for `action` on
 * `subject` (the service then applies the rule's conditions to the record or the query), and what its path
 * parameters name (`on`). A route without @Policy and without @Public is refused to everyone.
 */
export function Policy(action: Action, subject: SubjectName, on?: RouteTarget): MethodDecorator {
  const decorators = [
    SetMetadata(POLICY_KEY, { action, subject, ...(on && { on }) } satisfies RoutePolicy),
    ApiBearerAuth(),
    ApiUnauthorizedResponse({
      type: Problem,
      description: 'Missing, invalid, expired or revoked access token',
    }),
  ];
  // Every session, a restricted one too, holds the rules on its own session (ability.factory.ts): the access
  // guard refuses none of its routes, and a route whose service may answer 403 (a re-authentication) says so.
  if (subject === 'Session') return applyDecorators(...decorators);
  return applyDecorators(
    ...decorators,
    ApiForbiddenResponse({
      type: Problem,
      description:
        `Not allowed: auth.forbidden, the caller may not ${action} ${subject} (routes addressing one record ` +
        'answer 404 instead); or, on every route, a restricted session: auth.password_change_required (a ' +
        'password an administrator set, to change first: POST /api/v1/auth/password) or ' +
        'auth.totp_enrollment_required (two-factor to set up first)',
    }),
  );
}

/** No sign-in needed (sign-in itself, health). Reviewed in the route snapshot like every policy. */
export function Public(): MethodDecorator & ClassDecorator {
  return SetMetadata(PUBLIC_KEY, true);
}
