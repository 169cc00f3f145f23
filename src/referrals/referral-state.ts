import type { ReferralStatus } from '../authz/subjects';
import { DomainError } from '../common/errors/domain-error';

/**
 * The referral workflow (product brief, step 4). Each move is a named method that checks the current state;
 * any other move is one domain error (`conflict.state`, HTTP 409).
 *
 *   pending  → accepted | declined (reason) | revoked
 *   accepted → completed (outcome)          | revoked
 */
export type { ReferralStatus };
export type Urgency = 'routine' | 'urgent' | 'emergency';
export const URGENCIES: readonly Urgency[] = ['routine', 'urgent', 'emergency'];

export const REFERRAL_OUTCOMES = [
  'services_delivered',
  'client_declined',
  'unable_to_contact',
  'referred_onward',
  'other',
] as const;
export type ReferralOutcome = (typeof REFERRAL_OUTCOMES)[number];

export const REFERRAL_SERVICES = [
  'medical_care',
  'forensic_exam',
  'psychosocial_support',
  'safe_shelter',
  'legal_aid',
  'police_protection',
  'no_contact_order',
  'investigation',
  'child_protection_assessment',
  'economic_support',
  'other',
] as const;
export type ReferralService = (typeof REFERRAL_SERVICES)[number];

/** Why a referral was revoked: by the ward, or because its ground ended (consent, case, organisation). */
export const REVOKE_CAUSES = [
  'ward',
  'consent_withdrawn',
  'consent_expired',
  'case_closed',
  'case_shredded',
  'organization_changed',
  'organization_retired',
] as const;
export type RevokeCause = (typeof REVOKE_CAUSES)[number];

export interface ReferralState {
  status: ReferralStatus;
  acceptedAt: Date | null;
  acceptedBy: string | null;
  declinedAt: Date | null;
  completedAt: Date | null;
  outcome: ReferralOutcome | null;
  /** The requested services the provider delivered, as it recorded them on completion (null: not said). */
  servicesDelivered: ReferralService[] | null;
  revokedAt: Date | null;
  revokeCause: RevokeCause | null;
  dueAt: Date;
}

function illegal(): DomainError {
  return new DomainError('conflict.state', {
    en: 'This referral cannot make that move from its current state.',
    vi: 'Không thể thực hiện thao tác này với yêu cầu chuyển gửi ở trạng thái hiện tại.',
  });
}

export const ReferralTransitions = {
  accept(r: ReferralState, by: string, at: Date): ReferralState {
    if (r.status !== 'pending') throw illegal();
    return { ...r, status: 'accepted', acceptedAt: at, acceptedBy: by };
  },
  decline(r: ReferralState, at: Date): ReferralState {
    if (r.status !== 'pending') throw illegal();
    return { ...r, status: 'declined', declinedAt: at };
  },
  complete(
    r: ReferralState,
    outcome: ReferralOutcome,
    at: Date,
    servicesDelivered: ReferralService[] | null = null,
  ): ReferralState {
    if (r.status !== 'accepted') throw illegal();
    // The services delivered may not contradict the outcome: the ward's follow-up would read "delivered, none
    // delivered" (422, the request's own contradiction).
    if (outcome === 'services_delivered' && servicesDelivered?.length === 0) {
      throw new DomainError('unprocessable', {
        en: 'servicesDelivered must name at least one service when the outcome is services_delivered (or be left out).',
        vi: 'servicesDelivered phải nêu ít nhất một dịch vụ khi kết quả là services_delivered (hoặc bỏ trống trường này).',
      });
    }
    if (outcome === 'unable_to_contact' && servicesDelivered?.length) {
      throw new DomainError('unprocessable', {
        en: 'No service can have been delivered when the outcome is unable_to_contact.',
        vi: 'Không thể có dịch vụ đã cung cấp khi kết quả là unable_to_contact (không liên lạc được).',
      });
    }
    return { ...r, status: 'completed', completedAt: at, outcome, servicesDelivered };
  },
  revoke(r: ReferralState, cause: RevokeCause, at: Date): ReferralState {
    if (r.status !== 'pending' && r.status !== 'accepted') throw illegal();
    return { ...r, status: 'revoked', revokedAt: at, revokeCause: cause };
  },
};

export type ResponseDeadlines = Record<Urgency, number>;

/** Default response deadlines in minutes: emergency 2 h, urgent 12 h, routine 5 days (configurable). */
export const DEFAULT_RESPONSE_DEADLINES: ResponseDeadlines = {
  emergency: 120,
  urgent: 12 * 60,
  routine: 5 * 24 * 60,
};

/**
 * The least urgency the law leaves a referral (product brief, step 1): `urgent` (12 h by default) for a child
 * under 16 at high or critical risk (Law on Children 2016, Decree 56/2017: risk assessment and intervention
 * within 12 h), or whose risk is not assessed yet (`riskLevel` null: the assessment itself is due within those
 * 12 hours, and an unknown risk must not pass for a low one), and for a requested no-contact order (Law 13/2022,
 * Decree 76/2023: decided within 12 h); none otherwise. A referral asked for as less urgent is raised to it.
 */
export function statutoryUrgency(
  c: { childVn: boolean | null; riskLevel: string | null },
  services: readonly ReferralService[],
): Urgency | null {
  const urgentChild =
    c.childVn === true && (c.riskLevel === null || c.riskLevel === 'high' || c.riskLevel === 'critical');
  return urgentChild || services.includes('no_contact_order') ? 'urgent' : null;
}

/**
 * The urgency the law asks of a case's referrals after a change of its facts (`after`) that it did not ask before
 * (`before`): a child under 16 now known to be at high or critical risk; null otherwise. What raiseToStatutoryDeadline
 * then applies to its pending referrals.
 */
export function newlyStatutory(
  before: { childVn: boolean | null; riskLevel: string | null },
  after: { childVn: boolean | null; riskLevel: string | null },
): Urgency | null {
  const now = statutoryUrgency(after, []);
  return now && statutoryUrgency(before, []) === null ? now : null;
}

/** The more urgent of `asked` and `floor` (URGENCIES runs from the least urgent). */
export function atLeast(asked: Urgency, floor: Urgency | null): Urgency {
  return floor && URGENCIES.indexOf(floor) > URGENCIES.indexOf(asked) ? floor : asked;
}

/** The law's deadline for what statutoryUrgency raises: 12 hours, whatever the configured deadlines say. */
export const STATUTORY_DEADLINE_MINUTES = 12 * 60;

/**
 * Minutes within which a referral of `urgency` is due: the configured deadline, and no later than the law's
 * 12 hours when the law calls for urgency (`statutory`, statutoryUrgency's answer) even if that is longer.
 */
export function dueMinutes(
  urgency: Urgency,
  statutory: Urgency | null,
  deadlines: ResponseDeadlines,
): number {
  return statutory ? Math.min(deadlines[urgency], STATUTORY_DEADLINE_MINUTES) : deadlines[urgency];
}

/**
 * A new referral's urgency and deadline: as asked, raised to the statutory urgency (when there is one), and due
 * within dueMinutes of that urgency (from its creation, by the database's clock: ReferralsRepository.gatedInsert).
 */
export function referralDeadline(
  asked: Urgency,
  statutory: Urgency | null,
  deadlines: ResponseDeadlines,
): { urgency: Urgency; dueMinutes: number } {
  const urgency = atLeast(asked, statutory);
  return { urgency, dueMinutes: dueMinutes(urgency, statutory, deadlines) };
}

/** When a referral of `urgency` made at `createdAt` is due, by the configured deadlines (the bulk seed's times). */
export function dueAt(createdAt: Date, urgency: Urgency, deadlines: ResponseDeadlines): Date {
  return new Date(createdAt.getTime() + deadlines[urgency] * 60_000);
}
