import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import { DomainError } from '../errors/domain-error';
import { Problem } from '../errors/problem';
import { decimalInteger } from './query-integer';

/** The If-Match header of a request (IfMatch's factory: a route with it reads If-Match). */
export function readIfMatch(_: unknown, ctx: ExecutionContext): string | undefined {
  const value = ctx.switchToHttp().getRequest<Request>().headers['if-match'];
  return Array.isArray(value) ? value.join(',') : value;
}

/**
 * The If-Match header, optional (documented by @ApiHeader; `@Headers()` would document it as required). A route
 * without it refuses one (412, UndeclaredInputGuard).
 */
export const IfMatch = createParamDecorator(readIfMatch);

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

/** An If-Match that asks for no version in particular: none, an empty one, or `*` (any current one, RFC 9110). */
export function noCondition(ifMatch: string | undefined): boolean {
  const header = ifMatch?.trim();
  return !header || header === '*';
}

/** The largest version a record (a case, a referral) can have: their columns are PostgreSQL ints. */
export const MAX_RECORD_VERSION = 2_147_483_647;

const VERSION_OF = {
  case: { en: 'the case version', vi: 'phiên bản của vụ việc' },
  referral: { en: 'the referral version', vi: 'phiên bản của yêu cầu chuyển gửi' },
} as const;

/**
 * The version of `what` an If-Match header names: `"7"` or `7` (also `W/"7"`: weak tags are taken as the version
 * they name, a departure from RFC 9110's strong comparison that costs nothing while no ETag is issued);
 * undefined without the header (or an empty one), and for a bare `*` (RFC 9110: any current version, so none in
 * particular). Anything else is a 412: it can never match. That includes `""`, `W/""` and a quoted `"*"`, which
 * are entity-tags no record has (not "no precondition": a close or a shred must not go ahead on them).
 */
export function ifMatchVersion(
  ifMatch: string | undefined,
  what: keyof typeof VERSION_OF = 'case',
): number | undefined {
  if (noCondition(ifMatch)) return undefined;
  const header = ifMatch!.trim();
  const tag = /^(?:W\/)?"([^"]*)"$/.exec(header);
  const version = decimalInteger(tag ? tag[1] : header);
  if (version === undefined || version < 1 || version > MAX_RECORD_VERSION) {
    throw new DomainError('precondition.failed', {
      en: `If-Match must be ${VERSION_OF[what].en}.`,
      vi: `If-Match phải là ${VERSION_OF[what].vi}.`,
    });
  }
  return version;
}
