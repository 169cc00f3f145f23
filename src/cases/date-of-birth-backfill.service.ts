import { BeforeApplicationShutdown, Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Logger } from 'pino';
import { DataSource, EntityManager } from 'typeorm';
import { LOGGER } from '../common/logging/logger.module';
import { BlindIndexService } from '../crypto/blind-index.service';
import { CryptoError } from '../crypto/crypto.errors';
import { joinedDataKeyColumns, joinedDataKeyRow } from '../crypto/data-key.repository';
import { DataKeyService } from '../crypto/data-key.service';
import { FieldEncryptionService } from '../crypto/field-encryption.service';
import { openSections } from './case-sections';
import { CASE_OWNER } from './cases.service';

const BATCH = 200;
/** How often a running service looks for cases left without the index (see the class comment). */
const AGAIN_EVERY_MS = 10 * 60 * 1000;

export interface BackfillResult {
  /** Cases whose date-of-birth index was written. */
  filled: number;
  /** Cases left as they were: their key or identity could not be opened (tried again at the next run). */
  failed: number;
}

/**
 * Fills the date-of-birth index (`bi_dob`) of the cases registered before it existed (migration
 * DateOfBirthIndex): their date is only inside `enc_identity`, which a migration, holding no keys, cannot open.
 * Runs in the background after each start and again every 10 minutes, a batch at a time; the partial index
 * `cases_bi_dob_pending_idx` finds what is left at once (nothing, once done). Each batch locks its rows with
 * SKIP LOCKED: a case locked by a change or by another instance's batch is passed over, and taken at the next
 * run (as is a case an instance of the previous version registered during a rolling deploy). The index is
 * written without a new version or `updated_at`: nobody changed the case. A case that cannot be opened is
 * counted, logged without anything of it, and tried again at the next run; it stops nothing. Not on the access
 * log: no person reads anything, the date is opened in memory to be hashed, as a registration does
 * (docs/audit.md). Stops between batches when the service shuts down.
 */
@Injectable()
export class DateOfBirthBackfill implements BeforeApplicationShutdown {
  private stopping = false;
  private running?: Promise<BackfillResult>;
  private timer?: NodeJS.Timeout;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly dataKeys: DataKeyService,
    private readonly fields: FieldEncryptionService,
    private readonly blind: BlindIndexService,
    @Inject(LOGGER) private readonly logger: Logger,
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
        this.logger.warn({ err: e }, 'date-of-birth index backfill stopped; it resumes at its next run');
        return { filled: 0, failed: 0 };
      })
      .finally(() => {
        this.running = undefined;
      });
  }

  /** Fills what is left, batch by batch, each row once per run (a row that fails is passed over until the next). */
  async run(batchSize = BATCH): Promise<BackfillResult> {
    const total: BackfillResult = { filled: 0, failed: 0 };
    let after: string | null = null;
    while (!this.stopping) {
      const batch = await this.dataSource.transaction((m) => this.fillBatch(m, after, batchSize));
      total.filled += batch.filled;
      total.failed += batch.failed;
      if (batch.last === null) break;
      after = batch.last;
    }
    if (total.filled > 0 || total.failed > 0) {
      this.logger[total.failed > 0 ? 'warn' : 'info'](
        { filled: total.filled, failed: total.failed },
        total.failed > 0
          ? 'date-of-birth index backfill: some cases could not be opened; tried again at the next run'
          : 'date-of-birth index backfill done',
      );
    }
    return total;
  }

  private async fillBatch(
    m: EntityManager,
    after: string | null,
    batchSize: number,
  ): Promise<BackfillResult & { last: string | null }> {
    const rows = await m.query<Record<string, unknown>[]>(
      `SELECT c.id, c.enc_identity, ${joinedDataKeyColumns('dk')}
         FROM cases c
         LEFT JOIN data_keys dk ON dk.owner_type = $1 AND dk.owner_id = c.id
        WHERE c.bi_dob IS NULL AND c.bi_name_dob IS NOT NULL AND ($2::uuid IS NULL OR c.id > $2::uuid)
        ORDER BY c.id
        LIMIT $3
        FOR NO KEY UPDATE OF c SKIP LOCKED`,
      [CASE_OWNER, after, batchSize],
    );
    const ids: string[] = [];
    const indexes: Buffer[] = [];
    let failed = 0;
    for (const row of rows) {
      const id = row.id as string;
      try {
        const dob = await this.dateOfBirth(id, row);
        if (dob === null) continue;
        indexes.push(Buffer.from(this.blind.dateOfBirth(dob)));
        ids.push(id);
      } catch {
        // Not opened (a key or a ciphertext that does not open, a date that is not one): counted, and tried again
        // at the next run; the others go on.
        failed++;
      }
    }
    if (ids.length > 0) {
      await m.query(
        `UPDATE cases c SET bi_dob = v.bi_dob
           FROM unnest($1::uuid[], $2::bytea[]) AS v(id, bi_dob)
          WHERE c.id = v.id`,
        [ids, indexes],
      );
    }
    return { filled: ids.length, failed, last: rows.length > 0 ? (rows.at(-1)!.id as string) : null };
  }

  /** The case's date of birth; null when its identity holds none; a CryptoError when it cannot be opened. */
  private async dateOfBirth(id: string, row: Record<string, unknown>): Promise<string | null> {
    if (!row.enc_identity) return null;
    const keyRow = joinedDataKeyRow(row);
    if (!keyRow) throw new CryptoError('crypto.unknown_key', 'no data key for this case');
    const key = await this.dataKeys.unwrap(keyRow);
    try {
      const { identity } = openSections(this.fields, key, id, { identity: row.enc_identity as Buffer }, [
        'identity',
      ]);
      return identity?.dateOfBirth ?? null;
    } finally {
      key.wipe();
    }
  }
}
