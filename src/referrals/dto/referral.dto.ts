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
import { PageQueryDto } from '../../common/http/page-query.dto';
import {
  REFERRAL_OUTCOMES,
  REFERRAL_SERVICES,
  ReferralOutcome,
  ReferralService,
  Urgency,
  URGENCIES,
} from '../referral-state';
import { UniqueItems } from '../../common/http/unique-items';

export const REFERRAL_STATUS_FILTER = [
  'pending',
  'accepted',
  'declined',
  'completed',
  'revoked',
  'overdue',
] as const;

export class CreateReferralDto {
  @ApiProperty({ format: 'uuid' }) @UuidField() organizationId!: string;
  @ApiProperty({ format: 'uuid', description: 'the consent or legal basis that covers this organisation' })
  @UuidField()
  consentId!: string;

  @ApiProperty({ enum: REFERRAL_SERVICES, isArray: true })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(REFERRAL_SERVICES.length)
  @UniqueItems()
  @IsIn(REFERRAL_SERVICES, { each: true })
  services!: ReferralService[];

  @ApiProperty({
    enum: URGENCIES,
    description:
      'raised to urgent (12 h by default) for a child under 16 at high or critical risk (or whose risk is not assessed yet) and for a no-contact order',
  })
  @IsIn(URGENCIES)
  urgency!: Urgency;

  @ApiPropertyOptional({
    maxLength: 4000,
    description:
      'for the receiving organisation (stored encrypted), which reads it once it accepts, whatever categories the ' +
      'consent releases: write in it only what the survivor agreed that organisation may know',
  })
  @IsOptional()
  @IsString()
  @MaxLength(4000)
  note?: string;
}

export class DeclineReferralDto {
  @ApiProperty({ maxLength: 2000 }) @IsString() @MinLength(1) @IsNotBlank() @MaxLength(2000) reason!: string;
}

export class RevokeReferralDto {
  @ApiProperty({ maxLength: 2000 }) @IsString() @MinLength(1) @IsNotBlank() @MaxLength(2000) reason!: string;
}

export class CompleteReferralDto {
  @ApiProperty({ enum: REFERRAL_OUTCOMES }) @IsIn(REFERRAL_OUTCOMES) outcome!: ReferralOutcome;

  @ApiPropertyOptional({
    enum: REFERRAL_SERVICES,
    isArray: true,
    description:
      'which of the requested services were delivered ([]: none; left out: not said); 422 for one not requested, ' +
      'for [] with services_delivered, and for any with unable_to_contact',
  })
  @IsOptional()
  @IsArray()
  @UniqueItems()
  @ArrayMaxSize(REFERRAL_SERVICES.length)
  @IsIn(REFERRAL_SERVICES, { each: true })
  servicesDelivered?: ReferralService[];
}

export class CreateNoteDto {
  @ApiProperty({ maxLength: 10000 }) @IsString() @MinLength(1) @IsNotBlank() @MaxLength(10000) text!: string;
}

export class ReferralListQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ enum: REFERRAL_STATUS_FILTER })
  @IsOptional()
  @IsIn(REFERRAL_STATUS_FILTER)
  status?: (typeof REFERRAL_STATUS_FILTER)[number];
}
