import { createHash } from 'node:crypto';
import { Client, Query } from 'pg';

/**
 * Named (server-side prepared) statements for every parameterised query, without touching the call sites.
 *
 * TypeORM hands `EntityManager.query(text, values)` to the pool's client as `client.query(text, values)`, and
 * node-postgres then sends an unnamed statement: PostgreSQL parses, analyses and plans it again on every
 * execution. On the hot paths that planning was the larger part of the database's time (docs/performance.md:
 * ~280 µs to plan the session check, which runs in ~70 µs). This client gives each parameterised text a
 * stable name derived from the text, so each connection parses it once and PostgreSQL's plan cache can reuse a
 * generic plan (it still plans per execution while a custom plan is cheaper: the first five executions, and
 * statements whose best plan depends on the values).
 *
 * Only statements given a values array are named: those with bind parameters (the consent-expiry check among
 * them: planned on every call it cost 0.45 ms, run 0.01 ms), and a statement without any whose caller passes `[]`
 * to have its plan kept. Those without one - BEGIN, COMMIT, DDL, `SELECT 1` - are sent as before. At most MAX_PER_CONNECTION
 * distinct texts per connection (further texts run unnamed); the statement's values never take part in the
 * name. Prepared statements belong to a server connection, so a pooler in transaction mode must track them
 * (PgBouncer >= 1.21 with `max_prepared_statements`) or they must be turned off: HAVEN_DB_PREPARED_STATEMENTS=0
 * (docs/deployment.md).
 */
export const MAX_PER_CONNECTION = 500;

const names = new Map<string, string>();
const MAX_NAMES = 4 * MAX_PER_CONNECTION;

/** The statement name of a query text: a hash of the text (names are at most 63 bytes). */
export function statementName(text: string): string {
  let name = names.get(text);
  if (name === undefined) {
    name = `haven_${createHash('sha256').update(text).digest('base64url').slice(0, 32)}`;
    if (names.size >= MAX_NAMES) names.clear(); // a cache of a pure function: dropping it only costs hashing
    names.set(text, name);
  }
  return name;
}

/** A node-postgres Client that prepares its parameterised statements (see the module comment). */
export class PreparingClient extends Client {
  private readonly named = new Set<string>();

  /** The name to send `text` under on this connection, or undefined to send it unnamed (over the limit). */
  statementFor(text: string): string | undefined {
    const name = statementName(text);
    if (this.named.has(name)) return name;
    if (this.named.size >= MAX_PER_CONNECTION) return undefined;
    this.named.add(name);
    return name;
  }
}

// Assigned outside the class body so that PreparingClient keeps all of Client.query's overloads.
// eslint-disable-next-line @typescript-eslint/unbound-method -- called with .call(this) below
const sendQuery = Client.prototype.query as (this: Client, ...args: unknown[]) => unknown;
PreparingClient.prototype.query = function (
  this: PreparingClient,
  config: unknown,
  values?: unknown,
  callback?: unknown,
): unknown {
  if (typeof config === 'string' && Array.isArray(values)) {
    const name = this.statementFor(config);
    if (name) {
      const sent = sendNamed(this, name, config, values);
      if (typeof callback !== 'function') return sent;
      // The callback form (node-postgres then returns nothing): answered from the same promise.
      const answer = callback as (err: unknown, res?: unknown) => void;
      sent.then(
        (res) => answer(null, res),
        (err: unknown) => answer(err),
      );
      return undefined;
    }
  }
  return sendQuery.call(this, config, values, callback);
} as Client['query'];

/**
 * A named statement as node-postgres would run `client.query({ name, text }, values)`, without its copy of that
 * config object: node-postgres copies every config object through its property descriptors (~3 µs a query),
 * where a text is wrapped for free. The promise settles as node-postgres' own does, the error's stack leading
 * back here rather than to the socket.
 */
function sendNamed(client: Client, name: string, text: string, values: unknown[]): Promise<unknown> {
  const query = new Query(text, values) as Query & {
    name?: string;
    callback?: (err: Error | undefined, res: unknown) => void;
  };
  query.name = name;
  return new Promise((resolve, reject) => {
    query.callback = (err, res) => (err ? reject(err) : resolve(res));
    sendQuery.call(client, query);
  }).catch((err: unknown) => {
    if (err instanceof Error) Error.captureStackTrace(err);
    throw err;
  });
}
