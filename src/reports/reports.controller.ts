import { Controller, Get, Query, Req, Res } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiExtraModels,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  getSchemaPath,
} from '@nestjs/swagger';
import type { Request, Response } from 'express';
import type { AppAbility } from '../authz/ability.factory';
import { CurrentAbility, CurrentPrincipal } from '../authz/current-principal.decorator';
import { Policy } from '../authz/policy.decorator';
import type { Principal } from '../authz/principal';
import { Problem } from '../common/errors/problem';
import { ActionMonthQuery, SummaryQuery } from './dto/report-query.dto';
import { ActionMonthReportView, SummaryReportView } from './dto/report-view.dto';
import { actionMonthCsv, summaryCsv } from './report-csv-views';
import { CSV_CONTENT_TYPE } from './report-csv';
import { ReportsService } from './reports.service';

const DESCRIPTION =
  'Anonymised counts from plaintext triage fields (nothing is decrypted). Any count from 1 to 4 is "<5"; ' +
  'further cells are "suppressed" so that no hidden count can be worked out (docs/reports.md). ' +
  '`Accept: text/csv` returns CSV (UTF-8 with BOM, Vietnamese / English headings) instead of JSON. ' +
  'Supervisors: their province (national supervisors: any area); admins: national totals only. A province ' +
  'or commune outside the jurisdiction → 403. Every read is recorded in the access log (report.read).';

function csvContent(model: new () => unknown): Parameters<typeof ApiOkResponse>[0] {
  return {
    content: {
      'application/json': { schema: { $ref: getSchemaPath(model) } },
      'text/csv': { schema: { type: 'string', description: 'UTF-8 with BOM; one line per published value' } },
    },
  };
}

@ApiTags('reports')
@ApiExtraModels(SummaryReportView, ActionMonthReportView)
@Controller('reports')
export class ReportsController {
  constructor(private readonly reports: ReportsService) {}

  @Get('summary')
  @Policy('read', 'Report')
  @ApiOperation({
    summary: 'Anonymised statistics for a period and an area',
    description:
      `${DESCRIPTION} The period applies to the date each case was reported (Vietnam time, both days ` +
      'included; default: 1 January of this year to today).',
  })
  @ApiOkResponse(csvContent(SummaryReportView))
  @ApiBadRequestResponse({
    type: Problem,
    description: 'Bad date or code, or a commune outside the province',
  })
  async summary(
    @Query() q: SummaryQuery,
    @CurrentPrincipal() p: Principal,
    @CurrentAbility() ability: AppAbility,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<SummaryReportView | string> {
    const result = await this.reports.summary(p, ability, q);
    res.setHeader('Vary', 'Accept');
    if (!wantsCsv(req)) return result.view;
    const { view } = result;
    const area = view.area.wardCode ?? view.area.provinceCode ?? 'vn';
    sendCsv(res, `haven-report-${area}-${view.period.from}_${view.period.to}.csv`);
    return summaryCsv(result);
  }

  @Get('action-month')
  @Policy('read', 'Report')
  @ApiOperation({
    summary: 'The Action Month report (15 November – 15 December) compared with the year before',
    description:
      `${DESCRIPTION} Both Action Months are protected on their own; \`comparison\` lists every category ` +
      'side by side.',
  })
  @ApiOkResponse(csvContent(ActionMonthReportView))
  @ApiBadRequestResponse({
    type: Problem,
    description: 'Bad year or code, or a commune outside the province',
  })
  async actionMonth(
    @Query() q: ActionMonthQuery,
    @CurrentPrincipal() p: Principal,
    @CurrentAbility() ability: AppAbility,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<ActionMonthReportView | string> {
    const result = await this.reports.actionMonth(p, ability, q);
    res.setHeader('Vary', 'Accept');
    if (!wantsCsv(req)) return result.view;
    const { view } = result;
    const area = view.area.wardCode ?? view.area.provinceCode ?? 'vn';
    sendCsv(res, `haven-action-month-${area}-${view.year}.csv`);
    return actionMonthCsv(result);
  }
}

/** CSV only when the client prefers it to JSON (`Accept: text/csv`); JSON otherwise. */
function wantsCsv(req: Request): boolean {
  return req.accepts(['application/json', 'text/csv']) === 'text/csv';
}

function sendCsv(res: Response, filename: string): void {
  res.setHeader('Content-Type', CSV_CONTENT_TYPE);
  // The name carries only codes and dates, never survivor data.
  res.setHeader('Content-Disposition', `attachment; filename="${filename}"`);
}
