import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiBearerAuth, ApiForbiddenResponse, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { Problem } from '../common/errors/problem';
import type { Action, SubjectName } from './subjects';

export const POLICY_KEY = 'haven:policy';
export const PUBLIC_KEY = 'haven:public';

export interface RoutePolicy {
  readonly action: Action;
  readonly subject: SubjectName;
}

/**
 * The one access decision of a route: the caller must be signed in and hold a rule for `action` on
 * `subject` (the service then applies the rule's conditions to the record or the query). A route without
 * @Policy and without @Public is refused to everyone.
 */
export function Policy(action: Action, subject: SubjectName): MethodDecorator {
  return applyDecorators(
    SetMetadata(POLICY_KEY, { action, subject } satisfies RoutePolicy),
    ApiBearerAuth(),
    ApiUnauthorizedResponse({
      type: Problem,
      description: 'Missing, invalid, expired or revoked access token',
    }),
    ApiForbiddenResponse({
      type: Problem,
      description: `Not allowed: the caller may not ${action} ${subject} (routes addressing one record answer 404 instead)`,
    }),
  );
}

/** No sign-in needed (sign-in itself, health). Reviewed in the route snapshot like every policy. */
export function Public(): MethodDecorator & ClassDecorator {
  return SetMetadata(PUBLIC_KEY, true);
}
