/**
 * Plaintext triage facts derived at registration. They carry no identity: an age group instead of a date of
 * birth, child flags under both definitions (Vietnamese law: under 16; GBVIMS: under 18).
 */
export const SEXES = ['female', 'male', 'other', 'unknown'] as const;
export type Sex = (typeof SEXES)[number];

export const REPORT_CHANNELS = [
  'walk_in',
  'phone',
  'hotline_111',
  'police',
  'school',
  'health_facility',
  'community',
  'other',
] as const;
export type ReportChannel = (typeof REPORT_CHANNELS)[number];

export const VIOLENCE_FORMS = ['physical', 'psychological', 'sexual', 'economic'] as const;
export type ViolenceForm = (typeof VIOLENCE_FORMS)[number];

export const GBV_TYPES = [
  'rape',
  'sexual_assault',
  'physical_assault',
  'forced_marriage',
  'denial_of_resources_opportunities_or_services',
  'psychological_emotional_abuse',
  'non_gbv',
] as const;
export type GbvType = (typeof GBV_TYPES)[number];

export const CASE_CONTEXTS = [
  'intimate_partner',
  'child_sexual_abuse',
  'trafficking',
  'early_marriage',
] as const;
export type CaseContext = (typeof CASE_CONTEXTS)[number];

export const RISK_LEVELS = ['low', 'medium', 'high', 'critical'] as const;
export type RiskLevel = (typeof RISK_LEVELS)[number];

export const RELATIONSHIPS = [
  'spouse',
  'former_spouse',
  'intimate_partner',
  'former_partner',
  'parent',
  'step_parent',
  'sibling',
  'child',
  'other_family',
  'caregiver',
  'acquaintance',
  'employer',
  'stranger',
  'unknown',
  'other',
] as const;
export type Relationship = (typeof RELATIONSHIPS)[number];

const INTIMATE: ReadonlySet<Relationship> = new Set([
  'spouse',
  'former_spouse',
  'intimate_partner',
  'former_partner',
]);

export const AGE_GROUPS = ['0-5', '6-11', '12-15', '16-17', '18-59', '60+', 'unknown'] as const;
export type AgeGroup = (typeof AGE_GROUPS)[number];

/** Vietnam time is UTC+7 all year (no daylight saving): dates and years of a case are Vietnamese ones. */
const VIETNAM_OFFSET_MS = 7 * 3600 * 1000;

/** The moment as a Date whose UTC fields read the wall clock in Vietnam. */
function inVietnam(at: Date): Date {
  return new Date(at.getTime() + VIETNAM_OFFSET_MS);
}

/**
 * The incident's date as kept in plaintext (triage): a date as given, or the date in Vietnam of a moment given
 * with any offset (20:00 on the 19th at UTC-5 is the 20th in Vietnam, as every other case date is counted).
 */
export function incidentDateOf(occurredAt: string): string {
  return /^\d{4}-\d{2}-\d{2}$/.test(occurredAt) ? occurredAt : vietnamDate(new Date(occurredAt));
}

/** The date in Vietnam at a moment, YYYY-MM-DD (a case's incident date, a report's "today"). */
export function vietnamDate(at: Date): string {
  return inVietnam(at).toISOString().slice(0, 10);
}

/** The calendar year in Vietnam at a moment (the year of a case's number, as reports count it). */
export function vietnamYear(at: Date): number {
  return inVietnam(at).getUTCFullYear();
}

/** The oldest age a survivor is recorded with (`ageYears`, or what a date of birth gives at the report). */
export const MAX_AGE_YEARS = 120;

/** Whole years between a date of birth (YYYY-MM-DD) and a moment, by the calendar in Vietnam. */
export function ageOn(dateOfBirth: string, moment: Date): number {
  const [y, m, d] = dateOfBirth.split('-').map(Number) as [number, number, number];
  const at = inVietnam(moment);
  let age = at.getUTCFullYear() - y;
  const beforeBirthday = at.getUTCMonth() + 1 < m || (at.getUTCMonth() + 1 === m && at.getUTCDate() < d);
  if (beforeBirthday) age -= 1;
  return age;
}

export function ageGroup(age: number | null): AgeGroup {
  if (age === null) return 'unknown';
  if (age <= 5) return '0-5';
  if (age <= 11) return '6-11';
  if (age <= 15) return '12-15';
  if (age <= 17) return '16-17';
  if (age <= 59) return '18-59';
  return '60+';
}

export interface DerivedTriage {
  ageYears: number | null;
  ageGroup: AgeGroup;
  /** Under 16: a child in Vietnamese law (Law on Children 2016). Null when the age is unknown. */
  childVn: boolean | null;
  /** Under 18: a child in GBVIMS. */
  childGbvims: boolean | null;
  contexts: CaseContext[];
}

/**
 * Derives the triage facts from what the officer entered: the age, its group and the child flags at the time of
 * the report (they decide the statutory urgency and the consent rules now); the contexts that describe the
 * incident (child sexual abuse, early marriage) at the incident's date (`incidentDate`, YYYY-MM-DD in Vietnam)
 * when it and the date of birth are known: a rape at 17 reported after the 18th birthday is child sexual abuse.
 */
export function deriveTriage(input: {
  dateOfBirth?: string;
  ageYears?: number;
  reportedAt: Date;
  incidentDate?: string;
  relationship?: Relationship;
  forms: readonly ViolenceForm[];
  gbvType: GbvType;
  contexts?: readonly CaseContext[];
}): DerivedTriage {
  const age = input.dateOfBirth ? ageOn(input.dateOfBirth, input.reportedAt) : (input.ageYears ?? null);
  const atIncident =
    input.dateOfBirth && input.incidentDate
      ? ageOn(input.dateOfBirth, new Date(`${input.incidentDate}T00:00:00+07:00`))
      : age;
  const contexts = new Set<CaseContext>(input.contexts ?? []);
  if (input.relationship && INTIMATE.has(input.relationship)) contexts.add('intimate_partner');
  const sexual =
    input.forms.includes('sexual') || input.gbvType === 'rape' || input.gbvType === 'sexual_assault';
  if (atIncident !== null && atIncident < 18 && sexual) contexts.add('child_sexual_abuse');
  if (atIncident !== null && atIncident < 18 && input.gbvType === 'forced_marriage')
    contexts.add('early_marriage');
  return {
    ageYears: age,
    ageGroup: ageGroup(age),
    childVn: age === null ? null : age < 16,
    childGbvims: age === null ? null : age < 18,
    contexts: CASE_CONTEXTS.filter((c) => contexts.has(c)),
  };
}

/**
 * Non-identifying case code: province code, year, per-province sequence, e.g. `HV01-2026-000123`. A registration
 * draws its code in SQL (`next_case_code`, migration CaseNumbers), in the same format; this one is the bulk
 * seeder's (the two are compared in case-number.spec.ts).
 */
export function caseCode(provinceCode: string, year: number, sequence: number): string {
  return `HV${provinceCode}-${year}-${String(sequence).padStart(6, '0')}`;
}
