type PgErrorLike = {
  code?: unknown;
  constraint?: unknown;
  driverError?: { code?: unknown; constraint?: unknown };
};

/** The SQLSTATE of a PostgreSQL error, as pg raises it or as TypeORM wraps it (driverError). */
export function sqlState(e: unknown): unknown {
  const err = e as PgErrorLike | undefined;
  return err?.driverError?.code ?? err?.code;
}

/** True when `e` is PostgreSQL's unique_violation (23505), optionally on the named constraint or index. */
export function isUniqueViolation(e: unknown, constraint?: string): boolean {
  const err = e as PgErrorLike | undefined;
  const name = err?.driverError?.constraint ?? err?.constraint;
  return sqlState(e) === '23505' && (constraint === undefined || name === constraint);
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
