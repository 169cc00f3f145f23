import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import { Problem } from '../errors/problem';

/** The If-Match header, optional (documented by @ApiHeader; `@Headers()` would document it as required). */
export const IfMatch = createParamDecorator((_: unknown, ctx: ExecutionContext): string | undefined => {
  const value = ctx.switchToHttp().getRequest<Request>().headers['if-match'];
  return Array.isArray(value) ? value.join(',') : value;
});

/** OpenAPI: an optional If-Match naming the version of `what` that was read. */
export function ifMatchOptional(what: 'case' | 'referral'): {
  name: string;
  required: boolean;
  description: string;
} {
  return {
    name: 'If-Match',
    required: false,
    description: `the version read: refused (409 conflict.version) if the ${what} has changed since; \`*\` or none: whatever the version`,
  };
}

/** OpenAPI: the 412 of an If-Match that names no version. */
export const IF_MATCH_MALFORMED = {
  type: Problem,
  description: 'precondition.failed: If-Match is not a version',
};
