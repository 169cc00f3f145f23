import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ERROR_CATALOG, ErrorCode } from './error-catalog';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
export const PROBLEM_TYPE_BASE = 'urn:haven:problem:';

/**
 * At most this many `errors[]` items in a problem: a body of tens of thousands of unknown keys (one error each)
 * would otherwise be answered with megabytes. The rest are counted in `errorsOmitted`.
 */
export const MAX_FIELD_ERRORS = 50;

export class ProblemFieldError {
  @ApiProperty({ example: 'survivor.fullName' }) field!: string;
  @ApiProperty({ example: 'isString' }) code!: string;
  @ApiProperty({ example: 'must be a string' }) message!: string;
}

/** RFC 9457 problem details. `title` and `detail` follow Accept-Language (vi or en, default en). */
export class Problem {
  @ApiProperty({ example: 'urn:haven:problem:request.validation' }) type!: string;
  @ApiProperty({ example: 'The request is not valid' }) title!: string;
  @ApiProperty({ example: 400 }) status!: number;
  @ApiProperty({ example: 'See errors for the fields to correct.' }) detail!: string;
  @ApiProperty({
    type: String,
    enum: Object.keys(ERROR_CATALOG),
    description: 'Stable machine-readable code',
    example: 'request.validation',
  })
  code!: ErrorCode;
  @ApiProperty({ description: 'The request id, also in the X-Request-Id header' }) requestId!: string;
  @ApiPropertyOptional({ type: [ProblemFieldError], maxItems: MAX_FIELD_ERRORS })
  errors?: ProblemFieldError[];
  @ApiPropertyOptional({
    type: 'integer',
    minimum: 1,
    description: `How many more fields are to correct than errors[] lists (it lists ${MAX_FIELD_ERRORS} at most)`,
  })
  errorsOmitted?: number;
}

/**
 * OpenAPI description of the `Retry-After` header of a 429 or 503 (DomainError.retryAfterSeconds); absent from
 * a lock that no wait ends (`auth.totp_locked`: until an administrator resets two-factor).
 */
export const RETRY_AFTER_HEADER = {
  'Retry-After': {
    description:
      'Seconds until a new attempt can succeed (absent when no wait ends the refusal: auth.totp_locked)',
    schema: { type: 'integer' },
  },
};
