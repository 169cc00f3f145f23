import { ValidateBy, ValidationOptions } from 'class-validator';

/**
 * Dates and instants in request bodies and queries, checked before they reach `new Date()` or PostgreSQL.
 * ISO 8601 allows forms that neither reads the same way or at all (week dates `2026-W47-5`, ordinal dates
 * `2026-324`, the basic format `20261120`, partial `2026-11`), and a date-time without an offset is read in
 * whatever time zone the server runs in. So two forms only:
 * - a calendar date `YYYY-MM-DD` that exists (not 2026-02-30);
 * - an instant `YYYY-MM-DDTHH:MM[:SS[.fraction]]` with its offset, `Z` or `±HH:MM` (RFC 3339), e.g.
 *   `2026-11-23T08:30:00+07:00`; offsets up to ±14:59 (the widest in use is +14:00; PostgreSQL refuses ±16:00).
 * Years from 1900 to 2100.
 */
const MIN_YEAR = 1900;
const MAX_YEAR = 2100;

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const INSTANT =
  /^(\d{4})-(\d{2})-(\d{2})T(?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,9})?)?(?:Z|[+-](?:0\d|1[0-4]):[0-5]\d)$/;

function realDate(m: RegExpExecArray | null): boolean {
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (y < MIN_YEAR || y > MAX_YEAR) return false;
  const date = new Date(Date.UTC(y, mo - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d;
}

/** A calendar date, YYYY-MM-DD, that exists. */
export function isCalendarDate(value: unknown): value is string {
  return typeof value === 'string' && realDate(DATE.exec(value));
}

/** A date and time with its offset (RFC 3339), on a date that exists. */
export function isInstant(value: unknown): value is string {
  return typeof value === 'string' && realDate(INSTANT.exec(value));
}

export function IsCalendarDate(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy({ name: 'isCalendarDate', validator: { validate: isCalendarDate } }, options);
}

export function IsInstant(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy({ name: 'isInstant', validator: { validate: isInstant } }, options);
}

/** Either form: a day, or a moment. */
export function IsDateOrInstant(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    { name: 'isDateOrInstant', validator: { validate: (v) => isCalendarDate(v) || isInstant(v) } },
    options,
  );
}
