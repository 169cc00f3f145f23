import { CANONICAL_COLUMNS, CANONICAL_LINE_SQL, canonicalLine, storedValues } from './audit-canonical';
import { AuditFixture, CASE_ID, givenAuditLog, WARD_OFFICER } from './audit.spec-helpers';

/**
 * The verifier lets PostgreSQL build each stored row's canonical line (CANONICAL_LINE_SQL). It must be the
 * very text the JavaScript encoder makes from the row's raw column text, for what Haven writes and for what a
 * superuser could put there instead (quoted list elements, NULLs in lists, empty lists, nulls everywhere).
 */
describe('canonical line computed by PostgreSQL', () => {
  let f: AuditFixture;

  beforeAll(async () => {
    f = await givenAuditLog(2);
    await f.app.transaction(async (m) => {
      await f.audit.record(m, WARD_OFFICER, {
        action: 'case.read',
        resourceType: 'case',
        resourceId: CASE_ID,
        caseId: CASE_ID,
        fields: ['triage', 'identity'],
        provinceCode: '01',
        wardCode: '00145',
      });
    });
    await f.app.transaction(async (m) => {
      await f.audit.record(m, null, {
        action: 'case.list',
        resourceType: 'case',
        fields: ['triage'],
        returnedIds: [CASE_ID, '22222222-3333-4444-8555-666666666666'],
        request: { ip: '2001:db8::1', userAgent: 'curl/8.5.0', requestId: 'req-12345678' },
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

  it('equals the JavaScript encoding of the stored text, row by row', async () => {
    const rows = await f.owner.query<{ line: string; cols: (string | null)[] }[]>(
      `SELECT ${CANONICAL_LINE_SQL} AS line, ARRAY[${CANONICAL_COLUMNS.map((c) =>
        'select' in c ? `(${c.select})::text` : `${c.column}::text`,
      ).join(', ')}] AS cols FROM audit_events ORDER BY seq`,
    );
    expect(rows.length).toBe(4);
    for (const r of rows) {
      expect(r.line).toBe(canonicalLine(storedValues([...r.cols])));
    }
    // The hostile rows really are unusual (quoted elements, NULL inside a list, non-ASCII text).
    expect(rows[2].line).toContain('"a,b",NULL');
    expect(rows[3].line).toContain('Tiếng Việt');
  });
});
