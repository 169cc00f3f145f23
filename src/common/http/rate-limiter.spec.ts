import { SlidingWindowLimiter } from './rate-limiter';

describe('SlidingWindowLimiter', () => {
  it('allows `limit` hits per window and per key, then refuses until the window slides', () => {
    let now = 0;
    const limiter = new SlidingWindowLimiter(3, 1000, () => now);
    expect([1, 2, 3, 4].map(() => limiter.take('a'))).toEqual([true, true, true, false]);
    expect(limiter.take('b')).toBe(true);
    now = 999;
    expect(limiter.take('a')).toBe(false);
    now = 1001;
    expect(limiter.take('a')).toBe(true);
  });

  it('tells how long until a key over its limit may take a hit again', () => {
    let now = 0;
    const limiter = new SlidingWindowLimiter(2, 1000, () => now);
    expect(limiter.msUntilFree('a')).toBe(0);
    limiter.take('a');
    now = 300;
    limiter.take('a');
    expect(limiter.take('a')).toBe(false);
    expect(limiter.msUntilFree('a')).toBe(700); // the hit at 0 leaves the window at 1000
    now = 1000;
    expect(limiter.msUntilFree('a')).toBe(0);
    expect(limiter.take('a')).toBe(true);
    expect(limiter.msUntilFree('a')).toBe(300); // now the hit at 300 is the oldest
  });
});
