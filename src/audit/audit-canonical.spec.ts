import { Client } from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import {
  CANONICAL_COLUMNS,
  CanonicalEncoder,
  canonicalLine,
  rowValues,
  COPY_LINE_END,
  CopyLineEncoder,
  decodeCopyValues,
  splitCopyLine,
  storedValues,
} from './audit-canonical';
import { AuditFixture, CASE_ID, CASE_READ, givenAuditLog, WARD_OFFICER } from './audit.spec-helpers';

/**
 * The verifier reads the log as COPY text and builds each row's canonical bytes from the row's bytes
 * (CopyLineEncoder). They must be the very bytes the JavaScript encoder makes from the row's column text, for
 * what Haven writes and for what a superuser could put there instead (quoted list elements, NULLs in lists,
 * backslashes, non-ASCII text): such rows go the exact way.
 */
describe('canonical bytes from COPY text', () => {
  let f: AuditFixture;

  beforeAll(async () => {
    f = await givenAuditLog(2);
    await f.app.transaction(async (m) => {
      await f.audit.record(m, WARD_OFFICER, CASE_READ);
    });
    await f.app.transaction(async (m) => {
      await f.audit.record(m, null, {
        action: 'case.list',
        resourceType: 'case',
        fields: ['triage'],
        returnedIds: [CASE_ID, '22222222-3333-4444-8555-666666666666'],
        request: { ip: '2001:db8::1', userAgent: 'curl/8.5.0', requestId: '0123456789abcdef' },
      });
    });
    // Rows only a superuser could write (the writer refuses such values): the encodings must still agree.
    await f.tamper(
      `INSERT INTO audit_events (seq, stripe, prev_seq, at, actor_communes, action, fields, outcome, reason, ip,
         user_agent, returned_ids, jurisdictions, mac)
       VALUES (900, 3, 0, '2026-01-02T03:04:05.678Z', '{"a,b",NULL}', 'case.read', '{}', 'allowed', 'x.y', '',
               'quote " and \\ backslash', '{}', '{"", "01"}', decode(repeat('00', 32), 'hex')),
              (901, 4, 0, '1970-01-01T00:00:00Z', '{}', 'case.read', '{"a b","c,d"}', 'denied', NULL, NULL,
               'Tiếng Việt có dấu', '{}', '{}', decode(repeat('11', 32), 'hex'))`,
    );
  });
  afterAll(async () => {
    await f.close();
  });

  it('the byte path equals the JavaScript encoding of the stored text, and hands every unusual row to the exact path', async () => {
    const columns = CANONICAL_COLUMNS.map((c) => ('select' in c ? c.select : c.column));
    // The raw text of each value, as the former verifier read it.
    const text = await f.owner.query<{ cols: (string | null)[] }[]>(
      `SELECT ARRAY[${columns.map((c) => `(${c})::text`).join(', ')}] AS cols FROM audit_events ORDER BY seq`,
    );
    const client = new Client({ connectionString: f.db.url });
    await client.connect();
    const chunks: Buffer[] = [];
    try {
      const stream = client.query(
        copyTo(`COPY (SELECT ${columns.join(', ')} FROM audit_events ORDER BY seq) TO STDOUT`),
      );
      for await (const chunk of stream as unknown as AsyncIterable<Buffer>) chunks.push(chunk);
    } finally {
      await client.end();
    }
    const all = Buffer.concat(chunks);
    const lines: [number, number][] = [];
    for (let s = 0; s < all.length;) {
      const e = all.indexOf(COPY_LINE_END, s);
      lines.push([s, e]);
      s = e + 1;
    }
    expect(lines.length).toBe(4);
    const fast = new CopyLineEncoder();
    const exact = new CanonicalEncoder();
    const starts = new Int32Array(CANONICAL_COLUMNS.length);
    const ends = new Int32Array(CANONICAL_COLUMNS.length);
    const took: boolean[] = [];
    lines.forEach(([s, e], i) => {
      expect(splitCopyLine(all, s, e, starts, ends)).toBe(CANONICAL_COLUMNS.length);
      const values = decodeCopyValues(all, starts, ends, CANONICAL_COLUMNS.length);
      expect(values).toEqual(text[i].cols);
      const expected = Buffer.from(exact.encodeLine(canonicalLine(storedValues([...text[i].cols]))));
      const bytes = fast.encode(all, starts, ends);
      took.push(bytes !== null);
      if (bytes) expect(Buffer.from(bytes).equals(expected)).toBe(true);
    });
    // Haven's own rows take the byte path; the superuser's (a backslash, non-ASCII text) the exact one.
    expect(took).toEqual([true, true, false, false]);
  });
});

describe('canonical line (known answer)', () => {
  it('is format 1 as documented: `1;` then each column as <length>:<text>, or ~ for null, lists joined by commas', () => {
    // Every stored entry's MAC covers these bytes: a change of the line would fail the whole log's
    // verification, and the other tests (which write and verify with the same code) would not see it.
    const line = canonicalLine(
      rowValues({
        seq: 42,
        stripe: 7,
        prevSeq: 35,
        atMs: 1764000000123,
        actorId: '0b7c2e8a-1d2f-4a3b-9c4d-5e6f7a8b9c0d',
        actorRole: 'ward_officer',
        actorOrgId: null,
        actorCommunes: ['00145', '00148'],
        action: 'case.read',
        resourceType: 'case',
        resourceId: '123e4567-e89b-42d3-a456-426614174000',
        caseId: '123e4567-e89b-42d3-a456-426614174000',
        fields: ['triage', 'identity'],
        outcome: 'allowed',
        reason: null,
        ip: '203.0.113.9',
        userAgent: 'Mozilla/5.0',
        requestId: 'req-0001-abcd',
        returnedIds: [],
        provinceCode: '01',
        communeCode: '00145',
        jurisdictions: ['01'],
      }),
    );
    expect(line).toBe(
      '1;2:421:72:3513:1764000000123' +
        '36:0b7c2e8a-1d2f-4a3b-9c4d-5e6f7a8b9c0d12:ward_officer~11:00145,00148' +
        '9:case.read4:case36:123e4567-e89b-42d3-a456-42661417400036:123e4567-e89b-42d3-a456-426614174000' +
        '15:triage,identity7:allowed~11:203.0.113.911:Mozilla/5.013:req-0001-abcd0:2:015:001452:01',
    );
  });
});
