import { join } from 'node:path';
import { BeforeApplicationShutdown, Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Logger } from 'pino';
import { DataSource } from 'typeorm';
import { DomainError } from '../common/errors/domain-error';
import { PacedTask } from '../common/paced-task';
import { LOGGER } from '../common/logging/logger.module';
import { APP_CONFIG, AppConfig, ConfigError } from '../config/config';
import { PurposeKeys } from '../crypto';
import {
  Checkpoint,
  CheckpointFile,
  CheckpointHead,
  checkCheckpoint,
  checkpointRoot,
  checkpointRowParams,
  INSERT_CHECKPOINT_SQL,
  keyIdOf,
  NEWEST_CHECKPOINT_SQL,
  signCheckpoint,
} from './audit-checkpoint';
import { type SqlClient, verifyAuditChain } from './audit-verifier';

/**
 * At most this many entries before the log's first checkpoint are verified at start (assertEntriesChainedHere):
 * an installation's first entries (an operator tool's) take milliseconds; a log loaded without a checkpoint
 * would take minutes.
 */
const FIRST_START_ENTRIES = 100_000;

export interface IssuedCheckpoint {
  checkpoint: Checkpoint;
  /** False when the log had not changed since the latest checkpoint (that one is returned). */
  created: boolean;
}

/** Checkpoints asked for by requests: one a second at most per instance, shared by the requests meanwhile. */
export const CHECKPOINT_ON_DEMAND_REST_MS = 1000;

/** Where the checkpoint files of a data directory live. */
export function checkpointDir(dataDir: string): string {
  return join(dataDir, 'checkpoints');
}

/**
 * Issues signed checkpoints of the access log: every HAVEN_AUDIT_CHECKPOINT_INTERVAL_SECONDS when the log
 * changed (an unref'd timer), at start and at shutdown, and on demand. At start, timer and shutdown only in the
 * service (createHavenApp calls startIssuing): the operator tools that boot the module (users:create-admin,
 * users:reset-admin) check the keys and sign nothing, so no second process appends to this host's file, and a
 * tool run where HAVEN_DATA_DIR is not the service's leaves no stray checkpoint file behind; the service's next
 * checkpoint covers what a tool wrote. Each goes to the file under
 * HAVEN_DATA_DIR/checkpoints first, then to the audit_checkpoints table. Before signing, every stripe head
 * must match its last entry, and the log must still hold what the previous checkpoint (the file's last, and the
 * database's newest) named: no head behind it, each of its heads still an entry with the same MAC. Otherwise
 * nothing is signed (`audit.checkpoint_refused`; verification says what is wrong): a checkpoint signed over a
 * log whose tail was cut would make the cut verify.
 */
@Injectable()
export class AuditCheckpointService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  readonly file: CheckpointFile;
  private readonly intervalMs: number;
  private timer?: NodeJS.Timeout;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly allowKeyChange: boolean;
  /**
   * Whether this process issues checkpoints at start, on its timer and at shutdown (startIssuing: the service);
   * never before its keys passed assertSameKeys.
   */
  private issuing = false;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly keys: PurposeKeys,
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    this.file = new CheckpointFile(checkpointDir(config.dataDir));
    this.intervalMs = config.audit.checkpointIntervalSeconds * 1000;
    this.allowKeyChange = config.keys.allowChange;
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.assertSameKeys();
  }

  /**
   * The service's checkpoints: one now, then on the timer, and one at shutdown. Called once the application
   * has started (its keys checked at bootstrap).
   */
  async startIssuing(): Promise<void> {
    if (this.issuing) return;
    this.issuing = true;
    await this.issueQuietly('start');
    if (this.intervalMs > 0) {
      this.timer = setInterval(() => void this.issueQuietly('timer'), this.intervalMs);
      this.timer.unref();
    }
  }

  async beforeApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    // A start refused (other keys than the log's, or another check) still shuts down, and signs nothing: a
    // checkpoint signed then with the wrong keys would become the newest, and the instances with the right ones
    // would refuse to start. Nor does an operator tool's context.
    if (!this.issuing) return;
    await this.issueQuietly('shutdown');
  }

  /**
   * Refuses to start with other keys than those that signed the log's newest checkpoint. An instance with a
   * wrong master key would otherwise pass /health, break the access-log chain with its first entry, write data
   * keys no other instance can unwrap and issue tokens no other instance accepts (docs/deployment.md, "Keys").
   * HAVEN_ALLOW_KEY_CHANGE=1 lets a deliberate change of master secret through (docs/keys.md).
   */
  private async assertSameKeys(): Promise<void> {
    // A malformed checkpoint is verification's finding, not a reason to stay down.
    const latest = await this.latestStored();
    if (latest === null) return this.assertEntriesChainedHere();
    const stored = (latest as { keyId?: unknown }).keyId;
    const own = this.publicKey().keyId;
    if (typeof stored !== 'string' || stored === own) return;
    if (this.allowKeyChange) {
      this.logger.warn(
        { previousKeyId: stored, keyId: own },
        'master key changed (HAVEN_ALLOW_KEY_CHANGE=1)',
      );
      return;
    }
    throw new ConfigError([
      `HAVEN_MASTER_KEY / HAVEN_MASTER_KEY_FILE: the access log's newest checkpoint was signed with key ${stored}, ` +
        `this instance's keys are ${own}: every instance must run with the same master key. ` +
        'For a deliberate change of master secret, start once with HAVEN_ALLOW_KEY_CHANGE=1 (docs/keys.md). ' +
        'If the key is the right one, that checkpoint is not genuine: `npm run audit:verify` with this key then ' +
        'finds the entries intact and the checkpoint signed by a foreign key (docs/audit.md).',
    ]);
  }

  /**
   * No checkpoint yet to compare keys with, but perhaps entries already: an operator tool's (users:create-admin
   * on a new installation, which signs no checkpoint) run with another master key than this instance's. Taken
   * as they are, this instance's first checkpoint would make its own keys the log's, and the tool's entries would
   * read as altered for good. So the log, small before its first checkpoint, is verified with this instance's
   * keys first, and a log they do not verify refuses the start as another key would. Past FIRST_START_ENTRIES
   * entries without a checkpoint (a log loaded straight into the database), it is left to audit:verify, and said.
   */
  private async assertEntriesChainedHere(): Promise<void> {
    const [{ n }] = await this.dataSource.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM (SELECT 1 FROM audit_events LIMIT ${FIRST_START_ENTRIES + 1}) e`,
    );
    if (n === 0) return;
    if (n > FIRST_START_ENTRIES) {
      this.logger.warn(
        { entriesAtLeast: n },
        'the access log has no checkpoint yet to compare this instance’s keys with, and too many entries to verify at start: run `npm run audit:verify` with these keys',
      );
      return;
    }
    const runner = this.dataSource.createQueryRunner();
    let result: Awaited<ReturnType<typeof verifyAuditChain>>;
    try {
      result = await verifyAuditChain((await runner.connect()) as SqlClient, this.keys);
    } finally {
      await runner.release();
    }
    if (result.ok) return;
    if (this.allowKeyChange) {
      this.logger.warn(
        { firstBadSeq: result.firstBadSeq, problem: result.problem },
        'the access log’s entries do not verify with this instance’s keys (HAVEN_ALLOW_KEY_CHANGE=1)',
      );
      return;
    }
    throw new ConfigError([
      `HAVEN_MASTER_KEY / HAVEN_MASTER_KEY_FILE: the access log has no checkpoint yet, and its entries do not ` +
        `verify with this instance's keys (first at seq ${result.firstBadSeq}: ${result.problem}): were they ` +
        'written by a tool (users:create-admin) run with another master key? Every process must use the same ' +
        'one. If the log was altered instead, `npm run audit:verify` says how; to start anyway, start once with ' +
        'HAVEN_ALLOW_KEY_CHANGE=1 (docs/keys.md).',
    ]);
  }

  /** The public key checkpoints are signed with, to verify them elsewhere. */
  publicKey(): { algorithm: 'Ed25519'; keyId: string; publicKey: string } {
    const key = this.keys.checkpointPublicKey();
    return { algorithm: 'Ed25519', keyId: keyIdOf(key), publicKey: key.toString('base64') };
  }

  /**
   * Checkpoints asked for by requests (each signs the heads, appends to the file with an fsync and stores a
   * row): one a second at most; the requests that arrive meanwhile share the next, which begins after they asked
   * (so it covers whatever they wrote before). The timer's, the start's and the shutdown's go through issue().
   */
  private readonly requested = new PacedTask(
    () => this.issue(),
    () => CHECKPOINT_ON_DEMAND_REST_MS,
  );

  /** A checkpoint asked for now, by a request: see `requested`. */
  issueRequested(): Promise<IssuedCheckpoint> {
    return this.requested.next();
  }

  /** Signs the current heads, unless they are those of the latest checkpoint and `force` is false. */
  issue(force = false): Promise<IssuedCheckpoint> {
    // One at a time in this process, so that two callers never sign the same heads twice.
    const next = this.queue.then(() => this.issueNow(force));
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** The newest checkpoint in the database (any instance's), or null. Not verified: see checkCheckpoint. */
  async latestStored(): Promise<unknown> {
    const rows = await this.dataSource.query<{ document: string }[]>(NEWEST_CHECKPOINT_SQL);
    if (!rows[0]) return null;
    try {
      return JSON.parse(rows[0].document) as unknown;
    } catch {
      return { malformed: true };
    }
  }

  private async issueNow(force: boolean): Promise<IssuedCheckpoint> {
    // The previous checkpoints first: heads only move forward, so whatever another instance signs after this
    // read has heads no further than those read next, and cannot look ahead of them.
    const inFile = this.file.readAppended();
    if (inFile.wentBack !== null) {
      // An older checkpoint appended again (or an edit): it would stand in for the furthest and hide a tail cut.
      return this.refuse(
        `the checkpoint file goes back (a line of seq ${inFile.wentBack} after a further one)`,
      );
    }
    const stored = await this.latestStored();
    const previous = [...inFile.candidates, stored];
    const rows = await this.dataSource.query<
      { stripe: number; last_seq: string; head: Buffer; entry_matches: boolean | null }[]
    >(
      `SELECT h.stripe, h.last_seq, h.head,
              CASE WHEN h.last_seq = 0 THEN true ELSE (e.stripe = h.stripe AND e.mac = h.head) END AS entry_matches
         FROM audit_chain_heads h
         LEFT JOIN audit_events e ON e.seq = h.last_seq
        ORDER BY h.stripe`,
    );
    const broken = rows.filter((r) => r.entry_matches !== true).map((r) => r.stripe);
    if (broken.length) {
      return this.refuse(`stripe heads ${broken.join(', ')} do not match their last entries`);
    }
    const heads: CheckpointHead[] = rows.map((r) => ({
      stripe: r.stripe,
      seq: Number(r.last_seq),
      mac: r.head.toString('base64'),
    }));
    const behind = await this.behindPrevious(previous, heads);
    if (behind) return this.refuse(behind);
    const root = checkpointRoot(heads).toString('hex');
    const signed = (c: unknown): c is Checkpoint => checkCheckpoint(this.keys, c) === 'ok';
    if (!force) {
      // Nothing to sign when this instance's keys signed these heads, in its file and in the database: a row of
      // the same heads signed with other keys (the service's role may store one) is no such checkpoint, and
      // would otherwise stand as the newest while the log is quiet (refusing every start: assertSameKeys).
      const signedHere = (c: unknown): c is Checkpoint => signed(c) && c.root === root;
      if (signedHere(stored) && inFile.candidates.some(signedHere)) {
        return { checkpoint: stored, created: false };
      }
    }
    const checkpoint = signCheckpoint(this.keys, heads, new Date());
    // Another process on this data directory (docs/deployment.md: one per instance; a restart's overlap shares
    // it) may have appended a checkpoint of further heads since they were read here: appended after it, this one
    // would make the file go back, and every later checkpoint would be refused. Only a line this instance's keys
    // signed counts (a forged one ahead is left to make the file go back, and be refused loudly).
    const further = this.file
      .readAppended()
      .candidates.find((c): c is Checkpoint => signed(c) && goesFurther(c, checkpoint));
    if (further) {
      this.logger.warn(
        { event: 'audit.checkpoint_skipped', seq: checkpoint.seq, further: further.seq },
        'access-log checkpoint not written: the checkpoint file already has a further one (another process on this data directory?)',
      );
      return { checkpoint: further, created: false };
    }
    this.file.append(checkpoint);
    await this.dataSource.query(INSERT_CHECKPOINT_SQL, checkpointRowParams(checkpoint));
    return { checkpoint, created: true };
  }

  /**
   * What the log lost since the previous checkpoints this instance signed (its file's last, the database's
   * newest; one signed with other keys, or not verifying, is verification's finding, not a reference here), or
   * null. Heads only move forward, and an entry once written stays: a head behind the previous one, or a
   * previous head whose entry is gone or changed, means entries were removed or the log was rolled back (a
   * restore from a backup does that too: docs/audit.md, "After a restore").
   */
  private async behindPrevious(
    previous: readonly unknown[],
    heads: readonly CheckpointHead[],
  ): Promise<string | null> {
    const now = new Map(heads.map((h) => [h.stripe, h]));
    const passed: CheckpointHead[] = [];
    for (const c of previous.filter((p): p is Checkpoint => checkCheckpoint(this.keys, p) === 'ok')) {
      for (const h of c.heads) {
        const head = now.get(h.stripe);
        if (!head || head.seq < h.seq || (head.seq === h.seq && head.mac !== h.mac)) {
          return `stripe ${h.stripe} is behind checkpoint ${c.seq} (its head was seq ${h.seq})`;
        }
        if (head.seq > h.seq && h.seq > 0) passed.push(h);
      }
    }
    if (passed.length === 0) return null;
    const rows = await this.dataSource.query<{ seq: string; stripe: number; mac: Buffer }[]>(
      `SELECT seq, stripe, mac FROM audit_events WHERE seq = ANY($1::bigint[])`,
      [[...new Set(passed.map((h) => h.seq))]],
    );
    const found = new Map(rows.map((r) => [Number(r.seq), r]));
    for (const h of passed) {
      const e = found.get(h.seq);
      if (!e || e.stripe !== h.stripe || e.mac.toString('base64') !== h.mac) {
        return `the entry seq ${h.seq} named by a previous checkpoint is gone or changed`;
      }
    }
    return null;
  }

  private refuse(what: string): never {
    this.logger.error(
      { event: 'audit.checkpoint_refused', what },
      'access-log checkpoint refused (run audit:verify)',
    );
    throw new DomainError('audit.checkpoint_refused');
  }

  private async issueQuietly(when: 'start' | 'timer' | 'shutdown'): Promise<void> {
    try {
      const { checkpoint, created } = await this.issue();
      if (created)
        this.logger.info({ seq: checkpoint.seq, keyId: checkpoint.keyId, when }, 'access-log checkpoint');
    } catch (e) {
      this.logger.error({ err: e, when }, 'access-log checkpoint failed');
    }
  }
}

/** Whether checkpoint `a` names further heads than `b`: a higher seq, or a stripe's head past `b`'s. */
function goesFurther(a: Checkpoint, b: Checkpoint): boolean {
  const heads = new Map(b.heads.map((h) => [h.stripe, h.seq]));
  return a.seq > b.seq || a.heads.some((h) => h.seq > (heads.get(h.stripe) ?? -1));
}
