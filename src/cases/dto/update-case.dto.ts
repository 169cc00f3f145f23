import { ApiPropertyOptional, PartialType } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsObject, IsOptional, Min, ValidateNested } from 'class-validator';
import { REPORT_CHANNELS, ReportChannel } from '../case-classification';
import { HealthDto, IncidentDto, PerpetratorDto, RiskDto, SurvivorDto } from './create-case.dto';

export class SurvivorPatchDto extends PartialType(SurvivorDto) {}
export class IncidentPatchDto extends PartialType(IncidentDto) {}

/**
 * A partial update: a section that is present has each of its present fields replaced (null clears an
 * optional field); absent sections and fields stay as they are. The version comes from `If-Match` or here.
 */
export class UpdateCaseDto {
  @ApiPropertyOptional({ description: 'The version read; or send it as If-Match' })
  @IsOptional()
  @IsInt()
  @Min(1)
  version?: number;

  @ApiPropertyOptional({ enum: REPORT_CHANNELS })
  @IsOptional()
  @IsIn(REPORT_CHANNELS)
  reportChannel?: ReportChannel;

  @ApiPropertyOptional({ type: SurvivorPatchDto })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => SurvivorPatchDto)
  survivor?: SurvivorPatchDto;

  @ApiPropertyOptional({ type: IncidentPatchDto })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => IncidentPatchDto)
  incident?: IncidentPatchDto;

  @ApiPropertyOptional({ type: PerpetratorDto })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => PerpetratorDto)
  perpetrator?: PerpetratorDto;

  @ApiPropertyOptional({ type: HealthDto })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => HealthDto)
  health?: HealthDto;

  @ApiPropertyOptional({ type: RiskDto })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => RiskDto)
  risk?: RiskDto;
}
