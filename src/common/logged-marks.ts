/**
 * Per key, until when a repeated event was already written to the access log in this process (a refused
 * session's token, a locked sign-in key, an account over its search limit), so that its repeats are answered
 * without an entry each. Bounded: past a size, marks already over go first, then all.
 */
export class LoggedMarks {
  private readonly marks = new Map<string, number>();

  constructor(private readonly kept = 10_000) {}

  /** Until when `key` is marked (epoch ms), or undefined. */
  until(key: string): number | undefined {
    return this.marks.get(key);
  }

  /** Whether `key` is marked past `now`. */
  holds(key: string, now = Date.now()): boolean {
    return (this.marks.get(key) ?? 0) > now;
  }

  mark(key: string, until: number): void {
    if (this.marks.size >= this.kept && !this.marks.has(key)) {
      const now = Date.now();
      for (const [k, end] of this.marks) if (end <= now) this.marks.delete(k);
      if (this.marks.size >= this.kept) this.marks.clear();
    }
    this.marks.set(key, until);
  }

  /** The entry was not written after all: the next repeat tries again. */
  forget(key: string): void {
    this.marks.delete(key);
  }

  /**
   * Writes the entry (`write`) unless every one of `keys` is marked: past now, or (`perUntil`) until exactly its
   * `until` (one entry per key and end: a lock that ends at another time is another lock). Marks them first, each
   * until its `until`, so that repeats arriving meanwhile write nothing, and forgets them if the write fails (the
   * next repeat tries again; the failure goes on to the caller). Returns whether it wrote.
   */
  async once(
    keys: readonly { key: string; until: number }[],
    write: () => Promise<unknown>,
    { perUntil = false } = {},
  ): Promise<boolean> {
    const now = Date.now();
    const marked = (k: { key: string; until: number }) =>
      perUntil ? this.marks.get(k.key) === k.until : this.holds(k.key, now);
    if (keys.length > 0 && keys.every(marked)) return false;
    for (const k of keys) this.mark(k.key, k.until);
    try {
      await write();
      return true;
    } catch (e) {
      for (const k of keys) this.forget(k.key);
      throw e;
    }
  }
}
