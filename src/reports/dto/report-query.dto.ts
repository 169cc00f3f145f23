import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, Matches, Max, Min } from 'class-validator';
import { IsCalendarDate } from '../../common/http/date-validation';
import { QueryInteger } from '../../common/http/query-integer';
import { MAX_YEAR, MIN_YEAR } from '../report-period';

const PROVINCE_CODE = /^\d{2}$/;
const COMMUNE_CODE = /^\d{5}$/;

/** The area of a report: a province, a commune, or (absent both) the caller's whole jurisdiction. */
export class ReportAreaQuery {
  @ApiPropertyOptional({
    example: '01',
    description:
      'Province code (2 digits). Default: the supervisor’s province; national for a national supervisor or an ' +
      'admin. A province outside the caller’s jurisdiction → 403.',
  })
  @IsOptional()
  @Matches(PROVINCE_CODE)
  province?: string;

  @ApiPropertyOptional({
    example: '00145',
    description:
      'Commune code (5 digits). Must lie in `province` when both are given (400 otherwise); outside the ' +
      'caller’s jurisdiction → 403.',
  })
  @IsOptional()
  @Matches(COMMUNE_CODE)
  ward?: string;
}

export class SummaryQuery extends ReportAreaQuery {
  @ApiPropertyOptional({
    example: '2026-01-01',
    description:
      'First day (YYYY-MM-DD, Vietnam time, included) of the period, on the date each case was reported. ' +
      'Default: 1 January of the year of `to`. An administrator’s (national totals) must be the first day ' +
      'of a month (400 otherwise).',
  })
  @IsOptional()
  @IsCalendarDate()
  from?: string;

  @ApiPropertyOptional({
    example: '2026-12-31',
    description:
      'Last day (YYYY-MM-DD, Vietnam time, included). Default: today in Vietnam. An administrator’s must be ' +
      'the last day of a month that is over (default: the last day of last month; 400 otherwise).',
  })
  @IsOptional()
  @IsCalendarDate()
  to?: string;
}

export class ActionMonthQuery extends ReportAreaQuery {
  @ApiPropertyOptional({
    type: 'integer',
    example: 2026,
    minimum: MIN_YEAR + 1,
    maximum: MAX_YEAR,
    description:
      'Year of the Action Month (15 November – 15 December, Vietnam time, both days included). Default: this ' +
      'year from 15 November, else last year. Not after the current year. An administrator gets an Action ' +
      'Month once it is over (after 15 December; default: the last one over).',
  })
  @IsOptional()
  @QueryInteger()
  @Min(MIN_YEAR + 1)
  @Max(MAX_YEAR)
  year?: number;
}
