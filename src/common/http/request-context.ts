import { isIP } from 'node:net';
import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';

/**
 * Where a request came from, for the access log: its id (echoed as X-Request-Id), the client's address (the
 * socket's peer unless HAVEN_TRUST_PROXY names the load balancers) and its User-Agent header.
 *
 * It travels explicitly: on the signed-in principal (JwtStrategy), in the credentials of a sign-in, and as an
 * argument where the system acts inside a request. An AsyncLocalStorage carried it before; on Node 20 that
 * runs a hook on every promise the process creates, which cost a case read a fifth to a quarter of the
 * service's CPU (bench/results/http-before-after.md, fifteenth round).
 */
export interface RequestContext {
  readonly requestId: string;
  readonly ip?: string;
  readonly userAgent?: string;
}

type WithId = Request & { id?: string; clientAddress?: string };

/**
 * A caller-supplied request id (X-Request-Id, from a load balancer or a client) is kept only when it looks
 * machine-made: a UUID, or 16 to 64 hexadecimal digits with at least one letter among them (nginx's
 * `$request_id` has 32; one without a letter, one time in millions, is replaced). Anything else is replaced by a
 * UUID: no words, and no number alone (a phone number with a timestamp after it), so a client cannot put a name
 * or a phone number into the logs and the access log through it. The access log's guard
 * (src/audit/audit-entry.guard.ts) holds entries to the same form.
 */
export const ACCEPTABLE_REQUEST_ID =
  /^(?:[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}|(?=[0-9]*[A-Fa-f])[0-9A-Fa-f]{16,64})$/;

export function requestIdOf(req: Request): string {
  return (req as WithId).id ?? 'unknown';
}

/**
 * The client's address, decided once per request by requestContextMiddleware: the socket's peer unless
 * HAVEN_TRUST_PROXY names it a proxy (Express's `req.ip`). The access log and the request log both take it.
 */
export function clientAddressOf(req: Request): string | undefined {
  return (req as WithId).clientAddress;
}

/** The context of a request that passed requestContextMiddleware. */
export function requestContextOf(req: Request): RequestContext {
  return {
    requestId: requestIdOf(req),
    ip: clientAddressOf(req),
    userAgent: req.header('user-agent'),
  };
}

/**
 * An address as the access log and the sign-in throttle take it. What a trusted proxy put in X-Forwarded-For
 * is not always one: some append the client's port (`203.0.113.7:51234`, `[2001:db8::1]:443`), which is
 * dropped; anything else is no address (the socket's peer, the proxy, stands in). Otherwise every logged
 * request behind such a proxy failed, and the throttle counted per port.
 */
function plainAddress(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (isIP(value)) return value;
  const withPort = /^(?:\[([0-9A-Fa-f:.]+)\]|(\d{1,3}(?:\.\d{1,3}){3})):\d{1,5}$/.exec(value.trim());
  const host = withPort?.[1] ?? withPort?.[2];
  return host && isIP(host) ? host : undefined;
}

/** Gives every request an id (echoed as X-Request-Id), for the logger, errors and the access log. */
export function requestContextMiddleware(req: Request, res: Response, next: NextFunction): void {
  const incoming = req.header('x-request-id');
  const requestId = incoming && ACCEPTABLE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
  (req as WithId).id = requestId;
  (req as WithId).clientAddress = plainAddress(req.ip) ?? req.socket.remoteAddress;
  res.setHeader('X-Request-Id', requestId);
  next();
}
