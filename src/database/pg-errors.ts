/** True when `e` is PostgreSQL's unique_violation (23505), optionally on the named constraint or index. */
export function isUniqueViolation(e: unknown, constraint?: string): boolean {
  const err = e as {
    code?: unknown;
    constraint?: unknown;
    driverError?: { code?: unknown; constraint?: unknown };
  };
  const code = err?.driverError?.code ?? err?.code;
  const name = err?.driverError?.constraint ?? err?.constraint;
  return code === '23505' && (constraint === undefined || name === constraint);
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
