import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { organizationServing } from '../directory/organizations.repository';
import { overdueSql, referralListOrderSql } from './referral-ending';
import type { ConsentCategory } from '../authz/subjects';
import { conditionUses, positional, SqlCondition } from '../authz/sql-scope';
import {
  type CaseTriageRow,
  CLOSE_REASON_COLUMN,
  acceptedUnderActiveConsentSql,
  NOT_SHREDDED,
  JOINED_TRIAGE_COLUMNS,
  joinedTriageRow,
  sealedSql,
} from '../cases/cases.repository';
import type { CaseSectionCategory } from '../cases/case-sections';
import { consentActiveSql } from '../consents/consent-expiry.service';
import type { GatedRead, GatedWrite } from '../database/gated-write';
import { pageWindow } from '../database/page-limit';
import type {
  ReferralOutcome,
  ReferralService,
  ReferralState,
  ReferralStatus,
  RevokeCause,
  Urgency,
} from './referral-state';

export interface ReferralRow extends ReferralState {
  id: string;
  caseId: string;
  caseCode: string;
  wardCode: string;
  provinceCode: string;
  caseStatus: 'open' | 'closed';
  organizationId: string;
  organizationName: string;
  sector: string;
  consentId: string;
  consentCategories: ConsentCategory[];
  consentActive: boolean;
  /**
   * When its consent ended (withdrawn, else its expiry), or null while it has not: a live referral whose consent
   * has ended shows as revoked then (referralView), before the sweep writes it down.
   */
  consentEndedAt: Date | null;
  /** Its consent was withdrawn (not expired). */
  consentWithdrawn: boolean;
  services: ReferralService[];
  urgency: Urgency;
  createdAt: Date;
  version: number;
  /** Pending past its deadline, as the database judged when it read or wrote the row. */
  overdue: boolean;
}

/** Subject field → SQL column, for the CASL → SQL translation of the referral rules. */
export const REFERRAL_COLUMNS = {
  id: 'r.id',
  wardCode: 'c.ward_code',
  provinceCode: 'c.province_code',
  organizationId: 'r.organization_id',
  status: 'r.status',
} as const;

/** The columns a move changes (gatedSaveState's RETURNING; read by movedColumns), and whether it is overdue now. */
const MOVED_COLUMNS = `r.status, r.due_at, r.outcome, r.services_delivered, r.revoke_cause, r.accepted_at,
    r.accepted_by, r.declined_at, r.completed_at, r.revoked_at, r.version, ${overdueSql('r')} AS overdue`;

/** The referral's own columns of a row, the note's ciphertext aside. */
const OWN_COLUMNS = `r.id, r.case_id, r.organization_id, r.consent_id, r.services, r.urgency, r.created_at,
    ${MOVED_COLUMNS}`;

/**
 * A referral row's columns, its consent's state as of `at` (the database's now() unless given: findLocked decides
 * a move as of when it got the row). Never a ciphertext: the referring note and the notes are read only with a
 * read's access-log entry (gatedSealed).
 */
function columnsAt(at = 'now()'): string {
  return `${OWN_COLUMNS},
    c.code AS case_code, c.ward_code, c.province_code, c.status AS case_status, o.name AS organization_name,
    o.sector, cs.categories AS consent_categories,
    ${consentActiveSql('cs', at)} AS consent_active,
    CASE WHEN ${consentActiveSql('cs', at)} THEN NULL ELSE coalesce(cs.withdrawn_at, cs.expires_at) END AS consent_ended_at,
    cs.withdrawn_at IS NOT NULL AS consent_withdrawn`;
}
const COLUMNS = columnsAt();
/** What a referral row joins, `r` being the referral (a table or a CTE of its rows). */
const JOINS = `JOIN cases c ON c.id = r.case_id
  JOIN organizations o ON o.id = r.organization_id
  JOIN consents cs ON cs.id = r.consent_id`;

/** A referral's notes (`r`) as one JSON array, oldest first, their ciphertexts in base64 (gatedSealed). */
const NOTES_JSON = `SELECT coalesce(json_agg(json_build_object('id', n.id, 'organizationId', n.organization_id,
      'authorId', n.author_id, 'encText', encode(n.enc_text, 'base64'), 'createdAt', n.created_at)
      ORDER BY n.created_at, n.id), '[]'::json)
    FROM referral_notes n WHERE n.referral_id = r.id`;

/** A note as a read gated on its entry returned it (sealedNotesOf). */
export interface SealedNote {
  id: string;
  organizationId: string | null;
  authorId: string;
  encText: Buffer;
  createdAt: Date;
}

type Raw = Record<string, unknown>;

function toRow(r: Raw): ReferralRow {
  return {
    id: r.id as string,
    caseId: r.case_id as string,
    caseCode: r.case_code as string,
    wardCode: r.ward_code as string,
    provinceCode: r.province_code as string,
    caseStatus: r.case_status as 'open' | 'closed',
    organizationId: r.organization_id as string,
    organizationName: r.organization_name as string,
    sector: r.sector as string,
    consentId: r.consent_id as string,
    consentCategories: r.consent_categories as ConsentCategory[],
    consentActive: r.consent_active as boolean,
    consentEndedAt: (r.consent_ended_at as Date | null | undefined) ?? null,
    consentWithdrawn: (r.consent_withdrawn as boolean | undefined) ?? false,
    services: r.services as ReferralService[],
    urgency: r.urgency as Urgency,
    createdAt: r.created_at as Date,
    ...movedColumns(r),
  };
}

function movedColumns(r: Raw): ReferralState & { version: number; overdue: boolean } {
  return {
    status: r.status as ReferralStatus,
    dueAt: r.due_at as Date,
    outcome: r.outcome as ReferralOutcome | null,
    servicesDelivered: r.services_delivered as ReferralService[] | null,
    revokeCause: r.revoke_cause as RevokeCause | null,
    acceptedAt: r.accepted_at as Date | null,
    acceptedBy: r.accepted_by as string | null,
    declinedAt: r.declined_at as Date | null,
    completedAt: r.completed_at as Date | null,
    revokedAt: r.revoked_at as Date | null,
    version: r.version as number,
    overdue: r.overdue as boolean,
  };
}

/** A new referral's values (ReferralsRepository.gatedInsert). */
export interface NewReferralRow {
  id: string;
  caseId: string;
  organizationId: string;
  consentId: string;
  services: ReferralService[];
  urgency: Urgency;
  /** Due this many minutes after its creation, which is the database's clock when it is inserted. */
  dueMinutes: number;
  encNote: Buffer | null;
  createdBy: string;
}

/** What a new referral's row joins, known to the one creating it (the case it locked, organisation, consent). */
export type ReferralJoined = Pick<
  ReferralRow,
  | 'caseCode'
  | 'wardCode'
  | 'provinceCode'
  | 'caseStatus'
  | 'organizationName'
  | 'sector'
  | 'consentCategories'
  | 'consentActive'
  | 'consentEndedAt'
  | 'consentWithdrawn'
>;

/** A new referral's row: its own columns as the insert returned them, with what it joins. */
export function createdRow(returned: Raw, joined: ReferralJoined): ReferralRow {
  return { ...toRow(returned), ...joined };
}

/** The locked row as a move left it: its own columns as the update returned them, the joined ones unchanged. */
export function movedRow(locked: ReferralRow, returned: Raw): ReferralRow {
  return { ...locked, ...movedColumns(returned) };
}

@Injectable()
export class ReferralsRepository {
  /** A referral row, without a lock: what decides whether the caller may see it before anything is locked. */
  async find(m: EntityManager, id: string): Promise<ReferralRow | null> {
    const [raw] = await m.query<Raw[]>(`SELECT ${COLUMNS} FROM referrals r ${JOINS} WHERE r.id = $1`, [id]);
    return raw ? toRow(raw) : null;
  }

  /**
   * A referral locked for a move or a note (until the caller's transaction ends), read as of the database's time
   * once it is locked, and that time: the move's own (accepted, declined, completed, revoked at), by the clock
   * that timed its creation and deadline.
   */
  async findLocked(m: EntityManager, id: string): Promise<{ row: ReferralRow; at: Date } | null> {
    // The time is read once the row is locked (the outer query projects it after the locking scan returns it):
    // a move that waited behind another is timed after it, not when its transaction began.
    const [locked] = await m.query<{ at: Date }[]>(
      `WITH locked AS (SELECT r.id FROM referrals r WHERE r.id = $1 FOR UPDATE)
       SELECT clock_timestamp() AS at FROM locked`,
      [id],
    );
    if (!locked) return null;
    // Read after the wait, in a snapshot of its own and as of that time: a consent that ended meanwhile has.
    const [raw] = await m.query<Raw[]>(
      `SELECT ${columnsAt('$2::timestamptz')} FROM referrals r ${JOINS} WHERE r.id = $1`,
      [id, locked.at],
    );
    return raw ? { row: toRow(raw), at: locked.at } : null;
  }

  /**
   * The referral locked (findLocked) if `visible` lets the caller at it: asked first of the row read without a
   * lock, so that a caller it refuses neither waits for the referral's lock nor takes it, and its refusal runs the
   * same statements whether the referral exists or not (a lock first would tell, by its wait and by one statement
   * more, that it does); then again of the row once locked, as of then. Null when refused (`visible` got null, or
   * said no: it records its own refusal). CasesRepository.lockIfAllowed does the same for a case.
   */
  async lockIfVisible(
    m: EntityManager,
    id: string,
    visible: (row: ReferralRow | null) => boolean,
  ): Promise<{ row: ReferralRow; at: Date } | null> {
    if (!visible(await this.find(m, id))) return null;
    const locked = await this.findLocked(m, id);
    return visible(locked?.row ?? null) ? locked : null;
  }

  /** A referral with its case's triage row, in one statement (a referral read). */
  async findWithCase(
    m: EntityManager,
    id: string,
  ): Promise<{ row: ReferralRow; caseRow: CaseTriageRow } | null> {
    const [raw] = await m.query<Raw[]>(
      `SELECT ${COLUMNS}, ${JOINED_TRIAGE_COLUMNS} FROM referrals r ${JOINS} WHERE r.id = $1`,
      [id],
    );
    return raw ? { row: toRow(raw), caseRow: joinedTriageRow(raw) } : null;
  }

  /**
   * A page of the referrals in scope, those waiting for an answer (pending) first, most urgent deadline first,
   * then the accepted ones, then the ended ones, newest first (referralListOrderSql: an accepted referral keeps the
   * answer's deadline it was created with, long past: listed with the pending ones, a month of accepted work hid a
   * new emergency), with the number of all of them, in one statement. The page and the count come from `referrals` alone (joined to `cases` only when the scope names
   * the case's commune or province); the organisation, consent and case columns are then read for the page's
   * rows only.
   */
  async list(
    m: EntityManager,
    scope: SqlCondition,
    filter: { status?: ReferralStatus; overdue?: boolean },
    page: number,
    pageSize: number,
  ): Promise<{ rows: ReferralRow[]; total: number }> {
    const where = positional(scope);
    const params = [...where.params];
    const conditions = [`(${where.sql})`];
    if (filter.status) {
      params.push(filter.status);
      conditions.push(`r.status = $${params.length}`);
    }
    if (filter.overdue) conditions.push(overdueSql('r'));
    const n = params.length;
    const from = conditionUses(scope, 'c') ? 'referrals r JOIN cases c ON c.id = r.case_id' : 'referrals r';
    const matching = conditions.join(' AND ');
    const paging = pageWindow(page, pageSize, n + 1);
    // The count is a scan of its own, so that the page can be read in the index's order (organization_id, then
    // referralListOrderSql's: migration InboxNewestAnswered) and stop after its rows (a window count would read and sort
    // every row in scope first). One row with the count and no referral when the page is empty.
    const found = await m.query<Raw[]>(
      `WITH page AS (
         SELECT ${OWN_COLUMNS} FROM ${from} WHERE ${matching}
         ORDER BY ${referralListOrderSql('r')} ${paging.sql})
       SELECT counted.total, listed.* FROM (SELECT count(*)::int AS total FROM ${from} WHERE ${matching}) counted
       LEFT JOIN (SELECT ${COLUMNS} FROM page r ${JOINS}) listed ON true
       ORDER BY ${referralListOrderSql('listed')}`,
      [...params, ...paging.params],
    );
    const rows = paging.page(found.filter((r) => r.id !== null)).map(toRow);
    return { rows, total: found[0].total as number };
  }

  /**
   * The insert of a new referral as a write gated on another part of the caller's statement (GatedWrite; with
   * its access-log entry, AuditService.recordWith). Returns its own columns: complete the row with createdRow.
   */
  gatedInsert(r: NewReferralRow): GatedWrite {
    // Created and due by the database's clock, as its moves and revocations are timed: instances whose clocks
    // differ still write one timeline. As of the insert (clock_timestamp), not of the transaction's start: the
    // creation held the case and its consent first, and may have waited for them.
    return (gate, p) =>
      `INSERT INTO referrals AS r (id, case_id, organization_id, consent_id, services, urgency, due_at, enc_note,
           created_by, created_at, updated_at)
         SELECT ${p(r.id, 'uuid')}, ${p(r.caseId, 'uuid')}, ${p(r.organizationId, 'uuid')}, ${p(r.consentId, 'uuid')},
                ${p(r.services, 'text[]')}, ${p(r.urgency, 'text')},
                t.at + make_interval(mins => ${p(r.dueMinutes, 'int')}),
                ${p(r.encNote, 'bytea')}, ${p(r.createdBy, 'uuid')}, t.at, t.at
           FROM ${gate} CROSS JOIN (SELECT clock_timestamp() AS at) t
         RETURNING ${OWN_COLUMNS}`;
  }

  /**
   * The update of a referral's state, as a write gated on another part of the caller's statement (GatedWrite;
   * with the move's access-log entry, AuditService.recordWith). The caller holds the row's lock (findLocked).
   * Returns the columns a move changes: put them onto the locked row with `movedRow`.
   */
  gatedSaveState(
    id: string,
    s: ReferralState,
    by: string,
    extra: { encDeclineReason?: Buffer; encRevokeReason?: Buffer } = {},
  ): GatedWrite {
    return (gate, p) => {
      const status = p(s.status, 'text');
      const byId = p(by, 'uuid');
      return `UPDATE referrals AS r SET status = ${status}, accepted_at = ${p(s.acceptedAt, 'timestamptz')},
              accepted_by = ${p(s.acceptedBy, 'uuid')}, declined_at = ${p(s.declinedAt, 'timestamptz')},
              declined_by = CASE WHEN ${status} = 'declined' THEN ${byId} ELSE r.declined_by END,
              completed_at = ${p(s.completedAt, 'timestamptz')},
              completed_by = CASE WHEN ${status} = 'completed' THEN ${byId} ELSE r.completed_by END,
              outcome = ${p(s.outcome, 'text')}, services_delivered = ${p(s.servicesDelivered, 'text[]')},
              revoked_at = ${p(s.revokedAt, 'timestamptz')},
              revoked_by = CASE WHEN ${status} = 'revoked' THEN ${byId} ELSE r.revoked_by END,
              revoke_cause = ${p(s.revokeCause, 'text')},
              enc_decline_reason = COALESCE(${p(extra.encDeclineReason ?? null, 'bytea')}, r.enc_decline_reason),
              enc_revoke_reason = COALESCE(${p(extra.encRevokeReason ?? null, 'bytea')}, r.enc_revoke_reason),
              version = r.version + 1, updated_at = now()
         FROM ${gate}
         WHERE r.id = ${p(id, 'uuid')}
         RETURNING ${MOVED_COLUMNS}`;
    };
  }

  /**
   * The organisation a referral is made to, share-locked until the caller's transaction ends, and whether it
   * serves the case's commune (organizationServing): a consent given to a sector reaches only the
   * organisations of that sector serving it. A method rather than a direct call so that the race tests can hold
   * a referral's creation at this step (test/races.e2e-spec.ts).
   */
  organization(
    m: EntityManager,
    id: string,
    provinceCode: string,
    wardCode: string,
  ): ReturnType<typeof organizationServing> {
    return organizationServing(m, id, provinceCode, wardCode, { lock: true });
  }

  /**
   * The insert of a note as a write gated on another part of the caller's statement (GatedWrite; with its
   * access-log entry, AuditService.recordWith), returning its `created_at`: as of the insert (clock_timestamp),
   * once the referral is locked, not the transaction's start (a note that waited for an acceptance was dated
   * before it).
   */
  gatedInsertNote(n: {
    id: string;
    caseId: string;
    referralId: string;
    organizationId: string | null;
    authorId: string;
    encText: Buffer;
  }): GatedWrite {
    return (gate, p) =>
      `INSERT INTO referral_notes (id, case_id, referral_id, organization_id, author_id, enc_text, created_at)
       SELECT ${p(n.id, 'uuid')}, ${p(n.caseId, 'uuid')}, ${p(n.referralId, 'uuid')}, ${p(n.organizationId, 'uuid')},
              ${p(n.authorId, 'uuid')}, ${p(n.encText, 'bytea')}, clock_timestamp()
         FROM ${gate}
       RETURNING created_at`;
  }

  /**
   * What a referral read decrypts, as a read gated on the caller's statement (GatedRead; with the read's
   * access-log entry, AuditService.recordRead), so that no ciphertext comes back without the entry: the case's
   * ciphertexts of `categories` and its data key (read the row with sealedOf) and, with `notes`, the referring
   * note and the notes of all organisations (the ward: organizationId null) or of one (a provider; with
   * sealedNotesOf), and for the ward the decline and revoke reasons too. No row when the referral is gone, or
   * when a provider's (`provider`) grounds for what it reads, this referral's, no longer hold.
   */
  gatedSealed(
    referralId: string,
    ownerType: string,
    categories: readonly CaseSectionCategory[],
    notes: { organizationId: string | null } | null,
    closeReason = false,
    provider = false,
  ): GatedRead {
    return (gate, p) => {
      const own =
        notes?.organizationId != null ? ` AND n.organization_id = ${p(notes.organizationId, 'uuid')}` : '';
      const from = `${gate} CROSS JOIN referrals r JOIN cases c ON c.id = r.case_id AND r.id = ${p(referralId, 'uuid')}`;
      const extra = notes ? ['r.enc_note', `(${NOTES_JSON}${own}) AS notes`] : [];
      if (notes && notes.organizationId === null) extra.push('r.enc_decline_reason', 'r.enc_revoke_reason');
      if (closeReason) extra.push(CLOSE_REASON_COLUMN);
      // A provider reads only while its grounds still hold, not merely while they held at the check: the notes
      // while this referral is accepted under an active consent, the case's content while that consent releases
      // every section read (CasesService.referralReadCategories: this referral's grounds, no other's).
      const grounds: string[] = [];
      if (provider && (notes || categories.length > 0)) {
        grounds.push(
          acceptedUnderActiveConsentSql(
            'r',
            categories.length > 0 ? p([...categories], 'text[]') : undefined,
          ),
        );
      }
      // The case is the referral's own: sealedSql's `c.id = r.case_id` restates the join.
      return sealedSql(
        categories,
        from,
        'r.case_id',
        p(ownerType, 'text'),
        extra,
        [NOT_SHREDDED, ...grounds].join(' AND '),
      );
    };
  }
}

/**
 * The referring note's and the notes' ciphertexts of a row read with gatedSealed and `notes`, and the reasons
 * (undefined when not read: a provider's read).
 */
export function sealedNotesOf(r: Raw): {
  note: Buffer | null;
  notes: SealedNote[];
  declineReason?: Buffer | null;
  revokeReason?: Buffer | null;
} {
  return {
    note: r.enc_note as Buffer | null,
    declineReason: r.enc_decline_reason as Buffer | null | undefined,
    revokeReason: r.enc_revoke_reason as Buffer | null | undefined,
    notes: (r.notes as Raw[]).map((n) => ({
      id: n.id as string,
      organizationId: n.organizationId as string | null,
      authorId: n.authorId as string,
      encText: Buffer.from(n.encText as string, 'base64'),
      createdAt: new Date(n.createdAt as string),
    })),
  };
}
