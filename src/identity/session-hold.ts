import type { EntityManager } from 'typeorm';
import type { Principal } from '../authz/principal';

/**
 * Holds the caller's account (FOR SHARE, until the transaction ends) when its session is still the one the
 * request came with (active, same token version); false when it ended meanwhile (disabled, password or
 * two-factor reset, e.g. while a step-up's password was being hashed). An account change waits for the holder,
 * and one it waited for is seen. Taken before anything the step acts on, as every path takes an account first.
 */
export async function holdSession(m: EntityManager, p: Principal): Promise<boolean> {
  const rows = await m.query<unknown[]>(
    `SELECT 1 FROM users WHERE id = $1 AND status = 'active' AND token_version = $2 FOR SHARE`,
    [p.userId, p.tokenVersion],
  );
  return rows.length > 0;
}
