import { types } from 'node:util';
import type { LoggerService } from '@nestjs/common';
import pino, { Logger, LoggerOptions } from 'pino';

/**
 * Structured JSON logs. Request bodies are never logged (the HTTP logger records method, path, status and
 * timing only) and the keys below are censored wherever they appear, as a second line of defence against
 * survivor data or credentials reaching a log.
 */
export const SENSITIVE_KEYS = [
  'totp',
  'token',
  'accessToken',
  'refreshToken',
  'authorization',
  'cookie',
  'set-cookie',
  'fullName',
  'name',
  'dateOfBirth',
  'phone',
  'address',
  'narrative',
  'text',
  'reason',
  'body',
  'survivor',
  'perpetrator',
  'incident',
  'health',
  'justification',
  'injuries',
  'medicalNeeds',
  'place',
  'ethnicity',
  'disability',
  'relationship',
  'pregnant',
  'accessToWeapons',
  'ageYears',
  'masterKey',
  'otpauthUrl',
];

const SENSITIVE = new Set(SENSITIVE_KEYS.map((k) => k.toLowerCase()));

/**
 * Keys censored by their form (SENSITIVE_KEYS lists only those it does not take), whatever comes before or after: a row's encrypted columns and blind indexes
 * (`enc_…`, `bi_…`), and any note, secret, password or hash under a longer name (`reviewNote`, `totp_secret`,
 * `passwordHash`).
 */
const SENSITIVE_FORM = /^(enc|bi)_|(note|notes|secret|password|hash)$/i;

function sensitiveKey(key: string): boolean {
  return SENSITIVE.has(key.toLowerCase()) || SENSITIVE_FORM.test(key);
}
const CENSOR = '[redacted]';
/** Deeper than this, a plain object or array is not logged at all (it could hide a sensitive key). */
const MAX_DEPTH = 5;

/**
 * The logged object with the value of every sensitive key (in any letter case) replaced by `[redacted]`, at any
 * depth. An error anywhere is logged as serializeError has it (its parameters and quoted values dropped); any
 * other class instance (a validated request DTO holding a survivor's name, say) as its class name only, never
 * walked; a Date as it is. Returns the object itself when nothing is censored, a copy otherwise: the caller's
 * object is never changed.
 *
 * One pass with a Set lookup per key: pino's path-based `redact` with wildcards (`*.key`, `*.*.key` for each key)
 * was the largest cost of a request log line in a profile (bench/README.md).
 */
export function censorSensitive(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    if (depth >= MAX_DEPTH) return '[truncated]';
    let copy: unknown[] | null = null;
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      const c = censorSensitive(v, depth + 1);
      if (c !== v) (copy ??= value.slice())[i] = c;
    }
    return copy ?? value;
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) {
    if (isError(value)) return serializeError(value);
    if (value instanceof Date) return value;
    return `[${(value as { constructor?: { name?: string } }).constructor?.name ?? 'object'}]`;
  }
  if (depth >= MAX_DEPTH) return '[truncated]';
  const obj = value as Record<string, unknown>;
  let copy: Record<string, unknown> | null = null;
  for (const key of Object.keys(obj)) {
    const v = obj[key];
    // The line's own `err` is left to pino's serializer (serializeError), which runs after this formatter.
    if (depth === 0 && key === 'err' && isError(v)) continue;
    const c = sensitiveKey(key) ? CENSOR : censorSensitive(v, depth + 1);
    if (c !== v) (copy ??= { ...obj })[key] = c;
  }
  return copy ?? value;
}

/** An error, from this realm or another (Node's own errors are not `instanceof` a test sandbox's Error). */
function isError(value: unknown): value is Error {
  return value instanceof Error || types.isNativeError(value);
}

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const options: LoggerOptions = {
    level,
    base: { service: 'haven' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: {
      level: (label) => ({ level: label }),
      log: (obj) => censorSensitive(obj) as Record<string, unknown>,
    },
    serializers: { err: serializeError },
  };
  return destination ? pino(options, destination) : pino(options);
}

/**
 * Errors are logged by type, code, message and stack only. Driver errors carry the statement's parameters,
 * the offending row (`detail`: "Key (x)=(value)") and quoted input ("invalid input syntax: \"value\""): those
 * properties are dropped and quoted or bracketed values are masked, so a failure cannot copy data into the log.
 */
export function serializeError(e: unknown): Record<string, unknown> {
  if (!isError(e)) return { message: mask(String(e)) };
  const code = (e as { code?: unknown }).code;
  const message = mask(e.message);
  return {
    type: e.name,
    ...(typeof code === 'string' ? { code } : {}),
    message,
    stack: e.stack ? maskStack(e.stack, e.message, message) : undefined,
  };
}

/**
 * A stack with its message masked in place, its frames kept readable; a stack that does not hold the message as
 * it is (a rewritten one) is masked whole.
 */
function maskStack(stack: string, raw: string, masked: string): string {
  const at = raw ? stack.indexOf(raw) : -1;
  if (at < 0) return mask(stack);
  return (mask(stack.slice(0, at)) + masked + mask(stack.slice(at + raw.length))).slice(0, 4000);
}

/**
 * From the first double quote to the last, and from the first `=(` to the last `)`: PostgreSQL
 * quotes a value as it was sent, a newline or a quote inside it included, so a value's end cannot be told from
 * its text. Masking too much only costs readability.
 */
function mask(text: string): string {
  return text
    .replace(/"[\s\S]*"/, '"…"')
    .replace(/=\([\s\S]*\)/, '=(…)')
    .slice(0, 4000);
}

/**
 * Routes Nest's own log lines into the same JSON logger. Its errors and warnings are masked as a serialised
 * error is: Nest and its modules log an error's message and stack as plain strings (`@nestjs/typeorm` logs a
 * failing connection's stack at each retry), where a PostgreSQL message can quote a submitted value.
 */
export class PinoNestLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}

  log(message: unknown, context?: string): void {
    this.logger.info({ context }, String(message));
  }
  error(message: unknown, trace?: string, context?: string): void {
    this.logger.error(
      { context, trace: trace === undefined ? undefined : mask(trace) },
      mask(String(message)),
    );
  }
  warn(message: unknown, context?: string): void {
    this.logger.warn({ context }, mask(String(message)));
  }
  debug(message: unknown, context?: string): void {
    this.logger.debug({ context }, String(message));
  }
  verbose(message: unknown, context?: string): void {
    this.logger.trace({ context }, String(message));
  }
}
