import type { FieldCategory as EncryptedCategory } from '../crypto/crypto.types';
import type { Sector } from '../directory/organization.entity';
import type { Role } from '../identity/user.entity';

/**
 * The vocabulary of access control: actions, subjects and the shape of each subject as the rules see it.
 * Subjects are plain objects tagged with `kind`; services build them from rows (or from a request body, for
 * `create`) and ask the ability, and the same rules become SQL through sql-scope.ts.
 */

export const ACTIONS = [
  'create',
  'read',
  'update',
  'delete',
  'close',
  'search',
  'accept',
  'decline',
  'complete',
  'revoke',
  'withdraw',
  'verify',
] as const;
export type Action = (typeof ACTIONS)[number];

export const SUBJECT_NAMES = [
  'Case',
  'Referral',
  'Consent',
  'Note',
  'AuditEvent',
  'Report',
  'Organization',
  'User',
  'AdminUnit',
  'Session',
  'BreakGlass',
] as const;
export type SubjectName = (typeof SUBJECT_NAMES)[number];

/** Field categories of a case (product brief): `triage` is plaintext, the others are encrypted. */
export const CASE_CATEGORIES = [
  'triage',
  'identity',
  'contact',
  'incident',
  'perpetrator',
  'health',
  'notes',
] as const;
export type CaseCategory = (typeof CASE_CATEGORIES)[number];
// The crypto module's encrypted categories must stay a subset of these (checked at compile time).
type Assert<T extends true> = T;
export type EncryptedCategoriesAreCaseCategories = Assert<
  EncryptedCategory extends CaseCategory ? true : false
>;

/** Categories a consent (or legal basis) can release to an organisation. */
export type ConsentCategory = Exclude<CaseCategory, 'triage' | 'notes'>;

/** Fields of a referral: `triage` is its metadata (state, urgency, services, dates), `notes` its free text. */
export const REFERRAL_CATEGORIES = ['triage', 'notes'] as const;
export type ReferralCategory = (typeof REFERRAL_CATEGORIES)[number];

export const REFERRAL_STATUSES = ['pending', 'accepted', 'declined', 'completed', 'revoked'] as const;
export type ReferralStatus = (typeof REFERRAL_STATUSES)[number];

/** A referral still under way: what an ended consent, a closed case or an organisation's change revokes. */
export const LIVE_REFERRAL_STATUSES: readonly ReferralStatus[] = ['pending', 'accepted'];

export function isLiveReferral(status: ReferralStatus): boolean {
  return LIVE_REFERRAL_STATUSES.includes(status);
}

/** The referral through which a provider looks at a case. */
export interface ReferralAccess {
  readonly organizationId: string;
  readonly status: ReferralStatus;
  /** What the consent (or legal basis) behind the referral releases to this organisation. */
  readonly consentCategories: readonly ConsentCategory[];
}

export interface CaseSubject {
  readonly kind: 'Case';
  readonly id?: string;
  readonly wardCode: string;
  readonly provinceCode: string;
  readonly status: 'open' | 'closed';
  /** Present when a provider looks at the case through one referral of its organisation. */
  readonly referral?: ReferralAccess;
  /** Present when the caller looks at the case through an emergency (break-glass) grant of its own. */
  readonly breakGlass?: BreakGlassAccess;
}

/** An emergency grant through which one provider user looks at a case without a referral. */
export interface BreakGlassAccess {
  readonly userId: string;
  /** Not yet expired. */
  readonly active: boolean;
}

/** An emergency-access grant: opened by a provider, reviewed by a supervisor of the case's province. */
export interface BreakGlassSubject {
  readonly kind: 'BreakGlass';
  readonly id?: string;
  /** The case's province. */
  readonly provinceCode: string;
  /** The provider user who opened it. */
  readonly userId: string;
  readonly reviewed: boolean;
}

export interface ReferralSubject {
  readonly kind: 'Referral';
  readonly id?: string;
  readonly wardCode: string;
  readonly provinceCode: string;
  readonly organizationId: string;
  readonly status: ReferralStatus;
}

export const CONSENT_STATUSES = ['active', 'withdrawn', 'expired'] as const;
/** A consent's status as views and rules see it, by the database's clock (consentStatusSql). */
export type ConsentStatus = (typeof CONSENT_STATUSES)[number];

export interface ConsentSubject {
  readonly kind: 'Consent';
  readonly id?: string;
  readonly wardCode: string;
  readonly provinceCode: string;
  readonly status: ConsentStatus;
}

export interface NoteSubject {
  readonly kind: 'Note';
  readonly id?: string;
  readonly wardCode: string;
  readonly provinceCode: string;
  /** The author's organisation; null for a note of the ward. */
  readonly organizationId: string | null;
  /** State of the referral a provider's note belongs to; null for a ward note. */
  readonly referralStatus: ReferralStatus | null;
}

export interface AuditEventSubject {
  readonly kind: 'AuditEvent';
  /** Jurisdiction of the event; null (e.g. a sign-in attempt on an unknown username) = national only. */
  readonly provinceCode: string | null;
}

export interface ReportSubject {
  readonly kind: 'Report';
  /** The province reported on; null = national. */
  readonly provinceCode: string | null;
}

export interface OrganizationSubject {
  readonly kind: 'Organization';
  readonly id?: string;
  readonly provinceCode: string;
  readonly sector: Sector;
}

export interface UserSubject {
  readonly kind: 'User';
  readonly id?: string;
  readonly role: Role;
}

export interface AdminUnitSubject {
  readonly kind: 'AdminUnit';
  readonly code: string;
}

/** The caller's own session and account: who am I, sign out, set up two-factor authentication. */
export interface SessionSubject {
  readonly kind: 'Session';
  readonly userId: string;
}

export type SubjectObject =
  | CaseSubject
  | ReferralSubject
  | ConsentSubject
  | NoteSubject
  | AuditEventSubject
  | ReportSubject
  | OrganizationSubject
  | UserSubject
  | AdminUnitSubject
  | SessionSubject
  | BreakGlassSubject;

/** A provider's sector decides what it may see of an accepted referral, always narrowed by the consent. */
export const SECTOR_CATEGORIES: Readonly<Record<Sector, readonly ConsentCategory[]>> = {
  police: ['identity', 'contact', 'incident', 'perpetrator'],
  health: ['identity', 'contact', 'incident', 'health'],
  social: ['identity', 'contact', 'incident'],
  shelter: ['identity', 'contact', 'incident'],
  legal: ['identity', 'contact', 'incident'],
  // Not listed in the brief: the least that lets the organisation reach the survivor.
  other: ['identity', 'contact'],
};

/** Sectors whose staff may open a case in an emergency without a referral (issue 6, item 7). */
export const BREAK_GLASS_SECTORS: readonly Sector[] = ['police', 'health'];
