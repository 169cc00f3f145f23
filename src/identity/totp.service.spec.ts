import { generate } from 'otplib';
import pino from 'pino';
import { DataSource } from 'typeorm';
import { createTestDataSource } from '../../test/support/database';
import { clearOfTotpStepEnd } from '../../test/support/totp-step';
import { loadConfig } from '../config/config';
import { createCryptoServices } from '../crypto';
import { TotpSecretCipher } from './totp-secret.cipher';
import { MAX_TOTP_FAILURES, TotpService } from './totp.service';
import { User } from './user.entity';

describe('TotpService', () => {
  let dataSource: DataSource;
  let drop: () => Promise<void>;
  let totp: TotpService;
  const at = (offset: number) => Math.floor(Date.now() / 1000) + offset;
  const load = async (id: string) => (await dataSource.getRepository(User).findOneBy({ id }))!;
  /** Activates the user's pending secret from a session of the user's current token version. */
  const activateFor = async (id: string, code: string) => {
    const user = await load(id);
    return totp.activate(user, code, user);
  };
  /**
   * A new account with two-factor active (its code of the step before this one used), and its right code for
   * this step.
   */
  const withActiveTotp = async () => {
    const user = await givenUser();
    const { secret } = await totp.enroll(user);
    await clearOfTotpStepEnd();
    await activateFor(user.id, await generate({ secret, epoch: at(-30) }));
    return { user, secret, right: await generate({ secret, epoch: at(0) }) };
  };

  beforeAll(async () => {
    ({ dataSource, drop } = await createTestDataSource());
    const crypto = await createCryptoServices(
      { dataDir: '/nonexistent', production: false, masterKey: Buffer.alloc(32, 7).toString('base64') },
      dataSource,
    );
    totp = new TotpService(
      dataSource,
      new TotpSecretCipher(crypto.dataKeys, crypto.fields),
      loadConfig({}),
      pino({ level: 'silent' }),
    );
  });
  afterAll(async () => {
    await drop();
  });

  async function givenUser(): Promise<User> {
    const [row] = await dataSource.query<{ id: string }[]>(
      `INSERT INTO users (username, role, password_hash) VALUES ('u' || floor(random() * 1e9)::text, 'admin', 'x')
       RETURNING id`,
    );
    return load(row.id);
  }

  it('enrols with a sealed pending secret, activates with a first code, then checks codes once each', async () => {
    const user = await givenUser();
    const { secret, otpauthUrl } = await totp.enroll(user);
    expect(otpauthUrl).toContain(`secret=${secret}`);
    const sealed = (await load(user.id)).totpPendingSecret!;
    expect(sealed.toString('latin1')).not.toContain(secret);

    await expect(activateFor(user.id, '000000')).rejects.toMatchObject({
      code: 'auth.totp_invalid',
    });
    await clearOfTotpStepEnd(); // the codes below are made for the steps around this one
    await activateFor(user.id, await generate({ secret, epoch: at(-30) }));
    const active = await load(user.id);
    expect(active.totpEnabledAt).not.toBeNull();
    expect(active.totpPendingSecret).toBeNull();
    expect(active.tokenVersion).toBe(user.tokenVersion + 1);

    const now = await generate({ secret, epoch: at(0) });
    expect(await totp.check(await load(user.id), now)).toBe('right');
    expect(await totp.check(await load(user.id), now)).toBe('wrong'); // replay
    expect(await totp.check(await load(user.id), await generate({ secret, epoch: at(-30) }))).toBe('wrong'); // older
    expect(await totp.check(await load(user.id), await generate({ secret, epoch: at(30) }))).toBe('right');
    expect(await totp.check(await load(user.id), '12345')).toBe('wrong');
  });

  it('a session that ended meanwhile (a password reset to lock out whoever had it) activates nothing', async () => {
    const user = await givenUser();
    const { secret } = await totp.enroll(user);
    const asked = await load(user.id); // as the session read it, before the reset
    await dataSource.query(`UPDATE users SET token_version = token_version + 1 WHERE id = $1`, [user.id]);
    await clearOfTotpStepEnd();
    await expect(totp.activate(asked, await generate({ secret, epoch: at(0) }), asked)).rejects.toMatchObject(
      { code: 'auth.unauthenticated' },
    );
    expect((await load(user.id)).totpEnabledAt).toBeNull();
    // The session of now activates it.
    const now = await load(user.id);
    await totp.activate(now, await generate({ secret, epoch: at(0) }), now);
    expect((await load(user.id)).totpEnabledAt).not.toBeNull();
  });

  it('ten wrong codes in a row lock the account’s codes: then even the right one is refused, unchecked', async () => {
    const { user, secret, right } = await withActiveTotp();
    const wrong = right === '000000' ? '111111' : '000000';
    // Nine wrong, then the right one: the count starts again.
    for (let i = 0; i < 9; i++) expect(await totp.check(await load(user.id), wrong)).toBe('wrong');
    expect(await totp.check(await load(user.id), right)).toBe('right');
    expect((await load(user.id)).totpFailures).toBe(0);
    // Ten wrong in a row (a malformed one counts too): the eleventh is not checked, right or wrong.
    for (let i = 0; i < 9; i++) expect(await totp.check(await load(user.id), wrong)).toBe('wrong');
    expect(await totp.check(await load(user.id), '12345')).toBe('wrong');
    const next = await generate({ secret, epoch: at(30) });
    expect(await totp.check(await load(user.id), next)).toBe('locked');
    expect((await load(user.id)).totpFailures).toBe(MAX_TOTP_FAILURES);
    // Many at once pass no further than the limit (each is counted before it is checked).
    await dataSource.query(`UPDATE users SET totp_failures = $2 WHERE id = $1`, [
      user.id,
      MAX_TOTP_FAILURES - 2,
    ]);
    const burst = await Promise.allSettled(
      Array.from({ length: 8 }, async () => totp.check(await load(user.id), wrong)),
    );
    expect(burst.map((b) => (b.status === 'fulfilled' ? b.value : b.reason)).sort()).toEqual([
      ...Array<string>(6).fill('locked'),
      'wrong',
      'wrong',
    ]);
    expect((await load(user.id)).totpFailures).toBe(MAX_TOTP_FAILURES);
  });

  it('a code this instance cannot check (its secret does not open here) is not counted against the user', async () => {
    const { user, right } = await withActiveTotp();
    // An instance whose keys do not open the user's data key (a keyring behind a rotation, say): every check fails.
    const other = await createCryptoServices(
      { dataDir: '/nonexistent', production: false, masterKey: Buffer.alloc(32, 8).toString('base64') },
      dataSource,
    );
    const warnings: { msg: string; userId?: string }[] = [];
    const lagging = new TotpService(
      dataSource,
      new TotpSecretCipher(other.dataKeys, other.fields),
      loadConfig({}),
      pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line)) }),
    );
    for (let i = 0; i < MAX_TOTP_FAILURES + 1; i++) {
      await expect(lagging.check(await load(user.id), right)).rejects.toThrow();
    }
    // No wrong code was tried: the count is untouched, and the right code passes where it can be checked.
    expect((await load(user.id)).totpFailures).toBe(0);
    expect(warnings).toEqual([]);
    // The caller's give-back of its own counts failing too: the refusal is the code's, and the failure is logged.
    const giveBackFails = () => Promise.reject(new Error('throttle store gone'));
    await expect(lagging.check(await load(user.id), right, giveBackFails)).rejects.not.toThrow(
      'throttle store gone',
    );
    expect(warnings).toEqual([
      expect.objectContaining({ userId: user.id, msg: expect.stringContaining('give-back failed') }),
    ]);
    expect(await totp.check(await load(user.id), right)).toBe('right');
  });

  it('a step stored ahead of this clock (another instance running fast) refuses every code here, without counting it', async () => {
    const { user, right } = await withActiveTotp();
    // A fast clock accepted a code two minutes ahead: every step of this instance's window is used.
    const ahead = Math.floor(at(120) / 30);
    await dataSource.query(`UPDATE users SET totp_last_step = $2 WHERE id = $1`, [user.id, ahead]);
    for (let i = 0; i < MAX_TOTP_FAILURES + 2; i++) {
      expect(await totp.check(await load(user.id), i % 2 ? right : '000000')).toBe('wrong');
    }
    expect((await load(user.id)).totpFailures).toBe(0);
    // Once this clock's window reaches past it again, codes count and are checked as before.
    await dataSource.query(`UPDATE users SET totp_last_step = $2 WHERE id = $1`, [
      user.id,
      Math.floor(at(-60) / 30),
    ]);
    expect(await totp.check(await load(user.id), right)).toBe('right');
  });

  it('two enrolments of one account at once both succeed, one data key made, one of the two secrets pending (a double click)', async () => {
    for (let i = 0; i < 5; i++) {
      const user = await givenUser(); // no data key yet: both enrolments would make one
      const both = await Promise.all([totp.enroll(user), totp.enroll(user)]);
      const keys = await dataSource.query<{ n: number }[]>(
        `SELECT count(*)::int AS n FROM data_keys WHERE owner_type = 'user' AND owner_id = $1`,
        [user.id],
      );
      expect(keys[0].n).toBe(1);
      // The pending secret is one of the two handed out, and it activates: exactly one of them does.
      const pending = await load(user.id);
      const tries = await Promise.allSettled(
        both.map(async ({ secret }) =>
          totp.activate(pending, await generate({ secret, epoch: at(0) }), pending),
        ),
      );
      expect(tries.filter((t) => t.status === 'fulfilled')).toHaveLength(1);
    }
  });

  it('a secret copied onto another account does not open there', async () => {
    const a = await givenUser();
    const b = await givenUser();
    const { secret } = await totp.enroll(a);
    await activateFor(a.id, await generate({ secret, epoch: at(0) }));
    await totp.enroll(b); // b has a data key of its own: the copy is refused as sealed with another (a's)
    await dataSource.query(
      `UPDATE users SET totp_secret = (SELECT totp_secret FROM users WHERE id = $1), totp_enabled_at = now()
        WHERE id = $2`,
      [a.id, b.id],
    );
    await expect(
      totp.check(await load(b.id), await generate({ secret, epoch: at(30) })),
    ).rejects.toMatchObject({
      code: 'crypto.unknown_key',
    });
  });
});
