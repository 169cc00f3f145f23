import { randomInt } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, QueryRunner } from 'typeorm';
import { currentRequestContext } from '../common/http/request-context';
import { PurposeKeys } from '../crypto';
import { CommuneProvinces } from '../directory/commune-provinces';
import { auditEventValues, CanonicalEncoder } from './audit-canonical';
import { AuditEntryError, checkAuditEntry } from './audit-entry.guard';
import { JurisdictionResolver } from './audit-jurisdiction';
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

interface LockedHead {
  stripe: number;
  lastSeq: number;
  head: Buffer;
  seq: number;
}

const OWN_TRANSACTION_ATTEMPTS = 5;
const LOCK_NOT_AVAILABLE = '55P03';

/**
 * Writes the access log (docs/audit.md). Protects the record of who looked at what: every entry is checked
 * for free text, chained to its stripe's previous entry with a keyed MAC, and written in the caller's
 * transaction, so that an access and its entry commit or fail together.
 *
 * Concurrency: an entry locks one of 16 stripe heads (FOR UPDATE SKIP LOCKED, so it takes a free one) until
 * its transaction ends; a transaction keeps the stripe it first took. Up to 16 transactions append at once.
 */
@Injectable()
export class AuditService {
  private readonly encoder = new CanonicalEncoder();
  private readonly jurisdictions: JurisdictionResolver;
  private readonly stripeOf = new WeakMap<QueryRunner, number>();

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly keys: PurposeKeys,
    communes: CommuneProvinces,
  ) {
    this.jurisdictions = new JurisdictionResolver(communes);
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
    return this.write(manager, actor, entry, 'allowed', false);
  }

  /**
   * Records a refused access in a transaction of its own, so that it stays on record even though the caller's
   * transaction (if any) rolls back with the refusal. Outcome `denied` unless the entry says otherwise.
   */
  async recordDenied(actor: AuditActor | null, entry: AuditEntryInput): Promise<AuditRecorded> {
    return this.recordInOwnTransaction(actor, { ...entry, outcome: entry.outcome ?? 'denied' });
  }

  /**
   * Runs `work` in a transaction of the data source; the denials it notes with `deny()` are written after that
   * transaction has ended (each in a transaction of its own), also when `work` throws. Unlike recordDenied()
   * inside a transaction, this never holds two pool connections for one request, so a burst of refused
   * requests cannot exhaust the pool.
   */
  async transaction<T>(
    work: (
      manager: EntityManager,
      deny: (actor: AuditActor | null, entry: AuditEntryInput) => void,
    ) => Promise<T>,
  ): Promise<T> {
    const denials: [AuditActor | null, AuditEntryInput][] = [];
    try {
      return await this.dataSource.transaction((m) =>
        work(m, (actor, entry) => void denials.push([actor, entry])),
      );
    } finally {
      for (const [actor, entry] of denials) await this.recordDenied(actor, entry);
    }
  }

  /** Records an entry in a transaction of its own (outcome `allowed` unless the entry says otherwise). */
  async recordInOwnTransaction(actor: AuditActor | null, entry: AuditEntryInput): Promise<AuditRecorded> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.dataSource.transaction((m) => this.write(m, actor, entry, 'allowed', true));
      } catch (e) {
        // Every stripe was busy for the lock timeout: try again with another one (never wait forever here,
        // the caller's own transaction may be what holds the stripe).
        if (pgCode(e) !== LOCK_NOT_AVAILABLE || attempt >= OWN_TRANSACTION_ATTEMPTS) throw e;
      }
    }
  }

  /**
   * A sign-in attempt: `auth.login` when allowed, else `auth.login_failed`. The entry belongs to the account
   * (its role, communes or organisation, hence its supervisors' jurisdiction); an attempt on an unknown
   * username has no actor and is visible to national supervisors only. With a manager it is written in that
   * transaction, otherwise in its own.
   */
  async recordSignIn(attempt: SignInAttempt, manager?: EntityManager): Promise<AuditRecorded> {
    const write = async (m: EntityManager, own: boolean): Promise<AuditRecorded> => {
      const actor = attempt.userId ? await this.accountActor(m, attempt.userId) : null;
      const entry: AuditEntryInput = {
        action: attempt.outcome === 'allowed' ? 'auth.login' : 'auth.login_failed',
        outcome: attempt.outcome,
        resourceType: actor ? 'user' : null,
        resourceId: actor?.userId ?? null,
        reason: attempt.reason ?? null,
        ...(attempt.request ? { request: attempt.request } : {}),
      };
      return this.write(m, actor, entry, attempt.outcome, own);
    };
    if (manager) return write(manager, false);
    return this.dataSource.transaction((m) => write(m, true));
  }

  private async write(
    manager: EntityManager,
    actor: AuditActor | null,
    input: AuditEntryInput,
    defaultOutcome: AuditOutcome,
    ownTransaction: boolean,
  ): Promise<AuditRecorded> {
    const runner = manager.queryRunner;
    if (!runner || !runner.isTransactionActive) {
      throw new AuditEntryError(
        'manager',
        'is not in an open transaction (pass the manager of dataSource.transaction)',
      );
    }
    const context = currentRequestContext();
    const checked = checkAuditEntry(actor, input, defaultOutcome, {
      ip: context?.ip ?? null,
      userAgent: context?.userAgent ?? null,
      requestId: context?.requestId ?? null,
    });
    const jurisdictions = await this.jurisdictions.provincesOf(manager, checked);

    const locked = await this.lockStripe(manager, runner, ownTransaction);
    const atMs = Date.now();
    const row: AuditRow = {
      seq: locked.seq,
      stripe: locked.stripe,
      prevSeq: locked.lastSeq,
      atMs,
      actorId: checked.actorId,
      actorRole: checked.actorRole,
      actorOrgId: checked.actorOrgId,
      actorCommunes: checked.actorCommunes,
      action: checked.action,
      resourceType: checked.resourceType,
      resourceId: checked.resourceId,
      caseId: checked.caseId,
      fields: checked.fields,
      outcome: checked.outcome,
      reason: checked.reason,
      ip: checked.ip,
      userAgent: checked.userAgent,
      requestId: checked.requestId,
      returnedIds: checked.returnedIds,
      provinceCode: checked.provinceCode,
      communeCode: checked.communeCode,
      jurisdictions,
    };
    const mac = this.keys.auditChainMac(locked.head, this.encoder.encode(row));
    await manager.query(
      `WITH ins AS (
         INSERT INTO audit_events (seq, stripe, prev_seq, at, actor_id, actor_role, actor_org_id, actor_communes,
                                   action, resource_type, resource_id, case_id, fields, outcome, reason, ip,
                                   user_agent, request_id, returned_ids, province_code, commune_code,
                                   jurisdictions, mac)
         VALUES ($1, $2, $3, $4::timestamptz, $5, $6, $7, $8::varchar[], $9, $10, $11, $12, $13::varchar[], $14,
                 $15, $16, $17, $18, $19::uuid[], $20, $21, $22::varchar[], $23)
         RETURNING seq
       )
       UPDATE audit_chain_heads SET last_seq = (SELECT seq FROM ins), head = $23, updated_at = $4::timestamptz
        WHERE stripe = $2`,
      auditEventValues(row, mac),
    );
    return { seq: row.seq, stripe: row.stripe };
  }

  /**
   * Locks a stripe head for the rest of the transaction and draws the entry's seq under that lock, so that
   * within a stripe seq order is chain order. Takes the stripe this transaction already holds, else any
   * free one (starting at a random stripe); only when all are busy does it wait for one.
   */
  private async lockStripe(
    manager: EntityManager,
    runner: QueryRunner,
    ownTransaction: boolean,
  ): Promise<LockedHead> {
    const preferred = this.stripeOf.get(runner) ?? -1;
    const start = randomInt(AUDIT_STRIPES);
    let rows = await manager.query<HeadRow[]>(
      `WITH h AS MATERIALIZED (
         SELECT stripe, last_seq, head FROM audit_chain_heads
          ORDER BY (stripe <> $1), (stripe < $2), stripe
          LIMIT 1
          FOR UPDATE SKIP LOCKED
       )
       SELECT h.stripe, h.last_seq, h.head, nextval('audit_events_seq') AS seq FROM h`,
      [preferred, start],
    );
    if (rows.length === 0) {
      if (ownTransaction) await manager.query(`SET LOCAL lock_timeout = '2s'`);
      rows = await manager.query<HeadRow[]>(
        `WITH h AS MATERIALIZED (
           SELECT stripe, last_seq, head FROM audit_chain_heads WHERE stripe = $1 FOR UPDATE
         )
         SELECT h.stripe, h.last_seq, h.head, nextval('audit_events_seq') AS seq FROM h`,
        [preferred >= 0 ? preferred : start],
      );
    }
    const row = rows[0];
    if (!row) throw new Error('the access-log chain heads are missing (migration 1764000000400)');
    this.stripeOf.set(runner, row.stripe);
    return { stripe: row.stripe, lastSeq: Number(row.last_seq), head: row.head, seq: Number(row.seq) };
  }

  private async accountActor(manager: EntityManager, userId: string): Promise<AuditActor | null> {
    const rows = await manager.query<
      {
        id: string;
        role: AuditRole;
        organization_id: string | null;
        province_code: string | null;
        communes: string[];
      }[]
    >(
      `SELECT u.id, u.role, u.organization_id, u.province_code,
              ARRAY(SELECT uc.commune_code FROM user_communes uc WHERE uc.user_id = u.id ORDER BY 1)::text[] AS communes
         FROM users u WHERE u.id = $1`,
      [userId],
    );
    const u = rows[0];
    if (!u) return null;
    return {
      userId: u.id,
      role: u.role,
      organizationId: u.organization_id,
      wardCodes: u.communes,
      provinceCode: u.role === 'supervisor' ? u.province_code : null,
    };
  }
}

interface HeadRow {
  stripe: number;
  last_seq: string;
  head: Buffer;
  seq: string;
}

function pgCode(e: unknown): string | undefined {
  const err = e as { code?: unknown; driverError?: { code?: unknown } } | null;
  const code = err?.driverError?.code ?? err?.code;
  return typeof code === 'string' ? code : undefined;
}
