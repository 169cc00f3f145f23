import type { EntityManager } from 'typeorm';
import type { AuditService, ChangedRecord } from '../audit/audit.service';
import type { AuditActor } from '../audit/audit.types';
import { effectiveReferralStatusLookupSql } from '../consents/consent-expiry.service';
import { lockLiveReferrals } from './referral-ending';
import { dueMinutes, type ResponseDeadlines, type Urgency, URGENCIES } from './referral-state';

/**
 * The pending referrals of cases `caseIds` once a change of them calls for the law's urgency (`statutory`,
 * statutoryUrgency's answer: a child under 16 now known to be at high or critical risk): raised to at least that
 * urgency and due as one made now would be (dueMinutes: at most the law's 12 hours), unless already sooner. The caller holds the case's
 * row (FOR NO KEY UPDATE); the referrals' rows are taken in id order (as every change of several takes them) before
 * any access-log entry, the order a move takes them in. Each raised referral is on the log (`referral.update`,
 * reason `referral.statutory_deadline`, by `actor`: the change's author, or null for the re-derivation): its
 * provider's deadline moved, and an overdue it causes must be explained.
 */
export async function raiseToStatutoryDeadline(
  m: EntityManager,
  caseIds: readonly string[],
  statutory: Urgency,
  deadlines: ResponseDeadlines,
  audit: AuditService,
  actor: AuditActor | null,
): Promise<void> {
  // The urgencies less urgent than the law's, which it raises.
  const below = URGENCIES.slice(0, URGENCIES.indexOf(statutory));
  // All the cases' referrals together, in id order.
  await lockLiveReferrals(m, `r.case_id = ANY($1::uuid[]) AND r.status = 'pending'`, [caseIds]);
  // Due from when they are locked (clock_timestamp), as one made now would be: not from the transaction's start,
  // which may have waited for them.
  const [rows] = await m.query<[ChangedRecord[], number]>(
    `UPDATE referrals r
        SET urgency = CASE WHEN r.urgency = ANY($3::text[]) THEN $4 ELSE r.urgency END,
            due_at = least(r.due_at, t.at + make_interval(mins => $2)),
            version = r.version + 1, updated_at = t.at
       FROM (SELECT clock_timestamp() AS at) t
      -- Pending as access decisions take it: not one whose consent has ended (revoked from then, swept or not),
      -- whose deadline no longer runs and whose raise would be on record after its end.
      WHERE r.case_id = ANY($1::uuid[]) AND ${effectiveReferralStatusLookupSql('r', 't.at')} = 'pending'
        AND (r.urgency = ANY($3::text[]) OR r.due_at > t.at + make_interval(mins => $2))
      RETURNING r.id, r.case_id, r.case_ward_code AS ward_code, r.case_province_code AS province_code`,
    [caseIds, dueMinutes(statutory, statutory, deadlines), below, statutory],
  );
  await audit.recordEach(m, actor, rows, {
    action: 'referral.update',
    resourceType: 'referral',
    fields: ['triage'],
    reason: 'referral.statutory_deadline',
  });
}
