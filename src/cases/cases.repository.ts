import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { anyOf, conditionNamesOnly, conditionUses, positional, SqlCondition } from '../authz/sql-scope';
import type { ConsentCategory } from '../authz/subjects';
import type { BlindIndex, Ciphertext } from '../crypto';
import { DataKeyRow, joinedDataKeyColumns, joinedDataKeyRow } from '../crypto/data-key.repository';
import { pageWindow } from '../database/page-limit';

/** The case list has no filters: past its first 10,000 cases, a case is found by search (see pageOffset). */
const FIND_OLDER_CASES = {
  en: 'find an older case with POST /api/v1/cases/search',
  vi: 'hãy tìm hồ sơ cũ hơn bằng POST /api/v1/cases/search',
};
import type { BindParam, GatedRead, GatedWrite } from '../database/gated-write';
import { liveGrantSql } from '../break-glass/grant-ending';
import {
  consentActiveSql,
  effectiveReferralStatusLookupSql,
  effectiveReferralStatusSql,
  effectiveRevokeCauseSql,
} from '../consents/consent-expiry.service';
import { overdueSql } from '../referrals/referral-ending';
import type { ReferralOutcome, ReferralStatus, RevokeCause } from '../referrals/referral-state';
import type {
  AgeGroup,
  CaseContext,
  GbvType,
  ReportChannel,
  RiskLevel,
  Sex,
  ViolenceForm,
} from './case-classification';
import { CASE_SECTION_CATEGORIES, CaseSectionCategory, SECTION_COLUMN } from './case-sections';
import type { CaseReferralSummaryView } from './case-view';
import { CASE_DERIVATIONS } from './case-derivation';

export interface CaseTriageRow {
  id: string;
  code: string;
  wardCode: string;
  provinceCode: string;
  status: 'open' | 'closed';
  reportedAt: Date;
  reportChannel: ReportChannel;
  /** null: not assessed yet (registered without `risk`). */
  riskLevel: RiskLevel | null;
  survivorSex: Sex;
  ageGroup: AgeGroup;
  childVn: boolean | null;
  childGbvims: boolean | null;
  gbvType: GbvType;
  forms: ViolenceForm[];
  contexts: CaseContext[];
  incidentDate: string | null;
  version: number;
  createdAt: Date;
  updatedAt: Date;
  closedAt: Date | null;
  shreddedAt: Date | null;
}

export interface CaseRow extends CaseTriageRow {
  sections: Partial<Record<CaseSectionCategory, Buffer | null>>;
}

/** A referral of the case as its case view lists it (metadata only). */
export type ReferralSummary = CaseReferralSummaryView;

/**
 * A case to insert: its triage facts (the database sets the code, status, version and the timestamps) and
 * ciphertexts.
 */
export interface NewCaseRow extends Omit<
  CaseTriageRow,
  'code' | 'status' | 'version' | 'createdAt' | 'updatedAt' | 'closedAt' | 'shreddedAt'
> {
  /** The year whose count the case number continues (Vietnam's calendar year of the report). */
  codeYear: number;
  sections: Partial<Record<CaseSectionCategory, Ciphertext | null>>;
  blind: CaseBlindIndexes;
  createdBy: string;
}

export interface CaseBlindIndexes {
  name: BlindIndex | null;
  nameDob: BlindIndex | null;
  phone: BlindIndex | null;
  /** The date of birth alone (searched without a name). */
  dob: BlindIndex | null;
}

/** Subject field → SQL column, for the CASL → SQL translation of the case rules. */
export const CASE_COLUMNS = {
  id: 'c.id',
  wardCode: 'c.ward_code',
  provinceCode: 'c.province_code',
  status: 'c.status',
  'referral.organizationId': 'r.organization_id',
  // A live referral whose consent has ended gives nothing, the sweep (revokeExpired) or not.
  'referral.status': effectiveReferralStatusSql('r', 'cs'),
  'referral.consentCategories': { sql: 'cs.categories', array: true },
  // An emergency grant: the users holding an active (unexpired) one on the case; `active` is implied by that.
  // Asked of the grants of the users named (break_glass_grants_user_idx), not of every case's grants: a police or
  // health provider's list read every open case in the country for it.
  'breakGlass.userId': {
    sql: `ARRAY(SELECT bg.user_id FROM break_glass_grants bg WHERE bg.case_id = c.id AND ${liveGrantSql('bg')})`,
    array: true,
    containsSql: (users: string) =>
      `c.id IN (SELECT bg.case_id FROM break_glass_grants bg WHERE bg.user_id = ANY(${users}) AND ${liveGrantSql('bg')})`,
  },
  'breakGlass.active': 'TRUE',
} as const;

/** The triage row of the case `c`: each column's name and, where it is not the column itself, its expression. */
const TRIAGE: ReadonlyArray<readonly [name: string, expression?: string]> = [
  ['id'],
  ['code'],
  ['ward_code'],
  ['province_code'],
  ['status'],
  ['reported_at'],
  ['report_channel'],
  ['risk_level'],
  ['survivor_sex'],
  ['age_group'],
  ['child_vn'],
  ['child_gbvims'],
  ['gbv_type'],
  ['forms'],
  ['contexts'],
  ['incident_date', `to_char(c.incident_date, 'YYYY-MM-DD')`],
  ['version'],
  ['created_at'],
  ['updated_at'],
  ['closed_at'],
  ['shredded_at'],
];
const TRIAGE_COLUMNS = TRIAGE.map(([name, expr]) => (expr ? `${expr} AS ${name}` : `c.${name}`)).join(', ');

/**
 * The triage columns of the case `c`, named `tc_*`, for a statement whose own row is something else (a referral
 * read fetches its case's triage row with it): see joinedTriageRow.
 */
export const JOINED_TRIAGE_COLUMNS = TRIAGE.map(
  ([name, expr]) => `${expr ?? `c.${name}`} AS tc_${name}`,
).join(', ');

/** The case's triage row of a statement that selected JOINED_TRIAGE_COLUMNS. */
export function joinedTriageRow(raw: Raw): CaseTriageRow {
  const own: Raw = {};
  for (const [name] of TRIAGE) own[name] = raw[`tc_${name}`];
  return toTriage(own);
}

// Rows visible through a referral need the referral and its consent; the joins are harmless for other roles
// because their conditions never name r or cs (DISTINCT removes the duplicates a join can make).
const SCOPED_FROM = `cases c
  LEFT JOIN referrals r ON r.case_id = c.id
  LEFT JOIN consents cs ON cs.id = r.consent_id`;

type Raw = Record<string, unknown>;

/** A case's triage columns as selected (or returned) by this repository. */
export function toTriage(r: Raw): CaseTriageRow {
  return {
    id: r.id as string,
    code: r.code as string,
    wardCode: r.ward_code as string,
    provinceCode: r.province_code as string,
    status: r.status as CaseTriageRow['status'],
    reportedAt: r.reported_at as Date,
    reportChannel: r.report_channel as ReportChannel,
    riskLevel: r.risk_level as RiskLevel | null,
    survivorSex: r.survivor_sex as Sex,
    ageGroup: r.age_group as AgeGroup,
    childVn: r.child_vn as boolean | null,
    childGbvims: r.child_gbvims as boolean | null,
    gbvType: r.gbv_type as GbvType,
    forms: r.forms as ViolenceForm[],
    contexts: r.contexts as CaseContext[],
    incidentDate: r.incident_date as string | null,
    version: r.version as number,
    createdAt: r.created_at as Date,
    updatedAt: r.updated_at as Date,
    closedAt: r.closed_at as Date | null,
    shreddedAt: r.shredded_at as Date | null,
  };
}

/** The data key's columns for a join on `dk` (sealedSql). */
const DATA_KEY_COLUMNS = joinedDataKeyColumns('dk');

/** The encrypted columns of these categories, each named after its category. */
function sectionColumns(categories: readonly CaseSectionCategory[]): string[] {
  return categories.map((c) => `c.${SECTION_COLUMN[c]} AS ${c}`);
}

/** The ciphertexts of a row selected with sectionColumns. */
function sectionsOf(r: Raw, categories: readonly CaseSectionCategory[]): CaseRow['sections'] {
  const sections: CaseRow['sections'] = {};
  for (const c of categories) sections[c] = r[c] as Buffer | null;
  return sections;
}

/** The ciphertexts of some categories of a case and its wrapped data key (null when it has none). */
export interface SealedCase {
  sections: CaseRow['sections'];
  key: DataKeyRow | null;
  /** Why the case was closed, when read (CLOSE_REASON_COLUMN; null: no reason stored). */
  closeReason?: Buffer | null;
}

/** The sealed close reason, as sealedSql's `extra` (read by sealedOf; a ward's read of a closed case). */
export const CLOSE_REASON_COLUMN = 'c.enc_close_reason';

/**
 * The ciphertexts of `categories` and the data key of the case whose id is the SQL expression `id` (a placeholder,
 * or a column of `from`), `from` naming the case `c`; then `extra` columns.
 */
export function sealedSql(
  categories: readonly CaseSectionCategory[],
  from: string,
  id: string,
  ownerType: string,
  extra: readonly string[] = [],
  and?: string,
): string {
  return `SELECT ${[...sectionColumns(categories), DATA_KEY_COLUMNS, ...extra].join(', ')}
    FROM ${from} LEFT JOIN data_keys dk ON dk.owner_type = ${ownerType} AND dk.owner_id = c.id
   WHERE c.id = ${id}${and ? ` AND ${and}` : ''}`;
}

/**
 * SQL: whether a provider still has the grounds its read was allowed on (placeholders given as SQL): its
 * organisation's referral of case `c` accepted under a consent still active, or (`grant`) the user's running
 * emergency grant on the case while it is open, whose categories may go beyond the referrals'. A read's ciphertexts come only while its
 * grounds hold, not merely while they held at its check.
 */
export function providerStillGroundedSql(
  ground: { organizationId: string; categories: string } | { grant: string },
): string {
  return 'grant' in ground
    ? `c.status = 'open' AND EXISTS (SELECT 1 FROM break_glass_grants g
                WHERE g.case_id = c.id AND g.user_id = ${ground.grant} AND ${liveGrantSql('g')})`
    : `EXISTS (SELECT 1 FROM referrals r
                WHERE r.case_id = c.id AND r.organization_id = ${ground.organizationId}
                  AND ${acceptedUnderActiveConsentSql('r', ground.categories)})`;
}

/**
 * providerStillGroundedSql for organisation `organizationId` reading the case's `categories`, its values bound
 * with `p`: a provider's grounds at a case read's fetch (a referral read checks that referral's own:
 * acceptedUnderActiveConsentSql).
 */
function organizationGroundedSql(
  p: BindParam,
  organizationId: string,
  categories: readonly CaseSectionCategory[],
): string {
  return providerStillGroundedSql({
    organizationId: p(organizationId, 'uuid'),
    categories: p([...categories], 'text[]'),
  });
}

/**
 * SQL: the referral `r` (an alias) is accepted under a consent still active: what lets its organisation read the
 * referral's notes, and (providerStillGroundedSql) the case; with `categories` (SQL, a text[]), a consent that
 * releases every one of them: the sections read are those the check allowed on the consent it saw, and another
 * referral made meanwhile under a narrower consent (the first revoked, the second accepted) must not release them.
 */
export function acceptedUnderActiveConsentSql(r: string, categories?: string): string {
  return `${r}.status = 'accepted'
          AND EXISTS (SELECT 1 FROM consents cs WHERE cs.id = ${r}.consent_id AND ${consentActiveSql('cs')}${
            categories ? ` AND cs.categories @> ${categories}` : ''
          })`;
}

/** SQL over `c`: a case whose content is still there (not crypto-shredded). */
export const NOT_SHREDDED = 'c.shredded_at IS NULL';

/** The ciphertexts and data key of a row selected with sealedSql; null when there is no row. */
export function sealedOf(r: Raw | undefined, categories: readonly CaseSectionCategory[]): SealedCase | null {
  if (!r) return null;
  const sealed: SealedCase = { sections: sectionsOf(r, categories), key: joinedDataKeyRow(r) };
  if (r.enc_close_reason !== undefined) sealed.closeReason = r.enc_close_reason as Buffer | null;
  return sealed;
}

/** A referral's metadata from JSON (timestamps arrive as ISO text). */
function toReferralSummary(r: Raw): ReferralSummary {
  return {
    id: r.id as string,
    organizationId: r.organization_id as string,
    organizationName: r.organization_name as string,
    sector: r.sector as string,
    status: r.status as ReferralStatus,
    urgency: r.urgency as string,
    dueAt: new Date(r.due_at as string).toISOString(),
    overdue: r.overdue as boolean,
    createdAt: new Date(r.created_at as string).toISOString(),
    outcome: (r.outcome ?? null) as ReferralOutcome | null,
    revokeCause: (r.revoke_cause ?? null) as RevokeCause | null,
  };
}

/** Whether a condition names no column but `c.ward_code` and `c.province_code` (a list's total: case_counts). */
export function byCommune(sql: string): boolean {
  return conditionNamesOnly({ sql }, 'c.ward_code', 'c.province_code');
}

/** Narrow queries on cases. Every list takes the caller's scope as a SQL condition built from the rules. */
@Injectable()
export class CasesRepository {
  /**
   * The insert of a new case as a write gated on another part of the caller's statement (GatedWrite; with its
   * access-log entry, AuditService.recordWith), returning the triage columns (read them with toTriage). Its
   * number is drawn by the same statement (`next_case_code`, migration CaseNumbers), only when it lands.
   */
  gatedInsert(c: NewCaseRow): GatedWrite {
    return (gate, p) => {
      const createdBy = p(c.createdBy, 'uuid');
      const province = p(c.provinceCode, 'text');
      return `INSERT INTO cases AS c (id, code, ward_code, province_code, reported_at, report_channel, risk_level,
           survivor_sex, age_group, child_vn, child_gbvims, gbv_type, forms, contexts, incident_date, enc_identity,
           enc_contact, enc_incident, enc_perpetrator, enc_health, bi_name, bi_name_dob, bi_phone, bi_dob,
           derived_with, created_by, updated_by)
         SELECT ${p(c.id, 'uuid')}, next_case_code(${province}, ${p(c.codeYear, 'int')}), ${p(c.wardCode, 'text')},
                ${province},
                ${p(c.reportedAt, 'timestamptz')}, ${p(c.reportChannel, 'text')}, ${p(c.riskLevel, 'text')},
                ${p(c.survivorSex, 'text')}, ${p(c.ageGroup, 'text')}, ${p(c.childVn, 'boolean')},
                ${p(c.childGbvims, 'boolean')}, ${p(c.gbvType, 'text')}, ${p(c.forms, 'text[]')},
                ${p(c.contexts, 'text[]')}, ${p(c.incidentDate, 'date')}, ${p(c.sections.identity ?? null, 'bytea')},
                ${p(c.sections.contact ?? null, 'bytea')}, ${p(c.sections.incident ?? null, 'bytea')},
                ${p(c.sections.perpetrator ?? null, 'bytea')}, ${p(c.sections.health ?? null, 'bytea')},
                ${p(c.blind.name, 'bytea')}, ${p(c.blind.nameDob, 'bytea')}, ${p(c.blind.phone, 'bytea')},
                ${p(c.blind.dob, 'bytea')}, ${CASE_DERIVATIONS}, ${createdBy}, ${createdBy}
           FROM ${gate}
         RETURNING ${TRIAGE_COLUMNS}`;
    };
  }

  /**
   * One case with only the encrypted columns named in `categories` (none are fetched otherwise). `lock`: held
   * until the transaction ends, FOR NO KEY UPDATE (no change of a case touches its id): it orders changes of the
   * case, and a row that refers to it (a note, a grant) may still be written meanwhile, its foreign key's check
   * taking the case FOR KEY SHARE; FOR UPDATE would block that, and deadlock a note holding its referral with a
   * close waiting for that referral.
   */
  async findById(
    m: EntityManager,
    id: string,
    categories: readonly CaseSectionCategory[] = [],
    lock = false,
  ): Promise<CaseRow | null> {
    const rows = await m.query<Raw[]>(
      `SELECT ${[TRIAGE_COLUMNS, ...sectionColumns(categories)].join(', ')} FROM cases c
       WHERE c.id = $1${lock ? ' FOR NO KEY UPDATE' : ''}`,
      [id],
    );
    const r = rows[0];
    return r ? { ...toTriage(r), sections: sectionsOf(r, categories) } : null;
  }

  /**
   * Case `id` locked for a change (findById's lock), with `categories`, if `allowed` lets the caller at it: asked
   * first of the row read without a lock, so that a caller it refuses neither waits for the case's lock nor takes
   * it, and its refusal runs the same statements whether the case exists or not; then again of the row once
   * locked, as of then. Null when refused (`allowed` got null, or said no: it records its own refusal).
   */
  async lockIfAllowed(
    m: EntityManager,
    id: string,
    allowed: (row: CaseRow | null) => boolean,
    categories: readonly CaseSectionCategory[] = [],
  ): Promise<CaseRow | null> {
    if (!allowed(await this.findById(m, id))) return null;
    const row = await this.findById(m, id, categories, true);
    return allowed(row) ? row : null;
  }

  /**
   * The ciphertexts of the given categories and the case's wrapped data key, as a read gated on the caller's
   * statement (GatedRead; with the read's access-log entry, AuditService.recordRead): its row comes back only
   * with the entry. Read it with sealedOf.
   */
  gatedSealed(
    id: string,
    ownerType: string,
    categories: readonly CaseSectionCategory[],
    closeReason = false,
    provider?: { organizationId: string } | { grant: string },
  ): GatedRead {
    return (gate, p) =>
      sealedSql(
        categories,
        `${gate} CROSS JOIN cases c`,
        p(id, 'uuid'),
        p(ownerType, 'text'),
        closeReason ? [CLOSE_REASON_COLUMN] : [],
        // Not a case crypto-shredded since the check (nothing left to read), nor one whose provider lost its
        // grounds meanwhile.
        provider
          ? `${NOT_SHREDDED} AND ${
              'grant' in provider
                ? providerStillGroundedSql({ grant: p(provider.grant, 'uuid') })
                : organizationGroundedSql(p, provider.organizationId, categories)
            }`
          : NOT_SHREDDED,
      );
  }

  /**
   * Triage rows of the caller's scope, newest first. For a police or health provider (`grantOf`: its user id and
   * organisation), `underGrant` also says whether a case on the page is shown by the user's running emergency
   * grant alone (providerStillGroundedSql; not one its organisation's live referral shows as well), in the same
   * statement: such a list is flagged on the access log. `scope`: the rules' conditions, whose disjunction it is
   * (accessibleBranches).
   */
  async list(
    m: EntityManager,
    scope: readonly SqlCondition[],
    page: number,
    pageSize: number,
    grantOf?: { userId: string; organizationId: string },
  ): Promise<{ items: CaseTriageRow[]; total: number; underGrant: boolean }> {
    // Ward officers and supervisors have conditions on the case alone: no join, no DISTINCT, so the page comes
    // from an index in created_at order (bench/results/scale-plans.md). Providers see cases through referrals
    // (the referral or consent of SCOPED_FROM), and police and health staff through their own emergency grants
    // too: each read where its index is, in a UNION (one OR across the tables was a scan of every case).
    const all = anyOf(scope);
    const viaReferrals = scope.filter((b) => conditionUses(b, 'r', 'cs'));
    const onCases = scope.filter((b) => !viaReferrals.includes(b));
    const direct = viaReferrals.length === 0;
    const where = positional(
      direct
        ? all
        : {
            sql: [
              `SELECT DISTINCT c.id FROM ${SCOPED_FROM} WHERE ${anyOf(viaReferrals).sql}`,
              ...(onCases.length > 0 ? [`SELECT c.id FROM cases c WHERE ${anyOf(onCases).sql}`] : []),
            ].join(' UNION '),
            params: all.params,
          },
    );
    const n = where.params.length;
    const grant = grantOf
      ? `(${providerStillGroundedSql({ grant: `$${n + 1}` })}
          AND NOT EXISTS (SELECT 1 FROM referrals own
                           WHERE own.case_id = c.id AND own.organization_id = $${n + 2}
                             AND ${effectiveReferralStatusLookupSql('own')} IN ('pending', 'accepted')))`
      : 'false';
    const extra = grantOf ? [grantOf.userId, grantOf.organizationId] : [];
    // A scope that names nothing but the case's commune and province holds the same for every case of a
    // commune: its total adds up the communes' counts (case_counts, kept by triggers in the same transaction
    // as the cases) instead of counting the cases, a province's tens of thousands of them on every page.
    const directCount = byCommune(where.sql)
      ? `SELECT coalesce(sum(c.n), 0)::int AS n FROM case_counts c WHERE ${where.sql}`
      : `SELECT count(*)::int AS n FROM cases c WHERE ${where.sql}`;
    const pageSql = direct
      ? `SELECT ${TRIAGE_COLUMNS}, (${directCount}) AS total, ${grant} AS under_grant
         FROM cases c WHERE ${where.sql}`
      : `WITH scoped AS (${where.sql})
         SELECT ${TRIAGE_COLUMNS}, (SELECT count(*)::int FROM scoped) AS total, ${grant} AS under_grant
         FROM cases c JOIN scoped s ON s.id = c.id`;
    const countSql = direct ? directCount : `SELECT count(*)::int AS n FROM (${where.sql}) s`;
    // The first page's plan is kept by PostgreSQL; see pageWindow.
    const paging = pageWindow(page, pageSize, n + extra.length + 1, FIND_OLDER_CASES);
    const rows = paging.page(
      await m.query<Raw[]>(`${pageSql} ORDER BY c.created_at DESC, c.id ${paging.sql}`, [
        ...where.params,
        ...extra,
        ...paging.params,
      ]),
    );
    // Past the last page there is no row to carry the total; an empty first page means there is none at all.
    const total =
      rows.length > 0
        ? (rows[0].total as number)
        : page === 1
          ? 0
          : (await m.query<{ n: number }[]>(countSql, where.params))[0].n;
    return { items: rows.map(toTriage), total, underGrant: rows.some((r) => r.under_grant === true) };
  }

  /**
   * Cases of the caller's scope whose blind indexes match; `nameMatch` says whether the name counted as a match.
   * A date of birth narrows a name: with both given, a name matches with the name+dob index, or, for a
   * registration's duplicate warning (`unknownBirthMatches`), a case whose date of birth is not known. `dob`, the
   * date's own index, matches on its own, as a phone does (the caller gives it for a search without a name).
   */
  async searchByBlindIndex(
    m: EntityManager,
    scope: SqlCondition,
    probe: { name?: BlindIndex; nameDob?: BlindIndex; phone?: BlindIndex; dob?: BlindIndex },
    opts: { unknownBirthMatches?: boolean } = {},
    limit = 50,
  ): Promise<
    {
      id: string;
      code: string;
      wardCode: string;
      nameMatch: boolean;
      dobMatch: boolean;
      phone: boolean;
    }[]
  > {
    const where = positional(scope);
    const params: unknown[] = [...where.params];
    const p = (v: unknown): string => {
      params.push(v);
      return `$${params.length}`;
    };
    const nameDob = probe.nameDob ? `c.bi_name_dob = ${p(probe.nameDob)}` : 'FALSE';
    const phone = probe.phone ? `c.bi_phone = ${p(probe.phone)}` : 'FALSE';
    // The name alone, bound only where the statement uses it (an unused parameter has no type).
    const name = (): string => (probe.name ? `c.bi_name = ${p(probe.name)}` : 'FALSE');
    const nameMatch = !probe.nameDob
      ? name()
      : opts.unknownBirthMatches && probe.name
        ? `(${nameDob} OR (${name()} AND c.bi_name_dob IS NULL))`
        : nameDob;
    const dobAlone = probe.dob ? `c.bi_dob = ${p(probe.dob)}` : 'FALSE';
    const rows = await m.query<Raw[]>(
      `SELECT DISTINCT c.id, c.code, c.ward_code, c.created_at, ${nameMatch} AS m_name,
              (${nameDob}) OR (${dobAlone}) AS m_dob, ${phone} AS m_phone
       FROM ${SCOPED_FROM}
       WHERE (${where.sql}) AND ${NOT_SHREDDED} AND ((${nameMatch}) OR (${dobAlone}) OR (${phone}))
       ORDER BY c.created_at DESC, c.id
       LIMIT ${p(limit)}`,
      params,
    );
    return rows.map((r) => ({
      id: r.id as string,
      code: r.code as string,
      wardCode: r.ward_code as string,
      nameMatch: r.m_name as boolean,
      dobMatch: r.m_dob as boolean,
      phone: r.m_phone as boolean,
    }));
  }

  async update(
    m: EntityManager,
    id: string,
    expectedVersion: number,
    changes: {
      reportChannel?: ReportChannel;
      riskLevel?: RiskLevel;
      survivorSex?: Sex;
      ageGroup?: AgeGroup;
      childVn?: boolean | null;
      childGbvims?: boolean | null;
      gbvType?: GbvType;
      forms?: ViolenceForm[];
      contexts?: CaseContext[];
      incidentDate?: string | null;
      sections?: Partial<Record<CaseSectionCategory, Ciphertext | null>>;
      blind?: CaseBlindIndexes;
    },
    by: string,
  ): Promise<boolean> {
    const sets: string[] = [];
    const params: unknown[] = [id, expectedVersion, by];
    const set = (column: string, value: unknown): void => {
      params.push(value);
      sets.push(`${column} = $${params.length}`);
    };
    const plain: [keyof typeof changes, string][] = [
      ['reportChannel', 'report_channel'],
      ['riskLevel', 'risk_level'],
      ['survivorSex', 'survivor_sex'],
      ['ageGroup', 'age_group'],
      ['childVn', 'child_vn'],
      ['childGbvims', 'child_gbvims'],
      ['gbvType', 'gbv_type'],
      ['forms', 'forms'],
      ['contexts', 'contexts'],
      ['incidentDate', 'incident_date'],
    ];
    for (const [key, column] of plain) if (changes[key] !== undefined) set(column, changes[key]);
    for (const category of CASE_SECTION_CATEGORIES) {
      const value = changes.sections?.[category];
      if (value !== undefined) set(SECTION_COLUMN[category], value);
    }
    if (changes.blind) {
      set('bi_name', changes.blind.name);
      set('bi_name_dob', changes.blind.nameDob);
      set('bi_phone', changes.blind.phone);
      set('bi_dob', changes.blind.dob);
    }
    const result = await m.query<[unknown[], number]>(
      `UPDATE cases SET ${[...sets, 'version = version + 1', 'updated_at = now()', 'updated_by = $3'].join(', ')}
       WHERE id = $1 AND version = $2 AND status = 'open'`,
      params,
    );
    return result[1] === 1;
  }

  async close(
    m: EntityManager,
    id: string,
    expectedVersion: number,
    reason: Ciphertext,
    by: string,
  ): Promise<boolean> {
    // Timed when it is made (clock_timestamp), after the case's lock: a close that waited for a referral or an
    // emergency access being opened on the case comes after it, not at its transaction's start before it.
    const result = await m.query<[unknown[], number]>(
      `WITH t AS (SELECT clock_timestamp() AS at)
       UPDATE cases SET status = 'closed', closed_at = t.at, closed_by = $3, enc_close_reason = $4,
              version = version + 1, updated_at = t.at, updated_by = $3
         FROM t
       WHERE id = $1 AND version = $2 AND status = 'open'`,
      [id, expectedVersion, by, reason],
    );
    return result[1] === 1;
  }

  /**
   * Crypto-shredding leaves the triage facts the statistics count and drops the blind indexes too, and the
   * facts no report reads that tell of the encrypted content: the incident's date (its encrypted date's) and
   * the contexts (child sexual abuse, trafficking, a partner's violence: some derived from the perpetrator's
   * relationship). It closes a case still open (by `by`, without a reason: there is no key left to seal one
   * with), since nothing can be added to it any more; a closed case keeps who closed it and when. Timed when it
   * is made, as a close is.
   */
  async markShredded(m: EntityManager, id: string, by: string): Promise<void> {
    await m.query(
      `WITH t AS (SELECT clock_timestamp() AS at)
       UPDATE cases SET shredded_at = t.at, bi_name = NULL, bi_name_dob = NULL, bi_phone = NULL, bi_dob = NULL,
              incident_date = NULL, contexts = '{}', status = 'closed', closed_at = coalesce(closed_at, t.at), closed_by = coalesce(closed_by, $2),
              version = version + 1, updated_at = t.at, updated_by = $2
         FROM t
       WHERE id = $1`,
      [id, by],
    );
  }

  /**
   * One case's triage row and the metadata of its referrals (status, organisation, deadline), in one statement:
   * what a case read needs before its authorisation. Null when there is no such case. A referral's status is
   * the one access decisions take (effectiveReferralStatusSql): one whose consent has ended shows as revoked,
   * with that cause, even before the expiry sweep has written it down. For a provider (`grantOf`: its user
   * id), also each referral's consent categories and whether the user holds a running emergency grant on the
   * case: its grounds to read it, in the same statement.
   */
  async findWithReferrals(
    m: EntityManager,
    id: string,
    grantOf?: string,
  ): Promise<{
    row: CaseTriageRow;
    referrals: (ReferralSummary & { consentCategories: ConsentCategory[] })[];
    grant: boolean;
  } | null> {
    const grant = grantOf ? providerStillGroundedSql({ grant: '$2' }) : 'false';
    const rows = await m.query<Raw[]>(
      `SELECT ${TRIAGE_COLUMNS}, ${grant} AS grant,
              (SELECT coalesce(json_agg(json_build_object(
                        'id', r.id, 'organization_id', r.organization_id, 'organization_name', o.name,
                        'sector', o.sector, 'status', ${effectiveReferralStatusSql('r', 'cs')},
                        'urgency', r.urgency, 'due_at', r.due_at, 'created_at', r.created_at,
                        'overdue', (${overdueSql('r')} AND ${consentActiveSql('cs')}),
                        'outcome', r.outcome,
                        'revoke_cause', ${effectiveRevokeCauseSql('r', 'cs')},
                        'consent_categories', cs.categories)
                      ORDER BY r.created_at, r.id), '[]'::json)
                 FROM referrals r JOIN organizations o ON o.id = r.organization_id
                 JOIN consents cs ON cs.id = r.consent_id
                WHERE r.case_id = c.id) AS referrals
       FROM cases c WHERE c.id = $1`,
      grantOf ? [id, grantOf] : [id],
    );
    const r = rows[0];
    if (!r) return null;
    return {
      row: toTriage(r),
      referrals: (r.referrals as Raw[]).map((x) => ({
        ...toReferralSummary(x),
        consentCategories: x.consent_categories as ConsentCategory[],
      })),
      grant: r.grant as boolean,
    };
  }
}
