import type { EntityManager } from 'typeorm';
import type { Principal } from '../authz/principal';
import { DomainError } from '../common/errors/domain-error';

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

/**
 * For an administrator's change of accounts or organisations: the active administrators and the caller locked
 * (FOR NO KEY UPDATE, in id order, as a disabling takes them: the two cannot deadlock), and the caller's session
 * still the one the request came with, else 401 (`auth.unauthenticated`). An administrator disabled or reset
 * while its request waited (a new password being hashed, say) changes nothing; a disabling waits for a change
 * under way, and one it waited for is seen.
 */
export async function holdAdministrator(m: EntityManager, p: Principal): Promise<void> {
  const rows = await m.query<{ id: string; current: boolean }[]>(
    `SELECT id, (status = 'active' AND token_version = $2) AS current FROM users
      WHERE (role = 'admin' AND status = 'active') OR id = $1
      ORDER BY id FOR NO KEY UPDATE`,
    [p.userId, p.tokenVersion],
  );
  if (!rows.some((r) => r.id === p.userId && r.current)) throw new DomainError('auth.unauthenticated');
}
