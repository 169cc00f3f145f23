import { AbilityBuilder, createMongoAbility, MongoAbility, MongoQuery } from '@casl/ability';
import { Injectable } from '@nestjs/common';
import type { Principal } from './principal';
import {
  Action,
  BREAK_GLASS_SECTORS,
  BreakGlassAccess,
  CASE_CATEGORIES,
  CaseSubject,
  LIVE_REFERRAL_STATUSES,
  ReferralAccess,
  SECTOR_CATEGORIES,
  SubjectName,
  SubjectObject,
} from './subjects';

export type AppAbility = MongoAbility<[Action, SubjectName | SubjectObject], MongoQuery>;

const LIVE_REFERRAL = [...LIVE_REFERRAL_STATUSES];

// Conditions on the referral through which a provider sees a case use dotted paths (`referral.status`),
// which CASL's condition types do not model; the values are still checked by the tests.
function throughReferral(
  q: Partial<Record<`referral.${keyof ReferralAccess}`, unknown>>,
): MongoQuery<CaseSubject> {
  return q as MongoQuery<CaseSubject>;
}

function throughBreakGlass(
  q: Partial<Record<`breakGlass.${keyof BreakGlassAccess}`, unknown>>,
): MongoQuery<CaseSubject> {
  return q as MongoQuery<CaseSubject>;
}

/**
 * Every access rule of Haven, in one place (product brief, "Who uses it"). Row conditions name subject
 * fields (see subjects.ts); field lists name categories. What is not granted here is denied: admins have no
 * rule on any case content, supervisors none on identity or narrative, providers nothing once a referral
 * has ended. The same rules decide a single record (`ability.can`), the SQL scope of lists (sql-scope.ts)
 * and the categories returned and decrypted (field-scope.ts).
 */
export function defineAbilityFor(p: Principal): AppAbility {
  const { can, build } = new AbilityBuilder<AppAbility>(createMongoAbility);
  const self = { userId: p.userId };

  // Every session may see itself, sign out, set up two-factor authentication and change its password.
  can(['read', 'update', 'delete'], 'Session', self);

  if (!p.enrollmentOnly && !p.passwordChangeRequired) {
    // The directory: anyone signed in picks referral targets and communes.
    can('read', 'Organization');
    can('read', 'AdminUnit');

    switch (p.role) {
      case 'ward_officer': {
        const ownWard = { wardCode: { $in: [...p.wardCodes] } };
        can('create', 'Case', ownWard);
        can('read', 'Case', [...CASE_CATEGORIES], ownWard);
        can(['update', 'close'], 'Case', { ...ownWard, status: 'open' });
        // Search answers only from the cases the officer may read (the read scope filters the results).
        can('search', 'Case');
        can(['create', 'read'], 'Consent', ownWard);
        can('withdraw', 'Consent', { ...ownWard, status: 'active' });
        can(['create', 'read'], 'Referral', ownWard);
        can('revoke', 'Referral', { ...ownWard, status: { $in: LIVE_REFERRAL } });
        // The ward sees every note of its cases, its own and each organisation's.
        can(['create', 'read'], 'Note', ownWard);
        break;
      }
      case 'provider': {
        if (!p.organizationId || !p.sector) break; // a provider without an organisation sees nothing
        const org = p.organizationId;
        can('read', 'Referral', ['triage'], { organizationId: org });
        // The ward's referring note and the notes are free text: a pending referral shows triage facts only
        // (product brief), so they open with the acceptance.
        can('read', 'Referral', ['notes'], { organizationId: org, status: 'accepted' });
        can(['accept', 'decline'], 'Referral', { organizationId: org, status: 'pending' });
        can('complete', 'Referral', { organizationId: org, status: 'accepted' });
        // A pending referral shows triage facts only; an accepted one also each category that the
        // sector needs AND the consent releases; an ended one (declined, completed, revoked) nothing; a closed
        // case nothing. (Closing a case revokes its referrals; the condition holds for any left live from
        // before that, in a database older than that rule.)
        can('read', 'Case', ['triage'], {
          ...throughReferral({ 'referral.organizationId': org, 'referral.status': { $in: LIVE_REFERRAL } }),
          status: 'open',
        });
        for (const category of SECTOR_CATEGORIES[p.sector]) {
          can('read', 'Case', [category], {
            ...throughReferral({
              'referral.organizationId': org,
              'referral.status': 'accepted',
              'referral.consentCategories': category,
            }),
            status: 'open',
          });
        }
        // Notes of one organisation are invisible to every other organisation.
        can(['create', 'read'], 'Note', { organizationId: org, referralStatus: 'accepted' });
        // Emergency access (break-glass): police and health staff may open a case of their area without a
        // referral, with a justification (the service checks the area); while the grant is active and the case
        // open it shows the triage facts and the sector's categories to that user alone, and a supervisor
        // reviews it. (Closing a case ends its grants; the condition holds for any left from before that.)
        if (BREAK_GLASS_SECTORS.includes(p.sector)) {
          can('create', 'BreakGlass', { userId: p.userId });
          can('read', 'Case', ['triage', ...SECTOR_CATEGORIES[p.sector]], {
            ...throughBreakGlass({ 'breakGlass.userId': p.userId, 'breakGlass.active': true }),
            status: 'open',
          });
        }
        break;
      }
      case 'supervisor': {
        // Jurisdiction: a province, or the whole country (no condition, including national-only events).
        const jurisdiction = p.provinceCode ? { provinceCode: p.provinceCode } : undefined;
        can('read', 'Case', ['triage'], jurisdiction);
        can('read', 'Referral', ['triage'], jurisdiction);
        can(['read', 'verify'], 'AuditEvent', jurisdiction);
        can('read', 'Report', jurisdiction);
        // The emergency-access review queue of the jurisdiction: read (with the justification), then judge once.
        can('read', 'BreakGlass', jurisdiction);
        can('update', 'BreakGlass', { ...jurisdiction, reviewed: false });
        break;
      }
      case 'admin': {
        // Accounts and the directory; never a case, a referral, a consent, a note or the access log.
        can(['create', 'read', 'update'], 'User');
        can(['create', 'update'], 'Organization');
        can(['create', 'update'], 'AdminUnit');
        // Crypto-shredding destroys a case's data key without reading anything (triage stays for statistics).
        can('delete', 'Case');
        // Anonymised statistics: the national totals only, never a province or commune (issue 7).
        can('read', 'Report', { provinceCode: null });
        break;
      }
    }
  }

  return build({ detectSubjectType: (s) => s.kind });
}

/** Injectable wrapper, so that services and the guard share one factory. */
@Injectable()
export class AbilityFactory {
  createFor(principal: Principal): AppAbility {
    return defineAbilityFor(principal);
  }
}
