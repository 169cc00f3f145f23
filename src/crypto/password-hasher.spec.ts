import { availableParallelism } from 'node:os';
import { loadSodium } from './sodium';
import { PasswordHasher } from './password-hasher';
import sodium from 'libsodium-wrappers-sumo';
import { Worker } from 'node:worker_threads';
import { waitFor } from '../../test/support/wait';

describe('PasswordHasher and Unicode', () => {
  const hasher = new PasswordHasher();
  // "Mật khẩu" with its marks composed (NFC) and decomposed (NFD): the same text to whoever types it.
  const composed = 'Mật khẩu của tôi 2026'.normalize('NFC');
  const decomposed = composed.normalize('NFD');

  afterAll(() => hasher.onModuleDestroy());

  it('matches a password whichever way its marks were typed', async () => {
    expect(decomposed).not.toBe(composed);
    const stored = await hasher.hash(decomposed);
    expect(await hasher.verify(stored, composed)).toEqual({ valid: true, needsRehash: false });
    expect(await hasher.verify(stored, decomposed)).toEqual({ valid: true, needsRehash: false });
    expect((await hasher.verify(stored, `${composed}!`)).valid).toBe(false);
  });

  it('still accepts a hash stored from the decomposed form before passwords were normalised, and asks for a re-hash', async () => {
    await loadSodium();
    await sodium.ready;
    const legacy = sodium.crypto_pwhash_str(
      decomposed,
      sodium.crypto_pwhash_OPSLIMIT_MIN,
      sodium.crypto_pwhash_MEMLIMIT_MIN,
    );
    expect(await hasher.verify(legacy, decomposed)).toEqual({ valid: true, needsRehash: true });
    expect((await hasher.verify(legacy, 'something else entirely')).valid).toBe(false);
  });
});

describe('PasswordHasher when its workers stop', () => {
  it('fails the jobs in flight when it is shut down, instead of leaving them waiting', async () => {
    const hasher = new PasswordHasher();
    const posted = jest.spyOn(Worker.prototype, 'postMessage');
    try {
      const job = hasher.hash('mật khẩu đang được băm 2026');
      // Shut down while the job runs: once the worker (started by the first hash) has been handed it.
      await waitFor(() => posted.mock.calls.length > 0, 5_000);
      const failed = expect(job).rejects.toThrow(/worker stopped/);
      await hasher.onModuleDestroy();
      await failed;
    } finally {
      posted.mockRestore();
    }
  });

  it('a failed check of an unknown username fails that attempt only: the next is checked as usual', async () => {
    const hasher = new PasswordHasher();
    try {
      const verify = jest.spyOn(hasher, 'verify').mockRejectedValueOnce(new Error('password hashing failed'));
      await expect(hasher.verifyDummy('anything')).rejects.toThrow(/hashing failed/);
      verify.mockRestore();
      await expect(hasher.verifyDummy('anything')).resolves.toBe(false);
    } finally {
      await hasher.onModuleDestroy();
    }
  });
});

describe('PasswordHasher backlog', () => {
  it('says how long a new job would wait: the jobs queued, at ~0.15 s each, spread over its workers; none once done', async () => {
    const hasher = new PasswordHasher();
    try {
      expect(hasher.backlogSeconds).toBe(0);
      const jobs = Array.from({ length: 6 }, (_, i) => hasher.hash(`queued-password-${i}`));
      const workers = Math.max(1, Math.min(2, availableParallelism() - 1));
      expect(hasher.backlogSeconds).toBeCloseTo((6 / workers) * 0.15, 5);
      await Promise.all(jobs);
      expect(hasher.backlogSeconds).toBe(0);
    } finally {
      await hasher.onModuleDestroy();
    }
  });
});
