import type { QueryRunner } from 'typeorm';
import { ChainStripes, OWN_STATEMENT } from './audit-stripes';

/** A stand-in for a TypeORM query runner: only the two flags ChainStripes reads. */
function runner(): QueryRunner & { isTransactionActive: boolean; isReleased: boolean } {
  return { isTransactionActive: true, isReleased: false } as never;
}

const HEAD = { lastSeq: 10, mac: Buffer.alloc(32, 1) };

describe('ChainStripes (this process’s view of the access-log stripes)', () => {
  it('keeps a transaction on the stripe it first took, and gives no one else that stripe meanwhile', () => {
    const stripes = new ChainStripes(3);
    const t = runner();
    const first = stripes.take(t)!;
    expect(stripes.take(t)).toBe(first);
    const others = [stripes.take(OWN_STATEMENT), stripes.take(OWN_STATEMENT)];
    expect(others).not.toContain(first);
    expect(new Set(others).size).toBe(2);
    // Every stripe is held: nothing left until one is released or its transaction ends.
    expect(stripes.take(OWN_STATEMENT)).toBeNull();
    expect(stripes.take(runner())).toBeNull();
    stripes.release(others[0]!);
    expect(stripes.take(OWN_STATEMENT)).toBe(others[0]);
    // release() never frees a transaction's stripe: only the end of the transaction does.
    stripes.release(first);
    stripes.release(others[0]!);
    expect(stripes.take(runner())).toBe(others[0]);
  });

  it('a committed transaction leaves its head known; a rolled-back one leaves it unknown', () => {
    const stripes = new ChainStripes(1);
    const t = runner();
    expect(stripes.take(t)).toBe(0);
    stripes.setHead(0, HEAD);
    t.isTransactionActive = false;
    stripes.ended(t, true);
    expect(stripes.head(0)).toEqual(HEAD);

    const u = runner();
    expect(stripes.take(u)).toBe(0);
    // A savepoint rolled back: the transaction goes on and keeps the stripe, whose head is unknown now.
    stripes.ended(u, false);
    expect(stripes.head(0)).toBeNull();
    expect(stripes.take(OWN_STATEMENT)).toBeNull();
    stripes.setHead(0, HEAD);
    u.isTransactionActive = false;
    stripes.ended(u, false);
    expect(stripes.head(0)).toBeNull();
    expect(stripes.take(OWN_STATEMENT)).toBe(0);
  });

  it('a transaction that ended without telling (a failed COMMIT) frees its stripe with the head unknown', () => {
    const stripes = new ChainStripes(1);
    const t = runner();
    stripes.take(t);
    stripes.setHead(0, HEAD);
    expect(stripes.take(OWN_STATEMENT)).toBeNull();
    t.isReleased = true;
    expect(stripes.take(OWN_STATEMENT)).toBe(0);
    expect(stripes.head(0)).toBeNull();
  });

  it('prefers a free stripe whose head it knows', () => {
    const stripes = new ChainStripes(16);
    stripes.setHead(11, HEAD);
    for (let i = 0; i < 20; i++) {
      expect(stripes.take(OWN_STATEMENT)).toBe(11);
      stripes.release(11);
    }
  });

  it('gives a retry the stripe whose head just moved when it is free (its head unknown), else another', () => {
    const stripes = new ChainStripes(16);
    for (let s = 0; s < 16; s++) stripes.setHead(s, HEAD);
    stripes.setHead(5, null);
    for (let i = 0; i < 20; i++) {
      expect(stripes.take(OWN_STATEMENT, 5)).toBe(5);
      stripes.release(5);
    }
    // Held meanwhile by another statement, or by a transaction: a free stripe instead, as without a retry.
    expect(stripes.take(OWN_STATEMENT)).not.toBe(5); // a known head is preferred
    const t = runner();
    stripes.release(stripes.take(OWN_STATEMENT, 5)!);
    expect(stripes.take(t, 5)).toBe(5);
    const other = stripes.take(OWN_STATEMENT, 5);
    expect(other).not.toBeNull();
    expect(other).not.toBe(5);
    // A transaction keeps its own stripe whatever it is asked to retry on.
    expect(stripes.take(t, 7)).toBe(5);
    // The free ones: neither the transaction's nor the statement's.
    expect(stripes.freeStripes()).toHaveLength(13);
    expect(stripes.freeStripes()).not.toContain(5);
    expect(stripes.freeStripes()).not.toContain(other);
  });

  it('hands out each pooled seq once, the smallest above the stripe’s last, and drops seqs older than 100 ms', () => {
    let now = 1_000;
    const stripes = new ChainStripes(2, () => now);
    stripes.addSeqs([21, 22, 23, 24]);
    expect(stripes.takeSeq(22)).toBe(23);
    expect(stripes.takeSeq(0)).toBe(21);
    expect(stripes.takeSeq(30)).toBeUndefined();
    now += 101;
    expect(stripes.takeSeq(0)).toBeUndefined(); // 22 and 24 aged out: gaps, never reused
    stripes.addSeqs([40]);
    expect(stripes.takeSeq(0)).toBe(40);
  });

  it('draws one seq at a time for a lone writer, more when writers overlap and busy (at most 32)', () => {
    let now = 1_000;
    const stripes = new ChainStripes(1, () => now);
    expect(stripes.seqBlock(2)).toBe(1);
    stripes.addSeqs(Array.from({ length: 50 }, (_, i) => i + 1));
    for (let i = 0; i < 5; i++) stripes.takeSeq(0);
    expect(stripes.seqBlock(2)).toBe(5);
    // One request after another, however fast: one at a time, so no seq is left to age out (no gaps).
    expect(stripes.seqBlock(1)).toBe(1);
    for (let i = 0; i < 45; i++) stripes.takeSeq(0);
    expect(stripes.seqBlock(3)).toBe(32);
    now += 150; // the next window: the last one's rate still counts
    expect(stripes.seqBlock(3)).toBe(32);
    now += 500; // quiet since
    expect(stripes.seqBlock(3)).toBe(1);
  });
});
