import { CallHandler, ExecutionContext, Injectable, NestInterceptor, SetMetadata } from '@nestjs/common';
import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum';
import { ValidationError } from 'class-validator';
import type { Request } from 'express';
import type { Observable } from 'rxjs';
import { DomainError } from '../errors/domain-error';
import { flattenValidationErrors } from '../errors/validation-errors';

const BODY_READ_BY_GUARD = 'haven:bodyReadByGuard';

/** A route whose body a guard reads and validates (sign-in's, through Passport), not a `@Body()` parameter. */
export const BodyReadByGuard = (): MethodDecorator => SetMetadata(BODY_READ_BY_GUARD, true);

/** Whether a handler reads a body: a `@Body()` parameter, or BodyReadByGuard. */
const readsBody = new WeakMap<object, boolean>();

function handlerReadsBody(controller: object, handler: object & { name: string }): boolean {
  let reads = readsBody.get(handler);
  if (reads === undefined) {
    const args = (Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, handler.name) ?? {}) as object;
    reads =
      Object.keys(args).some((k) => k.split(':')[0] === String(RouteParamtypes.BODY)) ||
      Reflect.getMetadata(BODY_READ_BY_GUARD, handler) === true;
    readsBody.set(handler, reads);
  }
  return reads;
}

/**
 * Refuses a body with fields on a route that takes none (a referral's accept, sign-out, a consent's withdrawal,
 * an on-demand checkpoint): the whitelist refuses unknown fields only where a body is declared, and elsewhere
 * they were dropped unread, so a client sending `{"version": 2}` to accept believed its version was checked. A
 * 400 naming each field as the whitelist does (a key shaped like a name or phone as `?`), on any method (a GET
 * with a body, a report's, is refused too). An empty object is
 * accepted. Runs after the guards (a role that may not use the route still gets its 403) and before the
 * handler: the same 400 whether or not the record exists or is the caller's.
 */
@Injectable()
export class UndeclaredBodyInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() === 'http') {
      const body = context.switchToHttp().getRequest<Request>().body as unknown;
      const empty =
        body === undefined ||
        body === null ||
        (typeof body === 'object' && !Array.isArray(body) && Object.keys(body).length === 0);
      if (!empty && !handlerReadsBody(context.getClass(), context.getHandler())) {
        const fields =
          typeof body === 'object' && !Array.isArray(body)
            ? flattenValidationErrors(
                Object.keys(body).map((property) =>
                  Object.assign(new ValidationError(), {
                    property,
                    constraints: { whitelistValidation: property },
                    children: [],
                  }),
                ),
              )
            : undefined;
        throw new DomainError(
          'request.validation',
          { en: 'This request takes no body.', vi: 'Yêu cầu này không nhận nội dung (body).' },
          fields,
        );
      }
    }
    return next.handle();
  }
}
