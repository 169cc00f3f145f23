import { Injectable } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { randomUUID } from 'node:crypto';
import type { AppAbility } from '../authz/ability.factory';
import { pageWindow } from '../database/page-limit';
import type { Principal } from '../authz/principal';
import { CONSENT_STATUSES, type ConsentStatus } from '../authz/subjects';
import { DomainError, fieldError } from '../common/errors/domain-error';
import { organizationRetired, RETIRED_ORGANIZATION } from '../directory/organizations.repository';
import { AuditService } from '../audit/audit.service';
import type { AuditEntryInput } from '../audit/audit.types';
import { CryptoError, DataKeyService, FieldEncryptionService } from '../crypto';
import { joinedDataKeyColumns, joinedDataKeyRow } from '../crypto/data-key.repository';
import type { GatedRead } from '../database/gated-write';
import { CASE_OWNER, caseReadCategories, gotNothing } from '../cases/cases.service';
import { CaseRow, CasesRepository, NOT_SHREDDED } from '../cases/cases.repository';
import { ageMisfit } from './consent-age';
import { survivorAgeOfCase } from './survivor-age';
import { ConsentExpiryService, consentStatusSql } from './consent-expiry.service';
import { CreateConsentDto } from './dto/create-consent.dto';

export class ConsentView {
  @ApiProperty() id!: string;
  @ApiProperty() caseId!: string;
  @ApiProperty({ nullable: true, type: String }) organizationId!: string | null;
  @ApiProperty({ nullable: true, type: String }) sector!: string | null;
  @ApiProperty({ type: [String] }) categories!: string[];
  @ApiProperty({ nullable: true, type: String }) givenBy!: string | null;
  @ApiProperty({ nullable: true, type: String }) legalBasis!: string | null;
  @ApiProperty({ nullable: true, type: String }) expiresAt!: string | null;
  @ApiProperty({ enum: CONSENT_STATUSES }) status!: ConsentStatus;
  @ApiProperty({ nullable: true, type: String }) withdrawnAt!: string | null;
  @ApiProperty() createdAt!: string;
  @ApiPropertyOptional({ type: [String], description: 'referrals revoked by this withdrawal' })
  revokedReferralIds?: string[];
  @ApiPropertyOptional({
    nullable: true,
    type: String,
    description:
      'a legal basis’s reason (in the ward’s list; logged as notes; null once the case is shredded)',
  })
  reason?: string | null;
}

/** Default page size of a case's consents. */
const CONSENT_PAGE_SIZE = 50;

export class ConsentList {
  @ApiProperty({ type: [ConsentView] }) items!: ConsentView[];
  @ApiProperty({ description: 'all consents and legal bases of the case, on every page' }) total!: number;
  @ApiProperty() page!: number;
  @ApiProperty({ description: `default ${CONSENT_PAGE_SIZE}` }) pageSize!: number;
}

interface ConsentRow {
  id: string;
  case_id: string;
  organization_id: string | null;
  sector: string | null;
  categories: string[];
  given_by: string | null;
  legal_basis: string | null;
  expires_at: Date | null;
  withdrawn_at: Date | null;
  created_at: Date;
  /** By the database's clock, as every decision about the consent is. */
  status: ConsentStatus;
}

/** Why an expired consent is not withdrawn. */
const CONSENT_EXPIRED = {
  en: 'The consent has expired; there is nothing left to withdraw.',
  vi: 'Sự đồng ý đã hết hạn; không còn gì để rút lại.',
};

/**
 * A consent row's columns as views show them, its status as of `at` (by default the transaction's start); `k`
 * is the consents table's alias.
 */
function consentColumns(at?: string): string {
  return `k.id, k.case_id, k.organization_id, k.sector, k.categories, k.given_by, k.legal_basis, k.expires_at,
    k.withdrawn_at, k.created_at, ${consentStatusSql('k', at)} AS status`;
}
const CONSENT_COLUMNS = consentColumns();

/** A consent of case `c` in `status`, as the rules take it (its case's place decides who reaches it). */
function consentSubject(c: Pick<CaseRow, 'wardCode' | 'provinceCode'>, status: ConsentStatus) {
  return { kind: 'Consent' as const, wardCode: c.wardCode, provinceCode: c.provinceCode, status };
}

/**
 * The sealed reasons of case `caseId`'s legal bases and the case's data key, as a read gated on the list's
 * access-log entry (GatedRead; AuditService.recordRead): none come back without the entry, nor once the case
 * is shredded (between the list's check and this read).
 */
function gatedReasons(caseId: string, ids: readonly string[]): GatedRead {
  return (gate, p) =>
    `SELECT k.id, k.enc_reason, ${joinedDataKeyColumns('dk')}
       FROM ${gate} CROSS JOIN consents k
       JOIN cases c ON c.id = k.case_id AND ${NOT_SHREDDED}
       LEFT JOIN data_keys dk ON dk.owner_type = ${p(CASE_OWNER, 'text')} AND dk.owner_id = k.case_id
      WHERE k.case_id = ${p(caseId, 'uuid')} AND k.id = ANY(${p(ids, 'uuid[]')})
        AND k.legal_basis IS NOT NULL AND k.enc_reason IS NOT NULL`;
}

function view(r: ConsentRow): ConsentView {
  return {
    id: r.id,
    caseId: r.case_id,
    organizationId: r.organization_id,
    sector: r.sector,
    categories: r.categories,
    givenBy: r.given_by,
    legalBasis: r.legal_basis,
    expiresAt: r.expires_at?.toISOString() ?? null,
    status: r.status,
    withdrawnAt: r.withdrawn_at?.toISOString() ?? null,
    createdAt: r.created_at.toISOString(),
  };
}

const unprocessable = (en: string, vi: string): DomainError => new DomainError('unprocessable', { en, vi });

/**
 * Consent and legal basis: the only grounds on which a case's content reaches an organisation. Withdrawal
 * (and expiry, see ConsentExpiryService) revokes the referrals that relied on it in the same transaction.
 */
@Injectable()
export class ConsentsService {
  constructor(
    private readonly cases: CasesRepository,
    private readonly fields: FieldEncryptionService,
    private readonly dataKeys: DataKeyService,
    private readonly audit: AuditService,
    private readonly expiry: ConsentExpiryService,
  ) {}

  async create(
    p: Principal,
    ability: AppAbility,
    caseId: string,
    dto: CreateConsentDto,
  ): Promise<ConsentView> {
    if ((dto.organizationId == null) === (dto.sector == null)) {
      throw fieldError(
        'organizationId',
        'give either organizationId or sector',
        'chọn một tổ chức hoặc một ngành',
      );
    }
    if ((dto.givenBy == null) === (dto.legalBasis == null)) {
      throw fieldError(
        'givenBy',
        'give either givenBy (consent) or legalBasis',
        'chọn người đồng ý hoặc căn cứ pháp lý',
      );
    }
    if (dto.legalBasis && !dto.reason)
      throw fieldError('reason', 'is required with a legal basis', 'là bắt buộc khi có căn cứ pháp lý');
    // A consent's ground is the person's word, not a reason: free text about the case nobody would read is not
    // kept.
    if (!dto.legalBasis && dto.reason != null)
      throw fieldError('reason', 'is only for a legal basis', 'chỉ dùng cho căn cứ pháp lý');
    return this.audit.transaction(async (m, deny) => {
      const mayCreate = (c: CaseRow | null): c is CaseRow => {
        if (c && ability.can('create', consentSubject(c, 'active'))) return true;
        // In the case's jurisdiction too (as a refused case read is): its supervisors see the attempt.
        deny(p, {
          action: 'consent.create',
          resourceType: 'consent',
          caseId: c ? caseId : undefined,
          provinceCode: c?.provinceCode ?? null,
          wardCode: c?.wardCode ?? null,
        });
        return false;
      };
      // With its identity section: the survivor's age now decides which grounds apply.
      const row = await this.cases.lockIfAllowed(m, caseId, mayCreate, ['identity']);
      if (!row) throw new DomainError('resource.not_found');
      // A refusal of what the request asks (the case closed, a basis or a consent that does not apply, no such
      // organisation) is on record too, like the refusal above.
      deny.refusals(p, {
        action: 'consent.create',
        resourceType: 'consent',
        caseId,
        provinceCode: row.provinceCode,
        wardCode: row.wardCode,
      });
      if (row.status !== 'open' || row.shreddedAt) {
        throw new DomainError('conflict.state', { en: 'The case is closed.', vi: 'Vụ việc đã đóng.' });
      }
      // No child-protection duty for an adult, no child under 16 consenting alone: by her age now, not at the
      // report (a girl of 15 then may be 16 now, one of 17 then may be an adult).
      const age = await survivorAgeOfCase(m, this.fields, this.dataKeys, row);
      const misfit = ageMisfit(dto, age);
      if (misfit) throw new DomainError('unprocessable', misfit);
      // A child-protection duty is owed to a child: it ends at her 18th birthday (as far as her age is known),
      // whatever later end was asked for.
      const expiresAt =
        dto.legalBasis === 'child_protection_duty' && age.adultFrom
          ? new Date(Math.min(age.adultFrom.getTime(), dto.expiresAt ? Date.parse(dto.expiresAt) : Infinity))
          : (dto.expiresAt ?? null);
      if (dto.organizationId) {
        const retired = await organizationRetired(m, dto.organizationId);
        if (retired === null) throw unprocessable('No such organisation.', 'Không tìm thấy tổ chức này.');
        if (retired) throw RETIRED_ORGANIZATION();
      }
      const id = randomUUID();
      let reason: Buffer | null = null;
      if (dto.reason) {
        const key = await this.dataKeys.get({ ownerType: CASE_OWNER, ownerId: caseId }, m);
        try {
          reason = this.fields.encrypt(
            key,
            { table: 'consents', column: 'enc_reason', rowId: id },
            dto.reason,
          );
        } finally {
          key.wipe();
        }
      }
      // An end in the past by the database's clock (the one expiry is decided by) inserts nothing: as of the
      // insert (clock_timestamp), once the case is locked, not the transaction's start (a registration of a
      // consent that waited for its case answered "active" for one already expired); its creation too, and its
      // status as of that same moment.
      const [created] = await m.query<ConsentRow[]>(
        `INSERT INTO consents AS k (id, case_id, organization_id, sector, categories, given_by, legal_basis,
           enc_reason, expires_at, created_by, created_at)
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, t.at FROM (SELECT clock_timestamp() AS at) t
          WHERE $9::timestamptz IS NULL OR $9::timestamptz > t.at
         RETURNING ${consentColumns('k.created_at')}`,
        [
          id,
          caseId,
          dto.organizationId ?? null,
          dto.sector ?? null,
          dto.categories,
          dto.givenBy ?? null,
          dto.legalBasis ?? null,
          reason,
          expiresAt,
          p.userId,
        ],
      );
      if (!created)
        throw fieldError('expiresAt', 'must be in the future', 'phải là thời điểm trong tương lai');
      await this.audit.record(m, p, {
        action: 'consent.create',
        resourceType: 'consent',
        resourceId: id,
        caseId,
        // A legal basis's reason is free text, written sealed: named as notes, as the other sealed writes are.
        fields: reason ? ['triage', 'notes'] : ['triage'],
        provinceCode: row.provinceCode,
        wardCode: row.wardCode,
      });
      return view(created);
    });
  }

  /**
   * The consents and legal bases of a case, newest first, with their status by the database's clock: what a
   * ward officer needs to withdraw one (its id) or to refer under one, and each legal basis's reason (read with
   * the list's entry, which then names `notes`). A page at a time: the entry names the consents it returns, and
   * an entry names at most 1,000. On the access log as `consent.read`; refused like a missing case (404).
   */
  async list(
    p: Principal,
    ability: AppAbility,
    caseId: string,
    page = 1,
    pageSize = CONSENT_PAGE_SIZE,
  ): Promise<ConsentList> {
    return this.audit.session(async (m, deny) => {
      const row = await this.cases.findById(m, caseId);
      const visible = row && ability.can('read', consentSubject(row, 'active'));
      if (!row || !visible) {
        deny(p, {
          action: 'consent.read',
          resourceType: 'consent',
          caseId: row ? caseId : undefined,
          provinceCode: row?.provinceCode ?? null,
          wardCode: row?.wardCode ?? null,
        });
        throw new DomainError('resource.not_found');
      }
      // One row with the count and no consent when the page is empty.
      const paging = pageWindow(page, pageSize, 2);
      const found = await m.query<(Partial<ConsentRow> & { total: number })[]>(
        `SELECT counted.total, listed.* FROM (SELECT count(*)::int AS total FROM consents WHERE case_id = $1) counted
           LEFT JOIN (SELECT ${CONSENT_COLUMNS} FROM consents k WHERE k.case_id = $1
                       ORDER BY k.created_at DESC, k.id ${paging.sql}) listed ON true
          ORDER BY listed.created_at DESC, listed.id`,
        [caseId, ...paging.params],
      );
      const total = found[0].total;
      const rows = paging.page(found.filter((r): r is ConsentRow & { total: number } => r.id != null));
      const paged = { total, page, pageSize };
      // A legal basis's reason is free text about the case: read with the entry (recordRead), logged as notes.
      const bases = rows.filter((r) => r.legal_basis !== null);
      // Free text about the case: read only by a caller the rules give its notes (the ward).
      const withReasons =
        bases.length > 0 && row.shreddedAt === null && caseReadCategories(ability, row).has('notes');
      const entry: AuditEntryInput = {
        action: 'consent.read',
        resourceType: 'consent',
        caseId,
        fields: withReasons ? ['triage', 'notes'] : ['triage'],
        returnedIds: rows.map((r) => r.id),
        provinceCode: row.provinceCode,
        wardCode: row.wardCode,
      };
      if (!withReasons) {
        await this.audit.recordNow(m, p, entry);
        return { items: rows.map((r) => (r.legal_basis ? { ...view(r), reason: null } : view(r))), ...paged };
      }
      const sealed = await this.audit.recordRead(
        m,
        p,
        entry,
        gatedReasons(
          caseId,
          bases.map((r) => r.id),
        ),
      );
      // Shredded since the check: the entry says what was allowed, the denial that nothing came (as a case read).
      if (sealed.length === 0) gotNothing(p, deny, entry);
      const reasons = await this.openReasons(sealed);
      return {
        items: rows.map((r) => (r.legal_basis ? { ...view(r), reason: reasons.get(r.id) ?? null } : view(r))),
        ...paged,
      };
    });
  }

  /** The reasons of a read with gatedReasons, by consent id, opened with the case's data key. */
  private async openReasons(sealed: Record<string, unknown>[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (sealed.length === 0) return out;
    const keyRow = joinedDataKeyRow(sealed[0]);
    if (!keyRow) throw new CryptoError('crypto.unknown_key', 'no data key for this case');
    const key = await this.dataKeys.unwrap(keyRow);
    try {
      for (const r of sealed) {
        const id = r.id as string;
        out.set(
          id,
          this.fields.decryptString(
            key,
            { table: 'consents', column: 'enc_reason', rowId: id },
            r.enc_reason as never,
          ),
        );
      }
    } finally {
      key.wipe();
    }
    return out;
  }

  async withdraw(p: Principal, ability: AppAbility, caseId: string, consentId: string): Promise<ConsentView> {
    return this.audit.transaction(async (m, deny) => {
      const row = await this.cases.findById(m, caseId);
      const refused: AuditEntryInput = {
        action: 'consent.withdraw',
        resourceType: 'consent',
        resourceId: consentId,
        caseId: row ? caseId : undefined,
        provinceCode: row?.provinceCode ?? null,
        wardCode: row?.wardCode ?? null,
      };
      // A caller who may not see the case's consents is refused before the consent is locked (it neither waits
      // for the lock nor takes it).
      if (!row || !ability.can('read', consentSubject(row, 'active'))) {
        deny(p, refused);
        throw new DomainError('resource.not_found');
      }
      // Locked first, then read as of now: a consent that expired while this waited for it (a referral being made
      // under it holds it) is expired, not withdrawn, whatever it was when this transaction began.
      const held = await m.query<unknown[]>(
        `SELECT 1 FROM consents WHERE id = $1 AND case_id = $2 FOR UPDATE`,
        [consentId, caseId],
      );
      const [consent] =
        held.length === 0
          ? []
          : await m.query<ConsentRow[]>(
              `SELECT ${consentColumns('clock_timestamp()')} FROM consents k WHERE k.id = $1`,
              [consentId],
            );
      const subject = consent && consentSubject(row, consent.status);
      if (!consent || !subject || !ability.can('read', subject)) {
        deny(p, refused);
        throw new DomainError('resource.not_found');
      }
      // Only an active consent is withdrawn (the withdraw rule). One ended by its expiry stays so: withdrawing it
      // now would rewrite its history (and its referrals' revocations would name a withdrawal, not the expiry).
      deny.refusals(p, refused);
      if (!ability.can('withdraw', subject)) {
        throw new DomainError(
          'conflict.state',
          consent.status === 'withdrawn'
            ? { en: 'The consent was already withdrawn.', vi: 'Sự đồng ý đã được rút lại.' }
            : consent.status === 'expired'
              ? CONSENT_EXPIRED
              : { en: 'This consent cannot be withdrawn.', vi: 'Không thể rút lại sự đồng ý này.' },
        );
      }
      // Still active at the moment it is withdrawn (one clock reading for both): not one that expired since.
      const [[updated]] = await m.query<[ConsentRow[], number]>(
        `WITH t AS (SELECT clock_timestamp() AS at)
         UPDATE consents k SET withdrawn_at = t.at, withdrawn_by = $2 FROM t
          WHERE k.id = $1 AND (k.expires_at IS NULL OR k.expires_at > t.at)
         RETURNING ${CONSENT_COLUMNS}`,
        [consentId, p.userId],
      );
      if (!updated) throw new DomainError('conflict.state', CONSENT_EXPIRED);
      const revoked = await this.expiry.revokeReferralsOf(m, [consentId], 'consent_withdrawn', p);
      await this.audit.record(m, p, {
        action: 'consent.withdraw',
        resourceType: 'consent',
        resourceId: consentId,
        caseId,
        fields: ['triage'],
        provinceCode: row.provinceCode,
        wardCode: row.wardCode,
      });
      return { ...view(updated), revokedReferralIds: revoked };
    });
  }
}
