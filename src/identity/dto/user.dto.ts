import { UuidField } from '../../common/http/uuid-param';
import { PageQueryDto } from '../../common/http/page-query.dto';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  ArrayMinSize,
  Equals,
  IsArray,
  IsBoolean,
  IsIn,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
} from 'class-validator';
import { IsOptionalNotNull } from '../../common/http/field-presence';
import { ROLES, Role, UserStatus } from '../user.entity';
import { UniqueItems } from '../../common/http/unique-items';

export const USERNAME = /^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$/;

/**
 * A username as typed at sign-in, as accounts are stored and looked up (lower case) and as the sign-in throttle
 * counts it: one definition, so that a lookup, a count and its clearing by a reset never disagree.
 */
export function canonicalUsername(typed: string): string {
  return typed.trim().toLowerCase();
}
const COMMUNE_CODE = /^\d{5}$/;
const PROVINCE_CODE = /^\d{2}$/;

/**
 * A new account. Its scope fields are left out, not null, when they do not apply: null is refused (400) rather
 * than counted as given and then read as absent (a supervisor with `provinceCode: null` was national).
 */
export class CreateUserDto {
  @ApiProperty({
    example: 'ward.longbien',
    description: '3-64 letters, digits, dot, underscore or hyphen; stored lower-case',
  })
  @IsString()
  @Matches(USERNAME)
  username!: string;

  @ApiProperty({
    format: 'password',
    description:
      'Initial password: at least 12 characters, not a common password, not containing the username',
  })
  @IsString()
  @MaxLength(1024)
  password!: string;

  @ApiProperty({ enum: ROLES })
  @IsIn(ROLES)
  role!: Role;

  @ApiPropertyOptional({
    type: [String],
    example: ['00145'],
    description: 'ward_officer: 1-50 commune codes, all of one province (else 422 oneProvince)',
  })
  @IsOptionalNotNull()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(50)
  @UniqueItems()
  @Matches(COMMUNE_CODE, { each: true })
  wardCodes?: string[];

  @ApiPropertyOptional({ format: 'uuid', description: 'provider: the organisation' })
  @IsOptionalNotNull()
  @UuidField()
  organizationId?: string;

  @ApiPropertyOptional({ example: '01', description: 'supervisor: the province of the jurisdiction' })
  @IsOptionalNotNull()
  @Matches(PROVINCE_CODE)
  provinceCode?: string;

  @ApiPropertyOptional({
    description: 'supervisor: true for a national jurisdiction (instead of provinceCode)',
  })
  @IsOptionalNotNull()
  @IsBoolean()
  national?: boolean;
}

export class UpdateUserDto {
  @ApiPropertyOptional({
    enum: ['active', 'disabled'],
    description: 'disabled: sign-in is refused and every token already issued stops working at once',
  })
  @IsOptionalNotNull()
  @IsIn(['active', 'disabled'])
  status?: UserStatus;

  @ApiPropertyOptional({
    format: 'password',
    description: 'Reset the password (same rules as on creation); ends every session of the user',
  })
  @IsOptionalNotNull()
  @IsString()
  @MaxLength(1024)
  password?: string;

  @ApiPropertyOptional({
    enum: [true],
    description:
      'true (only): remove two-factor authentication so the user sets it up again; only with a new `password` ' +
      '(whoever had the old one could otherwise set up their own authenticator first)',
  })
  @IsOptionalNotNull()
  @Equals(true)
  resetTotp?: true;

  @ApiPropertyOptional({
    type: [String],
    description: 'ward_officer: replace the communes served (1-50, all of one province)',
  })
  @IsOptionalNotNull()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(50)
  @UniqueItems()
  @Matches(COMMUNE_CODE, { each: true })
  wardCodes?: string[];
}

/** Default page size 50. */
export class UserListQuery extends PageQueryDto {
  @ApiPropertyOptional({ enum: ROLES })
  @IsOptional()
  @IsIn(ROLES)
  role?: Role;

  @ApiPropertyOptional({ enum: ['active', 'disabled'] })
  @IsOptional()
  @IsIn(['active', 'disabled'])
  status?: UserStatus;
}

export class UserView {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() username!: string;
  @ApiProperty({ enum: ROLES }) role!: Role;
  @ApiProperty({ enum: ['active', 'disabled'] }) status!: UserStatus;
  @ApiProperty({ type: [String] }) wardCodes!: string[];
  @ApiProperty({ format: 'uuid', nullable: true, type: String }) organizationId!: string | null;
  @ApiProperty({ nullable: true, type: String, description: 'supervisor: province; null = national' })
  provinceCode!: string | null;
  @ApiProperty() totpEnabled!: boolean;
  @ApiProperty() createdAt!: Date;
  @ApiProperty() updatedAt!: Date;
}

/** The answer to a change of an account: the account, and what the change left without a ward officer. */
export class UpdatedUserView extends UserView {
  @ApiPropertyOptional({
    type: [String],
    description:
      'present when the change (a ward officer disabled, or given other communes) left communes it served with ' +
      'no active ward officer: their cases are seen and their referrals followed by no one at the commune until ' +
      'an account is given them',
  })
  unstaffedCommunes?: string[];
}

export class UserList {
  @ApiProperty({ type: [UserView] }) items!: UserView[];
  @ApiProperty() total!: number;
  @ApiProperty() page!: number;
  @ApiProperty() pageSize!: number;
}
