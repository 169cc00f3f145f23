import { CanActivate, ExecutionContext, Injectable, SetMetadata } from '@nestjs/common';
import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum';
import { ValidationError } from 'class-validator';
import type { Request } from 'express';
import { DomainError, type FieldError } from '../errors/domain-error';
import { flattenValidationErrors } from '../errors/validation-errors';
import { noCondition, readIfMatch } from './if-match';

const BODY_READ_BY_GUARD = 'haven:bodyReadByGuard';

/** A route whose body a guard reads and validates (sign-in's, through Passport), not a `@Body()` parameter. */
export const BodyReadByGuard = (): MethodDecorator => SetMetadata(BODY_READ_BY_GUARD, true);

/** What a handler reads of the request beyond its path: a body, a query, an If-Match (by its route arguments). */
interface Reads {
  body: boolean;
  query: boolean;
  ifMatch: boolean;
}
const readsOf = new WeakMap<object, Reads>();

function handlerReads(controller: object, handler: object & { name: string }): Reads {
  let reads = readsOf.get(handler);
  if (reads === undefined) {
    const args = Object.entries(
      (Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, handler.name) ?? {}) as Record<
        string,
        { factory?: unknown }
      >,
    );
    const of = (type: RouteParamtypes) => args.some(([k]) => k.split(':')[0] === String(type));
    reads = {
      body: of(RouteParamtypes.BODY) || Reflect.getMetadata(BODY_READ_BY_GUARD, handler) === true,
      query: of(RouteParamtypes.QUERY),
      ifMatch: args.some(([, arg]) => arg.factory === readIfMatch),
    };
    readsOf.set(handler, reads);
  }
  return reads;
}

/** Each key of `input` as the whitelist names an unknown one (a key shaped like a name or phone as `?`). */
function unknownKeys(input: object): FieldError[] {
  return flattenValidationErrors(
    Object.keys(input).map((property) =>
      Object.assign(new ValidationError(), {
        property,
        constraints: { whitelistValidation: property },
        children: [],
      }),
    ),
  );
}

/**
 * Refuses what a route would drop unread, so that a client never believes it was taken:
 * - a body with fields on a route that takes none (a referral's accept, sign-out, a consent's withdrawal, an
 *   on-demand checkpoint): the whitelist refuses unknown fields only where a body is declared, and elsewhere they
 *   were dropped unread, so a client sending `{"version": 2}` to accept believed its version was checked. A 400
 *   naming each field as the whitelist does (a key shaped like a name or phone as `?`), on any method (a GET with
 *   a body, a report's, is refused too). An empty object is accepted.
 * - a query string on a route that takes none (`POST /cases/:id/close?version=3`, or survivor data a client put
 *   in a URL, `GET /cases/:id?phone=…`, where proxies and browsers keep it): 400, its keys named the same way.
 *   Where a route takes a query, its DTO's whitelist refuses unknown parameters.
 * - an If-Match on a route that changes nothing by version (an organisation's or an account's change): 412 as
 *   RFC 9110 has it (no entity-tag of such a resource matches), but `*` (any current one).
 * A global guard, registered after the access guard (AuthzModule): a role that may not use the route still gets
 * its 403, and the check runs before any guard of the route acts (sign-in's, which signs in) and before the
 * handler: the same answer whether or not the record exists or is the caller's.
 */
@Injectable()
export class UndeclaredInputGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    if (context.getType() === 'http') {
      const request = context.switchToHttp().getRequest<Request>();
      const reads = handlerReads(context.getClass(), context.getHandler());
      const body = request.body as unknown;
      const empty =
        body === undefined ||
        body === null ||
        (typeof body === 'object' && !Array.isArray(body) && Object.keys(body).length === 0);
      if (!empty && !reads.body) {
        throw new DomainError(
          'request.validation',
          { en: 'This request takes no body.', vi: 'Yêu cầu này không nhận nội dung (body).' },
          typeof body === 'object' && !Array.isArray(body) ? unknownKeys(body) : undefined,
        );
      }
      const query = request.query as object;
      if (!reads.query && Object.keys(query).length > 0) {
        throw new DomainError(
          'request.validation',
          {
            en: 'This request takes no query parameters.',
            vi: 'Yêu cầu này không nhận tham số truy vấn (query).',
          },
          unknownKeys(query),
        );
      }
      if (!reads.ifMatch && !noCondition(readIfMatch(undefined, context))) {
        throw new DomainError('precondition.failed', {
          en: 'This request is not made conditional on a version: send it without If-Match.',
          vi: 'Yêu cầu này không áp dụng điều kiện theo phiên bản: hãy gửi mà không có If-Match.',
        });
      }
    }
    return true;
  }
}
