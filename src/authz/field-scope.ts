import { permittedFieldsOf } from '@casl/ability/extra';
import type { AppAbility } from './ability.factory';
import {
  Action,
  CASE_CATEGORIES,
  CaseCategory,
  CaseSubject,
  REFERRAL_CATEGORIES,
  ReferralCategory,
  ReferralSubject,
} from './subjects';

/**
 * The field categories of one case the caller may get for an action: the categories to select, decrypt,
 * return and name in the access log. Empty means the case is not visible at all.
 */
export function permittedCaseCategories(
  ability: AppAbility,
  action: Action,
  subject: CaseSubject,
): ReadonlySet<CaseCategory> {
  return pick(ability, action, subject, CASE_CATEGORIES);
}

/** The same for a referral (`triage`: its metadata, `notes`: its free text). */
export function permittedReferralCategories(
  ability: AppAbility,
  action: Action,
  subject: ReferralSubject,
): ReadonlySet<ReferralCategory> {
  return pick(ability, action, subject, REFERRAL_CATEGORIES);
}

function pick<C extends string>(
  ability: AppAbility,
  action: Action,
  subject: CaseSubject | ReferralSubject,
  all: readonly C[],
): ReadonlySet<C> {
  const fields = permittedFieldsOf(ability, action, subject, {
    fieldsFrom: (rule) => rule.fields ?? [...all],
  });
  // Keep the canonical order and drop anything that is not a known category (fail closed on typos).
  const allowed = new Set(fields);
  return new Set(all.filter((c) => allowed.has(c)));
}
