import { PageQueryDto } from '../../common/http/page-query.dto';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsIn,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  MinLength,
  ValidateNested,
} from 'class-validator';
import { IsNotBlank, IsOptionalNotNull } from '../../common/http/field-presence';
import { SECTORS, Sector, ServiceScope } from '../organization.entity';
import { UniqueItems } from '../../common/http/unique-items';
import { ORGANIZATION_NAME_MAX } from '../organization-name';

export const ORGANIZATION_STATUSES = ['active', 'retired'] as const;
export type OrganizationStatus = (typeof ORGANIZATION_STATUSES)[number];

export class ServiceAreaDto {
  @ApiPropertyOptional({ example: '01', description: 'The whole province (give this OR communeCodes)' })
  @IsOptionalNotNull()
  @Matches(/^\d{2}$/)
  provinceCode?: string;

  @ApiPropertyOptional({
    type: [String],
    example: ['00145'],
    description: 'Communes of one province (give this OR provinceCode)',
  })
  @IsOptionalNotNull()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(500)
  @UniqueItems()
  @Matches(/^\d{5}$/, { each: true })
  communeCodes?: string[];
}

export class CreateOrganizationDto {
  @ApiProperty({
    example: 'Công an phường Long Biên',
    maxLength: ORGANIZATION_NAME_MAX,
    description: 'At least one letter; no control or invisible character (400 otherwise)',
  })
  @IsString()
  @MinLength(1)
  @IsNotBlank()
  @MaxLength(ORGANIZATION_NAME_MAX)
  name!: string;

  @ApiProperty({ enum: SECTORS })
  @IsIn(SECTORS)
  sector!: Sector;

  @ApiProperty({ type: ServiceAreaDto })
  @IsObject()
  @ValidateNested()
  @Type(() => ServiceAreaDto)
  serviceArea!: ServiceAreaDto;
}

export class UpdateOrganizationDto {
  @ApiPropertyOptional({
    maxLength: ORGANIZATION_NAME_MAX,
    description: 'At least one letter; no control or invisible character (400 otherwise)',
  })
  @IsOptionalNotNull()
  @IsString()
  @MinLength(1)
  @IsNotBlank()
  @MaxLength(ORGANIZATION_NAME_MAX)
  name?: string;

  @ApiPropertyOptional({ enum: SECTORS })
  @IsOptionalNotNull()
  @IsIn(SECTORS)
  sector?: Sector;

  @ApiPropertyOptional({ type: ServiceAreaDto })
  @IsOptionalNotNull()
  @IsObject()
  @ValidateNested()
  @Type(() => ServiceAreaDto)
  serviceArea?: ServiceAreaDto;

  @ApiPropertyOptional({
    enum: ORGANIZATION_STATUSES,
    description:
      'retired: closed or merged away. Its pending and accepted referrals are revoked (revokeCause organization_retired) and its emergency access ends; it is left out of the list by default and takes no new referral or consent. active again: it takes new ones (nothing revoked comes back).',
  })
  @IsOptionalNotNull()
  @IsIn(ORGANIZATION_STATUSES)
  status?: OrganizationStatus;
}

/** Page size of the organisation list when none is asked for (the largest: a referral form wants them all). */
export const ORGANIZATION_PAGE_SIZE = 200;

export class OrganizationListQuery extends PageQueryDto {
  @ApiPropertyOptional({ enum: SECTORS })
  @IsOptional()
  @IsIn(SECTORS)
  sector?: Sector;

  @ApiPropertyOptional({ example: '00145', description: 'Only organisations serving this commune' })
  @IsOptional()
  @Matches(/^\d{5}$/)
  wardCode?: string;

  @ApiPropertyOptional({
    enum: [...ORGANIZATION_STATUSES, 'all'],
    description: 'default active: the organisations that take referrals',
  })
  @IsOptional()
  @IsIn([...ORGANIZATION_STATUSES, 'all'])
  status?: OrganizationStatus | 'all';
}

export class ServiceAreaView {
  @ApiProperty({ enum: ['province', 'communes'] }) type!: ServiceScope;
  @ApiProperty({ example: '01' }) provinceCode!: string;
  @ApiPropertyOptional({ type: [String], description: 'Present when type = communes' })
  communeCodes?: string[];
}

export class OrganizationView {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ example: 'Công an phường Long Biên' }) name!: string;
  @ApiProperty({ enum: SECTORS }) sector!: Sector;
  @ApiProperty({ type: ServiceAreaView }) serviceArea!: ServiceAreaView;
  @ApiProperty({ enum: ORGANIZATION_STATUSES }) status!: OrganizationStatus;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) retiredAt!: string | null;
}

export class OrganizationList {
  @ApiProperty({ type: [OrganizationView] }) items!: OrganizationView[];
  @ApiProperty() total!: number;
  @ApiProperty() page!: number;
  @ApiProperty({ description: `default ${ORGANIZATION_PAGE_SIZE}` }) pageSize!: number;
}
