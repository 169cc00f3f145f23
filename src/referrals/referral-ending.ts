import type { EntityManager } from 'typeorm';
import { LIVE_REFERRAL_STATUSES } from '../authz/subjects';
import type { AuditService, ChangedRecord } from '../audit/audit.service';
import type { AuditActor, AuditRequestMeta } from '../audit/audit.types';
import type { RevokeCause } from './referral-state';

/**
 * How referrals end when their ground does (a consent withdrawn or expired, a case closed or shredded, an
 * organisation changed): locked first, in id order, then revoked each with its access-log entry. The
 * break-glass module's grant-ending.ts does the same for emergency grants.
 */

/**
 * Who revokes: the officer withdrawing a consent, or the system on expiry, acting inside the request that
 * noticed it (whose metadata its access-log entries carry, as an actor's would).
 */
export type Revoker = AuditActor | { readonly system: true; readonly request: AuditRequestMeta };

/** SQL: whether referral `alias` is still live, pending or accepted (what revokeReferrals revokes). */
export function liveReferralSql(alias: string): string {
  return `${alias}.status IN (${LIVE_REFERRAL_STATUSES.map((st) => `'${st}'`).join(', ')})`;
}

const LIVE_REFERRAL = liveReferralSql('r');

/**
 * SQL over `alias`: a referral's place in a list, waiting for an answer (pending) first, then accepted, then
 * ended. The expression of the inbox's index (migration InboxNewestAnswered): change both together.
 */
function referralListRankSql(alias: string): string {
  return `(CASE ${alias}.status WHEN 'pending' THEN 0 WHEN 'accepted' THEN 1 ELSE 2 END)`;
}

/**
 * SQL over `alias`: the order of a list of referrals (an ORDER BY list): waiting for an answer (pending) first,
 * most urgent deadline first; then accepted, then ended, newest referral first (by when it was made, not when it
 * was answered: a referral of long ago declined today is among those of its time). An answered referral's deadline
 * is past and says nothing any more, and oldest first put the newest at the far end of a long list, past the pages
 * that can be asked for. The columns of the inbox's index (migration
 * InboxNewestAnswered): change both together.
 */
export function referralListOrderSql(alias: string): string {
  return `${referralListRankSql(alias)}, (CASE WHEN ${alias}.status = 'pending' THEN ${alias}.due_at END),
    ${alias}.created_at DESC, ${alias}.id`;
}

/**
 * SQL: consent `cs` has expired (not withdrawn: a withdrawal revokes its referrals itself) by the statement's
 * clock, once its caller holds what it locked: the referrals it still grounds are revoked for `consent_expired`.
 */
export function consentExpiredByNowSql(cs: string): string {
  return `(${cs}.withdrawn_at IS NULL AND ${cs}.expires_at <= (SELECT clock_timestamp()))`;
}

/**
 * SQL: whether referral `alias` is overdue, pending past its deadline, at `at` (by default the database's now(),
 * the clock its times are written by: every instance judges alike, whatever its own clock says).
 */
export function overdueSql(alias: string, at = 'now()'): string {
  return `(${alias}.status = 'pending' AND ${alias}.due_at < ${at})`;
}

/**
 * Locks the live referrals `where` selects (over alias `r`, with the case as `c`; its parameters from $1 on),
 * in id order, as every change of several referrals takes them (two such changes never hold one each while
 * waiting for the other's), and before any access-log entry of the caller's transaction takes a stripe (a
 * referral's move takes its row, then a stripe). Returns their ids; `skipLocked`: only those no other
 * transaction holds.
 */
export async function lockLiveReferrals(
  m: EntityManager,
  where: string,
  params: readonly unknown[],
  opts: { skipLocked?: boolean } = {},
): Promise<string[]> {
  const rows = await m.query<{ id: string }[]>(
    `SELECT r.id FROM referrals r JOIN cases c ON c.id = r.case_id
      WHERE (${where}) AND ${LIVE_REFERRAL} ORDER BY r.id FOR UPDATE OF r${opts.skipLocked ? ' SKIP LOCKED' : ''}`,
    params,
  );
  return rows.map((r) => r.id);
}

/**
 * Revokes the live referrals `where` selects (over alias `r`, with the case as `c`; its parameters from $1 on),
 * each with its access-log entry; returns their ids. Shared by the ends of a referral's ground: its consent,
 * its case, its organisation. Those among them whose consent had already expired (not yet swept: access
 * decisions took them as revoked since) are revoked for that, by the system, and are not among the ids: a
 * case's close or an organisation's change did not end them, and their history says when their ground ended.
 * `skipLocked` (the expiry sweep): only those no other transaction holds (another request sweeping the same
 * ones, or a move of one); a request does not wait, a pool connection held, for a sweep it does not need (access
 * decisions take them as revoked already), and what is skipped is swept by a later request.
 */
export async function revokeReferrals(
  m: EntityManager,
  audit: AuditService,
  where: string,
  params: readonly unknown[],
  cause: RevokeCause,
  by: Revoker,
  opts: { skipLocked?: boolean } = {},
): Promise<string[]> {
  const locked = await lockLiveReferrals(m, where, params, opts);
  if (opts.skipLocked) {
    if (locked.length === 0) return [];
    [where, params] = ['r.id = ANY($1)', [locked]];
  }
  if (cause !== 'consent_expired' && cause !== 'consent_withdrawn') {
    await revokeLocked(
      m,
      audit,
      `(${where}) AND EXISTS (SELECT 1 FROM consents cs WHERE cs.id = r.consent_id AND ${consentExpiredByNowSql('cs')})`,
      params,
      'consent_expired',
      { system: true, request: by.request ?? {} },
    );
  }
  return revokeLocked(m, audit, where, params, cause, by);
}

/** revokeReferrals' revocation of rows its caller has locked: the update and one entry per referral. */
async function revokeLocked(
  m: EntityManager,
  audit: AuditService,
  where: string,
  params: readonly unknown[],
  cause: RevokeCause,
  by: Revoker,
): Promise<string[]> {
  const actor = 'system' in by ? null : by;
  // The system's revocations run within whichever request came first (the expiry sweep, before anyone's read,
  // for the whole country): its entries keep that request's id, not its address and user agent, which would
  // show another user's where a case's supervisors look (and say nothing of the revocation).
  const request = actor ? by.request : { requestId: by.request?.requestId ?? null };
  const n = params.length;
  // Timed once the rows are locked (revokeReferrals), as a move is: not when the transaction began, before it
  // waited; one time for all of them (an uncorrelated subquery runs once per statement). An expired consent's
  // referral ended when the consent did (access decisions took it as revoked from then), not when it was swept.
  const now = '(SELECT clock_timestamp())';
  // (Never before the referral was made: a consent checked live can end before the referral's row is written.)
  const revokedAt =
    cause === 'consent_expired'
      ? `greatest(r.created_at, least(${now}, (SELECT cs.expires_at FROM consents cs WHERE cs.id = r.consent_id)))`
      : now;
  const [rows] = await m.query<[ChangedRecord[], number]>(
    `UPDATE referrals r SET status = 'revoked', revoke_cause = $${n + 1}, revoked_at = ${revokedAt},
            revoked_by = $${n + 2}, version = r.version + 1, updated_at = now()
     FROM cases c
     WHERE c.id = r.case_id AND (${where}) AND ${LIVE_REFERRAL}
     RETURNING r.id, r.case_id, c.ward_code, c.province_code`,
    [...params, cause, actor?.userId ?? null],
  );
  return audit.recordEach(m, actor, rows, {
    action: 'referral.revoke',
    resourceType: 'referral',
    fields: ['triage'],
    reason: `referral.${cause}`,
    request,
  });
}
