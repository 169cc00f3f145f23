import { defineAbilityFor } from './ability.factory';
import { permittedCaseCategories, permittedReferralCategories } from './field-scope';
import { givenPrincipal } from '../../test/support/principal';
import type {
  Action,
  AuditEventSubject,
  BreakGlassSubject,
  CaseCategory,
  CaseSubject,
  ConsentCategory,
  ConsentSubject,
  NoteSubject,
  ReferralStatus,
  ReferralSubject,
  SubjectName,
  SubjectObject,
} from './subjects';

// The access table of the product brief, as data: role × action × (own/other commune, own/other
// organisation, referral state, consent). Each row is one expectation.

const ORG_POLICE = '00000000-0000-4000-8000-000000000001';
const ORG_HEALTH = '00000000-0000-4000-8000-000000000002';
const ORG_SOCIAL = '00000000-0000-4000-8000-000000000003';

const P = {
  wardLongBien: givenPrincipal({ role: 'ward_officer', wardCodes: ['00145'] }),
  wardTwo: givenPrincipal({ role: 'ward_officer', wardCodes: ['00118', '00145'] }),
  police: givenPrincipal({ role: 'provider', organizationId: ORG_POLICE, sector: 'police' }),
  health: givenPrincipal({ role: 'provider', organizationId: ORG_HEALTH, sector: 'health' }),
  social: givenPrincipal({ role: 'provider', organizationId: ORG_SOCIAL, sector: 'social' }),
  supervisorHanoi: givenPrincipal({ role: 'supervisor', provinceCode: '01' }),
  supervisorHaiphong: givenPrincipal({ role: 'supervisor', provinceCode: '31' }),
  supervisorNational: givenPrincipal({ role: 'supervisor', provinceCode: null }),
  admin: givenPrincipal({ role: 'admin' }),
  adminEnrolling: givenPrincipal({ role: 'admin', enrollmentOnly: true }),
  wardMustChange: givenPrincipal({
    role: 'ward_officer',
    wardCodes: ['00145'],
    passwordChangeRequired: true,
  }),
} as const;
type Who = keyof typeof P;

const ALL_CONSENT: ConsentCategory[] = ['identity', 'contact', 'incident', 'perpetrator', 'health'];

const caseIn = (
  wardCode: string,
  provinceCode = '01',
  status: CaseSubject['status'] = 'open',
): CaseSubject => ({
  kind: 'Case',
  wardCode,
  provinceCode,
  status,
});
const caseVia = (
  organizationId: string,
  status: ReferralStatus,
  consentCategories: ConsentCategory[] = ALL_CONSENT,
): CaseSubject => ({ ...caseIn('00145'), referral: { organizationId, status, consentCategories } });
const caseBreakGlass = (userId: string, active = true): CaseSubject => ({
  ...caseIn('00145'),
  breakGlass: { userId, active },
});
const grant = (provinceCode: string, reviewed = false, userId = P.police.userId): BreakGlassSubject => ({
  kind: 'BreakGlass',
  provinceCode,
  userId,
  reviewed,
});
const OTHER_USER = '99999999-0000-4000-8000-000000000000';
const referral = (organizationId: string, status: ReferralStatus, wardCode = '00145'): ReferralSubject => ({
  kind: 'Referral',
  wardCode,
  provinceCode: '01',
  organizationId,
  status,
});
const consent = (wardCode: string, status: ConsentSubject['status'] = 'active'): ConsentSubject => ({
  kind: 'Consent',
  wardCode,
  provinceCode: '01',
  status,
});
const note = (
  organizationId: string | null,
  referralStatus: ReferralStatus | null,
  wardCode = '00145',
): NoteSubject => ({
  kind: 'Note',
  wardCode,
  provinceCode: '01',
  organizationId,
  referralStatus,
});
const audit = (provinceCode: string | null): AuditEventSubject => ({ kind: 'AuditEvent', provinceCode });

type Row = [Who, Action, SubjectObject | SubjectName, boolean];

const TABLE: Record<string, Row[]> = {
  'cases: the ward officer of the commune, nobody else by commune': [
    ['wardLongBien', 'create', caseIn('00145'), true],
    ['wardLongBien', 'create', caseIn('00118'), false],
    ['wardLongBien', 'read', caseIn('00145'), true],
    ['wardLongBien', 'read', caseIn('00118'), false],
    ['wardTwo', 'read', caseIn('00118'), true],
    ['wardLongBien', 'update', caseIn('00145'), true],
    ['wardLongBien', 'update', caseIn('00145', '01', 'closed'), false],
    ['wardLongBien', 'update', caseIn('00118'), false],
    ['wardLongBien', 'close', caseIn('00145'), true],
    ['wardLongBien', 'close', caseIn('00145', '01', 'closed'), false],
    ['wardLongBien', 'search', 'Case', true],
    ['police', 'create', caseIn('00145'), false],
    ['police', 'read', caseIn('00145'), false],
    ['police', 'search', 'Case', false],
    ['police', 'update', caseVia(ORG_POLICE, 'accepted'), false],
    ['supervisorHanoi', 'read', caseIn('00145'), true],
    ['supervisorHanoi', 'read', caseIn('10507', '31'), false],
    ['supervisorHaiphong', 'read', caseIn('00145'), false],
    ['supervisorNational', 'read', caseIn('10507', '31'), true],
    ['supervisorHanoi', 'update', caseIn('00145'), false],
    ['supervisorHanoi', 'search', 'Case', false],
    ['admin', 'read', caseIn('00145'), false],
    ['admin', 'read', 'Case', false],
    ['admin', 'create', caseIn('00145'), false],
    ['admin', 'search', 'Case', false],
    // Crypto-shredding is the admin's only action on a case: it destroys the key and reads nothing.
    ['admin', 'delete', caseIn('00145'), true],
    ['wardLongBien', 'delete', caseIn('00145'), false],
    ['supervisorHanoi', 'delete', caseIn('00145'), false],
  ],
  'cases through a referral: own organisation while pending or accepted, never after it ends': [
    ['police', 'read', caseVia(ORG_POLICE, 'pending'), true],
    ['police', 'read', caseVia(ORG_POLICE, 'accepted'), true],
    ['police', 'read', caseVia(ORG_POLICE, 'declined'), false],
    ['police', 'read', caseVia(ORG_POLICE, 'completed'), false],
    ['police', 'read', caseVia(ORG_POLICE, 'revoked'), false],
    ['police', 'read', caseVia(ORG_HEALTH, 'accepted'), false],
    ['health', 'read', caseVia(ORG_POLICE, 'pending'), false],
  ],
  'emergency access (break-glass): police and health open, the holder reads, supervisors review': [
    ['police', 'create', 'BreakGlass', true],
    ['health', 'create', 'BreakGlass', true],
    ['police', 'create', grant('01'), true],
    ['police', 'create', grant('01', false, OTHER_USER), false],
    ['social', 'create', 'BreakGlass', false],
    ['wardLongBien', 'create', 'BreakGlass', false],
    ['supervisorHanoi', 'create', 'BreakGlass', false],
    ['admin', 'create', 'BreakGlass', false],
    ['police', 'read', caseBreakGlass(P.police.userId), true],
    ['police', 'read', caseBreakGlass(P.police.userId, false), false],
    ['police', 'read', caseBreakGlass(OTHER_USER), false],
    ['social', 'read', caseBreakGlass(P.social.userId), false],
    ['police', 'update', caseBreakGlass(P.police.userId), false],
    ['police', 'close', caseBreakGlass(P.police.userId), false],
    ['police', 'read', grant('01'), false],
    ['supervisorHanoi', 'read', grant('01'), true],
    ['supervisorHanoi', 'update', grant('01'), true],
    ['supervisorHanoi', 'update', grant('01', true), false],
    ['supervisorHanoi', 'read', grant('31'), false],
    ['supervisorHaiphong', 'update', grant('01'), false],
    ['supervisorNational', 'update', grant('31'), true],
    ['admin', 'read', grant('01'), false],
  ],
  'referrals: the ward refers and revokes; the target organisation answers': [
    ['wardLongBien', 'create', referral(ORG_POLICE, 'pending'), true],
    ['wardLongBien', 'create', referral(ORG_POLICE, 'pending', '00118'), false],
    ['wardLongBien', 'read', referral(ORG_POLICE, 'completed'), true],
    ['wardLongBien', 'revoke', referral(ORG_POLICE, 'pending'), true],
    ['wardLongBien', 'revoke', referral(ORG_POLICE, 'accepted'), true],
    ['wardLongBien', 'revoke', referral(ORG_POLICE, 'completed'), false],
    ['wardLongBien', 'revoke', referral(ORG_POLICE, 'pending', '00118'), false],
    ['wardLongBien', 'accept', referral(ORG_POLICE, 'pending'), false],
    ['police', 'read', referral(ORG_POLICE, 'pending'), true],
    ['police', 'read', referral(ORG_HEALTH, 'pending'), false],
    ['police', 'accept', referral(ORG_POLICE, 'pending'), true],
    ['police', 'accept', referral(ORG_POLICE, 'accepted'), false],
    ['police', 'accept', referral(ORG_HEALTH, 'pending'), false],
    ['police', 'decline', referral(ORG_POLICE, 'pending'), true],
    ['police', 'decline', referral(ORG_POLICE, 'accepted'), false],
    ['police', 'complete', referral(ORG_POLICE, 'accepted'), true],
    ['police', 'complete', referral(ORG_POLICE, 'pending'), false],
    ['police', 'revoke', referral(ORG_POLICE, 'pending'), false],
    ['police', 'create', referral(ORG_POLICE, 'pending'), false],
    ['supervisorHanoi', 'read', referral(ORG_POLICE, 'accepted'), true],
    ['supervisorHaiphong', 'read', referral(ORG_POLICE, 'accepted'), false],
    ['supervisorHanoi', 'accept', referral(ORG_POLICE, 'pending'), false],
    ['admin', 'read', referral(ORG_POLICE, 'pending'), false],
  ],
  'consents: the ward only': [
    ['wardLongBien', 'create', consent('00145'), true],
    ['wardLongBien', 'create', consent('00118'), false],
    ['wardLongBien', 'withdraw', consent('00145'), true],
    ['wardLongBien', 'withdraw', consent('00145', 'withdrawn'), false],
    ['police', 'read', consent('00145'), false],
    ['supervisorHanoi', 'read', consent('00145'), false],
    ['admin', 'read', consent('00145'), false],
  ],
  'notes: the ward sees all of its cases; an organisation only its own, while its referral is accepted': [
    ['wardLongBien', 'read', note(null, null), true],
    ['wardLongBien', 'read', note(ORG_POLICE, 'accepted'), true],
    ['wardLongBien', 'read', note(null, null, '00118'), false],
    ['police', 'read', note(ORG_POLICE, 'accepted'), true],
    ['police', 'create', note(ORG_POLICE, 'accepted'), true],
    ['police', 'create', note(ORG_POLICE, 'pending'), false],
    ['police', 'read', note(ORG_POLICE, 'completed'), false],
    ['police', 'read', note(ORG_HEALTH, 'accepted'), false],
    ['police', 'read', note(null, null), false],
    ['supervisorHanoi', 'read', note(null, null), false],
    ['admin', 'read', note(null, null), false],
  ],
  'access log and reports: supervisors within their jurisdiction': [
    ['supervisorHanoi', 'read', audit('01'), true],
    ['supervisorHanoi', 'verify', audit('01'), true],
    ['supervisorHanoi', 'read', audit('31'), false],
    ['supervisorHanoi', 'read', audit(null), false],
    ['supervisorNational', 'read', audit(null), true],
    ['supervisorNational', 'read', audit('31'), true],
    ['supervisorHanoi', 'read', { kind: 'Report', provinceCode: '01' }, true],
    ['supervisorHanoi', 'read', { kind: 'Report', provinceCode: null }, false],
    ['supervisorNational', 'read', { kind: 'Report', provinceCode: null }, true],
    ['wardLongBien', 'read', audit('01'), false],
    ['police', 'read', audit('01'), false],
    ['admin', 'read', audit('01'), false],
    ['admin', 'read', { kind: 'Report', provinceCode: '01' }, false],
    ['admin', 'read', { kind: 'Report', provinceCode: null }, true],
    ['police', 'read', 'Report', false],
    ['wardLongBien', 'read', 'Report', false],
  ],
  'directory and accounts: everyone reads the directory, only admins change it and manage accounts': [
    ['wardLongBien', 'read', 'Organization', true],
    ['police', 'read', 'AdminUnit', true],
    ['supervisorHanoi', 'read', 'Organization', true],
    ['admin', 'read', 'Organization', true],
    ['admin', 'create', 'Organization', true],
    ['admin', 'update', { kind: 'Organization', provinceCode: '01', sector: 'police' }, true],
    ['wardLongBien', 'create', 'Organization', false],
    ['supervisorNational', 'update', 'Organization', false],
    ['admin', 'create', { kind: 'User', role: 'supervisor' }, true],
    ['admin', 'read', 'User', true],
    ['admin', 'update', 'User', true],
    ['wardLongBien', 'read', 'User', false],
    ['supervisorNational', 'create', 'User', false],
    ['police', 'update', 'User', false],
  ],
  'sessions: everyone signs out and sets up two-factor for their own account only': [
    ['wardLongBien', 'delete', { kind: 'Session', userId: P.wardLongBien.userId }, true],
    ['wardLongBien', 'update', { kind: 'Session', userId: P.wardLongBien.userId }, true],
    ['wardLongBien', 'update', { kind: 'Session', userId: '99999999-0000-4000-8000-000000000000' }, false],
    ['admin', 'read', 'Session', true],
  ],
  'a session waiting for two-factor set-up may do nothing but that': [
    ['adminEnrolling', 'update', { kind: 'Session', userId: P.adminEnrolling.userId }, true],
    ['adminEnrolling', 'delete', 'Session', true],
    ['adminEnrolling', 'read', 'User', false],
    ['adminEnrolling', 'create', 'Organization', false],
    ['adminEnrolling', 'read', 'Organization', false],
    ['adminEnrolling', 'read', 'AdminUnit', false],
  ],
  'a session whose password an administrator set may do nothing but change it, see itself and sign out': [
    ['wardMustChange', 'update', { kind: 'Session', userId: P.wardMustChange.userId }, true],
    ['wardMustChange', 'read', { kind: 'Session', userId: P.wardMustChange.userId }, true],
    ['wardMustChange', 'delete', 'Session', true],
    ['wardMustChange', 'read', caseIn('00145'), false],
    ['wardMustChange', 'create', caseIn('00145'), false],
    ['wardMustChange', 'read', 'Organization', false],
    ['wardMustChange', 'read', 'AdminUnit', false],
  ],
};

describe('ability table (ability.factory.ts)', () => {
  for (const [group, rows] of Object.entries(TABLE)) {
    describe(group, () => {
      it.each(rows.map((r) => [r[0], r[1], describeSubject(r[2]), r[3], r[2]] as const))(
        '%s %s %s → %s',
        (who, action, _label, expected, subject) => {
          const ability = defineAbilityFor(P[who]);
          expect(ability.can(action, subject)).toBe(expected);
        },
      );
    });
  }
});

type CategoryRow = [Who, CaseSubject, CaseCategory[]];
const TRIAGE: CaseCategory[] = ['triage'];

const CATEGORY_TABLE: CategoryRow[] = [
  // Ward officer of the commune: everything; of another commune: nothing.
  [
    'wardLongBien',
    caseIn('00145'),
    ['triage', 'identity', 'contact', 'incident', 'perpetrator', 'health', 'notes'],
  ],
  ['wardLongBien', caseIn('00118'), []],
  // Pending referral: triage facts only, whatever the consent.
  ['police', caseVia(ORG_POLICE, 'pending'), TRIAGE],
  ['health', caseVia(ORG_HEALTH, 'pending'), TRIAGE],
  // Accepted: the sector's categories, narrowed by the consent.
  ['police', caseVia(ORG_POLICE, 'accepted'), ['triage', 'identity', 'contact', 'incident', 'perpetrator']],
  ['health', caseVia(ORG_HEALTH, 'accepted'), ['triage', 'identity', 'contact', 'incident', 'health']],
  ['social', caseVia(ORG_SOCIAL, 'accepted'), ['triage', 'identity', 'contact', 'incident']],
  ['police', caseVia(ORG_POLICE, 'accepted', ['identity', 'health']), ['triage', 'identity']],
  ['health', caseVia(ORG_HEALTH, 'accepted', ['health']), ['triage', 'health']],
  ['social', caseVia(ORG_SOCIAL, 'accepted', ['perpetrator', 'health']), TRIAGE],
  ['police', caseVia(ORG_POLICE, 'accepted', []), TRIAGE],
  // Ended: nothing at all.
  ['police', caseVia(ORG_POLICE, 'completed'), []],
  ['police', caseVia(ORG_POLICE, 'declined'), []],
  ['health', caseVia(ORG_HEALTH, 'revoked'), []],
  // Another organisation's referral: nothing.
  ['police', caseVia(ORG_HEALTH, 'accepted'), []],
  // Supervisors: triage (metadata) only, within the jurisdiction.
  ['supervisorHanoi', caseIn('00145'), TRIAGE],
  ['supervisorHaiphong', caseIn('00145'), []],
  ['supervisorNational', caseIn('00145'), TRIAGE],
  // An active emergency grant of the user: triage and the sector's categories; expired or another's: nothing.
  ['police', caseBreakGlass(P.police.userId), ['triage', 'identity', 'contact', 'incident', 'perpetrator']],
  ['health', caseBreakGlass(P.health.userId), ['triage', 'identity', 'contact', 'incident', 'health']],
  ['police', caseBreakGlass(P.police.userId, false), []],
  ['health', caseBreakGlass(OTHER_USER), []],
  ['social', caseBreakGlass(P.social.userId), []],
  // Admins: no case content at all.
  ['admin', caseIn('00145'), []],
  ['admin', caseVia(ORG_POLICE, 'accepted'), []],
];

describe('permitted case field categories (field-scope.ts)', () => {
  it.each(CATEGORY_TABLE.map((r) => [r[0], describeSubject(r[1]), r[2], r[1]] as const))(
    '%s reading %s → %j',
    (who, _label, expected, subject) => {
      const ability = defineAbilityFor(P[who]);
      expect([...permittedCaseCategories(ability, 'read', subject)]).toEqual(expected);
      // The record-level answer agrees: visible exactly when some category is.
      expect(ability.can('read', subject)).toBe(expected.length > 0);
    },
  );

  it('a referral’s free-text note reaches the provider with the acceptance only, and is hidden again once it ends', () => {
    const police = defineAbilityFor(P.police);
    expect([...permittedReferralCategories(police, 'read', referral(ORG_POLICE, 'pending'))]).toEqual([
      'triage',
    ]);
    expect([...permittedReferralCategories(police, 'read', referral(ORG_POLICE, 'accepted'))]).toEqual([
      'triage',
      'notes',
    ]);
    expect([...permittedReferralCategories(police, 'read', referral(ORG_POLICE, 'completed'))]).toEqual([
      'triage',
    ]);
    const supervisor = defineAbilityFor(P.supervisorHanoi);
    expect([...permittedReferralCategories(supervisor, 'read', referral(ORG_POLICE, 'accepted'))]).toEqual([
      'triage',
    ]);
    const ward = defineAbilityFor(P.wardLongBien);
    expect([...permittedReferralCategories(ward, 'read', referral(ORG_POLICE, 'accepted'))]).toEqual([
      'triage',
      'notes',
    ]);
  });
});

function describeSubject(s: SubjectObject | SubjectName): string {
  if (typeof s === 'string') return `any ${s}`;
  const parts: string[] = [s.kind];
  if ('wardCode' in s) parts.push(`ward ${s.wardCode}`);
  if ('provinceCode' in s && !('wardCode' in s)) parts.push(`province ${s.provinceCode ?? 'national'}`);
  if ('status' in s) parts.push(s.status);
  if ('organizationId' in s) parts.push(`org …${String(s.organizationId).slice(-1)}`);
  if ('referralStatus' in s && s.referralStatus) parts.push(`referral ${s.referralStatus}`);
  if (s.kind === 'Case' && s.referral) {
    parts.push(
      `via org …${s.referral.organizationId.slice(-1)} ${s.referral.status} consent [${s.referral.consentCategories.join(',')}]`,
    );
  }
  if (s.kind === 'Case' && s.breakGlass) {
    parts.push(
      `break-glass of ${s.breakGlass.userId === OTHER_USER ? 'another user' : 'own user'} ${s.breakGlass.active ? 'active' : 'expired'}`,
    );
  }
  if (s.kind === 'BreakGlass')
    parts.push(
      `${s.userId === OTHER_USER ? 'another user' : 'own user'} ${s.reviewed ? 'reviewed' : 'pending'}`,
    );
  if (s.kind === 'User') parts.push(s.role);
  if (s.kind === 'Session') parts.push(s.userId === P.wardLongBien.userId ? 'own' : 'other');
  return parts.join(' ');
}
