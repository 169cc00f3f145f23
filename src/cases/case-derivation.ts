import type { BlindIndex, BlindIndexService } from '../crypto';
import { incidentDateOf, type Relationship } from './case-classification';
import type { CaseSections } from './case-sections';
import type { CaseBlindIndexes } from './cases.repository';

/**
 * The version of the rules that derive a case's stored facts from what was said of it: its blind indexes (how a
 * name, a phone or a date is normalised before it is hashed), its age group and child flags, and its contexts
 * (child sexual abuse, early marriage, intimate partner). A registration writes it in `cases.derived_with`; a
 * case written under older rules (column default 1) is brought to these by CaseRederivation, in the background.
 * Whoever changes such a rule raises it, with a migration that moves the pending index's predicate along
 * (`cases_derivations_pending_idx`, migration CaseDerivations).
 *
 * 2: names drop invisible format characters (soft hyphen, zero-width space or joiner, BOM) instead of splitting
 * the word there; child sexual abuse and early marriage are judged at the incident's date (both 2026-12-06).
 */
export const CASE_DERIVATIONS = 2;

/**
 * The facts of a case's sections that its triage is derived from (deriveTriage's inputs but the triage's own:
 * forms, type, contexts): by a registration's change and by a re-derivation alike.
 */
export function triageFactsOf(s: CaseSections, reportedAt: Date) {
  return {
    dateOfBirth: s.identity?.dateOfBirth ?? undefined,
    ageYears: s.identity?.ageYears ?? undefined,
    reportedAt,
    incidentDate: s.incident?.occurredAt ? incidentDateOf(s.incident.occurredAt) : undefined,
    relationship: (s.perpetrator?.relationship ?? undefined) as Relationship | undefined,
  };
}

/** Computes one blind index; the service's refuses a value that has nothing to index with a 400 naming `field`. */
export type IndexGuard = (compute: () => BlindIndex, field: string) => BlindIndex;

/**
 * The blind indexes of a case's sections: its name, its name with the date of birth, its phone, its date of
 * birth alone (each null without its facts). `guard` wraps each computation (by default: a refusal throws).
 */
export function blindIndexesOf(
  blind: BlindIndexService,
  s: CaseSections,
  guard: IndexGuard = (compute) => compute(),
): CaseBlindIndexes {
  const name = s.identity?.fullName;
  const dob = s.identity?.dateOfBirth;
  const phone = s.contact?.phone;
  return {
    name: name ? guard(() => blind.fullName(name), 'survivor.fullName') : null,
    nameDob: name && dob ? guard(() => blind.fullNameDob(name, dob), 'survivor.fullName') : null,
    phone: phone ? guard(() => blind.phone(phone), 'survivor.phone') : null,
    dob: dob ? guard(() => blind.dateOfBirth(dob), 'survivor.dateOfBirth') : null,
  };
}
