import { defineAbilityFor } from '../authz/ability.factory';
import type { Principal } from '../authz/principal';
import { accessibleWhere } from '../authz/sql-scope';
import { byCommune, CASE_COLUMNS } from './cases.repository';

describe('byCommune (a case list total from the communes’ counts)', () => {
  it('takes conditions on nothing but the case’s commune and province', () => {
    expect(byCommune('TRUE')).toBe(true);
    expect(byCommune('FALSE')).toBe(true);
    expect(byCommune('c.province_code = :authz_0')).toBe(true);
    expect(byCommune('(c.ward_code IN (:...authz_0) OR c.province_code = :authz_1)')).toBe(true);
  });

  it('refuses any other column or table, so that those lists count their cases', () => {
    expect(byCommune('c.ward_code = :a AND c.status = :b')).toBe(false);
    expect(byCommune('c.id = :a')).toBe(false);
    expect(byCommune('r.organization_id = :a')).toBe(false);
    expect(
      byCommune(`:a = ANY(ARRAY(SELECT bg.user_id FROM break_glass_grants bg WHERE bg.case_id = c.id))`),
    ).toBe(false);
    expect(byCommune('c.ward_code = :a AND x.ward_code = :b')).toBe(false);
  });

  it('holds for the ward officer’s and the supervisor’s scopes as the rules write them, not a provider’s', () => {
    const scope = (p: Partial<Principal>) =>
      accessibleWhere(
        defineAbilityFor({
          userId: 'u',
          wardCodes: [],
          organizationId: null,
          provinceCode: null,
          ...p,
        } as Principal),
        'read',
        'Case',
        CASE_COLUMNS,
      ).sql;
    expect(byCommune(scope({ role: 'ward_officer', wardCodes: ['00145'] }))).toBe(true);
    expect(byCommune(scope({ role: 'supervisor', provinceCode: '01' }))).toBe(true);
    expect(byCommune(scope({ role: 'supervisor' }))).toBe(true);
    expect(
      byCommune(
        scope({ role: 'provider', organizationId: '00000000-0000-0000-0000-000000000001', sector: 'police' }),
      ),
    ).toBe(false);
  });
});
