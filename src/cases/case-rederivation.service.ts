import { AuditService } from '../audit/audit.service';
import { BeforeApplicationShutdown, Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Logger } from 'pino';
import { DataSource, EntityManager } from 'typeorm';
import { LOGGER } from '../common/logging/logger.module';
import { APP_CONFIG, AppConfig } from '../config/config';
import { BlindIndexService } from '../crypto/blind-index.service';
import { CryptoError, isCryptoError } from '../crypto/crypto.errors';
import { joinedDataKeyColumns, joinedDataKeyRow } from '../crypto/data-key.repository';
import { DataKeyService } from '../crypto/data-key.service';
import { FieldEncryptionService } from '../crypto/field-encryption.service';
import { CaseContext, deriveTriage, GbvType, ViolenceForm } from './case-classification';
import { blindIndexesOf, CASE_DERIVATIONS, triageFactsOf } from './case-derivation';
import { raiseToStatutoryDeadline } from '../referrals/referral-deadline';
import { newlyStatutory, Urgency } from '../referrals/referral-state';
import { openSections } from './case-sections';
import type { CaseBlindIndexes } from './cases.repository';
import { CASE_OWNER } from './cases.service';

const BATCH = 200;
/** How many failed cases a run's log line names at most (the count says how many). */
const MAX_FAILED_NAMED = 50;
/** How often a running service looks for cases left under older rules (see the class comment). */
const AGAIN_EVERY_MS = 10 * 60 * 1000;

export interface RederivationResult {
  /** Cases brought to the current rules (CASE_DERIVATIONS), whether or not anything of them changed. */
  rederived: number;
  /** Cases left as they were: their key or sections could not be opened (tried again at the next run). */
  failed: number;
}

/** What a case's stored facts become under the current rules. */
interface Rederived {
  id: string;
  blind: CaseBlindIndexes;
  ageGroup: string;
  childVn: boolean | null;
  childGbvims: boolean | null;
  contexts: CaseContext[];
  incidentDate: string | null;
  derivedWith: number;
}

/**
 * Brings the stored facts of cases written under older rules (`derived_with` below CASE_DERIVATIONS, see
 * case-derivation.ts) to the current ones: their blind indexes, age group, child flags and contexts, derived
 * again from their sections (opened in memory, as a registration has them) and their triage, and the incident's
 * date (in Vietnam). A context given by the ward is kept: the rules only add to what was given. Child flags that
 * change are taken as a change of the age through the API takes them: a child under 16 now known at high or
 * critical risk makes the case's referrals waiting for an answer urgent (raiseToStatutoryDeadline). (They ground
 * no consent: the consent rules take the survivor's age now, from the same facts, which new rules do not move:
 * consent-age.ts.) Replaces DateOfBirthBackfill (its cases,
 * with no index of the date alone, are among these).
 *
 * Runs in the background after each start and again every 10 minutes, a batch at a time; the partial index
 * `cases_derivations_pending_idx` finds what is left at once (nothing, once done). Each batch locks its rows
 * with SKIP LOCKED: a case locked by a change or by another instance's batch is passed over, and taken at the
 * next run (as is a case an instance of the previous version registered during a rolling deploy). Written
 * without a new version or `updated_at`: nobody changed what was said of the case. A shredded case has nothing
 * to open and nothing to index: marked done. A case that cannot be opened is counted, logged without anything
 * of it, and tried again at the next run; it stops nothing. Not on the access log: no person reads anything, the
 * sections are opened in memory to be hashed and derived, as a registration does (docs/audit.md); a referral
 * it makes urgent is (`referral.update`, by no actor). Stops between
 * batches when the service shuts down.
 */
@Injectable()
export class CaseRederivation implements BeforeApplicationShutdown {
  private stopping = false;
  private running?: Promise<RederivationResult>;
  private timer?: NodeJS.Timeout;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly dataKeys: DataKeyService,
    private readonly fields: FieldEncryptionService,
    private readonly blind: BlindIndexService,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly audit: AuditService,
  ) {}

  /**
   * Starts the runs: by the service once it is up (createHavenApp), not by every context of the application
   * module (users:create-admin boots it too, and has no survivor data to open).
   */
  start(): void {
    if (this.timer) return;
    this.runInBackground();
    this.timer = setInterval(() => this.runInBackground(), AGAIN_EVERY_MS);
    this.timer.unref();
  }

  async beforeApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.stopping = true;
    await this.running;
  }

  /** A run, unless one is still going. */
  private runInBackground(): void {
    if (this.running || this.stopping) return;
    this.running = this.run()
      .catch((e: unknown) => {
        this.logger.warn({ err: e }, 'case re-derivation stopped; it resumes at its next run');
        return { rederived: 0, failed: 0 };
      })
      .finally(() => {
        this.running = undefined;
      });
  }

  /** Takes what is left, batch by batch, each row once per run (a row that fails is passed over until the next). */
  async run(batchSize = BATCH): Promise<RederivationResult> {
    const total: RederivationResult = { rederived: 0, failed: 0 };
    const failedCases: { id: string; code: string }[] = [];
    let after: string | null = null;
    while (!this.stopping) {
      const batch = await this.dataSource.transaction((m) => this.batch(m, after, batchSize));
      total.rederived += batch.rederived;
      total.failed += batch.failedCases.length;
      failedCases.push(...batch.failedCases.slice(0, MAX_FAILED_NAMED - failedCases.length));
      if (batch.last === null) break;
      after = batch.last;
    }
    if (total.rederived > 0 || total.failed > 0) {
      // Ids only (a case's id says nothing of the survivor): a case that did not open comes with the error's
      // code (never a value), for whoever puts its key right.
      this.logger[total.failed > 0 ? 'warn' : 'info'](
        {
          rederived: total.rederived,
          failed: total.failed,
          ...(failedCases.length > 0 ? { failedCases } : {}),
          rules: CASE_DERIVATIONS,
        },
        total.failed > 0
          ? 'case re-derivation: some cases could not be opened; tried again at the next run'
          : 'case re-derivation done',
      );
    }
    return total;
  }

  private async batch(
    m: EntityManager,
    after: string | null,
    batchSize: number,
  ): Promise<{
    rederived: number;
    failedCases: { id: string; code: string }[];
    last: string | null;
  }> {
    const rows = await m.query<Record<string, unknown>[]>(
      `SELECT c.id, c.shredded_at, c.reported_at, c.gbv_type, c.forms, c.contexts, c.child_vn, c.child_gbvims,
              c.risk_level, c.enc_identity, c.enc_contact, c.enc_incident, c.enc_perpetrator,
              ${joinedDataKeyColumns('dk')}
         FROM cases c
         LEFT JOIN data_keys dk ON dk.owner_type = $1 AND dk.owner_id = c.id
        WHERE c.derived_with < ${CASE_DERIVATIONS} AND ($2::uuid IS NULL OR c.id > $2::uuid)
        ORDER BY c.id
        LIMIT $3
        FOR NO KEY UPDATE OF c SKIP LOCKED`,
      [CASE_OWNER, after, batchSize],
    );
    const shredded: string[] = [];
    const done: Rederived[] = [];
    // Cases whose waiting referrals the law now makes urgent: raised together once the batch is read, their
    // referrals locked in id order (raiseToStatutoryDeadline), as every change of several referrals takes them.
    const raised: { id: string; statutory: Urgency }[] = [];
    const failedCases: { id: string; code: string }[] = [];
    for (const row of rows) {
      if (row.shredded_at !== null) {
        shredded.push(row.id as string);
        continue;
      }
      let next: Rederived;
      try {
        next = await this.rederive(row);
      } catch (e) {
        // Not opened (a key or a ciphertext that does not open, a value the rules refuse): named with its code,
        // and tried again at the next run; the others go on.
        failedCases.push({ id: row.id as string, code: isCryptoError(e) ? e.code : 'not_derivable' });
        continue;
      }
      const riskLevel = row.risk_level as string | null;
      const statutory = newlyStatutory(
        { childVn: row.child_vn as boolean | null, riskLevel },
        { childVn: next.childVn, riskLevel },
      );
      if (statutory) raised.push({ id: next.id, statutory });
      done.push(next);
    }
    if (shredded.length > 0) {
      await m.query(`UPDATE cases SET derived_with = $2 WHERE id = ANY($1::uuid[])`, [
        shredded,
        CASE_DERIVATIONS,
      ]);
    }
    if (done.length > 0) {
      const column = <T>(pick: (d: Rederived) => T) => done.map(pick);
      await m.query(
        `UPDATE cases c
            SET bi_name = v.bi_name, bi_name_dob = v.bi_name_dob, bi_phone = v.bi_phone, bi_dob = v.bi_dob,
                age_group = v.age_group, child_vn = v.child_vn, child_gbvims = v.child_gbvims,
                contexts = ARRAY(SELECT jsonb_array_elements_text(v.contexts)), incident_date = v.incident_date,
                derived_with = v.derived_with
           FROM unnest($1::uuid[], $2::bytea[], $3::bytea[], $4::bytea[], $5::bytea[], $6::text[], $7::boolean[],
                       $8::boolean[], $9::jsonb[], $10::date[], $11::smallint[])
                AS v(id, bi_name, bi_name_dob, bi_phone, bi_dob, age_group, child_vn, child_gbvims, contexts,
                     incident_date, derived_with)
          WHERE c.id = v.id`,
        [
          column((d) => d.id),
          column((d) => d.blind.name),
          column((d) => d.blind.nameDob),
          column((d) => d.blind.phone),
          column((d) => d.blind.dob),
          column((d) => d.ageGroup),
          column((d) => d.childVn),
          column((d) => d.childGbvims),
          column((d) => JSON.stringify(d.contexts)),
          column((d) => d.incidentDate),
          column((d) => d.derivedWith),
        ],
      );
    }
    // Last, as access-log entries come (each holds a stripe of the chain until the batch commits): the cases'
    // rows are this batch's already, their referrals are taken next, in id order.
    for (const statutory of new Set(raised.map((r) => r.statutory))) {
      const ids = raised.filter((r) => r.statutory === statutory).map((r) => r.id);
      // By the system: the rules changed, nobody changed the case.
      await raiseToStatutoryDeadline(
        m,
        ids,
        statutory,
        this.config.referrals.deadlinesMinutes,
        this.audit,
        null,
      );
    }
    return {
      rederived: shredded.length + done.length,
      failedCases,
      last: rows.length > 0 ? (rows.at(-1)!.id as string) : null,
    };
  }

  /** The case's facts under the current rules; a CryptoError (or a rule's refusal) when it cannot be opened. */
  private async rederive(row: Record<string, unknown>): Promise<Rederived> {
    const id = row.id as string;
    const keyRow = joinedDataKeyRow(row);
    if (!keyRow) throw new CryptoError('crypto.unknown_key', 'no data key for this case');
    const key = await this.dataKeys.unwrap(keyRow);
    try {
      const s = openSections(
        this.fields,
        key,
        id,
        {
          identity: row.enc_identity as Buffer | null,
          contact: row.enc_contact as Buffer | null,
          incident: row.enc_incident as Buffer | null,
          perpetrator: row.enc_perpetrator as Buffer | null,
        },
        ['identity', 'contact', 'incident', 'perpetrator'],
      );
      // As a registration or a change derives them (CasesService), from the facts as they are stored now; the
      // contexts stored are kept (those the ward gave, and those derived before: the rules only add).
      const facts = triageFactsOf(s, row.reported_at as Date);
      const derived = deriveTriage({
        ...facts,
        forms: row.forms as ViolenceForm[],
        gbvType: row.gbv_type as GbvType,
        contexts: row.contexts as CaseContext[],
      });
      return {
        id,
        blind: blindIndexesOf(this.blind, s),
        ageGroup: derived.ageGroup,
        childVn: derived.childVn,
        childGbvims: derived.childGbvims,
        contexts: derived.contexts,
        incidentDate: facts.incidentDate ?? null,
        derivedWith: CASE_DERIVATIONS,
      };
    } finally {
      key.wipe();
    }
  }
}
