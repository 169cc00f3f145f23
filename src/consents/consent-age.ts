import type { EntityManager } from 'typeorm';
import { ageOn, vietnamDate } from '../cases/case-classification';
import type { LocalizedText } from '../common/errors/error-catalog';
import { consentActiveSql } from './consent-expiry.service';

/** What a case records of the survivor's age at the report (null where it is not known). */
export interface SurvivorAge {
  /** Under 16 (Vietnamese law). */
  childVn: boolean | null;
  /** Under 18 (GBVIMS). */
  childGbvims: boolean | null;
}

/**
 * The survivor's age as the consent rules take it: at a moment (now), not at the report, so that a survivor of
 * 15 at the report who is 16 now consents herself, and a child-protection duty is not recorded for one who has
 * turned 18 since. From the date of birth when it is known; else from the age at the report (`ageYears`) and
 * the whole years since, the youngest she can be (a child until known not to be one: under 16 she does not
 * consent alone; a duty is refused once she is known to be 18).
 */
export interface SurvivorAgeNow extends SurvivorAge {
  /** When she is known to be 18 (a child-protection duty ends then); null when the age is not known. */
  adultFrom: Date | null;
}

/** The first moment (00:00 in Vietnam) at which `ageOn(date, moment)` is `years`: a 29 February's is 1 March. */
function anniversary(date: string, years: number): Date {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(y + years, m - 1, d) - 7 * 3600_000);
}

/**
 * The survivor's age at `now` (SurvivorAgeNow), from the facts a case records: its date of birth, or its age
 * at `reportedAt`.
 */
export function survivorAgeAt(
  facts: { dateOfBirth?: string | null; ageYears?: number | null },
  reportedAt: Date,
  now: Date,
): SurvivorAgeNow {
  let age: number;
  let adultFrom: Date;
  if (facts.dateOfBirth) {
    age = ageOn(facts.dateOfBirth, now);
    adultFrom = anniversary(facts.dateOfBirth, 18);
  } else if (facts.ageYears !== undefined && facts.ageYears !== null) {
    const reported = vietnamDate(reportedAt);
    age = facts.ageYears + Math.max(0, ageOn(reported, now));
    adultFrom = anniversary(reported, Math.max(0, 18 - facts.ageYears));
  } else {
    return { childVn: null, childGbvims: null, adultFrom: null };
  }
  return { childVn: age < 16, childGbvims: age < 18, adultFrom };
}

/** Whether two ages judge every consent alike (the moment an adult became one aside). */
export function sameConsentAge(a: SurvivorAgeNow, b: SurvivorAgeNow): boolean {
  return (
    a.childVn === b.childVn &&
    a.childGbvims === b.childGbvims &&
    (a.childGbvims !== true || a.adultFrom?.getTime() === b.adultFrom?.getTime())
  );
}

/** A consent's ground: the person who gave it, or the legal basis it rests on. */
export interface ConsentGround {
  givenBy?: 'survivor' | 'guardian' | null;
  legalBasis?: 'child_protection_duty' | 'imminent_danger' | 'court_order' | null;
}

/**
 * Why a consent's ground does not fit the survivor's age, or null when it does (an unknown age leaves it open):
 * - a child-protection duty is owed to a child, not to a survivor known to be 18 or over (GBVIMS, the wider of
 *   the two definitions);
 * - a child under 16 does not consent alone: the parent or guardian does (the child's own views are heard, Law
 *   on Children 2016), or a legal basis is recorded.
 * The service judges by the age now (survivorAgeAt); the bulk seed by the case's flags, its consents being given
 * at the report.
 */
export function ageMisfit(ground: ConsentGround, age: SurvivorAge): LocalizedText | null {
  if (ground.legalBasis === 'child_protection_duty' && age.childGbvims === false) {
    return {
      en: 'A child-protection duty does not apply: the survivor is not a child (18 or over).',
      vi: 'Nghĩa vụ bảo vệ trẻ em không áp dụng: người bị bạo lực đã đủ 18 tuổi (đã thành niên).',
    };
  }
  if (ground.givenBy === 'survivor' && age.childVn === true) {
    return {
      en: 'The survivor is a child under 16: consent is given by a parent or guardian (givenBy: guardian), or a legal basis is recorded.',
      vi: 'Người bị bạo lực là trẻ em dưới 16 tuổi: sự đồng ý do cha, mẹ hoặc người giám hộ đưa ra (givenBy: guardian), hoặc ghi nhận căn cứ pháp lý.',
    };
  }
  return null;
}

/**
 * Why consent `consent` (recorded, perhaps before the survivor's age was corrected or before these rules) does
 * not hold at the survivor's age now, or null when it does: ageMisfit's rules, and a child-protection duty that
 * would outlast her 18th birthday (one recorded now ends then: ConsentsService).
 */
export function consentMisfit(
  consent: ConsentGround & { expiresAt: Date | null },
  age: SurvivorAgeNow,
): LocalizedText | null {
  const misfit = ageMisfit(consent, age);
  if (misfit) return misfit;
  if (
    consent.legalBasis === 'child_protection_duty' &&
    age.adultFrom &&
    (consent.expiresAt === null || consent.expiresAt > age.adultFrom)
  ) {
    return {
      en: 'A child-protection duty ends when the survivor turns 18: this one would go on after that.',
      vi: 'Nghĩa vụ bảo vệ trẻ em chấm dứt khi người bị bạo lực đủ 18 tuổi: căn cứ này lại kéo dài quá thời điểm đó.',
    };
  }
  return null;
}

/**
 * The active consents of case `caseId` that the survivor's age `age` would not hold (consentMisfit), in id
 * order: what a correction of the age (a change of the case) must not leave standing.
 */
export async function consentsNotFittingAge(
  m: EntityManager,
  caseId: string,
  age: SurvivorAgeNow,
): Promise<string[]> {
  const rows = await m.query<
    {
      id: string;
      given_by: ConsentGround['givenBy'];
      legal_basis: ConsentGround['legalBasis'];
      expires_at: Date | null;
    }[]
  >(
    `SELECT cs.id, cs.given_by, cs.legal_basis, cs.expires_at FROM consents cs
      WHERE cs.case_id = $1 AND ${consentActiveSql('cs')}
      ORDER BY cs.id`,
    [caseId],
  );
  return rows
    .filter((r) =>
      consentMisfit({ givenBy: r.given_by, legalBasis: r.legal_basis, expiresAt: r.expires_at }, age),
    )
    .map((r) => r.id);
}

/**
 * The active child-protection duties of case `caseId` end at the survivor's 18th birthday by `age` (a correction
 * of her age that makes it known, or earlier): where one would go on after it, its end is brought to it (its
 * referrals' copies follow, trigger consents_expiry_to_referrals). Only while she is a child by `age`: a duty of
 * an adult is for the ward to withdraw (consentsNotFittingAge names it). An end is never put later. Returns the
 * consents changed, for their access-log entries.
 */
export async function endDutiesAtAdulthood(
  m: EntityManager,
  caseId: string,
  age: SurvivorAgeNow,
): Promise<{ id: string; case_id: string; province_code: string; ward_code: string }[]> {
  if (age.childGbvims !== true || !age.adultFrom) return [];
  const moving = `cs.case_id = $1 AND cs.legal_basis = 'child_protection_duty' AND ${consentActiveSql('cs')}
        AND (cs.expires_at IS NULL OR cs.expires_at > $2)`;
  // The referrals the update's trigger rewrites (every one of those consents) and those a raise of the case's
  // urgency takes next (its live ones), locked first, together, in id order: as every change of several
  // referrals takes them, rather than in whatever order the trigger meets them.
  await m.query(
    `SELECT r.id FROM referrals r
      WHERE r.case_id = $1
        AND (r.status IN ('pending', 'accepted') OR r.consent_id IN (SELECT cs.id FROM consents cs WHERE ${moving}))
      ORDER BY r.id FOR UPDATE`,
    [caseId, age.adultFrom],
  );
  // An UPDATE's answer through TypeORM: its rows and its count.
  const [rows] = await m.query<
    [{ id: string; case_id: string; province_code: string; ward_code: string }[], number]
  >(
    `UPDATE consents cs SET expires_at = $2
       FROM cases c
      WHERE c.id = cs.case_id AND ${moving}
      RETURNING cs.id, cs.case_id, c.province_code, c.ward_code`,
    [caseId, age.adultFrom],
  );
  return rows;
}
