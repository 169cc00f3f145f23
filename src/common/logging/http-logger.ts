import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { clientAddressOf, requestIdOf } from '../http/request-context';

/**
 * One line per request when it ends: its id, method, the route it matched (its template: `/api/v1/cases/:id`,
 * never the path as sent: a client's mistaken path may hold a name or a phone number, as a query string may; a
 * path that matched no route is not written, `route: null`), the client's address, the status and the duration.
 * Never a header or the body. A response that fails or answers 5xx is logged at
 * `error`; a connection closed before the response was complete says so (`aborted: true`).
 *
 * pino-http did this before, with two child loggers, three listeners and a few arrays per request: the largest
 * allocation site of the objects that outlived their request in a heap profile under load (docs/performance.md).
 */
export function createHttpLogger(logger: Logger): RequestHandler {
  return (req: Request, res: Response, next: NextFunction): void => {
    const started = Date.now();
    const id = requestIdOf(req);
    let logged = false;
    // 'close' comes once the response is sent or the connection is gone; an 'error' may come before it.
    const done = (err?: unknown): void => {
      if (logged) return;
      logged = true;
      const aborted = !res.writableFinished;
      // Known once a route has taken the request (Express keeps it on the request).
      const route = (req.route as { path?: unknown } | undefined)?.path;
      const entry = {
        reqId: id,
        req: {
          id,
          method: req.method,
          // (Nest's catch-all for unknown paths under the prefix, `*path`, is no route of Haven's.)
          route: typeof route === 'string' && !route.startsWith('*') ? route : null,
          remoteAddress: clientAddressOf(req),
        },
        res: { statusCode: res.statusCode },
        responseTime: Date.now() - started,
        ...(aborted ? { aborted: true } : {}),
        ...(err instanceof Error ? { err } : {}),
      };
      // A 503 (the service or its database unavailable: ProblemFilter logged why) is a warning: a flood of them
      // must not bury the errors.
      if (err || (res.statusCode >= 500 && res.statusCode !== 503)) logger.error(entry, 'request failed');
      else if (res.statusCode === 503) logger.warn(entry, 'request refused');
      else logger.info(entry, aborted ? 'request aborted' : 'request completed');
    };
    res.once('close', done);
    res.once('error', done);
    next();
  };
}
