import type { LoggerService } from '@nestjs/common';
import pino, { Logger, LoggerOptions } from 'pino';

/**
 * Structured JSON logs. Request bodies are never logged (the HTTP logger records method, path, status and
 * timing only) and the keys below are censored wherever they appear, as a second line of defence against
 * survivor data or credentials reaching a log.
 */
export const SENSITIVE_KEYS = [
  'password',
  'newPassword',
  'currentPassword',
  'totp',
  'token',
  'accessToken',
  'refreshToken',
  'secret',
  'authorization',
  'cookie',
  'set-cookie',
  'fullName',
  'name',
  'dateOfBirth',
  'phone',
  'address',
  'narrative',
  'safeContactNotes',
  'text',
  'note',
  'notes',
  'reason',
  'body',
  'survivor',
  'perpetrator',
  'incident',
  'health',
  'masterKey',
];

function redactPaths(): string[] {
  const paths: string[] = [];
  for (const k of SENSITIVE_KEYS) {
    const key = /^[A-Za-z_$][\w$]*$/.test(k) ? k : `["${k}"]`;
    const join = (prefix: string): string => (key.startsWith('[') ? `${prefix}${key}` : `${prefix}.${key}`);
    paths.push(
      key.startsWith('[') ? key : k,
      join('*'),
      join('*.*'),
      join('req.headers'),
      join('res.headers'),
    );
  }
  return paths;
}

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const options: LoggerOptions = {
    level,
    base: { service: 'haven' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: redactPaths(), censor: '[redacted]' },
    formatters: { level: (label) => ({ level: label }) },
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
  if (!(e instanceof Error)) return { message: mask(String(e)) };
  const code = (e as { code?: unknown }).code;
  return {
    type: e.name,
    ...(typeof code === 'string' ? { code } : {}),
    message: mask(e.message),
    stack: e.stack ? mask(e.stack) : undefined,
  };
}

function mask(text: string): string {
  return text
    .replace(/"[^"\n]*"/g, '"…"')
    .replace(/=\([^)\n]*\)/g, '=(…)')
    .slice(0, 4000);
}

/** Routes Nest's own log lines into the same JSON logger. */
export class PinoNestLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}

  log(message: unknown, context?: string): void {
    this.logger.info({ context }, String(message));
  }
  error(message: unknown, trace?: string, context?: string): void {
    this.logger.error({ context, trace }, String(message));
  }
  warn(message: unknown, context?: string): void {
    this.logger.warn({ context }, String(message));
  }
  debug(message: unknown, context?: string): void {
    this.logger.debug({ context }, String(message));
  }
  verbose(message: unknown, context?: string): void {
    this.logger.trace({ context }, String(message));
  }
}
