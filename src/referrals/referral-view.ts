import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { isLiveReferral, REFERRAL_STATUSES } from '../authz/subjects';
import { CaseView } from '../cases/case-view';
import {
  REFERRAL_OUTCOMES,
  ReferralOutcome,
  REFERRAL_SERVICES,
  ReferralService,
  ReferralStatus,
  REVOKE_CAUSES,
  RevokeCause,
  Urgency,
} from './referral-state';
import type { ReferralRow } from './referrals.repository';

export class NoteView {
  @ApiProperty() id!: string;
  @ApiProperty({ nullable: true, type: String, description: 'null: a note of the ward' })
  organizationId!: string | null;
  @ApiProperty() authorId!: string;
  @ApiProperty() text!: string;
  @ApiProperty() createdAt!: string;
}

export class ReferralView {
  @ApiProperty() id!: string;
  @ApiProperty() caseId!: string;
  @ApiProperty() caseCode!: string;
  @ApiProperty() wardCode!: string;
  @ApiProperty() organizationId!: string;
  @ApiProperty() organizationName!: string;
  @ApiProperty() sector!: string;
  @ApiProperty() consentId!: string;
  @ApiProperty({ type: [String] }) services!: string[];
  @ApiProperty({ enum: ['routine', 'urgent', 'emergency'] }) urgency!: Urgency;
  @ApiProperty({ enum: REFERRAL_STATUSES }) status!: ReferralStatus;
  @ApiProperty() dueAt!: string;
  @ApiProperty({ description: 'pending past its response deadline' }) overdue!: boolean;
  @ApiProperty({ description: 'accepted after its response deadline (it was overdue before)' })
  acceptedLate!: boolean;
  @ApiProperty() createdAt!: string;
  @ApiProperty({ nullable: true, type: String }) acceptedAt!: string | null;
  @ApiProperty({ nullable: true, type: String }) declinedAt!: string | null;
  @ApiProperty({ nullable: true, type: String }) completedAt!: string | null;
  @ApiProperty({ nullable: true, type: String }) revokedAt!: string | null;
  @ApiProperty({ nullable: true, enum: REFERRAL_OUTCOMES })
  outcome!: ReferralOutcome | null;
  @ApiProperty({
    nullable: true,
    enum: REFERRAL_SERVICES,
    isArray: true,
    description: 'the requested services the provider delivered, as recorded on completion',
  })
  servicesDelivered!: ReferralService[] | null;
  @ApiProperty({ nullable: true, enum: REVOKE_CAUSES })
  revokeCause!: RevokeCause | null;
  @ApiProperty() version!: number;
  @ApiPropertyOptional({
    type: String,
    nullable: true,
    description: 'the referring note, when the caller may read notes',
  })
  note?: string | null;
  @ApiPropertyOptional({ type: [NoteView] }) notes?: NoteView[];
  @ApiPropertyOptional({
    nullable: true,
    type: String,
    description:
      'why the organisation declined it (a read by the case’s ward officers; null when not declined)',
  })
  declineReason?: string | null;
  @ApiPropertyOptional({
    nullable: true,
    type: String,
    description:
      'why the ward revoked it (a read by the case’s ward officers; null when not revoked by the ward)',
  })
  revokeReason?: string | null;
  @ApiPropertyOptional({ type: CaseView, description: 'what the organisation may see of the case now' })
  case?: CaseView;
}

export class ReferralListView {
  @ApiProperty({ type: [ReferralView] }) items!: ReferralView[];
  @ApiProperty({ description: 'all referrals of the filter in scope, on every page' }) total!: number;
  @ApiProperty() page!: number;
  @ApiProperty() pageSize!: number;
}

export function referralView(r: ReferralRow): ReferralView {
  const iso = (d: Date | null): string | null => d?.toISOString() ?? null;
  // A live referral whose consent has ended is shown as the access rules take it: revoked, then, for that cause
  // (effectiveReferralStatusSql, effectiveRevokeCauseSql, effectiveEndedAtSql), though the sweep that writes it
  // down (revokeExpired, a batch at a time) has not reached it yet.
  const ended = isLiveReferral(r.status) && !r.consentActive;
  const endedAt =
    ended && r.consentEndedAt ? new Date(Math.max(r.createdAt.getTime(), r.consentEndedAt.getTime())) : null;
  return {
    id: r.id,
    caseId: r.caseId,
    caseCode: r.caseCode,
    wardCode: r.wardCode,
    organizationId: r.organizationId,
    organizationName: r.organizationName,
    sector: r.sector,
    consentId: r.consentId,
    services: r.services,
    urgency: r.urgency,
    status: ended ? 'revoked' : r.status,
    dueAt: r.dueAt.toISOString(),
    overdue: ended ? false : r.overdue,
    acceptedLate: r.acceptedAt !== null && r.acceptedAt.getTime() > r.dueAt.getTime(),
    createdAt: r.createdAt.toISOString(),
    acceptedAt: iso(r.acceptedAt),
    declinedAt: iso(r.declinedAt),
    completedAt: iso(r.completedAt),
    revokedAt: ended ? iso(endedAt) : iso(r.revokedAt),
    outcome: r.outcome,
    servicesDelivered: r.servicesDelivered,
    revokeCause: ended ? (r.consentWithdrawn ? 'consent_withdrawn' : 'consent_expired') : r.revokeCause,
    version: r.version,
  };
}
