/**
 * A per-key sliding-window limit kept in memory (per instance): it slows enumeration, e.g. of survivors by
 * name through search, without a round trip to the database. With N instances the effective limit is N times
 * higher; sign-in throttling, which must hold across instances, lives in PostgreSQL instead.
 */
export class SlidingWindowLimiter {
  private readonly hits = new Map<string, number[]>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Counts a hit for `key`; returns false (and does not count it) when the key is over its limit. */
  take(key: string): boolean {
    const t = this.now();
    const recent = (this.hits.get(key) ?? []).filter((at) => at > t - this.windowMs);
    if (recent.length >= this.limit) {
      this.hits.set(key, recent);
      return false;
    }
    recent.push(t);
    this.hits.set(key, recent);
    if (this.hits.size > 10_000) this.sweep(t);
    return true;
  }

  /** Milliseconds until `key` may take a hit again (0 when it may now). */
  msUntilFree(key: string): number {
    const t = this.now();
    const recent = (this.hits.get(key) ?? []).filter((at) => at > t - this.windowMs);
    if (recent.length < this.limit) return 0;
    // The oldest hits leave the window first; one slot frees when the (length - limit + 1)th oldest does.
    return recent[recent.length - this.limit] + this.windowMs - t;
  }

  private sweep(t: number): void {
    for (const [key, list] of this.hits)
      if (!list.some((at) => at > t - this.windowMs)) this.hits.delete(key);
  }
}
