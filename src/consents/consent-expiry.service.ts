import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import type { AuditRequestMeta } from '../audit/audit.types';
import type { RevokeCause } from '../referrals/referral-state';
import {
  consentExpiredByNowSql,
  liveReferralSql,
  revokeReferrals,
  type Revoker,
} from '../referrals/referral-ending';

/**
 * SQL: whether the consent row `alias` is active, by the database's clock (not withdrawn, not expired), now or at
 * `at` (SQL). Access decisions take it from here, so that instances whose clocks differ agree; so do the views
 * (consentStatusSql).
 */
export function consentActiveSql(alias: string, at = 'now()'): string {
  return `(${alias}.withdrawn_at IS NULL AND (${alias}.expires_at IS NULL OR ${alias}.expires_at > ${at}))`;
}

/**
 * The consents that have expired by now and still have a live referral: found from the live referrals' copies of
 * their consent's expiry (`referrals_consent_expiry_idx`: the live states and `IS NOT NULL` are written in so that
 * the partial index applies), decided by the consent's own, read by its id alone (the subquery's one condition:
 * a join let the planner scan a range of consents by their expiry for each referral). Exported for the plan's
 * test.
 */
export const EXPIRED_CONSENTS_SQL = `SELECT DISTINCT r.consent_id AS id FROM referrals r
   WHERE ${liveReferralSql('r')} AND r.consent_expires_at IS NOT NULL
     AND r.consent_expires_at <= (SELECT clock_timestamp())
     AND (SELECT ${consentExpiredByNowSql('cs')} FROM consents cs WHERE cs.id = r.consent_id)
   ORDER BY 1 LIMIT $1`;

/**
 * The consents one sweep takes at most: many that end at one moment (a common expiry date) are swept over several
 * requests, each a short transaction, not in one that writes thousands of entries before its own read goes on.
 */
export const EXPIRY_SWEEP_CONSENTS = 100;

/** SQL: referral `r` is live and its consent `cs` (joined) has ended: access takes it as revoked. */
function endedUnderConsentSql(r: string, cs: string): string {
  return `(${liveReferralSql(r)} AND NOT ${consentActiveSql(cs)})`;
}

/**
 * SQL: referral `r`'s status as access decisions take it, with its consent `cs` joined: a live referral whose
 * consent has ended counts as revoked, even before revokeExpired has written that down. The sweep records the
 * revocation; this is what makes the end of access not depend on every path running the sweep first.
 */
export function effectiveReferralStatusSql(r: string, cs: string): string {
  return `(CASE WHEN ${endedUnderConsentSql(r, cs)} THEN 'revoked' ELSE ${r}.status END)`;
}

/**
 * SQL: referral `r`'s revoke cause as access decisions take it, with its consent `cs` joined: a live referral
 * whose consent has ended has the cause the sweep will record (withdrawn, or expired).
 */
export function effectiveRevokeCauseSql(r: string, cs: string): string {
  return `(CASE WHEN ${endedUnderConsentSql(r, cs)}
    THEN (CASE WHEN ${cs}.withdrawn_at IS NOT NULL THEN 'consent_withdrawn' ELSE 'consent_expired' END)
    ELSE ${r}.revoke_cause END)`;
}

/**
 * SQL: when referral `r` ended as access decisions take it, with its consent `cs` joined: a live referral whose
 * consent has ended, when the consent did (never before the referral was made: the time the sweep will record),
 * a live one otherwise null, an ended one when it was revoked, declined or completed.
 */
export function effectiveEndedAtSql(r: string, cs: string): string {
  return `(CASE WHEN ${endedUnderConsentSql(r, cs)}
      THEN greatest(${r}.created_at, coalesce(${cs}.withdrawn_at, ${cs}.expires_at))
    WHEN NOT ${liveReferralSql(r)} THEN coalesce(${r}.revoked_at, ${r}.declined_at, ${r}.completed_at) END)`;
}

/**
 * SQL: effectiveReferralStatusSql without the consent joined: referral `r`'s consent is looked up only when `r`
 * is live (an ended referral's status is its own), so that a statement reading many referrals, most of them
 * ended, from an index probes few consents (the report).
 */
export function effectiveReferralStatusLookupSql(r: string, at = 'now()'): string {
  return `(CASE WHEN ${liveReferralSql(r)} AND NOT EXISTS (SELECT 1 FROM consents cs
                WHERE cs.id = ${r}.consent_id AND ${consentActiveSql('cs', at)}) THEN 'revoked'
    ELSE ${r}.status END)`;
}

/** SQL: the consent row `alias`'s status as views show it ('active', 'withdrawn', 'expired'), by the same clock. */
export function consentStatusSql(alias: string, at = 'now()'): string {
  return `(CASE WHEN ${alias}.withdrawn_at IS NOT NULL THEN 'withdrawn'
    WHEN ${consentActiveSql(alias, at)} THEN 'active' ELSE 'expired' END)`;
}

/**
 * Ends access the moment its ground ends: revokes the live referrals whose consent was withdrawn or has
 * expired. Expiry needs no job to take effect: the access rules take an ended consent's referral as revoked
 * (effectiveReferralStatusSql), and every path that shows or lists a provider's cases or referrals, moves a
 * referral or adds a note calls `revokeExpired` first, on its own connection and in a transaction of its own,
 * which writes the revocation down (with its access-log entry) before the access is decided.
 */
@Injectable()
export class ConsentExpiryService {
  constructor(private readonly audit: AuditService) {}

  /** Revokes the live referrals relying on these consents; returns their ids. */
  async revokeReferralsOf(
    m: EntityManager,
    consentIds: string[],
    cause: RevokeCause,
    by: Revoker,
  ): Promise<string[]> {
    if (consentIds.length === 0) return [];
    return revokeReferrals(m, this.audit, 'r.consent_id = ANY($1)', [consentIds], cause, by);
  }

  /** Revokes the live referrals of a case that closes or is crypto-shredded; returns their ids. */
  async revokeReferralsOfCase(
    m: EntityManager,
    caseId: string,
    cause: 'case_closed' | 'case_shredded',
    by: Revoker,
  ): Promise<string[]> {
    return revokeReferrals(m, this.audit, 'r.case_id = $1', [caseId], cause, by);
  }

  /**
   * Revokes the live referrals of a case to an organisation whose consent has ended by now (the database's
   * clock at this statement): a new referral to it, made under a new consent, checks for an open one after its
   * case is locked, and an expiry that fell between revokeExpired and that lock would otherwise count as open.
   */
  async revokeEndedOf(
    m: EntityManager,
    caseId: string,
    organizationId: string,
    request: AuditRequestMeta,
  ): Promise<string[]> {
    return revokeReferrals(
      m,
      this.audit,
      `r.case_id = $1 AND r.organization_id = $2 AND EXISTS (SELECT 1 FROM consents cs
          WHERE cs.id = r.consent_id AND ${consentExpiredByNowSql('cs')})`,
      [caseId, organizationId],
      'consent_expired',
      { system: true, request },
    );
  }

  /**
   * Revokes the live referrals of every consent that has expired (cheap when there are none: the live referrals
   * whose consent has an expiry are read from their own partial index, `referrals_consent_expiry_idx`, as many as
   * there is current work; a consent whose expiry passed long ago is not read again). The revocations and their
   * entries commit together, before a read's session reads on; inside the caller's transaction, with it.
   */
  async revokeExpired(
    m: EntityManager,
    request: AuditRequestMeta,
    batch = EXPIRY_SWEEP_CONSENTS,
  ): Promise<string[]> {
    // With its parameters, prepared once per connection (src/database/prepared-statements.ts): planned on every
    // call it cost 0.45 ms, where running it takes 0.01 ms, and it runs before every referral list, read, note
    // and move and a provider's case read.
    const expired = await m.query<{ id: string }[]>(EXPIRED_CONSENTS_SQL, [batch]);
    if (expired.length === 0) return [];
    const ids = expired.map((e) => e.id);
    // A transaction on the caller's connection (a savepoint when it is already in one); the referrals another
    // transaction holds are left to a later sweep, not waited for.
    return m.transaction((t) =>
      revokeReferrals(
        t,
        this.audit,
        'r.consent_id = ANY($1)',
        [ids],
        'consent_expired',
        { system: true, request },
        { skipLocked: true },
      ),
    );
  }
}
