import { applyDecorators } from '@nestjs/common';
import {
  ApiForbiddenResponse,
  ApiProperty,
  ApiPropertyOptional,
  ApiTooManyRequestsResponse,
} from '@nestjs/swagger';
import { IsOptional, IsString, Matches, MaxLength, MinLength } from 'class-validator';
import { Problem, RETRY_AFTER_HEADER } from '../../common/errors/problem';
import { REAUTH_PER_MINUTE } from '../reauthentication.service';

/**
 * A code field: six digits, or empty (a form sends its empty field: no code, as when the field is left out; the
 * services take '' as none).
 */
export const TOTP_FIELD = /^(?:\d{6})?$/;

/** The code half of a step-up (ReauthenticationService): required once the account has two-factor. */
export class StepUpCodeDto {
  @ApiPropertyOptional({
    description:
      'A new 6-digit code of the authenticator app, required when the account has two-factor authentication ' +
      '(a code is accepted once: one just used to sign in is not accepted again, wait for the next); empty is none',
    example: '123456',
    pattern: TOTP_FIELD.source,
  })
  @IsOptional()
  @IsString()
  @Matches(TOTP_FIELD)
  totp?: string;
}

/** A step-up before an operation that cannot be undone or that opens what is otherwise closed. */
export class StepUpDto extends StepUpCodeDto {
  @ApiProperty({
    format: 'password',
    maxLength: 1024,
    description: 'Your password again (a wrong one counts toward a lock of your step-ups)',
  })
  @IsString()
  @MinLength(1)
  @MaxLength(1024)
  password!: string;
}

export class StepUpResponse {
  @ApiProperty({
    format: 'date-time',
    description: 'Until when this session may use the routes that ask for a step-up',
  })
  stepUpUntil!: string;
}

/** The answers of a route that asks for a step-up, for the OpenAPI document. */
export function ApiStepUpResponses(): MethodDecorator {
  return applyDecorators(
    ApiForbiddenResponse({
      type: Problem,
      description:
        'auth.reauthentication_failed: wrong password or authenticator code (counted toward a lock of the ' +
        "user's step-ups and of the address); auth.reauthentication_code_required: the account has " +
        'two-factor and `totp` is missing',
    }),
    ApiTooManyRequestsResponse({
      type: Problem,
      headers: RETRY_AFTER_HEADER,
      description:
        "auth.throttled: the user's step-ups or the address are locked after failed attempts, or the user has " +
        `another step-up under way or has asked for ${REAUTH_PER_MINUTE} this minute (Retry-After); ` +
        'auth.totp_locked: ten wrong authenticator codes in a row (no Retry-After: until an administrator ' +
        "resets the account's two-factor)",
    }),
  );
}
