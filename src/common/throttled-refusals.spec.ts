import { DomainError } from './errors/domain-error';
import { ThrottledRefusals } from './throttled-refusals';

describe('ThrottledRefusals', () => {
  beforeEach(() => jest.useFakeTimers({ now: new Date('2026-12-07T10:00:00Z') }));
  afterEach(() => jest.useRealTimers());

  const refused = (
    r: ThrottledRefusals,
    userId: string,
    waitMs: number,
    record: jest.Mock,
    quietMs?: number,
  ) =>
    r
      .refuse(userId, waitMs, record, { quietMs, detail: (s) => ({ en: `in ${s} s`, vi: `sau ${s} giây` }) })
      .then(
        () => {
          throw new Error('not refused');
        },
        (e: DomainError) => e,
      );

  it('answers 429 auth.throttled with the wait in whole seconds (at least one), and the text given them', async () => {
    const r = new ThrottledRefusals();
    const record = jest.fn().mockResolvedValue(undefined);
    const e = await refused(r, 'u1', 2_100, record);
    expect([e.code, e.retryAfterSeconds, e.detail?.en]).toEqual(['auth.throttled', 3, 'in 3 s']);
    expect((await refused(r, 'u2', 0, record)).retryAfterSeconds).toBe(1);
    expect(record).toHaveBeenCalledWith(e);
  });

  it('writes a user’s refusal once per wait, again once it is over; others’ apart', async () => {
    const r = new ThrottledRefusals();
    const record = jest.fn().mockResolvedValue(undefined);
    await refused(r, 'u1', 10_000, record);
    await refused(r, 'u1', 9_000, record);
    await refused(r, 'u2', 10_000, record);
    expect(record).toHaveBeenCalledTimes(2);
    jest.advanceTimersByTime(10_001);
    await refused(r, 'u1', 10_000, record);
    expect(record).toHaveBeenCalledTimes(3);
  });

  it('keeps quiet for quietMs when the wait is shorter', async () => {
    const r = new ThrottledRefusals();
    const record = jest.fn().mockResolvedValue(undefined);
    await refused(r, 'u1', 0, record, 60_000);
    jest.advanceTimersByTime(59_000);
    await refused(r, 'u1', 0, record, 60_000);
    expect(record).toHaveBeenCalledTimes(1);
    jest.advanceTimersByTime(1_001);
    await refused(r, 'u1', 0, record, 60_000);
    expect(record).toHaveBeenCalledTimes(2);
  });

  it('a refusal whose entry could not be written is written by the next (the failure goes on to the caller)', async () => {
    const r = new ThrottledRefusals();
    const record = jest.fn().mockRejectedValueOnce(new Error('database gone')).mockResolvedValue(undefined);
    await expect(r.refuse('u1', 10_000, record)).rejects.toThrow('database gone');
    await refused(r, 'u1', 10_000, record);
    expect(record).toHaveBeenCalledTimes(2);
  });
});
