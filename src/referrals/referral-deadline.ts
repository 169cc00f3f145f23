import type { EntityManager } from 'typeorm';
import { lockLiveReferrals } from './referral-ending';
import { type ResponseDeadlines, STATUTORY_DEADLINE_MINUTES } from './referral-state';

/**
 * A case's pending referrals once a change of the case calls for the law's urgency (statutoryUrgency: a child
 * under 16 now known to be at high or critical risk): raised to `urgent` and due as one made now would be (the
 * configured urgent deadline, at most the law's 12 hours), unless already sooner. The caller holds the case's
 * row (FOR UPDATE); the referrals' rows are taken in id order (as every change of several takes them) before
 * any access-log entry, the order a move takes them in.
 */
export async function raiseToStatutoryDeadline(
  m: EntityManager,
  caseId: string,
  deadlines: ResponseDeadlines,
): Promise<void> {
  const minutes = Math.min(deadlines.urgent, STATUTORY_DEADLINE_MINUTES);
  await lockLiveReferrals(m, `r.case_id = $1 AND r.status = 'pending'`, [caseId]);
  await m.query(
    `UPDATE referrals r
        SET urgency = CASE WHEN r.urgency = 'routine' THEN 'urgent' ELSE r.urgency END,
            due_at = least(r.due_at, now() + make_interval(mins => $2)),
            version = r.version + 1, updated_at = now()
      WHERE r.case_id = $1 AND r.status = 'pending'
        AND (r.urgency = 'routine' OR r.due_at > now() + make_interval(mins => $2))`,
    [caseId, minutes],
  );
}
