import type { NextFunction, Request, Response } from 'express';
import { DomainError } from '../errors/domain-error';
import type { LocalizedText } from '../errors/error-catalog';

/** Deepest JSON nesting a request may have; Haven's deepest body (a case) is 3 levels. */
export const MAX_JSON_DEPTH = 16;

/**
 * Most values (objects, arrays, strings, numbers, …, the body itself included) a JSON body may hold. Haven's
 * largest (an organisation serving 500 communes) holds about 520. Beyond it, validation would build a DTO and
 * errors for each element of, say, an array of 100,000 empty objects sent in place of a case section, holding
 * the event loop for seconds.
 */
export const MAX_JSON_VALUES = 2000;

/**
 * What jsonShapeOf found wrong with a value: nested too deep, too many values, or a NUL character in a key or a
 * string.
 */
export type JsonShapeProblem = 'too_deep' | 'too_many' | 'reserved_key' | 'nul';

/**
 * Keys no Haven field has that the validation would drop without a word (Nest's stripProtoKeys removes them
 * before the whitelist sees them): refused like any unknown field.
 */
const RESERVED_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * The first problem of a parsed JSON or query value, in one walk without recursion (a hostile body must not
 * exhaust the stack): nesting deeper than `maxDepth` or more than `maxValues` values (the walk stops there), else
 * a key of RESERVED_KEYS, else a key or string holding U+0000, which PostgreSQL cannot store in text (such a value would otherwise reach a
 * statement and fail as a 500).
 */
export function jsonShapeOf(
  value: unknown,
  maxDepth = MAX_JSON_DEPTH,
  maxValues = MAX_JSON_VALUES,
  reservedKeys = true,
): JsonShapeProblem | null {
  let nul = false;
  let reserved = false;
  let values = 1;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v === 'string') {
      if (!nul && v.includes('\u0000')) nul = true;
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    const d = depth + 1;
    if (d > maxDepth) return 'too_deep';
    // Counted before its children are walked: a long array is refused without a step per element.
    const entries = Array.isArray(v) ? null : Object.entries(v);
    values += entries ? entries.length : (v as unknown[]).length;
    if (values > maxValues) return 'too_many';
    // One by one: spread into push(), a long array would overflow the call stack (a 500 before routing).
    if (!entries) for (const item of v as unknown[]) stack.push([item, d]);
    else
      for (const [k, child] of entries) {
        if (!nul && k.includes('\u0000')) nul = true;
        if (reservedKeys && RESERVED_KEYS.has(k)) reserved = true;
        stack.push([child, d]);
      }
  }
  return reserved ? 'reserved_key' : nul ? 'nul' : null;
}

/** What each problem is called in the 400 answer. */
const SHAPE_PROBLEMS: Record<JsonShapeProblem, LocalizedText> = {
  too_deep: {
    en: `The JSON body is nested deeper than ${MAX_JSON_DEPTH} levels.`,
    vi: `Nội dung JSON lồng nhau sâu quá ${MAX_JSON_DEPTH} cấp.`,
  },
  too_many: {
    en: `The JSON body holds more than ${MAX_JSON_VALUES} values.`,
    vi: `Nội dung JSON chứa hơn ${MAX_JSON_VALUES} giá trị.`,
  },
  reserved_key: {
    en: 'The JSON body holds a key no field has: __proto__, constructor or prototype.',
    vi: 'Nội dung JSON chứa khóa không thuộc trường nào: __proto__, constructor hoặc prototype.',
  },
  nul: {
    en: 'The request holds a NUL character (U+0000), which no text may contain.',
    vi: 'Yêu cầu chứa ký tự NUL (U+0000), ký tự không được phép trong văn bản.',
  },
};

/**
 * Refuses, with a 400 problem before any handler sees them, bodies nested deeper than MAX_JSON_DEPTH or holding
 * more than MAX_JSON_VALUES values, a reserved key (RESERVED_KEYS), and bodies or query strings with a NUL
 * character (no text Haven keeps has one).
 */
export function jsonShapeMiddleware(req: Request, _res: Response, next: NextFunction): void {
  // A query string is checked for NUL characters only: it is never deep (Express parses it flat), its number of
  // parameters is bounded by the parser, and a parameter a route does not take is the route's DTO's to refuse.
  const problem = jsonShapeOf(req.body) ?? jsonShapeOf(req.query, MAX_JSON_DEPTH, Infinity, false);
  if (problem) {
    next(new DomainError('request.validation', SHAPE_PROBLEMS[problem]));
    return;
  }
  next();
}
