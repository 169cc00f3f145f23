import { performance } from 'node:perf_hooks';

/**
 * Runs an expensive task for many callers at a bounded pace, one run at a time in this process. A run begins no
 * sooner than `restMs(duration of the previous run)` after the previous one ended, and every caller that asks
 * before it begins shares it: a caller in a loop (one request after another) gets one run per rest, however fast
 * it asks, and so do a thousand callers at once.
 *
 * `next()` answers with a run that begins after the call (what it covers includes whatever the caller did
 * before); `current()` with the run under way if there is one (it began before the call), else the next.
 */
export class PacedTask<T> {
  private running: Promise<T> | null = null;
  private due: Promise<T> | null = null;
  private endedAt = Number.NEGATIVE_INFINITY;
  private restAfter = 0;

  constructor(
    private readonly task: () => Promise<T>,
    private readonly restMs: (durationMs: number) => number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** The run under way, or else the next one. */
  current(): Promise<T> {
    return this.running ?? this.next();
  }

  /**
   * How long a run asked for now would wait for the rest (ms): 0 while one runs or one is due (a caller then
   * joins it), or once the rest is over.
   */
  restLeftMs(): number {
    if (this.running || this.due) return 0;
    return Math.max(0, this.endedAt + this.restAfter - this.now());
  }

  /** The next run: it begins after this call, once the run under way has ended and rested. */
  next(): Promise<T> {
    if (this.due) return this.due;
    const due = this.rested().then(() => {
      this.due = null;
      return this.start();
    });
    this.due = due;
    return due;
  }

  private async rested(): Promise<void> {
    if (this.running) await this.running.catch(() => undefined);
    const wait = this.endedAt + this.restAfter - this.now();
    // Unref'd: a caller still waiting holds no process open (a stop waits for its request, within its timeout).
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait).unref());
  }

  private start(): Promise<T> {
    const began = this.now();
    const run = (async () => this.task())().finally(() => {
      this.endedAt = this.now();
      this.restAfter = Math.max(0, this.restMs(this.endedAt - began));
      if (this.running === run) this.running = null;
    });
    this.running = run;
    return run;
  }
}
