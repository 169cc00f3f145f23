import { randomInt } from 'node:crypto';
import type { QueryRunner } from 'typeorm';

/** A stripe's head: the seq and MAC of its last entry (32 zero bytes and 0 before the first). */
export interface StripeHead {
  readonly lastSeq: number;
  readonly mac: Buffer;
}

/** Who holds a stripe: a transaction (until it ends) or one statement of its own (until it returns). */
export type StripeHolder = QueryRunner | typeof OWN_STATEMENT;
export const OWN_STATEMENT = Symbol('own statement');

interface StripeState {
  /** The head as this process last wrote or read it; null when unknown (read it again before appending). */
  head: StripeHead | null;
  holder: StripeHolder | null;
}

/** How long drawn seqs may wait in the pool: across instances seq stays this close to time order. */
const SEQ_POOL_MAX_AGE_MS = 100;
/** At most this many seqs are drawn at a time. */
const SEQ_BLOCK_MAX = 32;

/**
 * This process's view of the access-log stripes (docs/audit.md, "Writing an entry"): which stripe each open
 * transaction holds, each stripe's head as last seen, and a pool of seqs drawn ahead from `audit_events_seq`.
 * It lets an entry be written in one statement, without first locking and reading the head. The database
 * stays the judge: an entry only lands if the stripe's head is still the one it was chained to (the insert is
 * conditional on `last_seq`), so a wrong view here (another instance wrote the stripe, a transaction rolled
 * back, a head was changed by hand) costs a retry, never a forked chain.
 */
export class ChainStripes {
  private readonly stripes: StripeState[];
  private seqs: { seq: number; at: number }[] = [];
  /** Seqs taken in the current and the previous window of SEQ_POOL_MAX_AGE_MS: the next block's size. */
  private window = { start: 0, taken: 0, before: 0 };

  constructor(
    count: number,
    private readonly now: () => number = Date.now,
  ) {
    this.stripes = Array.from({ length: count }, () => ({ head: null, holder: null }));
  }

  /**
   * Takes a stripe for `holder`: the one this transaction already holds, else `again` when it is free (a retry
   * on the stripe whose head was just found moved: reading that head again is one statement, where another
   * stripe's known head may be stale too, when another instance has been writing), else a free one
   * (preferring one whose head is known, from a random start so that instances spread). Null when every
   * stripe is held.
   */
  take(holder: StripeHolder, again?: number): number | null {
    if (holder !== OWN_STATEMENT) {
      const held = this.stripes.findIndex((s) => s.holder === holder);
      if (held >= 0) return held;
    }
    if (again !== undefined && this.free(again)) return this.hold(again, holder);
    const n = this.stripes.length;
    const start = randomInt(n);
    let cold = -1;
    for (let i = 0; i < n; i++) {
      const stripe = (start + i) % n;
      if (!this.free(stripe)) continue;
      if (this.stripes[stripe].head) return this.hold(stripe, holder);
      if (cold < 0) cold = stripe;
    }
    return cold >= 0 ? this.hold(cold, holder) : null;
  }

  /** Whether nobody holds `stripe` (one whose transaction ended without telling is freed, its head unknown). */
  private free(stripe: number): boolean {
    const s = this.stripes[stripe];
    if (s.holder === null) return true;
    if (!ended(s.holder)) return false;
    // A transaction that ended without telling (its COMMIT failed, say): its outcome is unknown.
    s.head = null;
    s.holder = null;
    return true;
  }

  /** The stripes nobody in this process holds. */
  freeStripes(): number[] {
    const out: number[] = [];
    for (let s = 0; s < this.stripes.length; s++) if (this.free(s)) out.push(s);
    return out;
  }

  head(stripe: number): StripeHead | null {
    return this.stripes[stripe].head;
  }

  /** The head read from the database (or written by this process). */
  setHead(stripe: number, head: StripeHead | null): void {
    this.stripes[stripe].head = head;
  }

  /** One statement of its own is done with the stripe. */
  release(stripe: number): void {
    if (this.stripes[stripe].holder === OWN_STATEMENT) this.stripes[stripe].holder = null;
  }

  /**
   * A transaction (or a savepoint of it) of `runner` ended. Committed: its entries are the heads. Rolled
   * back: the heads are unknown (read again). While the runner's transaction goes on (a savepoint ended), it
   * keeps its stripe.
   */
  ended(runner: QueryRunner, committed: boolean): void {
    for (const s of this.stripes) {
      if (s.holder !== runner) continue;
      if (!committed) s.head = null;
      if (!runner.isTransactionActive) s.holder = null;
    }
  }

  /**
   * The smallest pooled seq above `after` (a stripe's seq increases along its chain), taken out of the pool.
   * Seqs older than SEQ_POOL_MAX_AGE_MS are dropped (a gap, not a finding), so that a seq drawn by a quiet
   * instance does not land long after the seqs other instances drew since.
   */
  takeSeq(after: number): number | undefined {
    const now = this.now();
    if (this.seqs.length > 0 && this.seqs[0].at < now - SEQ_POOL_MAX_AGE_MS) {
      this.seqs = this.seqs.filter((s) => s.at >= now - SEQ_POOL_MAX_AGE_MS);
    }
    let best = -1;
    for (let i = 0; i < this.seqs.length; i++) {
      const { seq } = this.seqs[i];
      if (seq > after && (best < 0 || seq < this.seqs[best].seq)) best = i;
    }
    if (best < 0) return undefined;
    this.count(now);
    return this.seqs.splice(best, 1)[0].seq;
  }

  /**
   * How many seqs to draw when the pool has none, while `writers` entries are being written by this process:
   * one for a lone writer (a quiet process, or one request after another: seqs stay gapless and in order),
   * else as many as the process took in the last window (at most SEQ_BLOCK_MAX), so that a busy process
   * draws ahead.
   */
  seqBlock(writers: number): number {
    if (writers <= 1) return 1;
    this.count(this.now(), 0);
    return Math.min(SEQ_BLOCK_MAX, Math.max(1, this.window.taken, this.window.before));
  }

  addSeqs(seqs: readonly number[]): void {
    const at = this.now();
    for (const seq of seqs) this.seqs.push({ seq, at });
  }

  private count(now: number, taken = 1): void {
    const w = this.window;
    if (now - w.start >= SEQ_POOL_MAX_AGE_MS) {
      w.before = now - w.start < 2 * SEQ_POOL_MAX_AGE_MS ? w.taken : 0;
      w.start = now;
      w.taken = 0;
    }
    w.taken += taken;
  }

  private hold(stripe: number, holder: StripeHolder): number {
    this.stripes[stripe].holder = holder;
    return stripe;
  }
}

function ended(holder: StripeHolder): boolean {
  return holder !== OWN_STATEMENT && (holder.isReleased || !holder.isTransactionActive);
}
