import type { ReportAreaView, ReportPeriodView } from './dto/report-view.dto';
import { InfoRow, reportCsv } from './report-csv';
import { REPORT_NOTES } from './report-labels';
import type { ActionMonthResult, SummaryResult } from './reports.service';

/** The CSV files of the two reports: information rows (report, area, period, rule, notes), then the figures. */

export function summaryCsv({ view, rows }: SummaryResult): string {
  return reportCsv(
    ['gia_tri / value'],
    [
      { code: 'report', label: { vi: 'Báo cáo', en: 'Report' }, values: ['summary'] },
      ...areaInfo(view.area, 1),
      ...periodInfo(view.period, [view.period.from], [view.period.to]),
      ...commonInfo(view.generatedAt, 1),
    ],
    [rows],
  );
}

export function actionMonthCsv({ view, current, previous }: ActionMonthResult): string {
  const years = [view.year, view.previous.year];
  return reportCsv(
    years.map((y) => `nam_${y} / year_${y}`),
    [
      { code: 'report', label: { vi: 'Báo cáo', en: 'Report' }, values: ['action_month', 'action_month'] },
      ...areaInfo(view.area, 2),
      ...periodInfo(
        view.period,
        [view.period.from, view.previous.period.from],
        [view.period.to, view.previous.period.to],
      ),
      ...commonInfo(view.generatedAt, 2),
    ],
    [current, previous],
  );
}

function areaInfo(area: ReportAreaView, columns: number): InfoRow[] {
  const code = area.wardCode ?? area.provinceCode ?? 'VN';
  return [
    {
      code: 'area',
      label: { vi: 'Địa bàn', en: 'Area' },
      values: repeat(`${area.nameVi} / ${area.nameEn}`, columns),
    },
    { code: 'area_code', label: { vi: 'Mã địa bàn', en: 'Area code' }, values: repeat(code, columns) },
  ];
}

function periodInfo(p: ReportPeriodView, from: string[], to: string[]): InfoRow[] {
  return [
    { code: 'from', label: { vi: 'Từ ngày (tính cả ngày này)', en: 'From (included)' }, values: from },
    { code: 'to', label: { vi: 'Đến ngày (tính cả ngày này)', en: 'To (included)' }, values: to },
    {
      code: 'time_zone',
      label: { vi: 'Múi giờ', en: 'Time zone' },
      values: from.map(() => p.timeZone),
    },
    {
      code: 'basis',
      label: { vi: 'Tính theo ngày tiếp nhận vụ việc', en: 'On the date each case was reported' },
      values: from.map(() => p.basis),
    },
  ];
}

function commonInfo(generatedAt: string, columns: number): InfoRow[] {
  return [
    {
      code: 'generated_at',
      label: { vi: 'Thời điểm lập báo cáo (UTC)', en: 'Generated at (UTC)' },
      values: repeat(generatedAt, columns),
    },
    ...REPORT_NOTES.map((note, i) => ({ code: `note_${i + 1}`, label: note, values: repeat(null, columns) })),
  ];
}

function repeat<T>(value: T, n: number): T[] {
  return Array.from({ length: n }, () => value);
}
