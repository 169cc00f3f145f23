import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { CaseCategory } from '../authz/subjects';
import { REFERRAL_STATUSES, type ReferralStatus } from '../authz/subjects';
import {
  REFERRAL_OUTCOMES,
  REVOKE_CAUSES,
  type ReferralOutcome,
  type RevokeCause,
} from '../referrals/referral-state';
import type { CaseSections } from './case-sections';
import type { CaseTriageRow } from './cases.repository';

export class CaseTriageView {
  @ApiProperty() reportedAt!: string;
  @ApiProperty() reportChannel!: string;
  @ApiProperty({ nullable: true, type: String, description: 'null: not assessed yet' }) riskLevel!:
    string | null;
  @ApiProperty() survivorSex!: string;
  @ApiProperty() ageGroup!: string;
  @ApiProperty({ nullable: true, type: Boolean, description: 'under 16 (Vietnamese law)' }) childUnder16!:
    boolean | null;
  @ApiProperty({ nullable: true, type: Boolean, description: 'under 18 (GBVIMS)' }) childUnder18!:
    boolean | null;
  @ApiProperty() gbvType!: string;
  @ApiProperty({ type: [String] }) forms!: string[];
  @ApiProperty({ type: [String] }) contexts!: string[];
  @ApiProperty({ nullable: true, type: String }) incidentDate!: string | null;
  @ApiProperty() provinceCode!: string;
  @ApiProperty({ nullable: true, type: String }) closedAt!: string | null;
  @ApiProperty({ description: 'the encrypted content was destroyed (crypto-shredding)' }) shredded!: boolean;
}

/** A referral of the case as its case view lists it: metadata only. */
export class CaseReferralSummaryView {
  @ApiProperty() id!: string;
  @ApiProperty() organizationId!: string;
  @ApiProperty() organizationName!: string;
  @ApiProperty() sector!: string;
  @ApiProperty({
    enum: REFERRAL_STATUSES,
    description: 'as access decisions take it: revoked from the moment its consent ends',
  })
  status!: ReferralStatus;
  @ApiProperty({ enum: ['routine', 'urgent', 'emergency'] }) urgency!: string;
  @ApiProperty() dueAt!: string;
  @ApiProperty({ description: 'pending past its response deadline' }) overdue!: boolean;
  @ApiProperty() createdAt!: string;
  @ApiProperty({ nullable: true, enum: REFERRAL_OUTCOMES }) outcome!: ReferralOutcome | null;
  @ApiProperty({ nullable: true, enum: REVOKE_CAUSES }) revokeCause!: RevokeCause | null;
}

export class CaseView {
  @ApiProperty() id!: string;
  @ApiProperty({ example: 'HV01-2026-000123' }) code!: string;
  @ApiProperty() wardCode!: string;
  @ApiProperty({ enum: ['open', 'closed'] }) status!: 'open' | 'closed';
  @ApiProperty() createdAt!: string;
  @ApiProperty() version!: number;
  @ApiProperty({ type: CaseTriageView }) triage!: CaseTriageView;
  @ApiPropertyOptional({ description: 'identity and/or contact fields, when permitted' })
  survivor?: Record<string, unknown>;
  @ApiPropertyOptional({ description: 'incident fields, when permitted' }) incident?: Record<string, unknown>;
  @ApiPropertyOptional({ description: 'perpetrator fields, when permitted' }) perpetrator?: Record<
    string,
    unknown
  >;
  @ApiPropertyOptional({ description: 'health fields, when permitted' }) health?: Record<string, unknown>;
  @ApiPropertyOptional({
    type: [CaseReferralSummaryView],
    description: 'metadata of the referrals the caller may see (the ward: all)',
  })
  referrals?: CaseReferralSummaryView[];
  @ApiPropertyOptional({ description: 'why the case was closed (its ward officers; logged as notes)' })
  closeReason?: string;
}

/** A case in the caller's scope that looks like the same survivor (blind indexes; never the name). */
export class DuplicateMatchView {
  @ApiProperty() id!: string;
  @ApiProperty() code!: string;
  @ApiProperty() wardCode!: string;
  @ApiProperty({
    enum: ['fullName', 'dateOfBirth', 'phone'],
    isArray: true,
    description: 'which fields matched',
  })
  match!: ('fullName' | 'dateOfBirth' | 'phone')[];
}

/** A registered case, with the cases it may duplicate (a warning: registration is not blocked). */
export class CreatedCaseView extends CaseView {
  @ApiProperty({ type: [DuplicateMatchView] }) duplicates!: DuplicateMatchView[];
}

export class CaseSearchView {
  @ApiProperty({ type: [DuplicateMatchView] }) items!: DuplicateMatchView[];
}

export class ShreddedCaseView {
  @ApiProperty() id!: string;
  @ApiProperty({ enum: [true] }) shredded!: true;
}

export class ClosedCaseView extends CaseView {
  @ApiProperty({
    type: [String],
    description: 'the referrals the close revoked (pending or accepted: their providers lose access now)',
  })
  revokedReferralIds!: string[];
}

export class CaseListView {
  @ApiProperty({ type: [CaseView], description: 'triage fields only' }) items!: CaseView[];
  @ApiProperty() total!: number;
  @ApiProperty() page!: number;
  @ApiProperty() pageSize!: number;
}

export function triageView(c: CaseTriageRow): CaseView {
  return {
    id: c.id,
    code: c.code,
    wardCode: c.wardCode,
    status: c.status,
    createdAt: c.createdAt.toISOString(),
    version: c.version,
    triage: {
      reportedAt: c.reportedAt.toISOString(),
      reportChannel: c.reportChannel,
      riskLevel: c.riskLevel,
      survivorSex: c.survivorSex,
      ageGroup: c.ageGroup,
      childUnder16: c.childVn,
      childUnder18: c.childGbvims,
      gbvType: c.gbvType,
      forms: c.forms,
      contexts: c.contexts,
      incidentDate: c.incidentDate,
      provinceCode: c.provinceCode,
      closedAt: c.closedAt?.toISOString() ?? null,
      shredded: c.shreddedAt !== null,
    },
  };
}

/** Sections the caller may not see are absent, never null-filled. */
export function fullView(
  c: CaseTriageRow,
  sections: CaseSections,
  allowed: ReadonlySet<CaseCategory>,
): CaseView {
  const view = triageView(c);
  if (allowed.has('identity') || allowed.has('contact')) {
    view.survivor = {
      sex: c.survivorSex,
      ...(allowed.has('identity') ? (sections.identity ?? {}) : {}),
      ...(allowed.has('contact') ? (sections.contact ?? {}) : {}),
    };
  }
  if (allowed.has('incident')) {
    view.incident = {
      forms: c.forms,
      gbvType: c.gbvType,
      contexts: c.contexts,
      ...(sections.incident ?? {}),
    };
  }
  if (allowed.has('perpetrator')) view.perpetrator = { ...(sections.perpetrator ?? {}) };
  if (allowed.has('health')) view.health = { ...(sections.health ?? {}) };
  return view;
}
