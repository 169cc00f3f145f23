import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { auditChainLink, ChainLinker } from './purpose-keys';
import { loadSodium, Sodium, WrapperSodium } from './sodium';

/** The chain's links for verification (ChainLinker over Sodium.keyedHasher) against auditChainLink. */
describe('Sodium.keyedHasher and ChainLinker', () => {
  let direct: Sodium;
  const wrappers = new WrapperSodium();

  beforeAll(async () => {
    direct = await loadSodium();
  });

  it('runs on the direct WASM backend here (so the fast path is what these tests check)', () => {
    expect(direct.backend).toBe('wasm-direct');
  });

  describe.each([
    ['wasm-direct', () => direct],
    ['wrappers', () => wrappers],
  ])('%s', (_name, backend) => {
    it('hashes head and tail as their concatenation, for any split and length', () => {
      const key = randomBytes(32);
      const hasher = backend().keyedHasher(32, key);
      try {
        fc.assert(
          fc.property(fc.uint8Array({ maxLength: 9000 }), fc.nat(), (message, at) => {
            const cut = message.length === 0 ? 0 : at % (message.length + 1);
            const got = hasher.hash(message.subarray(0, cut), message.subarray(cut));
            expect(Buffer.from(got).equals(wrappers.keyedHash(32, message, key))).toBe(true);
          }),
          { numRuns: 200 },
        );
      } finally {
        hasher.close();
      }
    });

    it('keeps its key when other calls use libsodium between two hashes, WASM memory grows, or its area grows', () => {
      const key = randomBytes(32);
      const hasher = backend().keyedHasher(32, key);
      try {
        const small = Buffer.from('entry');
        const first = Buffer.from(hasher.hash(Buffer.alloc(0), small));
        // Another user of the backend's memory, large enough to grow WASM memory (4 MB at the start), which
        // replaces the ArrayBuffer under every view of it.
        backend().keyedHash(32, randomBytes(12_000_000), randomBytes(32));
        expect(Buffer.from(hasher.hash(Buffer.alloc(0), small)).equals(first)).toBe(true);
        // A message larger than the hasher's own area.
        const large = randomBytes(100_000);
        const got = hasher.hash(large.subarray(0, 10), large.subarray(10));
        expect(Buffer.from(got).equals(wrappers.keyedHash(32, large, key))).toBe(true);
        expect(Buffer.from(hasher.hash(Buffer.alloc(0), small)).equals(first)).toBe(true);
      } finally {
        hasher.close();
      }
    });

    it('refuses to hash once closed', () => {
      const hasher = backend().keyedHasher(32, randomBytes(32));
      hasher.close();
      expect(() => hasher.hash(Buffer.alloc(1), Buffer.alloc(1))).toThrow(/closed/);
    });

    it('links exactly as auditChainLink, for 32-byte links and for previous values of any length', () => {
      const key = randomBytes(32);
      const linker = new ChainLinker(backend(), key);
      try {
        fc.assert(
          fc.property(
            fc.oneof(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 80 })),
            fc.uint8Array({ maxLength: 2000 }),
            (previous, entry) => {
              const got = Buffer.from(linker.link(previous, entry));
              expect(got.equals(auditChainLink(wrappers, key, previous, entry))).toBe(true);
            },
          ),
          { numRuns: 300 },
        );
      } finally {
        linker.close();
      }
    });
  });

  it('gives a view that the next link overwrites (callers copy what they keep)', () => {
    const linker = new ChainLinker(direct, randomBytes(32));
    try {
      const a = linker.link(Buffer.alloc(32), Buffer.from('entry 1'));
      const kept = Buffer.from(a);
      const b = linker.link(Buffer.alloc(32), Buffer.from('entry 2'));
      expect(b.equals(kept)).toBe(false);
      expect(a.equals(b)).toBe(true); // the same memory
    } finally {
      linker.close();
    }
  });
});
