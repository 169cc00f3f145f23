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

/**
 * Whether a string of a parsed JSON or query value (a key or a value, at any depth) holds U+0000, without
 * recursion. PostgreSQL cannot store it in text: such a value would otherwise reach a statement and fail as a 500.
 */
export function containsNul(value: unknown): boolean {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === 'string') {
      if (v.includes('\u0000')) return true;
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    // One by one: spread into push(), a long array would overflow the call stack (a 500 before routing).
    if (Array.isArray(v)) for (const item of v as unknown[]) stack.push(item);
    else
      for (const [k, child] of Object.entries(v)) {
        if (k.includes('\u0000')) return true;
        stack.push(child);
      }
  }
  return false;
}

/**
 * Refuses, with a 400 problem before any handler sees them, bodies nested deeper than MAX_JSON_DEPTH and bodies
 * or query strings with a NUL character (no text Haven keeps has one).
 */
export function jsonShapeMiddleware(req: Request, _res: Response, next: NextFunction): void {
  if (jsonDepth(req.body, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) {
    next(
      new DomainError('request.validation', {
        en: `The JSON body is nested deeper than ${MAX_JSON_DEPTH} levels.`,
        vi: `Nội dung JSON lồng nhau sâu quá ${MAX_JSON_DEPTH} cấp.`,
      }),
    );
    return;
  }
  if (containsNul(req.body) || containsNul(req.query)) {
    next(
      new DomainError('request.validation', {
        en: 'The request holds a NUL character (U+0000), which no text may contain.',
        vi: 'Yêu cầu chứa ký tự NUL (U+0000), ký tự không được phép trong văn bản.',
      }),
    );
    return;
  }
  next();
}
