import { createPublicKey, randomBytes, verify } from 'node:crypto';
import {
  appendFileSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { createCryptoServices, CryptoServices } from '../crypto';
import { canonicalLine, CanonicalEncoder, rowValues, storedValues } from './audit-canonical';
import {
  checkCheckpoint,
  Checkpoint,
  CheckpointFile,
  checkpointMessage,
  keyIdOf,
  readCheckpointFile,
  signCheckpoint,
} from './audit-checkpoint';
import type { AuditRow } from './audit.types';

const heads = (n: number) =>
  Array.from({ length: n }, (_, stripe) => ({
    stripe,
    seq: stripe * 7,
    mac: randomBytes(32).toString('base64'),
  }));

/** Heads whose furthest is `seq` (stripe 0's; the others' at 0). */
const headsAt = (seq: number) => heads(16).map((h) => ({ ...h, seq: h.stripe === 0 ? seq : 0 }));

describe('signed checkpoints', () => {
  let dir: string;
  let crypto: CryptoServices;
  let other: CryptoServices;

  beforeAll(async () => {
    dir = mkdtempSync(join(process.env.HAVEN_TEST_ROOT ?? tmpdir(), 'checkpoint-'));
    crypto = await createCryptoServices({ dataDir: join(dir, 'a'), production: false });
    other = await createCryptoServices({ dataDir: join(dir, 'b'), production: false });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('verifies with the published public key, also with an independent Ed25519 implementation', () => {
    const c = signCheckpoint(crypto.keys, heads(16), new Date('2026-11-23T10:00:00.000Z'));
    expect(c).toMatchObject({ format: 'haven-audit-checkpoint/1', seq: 105, at: '2026-11-23T10:00:00.000Z' });
    expect(checkCheckpoint(crypto.keys, c)).toBe('ok');
    const publicKey = crypto.keys.checkpointPublicKey();
    expect(c.publicKey).toBe(publicKey.toString('base64'));
    expect(c.keyId).toBe(keyIdOf(publicKey));
    // Node's own Ed25519 (OpenSSL), from the published key alone.
    const key = createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: publicKey.toString('base64url') },
      format: 'jwk',
    });
    expect(verify(null, checkpointMessage(c), key, Buffer.from(c.signature, 'base64'))).toBe(true);
  });

  it('refuses a forged or altered checkpoint', () => {
    const c = signCheckpoint(crypto.keys, heads(16), new Date());
    const forged = signCheckpoint(other.keys, heads(16), new Date());
    expect(checkCheckpoint(crypto.keys, forged)).toBe('foreign_key');
    // Another key's signature under our key id and public key.
    expect(checkCheckpoint(crypto.keys, { ...forged, keyId: c.keyId, publicKey: c.publicKey })).toBe(
      'bad_signature',
    );
    const lowered: Checkpoint = {
      ...c,
      heads: c.heads.map((h) => (h.stripe === 3 ? { ...h, seq: h.seq - 1 } : h)),
    };
    expect(checkCheckpoint(crypto.keys, lowered)).toBe('bad_root');
    const flipped = Buffer.from(c.signature, 'base64');
    flipped[0] ^= 1;
    expect(checkCheckpoint(crypto.keys, { ...c, signature: flipped.toString('base64') })).toBe(
      'bad_signature',
    );
    expect(checkCheckpoint(crypto.keys, { ...c, at: new Date(0).toISOString() })).toBe('bad_signature');
    expect(checkCheckpoint(crypto.keys, { ...c, seq: c.seq + 1 })).toBe('bad_root');
    expect(checkCheckpoint(crypto.keys, { malformed: true })).toBe('malformed');
    expect(checkCheckpoint(crypto.keys, { ...c, heads: [...c.heads, c.heads[0]] })).toBe('malformed');
    // The same bytes spelled otherwise (padding dropped; a padding bit of the last character set): refused as
    // malformed, not taken for the same checkpoint.
    const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const mac = c.heads[0].mac;
    const paddingBitSet = `${mac.slice(0, 42)}${ALPHABET[ALPHABET.indexOf(mac[42]) ^ 1]}=`;
    for (const respelled of [mac.replace(/=+$/, ''), paddingBitSet]) {
      expect(Buffer.from(respelled, 'base64')).toEqual(Buffer.from(mac, 'base64'));
      const other = { ...c, heads: c.heads.map((h, k) => (k === 0 ? { ...h, mac: respelled } : h)) };
      expect(checkCheckpoint(crypto.keys, other)).toBe('malformed');
    }
    expect(checkCheckpoint(crypto.keys, { ...c, signature: c.signature.replace(/=+$/, '') })).toBe(
      'malformed',
    );
    // Pinned to another key (e.g. the key kept by an auditor), ours is foreign.
    expect(checkCheckpoint(crypto.keys, c, other.keys.checkpointPublicKey())).toBe('foreign_key');
  });

  it('appends checkpoints as JSON lines (mode 0600) and reads back the newest', () => {
    const file = new CheckpointFile(join(dir, 'files'));
    expect(file.read()).toBeNull();
    expect(file.readAppended()).toEqual({ candidates: [], wentBack: null });
    let last: Checkpoint | undefined;
    for (let i = 0; i < 400; i++) {
      last = signCheckpoint(crypto.keys, headsAt(200 + i), new Date(1_764_000_000_000 + i));
      file.append(last);
    }
    expect(file.read()).toEqual({ candidates: [last], wentBack: null });
    expect(readFileSync(file.path, 'utf8').trim().split('\n')).toHaveLength(400);
    expect(statSync(file.path).mode & 0o777).toBe(0o600);
    expect(statSync(file.dir).mode & 0o777).toBe(0o700);
  });

  it('after a line torn by a crash, the next checkpoint is a line of its own and reads back', () => {
    const file = new CheckpointFile(join(dir, 'torn'));
    const first = signCheckpoint(crypto.keys, headsAt(200), new Date(1_764_000_000_000));
    file.append(first);
    appendFileSync(file.path, '{"seq":12,"root":"ab'); // a write cut short: no newline
    // Until the next one, the last checkpoint written whole is the file's (not "malformed", which no one
    // would compare with).
    expect(file.read()?.candidates).toEqual([first]);
    expect(file.readAppended().candidates).toEqual([first]);
    const next = signCheckpoint(crypto.keys, headsAt(201), new Date(1_764_000_001_000));
    file.append(next);
    // The fragment, now a line of its own, orders nothing: read whole or from where the last read stopped.
    expect(file.read()).toEqual({ candidates: [next], wentBack: null });
    expect(file.readAppended()).toEqual({ candidates: [next], wentBack: null });
    expect(readFileSync(file.path, 'utf8').split('\n').filter(Boolean)).toHaveLength(3);
  });

  it('reads lines across chunks, passing over only a fragment a crash cut short', () => {
    const path = join(dir, 'lines.jsonl');
    // A first line longer than one read step, then a torn one.
    const long = { seq: 5, pad: 'x'.repeat(1_500_000) };
    writeFileSync(path, `${JSON.stringify(long)}\n{"torn":`);
    expect(readCheckpointFile(path)).toEqual({ candidates: [long], wentBack: null });
    // A whole last line that does not parse is damage, not a crash: a candidate of its own (verification says so).
    writeFileSync(path, `${JSON.stringify(long)}\nnot json\n`);
    expect(readCheckpointFile(path)?.candidates).toEqual([long, { malformed: true }]);
    writeFileSync(path, 'not json\n{"torn":');
    expect(readCheckpointFile(path)?.candidates).toEqual([{ malformed: true }]);
    writeFileSync(path, '{"torn":');
    expect(readCheckpointFile(path)?.candidates).toEqual([]);
    writeFileSync(path, '\n\n');
    expect(readCheckpointFile(path)?.candidates).toEqual([]);
    expect(readCheckpointFile(join(dir, 'missing.jsonl'))).toBeNull();
  });

  it('the furthest line counts, not the last: a line behind an earlier one is said (an older checkpoint appended again)', () => {
    const path = join(dir, 'replayed.jsonl');
    const at = (seq: number) => ({ seq, root: `r${seq}` });
    writeFileSync(path, [at(100), at(500), at(100)].map((c) => JSON.stringify(c)).join('\n') + '\n');
    // The last line is a candidate too (checked by verification), after the furthest.
    expect(readCheckpointFile(path)).toEqual({ candidates: [at(500), at(100)], wentBack: 100 });
    // Of the same seq, but behind in another stripe (an older line: a late commit moved that stripe between the
    // two): going back too, so that eight copies of the older cannot push the newer out of the candidates.
    const heads2 = (b: number) => ({
      seq: 100,
      heads: [
        { stripe: 0, seq: 100 },
        { stripe: 1, seq: b },
      ],
    });
    writeFileSync(path, [heads2(90), heads2(95), heads2(90)].map((c) => JSON.stringify(c)).join('\n') + '\n');
    expect(readCheckpointFile(path)).toEqual({ candidates: [heads2(95), heads2(90)], wentBack: 100 });
    // The same heads signed again are all candidates (the last few).
    writeFileSync(path, [at(1), at(7), at(7)].map((c) => JSON.stringify(c)).join('\n') + '\n');
    expect(readCheckpointFile(path)).toEqual({ candidates: [at(7), at(7)], wentBack: null });
  });

  it('reads only what was appended since its last read, and a file cut short or replaced whole again', () => {
    const file = new CheckpointFile(join(dir, 'appended'));
    const at = (seq: number) => signCheckpoint(crypto.keys, headsAt(seq), new Date(1_764_000_000_000 + seq));
    file.append(at(10));
    file.append(at(20));
    expect(file.readAppended()).toEqual({
      candidates: [expect.objectContaining({ seq: 20 })],
      wentBack: null,
    });
    // Its last line rewritten in place (the same inode and size): read whole again, the edit seen.
    const lines = readFileSync(file.path, 'utf8').split('\n');
    const edited = lines[1].replace(/"signature":"./, (m) => m.slice(0, -1) + (m.endsWith('A') ? 'B' : 'A'));
    writeFileSync(file.path, `${lines[0]}\n${edited}\n`);
    expect(file.readAppended().candidates).toEqual([JSON.parse(edited)]);
    file.append(at(30));
    const [firstLine] = readFileSync(file.path, 'utf8').split('\n');
    expect(file.readAppended().candidates).toEqual([expect.objectContaining({ seq: 30 })]);
    // Cut short to its first line: read whole again.
    writeFileSync(file.path, `${firstLine}\n`);
    expect(file.readAppended().candidates).toEqual([expect.objectContaining({ seq: 10 })]);
    // Replaced by another file (another inode) longer than the last read: read whole again, from its start.
    const other = join(dir, 'other.jsonl');
    writeFileSync(
      other,
      `${JSON.stringify({ ...at(70), pad: 'x'.repeat(5_000) })}\n${JSON.stringify(at(60))}\n`,
    );
    renameSync(other, file.path);
    expect(file.readAppended()).toEqual({
      candidates: [expect.objectContaining({ seq: 70 }), expect.objectContaining({ seq: 60 })],
      wentBack: 60,
    });
  });
});

describe('canonical entry encoding', () => {
  const uuid = fc.uuid().map((u) => u.toLowerCase());
  const token = fc.stringMatching(/^[a-z0-9_.]{1,12}$/);
  const text = fc.option(fc.string({ maxLength: 40 }), { nil: null });
  const row: fc.Arbitrary<AuditRow> = fc.record({
    seq: fc.integer({ min: 1, max: 2 ** 40 }),
    stripe: fc.integer({ min: 0, max: 15 }),
    prevSeq: fc.integer({ min: 0, max: 2 ** 40 }),
    atMs: fc.integer({ min: 0, max: 4_102_444_800_000 }),
    actorId: fc.option(uuid, { nil: null }),
    actorRole: text,
    actorOrgId: fc.option(uuid, { nil: null }),
    actorCommunes: fc.array(fc.stringMatching(/^[0-9]{5}$/), { maxLength: 3 }),
    action: token,
    resourceType: fc.option(token, { nil: null }),
    resourceId: fc.option(uuid, { nil: null }),
    caseId: fc.option(uuid, { nil: null }),
    fields: fc.array(token, { maxLength: 4 }),
    outcome: token,
    reason: text,
    ip: text,
    userAgent: text,
    requestId: text,
    returnedIds: fc.array(uuid, { maxLength: 3 }),
    provinceCode: text,
    communeCode: text,
    jurisdictions: fc.array(fc.stringMatching(/^[0-9]{2}$/), { maxLength: 3 }),
  });

  it('the writer and the verifier (reading PostgreSQL’s text) encode the same bytes', () => {
    fc.assert(
      fc.property(row, (r) => {
        // What PostgreSQL returns as text for the stored row: numbers as digits, arrays as {a,b}.
        const asText = rowValues(r).map((v, i) => ([7, 12, 18, 21].includes(i) ? `{${v ?? ''}}` : v));
        expect(canonicalLine(storedValues(asText))).toBe(canonicalLine(rowValues(r)));
      }),
    );
  });

  it('two different rows never share an encoding', () => {
    const encoder = new CanonicalEncoder();
    fc.assert(
      fc.property(row, row, (a, b) => {
        const same = JSON.stringify(rowValues(a)) === JSON.stringify(rowValues(b));
        const bytesA = Buffer.from(encoder.encode(a));
        expect(bytesA.equals(encoder.encode(b))).toBe(same);
      }),
    );
    // Values that would collide without length prefixes or a distinct null.
    const base = rowValues({
      seq: 1,
      stripe: 0,
      prevSeq: 0,
      atMs: 0,
      actorId: null,
      actorRole: null,
      actorOrgId: null,
      actorCommunes: [],
      action: 'case.read',
      resourceType: null,
      resourceId: null,
      caseId: null,
      fields: [],
      outcome: 'allowed',
      reason: null,
      ip: null,
      userAgent: null,
      requestId: null,
      returnedIds: [],
      provinceCode: null,
      communeCode: null,
      jurisdictions: [],
    });
    const variants = [
      base,
      base.map((v, i) => (i === 14 ? '' : v)),
      base.map((v, i) => (i === 14 ? '~' : v)),
      base.map((v, i) => (i === 8 ? 'case.rea' : i === 9 ? 'd' : v)),
    ];
    expect(new Set(variants.map(canonicalLine)).size).toBe(variants.length);
  });
});
