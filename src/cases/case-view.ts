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
import {
  AGE_GROUPS,
  CASE_CONTEXTS,
  GBV_TYPES,
  RELATIONSHIPS,
  REPORT_CHANNELS,
  RISK_LEVELS,
  SEXES,
  VIOLENCE_FORMS,
} from './case-classification';
import type { CaseTriageRow } from './cases.repository';

/**
 * The incident's classification and date are stored in plaintext beside the triage facts (the statistics count
 * them), but they are the `incident` category's (product brief): shown only to whoever may see the incident.
 */
const INCIDENT_FACT =
  "the incident's (its category): only to a caller who may read the case's incident (its ward officers; a " +
  "provider whose accepted referral's sector and consent give it, in the case's view or that referral's); " +
  'absent otherwise';

export class CaseTriageView {
  @ApiProperty() reportedAt!: string;
  @ApiProperty({ enum: REPORT_CHANNELS }) reportChannel!: string;
  @ApiProperty({ nullable: true, enum: RISK_LEVELS, description: 'null: not assessed yet' }) riskLevel!:
    string | null;
  @ApiProperty({ enum: SEXES }) survivorSex!: string;
  @ApiProperty({ enum: AGE_GROUPS }) ageGroup!: string;
  @ApiProperty({ nullable: true, type: Boolean, description: 'under 16 (Vietnamese law)' }) childUnder16!:
    boolean | null;
  @ApiProperty({ nullable: true, type: Boolean, description: 'under 18 (GBVIMS)' }) childUnder18!:
    boolean | null;
  @ApiPropertyOptional({ enum: GBV_TYPES, description: INCIDENT_FACT }) gbvType?: string;
  @ApiPropertyOptional({ enum: VIOLENCE_FORMS, isArray: true, description: INCIDENT_FACT }) forms?: string[];
  @ApiPropertyOptional({ enum: CASE_CONTEXTS, isArray: true, description: INCIDENT_FACT })
  contexts?: string[];
  @ApiPropertyOptional({ nullable: true, type: String, format: 'date', description: INCIDENT_FACT })
  incidentDate?: string | null;
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

// The sections of a case's view: a field is there when the caller may read its category and it was given (one
// cleared is absent); each field says its category (the product brief's).

export class SurvivorView {
  @ApiProperty({ enum: SEXES, description: 'triage (shown with the section)' }) sex!: string;
  @ApiPropertyOptional({ description: 'identity' }) fullName?: string;
  @ApiPropertyOptional({ format: 'date', description: 'identity; or ageYears' }) dateOfBirth?: string;
  @ApiPropertyOptional({ description: 'identity: when the date of birth is unknown' }) ageYears?: number;
  @ApiPropertyOptional({ description: 'identity' }) ethnicity?: string;
  @ApiPropertyOptional({ description: 'identity' }) disability?: string;
  @ApiPropertyOptional({ description: 'contact' }) phone?: string;
  @ApiPropertyOptional({ description: 'contact' }) address?: string;
  @ApiPropertyOptional({ description: 'contact' }) safeContactNotes?: string;
}

export class IncidentView {
  @ApiProperty({ enum: VIOLENCE_FORMS, isArray: true }) forms!: string[];
  @ApiProperty({ enum: GBV_TYPES }) gbvType!: string;
  @ApiProperty({ enum: CASE_CONTEXTS, isArray: true }) contexts!: string[];
  @ApiPropertyOptional({ description: 'RFC 3339 with its offset, or a date' }) occurredAt?: string;
  @ApiPropertyOptional() place?: string;
  @ApiPropertyOptional() narrative?: string;
}

export class PerpetratorView {
  @ApiPropertyOptional() fullName?: string;
  @ApiPropertyOptional({ enum: RELATIONSHIPS }) relationship?: string;
  @ApiPropertyOptional() address?: string;
  @ApiPropertyOptional() accessToWeapons?: boolean;
}

export class HealthView {
  @ApiPropertyOptional() injuries?: string;
  @ApiPropertyOptional() pregnant?: boolean;
  @ApiPropertyOptional() medicalNeeds?: string;
}

export class CaseView {
  @ApiProperty() id!: string;
  @ApiProperty({ example: 'HV01-2026-000123' }) code!: string;
  @ApiProperty() wardCode!: string;
  @ApiProperty({ enum: ['open', 'closed'] }) status!: 'open' | 'closed';
  @ApiProperty() createdAt!: string;
  @ApiProperty() version!: number;
  @ApiProperty({ type: CaseTriageView }) triage!: CaseTriageView;
  @ApiPropertyOptional({ type: SurvivorView, description: 'identity and/or contact fields, when permitted' })
  survivor?: Record<string, unknown>;
  @ApiPropertyOptional({ type: IncidentView, description: 'incident fields, when permitted' })
  incident?: Record<string, unknown>;
  @ApiPropertyOptional({ type: PerpetratorView, description: 'perpetrator fields, when permitted' })
  perpetrator?: Record<string, unknown>;
  @ApiPropertyOptional({ type: HealthView, description: 'health fields, when permitted' })
  health?: Record<string, unknown>;
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

/**
 * The triage row's columns that are incident facts, stored in plaintext: shown only with the incident category
 * (triageView), and written as it (a case change names `incident` on the access log when one of them changes).
 */
export const INCIDENT_COLUMNS = ['gbvType', 'forms', 'contexts', 'incidentDate'] as const;

/**
 * The case's triage facts; the incident's type, forms, contexts and date (INCIDENT_COLUMNS) only with
 * `showsIncident` (the caller may read the case's incident): a pending referral's provider, one whose consent
 * leaves the incident out, and a supervisor see the triage facts alone.
 */
export function triageView(c: CaseTriageRow, showsIncident: boolean): CaseView {
  const incident = showsIncident ? Object.fromEntries(INCIDENT_COLUMNS.map((k) => [k, c[k]])) : {};
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
      ...incident,
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
  const view = triageView(c, allowed.has('incident'));
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
