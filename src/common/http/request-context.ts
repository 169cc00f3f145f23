import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';

export interface RequestContext {
  requestId: string;
  /** The client's address as the socket sees it (`trust proxy` is off) and its User-Agent header, for the access log. */
  ip?: string;
  userAgent?: string;
}

const storage = new AsyncLocalStorage<RequestContext>();

export function currentRequestId(): string | undefined {
  return storage.getStore()?.requestId;
}

/** The context of the request being handled, if any (the access log takes its metadata from it). */
export function currentRequestContext(): Readonly<RequestContext> | undefined {
  return storage.getStore();
}

// A caller-supplied id is kept only when it is short and plain, so it cannot smuggle text into logs.
const ACCEPTABLE_ID = /^[A-Za-z0-9._-]{8,64}$/;

export function requestIdOf(req: Request): string {
  return (req as Request & { id?: string }).id ?? 'unknown';
}

/** Gives every request an id (echoed as X-Request-Id) and makes it available to the logger and errors. */
export function requestContextMiddleware(req: Request, res: Response, next: NextFunction): void {
  const incoming = req.header('x-request-id');
  const requestId = incoming && ACCEPTABLE_ID.test(incoming) ? incoming : randomUUID();
  (req as Request & { id?: string }).id = requestId;
  res.setHeader('X-Request-Id', requestId);
  const userAgent = req.header('user-agent');
  storage.run({ requestId, ip: req.ip ?? req.socket.remoteAddress, userAgent }, () => next());
}
