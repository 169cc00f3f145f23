import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { LOGGER } from '../src/common/logging/logger.module';
import { DataKeyService, FieldEncryptionService } from '../src/crypto';
import { DateOfBirthBackfill } from '../src/cases/date-of-birth-backfill.service';
import { BlindIndexService } from '../src/crypto/blind-index.service';
import type { TestApp } from './support/app';
import { caseBody, signInAll, startDemoApp, Tokens } from './support/casework';
import { withBearer } from './support/http';

// Its own file: Passport strategies are process-wide, so two applications must not share a test file.
describe('date-of-birth index of cases registered before it (DateOfBirthBackfill)', () => {
  let t: TestApp;
  let tokens: Tokens;
  let owner: Client;
  const as = () => withBearer(t, tokens['ward.longbien']);

  beforeAll(async () => {
    t = await startDemoApp();
    tokens = await signInAll(t, ['ward.longbien']);
    owner = new Client({ connectionString: t.db.url });
    await owner.connect();
  });
  afterAll(async () => {
    await owner.end();
    await t.close();
  });

  const register = async (survivor: Record<string, unknown>): Promise<string> => {
    const body = caseBody();
    const res = await as()
      .post('/api/v1/cases', { ...body, survivor: { ...(body.survivor as object), ...survivor } })
      .expect(201);
    return res.body.id as string;
  };
  const foundByDate = async (dateOfBirth: string): Promise<string[]> =>
    (await as().post('/api/v1/cases/search', { dateOfBirth }).expect(200)).body.items.map(
      (i: { id: string }) => i.id,
    );
  const rows = (ids: string[]) =>
    owner
      .query<{ id: string; bi_dob: Buffer | null; version: number; updated_at: Date }>(
        `SELECT id, bi_dob, version, updated_at FROM cases WHERE id = ANY($1) ORDER BY id`,
        [ids],
      )
      .then((r) => r.rows);

  it('fills the index of old cases a batch at a time, leaving locked rows to their change and changing nothing else', async () => {
    const dated = [
      await register({ dateOfBirth: '1977-04-12' }),
      await register({ dateOfBirth: '1977-04-12' }),
      await register({ dateOfBirth: '1981-09-30' }),
    ];
    const aged = await register({ dateOfBirth: undefined, ageYears: 40 });
    const registered = await rows(dated);
    // What a registration writes: the index of the date alone.
    const blind = t.app.get(BlindIndexService);
    expect(registered.map((r) => r.bi_dob?.toString('hex'))).toEqual(
      dated
        .map((id, i) => [id, ['1977-04-12', '1977-04-12', '1981-09-30'][i]] as const)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([, dob]) => blind.dateOfBirth(dob).toString('hex')),
    );
    // As the migration leaves a case registered before it: no index of the date alone.
    await owner.query(`UPDATE cases SET bi_dob = NULL WHERE id = ANY($1)`, [[...dated, aged]]);
    expect(await foundByDate('1977-04-12')).toEqual([]);

    // One row is being changed meanwhile: skipped, not waited for.
    const locker = new Client({ connectionString: t.db.url });
    await locker.connect();
    const busy = registered[0].id;
    try {
      await locker.query('BEGIN');
      await locker.query(`SELECT 1 FROM cases WHERE id = $1 FOR UPDATE`, [busy]);
      const backfill = t.app.get(DateOfBirthBackfill);
      await expect(backfill.run(1)).resolves.toEqual({ filled: 2, failed: 0 });
      expect((await rows([busy]))[0].bi_dob).toBeNull();
    } finally {
      await locker.query('ROLLBACK');
      await locker.end();
    }
    const backfill = t.app.get(DateOfBirthBackfill);
    await expect(backfill.run()).resolves.toEqual({ filled: 1, failed: 0 });
    await expect(backfill.run()).resolves.toEqual({ filled: 0, failed: 0 });

    // The same indexes as the registrations wrote, nothing else changed (no version, no updated_at).
    expect(await rows(dated)).toEqual(registered);
    expect((await rows([aged]))[0].bi_dob).toBeNull(); // no date of birth: nothing to index
    expect((await foundByDate('1977-04-12')).sort()).toEqual(dated.slice(0, 2).sort());
    expect(await foundByDate('1981-09-30')).toEqual([dated[2]]);
  });

  it('runs at start and every ten minutes, is started once, and stops with the service', async () => {
    // A backfill of its own, with the service's parts, whose timer the test holds.
    const own = new DateOfBirthBackfill(
      t.app.get(DataSource),
      t.app.get(DataKeyService),
      t.app.get(FieldEncryptionService),
      t.app.get(BlindIndexService),
      t.app.get(LOGGER),
    );
    const every = jest.spyOn(global, 'setInterval');
    const id = await register({ dateOfBirth: '1955-05-05' });
    await owner.query(`UPDATE cases SET bi_dob = NULL WHERE id = $1`, [id]);
    const filled = async () => (await rows([id]))[0].bi_dob !== null;
    const until = async (want: boolean) => {
      for (let i = 0; i < 50 && (await filled()) !== want; i++) await new Promise((r) => setTimeout(r, 100));
      return filled();
    };
    try {
      own.start();
      own.start(); // started once
      expect(every).toHaveBeenCalledTimes(1);
      const [tick, ms] = every.mock.calls[0] as [() => void, number];
      expect(ms).toBe(10 * 60 * 1000);
      expect(await until(true)).toBe(true); // the run at start
      // A case left without its index later (an instance of the previous version): the next run fills it.
      await owner.query(`UPDATE cases SET bi_dob = NULL WHERE id = $1`, [id]);
      tick();
      expect(await until(true)).toBe(true);
      await own.beforeApplicationShutdown();
      await owner.query(`UPDATE cases SET bi_dob = NULL WHERE id = $1`, [id]);
      tick(); // after the stop: no run
      await new Promise((r) => setTimeout(r, 300));
      expect(await filled()).toBe(false);
    } finally {
      every.mockRestore();
      await own.beforeApplicationShutdown();
      await t.app.get(DateOfBirthBackfill).run();
    }
  });

  it('passes over a case whose identity cannot be opened, and tries it again at the next run', async () => {
    const good = await register({ dateOfBirth: '1969-02-01' });
    const broken = await register({ dateOfBirth: '1969-02-01' });
    // Another row's ciphertext: bound to its own row, it does not open here.
    await owner.query(
      `UPDATE cases SET bi_dob = NULL,
              enc_identity = CASE WHEN id = $2 THEN (SELECT enc_identity FROM cases WHERE id = $1) ELSE enc_identity END
        WHERE id = ANY(ARRAY[$1, $2]::uuid[])`,
      [good, broken],
    );
    const backfill = t.app.get(DateOfBirthBackfill);
    await expect(backfill.run()).resolves.toEqual({ filled: 1, failed: 1 });
    await expect(backfill.run()).resolves.toEqual({ filled: 0, failed: 1 });
    expect(await foundByDate('1969-02-01')).toEqual([good]);
    // Said in the log without anything of the case.
    const warned = t.logs.filter((l) => l.includes('date-of-birth index backfill'));
    expect(warned.at(-1)).toMatch(/"filled":0,"failed":1/);
    expect(warned.join('\n')).not.toMatch(new RegExp(`${broken}|1969`));
  });
});
