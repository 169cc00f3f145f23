import type { NextFunction, Request, Response } from 'express';
import { DomainError } from '../errors/domain-error';

/** Deepest JSON nesting a request may have; Haven's deepest body (a case) is 3 levels. */
export const MAX_JSON_DEPTH = 16;

/** Depth of a parsed JSON value, without recursion (a hostile body must not exhaust the stack). */
export function jsonDepth(value: unknown, stopAt = Number.POSITIVE_INFINITY): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    const d = depth + 1;
    if (d > max) max = d;
    if (max > stopAt) return max;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, d]);
  }
  return max;
}

/** Refuses bodies nested deeper than MAX_JSON_DEPTH with a 400 problem before any handler sees them. */
export function jsonDepthMiddleware(req: Request, _res: Response, next: NextFunction): void {
  if (jsonDepth(req.body, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) {
    next(
      new DomainError('request.validation', {
        en: `The JSON body is nested deeper than ${MAX_JSON_DEPTH} levels.`,
        vi: `Nội dung JSON lồng nhau sâu quá ${MAX_JSON_DEPTH} cấp.`,
      }),
    );
    return;
  }
  next();
}
