import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import type { AppAbility } from '../authz/ability.factory';
import type { Principal } from '../authz/principal';
import { accessibleWhere, ColumnMap } from '../authz/sql-scope';
import { DomainError, fieldError } from '../common/errors/domain-error';
import { isCalendarDate } from '../common/http/date-validation';
import { vietnamDate } from '../cases/case-classification';
import type { Logger } from 'pino';
import { LOGGER } from '../common/logging/logger.module';
import { ThrottledRefusals } from '../common/throttled-refusals';
import { PacedTask } from '../common/paced-task';
import { pageOffset } from '../database/page-limit';
import { APP_CONFIG, AppConfig } from '../config/config';
import { PurposeKeys } from '../crypto';
import { AuditCheckpointService } from './audit-checkpoint.service';
import { AccessLogVerification, verifyAccessLog } from './audit-verify';
import { SqlClient } from './audit-verifier';
import { AuditService } from './audit.service';
import {
  AnomaliesQuery,
  AnomalyList,
  AnomalyView,
  AuditEventList,
  AuditEventsQuery,
  AuditEventView,
  AnomalyRuleName,
} from './dto/audit.dto';
import type { ErrorCode } from '../common/errors/error-catalog';
import type { AccountChange } from '../identity/users.service';

/** Error codes or account-change reasons as an SQL list of literals (words and dots: nothing to escape). */
function sqlCodes(codes: readonly (ErrorCode | AccountChange)[]): string {
  return codes.map((c) => `'${c}'`).join(', ');
}

/**
 * SQL over `e`: a denial that may be probing (not found, not allowed, a failed sign-in or re-authentication),
 * not one refused for what the request asked of a record the caller may act on (its state, its content), nor
 * the first step of a two-factor account's sign-in (the right password, its code asked for: every such sign-in
 * writes one): those are on the log too, but five in an hour are not an anomaly. A wrong code
 * (`auth.totp_invalid`) is.
 */
const NOT_PROBING = [
  'auth.totp_required',
  'conflict.state',
  'conflict.version',
  'unprocessable',
  'request.validation',
  'precondition.failed',
  'user.password_weak',
  'user.username_taken',
  'organization.name_taken',
] as const satisfies readonly ErrorCode[];
// A whole verification asked for while the last one rests (429) is a supervisor's impatience, not probing.
const PROBING_DENIAL = `coalesce(e.reason, '') NOT IN (${sqlCodes(NOT_PROBING)})
  AND NOT (e.action = 'audit.verify' AND e.reason IS NOT DISTINCT FROM 'auth.throttled')`;

/** The half hour (UTC) entry `e` falls in. */
const HALF_HOUR = `date_bin('30 minutes', e.at, timestamptz '2000-01-01 00:00:00+00')`;

/**
 * The windows an entry `e` falls in, for the hourly rules: 90 minutes long, starting every half hour (UTC, whole
 * hours from Vietnam time), so `e` is in the three starting at the half hour it falls in and the two before.
 * Any hour lies inside one of them (from the half hour it starts in): a burst within one hour fills one window
 * wherever it starts and ends. Windows of one hour on two grids (on the hour, on the half hour) missed a burst
 * of 38 cases in 32 minutes split 19 and 19 around them. A window may also catch a burst spread over up to
 * 90 minutes.
 */
/** How the hourly rules count, as their texts say it. */
const WINDOWS_EN = 'counted in 90-minute windows starting every half hour, so a slower burst may show too';
const WINDOWS_VI =
  'đếm theo các khung 90 phút bắt đầu mỗi nửa giờ, nên một loạt truy cập kéo dài đến 90 phút cũng có thể bị phát hiện';
/**
 * SQL: the address an entry's client is counted by in the rules by address, as the sign-in throttle counts it
 * (login-throttle.service.ts): an IPv4 address as it is (an IPv4-mapped IPv6 one too), an IPv6 address by its
 * /64 network (one end site usually holds a whole /64: an attacker rotating addresses in it is one address).
 * A zone id (`fe80::1%eth0`) is no part of an address to PostgreSQL.
 */
function addressKey(alias: string): string {
  const ip = `${alias}.ip`;
  return `(CASE WHEN ${ip} ~* '^::ffff:[0-9]+(\\.[0-9]+){3}$' THEN substr(${ip}, 8)
    WHEN strpos(${ip}, ':') > 0 THEN network(set_masklen(split_part(${ip}, '%', 1)::inet, 64))::text
    ELSE ${ip} END)`;
}
const ADDRESS_KEY = addressKey('e');

const HOUR_WINDOWS = `(VALUES (${HALF_HOUR}), (${HALF_HOUR} - interval '30 minutes'), (${HALF_HOUR} - interval '60 minutes'))`;

/** SQL over `e`: a refused sign-in of a known account whose password was wrong (not its authenticator code). */
const WRONG_PASSWORD = `(e.reason IN (${sqlCodes(['auth.invalid_credentials'])}))`;
/**
 * SQL over `e`: a refused sign-in whose password was right (asked for, or given a wrong, authenticator code, or
 * refused one after too many wrong ones).
 */
const RIGHT_PASSWORD = `(e.reason IN (${sqlCodes(['auth.totp_required', 'auth.totp_invalid', 'auth.totp_locked'])}))`;

/**
 * SQL over `alias`: an administrator's change to an account that after_admin_reset looks at (its creation; a
 * reset of its password or two-factor, a change of its communes, its enabling).
 */
function adminChangeSql(alias: string): string {
  return `(${alias}.action = 'user.create' OR (${alias}.action = 'user.update' AND ${alias}.reason IN (${sqlCodes(WATCHED_CHANGES)})))`;
}

/** The account updates after_admin_reset watches (AccountChange: the reasons users.service writes). */
const WATCHED_CHANGES: readonly AccountChange[] = [
  'user.password_reset',
  'user.totp_reset',
  'user.communes_changed',
  'user.enabled',
];

/** The jurisdiction of an entry, for the CASL rules of `AuditEvent` (authz/ability.factory.ts). */
const AUDIT_COLUMNS: ColumnMap = { provinceCode: { sql: 'e.jurisdictions', array: true } };
/** The same, over the alias `r0` of the account changes after_admin_reset looks back at. */
const CHANGE_COLUMNS: ColumnMap = { provinceCode: { sql: 'r0.jurisdictions', array: true } };
const DEFAULT_PAGE_SIZE = 50;
/** Past the pages' reach (pageOffset), the log is walked on by seq. */
const WALK_ON_BY_SEQ = {
  en: 'narrow the list with its filters, or go on from a page with its nextBeforeSeq as beforeSeq',
  vi: 'hãy thu hẹp danh sách bằng các bộ lọc, hoặc xem tiếp từ một trang với nextBeforeSeq của trang đó làm beforeSeq',
};
/** A whole verification rests twice as long as it took before the next begins (docs/audit.md). */
export const VERIFY_REST_FACTOR = 2;
/** A verification asked for in a rest waits for its end when it is this close, else is refused (429). */
export const VERIFY_WAIT_MS = 5000;

/** Anomaly rules (docs/audit.md). Vietnam is UTC+7 all year (no daylight saving time). */
export const ANOMALY_RULES = {
  manyCasesPerHour: 20,
  /**
   * Searches by one account within one hour: each result tells whose name, date of birth or phone a case's
   * survivor has, so an account paced under the search limit (30 a minute per instance) could test a commune's
   * household register name by name without reading one case (many_cases would not see it).
   */
  manySearchesPerHour: 30,
  /** The same in a day (Vietnam time): 29 every 90 minutes, kept up all day, stays under the hourly count. */
  manySearchesPerDay: 150,
  /**
   * Emergency accesses opened by one account in a day (Vietnam time): each shows a case without a referral or
   * consent, and nothing else limits how many an account opens (a supervisor reviews each, afterwards).
   */
  manyBreakGlassPerDay: 3,
  denialsPerHour: 5,
  /**
   * Accounts whose sign-in was refused from one IP address within one hour (password spraying: a few guesses
   * on each of many accounts, below denialsPerHour for any one of them).
   */
  signInAccountsPerHour: 5,
  workingHours: { from: 7, to: 19, days: { en: 'Monday-Friday', vi: 'thứ Hai đến thứ Sáu' } },
  /**
   * Hours after an administrator created an account, reset its password or two-factor, changed its communes or
   * enabled it, in which its access to case data is flagged: counted from the account's first sign-in since the
   * change when that is later.
   */
  afterResetHours: 24,
  /** How long before the period a change is looked at (an account first signed in a month after it is not). */
  changeLookbackDays: 31,
  /** The most findings listed of one rule (its newest); the answer's `omitted` counts the rest. */
  listedPerRule: 500,
} as const;

interface EventRow {
  seq: string;
  at: Date;
  actor_id: string | null;
  actor_role: string | null;
  actor_org_id: string | null;
  actor_communes: string[];
  action: string;
  case_id: string | null;
  resource_type: string | null;
  resource_id: string | null;
  fields: string[];
  outcome: string;
  reason: string | null;
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  returned_ids: string[];
  province_code: string | null;
  commune_code: string | null;
}

/**
 * The supervisors' view of the access log: entries of their jurisdiction only (filtered in SQL with the same
 * CASL rules that guard the route), verification and anomalies. Every read is itself written to the log.
 */
/** A verification's answer, with when its pass began (a request arriving during a pass gets that pass's). */
type VerificationAnswer = AccessLogVerification & { startedAt: string };

@Injectable()
export class AuditQueryService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly audit: AuditService,
    private readonly checkpoints: AuditCheckpointService,
    private readonly keys: PurposeKeys,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async list(p: Principal, ability: AppAbility, q: AuditEventsQuery): Promise<AuditEventList> {
    const page = q.page ?? 1;
    const pageSize = q.pageSize ?? DEFAULT_PAGE_SIZE;
    // Refused before anything is read (a deep page is on no record: it read nothing).
    const offset = pageOffset(page, pageSize, WALK_ON_BY_SEQ);
    const scope = accessibleWhere(ability, 'read', 'AuditEvent', AUDIT_COLUMNS);
    const where = [scope.sql];
    const params: Record<string, unknown> = { ...scope.params };
    const filter = (sql: string, name: string, value: unknown) => {
      if (value === undefined) return;
      where.push(sql);
      params[name] = value;
    };
    // A province's supervisor sees a refusal of their staff about a resource of another province without its
    // case and place: those the refused caller was not given, and a sign that the case exists.
    const ownProvince = p.role === 'supervisor' ? p.provinceCode : null; // null: national
    // (A refusal that names a case but no province is hidden as well: its province is not known to be theirs.)
    const hidden = ownProvince
      ? `(e.outcome <> 'allowed'
          AND (e.province_code <> :ownProvince OR (e.province_code IS NULL AND e.case_id IS NOT NULL)))`
      : 'false';
    if (ownProvince) params.ownProvince = ownProvince;
    // A list read shown to several provinces (a national supervisor's list, a provider's inbox over two
    // provinces) returned records of each: a province's supervisor sees the ids of its own province's records
    // only, not the others' (their existence). An entry of their province alone needs no look-up.
    const returnedIds = ownProvince
      ? `CASE WHEN e.returned_ids = '{}' OR e.jurisdictions = ARRAY[:ownProvince]::varchar(2)[] THEN e.returned_ids
              ELSE ARRAY(SELECT u.id FROM unnest(e.returned_ids) WITH ORDINALITY AS u(id, n)
                          WHERE ${inProvinceSql('e.resource_type', 'u.id', ':ownProvince')} ORDER BY u.n) END`
      : 'e.returned_ids';
    // The entries about the case, and the list reads that returned it (a search, a list of cases or of its
    // referrals: audit_events_returned_idx; the case of a referral never changes). Found first, on their own
    // (a few hundred at most), then scoped: planned together, PostgreSQL would intersect them with the
    // jurisdiction's index, hundreds of thousands of entries.
    // (Lists show another province's case to its own supervisors only, as their ids are: `listedHere`, decided
    // once the case's place is read, below.)
    const listedHere = ':listedHere::boolean';
    const about =
      q.caseId === undefined
        ? ''
        : `WITH about AS MATERIALIZED (
             SELECT e.seq FROM audit_events e
              WHERE e.case_id = :caseId
                 OR (${listedHere} AND e.resource_type = 'case' AND e.returned_ids <> '{}'
                     AND e.returned_ids @> ARRAY[:caseId]::uuid[])
                 OR (${listedHere} AND e.resource_type = 'referral' AND e.returned_ids <> '{}'
                     AND e.returned_ids && ARRAY(SELECT r.id FROM referrals r WHERE r.case_id = :caseId)))`;
    filter(`e.seq IN (SELECT seq FROM about) AND NOT ${hidden}`, 'caseId', q.caseId);
    filter('e.actor_id = :actorId', 'actorId', q.actorId);
    filter('e.action = :action', 'action', q.action);
    filter('e.outcome = :outcome', 'outcome', q.outcome);
    const from = q.from === undefined ? undefined : instant(q.from, 'from');
    const to = q.to === undefined ? undefined : instant(q.to, 'to');
    if (from && to && from >= to) throw fieldError('from', 'must be before to', 'phải trước to');
    filter('e.at >= :from', 'from', from);
    filter('e.at < :to', 'to', to);

    return this.dataSource.transaction(async (m) => {
      const condition = where.join(' AND ');
      // The case's place, read once: whether lists that showed it are the caller's to see, and where the read's
      // entry belongs. A look at one case's access trail is about that case: on record in its place too, where
      // its province's supervisors see it, as every other access to the case (a national supervisor's entry
      // would otherwise be in no province at all). A provincial supervisor's look at another province's case
      // too when it showed the case's place (its province's staff's accesses to the case): the case's supervisors
      // see who looked. Not otherwise: its own entry, which it reads, must not tell where the case is (nor that it
      // exists).
      const [found] = q.caseId
        ? await m.query<{ province_code: string; ward_code: string }[]>(
            'SELECT province_code, ward_code FROM cases WHERE id = $1',
            [q.caseId],
          )
        : [];
      params.listedHere = ownProvince === null || found?.province_code === ownProvince;
      // A page after the one that ended at beforeSeq (keyset: entries written meanwhile shift nothing).
      const older = q.beforeSeq === undefined ? '' : 'AND e.seq < :beforeSeq';
      const rows = await this.query<EventRow>(
        m,
        // The page's entries first, then what each shows: the rows an OFFSET skips are not projected (their
        // returned ids looked up one by one).
        `${about} SELECT seq, at, actor_id, actor_role, actor_org_id, actor_communes, action,
                  CASE WHEN ${hidden} THEN NULL ELSE e.case_id END AS case_id, resource_type, resource_id, fields,
                  outcome, reason, ip, user_agent, request_id, ${returnedIds} AS returned_ids,
                  CASE WHEN ${hidden} THEN NULL ELSE e.province_code END AS province_code,
                  CASE WHEN ${hidden} THEN NULL ELSE e.commune_code END AS commune_code
             FROM (SELECT e.* FROM audit_events e WHERE ${condition} ${older}
                    ORDER BY e.seq DESC LIMIT :limit OFFSET :offset) e
            ORDER BY seq DESC`,
        { ...params, beforeSeq: q.beforeSeq, limit: pageSize, offset },
      );
      // Counted up to HAVEN_AUDIT_COUNT_LIMIT (newest first): an exact count of a province's whole log reads most
      // of the table (seconds at ten million entries), for a number no one pages through.
      const [count] = await this.query<{ n: string }>(
        m,
        `${about} SELECT count(*) AS n FROM (
           SELECT 1 FROM audit_events e WHERE ${condition} ORDER BY seq DESC LIMIT :countLimit) counted`,
        { ...params, countLimit: this.config.audit.countLimit + 1 },
      );
      const counted = Number(count?.n ?? 0);
      // Another province's look whose filters find entries showing the case's place (its staff's accesses to the
      // case), on this page or another: the case's supervisors see it. Its own earlier looks, which name the case
      // but no place, do not count.
      const showsPlace = async () =>
        (
          await this.query<{ shows: boolean }>(
            m,
            `${about} SELECT EXISTS (SELECT 1 FROM audit_events e
                                      WHERE ${condition} AND e.case_id = :caseId AND e.province_code IS NOT NULL) AS shows`,
            params,
          )
        )[0]?.shows === true;
      const place = found && (params.listedHere || (await showsPlace())) ? found : null;
      // Recorded after the query, so that the read does not list itself.
      await this.audit.record(m, p, {
        action: 'audit.read',
        resourceType: 'audit_log',
        caseId: q.caseId ?? null,
        resourceId: q.actorId ?? null,
        ...(place ? { provinceCode: place.province_code, wardCode: place.ward_code } : {}),
      });
      const nextBeforeSeq = rows.length === pageSize ? Number(rows[rows.length - 1].seq) : null;
      return {
        items: rows.map(eventView),
        total: Math.min(counted, this.config.audit.countLimit),
        totalCapped: counted > this.config.audit.countLimit,
        nextBeforeSeq,
        page,
        pageSize,
      };
    });
  }

  /**
   * Whole verifications, one at a time per process: a pass holds a connection and its workers' (every core) for
   * a minute at 10 M entries. A request that arrives while one runs shares its answer; the next pass begins no
   * sooner than twice the last pass's duration after it ended: a request that arrives in that rest waits for the
   * next pass when the rest ends within VERIFY_WAIT_MS, else is refused (429, Retry-After). A supervisor calling
   * in a loop then keeps this instance verifying a third of the time at most.
   */
  private readonly verifyRefusals = new ThrottledRefusals();
  private readonly verification = new PacedTask(
    () => this.verifyOnce(),
    (ms) => VERIFY_REST_FACTOR * ms,
  );

  /**
   * Verifies the whole log against the furthest checkpoint of this instance's file and the database's newest. In a rest
   * of more than VERIFY_WAIT_MS, refused at once (429, with Retry-After) rather than held (behind a proxy, an
   * answer minutes later would be a timeout); on the log once per user and rest.
   */
  async verify(p: Principal): Promise<VerificationAnswer> {
    const restMs = this.verification.restLeftMs();
    if (restMs > VERIFY_WAIT_MS) {
      await this.verifyRefusals.refuse(
        p.userId,
        restMs,
        () =>
          this.audit.recordDenied(p, {
            action: 'audit.verify',
            resourceType: 'audit_log',
            reason: 'auth.throttled',
          }),
        {
          detail: (seconds) => ({
            en: `A whole verification of the access log ended a moment ago; the next can begin in ${seconds} s (each rests ${VERIFY_REST_FACTOR} times as long as it took).`,
            vi: `Một lần kiểm tra toàn bộ nhật ký truy cập vừa kết thúc; lần tiếp theo có thể bắt đầu sau ${seconds} giây (mỗi lần nghỉ gấp ${VERIFY_REST_FACTOR} lần thời gian đã chạy).`,
          }),
        },
      );
    }
    const result = await this.verification.current();
    await this.audit.recordInOwnTransaction(p, {
      action: 'audit.verify',
      resourceType: 'audit_log',
      reason: result.ok ? null : `audit.${result.problem ?? 'chain_broken'}`,
    });
    return result;
  }

  private async verifyOnce(): Promise<VerificationAnswer> {
    // A request that arrives while this pass runs gets its answer: the answer says when the pass began.
    const startedAt = new Date().toISOString();
    const runner = this.dataSource.createQueryRunner();
    let result: AccessLogVerification;
    try {
      const client = (await runner.connect()) as SqlClient;
      result = await verifyAccessLog(client, this.keys, {
        // As far as this process has read it, and what was appended since (a year is ~100,000 lines: not
        // parsed again on the event loop at each pass); `audit:verify` reads the file whole.
        file: this.checkpoints.file.readAppended(),
        // Workers connect as this pool does: the same database, the same (application) role.
        parallel: {
          connectionString: (this.dataSource.options as { url: string }).url,
          workers: this.config.audit.verifyWorkers,
          onWorkerFailure: (reason) =>
            this.logger.warn(
              { why: reason },
              'access-log verification workers failed; verifying in one thread',
            ),
        },
      });
    } finally {
      await runner.release();
    }
    return { ...result, startedAt };
  }

  async issueCheckpoint(p: Principal): Promise<Awaited<ReturnType<AuditCheckpointService['issue']>>> {
    const entry = { action: 'audit.checkpoint', resourceType: 'audit_checkpoint' } as const;
    // Recorded first, so that the checkpoint covers the request that asked for it: the next issuance begins
    // after this entry is written.
    await this.audit.recordInOwnTransaction(p, entry);
    try {
      return await this.checkpoints.issueRequested();
    } catch (e) {
      // The log no longer matches what was signed: the refusal is on the log too, as what it is.
      if (e instanceof DomainError && e.code === 'audit.checkpoint_refused') {
        await this.audit.recordInOwnTransaction(p, { ...entry, outcome: 'error', reason: e.code });
      }
      throw e;
    }
  }

  async anomalies(p: Principal, ability: AppAbility, q: AnomaliesQuery): Promise<AnomalyList> {
    const to = q.to ? instant(q.to, 'to') : new Date();
    const from = q.from ? instant(q.from, 'from') : new Date(to.getTime() - 7 * DAY_MS);
    if (from >= to) throw fieldError('from', 'must be before to', 'phải trước to');
    // Each rule scans the period's entries of the jurisdiction: a bounded span keeps one request from reading
    // a national year of the log.
    if (to.getTime() - from.getTime() > ANOMALY_SPAN_DAYS * DAY_MS) {
      throw fieldError(
        'from',
        `the period may span at most ${ANOMALY_SPAN_DAYS} days`,
        `khoảng thời gian tối đa ${ANOMALY_SPAN_DAYS} ngày`,
      );
    }
    const scope = accessibleWhere(ability, 'read', 'AuditEvent', AUDIT_COLUMNS);
    // The administrators' changes to accounts that after_admin_reset looks back at: of the same jurisdiction
    // (a change to an account is in the account's provinces), not the whole country's.
    const changes = accessibleWhere(ability, 'read', 'AuditEvent', CHANGE_COLUMNS, 'authz_change');
    // fromDay: the start of the Vietnam day `from` falls in (the daily rule counts that day whole).
    const fromDay = instant(vietnamDate(from), 'from');
    const params = { ...scope.params, ...changes.params, from, to, fromDay };
    const base = `${scope.sql} AND e.at >= :from AND e.at < :to`;
    // The hourly rules look back one window before the period: a burst across its start (the end of the period
    // looked at before) is seen whole, and reported if it reaches into this one.
    const hourlyBase = `${scope.sql} AND e.at >= :from::timestamptz - interval '90 minutes' AND e.at < :to`;
    const local = `((e.at AT TIME ZONE 'UTC') + interval '7 hours')`;
    // The Vietnam day an entry's local time falls in, as its start (UTC+7 all year).
    const localDay = `((date_trunc('day', ${local}) - interval '7 hours') AT TIME ZONE 'UTC')`;
    const {
      manyCasesPerHour,
      manySearchesPerHour,
      manySearchesPerDay,
      manyBreakGlassPerDay,
      denialsPerHour,
      signInAccountsPerHour,
      workingHours,
      afterResetHours,
      changeLookbackDays,
      listedPerRule,
    } = ANOMALY_RULES;
    const caseData = `split_part(e.action, '.', 1) IN ('case', 'referral', 'consent', 'note', 'break_glass')`;
    // What an account taken over reads: case data, or for a supervisor the access log and the reports (case ids,
    // communes, which organisation took which case, staff addresses), which it reads instead.
    const roleData = `(${caseData} OR (e.actor_role = 'supervisor' AND split_part(e.action, '.', 1) IN ('audit', 'report')))`;
    // A daily rule: an account's allowed `action`s in a Vietnam day, at least `threshold` of them; each day the
    // period touches counted whole, from its start (a period starting at noon sees the morning too), reported
    // when it reaches into the period.
    const daily = (rule: AnomalyRuleName, action: string, threshold: number) => `
         SELECT '${rule}', e.actor_id, min(e.actor_role), NULL, count(*),
                ${localDay}, min(e.at), max(e.at), (array_agg(e.seq ORDER BY e.seq))[1:20]
           FROM audit_events e
          WHERE ${scope.sql} AND e.at >= :fromDay AND e.at < :to
            AND e.action = '${action}' AND e.outcome = 'allowed' AND e.actor_id IS NOT NULL
          GROUP BY e.actor_id, date_trunc('day', ${local})
         HAVING count(*) >= ${threshold} AND max(e.at) >= :from`;

    return this.dataSource.transaction(async (m) => {
      const rows = await this.query<AnomalyRow>(
        m,
        `-- The accounts each address guessed a wrong password of, per window: a sign-in of one of them from that
         -- address in that window got in where it guessed (found once, then matched by hashing).
         WITH guessed AS MATERIALIZED (
           SELECT ${ADDRESS_KEY} AS address, w.start, e.actor_id, min(e.at) AS first_guess
             FROM audit_events e CROSS JOIN LATERAL ${HOUR_WINDOWS} AS w(start)
            WHERE ${hourlyBase} AND e.action = 'auth.login_failed' AND ${WRONG_PASSWORD}
              AND e.actor_id IS NOT NULL AND e.ip IS NOT NULL
            GROUP BY 1, 2, 3)
         -- At most :perRule findings of each rule, the newest: a rule that flags a province's night shift every
         -- day (outside_hours) neither makes the answer endless nor pushes another rule's findings out of it.
         SELECT rule, actor_id, actor_role, ip, n, window_start, first_at, last_at, seqs, rule_n FROM (
         SELECT u.*, row_number() OVER (PARTITION BY u.rule ORDER BY u.window_start DESC, u.actor_id, u.ip) AS k,
                count(*) OVER (PARTITION BY u.rule) AS rule_n
           FROM (
         SELECT * FROM (
         -- Windows nested in another flagged one are that one's finding: of those with the same first entry the
         -- one starting last holds the others, of those with the same last entry the one starting first.
         SELECT DISTINCT ON (rule, actor_id, ip, last_at) * FROM (
         SELECT DISTINCT ON (rule, actor_id, ip, first_at) * FROM (
         SELECT 'many_cases' AS rule, e.actor_id, min(e.actor_role) AS actor_role, NULL AS ip,
                count(DISTINCT e.case_id) AS n, w.start AS window_start,
                min(e.at) AS first_at, max(e.at) AS last_at, (array_agg(e.seq ORDER BY e.seq))[1:20] AS seqs
           FROM audit_events e CROSS JOIN LATERAL ${HOUR_WINDOWS} AS w(start)
          -- A case's change answers with the case: it counts as a read of it.
          WHERE ${hourlyBase} AND e.action IN ('case.read', 'referral.read', 'case.update') AND e.outcome = 'allowed'
            AND e.case_id IS NOT NULL AND e.actor_id IS NOT NULL
          GROUP BY e.actor_id, w.start
         HAVING count(DISTINCT e.case_id) >= ${manyCasesPerHour}
         UNION ALL
         SELECT 'many_searches', e.actor_id, min(e.actor_role), NULL, count(*), w.start, min(e.at), max(e.at),
                (array_agg(e.seq ORDER BY e.seq))[1:20]
           FROM audit_events e CROSS JOIN LATERAL ${HOUR_WINDOWS} AS w(start)
          WHERE ${hourlyBase} AND e.action = 'case.search' AND e.outcome = 'allowed' AND e.actor_id IS NOT NULL
          GROUP BY e.actor_id, w.start
         HAVING count(*) >= ${manySearchesPerHour}
         UNION ALL
         SELECT 'repeated_denials', e.actor_id, min(e.actor_role),
                CASE WHEN e.actor_id IS NULL THEN ${ADDRESS_KEY} END,
                count(*), w.start, min(e.at), max(e.at), (array_agg(e.seq ORDER BY e.seq))[1:20]
           FROM audit_events e CROSS JOIN LATERAL ${HOUR_WINDOWS} AS w(start)
          WHERE ${hourlyBase} AND e.outcome = 'denied' AND ${PROBING_DENIAL}
          GROUP BY e.actor_id, CASE WHEN e.actor_id IS NULL THEN ${ADDRESS_KEY} END, w.start
         HAVING count(*) >= ${denialsPerHour}
         UNION ALL
         -- Attempts on unknown usernames are repeated_denials' (by address); this counts the accounts whose
         -- password was wrong. Its entries (by tier) list first the address's sign-ins that got into an account
         -- it guessed at (0), then its attempts whose password was right (asked for, or given a wrong,
         -- authenticator code: accounts it may have got into; 1), then the wrong guesses (2), then its other
         -- refusals (refused unchecked while locked out, an organisation retired; 3). The burst (edge) is the
         -- guesses and what followed them on a guessed account; an entry of another account (a spray that hit, a
         -- colleague behind the same office address) is listed only within the burst's span or the 5 minutes after it
         -- (a spray that stops at the password it found) and sets none of its
         -- edges, so the office's sign-ins neither stretch the burst nor split it.
         SELECT 'many_accounts', NULL, NULL, e.address,
                count(DISTINCT e.actor_id) FILTER (WHERE e.tier = 2),
                e.start, min(e.at) FILTER (WHERE e.edge), max(e.at) FILTER (WHERE e.edge),
                (array_agg(e.seq ORDER BY e.tier, e.seq))[1:20]
           FROM (SELECT e.*,
                        min(e.at) FILTER (WHERE e.edge) OVER burst AS burst_first,
                        max(e.at) FILTER (WHERE e.edge) OVER burst AS burst_last
                   FROM (SELECT e.seq, e.at, e.actor_id, ${ADDRESS_KEY} AS address, w.start,
                                CASE WHEN ${RIGHT_PASSWORD} THEN 1 WHEN ${WRONG_PASSWORD} THEN 2 ELSE 3 END AS tier,
                                ${WRONG_PASSWORD} OR g.actor_id IS NOT NULL AS edge
                           FROM audit_events e CROSS JOIN LATERAL ${HOUR_WINDOWS} AS w(start)
                           -- The account's refusals after the address's first wrong guess of it in the window.
                           LEFT JOIN guessed g ON g.address = ${ADDRESS_KEY} AND g.start = w.start
                                              AND g.actor_id = e.actor_id AND e.at > g.first_guess
                          WHERE ${hourlyBase} AND e.action = 'auth.login_failed' AND e.actor_id IS NOT NULL
                            AND e.ip IS NOT NULL
                         UNION ALL
                         -- A sign-in after the address's first wrong guess of that account in the window.
                         SELECT e.seq, e.at, e.actor_id, g.address, w.start, 0, true
                           FROM audit_events e CROSS JOIN LATERAL ${HOUR_WINDOWS} AS w(start)
                           JOIN guessed g ON g.address = ${ADDRESS_KEY} AND g.start = w.start AND g.actor_id = e.actor_id
                                         AND e.at > g.first_guess
                          WHERE ${hourlyBase} AND e.action = 'auth.login' AND e.actor_id IS NOT NULL
                            AND e.ip IS NOT NULL) e
                 WINDOW burst AS (PARTITION BY e.address, e.start)) e
          WHERE e.edge OR e.at BETWEEN e.burst_first AND e.burst_last + interval '5 minutes'
          GROUP BY e.address, e.start
         HAVING count(DISTINCT e.actor_id) FILTER (WHERE e.tier = 2) >= ${signInAccountsPerHour}
         ) hourly
         ORDER BY rule, actor_id, ip, first_at, window_start DESC
         ) by_first
         ORDER BY rule, actor_id, ip, last_at, window_start
         ) found
         WHERE last_at >= :from
         UNION ALL
         -- A day's searches (Vietnam time), for an enumeration paced under the hourly count.
         ${daily('many_searches_daily', 'case.search', manySearchesPerDay)}
         UNION ALL
         -- A day's emergency accesses opened.
         ${daily('many_break_glass', 'break_glass.open', manyBreakGlassPerDay)}
         UNION ALL
         SELECT 'outside_hours', e.actor_id, min(e.actor_role), NULL, count(*),
                ${localDay}, min(e.at), max(e.at), (array_agg(e.seq ORDER BY e.seq))[1:20]
           FROM audit_events e
          WHERE ${base} AND e.outcome = 'allowed' AND e.actor_id IS NOT NULL AND ${caseData}
            AND (extract(isodow FROM ${local}) >= 6 OR extract(hour FROM ${local}) < ${workingHours.from}
                 OR extract(hour FROM ${local}) >= ${workingHours.to})
          GROUP BY e.actor_id, date_trunc('day', ${local})
         UNION ALL
         SELECT 'after_admin_reset', e.actor_id, min(e.actor_role), NULL, count(*), r.at,
                min(e.at), max(e.at), (array_agg(e.seq ORDER BY e.seq))[1:20]
           FROM audit_events e
           -- One change per request: a password and a two-factor reset in one change are two entries, written
           -- within a minute of its first. A request id can be the client's (X-Request-Id): an entry a minute or
           -- more after the first of its id is another change, with its own window (never folded into one
           -- long gone). Among the entries the caller may see only. The window runs until a day after the
           -- account's first sign-in since the change (audit_events_sign_ins_idx), or a day after the change
           -- when that is later (a session the change left open): waiting before using a password an
           -- administrator set does not evade it. Changes up to a month before the period are looked at
           -- (audit_events_account_changes_idx).
           -- Changes whose windows end at the same moment (made before the same first sign-in) are one window,
           -- from the first of them. (Windows that only overlap, a change after the first sign-in of an earlier
           -- one's, are still two rows, the reads in both counted in each.)
           JOIN (SELECT DISTINCT ON (w.resource_id, w.until) w.resource_id, w.at, w.until
                   FROM (SELECT x.resource_id, x.at,
                                greatest(x.at, coalesce((SELECT l.at FROM audit_events l
                                                          WHERE l.actor_id = x.resource_id AND l.at >= x.at
                                                            AND l.action = 'auth.login' AND l.outcome = 'allowed'
                                                          ORDER BY l.at LIMIT 1), x.at))
                                  + interval '${afterResetHours} hours' AS until
                           FROM (SELECT r0.resource_id, r0.at, r0.request_id,
                                        row_number() OVER (PARTITION BY r0.resource_id, r0.request_id
                                                           ORDER BY r0.at, r0.seq) AS n,
                                        min(r0.at) OVER (PARTITION BY r0.resource_id, r0.request_id) AS first_at
                                   FROM audit_events r0
                                  WHERE ${changes.sql} AND r0.outcome = 'allowed' AND ${adminChangeSql('r0')}
                                    AND r0.at >= :from::timestamptz - interval '${changeLookbackDays} days'
                                    AND r0.at < :to) x
                          WHERE x.request_id IS NULL OR x.n = 1 OR x.at >= x.first_at + interval '1 minute') w
                  ORDER BY w.resource_id, w.until, w.at) r
             ON r.resource_id = e.actor_id
            AND e.at >= r.at AND e.at < r.until
          WHERE ${base} AND e.outcome = 'allowed' AND e.actor_id IS NOT NULL AND ${roleData}
          GROUP BY e.actor_id, r.at
         ) u) ranked
          WHERE k <= :perRule
          ORDER BY window_start DESC, rule, actor_id`,
        { ...params, perRule: listedPerRule },
      );
      await this.audit.record(m, p, { action: 'audit.read', resourceType: 'audit_log' });
      // Per rule, the findings left out (beyond listedPerRule): a narrower period shows them.
      const omitted: Partial<Record<AnomalyRuleName, number>> = {};
      for (const r of rows) {
        const left = Number(r.rule_n) - listedPerRule;
        if (left > 0) omitted[r.rule as AnomalyRuleName] = left;
      }
      return {
        items: rows.map(anomalyView),
        omitted,
        rules: {
          many_cases: {
            en: `an account read at least ${manyCasesPerHour} distinct cases within one hour (${WINDOWS_EN})`,
            vi: `một tài khoản đã đọc ít nhất ${manyCasesPerHour} vụ việc khác nhau trong một giờ (${WINDOWS_VI})`,
          },
          many_searches: {
            en: `an account searched cases at least ${manySearchesPerHour} times within one hour (${WINDOWS_EN}): each result tells whose name, date of birth or phone a survivor has`,
            vi: `một tài khoản đã tìm kiếm vụ việc ít nhất ${manySearchesPerHour} lần trong một giờ (${WINDOWS_VI}): mỗi kết quả cho biết tên, ngày sinh hoặc số điện thoại của người bị bạo lực`,
          },
          many_searches_daily: {
            en: `an account searched cases at least ${manySearchesPerDay} times in a day (Vietnam time; the window is the day): a search paced under the hourly count all day long`,
            vi: `một tài khoản đã tìm kiếm vụ việc ít nhất ${manySearchesPerDay} lần trong một ngày (giờ Việt Nam; khung thời gian là cả ngày): tìm kiếm đều đặn dưới ngưỡng mỗi giờ suốt cả ngày`,
          },
          many_break_glass: {
            en: `an account opened emergency access to cases at least ${manyBreakGlassPerDay} times in a day (Vietnam time; the window is the day): each shows a case without a referral or consent`,
            vi: `một tài khoản đã mở truy cập khẩn cấp vào vụ việc ít nhất ${manyBreakGlassPerDay} lần trong một ngày (giờ Việt Nam; khung thời gian là cả ngày): mỗi lần cho xem một vụ việc không qua chuyển gửi hay sự đồng ý`,
          },
          repeated_denials: {
            en: `at least ${denialsPerHour} denied accesses within one hour by one account (or, without an account, from one IP address, an IPv6 one by its /64 network; ${WINDOWS_EN})`,
            vi: `ít nhất ${denialsPerHour} lần truy cập bị từ chối trong một giờ của một tài khoản (hoặc, khi không có tài khoản, từ một địa chỉ IP, địa chỉ IPv6 tính theo mạng /64; ${WINDOWS_VI})`,
          },
          many_accounts: {
            en: `sign-ins refused for at least ${signInAccountsPerHour} different accounts within one hour from one IP address (an IPv6 one by its /64 network; password spraying; ${WINDOWS_EN})`,
            vi: `đăng nhập bị từ chối cho ít nhất ${signInAccountsPerHour} tài khoản khác nhau trong một giờ từ cùng một địa chỉ IP (địa chỉ IPv6 tính theo mạng /64; dò mật khẩu hàng loạt; ${WINDOWS_VI})`,
          },
          after_admin_reset: {
            en: `an account accessed case data (a supervisor: the access log or reports) after an administrator created it, reset its password or two-factor, changed its communes or enabled it again, until ${afterResetHours} hours after its first sign-in since (or after the change, if later; changes up to ${changeLookbackDays} days before the period) (whoever knows the password an administrator set can sign in as the account, and an administrator may give an account of their own a commune's cases)`,
            vi: `một tài khoản đã truy cập dữ liệu vụ việc (giám sát viên: nhật ký truy cập hoặc báo cáo) sau khi quản trị viên tạo tài khoản đó, đặt lại mật khẩu hoặc xác thực hai lớp, thay đổi xã/phường của tài khoản hoặc mở lại tài khoản, cho đến ${afterResetHours} giờ sau lần đăng nhập đầu tiên của tài khoản kể từ thay đổi đó (hoặc sau chính thay đổi, nếu muộn hơn; xét các thay đổi trong vòng ${changeLookbackDays} ngày trước khoảng thời gian được xem) (ai biết mật khẩu do quản trị viên đặt đều có thể đăng nhập bằng tài khoản này, và quản trị viên có thể giao cho một tài khoản của chính mình các vụ việc của một xã/phường)`,
          },
          outside_hours: {
            en: `an account accessed case data outside ${workingHours.days.en} ${workingHours.from}:00-${workingHours.to}:00 Vietnam time`,
            vi: `một tài khoản đã truy cập dữ liệu vụ việc ngoài giờ làm việc (${workingHours.from}:00-${workingHours.to}:00 từ ${workingHours.days.vi}, giờ Việt Nam; thứ Bảy và Chủ nhật là ngoài giờ cả ngày)`,
          },
        } satisfies Record<AnomalyRuleName, { en: string; vi: string }>,
      };
    });
  }

  private query<T>(m: EntityManager, sql: string, params: Record<string, unknown>): Promise<T[]> {
    const [text, values] = this.dataSource.driver.escapeQueryWithParameters(sql, params);
    return m.query<T[]>(text, values);
  }
}

interface AnomalyRow {
  rule: string;
  /** The rule's findings in the period, before the cap (ANOMALY_RULES.listedPerRule). */
  rule_n: string;
  actor_id: string | null;
  actor_role: string | null;
  ip: string | null;
  n: string;
  window_start: Date;
  first_at: Date;
  last_at: Date;
  seqs: string[];
}

/**
 * A query's `from`/`to` (validated: IsDateOrInstant); a bare date is that day's start in Vietnam (00:00 +07).
 * `to` is exclusive, so `to=2026-11-30` ends as 30 November begins: unlike a report's period, whose `to` day is
 * included (report-period.ts). Documented so on the query's parameters.
 */
const DAY_MS = 24 * 3600 * 1000;
/** The longest period /audit/anomalies looks at in one request. */
export const ANOMALY_SPAN_DAYS = 31;

function instant(value: string, field: string): Date {
  const d = new Date(isCalendarDate(value) ? `${value}T00:00:00+07:00` : value);
  if (Number.isNaN(d.getTime())) throw fieldError(field, 'is not a date', 'không phải ngày hợp lệ');
  return d;
}

/**
 * SQL: the record `id` of an entry's list (its `resourceType`: a case, a referral, a consent, an emergency grant)
 * is of province `province`.
 */
function inProvinceSql(resourceType: string, id: string, province: string): string {
  return `CASE ${resourceType}
            WHEN 'case' THEN EXISTS (SELECT 1 FROM cases c WHERE c.id = ${id} AND c.province_code = ${province})
            WHEN 'referral' THEN EXISTS (SELECT 1 FROM referrals r
                                          WHERE r.id = ${id} AND r.case_province_code = ${province})
            WHEN 'consent' THEN EXISTS (SELECT 1 FROM consents k JOIN cases c ON c.id = k.case_id
                                         WHERE k.id = ${id} AND c.province_code = ${province})
            WHEN 'break_glass' THEN EXISTS (SELECT 1 FROM break_glass_grants g
                                             WHERE g.id = ${id} AND g.province_code = ${province})
            ELSE false END`;
}

function eventView(r: EventRow): AuditEventView {
  return {
    seq: Number(r.seq),
    at: r.at.toISOString(),
    actorId: r.actor_id,
    actorRole: r.actor_role,
    actorOrganizationId: r.actor_org_id,
    actorWardCodes: r.actor_communes,
    action: r.action,
    ...(r.case_id ? { caseId: r.case_id } : {}),
    resourceType: r.resource_type,
    resourceId: r.resource_id,
    fields: r.fields,
    outcome: r.outcome,
    reason: r.reason,
    ip: r.ip,
    userAgent: r.user_agent,
    requestId: r.request_id,
    returnedIds: r.returned_ids,
    provinceCode: r.province_code,
    wardCode: r.commune_code,
  };
}

function anomalyView(r: AnomalyRow): AnomalyView {
  return {
    rule: r.rule,
    actorId: r.actor_id,
    actorRole: r.actor_role,
    ip: r.ip,
    count: Number(r.n),
    windowStart: r.window_start.toISOString(),
    firstAt: r.first_at.toISOString(),
    lastAt: r.last_at.toISOString(),
    seqs: r.seqs.map(Number),
  };
}
