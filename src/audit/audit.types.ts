import { CASE_CATEGORIES } from '../authz/subjects';
/**
 * The vocabulary of the access log. Every value an entry carries is one of these enumerations, an id, a code
 * or request metadata: the writer (audit-entry.guard.ts) refuses anything else, so no survivor data can be
 * written to the log by mistake.
 */

/** The contract's actions (api-contract "Access log") plus the ones Haven needs besides. */
export const AUDIT_ACTIONS = [
  'case.create',
  'case.read',
  'case.list',
  'case.update',
  'case.close',
  'case.search',
  'case.shred',
  'consent.create',
  'consent.read',
  'consent.withdraw',
  'referral.create',
  'referral.read',
  'referral.list',
  'referral.accept',
  'referral.decline',
  'referral.complete',
  'referral.revoke',
  /** A referral changed by a change of its case (statutory urgency and deadline): reason says which. */
  'referral.update',
  /** A consent changed by a change of its case (a child-protection duty's end brought to the 18th birthday). */
  'consent.update',
  'note.create',
  'auth.login',
  'auth.login_failed',
  'auth.logout',
  'auth.session_refused',
  'auth.password_change',
  'auth.step_up',
  'auth.totp_enroll',
  'auth.totp_activate',
  'audit.read',
  'audit.verify',
  'audit.checkpoint',
  'report.read',
  'break_glass.open',
  'break_glass.review',
  'break_glass.end',
  'user.create',
  'user.update',
  'organization.create',
  'organization.update',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export const AUDIT_RESOURCE_TYPES = [
  'case',
  'consent',
  'referral',
  'note',
  'user',
  'session',
  'audit_log',
  'audit_checkpoint',
  'report',
  'break_glass',
  'organization',
] as const;
export type AuditResourceType = (typeof AUDIT_RESOURCE_TYPES)[number];

export const AUDIT_OUTCOMES = ['allowed', 'denied', 'error'] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

/** Field categories (product brief) an access disclosed or wrote: the case categories of authz/. */
export const AUDIT_FIELD_CATEGORIES = CASE_CATEGORIES;
export type AuditFieldCategory = (typeof AUDIT_FIELD_CATEGORIES)[number];

export const AUDIT_ROLES = ['ward_officer', 'provider', 'supervisor', 'admin'] as const;
export type AuditRole = (typeof AUDIT_ROLES)[number];

/**
 * Who acted. Structurally a subset of authz's Principal, so services pass the signed-in principal as is.
 * `null` (in the service API) is an anonymous caller, e.g. a sign-in attempt on an unknown username.
 */
export interface AuditActor {
  readonly userId: string;
  readonly role: AuditRole;
  readonly organizationId?: string | null;
  readonly wardCodes?: readonly string[];
  /** A supervisor's province; null = national. */
  readonly provinceCode?: string | null;
  /**
   * A provider's organisation's province, when the caller read it with the request (its session): used instead
   * of the organisation's province cached by JurisdictionResolver.
   */
  readonly organizationProvince?: string | null;
  /** The actor's request (the principal's): the default request metadata of the entries it causes. */
  readonly request?: AuditRequestMeta;
}

/** Where the request came from; taken from the actor's request when a caller does not pass it. */
export interface AuditRequestMeta {
  readonly ip?: string | null;
  readonly userAgent?: string | null;
  readonly requestId?: string | null;
}

/** What a service says about one access. Every property is optional except the action. */
export interface AuditEntryInput {
  readonly action: AuditAction;
  /** Defaults to `allowed` for record(), `denied` for recordDenied(). */
  readonly outcome?: AuditOutcome;
  readonly resourceType?: AuditResourceType | null;
  readonly resourceId?: string | null;
  readonly caseId?: string | null;
  /** Categories actually disclosed (read) or written. */
  readonly fields?: readonly AuditFieldCategory[];
  /** Ids a list or search returned. */
  readonly returnedIds?: readonly string[];
  /** Jurisdiction of the resource: its province and commune (ward) code. */
  readonly provinceCode?: string | null;
  readonly wardCode?: string | null;
  /**
   * Why it was denied or failed: an error code such as `resource.not_found` (never a message); for an allowed
   * `user.update`, what changed (`user.password_reset`, `user.disabled`, …).
   */
  readonly reason?: string | null;
  /**
   * The provinces of the account or organisation an administrative entry is about (`user.*`, `organization.*`):
   * an account's communes', organisation's or own province; an organisation's, before and after a change of its
   * service area; or of the records a list showed (the emergency-access queue). Their supervisors see the entry;
   * not a column of its own.
   */
  readonly subjectProvinces?: readonly string[];
  /**
   * Request metadata; defaults to the actor's (the principal's request). An entry without an actor (a sign-in on an
   * unknown username, a revocation by the system inside a request) is given its request here.
   */
  readonly request?: AuditRequestMeta;
}

/** One stored entry, as the chain covers it (column order of audit_events). */
export interface AuditRow {
  seq: number;
  stripe: number;
  prevSeq: number;
  /** Milliseconds since the epoch (the column is timestamptz, written with millisecond precision). */
  atMs: number;
  actorId: string | null;
  actorRole: string | null;
  actorOrgId: string | null;
  actorCommunes: string[];
  action: string;
  resourceType: string | null;
  resourceId: string | null;
  caseId: string | null;
  fields: string[];
  outcome: string;
  reason: string | null;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
  returnedIds: string[];
  provinceCode: string | null;
  communeCode: string | null;
  jurisdictions: string[];
}

/** Number of chain stripes the migration creates (audit_chain_heads rows 0..15). */
export const AUDIT_STRIPES = 16;

/** MAC of the (absent) entry before the first one of a stripe. */
export const GENESIS_MAC = Buffer.alloc(32);
