import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsDefined,
  IsIn,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  ValidateNested,
} from 'class-validator';
import {
  CASE_CONTEXTS,
  CaseContext,
  GBV_TYPES,
  GbvType,
  MAX_AGE_YEARS,
  RELATIONSHIPS,
  Relationship,
  REPORT_CHANNELS,
  ReportChannel,
  RISK_LEVELS,
  RiskLevel,
  SEXES,
  Sex,
  VIOLENCE_FORMS,
  ViolenceForm,
} from '../case-classification';
import { IsCalendarDate, IsDateOrInstant, IsInstant } from '../../common/http/date-validation';
import { UniqueItems } from '../../common/http/unique-items';

/** What a phone number may hold (normalizePhone, blind-index.normalize.ts): said in the docs and in a refusal. */
export const PHONE_FORMAT = {
  en: 'a phone number: 3 to 15 digits, with only spaces and + . - / ( ) besides',
  vi: 'số điện thoại: 3 đến 15 chữ số, ngoài ra chỉ có khoảng trắng và + . - / ( )',
};

/**
 * A section of a case body: an object validated as `type` (whitelisted, nested), required or optional. The one
 * place the section rules live, for registration and for partial updates (update-case.dto.ts).
 */
export function Section(
  type: new () => object,
  options: { required?: boolean; description?: string; nullable?: boolean } = {},
): PropertyDecorator {
  const doc = {
    type,
    ...(options.description ? { description: options.description } : {}),
    ...(options.nullable ? { nullable: true } : {}),
  };
  return applyDecorators(
    options.required ? ApiProperty(doc) : ApiPropertyOptional(doc),
    options.required ? IsDefined() : IsOptional(),
    IsObject(),
    ValidateNested(),
    Type(() => type),
  );
}

// Free-text limits bound the work of encryption and keep one case under the body limit (HAVEN_BODY_LIMIT_KB,
// 256 KiB): ~35,000 characters at most, ~105 KB in UTF-8, ~210 KB with every accented letter escaped.
const NAME = 200;
const SHORT = 500;
const LONG = 10000;

export class SurvivorDto {
  @ApiProperty({ maxLength: NAME, description: 'identity (encrypted)' })
  @IsString()
  @MinLength(1)
  @MaxLength(NAME)
  fullName!: string;

  @ApiProperty({ enum: SEXES, description: 'triage' })
  @IsIn(SEXES)
  sex!: Sex;

  @ApiPropertyOptional({
    nullable: true,
    example: '2010-05-17',
    description: 'identity (encrypted); or ageYears',
  })
  @IsOptional()
  @IsCalendarDate()
  dateOfBirth?: string;

  @ApiPropertyOptional({
    nullable: true,
    minimum: 0,
    maximum: MAX_AGE_YEARS,
    description:
      'the age at the report (reportedAt), when the date of birth is unknown; the consent rules add the whole ' +
      'years since (a correction made later gives the age she had at the report, not her age that day)',
  })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(MAX_AGE_YEARS)
  ageYears?: number;

  @ApiPropertyOptional({
    nullable: true,
    maxLength: 40,
    description: `contact (encrypted); ${PHONE_FORMAT.en}`,
  })
  @IsOptional()
  @IsString()
  @MaxLength(40)
  phone?: string;

  @ApiPropertyOptional({ nullable: true, maxLength: SHORT, description: 'contact (encrypted)' })
  @IsOptional()
  @IsString()
  @MaxLength(SHORT)
  address?: string;

  @ApiPropertyOptional({ nullable: true, maxLength: SHORT, description: 'contact (encrypted)' })
  @IsOptional()
  @IsString()
  @MaxLength(SHORT)
  safeContactNotes?: string;

  @ApiPropertyOptional({ nullable: true, maxLength: SHORT, description: 'identity (encrypted)' })
  @IsOptional()
  @IsString()
  @MaxLength(SHORT)
  disability?: string;

  @ApiPropertyOptional({ nullable: true, maxLength: NAME, description: 'identity (encrypted)' })
  @IsOptional()
  @IsString()
  @MaxLength(NAME)
  ethnicity?: string;
}

export class IncidentDto {
  @ApiPropertyOptional({
    nullable: true,
    example: '2026-11-20T21:00:00+07:00',
    description:
      'triage (the date is kept plaintext): a date (YYYY-MM-DD) or a date and time with its offset (RFC 3339)',
  })
  @IsOptional()
  @IsDateOrInstant()
  occurredAt?: string;

  @ApiProperty({ enum: VIOLENCE_FORMS, isArray: true, description: 'Vietnamese classification (triage)' })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(VIOLENCE_FORMS.length)
  @UniqueItems()
  @IsIn(VIOLENCE_FORMS, { each: true })
  forms!: ViolenceForm[];

  @ApiProperty({ enum: GBV_TYPES, description: 'GBVIMS core type (triage)' })
  @IsIn(GBV_TYPES)
  gbvType!: GbvType;

  @ApiPropertyOptional({
    nullable: true,
    enum: CASE_CONTEXTS,
    isArray: true,
    description: 'context flags (triage)',
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(CASE_CONTEXTS.length)
  @UniqueItems()
  @IsIn(CASE_CONTEXTS, { each: true })
  contexts?: CaseContext[];

  @ApiPropertyOptional({ nullable: true, maxLength: SHORT, description: 'incident (encrypted)' })
  @IsOptional()
  @IsString()
  @MaxLength(SHORT)
  place?: string;

  @ApiPropertyOptional({ nullable: true, maxLength: LONG, description: 'incident (encrypted)' })
  @IsOptional()
  @IsString()
  @MaxLength(LONG)
  narrative?: string;
}

export class PerpetratorDto {
  @ApiPropertyOptional({ nullable: true, maxLength: NAME })
  @IsOptional()
  @IsString()
  @MaxLength(NAME)
  fullName?: string;

  @ApiPropertyOptional({ nullable: true, enum: RELATIONSHIPS })
  @IsOptional()
  @IsIn(RELATIONSHIPS)
  relationship?: Relationship;

  @ApiPropertyOptional({ nullable: true, maxLength: SHORT })
  @IsOptional()
  @IsString()
  @MaxLength(SHORT)
  address?: string;

  @ApiPropertyOptional({ nullable: true })
  @IsOptional()
  @IsBoolean()
  accessToWeapons?: boolean;
}

export class HealthDto {
  @ApiPropertyOptional({ nullable: true, maxLength: LONG })
  @IsOptional()
  @IsString()
  @MaxLength(LONG)
  injuries?: string;

  @ApiPropertyOptional({ nullable: true })
  @IsOptional()
  @IsBoolean()
  pregnant?: boolean;

  @ApiPropertyOptional({ nullable: true, maxLength: LONG })
  @IsOptional()
  @IsString()
  @MaxLength(LONG)
  medicalNeeds?: string;
}

export class RiskDto {
  @ApiProperty({ enum: RISK_LEVELS })
  @IsIn(RISK_LEVELS)
  level!: RiskLevel;
}

export class CreateCaseDto {
  @ApiProperty({ example: '00145', description: '5-digit commune code; one of the officer’s communes' })
  @Matches(/^\d{5}$/)
  wardCode!: string;

  @ApiProperty({
    example: '2026-11-23T08:30:00+07:00',
    description: 'A date and time with its offset (RFC 3339; Vietnam is +07:00)',
  })
  @IsInstant()
  reportedAt!: string;

  @ApiProperty({ enum: REPORT_CHANNELS })
  @IsIn(REPORT_CHANNELS)
  reportChannel!: ReportChannel;

  @Section(SurvivorDto, { required: true })
  survivor!: SurvivorDto;

  @Section(IncidentDto, { required: true })
  incident!: IncidentDto;

  @Section(PerpetratorDto)
  perpetrator?: PerpetratorDto;

  @Section(HealthDto)
  health?: HealthDto;

  @Section(RiskDto, {
    description:
      'Absent: not assessed yet (the triage’s riskLevel is null until a change records it; meanwhile a child under 16 is due as one at high risk)',
  })
  risk?: RiskDto;
}
