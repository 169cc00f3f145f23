import type { EntityManager } from 'typeorm';
import { returnedRows } from '../database/pg-errors';
import { STATUTORY_DEADLINE_MINUTES } from './referral-state';

/**
 * A case's pending referrals once a change of the case calls for the law's urgency (statutoryUrgency: a child
 * under 16 now known to be at high or critical risk): raised to `urgent` and due within 12 hours from now,
 * unless already sooner, as if they had been made now. The caller holds the case's row (FOR UPDATE); the
 * referrals' rows are taken before any access-log entry, the order a move takes them in. Returns their ids.
 */
export async function raiseToStatutoryDeadline(m: EntityManager, caseId: string): Promise<string[]> {
  const rows = returnedRows<{ id: string }>(
    await m.query(
      `UPDATE referrals r
          SET urgency = CASE WHEN r.urgency = 'routine' THEN 'urgent' ELSE r.urgency END,
              due_at = least(r.due_at, now() + make_interval(mins => $2)),
              version = r.version + 1, updated_at = now()
        WHERE r.case_id = $1 AND r.status = 'pending'
          AND (r.urgency = 'routine' OR r.due_at > now() + make_interval(mins => $2))
        RETURNING r.id`,
      [caseId, STATUTORY_DEADLINE_MINUTES],
    ),
  );
  return rows.map((r) => r.id);
}
