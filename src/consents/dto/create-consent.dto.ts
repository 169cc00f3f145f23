import { UuidField } from '../../common/http/uuid-param';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsIn,
  IsOptional,
  IsString,
  MaxLength,
  MinLength,
} from 'class-validator';
import { IsNotBlank } from '../../common/http/field-presence';
import { IsInstant } from '../../common/http/date-validation';
import { Sector, SECTORS } from '../../directory/organization.entity';
import type { ConsentCategory } from '../../authz/subjects';
import { UniqueItems } from '../../common/http/unique-items';

export const CONSENT_CATEGORIES = [
  'identity',
  'contact',
  'incident',
  'perpetrator',
  'health',
] as const satisfies readonly ConsentCategory[];
// Every category a provider can be granted can be consented to (a new one added to subjects.ts fails here).
type MissingFromConsents = Exclude<ConsentCategory, (typeof CONSENT_CATEGORIES)[number]>;
const EVERY_CATEGORY: [MissingFromConsents] extends [never] ? true : MissingFromConsents = true;
void EVERY_CATEGORY;
export const GIVERS = ['survivor', 'guardian'] as const;
export const LEGAL_BASES = ['child_protection_duty', 'imminent_danger', 'court_order'] as const;

/**
 * Informed consent (givenBy) or a recorded legal basis (legalBasis + reason), for one organisation or a
 * whole sector, releasing the listed field categories until expiresAt (optional) or withdrawal.
 */
export class CreateConsentDto {
  @ApiPropertyOptional({ format: 'uuid', description: 'the recipient organisation; or sector' })
  @IsOptional()
  @UuidField()
  organizationId?: string;

  @ApiPropertyOptional({
    enum: SECTORS,
    description: 'the organisations of a sector serving the case’s commune; or organizationId',
  })
  @IsOptional()
  @IsIn(SECTORS)
  sector?: Sector;

  @ApiProperty({ enum: CONSENT_CATEGORIES, isArray: true })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(CONSENT_CATEGORIES.length)
  @UniqueItems()
  @IsIn(CONSENT_CATEGORIES, { each: true })
  categories!: (typeof CONSENT_CATEGORIES)[number][];

  @ApiPropertyOptional({
    enum: GIVERS,
    description:
      'informed consent given by; or legalBasis. A survivor under 16 now (by her date of birth, or her age at the ' +
      'report and the whole years since) does not consent alone: 422 for survivor',
  })
  @IsOptional()
  @IsIn(GIVERS)
  givenBy?: (typeof GIVERS)[number];

  @ApiPropertyOptional({
    enum: LEGAL_BASES,
    description:
      'sharing without consent, with a reason; child_protection_duty only for a survivor under 18 now or of ' +
      'unknown age (422 for an adult), and it ends at her 18th birthday (expiresAt is set to it, or kept if sooner)',
  })
  @IsOptional()
  @IsIn(LEGAL_BASES)
  legalBasis?: (typeof LEGAL_BASES)[number];

  @ApiPropertyOptional({
    maxLength: 2000,
    description:
      'required with legalBasis, refused without it (stored encrypted; the ward reads it in the list)',
  })
  @IsOptional()
  @IsString()
  @MinLength(1)
  @IsNotBlank()
  @MaxLength(2000)
  reason?: string;

  @ApiPropertyOptional({
    example: '2027-01-31T00:00:00+07:00',
    description: 'A date and time with its offset (RFC 3339; Vietnam is +07:00)',
  })
  @IsOptional()
  @IsInstant()
  expiresAt?: string;
}
