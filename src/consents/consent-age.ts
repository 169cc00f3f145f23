import type { EntityManager } from 'typeorm';
import type { LocalizedText } from '../common/errors/error-catalog';
import { consentActiveSql } from './consent-expiry.service';

/** What a case records of the survivor's age at the report (null where it is not known). */
export interface SurvivorAge {
  /** Under 16 (Vietnamese law). */
  childVn: boolean | null;
  /** Under 18 (GBVIMS). */
  childGbvims: boolean | null;
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
 * consentFitsAgeSql is the same rule over the tables.
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
 * SQL: whether consent row `cs` fits the age recorded on case row `c` (ageMisfit's rule); never NULL (a consent
 * has one of `given_by` and `legal_basis`, the other is NULL).
 */
export function consentFitsAgeSql(cs: string, c: string): string {
  return `NOT ((${cs}.legal_basis IS NOT DISTINCT FROM 'child_protection_duty' AND ${c}.child_gbvims IS FALSE)
    OR (${cs}.given_by IS NOT DISTINCT FROM 'survivor' AND ${c}.child_vn IS TRUE))`;
}

/**
 * The active consents of case `caseId` that the child flags `age` would not fit (consentFitsAgeSql), in id
 * order: what a correction of the age (a change of the case, or its re-derivation under new rules) must not leave
 * standing.
 */
export async function consentsNotFittingAge(
  m: EntityManager,
  caseId: string,
  age: SurvivorAge,
): Promise<string[]> {
  const rows = await m.query<{ id: string }[]>(
    `SELECT cs.id FROM consents cs, (SELECT $2::boolean AS child_vn, $3::boolean AS child_gbvims) c
      WHERE cs.case_id = $1 AND ${consentActiveSql('cs')} AND NOT ${consentFitsAgeSql('cs', 'c')}
      ORDER BY cs.id`,
    [caseId, age.childVn, age.childGbvims],
  );
  return rows.map((r) => r.id);
}
