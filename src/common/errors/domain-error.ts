import { ErrorCode, LocalizedText } from './error-catalog';

export interface FieldError {
  /** Dotted path of the offending field, e.g. `survivor.fullName`. Never the submitted value. */
  field: string;
  /** Machine-readable reason, e.g. `isString`, `whitelistValidation`. */
  code: string;
  message: LocalizedText;
}

/**
 * The one error type features raise. Its text must never contain submitted values or survivor data:
 * the problem filter copies `detail` into the response.
 */
export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    readonly detail?: LocalizedText,
    readonly errors?: FieldError[],
    /** For a 429: seconds until a new attempt can succeed, sent as `Retry-After`. */
    readonly retryAfterSeconds?: number,
    /** `cause`: what made it (logged with a 503 the service chose: ProblemFilter). */
    options?: ErrorOptions,
  ) {
    super(code, options);
    this.name = 'DomainError';
  }
}

/** A 400 validation problem about one field, with a message written by the code in both languages. */
export function fieldError(field: string, en: string, vi: string): DomainError {
  return new DomainError('request.validation', undefined, [{ field, code: 'invalid', message: { en, vi } }]);
}
