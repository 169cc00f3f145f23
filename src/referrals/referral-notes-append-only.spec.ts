import { Client } from 'pg';
import { createTestDatabase, TestDatabase } from '../../test/support/database';

/**
 * What the database itself keeps of a provider's notes, whoever writes as the service's role: they are added,
 * never changed or deleted (migrations ServiceRoleNarrowed and NotesAppendOnly).
 */
describe('referral notes in the database: append-only for the service', () => {
  let db: TestDatabase;
  let app: Client;

  beforeAll(async () => {
    db = await createTestDatabase();
    app = new Client({ connectionString: db.appUrl });
    await app.connect();
  });
  afterAll(async () => {
    await app?.end();
    await db?.drop();
  });

  const refused = (sql: string) =>
    app.query(sql).then(
      () => null,
      (e: { code?: string }) => e.code ?? 'no code',
    );

  it('the service role may read and add notes, but neither change nor delete one', async () => {
    expect(await refused(`SELECT count(*) FROM referral_notes`)).toBeNull();
    // Refused for the statement itself (42501, insufficient privilege), whether or not a row would match.
    expect(await refused(`UPDATE referral_notes SET enc_text = enc_text`)).toBe('42501');
    expect(await refused(`DELETE FROM referral_notes`)).toBe('42501');
    const [{ may }] = (
      await app.query<{ may: boolean }>(`SELECT has_table_privilege('referral_notes', 'INSERT') AS may`)
    ).rows;
    expect(may).toBe(true);
  });
});
