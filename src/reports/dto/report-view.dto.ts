import { Type } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  AGE_GROUPS,
  CHILD_DEFINITIONS,
  GBV_TYPES,
  REFERRAL_STATUSES,
  REPORT_CHANNELS,
  SECTORS,
  SEXES,
  VIOLENCE_FORMS,
} from '../report-labels';
import { WITHHELD } from '../report-model';
import { SMALL_CELL, SUPPRESSED } from '../small-cell-protection';

// OpenAPI shapes of the reports. A cell is a count, "<5" (1 to 4), "suppressed" (5 or more, hidden to protect
// another cell) or "withheld" (its section is not published); a statistic is a number, "suppressed" or
// "withheld".

const CELL = {
  oneOf: [
    { type: 'integer', minimum: 0 },
    { type: 'string', enum: [SMALL_CELL, SUPPRESSED, WITHHELD] },
  ],
  description:
    'A count; "<5" for 1 to 4; "suppressed" (5 or more) when hidden so that no small count can be worked out; ' +
    '"withheld" (any value, zero included) in a section not published: the referrals of fewer than 5 cases, ' +
    'or a whole report no pattern of hidden cells protects (docs/reports.md)',
};
const STATISTIC = {
  oneOf: [{ type: 'number' }, { type: 'string', enum: [SUPPRESSED, WITHHELD] }],
  description:
    'A rate or duration; "suppressed" when based on fewer than 5 referrals or cases, or on hidden counts; ' +
    '"withheld" with the rest of its section',
};

/** A class with one cell property per category, for the OpenAPI document. */
function cellMap(name: string, keys: readonly string[]): Type<unknown> {
  const cls = { [name]: class {} }[name];
  for (const k of keys) {
    // What the compiler would record for a declared `number | string` property.
    Reflect.defineMetadata('design:type', Object, cls.prototype, k);
    ApiProperty({ ...CELL, description: undefined })(cls.prototype, k);
  }
  return cls;
}

const GbvTypeCounts = cellMap('ReportGbvTypeCounts', GBV_TYPES);
const FormCounts = cellMap('ReportFormCounts', VIOLENCE_FORMS);
const SexCounts = cellMap('ReportSexCounts', SEXES);
const AgeGroupCounts = cellMap('ReportAgeGroupCounts', AGE_GROUPS);
const ChildCounts = cellMap('ReportChildCounts', CHILD_DEFINITIONS);
const ChannelCounts = cellMap('ReportChannelCounts', REPORT_CHANNELS);
const SectorCounts = cellMap('ReportSectorCounts', SECTORS);
const StatusCounts = cellMap('ReportStatusCounts', REFERRAL_STATUSES);

const SectorStatusCounts = { ReportSectorStatusCounts: class {} }.ReportSectorStatusCounts;
for (const s of SECTORS) {
  Reflect.defineMetadata('design:type', StatusCounts, SectorStatusCounts.prototype, s);
  ApiProperty({ type: StatusCounts })(SectorStatusCounts.prototype, s);
}

export class ReportAreaCountView {
  @ApiProperty({ example: '00145' }) code!: string;
  @ApiProperty({ example: 'Phường Long Biên' }) nameVi!: string;
  @ApiProperty({ example: 'Long Bien Ward' }) nameEn!: string;
  @ApiProperty(CELL) count!: number | string;
}

export class ReportCasesView {
  @ApiProperty(CELL) total!: number | string;
  @ApiProperty({ type: GbvTypeCounts, description: 'GBVIMS core type; adds up to total' })
  byGbvType!: Record<string, number | string>;
  @ApiProperty({
    type: FormCounts,
    description:
      'Vietnamese forms of violence (Law 13/2022). A case can have several forms: these counts can add up to ' +
      'more than total.',
  })
  byForm!: Record<string, number | string>;
  @ApiProperty({ type: SexCounts }) bySex!: Record<string, number | string>;
  @ApiProperty({ type: AgeGroupCounts, description: 'Age at the report' }) byAgeGroup!: Record<
    string,
    number | string
  >;
  @ApiProperty({
    type: ChildCounts,
    description: 'Children under 16 (Vietnamese law) and under 18 (GBVIMS); cases of unknown age in neither',
  })
  children!: Record<string, number | string>;
  @ApiProperty({ type: ChannelCounts }) byReportChannel!: Record<string, number | string>;
  @ApiPropertyOptional({
    type: [ReportAreaCountView],
    description: 'Every commune of the area (province or commune reports)',
  })
  byCommune?: ReportAreaCountView[];
  @ApiPropertyOptional({
    type: [ReportAreaCountView],
    description: 'Every province (national report of a national supervisor; not in admins’ national totals)',
  })
  byProvince?: ReportAreaCountView[];
}

export class ReportHoursView {
  @ApiProperty(STATISTIC) median!: number | string;
  @ApiProperty(STATISTIC) p90!: number | string;
}

export class ReportReferralsView {
  @ApiProperty(CELL) total!: number | string;
  @ApiProperty({ type: SectorCounts, description: 'Sector of the receiving organisation' })
  bySector!: Record<string, number | string>;
  @ApiProperty({ type: StatusCounts, description: 'Status when the report was generated' })
  byStatus!: Record<string, number | string>;
  @ApiProperty({ type: SectorStatusCounts }) bySectorAndStatus!: Record<
    string,
    Record<string, number | string>
  >;
  @ApiProperty({
    ...CELL,
    description: 'Pending referrals past their response deadline when the report was generated',
  })
  overdue!: number | string;
  @ApiProperty({
    ...STATISTIC,
    description:
      '(accepted + completed) / (accepted + completed + declined), 0–1, 3 decimals; "suppressed" under 5 ' +
      'referrals or when one of those counts is hidden',
  })
  acceptanceRate!: number | string;
  @ApiProperty({
    type: ReportHoursView,
    description:
      'Hours from referral to acceptance (referrals ever accepted; "suppressed" under 5), 1 decimal',
  })
  hoursToAccept!: ReportHoursView;
}

export class ReportPeriodView {
  @ApiProperty({ example: '2026-01-01', description: 'First day, included' }) from!: string;
  @ApiProperty({ example: '2026-12-31', description: 'Last day, included' }) to!: string;
  @ApiProperty({ example: 'Asia/Ho_Chi_Minh' }) timeZone!: string;
  @ApiProperty({ example: 'reported_at', description: 'The case date the period applies to' }) basis!: string;
}

export class ReportAreaView {
  @ApiProperty({ enum: ['national', 'province', 'commune'] }) level!: string;
  @ApiProperty({ nullable: true, type: String, example: '01' }) provinceCode!: string | null;
  @ApiProperty({ nullable: true, type: String, example: null }) wardCode!: string | null;
  @ApiProperty({ example: 'Thành phố Hà Nội' }) nameVi!: string;
  @ApiProperty({ example: 'Hanoi City' }) nameEn!: string;
}

export class ReportProtectionView {
  @ApiProperty({ example: 5, description: 'Counts below this (and above 0) are never shown' })
  threshold!: number;
  @ApiProperty({ example: SMALL_CELL }) smallCell!: string;
  @ApiProperty({ example: SUPPRESSED }) complementary!: string;
  @ApiProperty({
    example: WITHHELD,
    description:
      'Every figure of a section not published, or of a whole report no pattern of hidden cells protects',
  })
  withheld!: string;
  @ApiProperty({ example: 'docs/reports.md' }) rule!: string;
}

export class ReportNoteView {
  @ApiProperty() vi!: string;
  @ApiProperty() en!: string;
}

export class SummaryReportView {
  @ApiProperty({ enum: ['summary'] }) report!: 'summary';
  @ApiProperty({ format: 'date-time' }) generatedAt!: string;
  @ApiProperty({ type: ReportPeriodView }) period!: ReportPeriodView;
  @ApiProperty({ type: ReportAreaView }) area!: ReportAreaView;
  @ApiProperty({ type: ReportProtectionView }) protection!: ReportProtectionView;
  @ApiProperty({ type: [ReportNoteView] }) notes!: ReportNoteView[];
  @ApiProperty({ type: ReportCasesView }) cases!: ReportCasesView;
  @ApiProperty({ type: ReportReferralsView }) referrals!: ReportReferralsView;
}

export class ActionMonthPeriodReportView {
  @ApiProperty({ example: 2026 }) year!: number;
  @ApiProperty({ type: ReportPeriodView }) period!: ReportPeriodView;
  @ApiProperty({ type: ReportCasesView }) cases!: ReportCasesView;
  @ApiProperty({ type: ReportReferralsView }) referrals!: ReportReferralsView;
}

export class ComparisonRowView {
  @ApiProperty({ example: 'cases.byGbvType', description: 'The table (JSON path)' }) table!: string;
  @ApiProperty({ example: 'rape' }) code!: string;
  @ApiProperty({ example: 'Hiếp dâm' }) labelVi!: string;
  @ApiProperty({ example: 'Rape' }) labelEn!: string;
  @ApiProperty({ ...STATISTIC, oneOf: [...CELL.oneOf, { type: 'number' }] }) current!: number | string;
  @ApiProperty({ ...STATISTIC, oneOf: [...CELL.oneOf, { type: 'number' }] }) previous!: number | string;
}

/**
 * The summary of the Action Month of `year` (api-contract: "the same for 15 Nov–15 Dec"): the summary's fields,
 * with `year`; then the year before and the comparison of the two.
 */
export class ActionMonthReportView {
  @ApiProperty({ enum: ['action_month'] }) report!: 'action_month';
  @ApiProperty({ format: 'date-time' }) generatedAt!: string;
  @ApiProperty({ example: 2026, description: 'The Action Month reported: 15 Nov – 15 Dec of this year' })
  year!: number;
  @ApiProperty({ type: ReportPeriodView }) period!: ReportPeriodView;
  @ApiProperty({ type: ReportAreaView }) area!: ReportAreaView;
  @ApiProperty({ type: ReportProtectionView }) protection!: ReportProtectionView;
  @ApiProperty({ type: [ReportNoteView] }) notes!: ReportNoteView[];
  @ApiProperty({ type: ReportCasesView }) cases!: ReportCasesView;
  @ApiProperty({ type: ReportReferralsView }) referrals!: ReportReferralsView;
  @ApiProperty({ type: ActionMonthPeriodReportView, description: 'The Action Month of the year before' })
  previous!: ActionMonthPeriodReportView;
  @ApiProperty({
    type: [ComparisonRowView],
    description: 'Every category side by side, each year protected on its own',
  })
  comparison!: ComparisonRowView[];
}
