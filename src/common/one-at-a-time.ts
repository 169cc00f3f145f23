/**
 * Work keyed by a string, run one at a time per key in this process, in the order asked: a second call with a
 * key starts once the first's work has settled, whether it succeeded or failed. A key is forgotten once no work of
 * it is waiting or running.
 */
export class OneAtATime {
  /** Per key, the end of its last work (never rejected). */
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const result = (this.tails.get(key) ?? Promise.resolve()).then(work);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    try {
      return await result;
    } finally {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }

  /** Keys with work waiting or running. */
  get size(): number {
    return this.tails.size;
  }
}
