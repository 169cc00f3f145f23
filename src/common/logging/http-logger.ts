import type { Logger } from 'pino';
import pinoHttp, { HttpLogger } from 'pino-http';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** One line per request: id, method, path (query string dropped), status, duration. Never the body. */
export function createHttpLogger(logger: Logger): HttpLogger {
  return pinoHttp({
    logger,
    genReqId: (req) => (req as IncomingMessage & { id?: string }).id ?? 'unknown',
    customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : 'info'),
    serializers: {
      req: (req: { id: string; method: string; url: string; raw?: IncomingMessage }) => ({
        id: req.id,
        method: req.method,
        path: String(req.url ?? '').split('?')[0],
        remoteAddress: req.raw?.socket?.remoteAddress,
      }),
      res: (res: { statusCode: number; raw?: ServerResponse }) => ({ statusCode: res.statusCode }),
    },
    wrapSerializers: false,
    quietReqLogger: true,
    customSuccessMessage: () => 'request completed',
    customErrorMessage: () => 'request failed',
  });
}
