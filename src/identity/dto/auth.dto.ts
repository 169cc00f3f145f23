import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Matches, MaxLength, MinLength } from 'class-validator';
import { ROLES, Role } from '../user.entity';
import { StepUpCodeDto, TOTP_FIELD } from './step-up.dto';

export class LoginDto {
  @ApiProperty({ example: 'ward.longbien', maxLength: 64 })
  @IsString()
  @MinLength(1)
  @MaxLength(64)
  username!: string;

  @ApiProperty({ format: 'password', maxLength: 1024 })
  @IsString()
  @MinLength(1)
  @MaxLength(1024)
  password!: string;

  @ApiPropertyOptional({
    description:
      'Current 6-digit code of the authenticator app (required once two-factor is set up); empty is none',
    example: '123456',
    pattern: TOTP_FIELD.source,
  })
  @IsOptional()
  @IsString()
  @Matches(TOTP_FIELD)
  totp?: string;
}

export class ChangePasswordDto extends StepUpCodeDto {
  @ApiProperty({ format: 'password', maxLength: 1024, description: 'The password the account has now' })
  @IsString()
  @MinLength(1)
  @MaxLength(1024)
  currentPassword!: string;

  @ApiProperty({
    format: 'password',
    maxLength: 1024,
    description:
      'At least 12 characters, not a common password, not containing the username, not the current one',
  })
  @IsString()
  @MaxLength(1024)
  newPassword!: string;
}

export class SignedInUser {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ example: 'ward.longbien' }) username!: string;
  @ApiProperty({ enum: ROLES }) role!: Role;
}

export class LoginResponse {
  @ApiProperty({ description: 'JWT (HS256) to send as `Authorization: Bearer <accessToken>`' })
  accessToken!: string;

  @ApiProperty({ example: 'Bearer' }) tokenType!: 'Bearer';

  @ApiProperty({
    description: 'Lifetime of the token in seconds (900 = 15 minutes by default)',
    example: 900,
  })
  expiresIn!: number;

  @ApiProperty({ type: SignedInUser }) user!: SignedInUser;

  @ApiProperty({
    description:
      'True for a supervisor or admin who has not set up two-factor authentication yet: the token may only ' +
      'call /auth/totp/enroll, /auth/totp/verify, /auth/password, /auth/step-up, /auth/me and /auth/logout (its ' +
      'own session); sign in again once it is set up.',
  })
  totpEnrollmentRequired!: boolean;

  @ApiProperty({
    description:
      'True when an administrator set the password (a new account, a reset): the token may only call ' +
      '/auth/password, /auth/me, /auth/logout and the two-factor set-up; sign in again with the new password.',
  })
  passwordChangeRequired!: boolean;
}

export class TotpEnrollResponse {
  @ApiProperty({
    description: 'Base32 TOTP secret (SHA-1, 6 digits, 30 s); shown once',
    example: 'JBSWY3DPEHPK3PXPJBSWY3DP',
  })
  secret!: string;

  @ApiProperty({ example: 'otpauth://totp/Haven:admin?secret=...&issuer=Haven' })
  otpauthUrl!: string;
}

export class TotpVerifyDto {
  @ApiProperty({ description: 'A current code from the authenticator app', example: '123456' })
  @IsString()
  @Matches(/^\d{6}$/)
  code!: string;

  @ApiProperty({
    format: 'password',
    maxLength: 1024,
    description:
      'Your password again: binding an authenticator is done by the person, not by a token alone (a wrong one counts toward a lock of your step-ups)',
  })
  @IsString()
  @MinLength(1)
  @MaxLength(1024)
  password!: string;
}

export class TotpVerifyResponse {
  @ApiProperty({
    description:
      'Two-factor authentication is on; every earlier session has ended: sign in again with a code.',
  })
  totpEnabled!: true;
}

export class MeResponse {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() username!: string;
  @ApiProperty({ enum: ROLES }) role!: Role;
  @ApiProperty({ type: [String], description: 'ward_officer: communes served' }) wardCodes!: string[];
  @ApiProperty({ format: 'uuid', nullable: true, type: String }) organizationId!: string | null;
  @ApiProperty({ nullable: true, type: String, description: 'supervisor: province, null = national' })
  provinceCode!: string | null;
  @ApiProperty() totpEnabled!: boolean;
  @ApiProperty({ description: 'This session may only set up two-factor authentication' })
  totpEnrollmentRequired!: boolean;
  @ApiProperty({ description: 'This session may only change the password an administrator set' })
  passwordChangeRequired!: boolean;
}
