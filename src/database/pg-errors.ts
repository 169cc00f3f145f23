/** A link of an error chain (errorChain) as the classifications read it. */
type PgErrorLike = { code?: unknown; constraint?: unknown };

/** The first error of `e`'s chain (errorChain) that carries a string code: the database's or the socket's. */
function coded(e: unknown): PgErrorLike | undefined {
  for (const err of errorChain(e)) if (typeof err.code === 'string') return err;
  return undefined;
}

/** The SQLSTATE of a PostgreSQL error, as pg raises it or as TypeORM (driverError) or a cause wraps it. */
export function sqlState(e: unknown): unknown {
  return coded(e)?.code;
}

/** True when `e` is PostgreSQL's unique_violation (23505), optionally on the named constraint or index. */
export function isUniqueViolation(e: unknown, constraint?: string): boolean {
  const err = coded(e);
  return err?.code === '23505' && (constraint === undefined || err.constraint === constraint);
}

/**
 * SQLSTATE of the database's refusal of a data key wrapped with a KEK version older than its floor (migration
 * KekFloors): a key rotation has moved on and this instance does not have the new keyring yet (docs/keys.md).
 */
export const KEK_FLOOR_SQLSTATE = 'HKF01';

/** True when `e` is the database refusing a data key below the KEK floor (KEK_FLOOR_SQLSTATE). */
export function isKekFloorRefusal(e: unknown): boolean {
  return sqlState(e) === KEK_FLOOR_SQLSTATE;
}

/** Driver and server failures that mean "the database is not there right now" rather than a bug. */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  '57P01',
  '57P02',
  '57P03',
  '08000',
  '08001',
  '08003',
  '08006',
]);

/** pg's and the pool's messages for a connection lost or never made; they carry no code. */
const UNAVAILABLE_MESSAGE =
  /Connection terminated|connection timeout|Client has encountered a connection error|timeout exceeded when trying to connect/i;

/**
 * Database refusals that are nobody's mistake and pass: a deadlock or serialization failure (one of two
 * concurrent transactions is rolled back), too many connections, a lock not available, a read-only server
 * during a fail-over. Everything was rolled back; the client may try again at once. (A statement cancelled,
 * 57014, is isStatementCancelled's: the same request would take as long again.)
 */
const TRANSIENT_CODES = new Set(['40P01', '40001', '53300', '55P03', '25006']);

/**
 * `e` and the errors it wraps (TypeORM's `driverError`, an `Error`'s `cause`), outermost first, at most four
 * deep: both classifications below look at the whole chain the same way.
 */
function* errorChain(e: unknown): Generator<{ code?: unknown; message?: unknown }> {
  let cur: unknown = e;
  for (let depth = 0; cur && typeof cur === 'object' && depth < 4; depth++) {
    const err = cur as { code?: unknown; message?: unknown; driverError?: unknown; cause?: unknown };
    yield err;
    cur = err.driverError ?? err.cause;
  }
}

/** True when `e` (or an error it wraps) says the database cannot be reached: a 503 to try again later. */
export function isDatabaseUnavailable(e: unknown): boolean {
  for (const err of errorChain(e)) {
    if (typeof err.code === 'string' && UNAVAILABLE_CODES.has(err.code)) return true;
    if (typeof err.message === 'string' && UNAVAILABLE_MESSAGE.test(err.message)) return true;
  }
  return false;
}

/**
 * A statement cancelled (57014): past HAVEN_DB_STATEMENT_TIMEOUT_MS, or by an operator. Rolled back; the same
 * request would take as long again.
 */
export function isStatementCancelled(e: unknown): boolean {
  for (const err of errorChain(e)) if (err.code === '57014') return true;
  return false;
}

/** True when `e` (or an error it wraps) is a passing refusal (TRANSIENT_CODES): a 503 to try again at once. */
export function isTransientRefusal(e: unknown): boolean {
  for (const err of errorChain(e)) {
    if (typeof err.code === 'string' && TRANSIENT_CODES.has(err.code)) return true;
  }
  return false;
}

/**
 * The rows of a `RETURNING` clause from `DataSource.query`/`EntityManager.query`: TypeORM answers UPDATE and
 * DELETE with `[rows, affectedCount]` and every other statement with the rows themselves.
 */
export function returnedRows<T>(raw: unknown): T[] {
  if (Array.isArray(raw) && raw.length === 2 && Array.isArray(raw[0]) && typeof raw[1] === 'number') {
    return raw[0] as T[];
  }
  return raw as T[];
}
