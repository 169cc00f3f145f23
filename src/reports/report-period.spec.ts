import { DomainError } from '../common/errors/domain-error';
import { assertActionMonthOver, lastEndedActionMonthYear, summaryPeriod } from './report-period';

const fieldOf = (f: () => unknown): string | undefined => {
  try {
    f();
    return undefined;
  } catch (e) {
    return (e as DomainError).errors?.[0]?.field;
  }
};

describe('report periods for administrators (whole months, over)', () => {
  // 6 December 2026, 09:00 in Hanoi.
  const now = new Date('2026-12-06T02:00:00Z');

  it('by default: the year up to the last month that is over', () => {
    expect(summaryPeriod(undefined, undefined, now, true)).toMatchObject({
      from: '2026-01-01',
      to: '2026-11-30',
    });
    // On the first day of a month, Vietnam time (31 December 2026, 17:30 UTC): the month before is over.
    expect(summaryPeriod(undefined, undefined, new Date('2026-12-31T17:30:00Z'), true)).toMatchObject({
      from: '2026-01-01',
      to: '2026-12-31',
    });
  });

  it('refuses a part of a month, and a month that is not over', () => {
    expect(fieldOf(() => summaryPeriod('2026-11-01', '2026-11-29', now, true))).toBe('to');
    expect(fieldOf(() => summaryPeriod('2026-11-02', '2026-11-30', now, true))).toBe('from');
    expect(fieldOf(() => summaryPeriod('2026-12-01', '2026-12-31', now, true))).toBe('to');
    expect(fieldOf(() => summaryPeriod('2026-01-01', '2099-12-31', now, true))).toBe('to');
    expect(fieldOf(() => summaryPeriod('2026-11-01', '2026-11-30', now, true))).toBeUndefined();
    // Only `from`, in this month: `from` is what is wrong (not the `to` that was not sent).
    expect(fieldOf(() => summaryPeriod('2026-12-01', undefined, now, true))).toBe('from');
    expect(summaryPeriod('2026-03-01', undefined, now, true)).toMatchObject({
      from: '2026-03-01',
      to: '2026-11-30',
    });
    // Supervisors: any days, today included.
    expect(fieldOf(() => summaryPeriod('2026-12-02', '2026-12-06', now))).toBeUndefined();
  });

  it('names the field that is wrong: a `from` that is no date, or after today, not the `to` not sent', () => {
    const messageOf = (f: () => unknown): string | undefined => {
      try {
        f();
        return undefined;
      } catch (e) {
        const [error] = (e as DomainError).errors ?? [];
        return error ? `${error.field}: ${error.message.en}` : undefined;
      }
    };
    expect(messageOf(() => summaryPeriod('2026-13-01', undefined, now, true))).toBe(
      'from: is not a calendar date (YYYY-MM-DD)',
    );
    expect(messageOf(() => summaryPeriod('2099-01-01', undefined, now))).toBe('from: is after today');
    expect(messageOf(() => summaryPeriod('2026-13-01', undefined, now))).toBe(
      'from: is not a calendar date (YYYY-MM-DD)',
    );
    // Both sent: `to` before `from` is said of `to`, as before.
    expect(messageOf(() => summaryPeriod('2026-12-05', '2026-12-01', now))).toBe('to: is before from');
  });

  it('an Action Month once it is over: after 15 December, Vietnam time', () => {
    expect(fieldOf(() => assertActionMonthOver(2026, new Date('2026-12-15T16:59:59Z')))).toBe('year');
    expect(fieldOf(() => assertActionMonthOver(2026, new Date('2026-12-15T17:00:00Z')))).toBeUndefined();
    expect(fieldOf(() => assertActionMonthOver(2025, now))).toBeUndefined();
    // An administrator's default: the last one that is over.
    expect(lastEndedActionMonthYear(now)).toBe(2025);
    expect(lastEndedActionMonthYear(new Date('2026-12-15T17:00:00Z'))).toBe(2026);
  });
});
