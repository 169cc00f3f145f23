import type { EntityManager } from 'typeorm';
import type { AuditService, ChangedRecord } from '../audit/audit.service';
import type { AuditActor } from '../audit/audit.types';

/**
 * SQL: whether grant `alias` is still running, by the database's clock (what endGrants ends) at the statement
 * that asks: not when its transaction began, which may have waited for a lock since (one statement reading it
 * once, an uncorrelated sub-select).
 */
export function liveGrantSql(alias: string): string {
  return `${alias}.expires_at > (SELECT clock_timestamp())`;
}

const LIVE = liveGrantSql('g');

/**
 * Locks the live grants `where` selects (over alias `g`; its parameters from $1 on), in id order, before any
 * access-log entry of the caller's transaction takes a stripe: every path that ends grants locks them so, in the
 * same order, so that two of them (or one and a review) cannot deadlock. `orId`: a grant to lock as well, live or
 * not (the one under review).
 */
export async function lockLiveGrants(
  m: EntityManager,
  where: string,
  params: readonly unknown[],
  orId?: string,
): Promise<void> {
  const extra = orId ? ` OR g.id = $${params.length + 1}` : '';
  await m.query(
    `SELECT 1 FROM break_glass_grants g WHERE (${where}) AND (${LIVE}${extra}) ORDER BY g.id FOR UPDATE`,
    orId ? [...params, orId] : params,
  );
}

/**
 * SQL: a grant row `alias`'s end, brought forward to the moment it is ended (never pushed back): the statement's
 * clock, once the rows are locked, as a close or a revocation is timed, not when the ending transaction began
 * (a read under the grant while that transaction waited for a lock would be logged after the grant's recorded
 * end). At least a microsecond after it opened: the table's CHECK (expires_at > opened_at).
 */
export function endedNowSql(alias: string): string {
  return `least(${alias}.expires_at, greatest((SELECT clock_timestamp()), ${alias}.opened_at + interval '1 microsecond'))`;
}

/**
 * Why grants end before their time: their organisation changed, another grant of the same user to the same case
 * was found unjustified (the reviewed grant itself has its `break_glass.review` entry), the case was closed or
 * shredded, or an administrator changed the account in a way that ends its sessions (disabled it, reset its
 * password or two-factor).
 */
export type GrantEndCause =
  | 'organization_changed'
  | 'organization_retired'
  | 'unjustified'
  | 'case_closed'
  | 'case_shredded'
  | 'account_changed';

/**
 * Ends now the live break-glass grants `where` selects (over alias `g`; its parameters from $1 on: `params`),
 * each with a `break_glass.end` entry in the case's jurisdiction; returns their ids. A plain function, like
 * revokeReferrals, so that the directory can call it without a module cycle (cases → directory).
 */
export async function endGrants(
  m: EntityManager,
  audit: AuditService,
  where: string,
  params: readonly unknown[],
  cause: GrantEndCause,
  by: AuditActor,
): Promise<string[]> {
  const [rows] = await m.query<[ChangedRecord[], number]>(
    `UPDATE break_glass_grants g SET expires_at = ${endedNowSql('g')}
      WHERE ${where} AND ${LIVE}
      RETURNING g.id, g.case_id, g.province_code, g.ward_code`,
    params,
  );
  return audit.recordEach(m, by, rows, {
    action: 'break_glass.end',
    resourceType: 'break_glass',
    fields: [],
    reason: `break_glass.${cause}`,
  });
}
