import type { NextFunction, Request, Response } from 'express';

/**
 * The requests whose handling has not ended, whether or not their client is still connected.
 *
 * A stop waits for the connections to drain, but a client that hangs up ends its connection at once while its
 * handler goes on (waiting for a row lock, hashing a password, writing the access-log entry of a refusal). Were
 * the shutdown hooks run then, the hashing workers stopped and the pool ended under that handler, and its
 * access-log entry was lost. A request's handling ends when its answer is ended (`res.end`), which every path
 * reaches, a client gone or not: Nest's answer, the problem filter's, the body parser's errors.
 */
export class HandlersInFlight {
  private running = 0;
  private waiting: (() => void)[] = [];

  /** How many requests are being handled now. */
  get count(): number {
    return this.running;
  }

  /**
   * Express middleware, first in the chain: counts the request until its answer is ended, or until its
   * connection closes once its answer has begun (a file streamed to a client that hung up is never ended: its
   * stream is destroyed). A handler still working on an unanswered request has sent no headers: still counted.
   */
  readonly track = (_req: Request, res: Response, next: NextFunction): void => {
    this.running += 1;
    const end = res.end.bind(res) as (...args: unknown[]) => Response;
    let ended = false;
    const done = () => {
      if (ended) return;
      ended = true;
      this.left();
    };
    res.end = ((...args: unknown[]) => {
      done();
      return end(...args);
    }) as Response['end'];
    res.once('close', () => {
      if (res.headersSent) done();
    });
    next();
  };

  /** Resolves once no request is being handled. */
  settled(): Promise<void> {
    if (this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private left(): void {
    this.running -= 1;
    if (this.running > 0) return;
    const waiting = this.waiting;
    this.waiting = [];
    for (const resolve of waiting) resolve();
  }
}
