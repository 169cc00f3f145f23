import { ApiPropertyOptional, PartialType } from '@nestjs/swagger';
import { IsIn, IsInt, IsOptional, Max, Min } from 'class-validator';
import { IsOptionalNotNull } from '../../common/http/field-presence';
import { REPORT_CHANNELS, ReportChannel } from '../case-classification';
import { MAX_RECORD_VERSION } from '../../common/http/if-match';
import { HealthDto, IncidentDto, PerpetratorDto, RiskDto, Section, SurvivorDto } from './create-case.dto';

export class SurvivorPatchDto extends PartialType(SurvivorDto) {}
export class IncidentPatchDto extends PartialType(IncidentDto) {}

/**
 * A partial update: a section that is present has each of its present fields replaced (null clears an
 * optional field); absent sections and fields stay as they are. The version comes from `If-Match` or here.
 */
const PATCH_SECTION =
  'each field present replaces its value; null clears an optional field (400 for one that cannot be empty); absent fields stay';

export class UpdateCaseDto {
  @ApiPropertyOptional({
    description: 'The version read; or send it as If-Match',
    minimum: 1,
    maximum: MAX_RECORD_VERSION,
  })
  @IsOptionalNotNull() // null is no version: 412 from the service would say so less clearly
  @IsInt()
  @Min(1)
  @Max(MAX_RECORD_VERSION) // no case gets there: a version no case has is a mistake, not a conflict to reload
  version?: number;

  @ApiPropertyOptional({ enum: REPORT_CHANNELS })
  @IsOptional()
  @IsIn(REPORT_CHANNELS)
  reportChannel?: ReportChannel;

  @Section(SurvivorPatchDto, { description: PATCH_SECTION })
  survivor?: SurvivorPatchDto;

  @Section(IncidentPatchDto, { description: PATCH_SECTION })
  incident?: IncidentPatchDto;

  @Section(PerpetratorDto, {
    description: `${PATCH_SECTION}; null removes the whole section`,
    nullable: true,
  })
  perpetrator?: PerpetratorDto | null;

  @Section(HealthDto, { description: `${PATCH_SECTION}; null removes the whole section`, nullable: true })
  health?: HealthDto | null;

  @Section(RiskDto, { description: PATCH_SECTION })
  risk?: RiskDto;
}
