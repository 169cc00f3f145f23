import type { NextFunction, Request, Response } from 'express';
import { DomainError } from '../errors/domain-error';

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

/** Haven speaks JSON only: a body of any other type is refused with 415 rather than silently ignored. */
export function jsonOnlyMiddleware(req: Request, _res: Response, next: NextFunction): void {
  const length = req.headers['content-length'];
  const hasBody = (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
  if (
    BODY_METHODS.has(req.method) &&
    hasBody &&
    !req.is('application/json') &&
    !req.is('application/*+json')
  ) {
    next(new DomainError('request.unsupported_media_type'));
    return;
  }
  next();
}
