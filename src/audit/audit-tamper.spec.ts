import { randomBytes } from 'node:crypto';
import { AuditFixture, CASE_ID, givenAuditLog, WARD_OFFICER } from './audit.spec-helpers';
import type { ParallelVerifyOptions } from './audit-verify-parallel';
import {
  Checkpoint,
  checkpointRowParams,
  INSERT_CHECKPOINT_SQL,
  signCheckpoint,
  SigningKeys,
} from './audit-checkpoint';
import { createCryptoServices } from '../crypto';
import { appendFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

/**
 * A database superuser tampers with the log at the SQL level, with the append-only triggers switched off
 * (session_replication_role = replica, or ALTER TABLE ... DISABLE TRIGGER ALL). Verification must find
 * each kind of tampering and name the first entry that is not as written - in one thread, and in worker
 * threads, one seq range each (1-10, 11-20, 21-30: tampering on both sides of a boundary).
 */
type ParallelOptions = Omit<ParallelVerifyOptions, 'connectionString'>;
const MODES: [string, ParallelOptions | undefined][] = [
  ['in one thread', undefined],
  ['in 3 worker threads', { workers: 3, minEntriesPerWorker: 1 }],
];

/** A checkpoint of `f`'s stripe heads as they are, signed with `keys`. */
async function signedHeads(f: AuditFixture, keys: SigningKeys): Promise<Checkpoint> {
  const heads = await f.owner.query<{ stripe: number; last_seq: string; head: Buffer }[]>(
    `SELECT stripe, last_seq, head FROM audit_chain_heads`,
  );
  return signCheckpoint(
    keys,
    heads.map((h) => ({ stripe: h.stripe, seq: Number(h.last_seq), mac: h.head.toString('base64') })),
    new Date(),
  );
}

describe.each(MODES)('access-log verification against a database superuser, %s', (_mode, parallel) => {
  let f: AuditFixture;
  const ENTRIES = 30;

  beforeEach(async () => {
    f = await givenAuditLog(2);
    for (let i = 1; i <= ENTRIES; i++) {
      await f.app.transaction((m) =>
        f.audit.record(m, WARD_OFFICER, {
          action: i % 3 ? 'case.read' : 'case.list',
          resourceType: 'case',
          caseId: CASE_ID,
          fields: ['triage'],
          provinceCode: '01',
        }),
      );
    }
    await f.checkpoints.issue();
    expect(await f.verify(parallel)).toMatchObject({
      ok: true,
      checked: ENTRIES,
      lastSeq: ENTRIES,
      checkpoint: { seq: ENTRIES },
      workers: parallel ? 3 : 0,
    });
  });
  afterEach(async () => {
    await f.close();
  });

  const expectBad = async (firstBadSeq: number, problem?: string) => {
    const result = await f.verify(parallel);
    expect(result).toMatchObject({ ok: false, firstBadSeq, ...(problem ? { problem } : {}) });
  };
  const stripeOf = async (seq: number) =>
    Number(
      (await f.owner.query<{ stripe: number }[]>(`SELECT stripe FROM audit_events WHERE seq = $1`, [seq]))[0]
        .stripe,
    );
  /** The careful attacker also moves each stripe head back to the last entry left. */
  const rewindHeads = () =>
    f.tamper(`
      UPDATE audit_chain_heads h
         SET last_seq = coalesce(e.seq, 0), head = coalesce(e.mac, decode(repeat('00', 32), 'hex'))
        FROM audit_chain_heads h2
        LEFT JOIN LATERAL (SELECT seq, mac FROM audit_events WHERE stripe = h2.stripe ORDER BY seq DESC LIMIT 1) e ON true
       WHERE h.stripe = h2.stripe`);

  /** A seq left unused by a rolled-back access (`gone`), then an entry written after it (`seq`). */
  const gapThenEntry = async (): Promise<{ gone: number; seq: number }> => {
    let gone = 0;
    await f.app
      .transaction(async (m) => {
        gone = (await f.audit.record(m, WARD_OFFICER, { action: 'case.list' })).seq;
        throw new Error('rolled back');
      })
      .catch(() => undefined);
    const { seq } = await f.app.transaction((m) => f.audit.record(m, WARD_OFFICER, { action: 'case.list' }));
    return { gone, seq };
  };

  it('an edited entry', async () => {
    await f.tamper(`UPDATE audit_events SET action = 'case.list' WHERE seq = 10`);
    await expectBad(10, 'entry_altered');
  });

  it('an entry moved to another jurisdiction (to hide it from a supervisor)', async () => {
    await f.tamper(`UPDATE audit_events SET jurisdictions = '{31}', province_code = '31' WHERE seq = 12`);
    await expectBad(12, 'entry_altered');
  });

  it('an edited entry whose MAC was replaced by another entry’s', async () => {
    await f.tamper(
      `UPDATE audit_events SET fields = '{triage,identity}', mac = (SELECT mac FROM audit_events WHERE seq = 11)
        WHERE seq = 10`,
    );
    await expectBad(10);
  });

  it('an edited timestamp, with the triggers disabled by ALTER TABLE', async () => {
    await f.owner.query(`ALTER TABLE audit_events DISABLE TRIGGER ALL`);
    await f.owner.query(`UPDATE audit_events SET at = at - interval '3 days' WHERE seq = 7`);
    await f.owner.query(`ALTER TABLE audit_events ENABLE TRIGGER ALL`);
    await expectBad(7, 'entry_altered');
  });

  it('a deleted entry', async () => {
    await f.tamper(`DELETE FROM audit_events WHERE seq = 10`);
    await expectBad(10);
  });

  it('a deleted run of entries', async () => {
    await f.tamper(`DELETE FROM audit_events WHERE seq BETWEEN 10 AND 14`);
    await expectBad(10);
  });

  it('an inserted (forged) entry in the middle', async () => {
    // Room for it: an entry the attacker deleted, and in its place a forged one with a guessed MAC.
    const stripe = await stripeOf(15);
    await f.tamper(`DELETE FROM audit_events WHERE seq = 15`);
    await f.tamper(
      `INSERT INTO audit_events (seq, stripe, prev_seq, at, action, outcome, mac)
       SELECT 15, $1, coalesce((SELECT max(seq) FROM audit_events WHERE stripe = $1 AND seq < 15), 0), now(),
              'case.list', 'allowed', $2`,
      [stripe, randomBytes(32)],
    );
    await expectBad(15);
  });

  it('an inserted (forged) entry at the end, with its stripe head moved to it', async () => {
    const stripe = await stripeOf(ENTRIES);
    await f.tamper(
      `INSERT INTO audit_events (seq, stripe, prev_seq, at, action, outcome, mac) VALUES ($1, $2, $3, now(), 'case.list', 'allowed', $4)`,
      [ENTRIES + 1, stripe, ENTRIES, randomBytes(32)],
    );
    await f.tamper(`UPDATE audit_chain_heads SET last_seq = $1 WHERE stripe = $2`, [ENTRIES + 1, stripe]);
    await expectBad(ENTRIES + 1, 'entry_altered');
  });

  it('two entries swapped (reordered)', async () => {
    // A superuser may drop the constraints in the way as well.
    await f.tamper(`ALTER TABLE audit_events DROP CONSTRAINT audit_events_check`);
    await f.tamper(`UPDATE audit_events SET seq = 1000 WHERE seq = 20`);
    await f.tamper(`UPDATE audit_events SET seq = 20 WHERE seq = 10`);
    await f.tamper(`UPDATE audit_events SET seq = 10 WHERE seq = 1000`);
    await expectBad(10);
  });

  it('two entries’ contents exchanged (reordered, seq kept)', async () => {
    await f.tamper(`ALTER TABLE audit_events DROP CONSTRAINT audit_events_check`);
    await f.tamper(`
      UPDATE audit_events a
         SET stripe = b.stripe, prev_seq = b.prev_seq, at = b.at, action = b.action, fields = b.fields, mac = b.mac
        FROM audit_events b
       WHERE (a.seq = 11 AND b.seq = 17) OR (a.seq = 17 AND b.seq = 11)`);
    await expectBad(11);
  });

  it('an entry moved to another stripe', async () => {
    const stripe = await stripeOf(9);
    await f.tamper(`UPDATE audit_events SET stripe = $1 WHERE seq = 9`, [(stripe + 1) % 16]);
    await expectBad(9);
  });

  it('a truncated tail, stripe heads left as they were', async () => {
    await f.tamper(`DELETE FROM audit_events WHERE seq > 25`);
    await expectBad(26, 'tail_truncated');
  });

  it('a truncated tail with the stripe heads rewound: the signed checkpoint still names the lost entries', async () => {
    await f.tamper(`DELETE FROM audit_events WHERE seq > 25`);
    await rewindHeads();
    await expectBad(26, 'tail_truncated');
  });

  it('a truncated tail with the heads rewound and the database’s checkpoints deleted: the file still knows', async () => {
    await f.tamper(`DELETE FROM audit_events WHERE seq > 25`);
    await rewindHeads();
    await f.tamper(`DELETE FROM audit_checkpoints`);
    await expectBad(26, 'tail_truncated');
  });

  it('a truncated tail with the heads rewound: the service signs no checkpoint over it, so the cut stays found', async () => {
    await f.tamper(`DELETE FROM audit_events WHERE seq > 25`);
    await rewindHeads();
    await expect(f.checkpoints.issue()).rejects.toMatchObject({ code: 'audit.checkpoint_refused' });
    await expect(f.checkpoints.issue(true)).rejects.toMatchObject({ code: 'audit.checkpoint_refused' });
    await expectBad(26, 'tail_truncated');
    // Nor with only the file to go by (the database's checkpoints deleted too), nor after new entries.
    await f.tamper(`DELETE FROM audit_checkpoints`);
    await f.app.transaction((m) =>
      f.audit.record(m, WARD_OFFICER, { action: 'case.list', resourceType: 'case', provinceCode: '01' }),
    );
    await expect(f.checkpoints.issue()).rejects.toMatchObject({ code: 'audit.checkpoint_refused' });
    await expectBad(26, 'tail_truncated');
  });

  it('the entry a checkpoint named replaced by another at its seq: no checkpoint is signed over it', async () => {
    const [last] = await f.owner.query<{ seq: string; stripe: number }[]>(
      `SELECT seq, stripe FROM audit_events ORDER BY seq DESC LIMIT 1`,
    );
    await f.tamper(`UPDATE audit_events SET mac = $1 WHERE seq = $2`, [randomBytes(32), last.seq]);
    await f.tamper(
      `UPDATE audit_chain_heads SET head = e.mac FROM audit_events e WHERE e.seq = $1 AND audit_chain_heads.stripe = $2`,
      [last.seq, last.stripe],
    );
    await expect(f.checkpoints.issue()).rejects.toMatchObject({ code: 'audit.checkpoint_refused' });
  });

  it('the whole log truncated (TRUNCATE) with the heads reset', async () => {
    await f.tamper(`TRUNCATE audit_events`);
    await rewindHeads();
    await expectBad(1, 'tail_truncated');
  });

  it('a forged checkpoint in the database (another key) is a finding, and the file checkpoint still holds', async () => {
    await f.tamper(`DELETE FROM audit_events WHERE seq > 25`);
    await rewindHeads();
    const other = await createCryptoServices({
      dataDir: mkdtempSync(join(process.env.HAVEN_TEST_ROOT ?? tmpdir(), 'other-keys-')),
      production: false,
    });
    const forged = await signedHeads(f, other.keys);
    await f.tamper(INSERT_CHECKPOINT_SQL, checkpointRowParams(forged));
    await expectBad(26, 'tail_truncated');
  });

  it('a checkpoint of the heads as they are, forged with another key (the service’s own role may store one), does not stand for this instance’s: it signs its own', async () => {
    const other = await createCryptoServices({
      dataDir: mkdtempSync(join(process.env.HAVEN_TEST_ROOT ?? tmpdir(), 'other-keys-')),
      production: false,
    });
    await f.app.query(INSERT_CHECKPOINT_SQL, checkpointRowParams(await signedHeads(f, other.keys)));
    // The heads are those this instance signed last (file and database): still it signs, as the newest
    // checkpoint is not one of its keys (a forged one would otherwise stand as the newest while the log is quiet).
    expect((await f.checkpoints.issue()).created).toBe(true);
    expect(await f.checkpoints.latestStored()).toMatchObject({ keyId: f.checkpoints.publicKey().keyId });
    expect((await f.checkpoints.issue()).created).toBe(false);
  });

  it('a truncated tail with the heads rewound, under another instance’s checkpoint that a slower one’s older checkpoint was stored after', async () => {
    /** A checkpoint of the heads as they are, stored in the database only (as another instance does). */
    const signedNow = () => signedHeads(f, f.crypto.keys);
    const store = (c: Checkpoint) => f.owner.query(INSERT_CHECKPOINT_SQL, checkpointRowParams(c));
    const slower = await signedNow(); // read the heads at seq 30, stores last
    for (let i = 0; i < 5; i++)
      await f.app.transaction((m) =>
        f.audit.record(m, WARD_OFFICER, { action: 'case.list', resourceType: 'case', provinceCode: '01' }),
      );
    await store(await signedNow()); // the other instance's, over seq 35
    await store(slower);
    // This instance's file knows seq 30 only; the database's newest is the one over seq 35, whatever was
    // stored last, so the cut of 31-35 shows.
    await f.tamper(`DELETE FROM audit_events WHERE seq > ${ENTRIES}`);
    await rewindHeads();
    await expectBad(ENTRIES + 1, 'tail_truncated');
  });

  it('the newest of several checkpoint files counts: an older off-host copy does not stand in for this host’s file', async () => {
    const shipped = f.checkpoints.file.read()!; // the copy kept off the host: seq 30
    for (let i = 0; i < 5; i++)
      await f.app.transaction((m) =>
        f.audit.record(m, WARD_OFFICER, { action: 'case.list', resourceType: 'case', provinceCode: '01' }),
      );
    await f.checkpoints.issue(); // this host's file: seq 35
    // 31-35 cut, the heads rewound, the database's checkpoints deleted.
    await f.tamper(`DELETE FROM audit_events WHERE seq > ${ENTRIES}`);
    await rewindHeads();
    await f.tamper(`DELETE FROM audit_checkpoints`);
    // The shipped copy alone knows nothing of the cut; with this host's file too, it shows.
    expect(await f.verify(parallel, { offHost: [shipped] })).toMatchObject({
      ok: true,
      checkpoint: { seq: ENTRIES, sources: ['offhost'] },
    });
    expect(await f.verify(parallel, { file: f.checkpoints.file.read()!, offHost: [shipped] })).toMatchObject({
      ok: false,
      firstBadSeq: ENTRIES + 1,
      problem: 'tail_truncated',
      checkpoint: { seq: ENTRIES + 5, sources: ['file'] },
    });
    // So does a newer off-host copy (each instance's), whatever order they come in.
    for (const offHost of [
      [shipped, f.checkpoints.file.read()!],
      [f.checkpoints.file.read()!, shipped],
    ]) {
      expect(await f.verify(parallel, { offHost })).toMatchObject({
        ok: false,
        firstBadSeq: ENTRIES + 1,
        problem: 'tail_truncated',
        checkpoint: { seq: ENTRIES + 5, sources: ['offhost'] },
      });
    }
  });

  it('an older checkpoint appended again to the file (and its write-once copy) does not hide the tail cut since', async () => {
    const older = readFileSync(f.checkpoints.file.path, 'utf8').trim().split('\n').at(-1)!; // seq 30
    for (let i = 0; i < 5; i++)
      await f.app.transaction((m) =>
        f.audit.record(m, WARD_OFFICER, { action: 'case.list', resourceType: 'case', provinceCode: '01' }),
      );
    await f.checkpoints.issue(); // seq 35
    // 31-35 cut, the heads rewound, the database's checkpoints deleted; seq 30's line appended again (a copy on
    // write-once storage accepts appends), then a line of junk.
    await f.tamper(`DELETE FROM audit_events WHERE seq > ${ENTRIES}`);
    await rewindHeads();
    await f.tamper(`DELETE FROM audit_checkpoints`);
    appendFileSync(f.checkpoints.file.path, `${older}\n`);
    const replayed = f.checkpoints.file.read()!;
    expect(replayed.wentBack).toBe(ENTRIES);
    for (const given of [{ file: replayed }, { offHost: [replayed] }]) {
      expect(await f.verify(parallel, given)).toMatchObject({
        ok: false,
        firstBadSeq: ENTRIES + 1,
        problem: 'tail_truncated',
        checkpoint: { seq: ENTRIES + 5 },
      });
    }
    appendFileSync(f.checkpoints.file.path, 'junk\n');
    expect(await f.verify(parallel)).toMatchObject({ ok: false, problem: 'tail_truncated' });
    // Nor does this instance sign a checkpoint over the cut log.
    await expect(f.checkpoints.issue()).rejects.toMatchObject({ code: 'audit.checkpoint_refused' });
  });

  it('an older checkpoint appended again after the furthest is a finding of its own, the log intact', async () => {
    const older = readFileSync(f.checkpoints.file.path, 'utf8').trim().split('\n').at(-1)!;
    await f.app.transaction((m) =>
      f.audit.record(m, WARD_OFFICER, { action: 'case.list', resourceType: 'case', provinceCode: '01' }),
    );
    await f.checkpoints.issue();
    appendFileSync(f.checkpoints.file.path, `${older}\n`);
    expect(await f.verify(parallel)).toMatchObject({ ok: false, problem: 'checkpoint_invalid' });
  });

  it('an entry the runtime role inserts at an old seq (a gap) hides no later tampering: every finding is listed', async () => {
    const { gone, seq } = await gapThenEntry();
    const otherStripe = ((await stripeOf(seq)) + 1) % 16;
    // Junk at the gap's seq, as the application role may insert it (no trigger is switched off).
    await f.app.query(
      `INSERT INTO audit_events (seq, stripe, prev_seq, at, action, fields, outcome, returned_ids, jurisdictions, mac)
       VALUES ($1, $2, 0, now(), 'case.list', '{}', 'allowed', '{}', '{}', $3)`,
      [gone, otherStripe, randomBytes(32)],
    );
    const first = await f.verify(parallel);
    expect(first).toMatchObject({ ok: false, firstBadSeq: gone });
    // A DBA's later edit: the lowest finding is the same, the list shows the new one.
    await f.tamper(`UPDATE audit_events SET outcome = 'denied' WHERE seq = $1`, [seq]);
    const second = await f.verify(parallel);
    expect(second).toMatchObject({ ok: false, firstBadSeq: gone });
    expect(second.findings).toContainEqual({ seq, problem: 'entry_altered' });
    expect(first.findings).not.toContainEqual({ seq, problem: 'entry_altered' });
    expect(second.findingsCount).toBeGreaterThanOrEqual(second.findings!.length);
    expect(second.findingsCount).toBeGreaterThan(first.findingsCount!);
  });

  it('lists the lowest 100 findings and counts them all: the log read under another key', async () => {
    // 30 entries is too few to pass the cap: rewrite every entry's MAC, and add 200 more first.
    for (let i = 0; i < 200; i++)
      await f.app.transaction((m) =>
        f.audit.record(m, WARD_OFFICER, { action: 'case.list', resourceType: 'case', provinceCode: '01' }),
      );
    await f.tamper(`UPDATE audit_events SET mac = decode(repeat('ab', 32), 'hex')`);
    const result = await f.verify(parallel);
    expect(result).toMatchObject({ ok: false, firstBadSeq: 1, findingsCount: ENTRIES + 200 });
    expect(result.findings).toHaveLength(100);
    expect(result.findings!.map((x) => x.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
  });

  it('a checkpoint edited in the database (its signature no longer verifies)', async () => {
    await f.tamper(
      `UPDATE audit_checkpoints SET document = replace(document, '"seq":${ENTRIES}', '"seq":${ENTRIES - 1}')`,
    );
    const result = await f.verify(parallel);
    expect(result).toMatchObject({ ok: false, problem: 'checkpoint_invalid' });
    expect(result.firstBadSeq).toBeUndefined();
  });

  it('a gap left by a rolled-back access is not a finding, and does not hide one', async () => {
    const { gone, seq } = await gapThenEntry();
    expect(seq).toBeGreaterThan(gone);
    expect(await f.owner.query(`SELECT 1 FROM audit_events WHERE seq = $1`, [gone])).toEqual([]);
    expect(await f.verify(parallel)).toMatchObject({ ok: true, checked: ENTRIES + 1 });
    await f.tamper(`UPDATE audit_events SET outcome = 'denied' WHERE seq = $1`, [seq]);
    await expectBad(seq, 'entry_altered');
  });
});

describe('checkpoints of two processes on one data directory (a restart’s overlap)', () => {
  it('the process whose heads were read first does not append its older checkpoint after the other’s', async () => {
    const f = await givenAuditLog(2);
    try {
      const entries = async (n: number) => {
        for (let i = 0; i < n; i++)
          await f.app.transaction((m) =>
            f.audit.record(m, WARD_OFFICER, {
              action: 'case.list',
              resourceType: 'case',
              provinceCode: '01',
            }),
          );
      };
      await entries(3);
      await f.checkpoints.issue();
      await entries(3);
      // This process has read the heads (seq 6) when the other signs further ones (seq 8) and appends them.
      const checkpoints = f.checkpoints as unknown as {
        behindPrevious: (...args: unknown[]) => Promise<string | null>;
      };
      const compare = checkpoints.behindPrevious.bind(checkpoints);
      const meanwhile = jest
        .spyOn(checkpoints, 'behindPrevious')
        .mockImplementationOnce(async (...args: unknown[]) => {
          await entries(2);
          f.checkpoints.file.append(await signedHeads(f, f.crypto.keys));
          return compare(...args);
        });
      const skipped = await f.checkpoints.issue();
      meanwhile.mockRestore();
      // Its checkpoint (seq 6) adds nothing to the file's (seq 8), and is not appended after it: the file does
      // not go back, later checkpoints are signed, and the log verifies.
      expect(skipped).toMatchObject({ created: false, checkpoint: { seq: 8 } });
      const lines = readFileSync(f.checkpoints.file.path, 'utf8').trim().split('\n');
      expect(lines.map((l) => (JSON.parse(l) as { seq: number }).seq)).toEqual([3, 8]);
      expect(f.checkpoints.file.readAppended().wentBack).toBeNull();
      await entries(1);
      await expect(f.checkpoints.issue()).resolves.toMatchObject({ created: true, checkpoint: { seq: 9 } });
      expect(await f.verify()).toMatchObject({ ok: true, checked: 9 });
      // Only a line this instance's keys signed counts: a forged one ahead does not make it stop signing quietly;
      // its own checkpoint goes after it, and the file going back is then refused loudly.
      appendFileSync(
        f.checkpoints.file.path,
        `${JSON.stringify({ seq: 1000, heads: [], signature: 'x' })}\n`,
      );
      await entries(1);
      await expect(f.checkpoints.issue()).resolves.toMatchObject({ created: true, checkpoint: { seq: 10 } });
      await expect(f.checkpoints.issue(true)).rejects.toThrow();
    } finally {
      await f.close();
    }
  });
});
