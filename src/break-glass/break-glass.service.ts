import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import type { AppAbility } from '../authz/ability.factory';
import { permittedCaseCategories } from '../authz/field-scope';
import type { Principal } from '../authz/principal';
import { accessibleWhere, positional } from '../authz/sql-scope';
import type { BreakGlassSubject } from '../authz/subjects';
import { AuditService } from '../audit/audit.service';
import type { AuditEntryInput } from '../audit/audit.types';
import { organizationServing } from '../directory/organizations.repository';
import { endedNowSql, endGrants, liveGrantSql, lockLiveGrants } from './grant-ending';
import {
  effectiveEndedAtSql,
  effectiveReferralStatusSql,
  effectiveRevokeCauseSql,
} from '../consents/consent-expiry.service';
import { CaseRow, CasesRepository } from '../cases/cases.repository';
import { pageWindow } from '../database/page-limit';
import { CASE_OWNER, caseSubject } from '../cases/cases.service';
import { DomainError } from '../common/errors/domain-error';
import { LOGGER } from '../common/logging/logger.module';
import { APP_CONFIG, AppConfig } from '../config/config';
import { ReauthenticationService } from '../identity/reauthentication.service';
import { holdSession } from '../identity/session-hold';
import { asCiphertext, DataKey, DataKeyService, FieldEncryptionService, isCryptoError } from '../crypto';
import {
  BreakGlassListQueryDto,
  BreakGlassListView,
  BreakGlassOpened,
  BreakGlassView,
  OpenBreakGlassDto,
  ReviewBreakGlassDto,
} from './dto/break-glass.dto';

export const BREAK_GLASS_TABLE = 'break_glass_grants';

// Subject field → column, for the supervisors' queue (sql-scope.ts).
const GRANT_COLUMNS = {
  id: 'g.id',
  provinceCode: 'g.province_code',
  userId: 'g.user_id',
  reviewed: '(g.reviewed_at IS NOT NULL)',
} as const;

interface GrantRow {
  id: string;
  case_id: string;
  case_code: string;
  user_id: string;
  username: string;
  organization_id: string;
  sector: string;
  categories: string[];
  province_code: string;
  ward_code: string;
  enc_justification: Buffer;
  opened_at: Date;
  expires_at: Date;
  active: boolean;
  reviewed_by: string | null;
  reviewed_at: Date | null;
  justified: boolean | null;
  enc_review_note: Buffer | null;
}

/** A grant as it is shown (`view`): with its organisation's last referral of the case before the grant. */
interface ShownGrantRow extends GrantRow {
  prior_id: string | null;
  prior_status: string | null;
  prior_revoke_cause: string | null;
  prior_created_at: Date | null;
  prior_ended_at: Date | null;
}

const GRANT_SELECT = `SELECT g.id, g.case_id, c.code AS case_code, g.user_id, u.username, g.organization_id, g.sector,
    g.categories, g.province_code, g.ward_code, g.enc_justification, g.opened_at, g.expires_at,
    ${liveGrantSql('g')} AS active, g.reviewed_by, g.reviewed_at, g.justified, g.enc_review_note`;
const GRANT_FROM = `FROM break_glass_grants g JOIN cases c ON c.id = g.case_id JOIN users u ON u.id = g.user_id`;
/** A grant, to decide on. */
const GRANT_ROW = `${GRANT_SELECT} ${GRANT_FROM}`;
/**
 * A grant to show (ShownGrantRow): with what became of its organisation's last referral of the case before it
 * (a grant opened after the survivor withdrew consent from that organisation is one to look at), as access
 * decisions take it (a live one whose consent has ended: revoked, when the consent ended), and when it ended:
 * before the grant, or after it.
 */
const SHOWN_GRANT_ROW = `${GRANT_SELECT},
    pr.id AS prior_id, pr.status AS prior_status, pr.revoke_cause AS prior_revoke_cause,
    pr.created_at AS prior_created_at, pr.ended_at AS prior_ended_at
  ${GRANT_FROM}
  LEFT JOIN LATERAL (
    SELECT r.id, r.created_at, ${effectiveReferralStatusSql('r', 'cs')} AS status,
           ${effectiveRevokeCauseSql('r', 'cs')} AS revoke_cause, ${effectiveEndedAtSql('r', 'cs')} AS ended_at
      FROM referrals r JOIN consents cs ON cs.id = r.consent_id
     WHERE r.case_id = g.case_id AND r.organization_id = g.organization_id AND r.created_at < g.opened_at
     ORDER BY r.created_at DESC, r.id DESC LIMIT 1) pr ON true`;

const NOT_FOUND = (): DomainError => new DomainError('resource.not_found');

/** Whether a grant's view shows free text sealed with its case's key (its justification, a review note). */
function disclosesText(v: BreakGlassView): boolean {
  return v.justification !== null || v.reviewNote !== null;
}

function grantSubject(
  r: Pick<GrantRow, 'id' | 'province_code' | 'user_id' | 'reviewed_at'>,
): BreakGlassSubject {
  return {
    kind: 'BreakGlass',
    id: r.id,
    provinceCode: r.province_code,
    userId: r.user_id,
    reviewed: r.reviewed_at !== null,
  };
}

/**
 * Emergency ("break-glass") access (issue 6, item 7): a police or health provider opens a case of its area
 * that it has no referral for, when a life is at risk, with a written justification. The grant shows the
 * sector's categories to that user alone until it expires (HAVEN_BREAK_GLASS_MINUTES); every read under it is
 * flagged in the access log (CasesService.get), and a supervisor of the case's province judges it.
 */
@Injectable()
export class BreakGlassService {
  constructor(
    private readonly cases: CasesRepository,
    private readonly fields: FieldEncryptionService,
    private readonly dataKeys: DataKeyService,
    private readonly audit: AuditService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly reauth: ReauthenticationService,
    @Inject(LOGGER) private readonly logger: Logger,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {}

  async open(
    p: Principal,
    ability: AppAbility,
    caseId: string,
    dto: OpenBreakGlassDto,
  ): Promise<BreakGlassOpened> {
    // The person, not a token alone: a step-up, before anything about the case is looked at.
    // A refused step-up is on record in the case's place, as a refusal below is.
    await this.reauth.confirm(p, dto, async () =>
      openRefusal(caseId, await this.cases.findById(this.dataSource.manager, caseId)),
    );
    return this.audit.transaction(async (m, deny) => {
      /** The sector the caller would open `row` under: null when outside its organisation's area. */
      const sectorFor = async (row: CaseRow | null, lock: boolean): Promise<string | null> =>
        row !== null &&
        p.organizationId !== null &&
        p.sector !== null &&
        ability.can('create', {
          kind: 'BreakGlass',
          provinceCode: row.provinceCode,
          userId: p.userId,
          reviewed: false,
        })
          ? this.servingSector(m, p.organizationId, row.provinceCode, row.wardCode, lock)
          : null;
      // Asked first without a lock: a caller outside the area neither waits for the case's lock nor takes it.
      let row = await this.cases.findById(m, caseId);
      let sector = await sectorFor(row, false);
      const refusedEarly = (reason: string) => deny(p, { ...openRefusal(caseId, row), reason });
      // The session as checked when the request came, held until the grant commits (before the case, as every
      // path takes an account before what it acts on): an account disabled, reset or otherwise signed out
      // meanwhile (during the step-up's hashing) opens nothing, and a change waiting for this grant ends it
      // (UsersService: a change that ends the account's sessions ends its emergency access).
      if (!(await holdSession(m, p))) {
        refusedEarly('auth.unauthenticated');
        throw new DomainError('auth.unauthenticated');
      }
      if (sector !== null) {
        row = await this.cases.findById(m, caseId, [], true);
        sector = await sectorFor(row, true);
      }
      if (!row || sector === null) {
        // Outside the organisation's area answers like a missing case: never a hint that it exists.
        refusedEarly('resource.not_found');
        throw NOT_FOUND();
      }
      // An emergency access refused for the state it meets is on record like the others, with its code.
      const refused = {
        action: 'break_glass.open',
        resourceType: 'break_glass',
        caseId,
        provinceCode: row.provinceCode,
        wardCode: row.wardCode,
      } as const;
      deny.refusals(p, refused);
      // The sector the request was signed in with (its ability, the grant's categories) changed meanwhile.
      if (sector !== p.sector) {
        throw new DomainError('conflict.state', {
          en: 'Your organisation’s sector changed meanwhile: try again.',
          vi: 'Ngành của tổ chức bạn vừa thay đổi: hãy thử lại.',
        });
      }
      if (row.shreddedAt) {
        throw new DomainError('conflict.state', {
          en: 'The case’s data was destroyed.',
          vi: 'Dữ liệu của vụ việc đã bị xoá vĩnh viễn.',
        });
      }
      // A closed case's outside access ended with it (CasesService.close); the commune that registered it can
      // register the survivor again. (The case's row is locked: a close waits for this grant, and ends it.)
      if (row.status === 'closed') {
        throw new DomainError('conflict.state', {
          en: 'The case is closed: there is no emergency access to a closed case. Contact the commune that registered it.',
          vi: 'Vụ việc đã đóng: không thể truy cập khẩn cấp vào vụ việc đã đóng. Hãy liên hệ xã/phường đã đăng ký vụ việc.',
        });
      }
      // A supervisor found this user's emergency access to this case unjustified: not again by themselves. One
      // still running is not opened again: a new grant would stretch it without waiting for its end, and the
      // reads under the two could not be told apart in review.
      const [earlier] = await m.query<{ unjustified: boolean; live: boolean }[]>(
        `SELECT bool_or(justified = false) AS unjustified, bool_or(${liveGrantSql('g')}) AS live
           FROM break_glass_grants g WHERE g.case_id = $1 AND g.user_id = $2`,
        [caseId, p.userId],
      );
      if (earlier.unjustified) {
        deny(p, { ...refused, reason: 'break_glass.unjustified' });
        throw new DomainError('conflict.state', {
          en: 'A supervisor found your earlier emergency access to this case unjustified: you cannot open it again.',
          vi: 'Giám sát viên đã kết luận lần truy cập khẩn cấp trước của bạn vào vụ việc này là không chính đáng: bạn không thể mở lại.',
        });
      }
      if (earlier.live) {
        throw new DomainError('conflict.state', {
          en: 'Your emergency access to this case is still running: open it again once it has ended.',
          vi: 'Quyền truy cập khẩn cấp của bạn vào vụ việc này vẫn đang còn hiệu lực: chỉ mở lại được khi đã hết hạn.',
        });
      }
      const categories = [
        ...permittedCaseCategories(
          ability,
          'read',
          caseSubject(row, undefined, { userId: p.userId, active: true }),
        ),
      ];
      const id = randomUUID();
      const justification = await this.withKey(m, caseId, (key) =>
        this.fields.encrypt(
          key,
          { table: BREAK_GLASS_TABLE, column: 'enc_justification', rowId: id },
          dto.justification,
        ),
      );
      const [created] = await m.query<{ expires_at: Date }[]>(
        // Opened when it is written (the case held since), not when the transaction began.
        `INSERT INTO break_glass_grants (id, case_id, user_id, organization_id, sector, categories, province_code,
                                         ward_code, enc_justification, opened_at, expires_at)
         SELECT $1, $2, $3, $4, $5, $6::text[], $7, $8, $9, t.at, t.at + make_interval(mins => $10)
           FROM (SELECT clock_timestamp() AS at) t
         RETURNING expires_at`,
        [
          id,
          caseId,
          p.userId,
          p.organizationId,
          p.sector,
          categories,
          row.provinceCode,
          row.wardCode,
          justification,
          this.config.breakGlass.minutes,
        ],
      );
      await this.audit.record(m, p, {
        action: 'break_glass.open',
        resourceType: 'break_glass',
        resourceId: id,
        caseId,
        // The justification, free text sealed with the case's key.
        fields: ['notes'],
        provinceCode: row.provinceCode,
        wardCode: row.wardCode,
        reason: 'break_glass',
      });
      return { id, caseId, expiresAt: created.expires_at.toISOString(), categories };
    });
  }

  /** The review queue of the supervisor's jurisdiction; reading it (justifications included) is logged. */
  async list(p: Principal, ability: AppAbility, q: BreakGlassListQueryDto): Promise<BreakGlassListView> {
    const page = q.page ?? 1;
    const pageSize = q.pageSize ?? 20;
    const status = q.status ?? 'pending';
    return this.audit.transaction(async (m) => {
      const scope = accessibleWhere(ability, 'read', 'BreakGlass', GRANT_COLUMNS);
      const { sql, params } = positional(scope);
      const filter =
        status === 'pending'
          ? 'AND g.reviewed_at IS NULL'
          : status === 'reviewed'
            ? 'AND g.reviewed_at IS NOT NULL'
            : '';
      const where = `WHERE (${sql}) ${filter}`;
      const [{ total }] = await m.query<{ total: number }[]>(
        `SELECT count(*)::int AS total FROM break_glass_grants g ${where}`,
        params,
      );
      const paging = pageWindow(page, pageSize, params.length + 1);
      const rows = paging.page(
        await m.query<ShownGrantRow[]>(
          `${SHOWN_GRANT_ROW} ${where} ORDER BY g.opened_at DESC, g.id ${paging.sql}`,
          [...params, ...paging.params],
        ),
      );
      const items: BreakGlassView[] = [];
      for (const r of rows) items.push(await this.view(m, r));
      // One entry per case of the grants shown (one with none when the page is empty), naming the case: a
      // justification is text about the case, sealed with its key, and who read it is found with the case's other
      // accesses (`audit/events?caseId=`); in the case's province, whose supervisors see the read and the ids of
      // no other province's grants.
      const byCase = new Map<string, GrantRow[]>();
      for (const r of rows) {
        const shown = byCase.get(r.case_id);
        if (shown) shown.push(r);
        else byCase.set(r.case_id, [r]);
      }
      const withText = new Set(items.filter(disclosesText).map((i) => i.id));
      const entry = (shown: GrantRow[]) =>
        this.audit.record(m, p, {
          action: 'break_glass.review',
          resourceType: 'break_glass',
          // The grants' cases' code and commune (triage), and the justifications and review notes the page
          // discloses (none of a crypto-shredded case).
          fields: [
            ...(shown.length > 0 ? (['triage'] as const) : []),
            ...(shown.some((r) => withText.has(r.id)) ? (['notes'] as const) : []),
          ],
          returnedIds: shown.map((r) => r.id),
          reason: 'break_glass.queue',
          ...(shown[0]
            ? {
                caseId: shown[0].case_id,
                provinceCode: shown[0].province_code,
                wardCode: shown[0].ward_code,
              }
            : {}),
        });
      if (rows.length === 0) await entry([]);
      for (const shown of byCase.values()) await entry(shown);
      return { items, total, page, pageSize };
    });
  }

  /** A supervisor of the case's province (or national) judges a grant once. */
  async review(
    p: Principal,
    ability: AppAbility,
    id: string,
    dto: ReviewBreakGlassDto,
  ): Promise<BreakGlassView> {
    return this.audit.transaction(async (m, deny) => {
      // Locks in the order open() and an organisation's change take them: the case first (FOR SHARE: it orders a
      // verdict of "unjustified" with open(), which holds it FOR NO KEY UPDATE, so that an open in flight commits first
      // and its grant is ended below, and a later one finds the verdict), then the grants this review may end in
      // id order (this one, and the user's other live grants to the case), and only then access-log entries.
      // A grant the supervisor may not see is refused before anything is locked: ids alone lock nothing.
      const [seen] = await m.query<GrantRow[]>(`${GRANT_ROW} WHERE g.id = $1`, [id]);
      // In the grant's province too, when there is one (as a refused case read is): its supervisors see the
      // attempt; the refused caller's supervisors see it without the case and its place.
      const refused = {
        action: 'break_glass.review',
        resourceType: 'break_glass',
        resourceId: id,
        caseId: seen?.case_id,
        provinceCode: seen?.province_code ?? null,
        wardCode: seen?.ward_code ?? null,
      } as const;
      if (!seen || !ability.can('read', grantSubject(seen))) {
        deny(p, { ...refused, reason: 'resource.not_found' });
        throw NOT_FOUND();
      }
      // Visible: every refusal from here (already reviewed, a note on a shredded case) is on record with its code.
      deny.refusals(p, refused);
      await m.query(`SELECT 1 FROM cases WHERE id = $1 FOR SHARE`, [seen.case_id]);
      await lockLiveGrants(m, 'g.case_id = $1 AND g.user_id = $2', [seen.case_id, seen.user_id], id);
      // Read again under the locks: a review that waited for another finds it reviewed.
      const [row] = await m.query<GrantRow[]>(`${GRANT_ROW} WHERE g.id = $1`, [id]);
      if (!ability.can('update', grantSubject(row))) {
        throw new DomainError('conflict.state', {
          en: 'This emergency access was already reviewed.',
          vi: 'Lần truy cập khẩn cấp này đã được xem xét.',
        });
      }
      const note = dto.note ? await this.sealReviewNote(m, row, dto.note) : null;
      await m.query(
        // Found unjustified, the access ends now (if it has not yet).
        `UPDATE break_glass_grants g SET reviewed_by = $2, reviewed_at = (SELECT clock_timestamp()), justified = $3, enc_review_note = $4,
                expires_at = CASE WHEN $3 THEN g.expires_at ELSE ${endedNowSql('g')} END
         WHERE g.id = $1`,
        [id, p.userId, dto.justified, note],
      );
      const [updated] = await m.query<ShownGrantRow[]>(`${SHOWN_GRANT_ROW} WHERE g.id = $1`, [id]);
      const view = await this.view(m, updated);
      await this.audit.record(m, p, {
        action: 'break_glass.review',
        resourceType: 'break_glass',
        resourceId: id,
        caseId: row.case_id,
        // The case's code and commune the answer shows; the note written, and the justification it shows.
        fields: disclosesText(view) ? ['triage', 'notes'] : ['triage'],
        provinceCode: row.province_code,
        wardCode: row.ward_code,
        reason: dto.justified ? 'break_glass.justified' : 'break_glass.unjustified',
      });
      if (!dto.justified) {
        // The user's other emergency access to the case ends too (locked above).
        await endGrants(
          m,
          this.audit,
          'g.case_id = $1 AND g.user_id = $2 AND g.id <> $3',
          [row.case_id, row.user_id, id],
          'unjustified',
          p,
        );
      }
      return view;
    });
  }

  /**
   * The organisation's sector when it serves the case's area (its whole province, or the case's commune) and is
   * not retired, else null; with `lock`, share-locked until the grant commits (organizationServing): a change of the
   * organisation's sector or area (which ends its grants) waits for it, and so ends this one too.
   */
  private async servingSector(
    m: EntityManager,
    orgId: string,
    provinceCode: string,
    wardCode: string,
    lock: boolean,
  ): Promise<string | null> {
    const org = await organizationServing(m, orgId, provinceCode, wardCode, { lock });
    return org?.servesCase && !org.retired ? org.sector : null;
  }

  private async withKey<T>(m: EntityManager, caseId: string, use: (key: DataKey) => T): Promise<T> {
    const key = await this.dataKeys.get({ ownerType: CASE_OWNER, ownerId: caseId }, m);
    try {
      return use(key);
    } finally {
      key.wipe();
    }
  }

  /**
   * A reviewer's note, sealed with the case's key. A crypto-shredded case has none: its grant is judged without
   * a note (409, on record), since a note in the clear could name the survivor the shred forgot.
   */
  private async sealReviewNote(m: EntityManager, row: GrantRow, text: string): Promise<Buffer> {
    try {
      return await this.withKey(m, row.case_id, (key) =>
        this.fields.encrypt(
          key,
          { table: BREAK_GLASS_TABLE, column: 'enc_review_note', rowId: row.id },
          text,
        ),
      );
    } catch (e) {
      if (!isCryptoError(e, 'crypto.key_destroyed')) throw e;
      throw new DomainError('conflict.state', {
        en: 'The case was crypto-shredded: send the review again without a note (note).',
        vi: 'Dữ liệu vụ việc đã bị xoá vĩnh viễn: hãy gửi lại kết luận xem xét mà không kèm ghi chú (note).',
      });
    }
  }

  private async view(m: EntityManager, r: ShownGrantRow): Promise<BreakGlassView> {
    let justification: string | null = null;
    let reviewNote: string | null = null;
    let unreadable = false;
    try {
      await this.withKey(m, r.case_id, (key) => {
        justification = this.fields.decryptString(
          key,
          { table: BREAK_GLASS_TABLE, column: 'enc_justification', rowId: r.id },
          asCiphertext(r.enc_justification),
        );
        if (r.enc_review_note)
          reviewNote = this.fields.decryptString(
            key,
            { table: BREAK_GLASS_TABLE, column: 'enc_review_note', rowId: r.id },
            asCiphertext(r.enc_review_note),
          );
      });
    } catch (e) {
      if (!isCryptoError(e)) throw e;
      // The case was crypto-shredded: its justification went with its key. Anything else (a ciphertext that does
      // not open: altered, moved from another row, or a KEK version gone from the keyring) is an incident, logged
      // with the grant; the grant is still shown, saying so (one such row must not stop the review of all the
      // others, nor pass for a shredded case).
      if (e.code !== 'crypto.key_destroyed') {
        unreadable = true;
        // This instance's keys behind the others' (a rotation's new KEK version not installed here yet, or a
        // version lost for good): no incident, but the supervisor should read it on another instance.
        const behind = e.code === 'crypto.unknown_kek';
        this.logger[behind ? 'warn' : 'error'](
          { grantId: r.id, code: e.code },
          behind
            ? 'an emergency access’s justification or review note is sealed under a KEK version this instance lacks: shown without it'
            : 'an emergency access’s justification or review note does not open: shown without it',
        );
      }
    }
    return {
      id: r.id,
      caseId: r.case_id,
      caseCode: r.case_code,
      userId: r.user_id,
      username: r.username,
      organizationId: r.organization_id,
      sector: r.sector,
      categories: r.categories,
      provinceCode: r.province_code,
      wardCode: r.ward_code,
      openedAt: r.opened_at.toISOString(),
      expiresAt: r.expires_at.toISOString(),
      active: r.active,
      justification,
      unreadable,
      status: r.reviewed_at ? 'reviewed' : 'pending',
      justified: r.justified,
      reviewNote,
      reviewedBy: r.reviewed_by,
      reviewedAt: r.reviewed_at?.toISOString() ?? null,
      priorReferral: r.prior_id
        ? {
            id: r.prior_id,
            status: r.prior_status!,
            revokeCause: r.prior_revoke_cause,
            createdAt: r.prior_created_at!.toISOString(),
            endedAt: r.prior_ended_at?.toISOString() ?? null,
          }
        : null,
    };
  }
}

/** A refusal of emergency access before the case is known to be open to the caller: in its place only when it exists. */
function openRefusal(caseId: string, row: CaseRow | null): AuditEntryInput {
  return {
    action: 'break_glass.open',
    resourceType: 'break_glass',
    caseId: row ? caseId : undefined,
    provinceCode: row?.provinceCode ?? null,
    wardCode: row?.wardCode ?? null,
  };
}
