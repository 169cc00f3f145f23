import { isCalendarDate, isInstant } from './date-validation';

describe('dates and instants of requests', () => {
  it('a calendar date is YYYY-MM-DD and exists', () => {
    for (const ok of ['2026-11-20', '2024-02-29', '1900-01-01', '2100-12-31'])
      expect(isCalendarDate(ok)).toBe(true);
    for (const bad of [
      '2026-02-29',
      '1990-02-31',
      '2026-04-31',
      '2026-13-01',
      '2026-00-10',
      '1899-12-31',
      '2101-01-01',
      '20261120',
      '2026-W47-5',
      '2026-324',
      '2026-11',
      '2026',
      '2026-11-20T09:00:00+07:00',
      ' 2026-11-20',
      20261120,
      null,
    ]) {
      expect(isCalendarDate(bad)).toBe(false);
    }
  });

  it('an instant has a date that exists, a time and its offset (RFC 3339)', () => {
    for (const ok of [
      '2026-11-20T09:00:00+07:00',
      '2026-11-20T09:00+07:00',
      '2026-11-20T09:00:00.123456Z',
      '2026-11-20T23:59:59-05:30',
      '2024-02-29T00:00:00Z',
      '2026-11-20T09:00:00+14:00',
      '2026-11-20T09:00:00-12:00',
    ]) {
      expect(isInstant(ok)).toBe(true);
    }
    for (const bad of [
      '2026-11-20T09:00:00',
      '2026-11-20',
      '2026-W47-5',
      '2026-324',
      '20261120',
      '2026-11-20T09',
      '20261119T210000Z',
      '2026-02-30T09:00:00Z',
      '2026-11-20T24:00:00Z',
      '2026-11-20T09:60:00Z',
      '2026-11-20T09:00:00+25:00',
      '2026-11-20T09:00:00+15:00',
      '2026-11-20T09:00:00+19:00',
      '2026-11-20T09:00:00-16:00',
      '+275760-09-13T00:00:00Z',
      '2026-11-20 09:00:00Z',
      '2026-11-20T09:00:00+0700',
      undefined,
    ]) {
      expect(isInstant(bad)).toBe(false);
    }
  });

  it('every instant it accepts is one that Date reads', () => {
    for (const s of [
      '2026-11-20T09:00+07:00',
      '2026-11-20T09:00:00.123456789Z',
      '1900-01-01T00:00:00-12:00',
    ]) {
      expect(isInstant(s)).toBe(true);
      expect(Number.isNaN(new Date(s).getTime())).toBe(false);
    }
  });
});
