import { DUMMY_HASH, PasswordHasher } from '../../src/crypto/password-hasher';
import { waitFor } from '../support/wait';

describe('PasswordHasher (Argon2id in a worker thread)', () => {
  const hasher = new PasswordHasher();
  afterAll(() => hasher.onModuleDestroy());

  it('hashes with Argon2id at the documented parameters and verifies', async () => {
    const hash = await hasher.hash('correct horse battery staple');
    // The documented parameters written out (docs/security.md: 64 MiB, two passes), not read from the code: a
    // weaker setting fails here.
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=65536,t=2,p=1\$/);
    expect(await hasher.verify(hash, 'correct horse battery staple')).toEqual({
      valid: true,
      needsRehash: false,
    });
    expect((await hasher.verify(hash, 'correct horse battery stapl')).valid).toBe(false);
    // Salted: the same password never gives the same hash.
    expect(await hasher.hash('correct horse battery staple')).not.toBe(hash);
  });

  it('treats garbage and over-long input as a mismatch, never an error', async () => {
    expect((await hasher.verify('not a hash', 'whatever')).valid).toBe(false);
    const hash = await hasher.hash('another fine passphrase');
    expect((await hasher.verify(hash, 'x'.repeat(5000))).valid).toBe(false);
    await expect(hasher.hash('x'.repeat(5000))).rejects.toThrow(RangeError);
  });

  it('the dummy verification for unknown accounts is always false, and costs what a real check costs from the first', async () => {
    const hash = jest.spyOn(hasher, 'hash');
    const verify = jest.spyOn(hasher, 'verify');
    try {
      expect(await hasher.verifyDummy('anything at all')).toBe(false);
      // One verification and no hash first: the first unknown username answers as soon as a later one.
      expect(hash).not.toHaveBeenCalled();
      expect(verify).toHaveBeenCalledTimes(1);
    } finally {
      hash.mockRestore();
      verify.mockRestore();
    }
    // Its hash has the parameters of the hashes the hasher makes (the same work to check it).
    const params = (h: string) => h.split('$').slice(0, 4).join('$');
    expect(params(DUMMY_HASH)).toBe(params(await hasher.hash('a password of a real account')));
    expect((await hasher.verify(DUMMY_HASH, '')).needsRehash).toBe(false);
  });

  it('does not block the event loop while hashing', async () => {
    await hasher.hash('warm up the worker first');
    // The event loop turns while two hashes (~150 ms of CPU each) run: on this thread it would not turn at all
    // until they were done. Counted in turns, not milliseconds, so that a busy machine does not fail it.
    let turns = 0;
    let hashing = true;
    const spin = (): void => {
      turns++;
      if (hashing) setImmediate(spin);
    };
    setImmediate(spin);
    await Promise.all([hasher.hash('one passphrase here'), hasher.hash('two passphrases here')]);
    hashing = false;
    expect(turns).toBeGreaterThan(20);
  });

  it('stops its workers once idle (their Argon2 memory is returned) and starts one again for the next job', async () => {
    const idle = new PasswordHasher();
    idle.idleMs = 100;
    try {
      const hash = await idle.hash('a passphrase to remember');
      expect(idle.workerCount).toBe(1);
      expect((await idle.verify(hash, 'a passphrase to remember')).valid).toBe(true);
      await waitFor(() => idle.workerCount === 0, 5000);
      // A new worker for the next job, with the same result.
      expect((await idle.verify(hash, 'a passphrase to remember')).valid).toBe(true);
      expect((await idle.verify(hash, 'another passphrase')).valid).toBe(false);
      expect(idle.workerCount).toBe(1);
    } finally {
      await idle.onModuleDestroy();
    }
    expect(idle.workerCount).toBe(0);
  });

  it('does not stop a worker while a job runs, however short the idle time', async () => {
    const idle = new PasswordHasher();
    idle.idleMs = 1;
    try {
      const hashes = await Promise.all(
        ['first passphrase', 'second passphrase', 'third passphrase'].map((p) => idle.hash(p)),
      );
      const checks = await Promise.all(hashes.map((h) => idle.verify(h, 'second passphrase')));
      expect(checks.map((c) => c.valid)).toEqual([false, true, false]);
    } finally {
      await idle.onModuleDestroy();
    }
  });
});
