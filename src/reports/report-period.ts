import { vietnamDate } from '../cases/case-classification';
import { isCalendarDate } from '../common/http/date-validation';
import { fieldError } from '../common/errors/domain-error';

/**
 * Report periods are calendar dates in Vietnam time (Asia/Ho_Chi_Minh, UTC+7 all year: no daylight saving
 * time since 1975), both ends included, applied to the moment each case was reported (cases.reported_at).
 * In SQL a period is the half-open interval [from 00:00 +07, day after `to` 00:00 +07).
 */

export const REPORT_TIME_ZONE = 'Asia/Ho_Chi_Minh';
const OFFSET = '+07:00';
export const MIN_YEAR = 2000;
export const MAX_YEAR = 2100;

export interface ReportPeriod {
  /** First day, YYYY-MM-DD (included). */
  readonly from: string;
  /** Last day, YYYY-MM-DD (included). */
  readonly to: string;
  /** from 00:00 Vietnam time. */
  readonly start: Date;
  /** The day after `to`, 00:00 Vietnam time (excluded). */
  readonly end: Date;
}

/** Checks that a YYYY-MM-DD string is a real calendar date within the supported years. */
export function checkDate(field: string, value: string): string {
  if (!isCalendarDate(value))
    throw fieldError(field, 'is not a calendar date (YYYY-MM-DD)', 'không phải ngày hợp lệ (YYYY-MM-DD)');
  const y = Number(value.slice(0, 4));
  if (y < MIN_YEAR || y > MAX_YEAR) {
    throw fieldError(
      field,
      `must be between ${MIN_YEAR} and ${MAX_YEAR}`,
      `phải trong khoảng năm ${MIN_YEAR} đến ${MAX_YEAR}`,
    );
  }
  return value;
}

export function periodOf(from: string, to: string): ReportPeriod {
  checkDate('from', from);
  checkDate('to', to);
  if (from > to) throw fieldError('to', 'is before from', 'trước ngày bắt đầu (from)');
  const start = new Date(`${from}T00:00:00${OFFSET}`);
  const end = new Date(new Date(`${to}T00:00:00${OFFSET}`).getTime() + 24 * 3600 * 1000);
  return { from, to, start, end };
}

/**
 * The summary's period: `from` and `to` as given; by default `to` is today (Vietnam time) and `from` is
 * 1 January of the year of `to`.
 *
 * `wholeMonths` (an administrator's report): the period must start on the first day of a month and end on the
 * last day of one, and by default it ends with the last whole month. An administrator reads no triage facts,
 * and reports over any days would let them subtract one from another to get a single day's national counts
 * (docs/reports.md, "Differencing between reports"); whole months leave monthly counts, what is published.
 */
export function summaryPeriod(
  from: string | undefined,
  to: string | undefined,
  now: Date,
  wholeMonths = false,
): ReportPeriod {
  const today = vietnamDate(now);
  const lastMonthEnd = lastDayOfMonthBefore(today);
  const end = to ?? (wholeMonths ? lastMonthEnd : today);
  checkDate(to === undefined ? 'now' : 'to', end);
  if (from !== undefined) checkDate('from', from);
  // Only `from` given, after the default end: that is what is wrong, not the `to` it did not send.
  if (to === undefined && from !== undefined && from > end) {
    throw wholeMonths
      ? fieldError('from', MONTHS_OVER.en, MONTHS_OVER.vi)
      : fieldError('from', 'is after today', 'sau ngày hôm nay');
  }
  const period = periodOf(from ?? `${end.slice(0, 4)}-01-01`, end);
  if (wholeMonths) {
    if (!period.from.endsWith('-01')) {
      throw fieldError('from', WHOLE_MONTHS.en, WHOLE_MONTHS.vi);
    }
    if (!nextDay(period.to).endsWith('-01')) {
      throw fieldError('to', WHOLE_MONTHS.en, WHOLE_MONTHS.vi);
    }
    // A month not over yet would change from one day to the next: read twice, it gives a day.
    if (period.to > lastMonthEnd) {
      throw fieldError('to', MONTHS_OVER.en, MONTHS_OVER.vi);
    }
  }
  return period;
}

const WHOLE_MONTHS = {
  en: 'an administrator’s report covers whole months: from the first day of a month to the last day of a month',
  vi: 'báo cáo của quản trị viên gồm các tháng trọn vẹn: từ ngày đầu tháng đến ngày cuối tháng',
};
const MONTHS_OVER = {
  en: 'an administrator’s report covers months that are over: it ends with last month at the latest',
  vi: 'báo cáo của quản trị viên chỉ gồm các tháng đã kết thúc: muộn nhất là tháng trước',
};

/**
 * An administrator's Action Month: only once it is over (after 15 December, Vietnam time), for the same reason
 * as whole months: read twice while it runs, it would give the days between.
 */
export function assertActionMonthOver(year: number, now: Date): void {
  if (year > lastEndedActionMonthYear(now)) {
    throw fieldError(
      'year',
      'an administrator reads an Action Month once it is over (after 15 December)',
      'quản trị viên chỉ xem Tháng hành động khi đã kết thúc (sau ngày 15 tháng 12)',
    );
  }
}

/** The last day of the month before the month of `date` (YYYY-MM-DD). */
function lastDayOfMonthBefore(date: string): string {
  const [y, m] = date.split('-').map(Number) as [number, number];
  return new Date(Date.UTC(y, m - 1, 0)).toISOString().slice(0, 10);
}

function nextDay(date: string): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + 24 * 3600 * 1000).toISOString().slice(0, 10);
}

/** The Action Month (Tháng hành động vì bình đẳng giới và phòng, chống bạo lực trên cơ sở giới): 15 Nov–15 Dec. */
export function actionMonthPeriod(year: number): ReportPeriod {
  return periodOf(`${year}-11-15`, `${year}-12-15`);
}

/** The latest Action Month that is over: this year's from 16 December (Vietnam time), else last year's. */
export function lastEndedActionMonthYear(now: Date): number {
  return actionMonthYearFrom(now, '12-16');
}

/** The latest Action Month that has begun: this year's from 15 November (Vietnam time), else last year's. */
export function defaultActionMonthYear(now: Date): number {
  return actionMonthYearFrom(now, '11-15');
}

/** This year when today (Vietnam time) is on or after `monthDay` (MM-DD), else last year. */
function actionMonthYearFrom(now: Date, monthDay: string): number {
  const today = vietnamDate(now);
  const year = Number(today.slice(0, 4));
  return today >= `${year}-${monthDay}` ? year : year - 1;
}
