import { loadSodium } from './sodium';
import { PasswordHasher } from './password-hasher';
import sodium from 'libsodium-wrappers-sumo';

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
