import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import type { AppAbility } from '../authz/ability.factory';
import { permittedReferralCategories } from '../authz/field-scope';
import type { Principal } from '../authz/principal';
import { accessibleWhere } from '../authz/sql-scope';
import { type ConsentCategory, isLiveReferral, type ReferralSubject } from '../authz/subjects';
import type { AuditEntryInput, AuditFieldCategory } from '../audit/audit.types';
import { provincesOf } from '../audit/audit-jurisdiction';
import { AuditService, Deny } from '../audit/audit.service';
import {
  CASE_OWNER,
  CasesService,
  gotNothing,
  readsCloseReason,
  sealedCategories,
  viewedCategories,
} from '../cases/cases.service';
import { ifMatchVersion } from '../common/http/if-match';
import { DomainError } from '../common/errors/domain-error';
import { RETIRED_ORGANIZATION } from '../directory/organizations.repository';
import { APP_CONFIG, AppConfig } from '../config/config';
import { consentMisfit, type ConsentGround } from '../consents/consent-age';
import { survivorAgeOfCase } from '../consents/survivor-age';
import { consentActiveSql, ConsentExpiryService } from '../consents/consent-expiry.service';
import { CryptoError, DataKeyService, FieldEncryptionService } from '../crypto';
import { CaseRow, CasesRepository, sealedOf } from '../cases/cases.repository';
import {
  CompleteReferralDto,
  CreateNoteDto,
  CreateReferralDto,
  DeclineReferralDto,
  RevokeReferralDto,
} from './dto/referral.dto';
import {
  referralDeadline,
  ReferralState,
  ReferralStatus,
  ReferralTransitions,
  statutoryUrgency,
} from './referral-state';
import { STATUS_LABELS } from '../reports/report-labels';
import { liveReferralSql } from './referral-ending';
import { NoteView, ReferralListView, ReferralView, referralView } from './referral-view';
import {
  createdRow,
  movedRow,
  REFERRAL_COLUMNS,
  ReferralRow,
  ReferralsRepository,
  sealedNotesOf,
} from './referrals.repository';

type AuditAction = 'referral.accept' | 'referral.decline' | 'referral.complete' | 'referral.revoke';

const NOT_FOUND = (): DomainError => new DomainError('resource.not_found');
const NO_ORGANIZATION = '00000000-0000-0000-0000-000000000000';

/**
 * The referral workflow: a ward refers a case to an organisation on the ground of a consent or legal basis;
 * the organisation accepts or declines, then completes; the ward (or a withdrawn/expired consent) revokes.
 * Every move locks the referral row, checks the move against the current state and is logged.
 */
@Injectable()
export class ReferralsService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly referrals: ReferralsRepository,
    private readonly cases: CasesRepository,
    private readonly caseService: CasesService,
    private readonly fields: FieldEncryptionService,
    private readonly dataKeys: DataKeyService,
    private readonly audit: AuditService,
    private readonly expiry: ConsentExpiryService,
  ) {}

  async create(
    p: Principal,
    ability: AppAbility,
    caseId: string,
    dto: CreateReferralDto,
  ): Promise<ReferralView> {
    // A referral of an expired consent is revoked first, so that it no longer counts as the organisation's
    // open one (a new consent may ground a new referral at once).
    return this.afterExpiry(p, async (m, deny) => {
      const mayCreate = (c: CaseRow | null): c is CaseRow => {
        if (c && ability.can('create', referralSubjectOf(c, dto.organizationId))) return true;
        deny(p, {
          action: 'referral.create',
          resourceType: 'referral',
          caseId: c ? caseId : undefined,
          provinceCode: c?.provinceCode ?? null,
          wardCode: c?.wardCode ?? null,
        });
        return false;
      };
      // With its identity section: the survivor's age now decides whether the consent's ground still holds.
      const row = await this.cases.lockIfAllowed(m, caseId, mayCreate, ['identity']);
      if (!row) throw NOT_FOUND();
      // A refusal of what the request asks (the case closed, no such organisation, a consent that does not
      // cover it, an open referral already) is on record too, like the refusals above.
      deny.refusals(p, {
        action: 'referral.create',
        resourceType: 'referral',
        caseId,
        provinceCode: row.provinceCode,
        wardCode: row.wardCode,
      });
      if (row.status !== 'open' || row.shreddedAt) {
        throw new DomainError('conflict.state', { en: 'The case is closed.', vi: 'Vụ việc đã đóng.' });
      }
      const org = await this.referrals.organization(m, dto.organizationId, row.provinceCode, row.wardCode);
      if (!org)
        throw new DomainError('unprocessable', {
          en: 'No such organisation.',
          vi: 'Không tìm thấy tổ chức này.',
        });
      // Held (FOR SHARE) since the look above: a retirement waits for this referral, and then revokes it.
      if (org.retired) throw RETIRED_ORGANIZATION();
      // Whether the consent is still active is the database's call (consentActiveSql), not this instance's clock,
      // as of now that the case, the organisation and the consent are held (a create that waited behind a change
      // of the case is timed after it, as a move is, not when its transaction began). And whether its ground
      // holds at the survivor's age now (consentMisfit: consents made before a rule or a correction of the age,
      // a child-protection duty recorded without its end at 18). Locked, then read in a statement of its own: a
      // statement that waited for the lock would still read the row as it was when it began (a withdrawal it
      // waited for unseen) wherever it reads it again.
      await m.query(`SELECT 1 FROM consents cs WHERE cs.id = $1 AND cs.case_id = $2 FOR SHARE`, [
        dto.consentId,
        caseId,
      ]);
      const [consent] = await m.query<
        {
          organization_id: string | null;
          sector: string | null;
          categories: ConsentCategory[];
          active: boolean;
          given_by: ConsentGround['givenBy'];
          legal_basis: ConsentGround['legalBasis'];
          expires_at: Date | null;
        }[]
      >(
        `SELECT cs.organization_id, cs.sector, cs.categories,
                ${consentActiveSql('cs', '(SELECT clock_timestamp())')} AS active,
                cs.given_by, cs.legal_basis, cs.expires_at
           FROM consents cs
          WHERE cs.id = $1 AND cs.case_id = $2`,
        [dto.consentId, caseId],
      );
      // A consent names the organisation, or gives a sector: then only that sector's organisations serving the
      // case's commune, not every one of it in the country.
      const covers =
        consent && (consent.organization_id === org.id || (consent.sector === org.sector && org.servesCase));
      if (!consent || !covers || !consent.active) {
        throw new DomainError('unprocessable', {
          en: 'The consent does not cover this organisation, or has ended.',
          vi: 'Sự đồng ý không bao gồm tổ chức này hoặc đã hết hiệu lực.',
        });
      }
      const ground = {
        givenBy: consent.given_by,
        legalBasis: consent.legal_basis,
        expiresAt: consent.expires_at,
      };
      if (consentMisfit(ground, await survivorAgeOfCase(m, this.fields, this.dataKeys, row))) {
        throw new DomainError('unprocessable', {
          en: 'The consent no longer fits the survivor’s age (a child-protection duty for an adult or past the 18th birthday, or a child under 16 consenting alone): withdraw it and record one that fits.',
          vi: 'Sự đồng ý không còn phù hợp với độ tuổi của người bị bạo lực (căn cứ nghĩa vụ bảo vệ trẻ em trong khi người bị bạo lực đã đủ 18 tuổi hoặc kéo dài quá ngày đủ 18 tuổi, hoặc trẻ em dưới 16 tuổi tự đồng ý): hãy rút lại và ghi nhận sự đồng ý phù hợp.',
        });
      }
      // The organisation's open referral whose consent ended since the sweep above (before the case was got)
      // is revoked first, as the sweep would have: it is not open any more.
      await this.expiry.revokeEndedOf(m, caseId, org.id, p.request);
      const live = await m.query<unknown[]>(
        `SELECT 1 FROM referrals r WHERE r.case_id = $1 AND r.organization_id = $2 AND ${liveReferralSql('r')}`,
        [caseId, org.id],
      );
      if (live.length > 0) {
        throw new DomainError('conflict.state', {
          en: 'This organisation already has an open referral for the case.',
          vi: 'Tổ chức này đã có một yêu cầu chuyển gửi đang mở cho vụ việc.',
        });
      }
      const id = randomUUID();
      const { urgency, dueMinutes } = referralDeadline(
        dto.urgency,
        statutoryUrgency(row, dto.services),
        this.config.referrals.deadlinesMinutes,
      );
      const encNote = dto.note ? await this.seal(m, caseId, 'referrals', 'enc_note', id, dto.note) : null;
      // The referral and its entry in one statement (the case is locked since findById, the consent shared).
      const { rows } = await this.audit.recordWith(
        m,
        p,
        logEntry(
          'referral.create',
          { id, caseId, provinceCode: row.provinceCode, wardCode: row.wardCode },
          encNote !== null,
        ),
        [],
        this.referrals.gatedInsert({
          id,
          caseId,
          organizationId: org.id,
          consentId: dto.consentId,
          services: dto.services,
          urgency,
          dueMinutes,
          encNote,
          createdBy: p.userId,
        }),
      );
      return referralView(
        createdRow(rows[0], {
          caseCode: row.code,
          wardCode: row.wardCode,
          provinceCode: row.provinceCode,
          caseStatus: row.status,
          organizationName: org.name,
          sector: org.sector,
          consentCategories: consent.categories,
          consentActive: true, // checked above, the consent row shared until the commit
          consentEndedAt: null,
          consentWithdrawn: false,
        }),
      );
    });
  }

  /** Provider: its organisation's inbox; ward officer: its communes' referrals; `overdue` = the escalation list. */
  async list(
    p: Principal,
    ability: AppAbility,
    status?: ReferralStatus | 'overdue',
    page = 1,
    pageSize = 50,
  ): Promise<ReferralListView> {
    return this.audit.session(async (m) => {
      await this.expiry.revokeExpired(m, p.request);
      const scope = accessibleWhere(ability, 'read', 'Referral', REFERRAL_COLUMNS);
      const { rows, total } = await this.referrals.list(
        m,
        scope,
        status === 'overdue' ? { overdue: true } : { status },
        page,
        pageSize,
      );
      await this.audit.recordNow(m, p, {
        action: 'referral.list',
        resourceType: 'referral',
        fields: ['triage'],
        returnedIds: rows.map((r) => r.id),
        // In the provinces of the cases shown too: a provider's inbox may hold another province's case.
        subjectProvinces: provincesOf(rows),
      });
      return { items: rows.map((r) => referralView(r)), total, page, pageSize };
    });
  }

  async get(p: Principal, ability: AppAbility, id: string): Promise<ReferralView> {
    return this.audit.session(async (m, deny) => {
      await this.expiry.revokeExpired(m, p.request);
      // The referral with its case's triage row, in one statement (nothing encrypted is read before the check).
      const found = await this.referrals.findWithCase(m, id);
      const categories = found
        ? permittedReferralCategories(ability, 'read', subjectOf(found.row))
        : new Set<string>();
      if (!found || categories.size === 0) {
        deny(p, referralRefusal('referral.read', id, found?.row));
        throw NOT_FOUND();
      }
      const { row, caseRow } = found;
      const view = referralView(row);
      // What the organisation may see of the case through this referral right now (triage while pending, sector ∩
      // consent once accepted, nothing once ended); for the ward, its own full case.
      const caseCategories = this.caseService.referralReadCategories(p, ability, caseRow, {
        organizationId: row.organizationId,
        status: subjectOf(row).status,
        consentCategories: row.consentCategories,
      });
      const showCase = caseCategories.size > 0;
      const encrypted = showCase ? sealedCategories(caseRow, caseCategories) : [];
      // The notes, if the caller may read them (a provider: its own organisation's only, and while the case is
      // open; one without an organisation none); a shredded case's notes are gone with its data key.
      const provider = p.role === 'provider';
      const notes =
        categories.has('notes') && caseRow.shreddedAt === null && (!provider || caseRow.status === 'open')
          ? { organizationId: provider ? (p.organizationId ?? NO_ORGANIZATION) : null }
          : null;
      const entry: AuditEntryInput = {
        action: 'referral.read',
        resourceType: 'referral',
        resourceId: row.id,
        caseId: row.caseId,
        // What is disclosed (viewedCategories: the sections opened, and a crypto-shredded case's incident facts),
        // not all those allowed.
        fields: disclosed(notes !== null, showCase ? viewedCategories(caseRow, caseCategories) : []),
        provinceCode: row.provinceCode,
        wardCode: row.wardCode,
      };
      if (notes === null && encrypted.length === 0) {
        await this.audit.recordNow(m, p, entry);
        if (showCase) view.case = await this.caseService.openedView(caseRow, null, caseCategories);
        return view;
      }
      // The ciphertexts come with the entry, in one statement (recordRead): none without it.
      const [sealed] = await this.audit.recordRead(
        m,
        p,
        entry,
        this.referrals.gatedSealed(
          row.id,
          CASE_OWNER,
          encrypted,
          notes,
          showCase && readsCloseReason(caseRow, caseCategories),
          provider,
        ),
      );
      // (A provider's referral ended, or its case was shredded. Referrals are never deleted: for anyone but a
      // provider, no row means the case was shredded.)
      if (!sealed) gotNothing(p, deny, entry);
      const sealedCase = sealedOf(sealed, encrypted)!; // there is a row
      if (!sealedCase.key) throw new CryptoError('crypto.unknown_key', 'no data key for this case');
      const key = await this.dataKeys.unwrap(sealedCase.key);
      try {
        if (notes) {
          const { note, notes: sealedNotes, declineReason, revokeReason } = sealedNotesOf(sealed);
          const open = (column: string, text: Buffer | null) =>
            text ? this.fields.decryptString(key, loc('referrals', column, row.id), text as never) : null;
          view.note = open('enc_note', note);
          if (declineReason !== undefined) view.declineReason = open('enc_decline_reason', declineReason);
          if (revokeReason !== undefined) view.revokeReason = open('enc_revoke_reason', revokeReason);
          view.notes = sealedNotes.map((n): NoteView => ({
            id: n.id,
            organizationId: n.organizationId,
            authorId: n.authorId,
            text: this.fields.decryptString(key, loc('referral_notes', 'enc_text', n.id), n.encText as never),
            createdAt: n.createdAt.toISOString(),
          }));
        }
        if (showCase) view.case = await this.caseService.openedView(caseRow, sealedCase, caseCategories, key);
      } finally {
        key.wipe();
      }
      return view;
    });
  }

  accept(p: Principal, a: AppAbility, id: string, ifMatch?: string): Promise<ReferralView> {
    return this.move(p, a, id, ifMatch, 'accept', 'referral.accept', (r, at) =>
      ReferralTransitions.accept(r, p.userId, at),
    );
  }

  decline(
    p: Principal,
    a: AppAbility,
    id: string,
    dto: DeclineReferralDto,
    ifMatch?: string,
  ): Promise<ReferralView> {
    return this.move(
      p,
      a,
      id,
      ifMatch,
      'decline',
      'referral.decline',
      (r, at) => ReferralTransitions.decline(r, at),
      async (m, row) => ({
        encDeclineReason: await this.seal(
          m,
          row.caseId,
          'referrals',
          'enc_decline_reason',
          row.id,
          dto.reason,
        ),
      }),
    );
  }

  complete(
    p: Principal,
    a: AppAbility,
    id: string,
    dto: CompleteReferralDto,
    ifMatch?: string,
  ): Promise<ReferralView> {
    return this.move(p, a, id, ifMatch, 'complete', 'referral.complete', (r, at) => {
      const next = ReferralTransitions.complete(r, dto.outcome, at, dto.servicesDelivered ?? null);
      // What was delivered is among what was asked for (the database holds it so too).
      if (dto.servicesDelivered?.some((service) => !r.services.includes(service))) {
        throw new DomainError('unprocessable', {
          en: 'servicesDelivered may name only services the referral requested.',
          vi: 'servicesDelivered chỉ được nêu các dịch vụ mà yêu cầu chuyển gửi đã đề nghị.',
        });
      }
      return next;
    });
  }

  revoke(
    p: Principal,
    a: AppAbility,
    id: string,
    dto: RevokeReferralDto,
    ifMatch?: string,
  ): Promise<ReferralView> {
    return this.move(
      p,
      a,
      id,
      ifMatch,
      'revoke',
      'referral.revoke',
      (r, at) => ReferralTransitions.revoke(r, 'ward', at),
      async (m, row) => ({
        encRevokeReason: await this.seal(m, row.caseId, 'referrals', 'enc_revoke_reason', row.id, dto.reason),
      }),
    );
  }

  async addNote(
    p: Principal,
    ability: AppAbility,
    referralId: string,
    dto: CreateNoteDto,
  ): Promise<NoteView> {
    return this.afterExpiry(p, async (m, deny) => {
      // Locked, and decided as of when it got the row (as a move is): a referral revoked or ended meanwhile (a
      // consent withdrawn or expired, the case closed) takes no note.
      const locked = await this.referrals.lockIfVisible(
        m,
        referralId,
        this.visibleTo(p, ability, deny, 'note.create', referralId),
      );
      if (!locked) throw NOT_FOUND();
      const { row } = locked;
      // A provider's note is its organisation's, on a referral to that organisation: the subject names the
      // referral's organisation, so the rule decides both (a ward's note belongs to no organisation). A
      // referral the caller may read but not write a note on (a provider's before it accepts it, or once it has
      // ended) is there for it: a 409 saying why, not a 404.
      const organizationId = p.role === 'provider' ? row.organizationId : null;
      const allowed = ability.can('create', {
        kind: 'Note',
        wardCode: row.wardCode,
        provinceCode: row.provinceCode,
        organizationId,
        referralStatus: p.role === 'provider' ? subjectOf(row).status : null,
      });
      const refused = referralRefusal('note.create', referralId, row);
      // Visible: a refusal from here is on record with its code.
      deny.refusals(p, refused);
      if (!allowed && subjectOf(row).status === 'pending') {
        throw new DomainError('conflict.state', {
          en: 'Accept the referral first: its organisation adds notes to an accepted referral.',
          vi: 'Hãy chấp nhận yêu cầu chuyển gửi trước: tổ chức chỉ được thêm ghi chú khi đã chấp nhận.',
        });
      }
      // An ended referral, or one of a closed (or crypto-shredded) case, takes no note, the provider's nor the
      // ward's.
      if (!allowed || !isLiveReferral(subjectOf(row).status) || row.caseStatus !== 'open') {
        throw new DomainError('conflict.state', {
          en: 'The referral has ended, or its case is closed: it takes no more notes.',
          vi: 'Yêu cầu chuyển gửi đã kết thúc hoặc vụ việc đã đóng: không thể thêm ghi chú.',
        });
      }
      const id = randomUUID();
      const encText = await this.seal(m, row.caseId, 'referral_notes', 'enc_text', id, dto.text);
      // The note and its entry in one statement.
      const { rows } = await this.audit.recordWith(
        m,
        p,
        {
          action: 'note.create',
          resourceType: 'note',
          resourceId: id,
          caseId: row.caseId,
          fields: ['notes'],
          provinceCode: row.provinceCode,
          wardCode: row.wardCode,
        },
        [],
        this.referrals.gatedInsertNote({
          id,
          caseId: row.caseId,
          referralId,
          organizationId,
          authorId: p.userId,
          encText,
        }),
      );
      const createdAt = rows[0].created_at as Date;
      return { id, organizationId, authorId: p.userId, text: dto.text, createdAt: createdAt.toISOString() };
    });
  }

  /**
   * Whether the caller may see the referral at all (ReferralsRepository.lockIfVisible asks it before the lock and
   * again once locked); a refusal is on record, in the case's jurisdiction when there is one. What it may do with
   * a referral it sees is decided after the lock, as of then.
   */
  private visibleTo(
    p: Principal,
    ability: AppAbility,
    deny: Deny,
    action: AuditEntryInput['action'],
    id: string,
  ): (row: ReferralRow | null) => boolean {
    return (row) => {
      if (row && ability.can('read', subjectOf(row))) return true;
      deny(p, referralRefusal(action, id, row ?? undefined));
      return false;
    };
  }

  private async move(
    p: Principal,
    ability: AppAbility,
    id: string,
    ifMatch: string | undefined,
    action: 'accept' | 'decline' | 'complete' | 'revoke',
    auditAction: AuditAction,
    transition: (r: ReferralRow, at: Date) => ReferralState,
    extra?: (
      m: EntityManager,
      row: ReferralRow,
    ) => Promise<{ encDeclineReason?: Buffer; encRevokeReason?: Buffer }>,
  ): Promise<ReferralView> {
    // The version the caller read (If-Match, optional): a 412 before anything when it names none.
    const expected = ifMatchVersion(ifMatch, 'referral');
    return this.afterExpiry(p, async (m, deny) => {
      // The row lock serialises concurrent moves: the second of two accepts sees `accepted` and gets 409.
      const locked = await this.referrals.lockIfVisible(
        m,
        id,
        this.visibleTo(p, ability, deny, auditAction, id),
      );
      if (!locked) throw NOT_FOUND();
      const { row } = locked;
      // Every refusal of the move is on record, in the case's jurisdiction.
      const refused = referralRefusal(auditAction, id, row);
      // Visible: every refusal from here (its state, what the move carries) is on record with its code.
      if (!ability.can(action, subjectOf(row))) {
        // Not allowed now: either the state forbids the move (409) or the role never may (404).
        const roleMay = ability.can(action, {
          ...subjectOf(row),
          status: action === 'complete' ? 'accepted' : 'pending',
        });
        if (!roleMay) {
          deny(p, refused);
          throw NOT_FOUND();
        }
        deny.refusals(p, refused);
        // The state forbids the move (as the rules take it: revoked once its consent has ended): the workflow's
        // 409, with its message.
        transition({ ...row, status: subjectOf(row).status }, locked.at);
        throw new DomainError('conflict.state');
      }
      deny.refusals(p, refused);
      // Read before another move (a ward's revoke sent from a page read before the provider accepted): refused,
      // saying what the referral is now.
      if (expected !== undefined && expected !== row.version) {
        throw new DomainError('conflict.version', {
          en: `The referral changed since you read it: it is now ${row.status}, version ${row.version}. Read it again.`,
          vi: `Yêu cầu chuyển gửi đã thay đổi kể từ khi bạn xem: hiện ở trạng thái ${STATUS_LABELS[row.status].vi.toLowerCase()}, phiên bản ${row.version}. Vui lòng xem lại.`,
        });
      }
      // A closed case's referrals were revoked when it closed; one left pending by a database from before that
      // rule is not taken on now (the provider could not read the case either).
      if (action === 'accept' && row.caseStatus !== 'open') {
        throw new DomainError('conflict.state', {
          en: 'The case is closed: its referral cannot be accepted.',
          vi: 'Vụ việc đã đóng: không thể chấp nhận yêu cầu chuyển gửi của vụ việc này.',
        });
      }
      const next = transition(row, locked.at);
      const texts = extra ? await extra(m, row) : {};
      // The new state and the move's entry in one statement (the row is locked since findLocked).
      const { rows } = await this.audit.recordWith(
        m,
        p,
        logEntry(auditAction, row, Boolean(texts.encDeclineReason ?? texts.encRevokeReason)),
        [],
        this.referrals.gatedSaveState(id, next, p.userId, texts),
      );
      return referralView(movedRow(row, rows[0]));
    });
  }

  /**
   * `work` in a transaction, once the referrals of expired consents are revoked in a transaction of their own
   * (`revokeExpired`): the revocation stands even when `work` is then refused (it was rolled back with it), and
   * no access-log stripe is held from it while `work` locks its referral, so two instances cannot wait on each
   * other's referral and stripe head.
   */
  private afterExpiry<T>(p: Principal, work: (m: EntityManager, deny: Deny) => Promise<T>): Promise<T> {
    return this.audit.session(async (m, deny) => {
      await this.expiry.revokeExpired(m, p.request);
      return m.transaction((t) => work(t, deny));
    });
  }

  private async seal(
    m: EntityManager,
    caseId: string,
    table: string,
    column: string,
    rowId: string,
    text: string,
  ): Promise<Buffer> {
    const key = await this.dataKeys.get({ ownerType: CASE_OWNER, ownerId: caseId }, m);
    try {
      return this.fields.encrypt(key, loc(table, column, rowId), text);
    } finally {
      key.wipe();
    }
  }
}

/** The categories a referral read discloses, for the access log: decided before anything encrypted is read. */
function disclosed(notes: boolean, viewed: readonly AuditFieldCategory[]): AuditFieldCategory[] {
  // `viewed`: viewedCategories, or none when the case is not shown (the referral's triage all the same).
  return [...new Set<AuditFieldCategory>(['triage', ...(notes ? (['notes'] as const) : []), ...viewed])];
}

/**
 * A referral's own entry: its triage, in its case's commune; and its notes when the request wrote free text (a
 * referring note, a reason to decline or revoke), as entries name what was written as well as what was read.
 */
function logEntry(
  action: AuditAction | 'referral.create',
  row: Pick<ReferralRow, 'id' | 'caseId' | 'provinceCode' | 'wardCode'>,
  wroteText = false,
): AuditEntryInput {
  return {
    action,
    resourceType: 'referral',
    resourceId: row.id,
    caseId: row.caseId,
    fields: wroteText ? ['triage', 'notes'] : ['triage'],
    provinceCode: row.provinceCode,
    wardCode: row.wardCode,
  };
}

/**
 * The entry of a refusal about referral `id` (`row` when it exists): in its case's jurisdiction, so that the
 * case's supervisors see the attempt (the caller's see it without the case and its place: AuditQueryService).
 */
function referralRefusal(
  action: AuditEntryInput['action'],
  id: string,
  row: Pick<ReferralRow, 'caseId' | 'provinceCode' | 'wardCode'> | undefined,
): AuditEntryInput {
  return {
    action,
    resourceType: 'referral',
    resourceId: id,
    caseId: row?.caseId,
    provinceCode: row?.provinceCode ?? null,
    wardCode: row?.wardCode ?? null,
  };
}

function loc(table: string, column: string, rowId: string): { table: string; column: string; rowId: string } {
  return { table, column, rowId };
}

/**
 * The referral as the rules see it: with the status access decisions take (effectiveReferralStatusSql), so a
 * live referral whose consent has ended is revoked, even before the sweep writes that down.
 */
function subjectOf(r: ReferralRow): ReferralSubject {
  return {
    kind: 'Referral',
    id: r.id,
    wardCode: r.wardCode,
    provinceCode: r.provinceCode,
    organizationId: r.organizationId,
    status: isLiveReferral(r.status) && !r.consentActive ? 'revoked' : r.status,
  };
}

/** The referral a case's new referral to `organizationId` would be, as the rules take it. */
function referralSubjectOf(c: CaseRow, organizationId: string): ReferralSubject {
  return {
    kind: 'Referral',
    wardCode: c.wardCode,
    provinceCode: c.provinceCode,
    organizationId,
    status: 'pending',
  };
}
