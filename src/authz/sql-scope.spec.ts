import { DataSource } from 'typeorm';
import { createTestDataSource } from '../../test/support/database';
import { defineAbilityFor } from './ability.factory';
import type { Principal } from './principal';
import { givenPrincipal } from '../../test/support/principal';
import {
  accessibleBranches,
  accessibleWhere,
  anyOf,
  ColumnMap,
  conditionToSql,
  conditionUses,
  UnsupportedConditionError,
} from './sql-scope';
import type { Action, CaseSubject, ConsentCategory, ReferralStatus, ReferralSubject } from './subjects';
import { REFERRAL_STATUSES } from './subjects';

const ORG_A = '00000000-0000-4000-8000-00000000000a';
const ORG_B = '00000000-0000-4000-8000-00000000000b';
const USER = '10000000-0000-4000-8000-000000000000';
const OTHER_USER = '10000000-0000-4000-8000-0000000000ff';

const CASE_COLUMNS: ColumnMap = {
  wardCode: 'c.ward_code',
  provinceCode: 'c.province_code',
  status: 'c.status',
  'referral.organizationId': 'c.ref_org',
  'referral.status': 'c.ref_status',
  'referral.consentCategories': { sql: 'c.ref_consent', array: true },
  'breakGlass.userId': 'c.bg_user',
  'breakGlass.active': 'c.bg_active',
};
const REFERRAL_COLUMNS: ColumnMap = {
  wardCode: 'r.ward_code',
  provinceCode: 'r.province_code',
  organizationId: 'r.organization_id',
  status: 'r.status',
};

function principal(over: Partial<Principal> & Pick<Principal, 'role'>): Principal {
  return givenPrincipal({ userId: USER, ...over });
}

const PRINCIPALS: Record<string, Principal> = {
  ward: principal({ role: 'ward_officer', wardCodes: ['00145'] }),
  wardTwo: principal({ role: 'ward_officer', wardCodes: ['00145', '10507'] }),
  wardNone: principal({ role: 'ward_officer', wardCodes: [] }),
  policeA: principal({ role: 'provider', organizationId: ORG_A, sector: 'police' }),
  healthB: principal({ role: 'provider', organizationId: ORG_B, sector: 'health' }),
  supervisorHanoi: principal({ role: 'supervisor', provinceCode: '01' }),
  supervisorNational: principal({ role: 'supervisor', provinceCode: null }),
  admin: principal({ role: 'admin' }),
};

describe('conditionToSql', () => {
  const columns: ColumnMap = { a: 't.a', 'n.b': 't.b', tags: { sql: 't.tags', array: true } };

  it('translates equality, $in, nested fields, arrays, null and the and/or/not CASL builds', () => {
    const ast = {
      operator: 'or',
      value: [
        {
          operator: 'and',
          value: [
            { operator: 'eq', field: 'a', value: 'x' },
            { operator: 'in', field: 'n.b', value: ['p', 'q'] },
          ],
        },
        { operator: 'not', value: [{ operator: 'eq', field: 'tags', value: 'identity' }] },
        { operator: 'eq', field: 'a', value: null },
        { operator: 'in', field: 'tags', value: ['u'] },
      ],
    };
    expect(conditionToSql(ast, columns, 'p')).toEqual({
      // Membership of an array column is an overlap (which a GIN index serves), one value or several.
      sql: '((t.a = :p_0 AND t.b = ANY(:p_1)) OR (NOT (t.tags && :p_2)) OR t.a IS NULL OR (t.tags && :p_3))',
      params: { p_0: 'x', p_1: ['p', 'q'], p_2: ['identity'], p_3: ['u'] },
    });
  });

  it('an array column may say how its membership is written (driven from the table it is read from)', () => {
    const grants: ColumnMap = {
      users: {
        sql: 'ARRAY(SELECT g.u FROM g WHERE g.t = t.id)',
        array: true,
        containsSql: (p) => `t.id IN (SELECT g.t FROM g WHERE g.u = ANY(${p}))`,
      },
    };
    expect(conditionToSql({ operator: 'eq', field: 'users', value: 'me' }, grants, 'p')).toEqual({
      sql: '(t.id IN (SELECT g.t FROM g WHERE g.u = ANY(:p_0)))',
      params: { p_0: ['me'] },
    });
    expect(conditionToSql({ operator: 'in', field: 'users', value: ['me', 'you'] }, grants, 'p')).toEqual({
      sql: '(t.id IN (SELECT g.t FROM g WHERE g.u = ANY(:p_0)))',
      params: { p_0: ['me', 'you'] },
    });
  });

  it('a $in of one value is an equality (an index on the column can then be read in order)', () => {
    expect(conditionToSql({ operator: 'in', field: 'n.b', value: ['p'] }, columns, 'p')).toEqual({
      sql: 't.b = :p_0',
      params: { p_0: 'p' },
    });
    // Not for array columns: overlap stays overlap.
    expect(conditionToSql({ operator: 'in', field: 'tags', value: ['u'] }, columns, 'p').sql).toBe(
      '(t.tags && :p_0)',
    );
  });

  it('drops an or-operand another operand implies (absorption), and only then', () => {
    const ax = { operator: 'eq', field: 'a', value: 'x' };
    const bpq = { operator: 'in', field: 'n.b', value: ['p', 'q'] };
    const tag = { operator: 'eq', field: 'tags', value: 'identity' };
    // (a = x AND b IN (p, q)) OR a = x  is  a = x, whichever comes first.
    for (const value of [
      [{ operator: 'and', value: [ax, bpq] }, ax],
      [ax, { operator: 'and', value: [bpq, ax] }],
    ]) {
      expect(conditionToSql({ operator: 'or', value }, columns, 'p')).toEqual({
        sql: 't.a = :p_0',
        params: { p_0: 'x' },
      });
    }
    // The same operand twice: once.
    expect(conditionToSql({ operator: 'or', value: [ax, { ...ax }] }, columns, 'p').sql).toBe('t.a = :p_0');
    // Neither implies the other: both stay; nor does a different value count as the same conjunct.
    expect(
      conditionToSql(
        {
          operator: 'or',
          value: [
            { operator: 'and', value: [ax, bpq] },
            { operator: 'and', value: [ax, tag] },
          ],
        },
        columns,
        'p',
      ).sql,
    ).toBe('((t.a = :p_0 AND t.b = ANY(:p_1)) OR (t.a = :p_2 AND (t.tags && :p_3)))');
    expect(
      conditionToSql(
        {
          operator: 'or',
          value: [
            { operator: 'and', value: [ax, bpq] },
            { operator: 'eq', field: 'a', value: 'y' },
          ],
        },
        columns,
        'p',
      ).sql,
    ).toBe('((t.a = :p_0 AND t.b = ANY(:p_1)) OR t.a = :p_2)');
    // Absorption inside an and: only the or is simplified.
    expect(
      conditionToSql(
        {
          operator: 'and',
          value: [tag, { operator: 'or', value: [ax, { operator: 'and', value: [ax, bpq] }] }],
        },
        columns,
        'p',
      ).sql,
    ).toBe('((t.tags && :p_0) AND t.a = :p_1)');
  });

  it("a provider's referrals are one equality on the organisation (the inbox reads its index in order)", () => {
    expect(
      accessibleWhere(defineAbilityFor(PRINCIPALS.policeA), 'read', 'Referral', REFERRAL_COLUMNS),
    ).toEqual({
      sql: 'r.organization_id = :authz_0',
      params: { authz_0: ORG_A },
    });
  });

  it('tells which table aliases a condition names (column references only, not parameters)', () => {
    const c = { sql: '(r.status = :r_0 OR cs.categories && :cs_1)', params: {} };
    expect(conditionUses(c, 'r')).toBe(true);
    expect(conditionUses(c, 'c')).toBe(false);
    expect(conditionUses(c, 'c', 'cs')).toBe(true);
    expect(conditionUses({ sql: 'TRUE', params: {} }, 'c')).toBe(false);
  });

  it('an empty $in matches nothing, an empty and everything, an empty or nothing', () => {
    expect(conditionToSql({ operator: 'in', field: 'a', value: [] }, columns).sql).toBe('FALSE');
    expect(conditionToSql({ operator: 'and', value: [] }, columns).sql).toBe('TRUE');
    expect(conditionToSql({ operator: 'or', value: [] }, columns).sql).toBe('FALSE');
  });

  it('refuses what it does not know instead of widening the query', () => {
    expect(() => conditionToSql({ operator: 'eq', field: 'unknown', value: 1 }, columns)).toThrow(
      UnsupportedConditionError,
    );
    expect(() => conditionToSql({ operator: 'gt', field: 'a', value: 1 }, columns)).toThrow(/operator "gt"/);
    expect(() => conditionToSql({ operator: 'eq', field: 'a', value: { $ne: 1 } }, columns)).toThrow(
      /non-scalar/,
    );
    expect(() => conditionToSql({ operator: 'in', field: 'a', value: 'x' }, columns)).toThrow(/array/);
  });

  it('no rule at all is FALSE; a rule without conditions is TRUE', () => {
    expect(accessibleWhere(defineAbilityFor(PRINCIPALS.admin), 'read', 'Case', CASE_COLUMNS).sql).toBe(
      'FALSE',
    );
    expect(accessibleWhere(defineAbilityFor(PRINCIPALS.admin), 'read', 'User', { id: 'u.id' }).sql).toBe(
      'TRUE',
    );
    expect(
      accessibleWhere(defineAbilityFor(PRINCIPALS.supervisorNational), 'read', 'Case', CASE_COLUMNS).sql,
    ).toBe('TRUE');
  });
});

/**
 * The SQL scope must select exactly the rows that `ability.can` allows one by one: every combination of
 * commune, province, case state, referral organisation/state and consent is written to a real table, and
 * for each principal and action the database's answer is compared with CASL's.
 */
describe('accessibleWhere agrees with ability.can on real PostgreSQL', () => {
  let dataSource: DataSource;
  let drop: () => Promise<void>;
  // Each probe row: its id in the table and the subject CASL sees.
  const cases: { id: number; s: CaseSubject }[] = [];
  const referrals: { id: number; s: ReferralSubject }[] = [];

  beforeAll(async () => {
    ({ dataSource, drop } = await createTestDataSource());
    await dataSource.query(`CREATE TABLE probe_cases (id int PRIMARY KEY, ward_code text, province_code text,
      status text, ref_org uuid, ref_status text, ref_consent text[], bg_user uuid, bg_active boolean)`);
    await dataSource.query(`CREATE TABLE probe_referrals (id int PRIMARY KEY, ward_code text, province_code text,
      organization_id uuid, status text)`);
    const wards: [string, string][] = [
      ['00145', '01'],
      ['00118', '01'],
      ['10507', '31'],
    ];
    const consents: ConsentCategory[][] = [
      [],
      ['identity'],
      ['identity', 'contact', 'perpetrator', 'health'],
    ];
    let id = 0;
    for (const [wardCode, provinceCode] of wards) {
      for (const status of ['open', 'closed'] as const) {
        cases.push({ id: id++, s: { kind: 'Case', wardCode, provinceCode, status } });
        // Emergency (break-glass) grants: the principals' own user or another, active or expired.
        for (const userId of [USER, OTHER_USER]) {
          for (const active of [true, false]) {
            cases.push({
              id: id++,
              s: { kind: 'Case', wardCode, provinceCode, status, breakGlass: { userId, active } },
            });
          }
        }
        for (const organizationId of [ORG_A, ORG_B]) {
          for (const refStatus of REFERRAL_STATUSES) {
            for (const consentCategories of consents) {
              cases.push({
                id: id++,
                s: {
                  kind: 'Case',
                  wardCode,
                  provinceCode,
                  status,
                  referral: { organizationId, status: refStatus, consentCategories },
                },
              });
            }
            if (status === 'open') {
              referrals.push({
                id: id++,
                s: { kind: 'Referral', wardCode, provinceCode, organizationId, status: refStatus },
              });
            }
          }
        }
      }
    }
    for (const { id: rowId, s: c } of cases) {
      await dataSource.query(`INSERT INTO probe_cases VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, [
        rowId,
        c.wardCode,
        c.provinceCode,
        c.status,
        c.referral?.organizationId ?? null,
        c.referral?.status ?? null,
        c.referral ? [...c.referral.consentCategories] : null,
        c.breakGlass?.userId ?? null,
        c.breakGlass?.active ?? null,
      ]);
    }
    for (const { id: rowId, s: r } of referrals) {
      await dataSource.query(`INSERT INTO probe_referrals VALUES ($1, $2, $3, $4, $5)`, [
        rowId,
        r.wardCode,
        r.provinceCode,
        r.organizationId,
        r.status,
      ]);
    }
  });
  afterAll(async () => {
    await drop();
  });

  const caseActions: Action[] = ['read', 'update', 'close'];
  const referralActions: Action[] = ['read', 'accept', 'decline', 'complete', 'revoke'];

  it.each(Object.keys(PRINCIPALS).flatMap((who) => caseActions.map((a) => [who, a] as const)))(
    'cases: %s may %s exactly the rows CASL allows',
    async (who, action) => {
      const ability = defineAbilityFor(PRINCIPALS[who]);
      const where = accessibleWhere(ability, action, 'Case', CASE_COLUMNS);
      const rows = await dataSource
        .createQueryBuilder()
        .select('c.id', 'id')
        .from('probe_cases', 'c')
        .where(where.sql, where.params)
        .orderBy('c.id')
        .getRawMany<{ id: number }>();
      const expected = cases.filter((c) => ability.can(action, c.s)).map((c) => c.id);
      expect(rows.map((r) => r.id)).toEqual(expected);
    },
  );

  it.each(Object.keys(PRINCIPALS).flatMap((who) => caseActions.map((a) => [who, a] as const)))(
    'cases: %s may %s, rule by rule (accessibleBranches), exactly the rows accessibleWhere selects',
    async (who, action) => {
      const ability = defineAbilityFor(PRINCIPALS[who]);
      const branches = accessibleBranches(ability, action, 'Case', CASE_COLUMNS);
      const names = branches.flatMap((b) => Object.keys(b.params));
      expect(new Set(names).size).toBe(names.length);
      const select = async (where: { sql: string; params: Record<string, unknown> }) =>
        (
          await dataSource
            .createQueryBuilder()
            .select('c.id', 'id')
            .from('probe_cases', 'c')
            .where(where.sql, where.params)
            .orderBy('c.id')
            .getRawMany<{ id: number }>()
        ).map((r) => r.id);
      expect(await select(anyOf(branches))).toEqual(
        await select(accessibleWhere(ability, action, 'Case', CASE_COLUMNS)),
      );
      // A provider of police: one condition per rule (its referrals' and its grants').
      if (who === 'policeA' && action === 'read') expect(branches.length).toBeGreaterThan(1);
    },
  );

  it.each(Object.keys(PRINCIPALS).flatMap((who) => referralActions.map((a) => [who, a] as const)))(
    'referrals: %s may %s exactly the rows CASL allows',
    async (who, action) => {
      const ability = defineAbilityFor(PRINCIPALS[who]);
      const where = accessibleWhere(ability, action, 'Referral', REFERRAL_COLUMNS);
      const rows = await dataSource
        .createQueryBuilder()
        .select('r.id', 'id')
        .from('probe_referrals', 'r')
        .where(where.sql, where.params)
        .orderBy('r.id')
        .getRawMany<{ id: number }>();
      const expected = referrals.filter((r) => ability.can(action, r.s)).map((r) => r.id);
      expect(rows.map((r) => r.id)).toEqual(expected);
    },
  );

  it('the probe covers both outcomes for every provider state (the comparison is not vacuous)', () => {
    const police = defineAbilityFor(PRINCIPALS.policeA);
    const visible = cases.filter((c) => police.can('read', c.s));
    expect(visible.length).toBeGreaterThan(0);
    expect(visible.length).toBeLessThan(cases.length);
    const states = new Set(visible.map((c) => c.s.referral?.status as ReferralStatus));
    expect([...states].sort()).toEqual(['accepted', 'pending']);
  });
});
