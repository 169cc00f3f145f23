import { ApiPropertyOptional, PartialType } from '@nestjs/swagger';
import { IsIn, IsInt, IsOptional, Min } from 'class-validator';
import { REPORT_CHANNELS, ReportChannel } from '../case-classification';
import { HealthDto, IncidentDto, PerpetratorDto, RiskDto, Section, SurvivorDto } from './create-case.dto';

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

  @Section(SurvivorPatchDto)
  survivor?: SurvivorPatchDto;

  @Section(IncidentPatchDto)
  incident?: IncidentPatchDto;

  @Section(PerpetratorDto)
  perpetrator?: PerpetratorDto;

  @Section(HealthDto)
  health?: HealthDto;

  @Section(RiskDto)
  risk?: RiskDto;
}
