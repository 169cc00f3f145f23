import { TransientError } from '../common/errors/transient-error';
import { setTimeout as sleep } from 'node:timers/promises';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import {
  DataSource,
  EntityManager,
  EntitySubscriberInterface,
  TransactionCommitEvent,
  TransactionRollbackEvent,
} from 'typeorm';
import { DomainError } from '../common/errors/domain-error';
import { PurposeKeys } from '../crypto';
import { GatedRead, GatedWrite, gatedSql, StatementParams } from '../database/gated-write';
import { CommuneProvinces } from '../directory/commune-provinces';
import { auditEventValues, CanonicalEncoder } from './audit-canonical';
import { AuditEntryError, CheckedEntry, checkAuditEntry } from './audit-entry.guard';
import { JurisdictionResolver } from './audit-jurisdiction';
import { ChainStripes, OWN_STATEMENT, StripeHead, StripeHolder } from './audit-stripes';
import {
  AUDIT_STRIPES,
  AuditActor,
  AuditEntryInput,
  AuditOutcome,
  AuditRequestMeta,
  AuditRole,
  AuditRow,
} from './audit.types';

/** What record() wrote: the entry's place in the log. */
export interface AuditRecorded {
  readonly seq: number;
  readonly stripe: number;
}

export interface SignInAttempt {
  /** The account signed in to, or null when the username matches no account. */
  readonly userId: string | null;
  readonly outcome: AuditOutcome;
  /** Why it was refused: an error code such as `auth.invalid_credentials` or `auth.throttled`. */
  readonly reason?: string | null;
  readonly request?: AuditRequestMeta;
}

/** The request metadata of an entry with no actor and none given (e.g. written by a test or a job). */
const NO_REQUEST: AuditRequestMeta = {};

/** Attempts at an entry whose stripe head moved under it (another instance, a rollback) before giving up. */
const APPEND_ATTEMPTS = 5;
/** The account id of a sign-in on an unknown username (recordSignIn): no account has it (ids are random). */
const NO_ACCOUNT = '00000000-0000-0000-0000-000000000000';
/** How long an entry waits for a free stripe when every one is held by an open transaction of this process. */
const STRIPE_WAIT_MS = 2_000;

/**
 * An entry in one statement: the stripe head moves only from the entry's predecessor (in a transaction its row
 * then stays locked until the transaction ends); no row back means another writer moved it first, and nothing
 * was written. `moved` is the gate of the writes an entry covers (recordWith).
 */
const ENTRY_GATE = 'moved';
const ENTRY_PARAMS = 23;
const MOVE_HEAD = `${ENTRY_GATE} AS (
  UPDATE audit_chain_heads SET last_seq = $1, head = $23, updated_at = $4::timestamptz
   WHERE stripe = $2 AND last_seq = $3
  RETURNING stripe
)`;
const INSERT_ENTRY = `INSERT INTO audit_events (seq, stripe, prev_seq, at, actor_id, actor_role, actor_org_id, actor_communes,
                          action, resource_type, resource_id, case_id, fields, outcome, reason, ip, user_agent,
                          request_id, returned_ids, province_code, commune_code, jurisdictions, mac)
SELECT $1::bigint, $2::smallint, $3::bigint, $4::timestamptz, $5::uuid, $6, $7::uuid, $8::varchar[], $9, $10,
       $11::uuid, $12::uuid, $13::varchar[], $14, $15, $16, $17, $18, $19::uuid[], $20, $21, $22::varchar[],
       $23::bytea
  FROM ${ENTRY_GATE}
RETURNING seq`;
const ENTRY_STATEMENT = `WITH ${MOVE_HEAD}\n${INSERT_ENTRY}`;

/** An entry with the writes it covers: their rows come from the gate, so they land with the entry or not at all. */
function coveredEntryStatement(ctes: string): string {
  return `WITH ${MOVE_HEAD},
${ctes},
entry AS (${INSERT_ENTRY})
SELECT entry.seq AS haven_entry_seq, r.*
  FROM entry LEFT JOIN (SELECT true AS haven_returned, * FROM returned) r ON true`;
}

/** The writes an entry covers (recordWith), as CTEs with their parameters. */
interface CoveredWrites {
  readonly ctes: string;
  readonly params: readonly unknown[];
}

/** An entry written, and the rows its statement gave back (recordWith: the returning write's). */
export interface Written {
  readonly recorded: AuditRecorded;
  readonly rows: Record<string, unknown>[];
}

/** How an entry's manager must stand: in a transaction, outside one, or either (the entry then joins it). */
type ManagerNeed = 'transaction' | 'no transaction' | 'either';
const MANAGER_MISUSE: Record<ManagerNeed, string> = {
  transaction: 'is not in an open transaction (pass the manager of dataSource.transaction)',
  'no transaction': 'must be a connection outside any transaction (use record() inside a transaction)',
  either: 'has no connection of its own (use session())',
};

/** A record a statement changed, as its RETURNING clause gives it for recordEach. */
export interface ChangedRecord {
  readonly id: string;
  readonly case_id: string;
  readonly province_code: string;
  readonly ward_code: string;
}

/**
 * Writes the access log (docs/audit.md). Protects the record of who looked at what: every entry is checked
 * for free text, chained to its stripe's previous entry with a keyed MAC, and written either in the caller's
 * transaction, so that an access and its entry commit or fail together (record()), or in a statement of its
 * own that has committed before the data it records leaves (recordNow(), for reads).
 *
 * Concurrency: there are 16 stripes (independent chains). An entry takes a stripe this process does not hold
 * elsewhere and writes itself with one statement that moves the stripe's head only if the head is still the
 * one it was chained to (ChainStripes); in a transaction the head's row stays locked until the transaction
 * ends, and the transaction keeps the stripe it first took.
 */
@Injectable()
export class AuditService implements EntitySubscriberInterface {
  private readonly encoder = new CanonicalEncoder();
  private readonly jurisdictions: JurisdictionResolver;
  private readonly stripes = new ChainStripes(AUDIT_STRIPES);
  /** Entries being written right now by this process (see ChainStripes.seqBlock). */
  private writers = 0;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly keys: PurposeKeys,
    communes: CommuneProvinces,
  ) {
    this.jurisdictions = new JurisdictionResolver(communes);
    // Told when a transaction ends, so that the stripe it held is free again and its head known.
    dataSource.subscribers.push(this);
  }

  afterTransactionCommit(event: TransactionCommitEvent): void {
    this.stripes.ended(event.queryRunner, true);
  }

  afterTransactionRollback(event: TransactionRollbackEvent): void {
    this.stripes.ended(event.queryRunner, false);
  }

  /**
   * An organisation moved to another province: its staff's next entries belong there (AuditService's cache).
   * Call it after the move has committed, or a request meanwhile may cache the old province again.
   */
  forgetOrganization(id: string): void {
    this.jurisdictions.forgetOrganization(id);
  }

  /**
   * Records an access in the caller's open transaction (outcome `allowed` unless the entry says otherwise).
   * If it fails, it throws and the caller's transaction must roll back: no entry, no access. Call it as late
   * as possible in the transaction: it holds a stripe of the chain until the transaction ends.
   */
  async record(
    manager: EntityManager,
    actor: AuditActor | null,
    entry: AuditEntryInput,
  ): Promise<AuditRecorded> {
    const holder = this.holderOf(manager, 'transaction');
    return (await this.write(manager, actor, entry, 'allowed', holder)).recorded;
  }

  /**
   * An administrative change (an account's, an organisation's) in the caller's transaction: one entry per kind
   * of change it made, `changes` saying which in each entry's `reason`; none when it changed nothing.
   */
  async recordChanges(
    manager: EntityManager,
    actor: AuditActor | null,
    entry: AuditEntryInput,
    changes: readonly string[],
  ): Promise<void> {
    for (const reason of changes) await this.record(manager, actor, { ...entry, reason });
  }

  /**
   * One entry per record a statement changed (its `UPDATE … RETURNING` rows: the record's id, its case and the
   * case's place), in the caller's transaction, each in its case's jurisdiction; returns the records' ids. For the
   * changes of several records at once: revocations, ends of emergency access, deadline raises.
   */
  async recordEach(
    manager: EntityManager,
    actor: AuditActor | null,
    rows: readonly ChangedRecord[],
    entry: Omit<AuditEntryInput, 'resourceId' | 'caseId' | 'provinceCode' | 'wardCode'>,
  ): Promise<string[]> {
    for (const r of rows) {
      await this.record(manager, actor, {
        ...entry,
        resourceId: r.id,
        caseId: r.case_id,
        provinceCode: r.province_code,
        wardCode: r.ward_code,
      });
    }
    return rows.map((r) => r.id);
  }

  /**
   * Records an access in a statement of its own on `manager`'s connection, which must not be in a transaction:
   * when it returns the entry is committed, so a read may now hand out what it read. If it fails, it throws
   * and nothing may be handed out.
   */
  async recordNow(
    manager: EntityManager,
    actor: AuditActor | null,
    entry: AuditEntryInput,
  ): Promise<AuditRecorded> {
    const holder = this.holderOf(manager, 'no transaction');
    return (await this.write(manager, actor, entry, 'allowed', holder)).recorded;
  }

  /**
   * Records an access together with the writes it covers, in ONE statement on `manager`'s connection: each of
   * `writes` (and `returning`) is gated on the entry's own condition, so the entry and the writes land together
   * or not at all, without a transaction around them (a registration: its data key, the case and its entry).
   * Outside a transaction, everything has committed when it returns; inside one, it commits with it. Returns
   * the rows `returning` gave back (its RETURNING clause). If it fails, it throws and nothing was written.
   */
  async recordWith(
    manager: EntityManager,
    actor: AuditActor | null,
    entry: AuditEntryInput,
    writes: readonly GatedWrite[],
    returning: GatedWrite,
  ): Promise<Written> {
    return this.covering(manager, this.holderOf(manager, 'either'), actor, entry, writes, returning);
  }

  /**
   * A read and its entry in ONE statement on `manager`'s connection, which must not be in a transaction: `read`
   * (a SELECT taking its rows FROM the gate, GatedRead) gives back its rows only when the entry was written,
   * and when this returns both have committed, so the rows may be handed out — what recordNow() after a read
   * does, one statement fewer. The entry says what the caller is given, so it must not depend on the rows
   * (fields read, not values); a read that finds nothing is still on record. If it fails, it throws, nothing
   * was written and nothing may be handed out.
   */
  async recordRead(
    manager: EntityManager,
    actor: AuditActor | null,
    entry: AuditEntryInput,
    read: GatedRead,
  ): Promise<Record<string, unknown>[]> {
    const holder = this.holderOf(manager, 'no transaction');
    return (await this.covering(manager, holder, actor, entry, [], read)).rows;
  }

  /** recordWith() and recordRead(): the entry, with `writes` and `returning` gated on it, in one statement. */
  private async covering(
    manager: EntityManager,
    holder: StripeHolder,
    actor: AuditActor | null,
    entry: AuditEntryInput,
    writes: readonly GatedWrite[],
    returning: GatedWrite, // or a GatedRead
  ): Promise<Written> {
    const params = new StatementParams(ENTRY_PARAMS + 1);
    const ctes = writes.map((w, i) => `w${i} AS (${gatedSql(w, ENTRY_GATE, params)})`);
    ctes.push(`returned AS (${gatedSql(returning, ENTRY_GATE, params)})`);
    const covered: CoveredWrites = { ctes: ctes.join(',\n'), params: params.values };
    const { recorded, rows } = await this.write(manager, actor, entry, 'allowed', holder, covered);
    // One row per entry written; the returning write's columns only where it gave back a row.
    const returned = rows
      .filter((r) => r.haven_returned === true)
      .map(({ haven_entry_seq: _seq, haven_returned: _returned, ...r }) => r);
    return { recorded, rows: returned };
  }

  /**
   * Records a refused access in a statement of its own, so that it stays on record even though the caller's
   * transaction (if any) rolls back with the refusal. Outcome `denied` unless the entry says otherwise.
   */
  async recordDenied(actor: AuditActor | null, entry: AuditEntryInput): Promise<AuditRecorded> {
    return this.session(async (m) => (await this.write(m, actor, entry, 'denied', OWN_STATEMENT)).recorded);
  }

  /**
   * Runs `work`; a refusal it throws (a DomainError: weak password, invalid code, changed meanwhile…) is
   * written as `entry` denied, with the error's code as its reason, before it goes on to the caller. `entry`
   * may be a function, called only on a refusal (e.g. to look up the jurisdictions of the record it was about).
   */
  async refusalsOnRecord<T>(
    actor: AuditActor | null,
    entry: AuditEntryInput | (() => Promise<AuditEntryInput>),
    work: () => T | Promise<T>,
  ): Promise<T> {
    try {
      return await work();
    } catch (e) {
      if (e instanceof DomainError) {
        const refused = typeof entry === 'function' ? await entry() : entry;
        await this.recordDenied(actor, { ...refused, reason: e.code });
      }
      throw e;
    }
  }

  /**
   * Runs `work` in a transaction of the data source; the denials it notes with `deny()` are written after that
   * transaction has ended (each in a statement of its own), also when `work` throws. Unlike recordDenied()
   * inside a transaction, this never holds two pool connections for one request, so a burst of refused
   * requests cannot exhaust the pool.
   */
  async transaction<T>(work: (manager: EntityManager, deny: Deny) => Promise<T>): Promise<T> {
    return this.session((m, deny) => m.transaction((t) => work(t, deny)));
  }

  /**
   * Runs `work` on one connection of the pool outside any transaction, for reads: each statement commits on
   * its own, and the read's entry is written with recordNow() before the data leaves. Denials noted with
   * `deny()` are written once `work` has ended and its connection is back in the pool, also when it throws.
   * After `deny.refusals(actor, entry)` (once the caller may act on the record), a refusal `work` then throws
   * (a DomainError: the record's state, what the request asks) is written as that entry, denied, with the
   * error's code as its reason, unless `work` noted a denial of its own for it; refusalsOnRecord() is the
   * same outside a session.
   */
  async session<T>(work: (manager: EntityManager, deny: Deny) => Promise<T>): Promise<T> {
    const runner = this.dataSource.createQueryRunner();
    const denials: [AuditActor | null, AuditEntryInput][] = [];
    const armed: { refusal: [AuditActor | null, AuditEntryInput] | null } = { refusal: null };
    const deny: Deny = Object.assign(
      (actor: AuditActor | null, entry: AuditEntryInput) => {
        denials.push([actor, entry]);
        armed.refusal = null; // this refusal is on record in the caller's words
      },
      {
        refusals: (actor: AuditActor | null, entry: AuditEntryInput) => {
          armed.refusal = [actor, entry];
        },
      },
    );
    try {
      return await work(runner.manager, deny);
    } catch (e) {
      const { refusal } = armed;
      if (refusal && e instanceof DomainError) denials.push([refusal[0], { ...refusal[1], reason: e.code }]);
      throw e;
    } finally {
      await runner.release();
      for (const [actor, entry] of denials) await this.recordDenied(actor, entry);
    }
  }

  /** Records an entry in a statement of its own (outcome `allowed` unless the entry says otherwise). */
  async recordInOwnTransaction(actor: AuditActor | null, entry: AuditEntryInput): Promise<AuditRecorded> {
    return this.session(async (m) => (await this.write(m, actor, entry, 'allowed', OWN_STATEMENT)).recorded);
  }

  /**
   * A sign-in attempt: `auth.login` when allowed, else `auth.login_failed`. The entry belongs to the account
   * (its role, communes or organisation, hence its supervisors' jurisdiction); an attempt on an unknown
   * username has no actor and is visible to national supervisors only. With a manager in an open transaction
   * it is written in that transaction, otherwise in a statement of its own.
   */
  async recordSignIn(attempt: SignInAttempt, manager?: EntityManager): Promise<AuditRecorded> {
    const write = async (m: EntityManager, holder: StripeHolder): Promise<AuditRecorded> => {
      // An unknown username looks its account up too (an id no account has): the refusal is written before
      // the 401 goes out, and a statement fewer would answer an unknown username a little sooner.
      const actor = await this.accountActor(m, attempt.userId ?? NO_ACCOUNT);
      const entry: AuditEntryInput = {
        action: attempt.outcome === 'allowed' ? 'auth.login' : 'auth.login_failed',
        outcome: attempt.outcome,
        resourceType: actor ? 'user' : null,
        resourceId: actor?.userId ?? null,
        reason: attempt.reason ?? null,
        ...(attempt.request ? { request: attempt.request } : {}),
      };
      return (await this.write(m, actor, entry, attempt.outcome, holder)).recorded;
    };
    if (manager?.queryRunner?.isTransactionActive) return write(manager, manager.queryRunner);
    return this.session((m) => write(m, OWN_STATEMENT));
  }

  /**
   * Writes one entry, in the transaction `holder` (the manager's runner) or, for OWN_STATEMENT, in a statement
   * of its own. Takes a stripe, chains the entry to the stripe's head as this process knows it, and inserts it
   * with a statement that moves the head only if it has not moved meanwhile; if it has, reads the head again
   * and retries.
   */
  private async write(
    manager: EntityManager,
    actor: AuditActor | null,
    input: AuditEntryInput,
    defaultOutcome: AuditOutcome,
    holder: StripeHolder,
    covered?: CoveredWrites,
  ): Promise<Written> {
    const checked = checkAuditEntry(actor, input, defaultOutcome, actor?.request ?? NO_REQUEST);
    const jurisdictions = await this.jurisdictions.provincesOf(manager, checked);
    this.writers++;
    try {
      return await this.append(manager, checked, jurisdictions, holder, covered);
    } finally {
      this.writers--;
    }
  }

  private async append(
    manager: EntityManager,
    checked: CheckedEntry,
    jurisdictions: string[],
    holder: StripeHolder,
    covered?: CoveredWrites,
  ): Promise<Written> {
    let moved: number | undefined;
    for (let attempt = 1; ; attempt++) {
      const stripe =
        moved === undefined ? await this.takeStripe(holder) : await this.retake(manager, holder, moved);
      try {
        const head = this.stripes.head(stripe) ?? (await this.readHead(manager, stripe));
        const seq = await this.nextSeq(manager, head.lastSeq);
        // (CheckedEntry's actorProvince, actorOrgProvince and subjectProvinces ride along unused: the encoder and
        // the insert take the row's columns.)
        const row: AuditRow = {
          ...checked,
          seq,
          stripe,
          prevSeq: head.lastSeq,
          atMs: Date.now(),
          jurisdictions,
        };
        const mac = this.keys.auditChainMac(head.mac, this.encoder.encode(row));
        // No row back: another writer moved the head first, and nothing was written (ENTRY_STATEMENT).
        const values = auditEventValues(row, mac);
        const written = covered
          ? await manager.query<Record<string, unknown>[]>(coveredEntryStatement(covered.ctes), [
              ...values,
              ...covered.params,
            ])
          : await manager.query<Record<string, unknown>[]>(ENTRY_STATEMENT, values);
        if (written.length > 0) {
          this.stripes.setHead(stripe, { lastSeq: seq, mac });
          return { recorded: { seq, stripe }, rows: written };
        }
        this.stripes.setHead(stripe, null);
        moved = stripe;
        if (attempt >= APPEND_ATTEMPTS) {
          throw new TransientError(
            `the access-log stripe ${stripe} head kept moving under ${APPEND_ATTEMPTS} attempts`,
          );
        }
      } catch (e) {
        // The statement failed: in a transaction, that transaction is lost and will roll back.
        this.stripes.setHead(stripe, null);
        throw e;
      } finally {
        this.stripes.release(stripe);
      }
    }
  }

  /**
   * The stripe of a retry after `moved`'s head was found moved, its head read now. A transaction keeps its
   * stripe and reads the head with a lock, which waits for the writer that moved it to end: from then on the
   * transaction holds the head's row, so the retry cannot find it moved again. An entry of its own takes a
   * free stripe whose head no transaction holds at this moment (`SKIP LOCKED`), so that it does not queue
   * behind another instance's busy stripe (where each retry found the head moved again by that instance's next
   * transaction, five times in a row under the multi-instance test's concurrent accepts); when every one is
   * held, the stripe that moved.
   */
  private async retake(manager: EntityManager, holder: StripeHolder, moved: number): Promise<number> {
    if (holder !== OWN_STATEMENT) {
      const stripe = await this.takeStripe(holder);
      await this.readHead(manager, stripe, 'lock');
      return stripe;
    }
    const free = this.stripes.freeStripes();
    const [unlocked] = free.length
      ? await manager.query<{ stripe: number; last_seq: string; head: Buffer }[]>(
          `SELECT stripe, last_seq, head FROM audit_chain_heads WHERE stripe = ANY($1::smallint[])
            ORDER BY random() LIMIT 1 FOR UPDATE SKIP LOCKED`,
          [free],
        )
      : [];
    const stripe = await this.takeStripe(holder, unlocked ? Number(unlocked.stripe) : moved);
    try {
      if (unlocked && stripe === Number(unlocked.stripe)) {
        this.stripes.setHead(stripe, { lastSeq: Number(unlocked.last_seq), mac: unlocked.head });
      } else {
        await this.readHead(manager, stripe);
      }
    } catch (e) {
      this.stripes.release(stripe);
      throw e;
    }
    return stripe;
  }

  /** Who holds the entry's stripe: the manager's transaction, or its own statement (refused when `need` fails). */
  private holderOf(manager: EntityManager, need: ManagerNeed): StripeHolder {
    const runner = manager.queryRunner;
    const inTransaction = runner?.isTransactionActive === true;
    if (
      !runner ||
      (need === 'transaction' && !inTransaction) ||
      (need === 'no transaction' && inTransaction)
    ) {
      throw new AuditEntryError('manager', MANAGER_MISUSE[need]);
    }
    return inTransaction ? runner : OWN_STATEMENT;
  }

  /**
   * A stripe for `holder` (`again`, whose head just moved, if it is free); when every stripe is held by an open
   * transaction of this process, waits for one.
   */
  private async takeStripe(holder: StripeHolder, again?: number): Promise<number> {
    const deadline = Date.now() + STRIPE_WAIT_MS;
    for (;;) {
      const stripe = this.stripes.take(holder, again);
      if (stripe !== null) return stripe;
      if (Date.now() >= deadline) {
        throw new TransientError(
          `every access-log stripe stayed held by an open transaction for ${STRIPE_WAIT_MS} ms`,
        );
      }
      await sleep(5);
    }
  }

  private async readHead(manager: EntityManager, stripe: number, lock?: 'lock'): Promise<StripeHead> {
    const [row] = await manager.query<{ last_seq: string; head: Buffer }[]>(
      lock
        ? `SELECT last_seq, head FROM audit_chain_heads WHERE stripe = $1 FOR UPDATE`
        : `SELECT last_seq, head FROM audit_chain_heads WHERE stripe = $1`,
      [stripe],
    );
    if (!row) throw new Error('the access-log chain heads are missing (migration 1764000000400)');
    const head = { lastSeq: Number(row.last_seq), mac: row.head };
    this.stripes.setHead(stripe, head);
    return head;
  }

  /** A seq above `after` (the stripe's last), from the pool or from a new block of `audit_events_seq`. */
  private async nextSeq(manager: EntityManager, after: number): Promise<number> {
    const pooled = this.stripes.takeSeq(after);
    if (pooled !== undefined) return pooled;
    const rows = await manager.query<{ seq: string }[]>(
      `SELECT nextval('audit_events_seq') AS seq FROM generate_series(1, $1)`,
      [this.stripes.seqBlock(this.writers)],
    );
    this.stripes.addSeqs(rows.map((r) => Number(r.seq)));
    const seq = this.stripes.takeSeq(after);
    if (seq === undefined) throw new Error('audit_events_seq is behind a stripe head');
    return seq;
  }

  private async accountActor(manager: EntityManager, userId: string): Promise<AuditActor | null> {
    const rows = await manager.query<
      {
        id: string;
        role: AuditRole;
        organization_id: string | null;
        organization_province: string | null;
        province_code: string | null;
        communes: string[];
      }[]
    >(
      `SELECT u.id, u.role, u.organization_id, o.province_code AS organization_province, u.province_code,
              ARRAY(SELECT uc.commune_code FROM user_communes uc WHERE uc.user_id = u.id ORDER BY 1)::text[] AS communes
         FROM users u LEFT JOIN organizations o ON o.id = u.organization_id WHERE u.id = $1`,
      [userId],
    );
    const u = rows[0];
    if (!u) return null;
    return {
      userId: u.id,
      role: u.role,
      organizationId: u.organization_id,
      organizationProvince: u.organization_province,
      wardCodes: u.communes,
      provinceCode: u.role === 'supervisor' ? u.province_code : null,
    };
  }
}

/**
 * Notes a refusal, written to the access log once the work has ended (AuditService.session, transaction);
 * `refusals()` arms the entry written for a refusal the work throws from then on.
 */
export type Deny = ((actor: AuditActor | null, entry: AuditEntryInput) => void) & {
  refusals(actor: AuditActor | null, entry: AuditEntryInput): void;
};
