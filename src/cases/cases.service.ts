import { Inject, Injectable } from '@nestjs/common';
import { ifMatchVersion } from '../common/http/if-match';
import { expectedVersion } from './case-version';
import { holdSession } from '../identity/session-hold';
import { SlidingWindowLimiter } from '../common/http/rate-limiter';
import { OneAtATime } from '../common/one-at-a-time';
import { ThrottledRefusals } from '../common/throttled-refusals';
import { APP_CONFIG, AppConfig } from '../config/config';
import { randomUUID } from 'node:crypto';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import type { AppAbility } from '../authz/ability.factory';
import { permittedCaseCategories } from '../authz/field-scope';
import type { Principal } from '../authz/principal';
import { accessibleBranches, accessibleWhere } from '../authz/sql-scope';
import type { CaseCategory, CaseSubject, ConsentCategory, ReferralStatus } from '../authz/subjects';
import { CASE_SHREDDED } from '../common/errors/error-catalog';
import { DomainError, fieldError } from '../common/errors/domain-error';
import {
  BlindIndex,
  BlindIndexService,
  CryptoError,
  DataKey,
  DataKeyService,
  FieldEncryptionService,
  isCryptoError,
} from '../crypto';
import { provincesOf } from '../audit/audit-jurisdiction';
import { AuditService, type Deny } from '../audit/audit.service';
import type { AuditEntryInput } from '../audit/audit.types';
import type { LocalizedText } from '../common/errors/error-catalog';
import {
  consentsNotFittingAge,
  endDutiesAtAdulthood,
  sameConsentAge,
  survivorAgeAt,
  type SurvivorAge,
  type SurvivorAgeNow,
} from '../consents/consent-age';
import { raiseToStatutoryDeadline } from '../referrals/referral-deadline';
import { lockLiveReferrals } from '../referrals/referral-ending';
import { endGrants, lockLiveGrants } from '../break-glass/grant-ending';
import { newlyStatutory } from '../referrals/referral-state';
import { ConsentExpiryService } from '../consents/consent-expiry.service';
import { CommuneProvinces } from '../directory/commune-provinces';
import {
  ageOn,
  deriveTriage,
  incidentDateOf,
  MAX_AGE_YEARS,
  vietnamDate,
  vietnamYear,
} from './case-classification';
import { blindIndexesOf, triageFactsOf } from './case-derivation';
import { MIN_YEAR } from '../reports/report-period';
import {
  CASE_SECTION_CATEGORIES,
  CaseSectionCategory,
  CaseSections,
  CASES_TABLE,
  openSections,
  sealSections,
} from './case-sections';
import {
  CaseListView,
  CaseView,
  ClosedCaseView,
  CreatedCaseView,
  DuplicateMatchView,
  fullView,
  INCIDENT_COLUMNS,
  triageView,
} from './case-view';
import {
  CASE_COLUMNS,
  CaseBlindIndexes,
  CaseRow,
  CasesRepository,
  CaseTriageRow,
  SealedCase,
  sealedOf,
  toTriage,
  type ReferralSummary,
} from './cases.repository';
import { ReauthenticationService } from '../identity/reauthentication.service';
import { CloseCaseDto, SearchCasesDto, ShredCaseDto } from './dto/case-actions.dto';
import { CreateCaseDto, PHONE_FORMAT } from './dto/create-case.dto';
import { UpdateCaseDto } from './dto/update-case.dto';

export const CASE_OWNER = 'case';

/** What a searchable value must hold, said when it holds none. */
const SEARCHABLE = { en: 'has no letters or digits to search by', vi: 'không có chữ hoặc số để tìm kiếm' };

const NOT_FOUND = (): DomainError => new DomainError('resource.not_found');

/** A provider's grounds to see a case: its organisation's referrals of it, and its running emergency grant. */
interface ProviderGrounds {
  referrals: { status: ReferralStatus; categories: ConsentCategory[] }[];
  grant: boolean;
}

/**
 * The case use cases. Every access goes through the rules of authz/ (row scope, field categories), every
 * write is one transaction, and every access — allowed or denied — is written to the access log in the same
 * transaction as the data it touched.
 */
@Injectable()
export class CasesService {
  constructor(
    private readonly cases: CasesRepository,
    private readonly fields: FieldEncryptionService,
    private readonly blind: BlindIndexService,
    private readonly dataKeys: DataKeyService,
    private readonly audit: AuditService,
    private readonly expiry: ConsentExpiryService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly communes: CommuneProvinces,
    private readonly reauth: ReauthenticationService,
  ) {
    this.searchLimiter = new SlidingWindowLimiter(config.searchPerMinute, 60_000);
  }

  /** Searches per account and minute: slows enumerating survivors by name or phone. */
  private readonly searchLimiter: SlidingWindowLimiter;
  /** Accounts whose search refusal is on the access log, until when (search). */
  private readonly searchRefusals = new ThrottledRefusals();
  /**
   * Registrations under way in this process, by the survivor's name (its blind index): one at a time per name.
   * Not across instances (a lock in PostgreSQL held past the registration's own statement cost registrations a
   * third or more under load, and a session's lock does not hold through a transaction-mode pooler): a load
   * balancer with client affinity keeps a double click on one instance (docs/deployment.md).
   */
  private readonly registering = new OneAtATime();

  async create(p: Principal, ability: AppAbility, dto: CreateCaseDto): Promise<CreatedCaseView> {
    const reportedAt = new Date(dto.reportedAt);
    // A report is taken when it is made: a moment ahead (beyond clock drift) is a typo, and would open the
    // case numbers of a year to come.
    if (reportedAt.getTime() > Date.now() + REPORTED_AHEAD_MS) {
      throw fieldError('reportedAt', 'is in the future', 'là thời điểm trong tương lai');
    }
    // Nor before the years reports count (a typo such as 1900 would draw a case number of that year).
    if (vietnamYear(reportedAt) < MIN_YEAR) {
      throw fieldError('reportedAt', `is before ${MIN_YEAR}`, `trước năm ${MIN_YEAR}`);
    }
    checkBirth(dto.survivor, reportedAt);
    checkIncident(dto.incident?.occurredAt, reportedAt);
    checkBirthBeforeIncident(dto.survivor, dto.incident?.occurredAt, reportedAt, dto);
    const provinceCode = await this.communes.provinceOf(this.dataSource.manager, dto.wardCode);
    const subject: CaseSubject = {
      kind: 'Case',
      wardCode: dto.wardCode,
      provinceCode: provinceCode ?? '',
      status: 'open',
    };
    if (!provinceCode || !ability.can('create', subject)) {
      await this.audit.recordDenied(p, {
        action: 'case.create',
        resourceType: 'case',
        provinceCode,
        wardCode: dto.wardCode,
      });
      throw new DomainError('auth.forbidden', {
        en: 'You can register cases of your own communes only.',
        vi: 'Bạn chỉ có thể đăng ký vụ việc của xã/phường mình phụ trách.',
      });
    }
    // No transaction: the data key, the case (drawing its number) and its access-log entry are one statement
    // (recordWith), which lands whole or not at all, so a registration that fails leaves no gap in the
    // numbers. The duplicates are searched first (the new case is not among them anyway).
    return this.audit.session(async (m) => {
      const id = randomUUID();
      const sections = sectionsOf(dto);
      // As a change and the re-derivation derive them: from the sections (triageFactsOf).
      const derived = deriveTriage({
        ...triageFactsOf(sections, reportedAt),
        forms: dto.incident.forms,
        gbvType: dto.incident.gbvType,
        contexts: dto.incident.contexts,
      });
      // The data key first, while this session holds no connection yet: the questions it may ask (which KEK
      // version the database has taken up; a version's check) go to the pool, which a caller holding one of its
      // connections must not wait on.
      const { key, write: storeKey } = await this.dataKeys.prepare({ ownerType: CASE_OWNER, ownerId: id });
      try {
        const blind = this.blindIndexes(sections);
        // The incident's type and forms (columns, required) are incident facts written whatever its section holds.
        const written = [
          'triage',
          ...CASE_SECTION_CATEGORIES.filter((c) => sections[c] || c === 'incident'),
        ] as CaseCategory[];
        // Two registrations of one survivor at once (a double click, two officers taking one walk-in) each searched
        // before the other's case was stored, and neither was warned: one at a time per name in this process, so
        // the second's search finds the first's case (this session takes its connection only then).
        const { rows, duplicates } = await this.registering.run(
          blind.name?.toString('hex') ?? id,
          async () => {
            const duplicates = await this.findMatches(m, ability, blind, { registration: true });
            const { rows } = await this.audit.recordWith(
              m,
              p,
              {
                action: 'case.create',
                resourceType: 'case',
                resourceId: id,
                caseId: id,
                fields: written,
                provinceCode,
                wardCode: dto.wardCode,
                returnedIds: duplicates.map((d) => d.id),
              },
              [storeKey],
              this.cases.gatedInsert({
                id,
                codeYear: vietnamYear(reportedAt),
                wardCode: dto.wardCode,
                provinceCode,
                reportedAt,
                reportChannel: dto.reportChannel,
                riskLevel: dto.risk?.level ?? null,
                survivorSex: dto.survivor.sex,
                ageGroup: derived.ageGroup,
                childVn: derived.childVn,
                childGbvims: derived.childGbvims,
                gbvType: dto.incident.gbvType,
                forms: dto.incident.forms,
                contexts: derived.contexts,
                incidentDate: dto.incident.occurredAt ? incidentDateOf(dto.incident.occurredAt) : null,
                sections: sealSections(this.fields, key, id, sections),
                blind,
                createdBy: p.userId,
              }),
            );
            return { rows, duplicates };
          },
        );
        const row = toTriage(rows[0]);
        const allowed = caseReadCategories(ability, row);
        return { ...fullView(row, sections, allowed), duplicates };
      } catch (e) {
        this.dataKeys.writeFailed(e);
        throw e;
      } finally {
        key.wipe();
      }
    });
  }

  async get(p: Principal, ability: AppAbility, id: string): Promise<CaseView> {
    // No transaction: the statements only read, and the entry commits (recordNow) before the view leaves.
    return this.audit.session(async (m, deny) => {
      // An expired consent shows nothing, from the moment it expires.
      const provider = p.role === 'provider' && p.organizationId ? p.organizationId : null;
      if (p.role === 'provider') await this.expiry.revokeExpired(m, p.request);
      // The triage row, its referrals' metadata and a provider's grounds, in one statement whether the case
      // exists or not (a refusal takes as long either way), nothing encrypted read before the check.
      const found = await this.cases.findWithReferrals(m, id, provider ? p.userId : undefined);
      const access = this.readAccess(
        p,
        ability,
        found && {
          row: found.row,
          referrals: found.referrals
            .filter((r) => r.organizationId === provider)
            .map((r) => ({ status: r.status, categories: r.consentCategories })),
          grant: found.grant,
        },
      );
      const allowed = access.categories;
      if (!found || allowed.size === 0) {
        deny(p, caseEntry('case.read', id, found?.row ?? null));
        throw NOT_FOUND();
      }
      const { row } = found;
      const closeReason = readsCloseReason(row, allowed);
      const encrypted = sealedCategories(row, allowed);
      const entry: AuditEntryInput = {
        action: 'case.read',
        resourceType: 'case',
        resourceId: id,
        caseId: id,
        // What the view disclosed (viewedCategories: its triage, the sections it opens, the incident's plaintext
        // facts where the incident may be read, a crypto-shredded case's too); no notes (they come with their
        // referral), but the reason a closed case was closed for, to the ward.
        fields: [...viewedCategories(row, allowed), ...(closeReason ? (['notes'] as const) : [])],
        provinceCode: row.provinceCode,
        wardCode: row.wardCode,
        // A read under an emergency grant is flagged, for the supervisors' review (issue 6, item 7).
        ...(access.breakGlass ? { reason: 'break_glass' } : {}),
      };
      // The ciphertexts come with the entry, in one statement (recordRead): none without it.
      let view: CaseView;
      if (encrypted.length === 0) {
        await this.audit.recordNow(m, p, entry);
        view = fullView(row, {}, allowed);
      } else {
        // A provider's ciphertexts come only while its grounds still hold (a referral revoked since the check
        // gives none); its read is on record all the same, and answered as a case it may not see.
        const sealed = await this.audit.recordRead(
          m,
          p,
          entry,
          this.cases.gatedSealed(
            row.id,
            CASE_OWNER,
            encrypted,
            closeReason,
            // The ground it was allowed on: the grant when it is in use (its categories may go further).
            provider ? (access.breakGlass ? { grant: p.userId } : { organizationId: provider }) : undefined,
          ),
        );
        if (!sealed[0]) gotNothing(p, deny, entry);
        view = await this.openedView(row, sealedOf(sealed[0], encrypted), allowed);
      }
      return withReferrals(view, ability, row, found.referrals);
    });
  }

  async list(p: Principal, ability: AppAbility, page = 1, pageSize = 20): Promise<CaseListView> {
    return this.audit.session(async (m) => {
      // A provider lists the cases of its live referrals: not one whose consent has just expired.
      if (p.role === 'provider') await this.expiry.revokeExpired(m, p.request);
      const scope = accessibleBranches(ability, 'read', 'Case', CASE_COLUMNS);
      // A police or health provider's list says whether its running emergency grant alone shows a case of it.
      const grantOf =
        p.role === 'provider' && p.organizationId && ability.can('create', 'BreakGlass')
          ? { userId: p.userId, organizationId: p.organizationId }
          : undefined;
      const { items, total, underGrant } = await this.cases.list(m, scope, page, pageSize, grantOf);
      const returnedIds = items.map((c) => c.id);
      // The incident's facts to whoever may read every listed case's incident from its own rules (the ward);
      // a provider's list, whose grounds are each case's referral, shows the triage facts alone.
      const incidentShown = new Set(items.filter((c) => readsIncident(ability, c)).map((c) => c.id));
      await this.audit.recordNow(m, p, {
        action: 'case.list',
        resourceType: 'case',
        fields: incidentShown.size > 0 ? ['triage', 'incident'] : ['triage'],
        returnedIds,
        // In the provinces of the cases shown too (a provider's referred cases may be of another province's
        // communes): their supervisors see the list reads that showed them.
        subjectProvinces: provincesOf(items),
        // A list showing a case under the caller's emergency grant is flagged, as a read under it is.
        ...(underGrant ? { reason: 'break_glass' } : {}),
      });
      const view = (c: CaseTriageRow) => triageView(c, incidentShown.has(c.id));
      return { items: items.map(view), total, page, pageSize };
    });
  }

  async update(
    p: Principal,
    ability: AppAbility,
    id: string,
    dto: UpdateCaseDto,
    ifMatch?: string,
  ): Promise<CaseView> {
    const expected = expectedVersion(dto.version, ifMatch);
    // null clears an optional field; these are required and cannot be cleared.
    const required: [string, unknown][] = [
      ['reportChannel', dto.reportChannel],
      ['risk', dto.risk],
      ['risk.level', dto.risk?.level],
      ['survivor', dto.survivor],
      ['survivor.fullName', dto.survivor?.fullName],
      ['survivor.sex', dto.survivor?.sex],
      ['incident', dto.incident],
      ['incident.forms', dto.incident?.forms],
      ['incident.gbvType', dto.incident?.gbvType],
    ];
    const cleared = required.find(([, v]) => v === null);
    if (cleared) throw fieldError(cleared[0], 'cannot be removed', 'không thể xóa');
    return this.audit.transaction(async (m, deny) => {
      const row = await this.lockForChange(m, deny, p, ability, id, 'update', CASE_SECTION_CATEGORIES, {
        en: 'A closed case cannot be changed.',
        vi: 'Không thể sửa vụ việc đã đóng.',
      });
      if (row.shreddedAt) throw SHREDDED();
      if (row.version !== expected) throw new DomainError('conflict.version');
      const key = await this.dataKeys.get({ ownerType: CASE_OWNER, ownerId: id }, m);
      try {
        const current = openSections(this.fields, key, id, row.sections, CASE_SECTION_CATEGORIES);
        const next = mergeSections(current, dto);
        const changed = CASE_SECTION_CATEGORIES.filter(
          (c) => JSON.stringify(current[c]) !== JSON.stringify(next[c]),
        );
        const reportedAt = row.reportedAt;
        checkBirth(dto.survivor, reportedAt);
        checkIncident(dto.incident?.occurredAt, reportedAt);
        // The date the change gives against the one it keeps.
        checkBirthBeforeIncident(next.identity, next.incident?.occurredAt, reportedAt, dto);
        const factsOf = (sections: typeof current) => triageFactsOf(sections, reportedAt);
        // The stored contexts hold those derived from the facts as they were: carried over, they would outlive
        // a correction (a date of birth, a relationship). Only the ones the old facts do not explain are kept,
        // and the new facts derive theirs again.
        const before = deriveTriage({
          ...factsOf(current),
          forms: row.forms,
          gbvType: row.gbvType,
        });
        const derivedBefore = before.contexts;
        const derived = deriveTriage({
          ...factsOf(next),
          forms: dto.incident?.forms ?? row.forms,
          gbvType: dto.incident?.gbvType ?? row.gbvType,
          // Null clears the contexts given (the derived ones stay); absent keeps them.
          contexts:
            dto.incident?.contexts === null
              ? []
              : (dto.incident?.contexts ?? row.contexts.filter((c) => !derivedBefore.includes(c))),
        });
        const now = new Date();
        const { judged: age, endedDuties } = await this.ageOfChange(m, id, derived, {
          before: survivorAgeAt(factsOf(current), reportedAt, now),
          after: survivorAgeAt(factsOf(next), reportedAt, now),
        });
        const triage = {
          reportChannel: dto.reportChannel,
          riskLevel: dto.risk?.level,
          survivorSex: dto.survivor?.sex,
          ...age,
          gbvType: dto.incident?.gbvType,
          forms: dto.incident?.forms,
          contexts: derived.contexts,
          incidentDate:
            dto.incident?.occurredAt !== undefined
              ? dto.incident.occurredAt
                ? incidentDateOf(dto.incident.occurredAt)
                : null
              : undefined,
        };
        // A change that changes nothing (the same values sent again) writes nothing: the version stays, so a
        // colleague's edit under way is not refused for it, and no one reading the case sees it move.
        const columnMoved = (k: keyof typeof triage) =>
          triage[k] !== undefined && JSON.stringify(triage[k]) !== JSON.stringify(row[k]);
        const moved =
          changed.length > 0 || (Object.keys(triage) as (keyof typeof triage)[]).some(columnMoved);
        // The incident's type, forms, contexts and date are incident facts, in columns: a change of them (a rape
        // reclassified as not GBV, a context a corrected age no longer derives) is a write of the incident.
        const incidentMoved = INCIDENT_COLUMNS.some(columnMoved);
        if (moved) {
          const ok = await this.cases.update(
            m,
            id,
            expected,
            {
              ...triage,
              sections: sealSections(this.fields, key, id, pick(next, changed)),
              blind:
                changed.includes('identity') || changed.includes('contact')
                  ? this.blindIndexes(next)
                  : undefined,
            },
            p.userId,
          );
          if (!ok) throw new DomainError('conflict.version');
        }
        // A child under 16 now known to be at high or critical risk: the referrals still waiting for an answer
        // become urgent and due as one made now would be (the law's 12 hours at most).
        const statutory = newlyStatutory(row, {
          childVn: age.childVn,
          riskLevel: dto.risk?.level ?? row.riskLevel,
        });
        if (statutory) {
          await raiseToStatutoryDeadline(
            m,
            [id],
            statutory,
            this.config.referrals.deadlinesMinutes,
            this.audit,
            p,
          );
        }
        // The duties whose end the correction brought to the 18th birthday: on the log once the referrals are
        // locked (raiseToStatutoryDeadline locks them before any entry takes a stripe of the chain).
        await this.audit.recordEach(m, p, endedDuties, {
          action: 'consent.update',
          resourceType: 'consent',
          reason: 'consent.ends_at_adulthood',
        });
        // The change names the sections it wrote (who rewrote a survivor's contact details must stand out from a
        // change of the risk); the answer, the case as it now stands with every section the caller may read, is
        // a read of its own, in the same transaction (a change that changes nothing still discloses them).
        const allowed = caseReadCategories(ability, row);
        await this.audit.record(m, p, {
          ...caseEntry('case.update', id, row),
          fields: [
            'triage',
            ...changed,
            ...(incidentMoved && !changed.includes('incident') ? ['incident' as const] : []),
          ],
        });
        await this.audit.record(m, p, {
          ...caseEntry('case.read', id, row),
          fields: viewedCategories(row, allowed),
        });
        // The case as its read shows it, its referrals' metadata included (the same statement as the row).
        const updated = (await this.cases.findWithReferrals(m, id))!;
        return withReferrals(fullView(updated.row, next, allowed), ability, updated.row, updated.referrals);
      } finally {
        key.wipe();
      }
    });
  }

  /**
   * The age judgement a change of case `p`'s case `id` stores: `derived`, from the facts as changed (the child
   * flags, as at the report). A correction of the survivor's age (`ageNow`: as the consent rules take it, now)
   * brings the end of each child-protection duty of a survivor still a child to her 18th birthday as the
   * correction gives it (endDutiesAtAdulthood; never later than it ended: `endedDuties`, which the caller puts
   * on the access log as `consent.update` once the referrals are locked), and must not leave a consent standing
   * that the new age would refuse (its referrals would go on disclosing on a ground that does not hold):
   * refused (409), the ward withdraws it first.
   */
  private async ageOfChange(
    m: EntityManager,
    id: string,
    derived: SurvivorAge & { ageGroup: CaseTriageRow['ageGroup'] },
    ageNow: { before: SurvivorAgeNow; after: SurvivorAgeNow },
  ): Promise<{
    judged: Pick<CaseTriageRow, 'ageGroup' | 'childVn' | 'childGbvims'>;
    endedDuties: Awaited<ReturnType<typeof endDutiesAtAdulthood>>;
  }> {
    const judged = { ageGroup: derived.ageGroup, childVn: derived.childVn, childGbvims: derived.childGbvims };
    if (sameConsentAge(ageNow.before, ageNow.after)) return { judged, endedDuties: [] };
    const endedDuties = await endDutiesAtAdulthood(m, id, ageNow.after);
    const misfits = await consentsNotFittingAge(m, id, ageNow.after);
    if (misfits.length === 0) return { judged, endedDuties };
    const ids = misfits.join(', ');
    throw new DomainError('conflict.state', {
      en: `With this age, a consent of the case no longer holds (a child-protection duty for an adult or past the 18th birthday, or a child under 16 consenting alone): withdraw it first, then record one that fits. Consent: ${ids}.`,
      vi: `Với độ tuổi này, một sự đồng ý đang có hiệu lực của vụ việc không còn phù hợp (căn cứ nghĩa vụ bảo vệ trẻ em trong khi người bị bạo lực đã đủ 18 tuổi hoặc kéo dài quá ngày đủ 18 tuổi, hoặc trẻ em dưới 16 tuổi tự đồng ý): hãy rút lại sự đồng ý đó trước, rồi ghi nhận sự đồng ý phù hợp. Sự đồng ý: ${ids}.`,
    });
  }

  /**
   * Ends what gives anyone outside the ward access to a case that closes or is shredded: its live referrals
   * (revoked) and its running emergency grants (ended), each with its entry; returns the referrals' ids. Before
   * the caller's own entry: the rows are locked before any access-log stripe is taken, referrals then grants in
   * id order, the order a referral's move, a grant's review and an organisation's change take them in (another
   * order could deadlock with one of them on another instance).
   */
  private async endOutsideAccess(
    m: EntityManager,
    id: string,
    cause: 'case_closed' | 'case_shredded',
    p: Principal,
  ): Promise<string[]> {
    await lockLiveReferrals(m, 'r.case_id = $1', [id]);
    await lockLiveGrants(m, 'g.case_id = $1', [id]);
    const revoked = await this.expiry.revokeReferralsOfCase(m, id, cause, p);
    await endGrants(m, this.audit, 'g.case_id = $1', [id], cause, p);
    return revoked;
  }

  /** Closes the case; with If-Match, only the version the caller read (else 409 conflict.version). */
  async close(
    p: Principal,
    ability: AppAbility,
    id: string,
    dto: CloseCaseDto,
    ifMatch?: string,
  ): Promise<ClosedCaseView> {
    const expected = ifMatchVersion(ifMatch);
    return this.audit.transaction(async (m, deny) => {
      const row = await this.lockForChange(m, deny, p, ability, id, 'close', [], {
        en: 'The case is already closed.',
        vi: 'Vụ việc đã được đóng.',
      });
      if (row.shreddedAt) throw SHREDDED();
      if (expected !== undefined && row.version !== expected) throw new DomainError('conflict.version');
      // Whether the answer shows the incident's facts (the ward's, who close: always, by today's rules).
      const showsIncident = readsIncident(ability, row);
      const key = await this.dataKeys.get({ ownerType: CASE_OWNER, ownerId: id }, m);
      try {
        const reason = this.fields.encrypt(
          key,
          { table: CASES_TABLE, column: 'enc_close_reason', rowId: id },
          dto.reason,
        );
        if (!(await this.cases.close(m, id, row.version, reason, p.userId)))
          throw new DomainError('conflict.version');
      } finally {
        key.wipe();
      }
      // A closed case's referrals and emergency access end with it: its providers see nothing of it from now on.
      const revoked = await this.endOutsideAccess(m, id, 'case_closed', p);
      await this.audit.record(m, p, {
        action: 'case.close',
        resourceType: 'case',
        resourceId: id,
        caseId: id,
        // Its reason, written sealed; and the incident's facts, which the answer shows (to the ward).
        fields: showsIncident ? ['triage', 'incident', 'notes'] : ['triage', 'notes'],
        provinceCode: row.provinceCode,
        wardCode: row.wardCode,
      });
      // The referrals the close ended, live ones included (their providers lose access now), for the ward to see.
      const closed = (await this.cases.findById(m, id))!;
      return { ...triageView(closed, showsIncident), revokedReferralIds: revoked };
    });
  }

  async search(
    p: Principal,
    ability: AppAbility,
    dto: SearchCasesDto,
  ): Promise<{ items: DuplicateMatchView[] }> {
    if (!dto.fullName && !dto.dateOfBirth && !dto.phone) {
      throw fieldError(
        'fullName',
        'give at least one of fullName, dateOfBirth, phone',
        'cần ít nhất một trong họ tên, ngày sinh, số điện thoại',
      );
    }
    // With a name, a date of birth narrows it (both must match); without one, the date matches on its own, as
    // a phone does. Only the ward's officers search, and only their own cases, whose dates they may read.
    const probe: CaseBlindIndexes = {
      name: dto.fullName ? this.safeIndex(() => this.blind.fullName(dto.fullName!), 'fullName') : null,
      nameDob:
        dto.fullName && dto.dateOfBirth
          ? this.safeIndex(() => this.blind.fullNameDob(dto.fullName!, dto.dateOfBirth!), 'fullName')
          : null,
      phone: dto.phone ? this.safeIndex(() => this.blind.phone(dto.phone!), 'phone', PHONE_FORMAT) : null,
      dob:
        dto.dateOfBirth && !dto.fullName
          ? this.safeIndex(() => this.blind.dateOfBirth(dto.dateOfBirth!), 'dateOfBirth')
          : null,
    };
    // Counted once the request is valid: a client's mistake does not use up the caller's searches.
    if (!this.searchLimiter.take(p.userId)) {
      // An account hitting the limit may be enumerating survivors: on the access log (once per account and wait).
      await this.searchRefusals.refuse(
        p.userId,
        this.searchLimiter.msUntilFree(p.userId),
        () =>
          this.audit.recordDenied(p, {
            action: 'case.search',
            resourceType: 'case',
            reason: 'auth.throttled',
          }),
        {
          detail: () => ({
            en: 'Too many searches; wait a minute and try again.',
            vi: 'Tìm kiếm quá nhiều lần; vui lòng đợi một phút rồi thử lại.',
          }),
        },
      );
    }
    return this.audit.session(async (m) => {
      const items = await this.findMatches(m, ability, probe);
      // What each result's `match` tells of its survivor: a name or a date of birth (identity), a phone (contact).
      const matched = new Set(items.flatMap((i) => i.match));
      await this.audit.recordNow(m, p, {
        action: 'case.search',
        resourceType: 'case',
        fields: [
          'triage',
          ...(matched.has('fullName') || matched.has('dateOfBirth') ? (['identity'] as const) : []),
          ...(matched.has('phone') ? (['contact'] as const) : []),
        ],
        returnedIds: items.map((i) => i.id),
      });
      return { items };
    });
  }

  /**
   * Destroys the case's data key (crypto-shredding): its encrypted content is gone for good, its triage facts
   * stay for the statistics. The administrator authenticates again first (ReauthenticationService),
   * before anything about the case is looked at.
   */
  async shred(
    p: Principal,
    ability: AppAbility,
    id: string,
    dto: ShredCaseDto,
    ifMatch?: string,
  ): Promise<{ id: string; shredded: true }> {
    const expected = ifMatchVersion(ifMatch);
    // A refused step-up is on record in the case's place: its province's supervisors see the attempt.
    await this.reauth.confirm(p, dto, async () =>
      caseEntry('case.shred', id, await this.cases.findById(this.dataSource.manager, id)),
    );
    return this.audit.transaction(async (m, deny) => {
      // The session the step-up confirmed, held until the shred commits: an administrator disabled or reset
      // while the password was hashed shreds nothing.
      if (!(await holdSession(m, p))) {
        // In the case's place (read without a lock), as a refused step-up is: its province sees the attempt.
        const place = await this.cases.findById(m, id);
        deny(p, { ...caseEntry('case.shred', id, place), reason: 'auth.unauthenticated' });
        throw new DomainError('auth.unauthenticated');
      }
      const row = await this.cases.findById(m, id, [], true);
      const refused = caseEntry('case.shred', id, row);
      if (!row || !ability.can('delete', caseSubject(row))) {
        deny(p, refused);
        throw NOT_FOUND();
      }
      // Shredded already: the second attempt is on record, as a refused change is.
      deny.refusals(p, refused);
      if (row.shreddedAt) throw SHREDDED();
      if (expected !== undefined && row.version !== expected) throw new DomainError('conflict.version');
      await this.dataKeys.shred({ ownerType: CASE_OWNER, ownerId: id }, m);
      await this.cases.markShredded(m, id, p.userId);
      // Its referrals and emergency access end with its content: nothing is left to accept, decline, note or read.
      await this.endOutsideAccess(m, id, 'case_shredded', p);
      await this.audit.record(m, p, {
        action: 'case.shred',
        resourceType: 'case',
        resourceId: id,
        caseId: id,
        fields: [],
        provinceCode: row.provinceCode,
        wardCode: row.wardCode,
      });
      return { id, shredded: true };
    });
  }

  /**
   * Locks a case for a change: 404 (logged as denied) when the caller cannot see it, 409 when it can see it
   * but the rules refuse the change in the case's state (a closed case).
   */
  private async lockForChange(
    m: EntityManager,
    deny: Deny,
    p: Principal,
    ability: AppAbility,
    id: string,
    action: 'update' | 'close',
    categories: readonly CaseSectionCategory[],
    refusal: LocalizedText,
  ): Promise<CaseRow> {
    const visible = (c: CaseRow | null): c is CaseRow => {
      if (c && ability.can('read', caseSubject(c))) return true;
      deny(p, caseEntry(`case.${action}`, id, c));
      return false;
    };
    const row = await this.cases.lockIfAllowed(m, id, visible, categories);
    if (!row) throw NOT_FOUND();
    const refused = caseEntry(`case.${action}`, id, row);
    // Every refusal from here (the state, a shredded case, a stale version, a consent the new age would not
    // fit) is on record with its code, in the case's jurisdiction.
    deny.refusals(p, refused);
    if (!ability.can(action, caseSubject(row))) throw new DomainError('conflict.state', refusal);
    return row;
  }

  /**
   * What the caller may read of the case in the view of one of its referrals (GET /referrals/:id): for a provider,
   * what that referral gives (triage while it is pending, its sector's categories its consent releases once
   * accepted, nothing once it has ended), not what another referral of its organisation gives (read through that
   * one: a declined referral does not show the case another accepted one opens, nor does its entry say it read
   * it); for the ward, its own full case. `referral.status` is as access decisions take it (an ended consent's
   * live referral revoked).
   */
  referralReadCategories(
    p: Principal,
    ability: AppAbility,
    row: CaseTriageRow,
    referral: { organizationId: string; status: ReferralStatus; consentCategories: ConsentCategory[] },
  ): ReadonlySet<CaseCategory> {
    if (p.role !== 'provider') return caseReadCategories(ability, row);
    // The referral's own organisation: the rules check it is the caller's.
    return this.referralCategories(referral.organizationId, ability, row, [
      { status: referral.status, categories: referral.consentCategories },
    ]);
  }

  /**
   * What the caller may read of this case for GET /cases/:id: the categories its organisation's referrals give plus,
   * for a police or health provider holding an active emergency (break-glass) grant on it, the grant's;
   * `breakGlass` says such a grant is in use, so that the read is flagged in the access log and hands out
   * nothing once the grant ends. In use only when it shows more than the organisation's referrals do: a read
   * those cover alone is theirs (flagged, it was counted as emergency access, and refused when the grant ended
   * mid-read though the referral still held). `found` null: no such case; a provider's grounds (its
   * organisation's referrals of the case, the grant) come with it.
   */
  private readAccess(
    p: Principal,
    ability: AppAbility,
    found: ({ row: CaseTriageRow } & ProviderGrounds) | null,
  ): { categories: ReadonlySet<CaseCategory>; breakGlass: boolean } {
    if (!found) return { categories: new Set(), breakGlass: false };
    const { row } = found;
    if (p.role !== 'provider' || !p.organizationId) {
      return { categories: caseReadCategories(ability, row), breakGlass: false };
    }
    const categories = this.referralCategories(p.organizationId, ability, row, found.referrals);
    if (!found.grant || !ability.can('create', 'BreakGlass')) return { categories, breakGlass: false };
    const subject = caseSubject(row, undefined, { userId: p.userId, active: true });
    const added = [...permittedCaseCategories(ability, 'read', subject)].filter((c) => !categories.has(c));
    if (added.length === 0) return { categories, breakGlass: false };
    for (const c of added) categories.add(c);
    return { categories, breakGlass: true };
  }

  /** The categories a provider's referrals of the case give (the most permissive one counts). */
  private referralCategories(
    organizationId: string,
    ability: AppAbility,
    row: CaseTriageRow,
    referrals: ProviderGrounds['referrals'],
  ): Set<CaseCategory> {
    const allowed = new Set<CaseCategory>();
    for (const r of referrals) {
      const subject = caseSubject(row, { organizationId, status: r.status, consentCategories: r.categories });
      for (const c of permittedCaseCategories(ability, 'read', subject)) allowed.add(c);
    }
    return allowed;
  }

  /**
   * The view of a case the caller may read `allowed` of. Its ciphertexts of sealedCategories(row, allowed) come
   * as a read gated on the read's access-log entry returned them (`sealed`: gatedSealed, or a referral's read);
   * none are needed when no encrypted category is allowed. With `notes` allowed (the ward), a closed case's
   * reason too, when it was read (readsCloseReason). `given`: the case's data key when the caller has already
   * unwrapped it (and will wipe it), so that it is not unwrapped twice.
   */
  async openedView(
    row: CaseTriageRow,
    sealed: SealedCase | null,
    allowed: ReadonlySet<CaseCategory>,
    given?: DataKey,
  ): Promise<CaseView> {
    const encrypted = sealedCategories(row, allowed);
    if (encrypted.length === 0) return fullView(row, {}, allowed);
    if (!sealed?.key) throw new CryptoError('crypto.unknown_key', 'no data key for this case');
    const own = given ? null : await this.dataKeys.unwrap(sealed.key);
    try {
      const key = given ?? own!;
      const view = fullView(row, openSections(this.fields, key, row.id, sealed.sections, encrypted), allowed);
      if (allowed.has('notes') && sealed.closeReason) {
        view.closeReason = this.fields.decryptString(
          key,
          { table: CASES_TABLE, column: 'enc_close_reason', rowId: row.id },
          sealed.closeReason as never,
        );
      }
      return view;
    } finally {
      own?.wipe();
    }
  }

  private async findMatches(
    m: EntityManager,
    ability: AppAbility,
    probe: CaseBlindIndexes,
    /** A registration's duplicate warning (searched before the new case is stored, so it is never among them). */
    opts: { registration?: boolean } = {},
  ): Promise<DuplicateMatchView[]> {
    // A registration's duplicate warning is by name (and date) or phone; a search may give the date alone.
    const dob = opts.registration ? null : probe.dob;
    if (!probe.name && !probe.phone && !dob) return [];
    const scope = accessibleWhere(ability, 'read', 'Case', CASE_COLUMNS);
    // A registration's duplicate warning also names an earlier case of that name whose date of birth was not
    // known (registered with an age only): it may well be the same person. A search narrows by the date.
    const rows = await this.cases.searchByBlindIndex(
      m,
      scope,
      {
        name: probe.name ?? undefined,
        nameDob: probe.nameDob ?? undefined,
        phone: probe.phone ?? undefined,
        dob: dob ?? undefined,
      },
      { unknownBirthMatches: opts.registration === true },
    );
    return rows.map((r) => ({
      id: r.id,
      code: r.code,
      wardCode: r.wardCode,
      match: [
        ...(r.nameMatch ? (['fullName'] as const) : []),
        ...(r.dobMatch ? (['dateOfBirth'] as const) : []),
        ...(r.phone ? (['phone'] as const) : []),
      ],
    }));
  }

  private blindIndexes(s: CaseSections): CaseBlindIndexes {
    return blindIndexesOf(this.blind, s, (compute, field) =>
      this.safeIndex(compute, field, field === 'survivor.phone' ? PHONE_FORMAT : SEARCHABLE),
    );
  }

  /**
   * A value the blind index refuses (crypto.invalid_input: one that normalises to nothing, e.g. only punctuation; a
   * phone that is not a number) is a validation error saying what is expected (`expected`, by default letters or digits), not a 500.
   */
  private safeIndex(compute: () => BlindIndex, field: string, expected = SEARCHABLE): BlindIndex {
    try {
      return compute();
    } catch (e) {
      // Only the value's fault is the caller's: a key this instance lacks is a 500, not a word about the name.
      if (isCryptoError(e, 'crypto.invalid_input')) throw fieldError(field, expected.en, expected.vi);
      throw e;
    }
  }
}

export function caseSubject(
  row: Pick<CaseTriageRow, 'id' | 'wardCode' | 'provinceCode' | 'status'>,
  referral?: CaseSubject['referral'],
  breakGlass?: CaseSubject['breakGlass'],
): CaseSubject {
  return {
    kind: 'Case',
    id: row.id,
    wardCode: row.wardCode,
    provinceCode: row.provinceCode,
    status: row.status,
    referral,
    ...(breakGlass ? { breakGlass } : {}),
  };
}

/**
 * What the caller may read of case `row` by the case alone: by its role and jurisdiction, no referral or emergency
 * grant of its own counted (a provider's reads add those: referralReadCategories, readAccess).
 */
export function caseReadCategories(
  ability: AppAbility,
  row: Pick<CaseTriageRow, 'id' | 'wardCode' | 'provinceCode' | 'status'>,
): ReadonlySet<CaseCategory> {
  return permittedCaseCategories(ability, 'read', caseSubject(row));
}

/**
 * Whether a read of case `row` shows why it was closed: to a caller allowed its notes (the ward), when it was
 * closed with one (a case closed by crypto-shredding has none, and no key to open one).
 */
export function readsCloseReason(row: CaseTriageRow, allowed: ReadonlySet<CaseCategory>): boolean {
  return allowed.has('notes') && row.status === 'closed' && row.shreddedAt === null;
}

/** The encrypted categories of `allowed` there is anything to read of (none once the case is shredded). */
export function sealedCategories(
  row: CaseTriageRow,
  allowed: ReadonlySet<CaseCategory>,
): CaseSectionCategory[] {
  return row.shreddedAt ? [] : CASE_SECTION_CATEGORIES.filter((c) => allowed.has(c));
}

/**
 * What a view of the case discloses (for the access log): its triage, the sections it opens, and `incident`
 * wherever the incident may be read, a crypto-shredded case's too: the view shows the incident's plaintext
 * facts (type, forms, contexts, date: triageView) with the triage facts.
 */
export function viewedCategories(
  row: CaseTriageRow,
  allowed: ReadonlySet<CaseCategory>,
): (CaseSectionCategory | 'triage')[] {
  // A shredded case's sections are gone (sealedCategories), but its incident's plaintext facts are shown.
  const sealed = sealedCategories(row, allowed);
  return ['triage', ...(row.shreddedAt && allowed.has('incident') ? (['incident'] as const) : []), ...sealed];
}

function sectionsOf(dto: CreateCaseDto): CaseSections {
  const s = dto.survivor;
  const sections: CaseSections = {
    identity: compact({
      fullName: s.fullName,
      dateOfBirth: s.dateOfBirth,
      ageYears: s.ageYears,
      ethnicity: s.ethnicity,
      disability: s.disability,
    }) as CaseSections['identity'],
  };
  const contact = compact({ phone: s.phone, address: s.address, safeContactNotes: s.safeContactNotes });
  if (Object.keys(contact).length) sections.contact = contact;
  const incident = compact({
    occurredAt: dto.incident.occurredAt,
    place: dto.incident.place,
    narrative: dto.incident.narrative,
  });
  if (Object.keys(incident).length) sections.incident = incident;
  if (dto.perpetrator && Object.keys(compact({ ...dto.perpetrator })).length)
    sections.perpetrator = compact({ ...dto.perpetrator });
  if (dto.health && Object.keys(compact({ ...dto.health })).length)
    sections.health = compact({ ...dto.health });
  return sections;
}

function mergeSections(current: CaseSections, dto: UpdateCaseDto): CaseSections {
  const next: CaseSections = structuredClone(current);
  const merge = <K extends CaseSectionCategory>(k: K, patch: Record<string, unknown> | undefined): void => {
    if (!patch || Object.keys(patch).length === 0) return;
    next[k] = compact({ ...(next[k] ?? {}), ...patch }) as CaseSections[K];
  };
  if (dto.survivor) {
    const { fullName, dateOfBirth, ageYears, ethnicity, disability, phone, address, safeContactNotes } =
      dto.survivor;
    merge('identity', defined({ fullName, dateOfBirth, ageYears, ethnicity, disability }));
    merge('contact', defined({ phone, address, safeContactNotes }));
    // A date of birth replaces an age, and an age a date of birth; clearing one (null) leaves the other.
    if (dateOfBirth) delete next.identity?.ageYears;
    if (typeof ageYears === 'number' && dateOfBirth === undefined) delete next.identity?.dateOfBirth;
  }
  if (dto.incident) {
    const { occurredAt, place, narrative } = dto.incident;
    merge('incident', defined({ occurredAt, place, narrative }));
  }
  // These two sections are optional as a whole: null removes one (what was wrongly entered is then gone).
  if (dto.perpetrator === null) delete next.perpetrator;
  else if (dto.perpetrator) merge('perpetrator', defined({ ...dto.perpetrator }));
  if (dto.health === null) delete next.health;
  else if (dto.health) merge('health', defined({ ...dto.health }));
  return next;
}

function pick(s: CaseSections, categories: CaseSectionCategory[]): CaseSections {
  const out: CaseSections = {};
  for (const c of categories) (out as Record<string, unknown>)[c] = s[c];
  return out;
}

/** Drops undefined and null values (a stored section holds only what is known). */
function compact<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== null)) as Partial<T>;
}

function defined<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * How far ahead of this server's clock a report's moment may be (the client's clock may run fast): minutes, not
 * an hour, as the moment decides the survivor's age (child flags, the law's urgency, consent rules) and the case
 * number's year: an hour ahead at 23:30 on 31 December drew next year's number, and made a girl whose birthday
 * was that hour away 16 before she was.
 */
const REPORTED_AHEAD_MS = 10 * 60 * 1000;

/**
 * An entry about case `id`, in the case's jurisdiction when it exists (`row`): a change's, or a refused one's
 * (its supervisors see the attempt; the refused caller's see it without the case and its place).
 */
function caseEntry(
  action: AuditEntryInput['action'],
  id: string,
  row: Pick<CaseTriageRow, 'provinceCode' | 'wardCode'> | null,
): AuditEntryInput {
  return {
    action,
    resourceType: 'case',
    resourceId: id,
    caseId: row ? id : undefined,
    provinceCode: row?.provinceCode ?? null,
    wardCode: row?.wardCode ?? null,
  };
}

/** A crypto-shredded case: nothing can be added to it, and it cannot be shredded again. */
const SHREDDED = () => new DomainError('conflict.state', CASE_SHREDDED);

/**
 * A read (of a case, or of a referral with its case) that got nothing from its fetch: its grounds ended, or its
 * case was shredded, between its check and the fetch. Its entry says what it was allowed; the denial noted here
 * says that it got nothing. A provider is answered as for a missing record (its grounds went); the ward's and a
 * supervisor's grounds do not end, so for them the case was shredded (409).
 */
export function gotNothing(p: Principal, deny: Deny, entry: AuditEntryInput): never {
  if (p.role === 'provider') {
    deny(p, { ...entry, fields: [], reason: 'resource.not_found' });
    throw NOT_FOUND();
  }
  deny(p, { ...entry, fields: [], reason: 'conflict.state' });
  throw SHREDDED();
}

/** An incident reported before it happened is a typo (by the calendar in Vietnam; the same day is fine). */
function checkIncident(occurredAt: string | null | undefined, reportedAt: Date): void {
  if (occurredAt && incidentDateOf(occurredAt) > vietnamDate(reportedAt)) {
    throw fieldError('incident.occurredAt', 'is after the report', 'sau ngày tiếp nhận');
  }
}

/**
 * A survivor born after the incident: by the date of birth, or, with an age alone, by the earliest birth that age
 * at the report allows (an incident on or before the day `ageYears + 1` years before the report came before any
 * birth of that age). One of the two is wrong: named as the one the request (`given`) gave: a date of birth, else an
 * age, else the incident's date. A request that gives none of them is not refused for dates stored before the rule
 * (a risk raised must not wait on them).
 */
function checkBirthBeforeIncident(
  identity: { dateOfBirth?: string | null; ageYears?: number | null } | undefined,
  occurredAt: string | null | undefined,
  reportedAt: Date,
  given: {
    survivor?: { dateOfBirth?: string | null; ageYears?: number | null } | null;
    incident?: { occurredAt?: string | null } | null;
  },
): void {
  const gives = {
    dateOfBirth: Boolean(given.survivor?.dateOfBirth),
    ageYears: typeof given.survivor?.ageYears === 'number',
    occurredAt: Boolean(given.incident?.occurredAt),
  };
  if (!occurredAt || !(gives.dateOfBirth || gives.ageYears || gives.occurredAt)) return;
  const incident = incidentDateOf(occurredAt);
  const dob = identity?.dateOfBirth;
  const age = identity?.ageYears;
  const before = dob
    ? dob > incident
    : // An age alone: every birth it allows is after the incident when the incident lies more than that
      // many whole years before the report.
      typeof age === 'number' && ageOn(incident, reportedAt) > age;
  if (!before) return;
  const field = gives.dateOfBirth
    ? 'survivor.dateOfBirth'
    : gives.ageYears
      ? 'survivor.ageYears'
      : 'incident.occurredAt';
  throw fieldError(field, 'puts the birth after the incident', 'ngày sinh sau ngày xảy ra sự việc');
}

/**
 * The survivor's age as given in a registration or a change: a date of birth or an age, not both, and no birth
 * after the report (by the calendar in Vietnam). Either would make the derived age group and child flags wrong.
 */
function checkBirth(
  survivor: { dateOfBirth?: string | null; ageYears?: number | null } | undefined,
  reportedAt: Date,
): void {
  if (!survivor?.dateOfBirth) return;
  if (survivor.ageYears !== undefined && survivor.ageYears !== null) {
    throw fieldError(
      'survivor.ageYears',
      'give either dateOfBirth or ageYears, not both',
      'chỉ nhập một trong hai: ngày sinh hoặc số tuổi, không nhập cả hai',
    );
  }
  const age = ageOn(survivor.dateOfBirth, reportedAt);
  if (age < 0) {
    throw fieldError('survivor.dateOfBirth', 'is after the report', 'sau ngày tiếp nhận');
  }
  // The bound ageYears has: a date that gives an older survivor is a typing error, not a person.
  if (age > MAX_AGE_YEARS) {
    throw fieldError(
      'survivor.dateOfBirth',
      `gives an age over ${MAX_AGE_YEARS} at the report`,
      `cho tuổi trên ${MAX_AGE_YEARS} vào ngày tiếp nhận`,
    );
  }
}

/** Whether the caller may read the case's incident by the case alone (no referral or grant of its own). */
function readsIncident(ability: AppAbility, row: CaseTriageRow): boolean {
  return caseReadCategories(ability, row).has('incident');
}

/**
 * `view` with the metadata of the case's referrals the caller may read (the ward: all of them; a provider: its
 * own), without the consents' categories (a provider's grounds, not part of the view); none listed: no field.
 */
function withReferrals(
  view: CaseView,
  ability: AppAbility,
  row: CaseTriageRow,
  all: readonly (ReferralSummary & { consentCategories: ConsentCategory[] })[],
): CaseView {
  const referrals = all
    .filter((r) =>
      ability.can('read', {
        kind: 'Referral',
        id: r.id,
        wardCode: row.wardCode,
        provinceCode: row.provinceCode,
        organizationId: r.organizationId,
        status: r.status,
      }),
    )
    .map(({ consentCategories: _grounds, ...summary }) => summary);
  if (referrals.length > 0) view.referrals = referrals;
  return view;
}
