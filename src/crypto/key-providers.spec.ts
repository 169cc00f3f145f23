import { createFileExclusive } from '../common/fs/durable-file';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import {
  chmodSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Test } from '@nestjs/testing';
import { BlindIndexService } from './blind-index.service';
import { CryptoError } from './crypto.errors';
import { createCryptoServices, createKeyProvider } from './crypto.factory';
import { CryptoModule, KEY_PROVIDER } from './crypto.module';
import { CryptoOptions } from './crypto.options';
import { cryptoErrorOf } from './crypto.spec-helpers';
import { DataKeyService } from './data-key.service';
import { EnvKeyProvider } from './env-key-provider';
import { FieldEncryptionService } from './field-encryption.service';
import { FileKeyProvider } from './file-key-provider';
import type { KeyProvider } from './key-provider';
import {
  generateKeyring,
  parseKeyMaterial,
  rootDerivedVersions,
  serializeKeyring,
  withNewKekVersion,
} from './keyring';
import { loadSodium } from './sodium';
import { PurposeKeys } from './purpose-keys';

const context = Buffer.from('test context');

describe('key providers', () => {
  let root: string;
  const dataDir = () => mkdtempSync(join(root, 'data-'));

  beforeAll(() => {
    root = mkdtempSync(join(process.env.HAVEN_TEST_ROOT ?? tmpdir(), 'keys-'));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  describe('FileKeyProvider', () => {
    it('creates the keyring on first start: directory 0700, file 0600', async () => {
      const dir = dataDir();
      const provider = await createKeyProvider({ dataDir: dir, production: false });
      expect(provider).toBeInstanceOf(FileKeyProvider);
      const keysDir = join(dir, 'keys');
      expect(statSync(keysDir).mode & 0o777).toBe(0o700);
      expect(readdirSync(keysDir)).toEqual(['keyring.json']);
      expect(statSync(join(keysDir, 'keyring.json')).mode & 0o777).toBe(0o600);
      const doc = JSON.parse(readFileSync(join(keysDir, 'keyring.json'), 'utf8'));
      expect(doc).toMatchObject({ format: 'haven-keyring/1', kekId: 'haven-kek', keks: [{ version: 1 }] });
      expect(await provider.activeKek()).toEqual({ kekId: 'haven-kek', version: 1 });
    });

    it('reuses the keys on the next start', async () => {
      const dir = dataDir();
      const first = await createKeyProvider({ dataDir: dir, production: false });
      const before = readFileSync(join(dir, 'keys', 'keyring.json'));
      const wrapped = await first.wrapDek(await first.activeKek(), randomBytes(32), context);
      const second = await createKeyProvider({ dataDir: dir, production: false });
      expect(readFileSync(join(dir, 'keys', 'keyring.json')).equals(before)).toBe(true);
      expect(Buffer.from(second.rootSecret()).equals(Buffer.from(first.rootSecret()))).toBe(true);
      await expect(second.unwrapDek(await second.activeKek(), wrapped, context)).resolves.toHaveLength(32);
    });

    it('keeps the first keyring when another process created one in the meantime (no overwrite)', async () => {
      const dir = dataDir();
      const provider = (await createKeyProvider({ dataDir: dir, production: false })) as FileKeyProvider;
      const before = readFileSync(provider.path);
      // The losing side of a first-start race: its exclusive create must fail quietly and leave no temp file.
      expect(createFileExclusive(provider.path, '{"other":true}')).toBe(false);
      expect(readFileSync(provider.path).equals(before)).toBe(true);
      expect(readdirSync(join(dir, 'keys'))).toEqual(['keyring.json']);
    });

    it('refuses a keyring that group or others can read', async () => {
      const dir = dataDir();
      await createKeyProvider({ dataDir: dir, production: false });
      chmodSync(join(dir, 'keys', 'keyring.json'), 0o644);
      const err = await createKeyProvider({ dataDir: dir, production: false }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CryptoError);
      expect((err as CryptoError).code).toBe('crypto.config');
      expect((err as CryptoError).message).toContain('chmod 600');
    });

    it('adds independent KEK versions; another process picks them up without a restart', async () => {
      const dir = dataDir();
      const service = await createKeyProvider({ dataDir: dir, production: false });
      const cli = await createKeyProvider({ dataDir: dir, production: false });
      const v2 = await cli.addKekVersion();
      expect(v2).toEqual({ kekId: 'haven-kek', version: 2 });
      expect(statSync(join(dir, 'keys', 'keyring.json')).mode & 0o777).toBe(0o600);
      const wrapped = await cli.wrapDek(v2, randomBytes(32), context);
      // The service loaded v1 only; it re-reads the keyring when it meets v2 or creates a key.
      await expect(service.unwrapDek(v2, wrapped, context)).resolves.toHaveLength(32);
      expect(await service.activeKek()).toEqual(v2);
      const doc = JSON.parse(readFileSync(join(dir, 'keys', 'keyring.json'), 'utf8'));
      expect(doc.keks[0].key).not.toBe(doc.keks[1].key);
      expect((await service.kekVersions()).map((k) => k.version)).toEqual([1, 2]);
    });

    it('shows the version it is about to add first; refused there, it leaves the keyring as it was', async () => {
      const dir = dataDir();
      const provider = await createKeyProvider({ dataDir: dir, production: false });
      const file = join(dir, 'keys', 'keyring.json');
      const before = readFileSync(file);
      const shown: unknown[] = [];
      const refusal = new Error('known elsewhere');
      await expect(
        provider.addKekVersion((next) => {
          shown.push(next);
          return Promise.reject(refusal);
        }),
      ).rejects.toBe(refusal);
      expect(shown).toEqual([{ kekId: 'haven-kek', version: 2 }]);
      expect(readFileSync(file).equals(before)).toBe(true);
      expect(await provider.activeKek()).toEqual({ kekId: 'haven-kek', version: 1 });
      // Accepted, the version shown is the one added.
      const added = await provider.addKekVersion((next) => {
        shown.push(next);
        return Promise.resolve();
      });
      expect(shown[1]).toEqual(added);
      expect(await provider.activeKek()).toEqual({ kekId: 'haven-kek', version: 2 });
    });

    it('does not write over a keyring that changed while the new version was vetted', async () => {
      const dir = dataDir();
      const provider = await createKeyProvider({ dataDir: dir, production: false });
      const other = await createKeyProvider({ dataDir: dir, production: false });
      const file = join(dir, 'keys', 'keyring.json');
      let written = Buffer.alloc(0);
      const err = await provider
        .addKekVersion(async () => {
          await other.addKekVersion(); // another rotation wrote v2 meanwhile
          written = readFileSync(file);
        })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CryptoError);
      expect((err as CryptoError).code).toBe('crypto.config');
      expect((err as CryptoError).message).toMatch(/changed while the new version was checked/);
      expect(readFileSync(file).equals(written)).toBe(true); // the other's v2 stays
      // The provider still knows the file changed: it reads the other's v2 when it next looks.
      await provider.refresh();
      expect(await provider.activeKek()).toEqual(await other.activeKek());
      const wrapped = await other.wrapDek(await other.activeKek(), randomBytes(32), context);
      await expect(provider.unwrapDek(await other.activeKek(), wrapped, context)).resolves.toHaveLength(32);
    });

    it('unwrap fails with coded errors for an unknown KEK version or a different context', async () => {
      const provider = await createKeyProvider({ dataDir: dataDir(), production: false });
      const kek = await provider.activeKek();
      const wrapped = await provider.wrapDek(kek, randomBytes(32), context);
      expect(await cryptoErrorOf(() => provider.unwrapDek({ ...kek, version: 9 }, wrapped, context))).toBe(
        'crypto.unknown_kek',
      );
      expect(
        await cryptoErrorOf(() => provider.unwrapDek({ ...kek, kekId: 'other' }, wrapped, context)),
      ).toBe('crypto.unknown_kek');
      expect(await cryptoErrorOf(() => provider.unwrapDek(kek, wrapped, Buffer.from('other')))).toBe(
        'crypto.integrity',
      );
      expect(await cryptoErrorOf(() => provider.unwrapDek(kek, wrapped.subarray(1), context))).toBe(
        'crypto.bad_format',
      );
    });
  });

  describe('EnvKeyProvider and production', () => {
    const base64Key = () => randomBytes(32).toString('base64');

    it('production refuses to start without explicit keys, naming the variables', async () => {
      const err = await createKeyProvider({ dataDir: dataDir(), production: true }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CryptoError);
      expect((err as CryptoError).code).toBe('crypto.config');
      expect((err as CryptoError).message).toContain('HAVEN_MASTER_KEY');
      expect((err as CryptoError).message).toContain('HAVEN_MASTER_KEY_FILE');
    });

    it('production never creates a key file', async () => {
      const dir = dataDir();
      await createKeyProvider({ dataDir: dir, production: true }).catch(() => undefined);
      expect(readdirSync(dir)).toEqual([]);
    });

    it('reads a bare base64 master key from HAVEN_MASTER_KEY (single-secret mode)', async () => {
      const key = base64Key();
      const a = await createKeyProvider({ dataDir: dataDir(), production: true, masterKey: key });
      const b = await createKeyProvider({ dataDir: dataDir(), production: true, masterKey: key });
      expect(a).toBeInstanceOf(EnvKeyProvider);
      expect(Buffer.from(a.rootSecret()).toString('base64')).toBe(key);
      const kek = await a.activeKek();
      expect(kek).toEqual({ kekId: 'haven-kek', version: 1 });
      const wrapped = await a.wrapDek(kek, randomBytes(32), context);
      await expect(b.unwrapDek(kek, wrapped, context)).resolves.toHaveLength(32);
    });

    it('reads a keyring document from HAVEN_MASTER_KEY_FILE and follows updates of the file', async () => {
      const dir = dataDir();
      const file = join(dir, 'haven-keyring.json');
      const ring = generateKeyring();
      writeFileSync(file, serializeKeyring(ring));
      const provider = await createKeyProvider({ dataDir: dir, production: true, masterKeyFile: file });
      expect(await provider.activeKek()).toEqual({ kekId: 'haven-kek', version: 1 });
      expect(provider.canAddKekVersion).toBe(false);
      expect(await cryptoErrorOf(() => provider.addKekVersion())).toBe('crypto.config');
      // The operator installs a keyring with v2 (a remounted secret); the provider follows it.
      writeFileSync(file, serializeKeyring(withNewKekVersion(ring).keyring));
      expect(await provider.activeKek()).toEqual({ kekId: 'haven-kek', version: 2 });
    });

    /** A production provider reading `keyring` from HAVEN_MASTER_KEY_FILE, with the warnings it gives. */
    const watchingKeyFile = async (keyring: Parameters<typeof serializeKeyring>[0]) => {
      const file = join(dataDir(), 'haven-keyring.json');
      writeFileSync(file, serializeKeyring(keyring), { mode: 0o600 });
      const warnings: string[] = [];
      const provider = await createKeyProvider({
        dataDir: dirname(file),
        production: true,
        masterKeyFile: file,
        warn: (message) => warnings.push(message),
      });
      return { file, provider, warnings };
    };

    it('does not take a keyring read again that has another root: the keys held stay, and it says so', async () => {
      const ring = generateKeyring();
      const { file, provider, warnings } = await watchingKeyFile(ring);
      const root = Buffer.from(provider.rootSecret());
      // Another deployment's keyring (or a stale one) is mounted: v2 of another root.
      writeFileSync(file, serializeKeyring(withNewKekVersion(generateKeyring()).keyring));
      expect(await provider.activeKek()).toEqual({ kekId: 'haven-kek', version: 1 });
      expect(Buffer.from(provider.rootSecret()).equals(root)).toBe(true);
      expect(warnings).toEqual([expect.stringContaining('another root or KEK id')]);
      // The right keyring with a new version is taken again.
      writeFileSync(file, serializeKeyring(withNewKekVersion(ring).keyring));
      expect(await provider.activeKek()).toEqual({ kekId: 'haven-kek', version: 2 });
      expect(warnings).toHaveLength(1);
    });

    it('a keyring read again that drops a version held, or holds another key under it, still opens what that key wrapped until a restart', async () => {
      const ring = generateKeyring();
      const rotated = withNewKekVersion(ring).keyring;
      const { file, provider, warnings } = await watchingKeyFile(rotated);
      const v2 = { kekId: 'haven-kek', version: 2 };
      const dek = randomBytes(32);
      const wrapped = await provider.wrapDek(v2, dek, context);
      // Each keyring installed with a later modification time (the provider re-reads a file that changed).
      let mtime = Date.now() / 1000;
      const install = (r: Parameters<typeof serializeKeyring>[0]) => {
        writeFileSync(file, serializeKeyring(r));
        mtime += 10;
        utimesSync(file, mtime, mtime);
      };
      // A keyring prepared from the old one (v1 only) after the rotation: another v2. Taken (its v2 is what new
      // keys would be wrapped with, which the KEK checks refuse), but the v2 held still opens what it wrapped.
      const prepared = withNewKekVersion(ring).keyring;
      install(prepared);
      expect(await provider.activeKek()).toEqual(v2);
      expect(await provider.unwrapDek(v2, wrapped, context)).toEqual(dek);
      expect(warnings.at(-1)).toContain('another key under haven-kek v2');
      // Asked of the key held now only (as the KEK checks ask before wrapping), it does not open.
      expect(await cryptoErrorOf(() => provider.unwrapDek(v2, wrapped, context, { heldNow: true }))).toBe(
        'crypto.integrity',
      );
      // What the new v2 wraps opens too.
      const wrappedNew = await provider.wrapDek(v2, dek, context);
      expect(await provider.unwrapDek(v2, wrappedNew, context)).toEqual(dek);
      // The keyring from before the rotation (rolled back): no v2 at all; what it wrapped still opens.
      install(ring);
      expect(await provider.activeKek()).toEqual({ kekId: 'haven-kek', version: 1 });
      expect(await provider.unwrapDek(v2, wrapped, context)).toEqual(dek);
      expect(await provider.unwrapDek(v2, wrappedNew, context)).toEqual(dek);
      // A wrong context is still refused, whichever key is tried.
      expect(await cryptoErrorOf(() => provider.unwrapDek(v2, wrapped, Buffer.from('other')))).toBe(
        'crypto.integrity',
      );
      // A version never held is unknown.
      expect(await cryptoErrorOf(() => provider.unwrapDek({ ...v2, version: 7 }, wrapped, context))).toBe(
        'crypto.unknown_kek',
      );
      // An older version the keyring drops (a rotation's last step, perhaps taken before the rotation ended): what
      // it wrapped still opens until a restart, and its first read is said (a restart would refuse to start).
      const v1 = { ...v2, version: 1 };
      const wrappedV1 = await provider.wrapDek(v1, dek, context);
      install(rotated);
      expect(await provider.activeKek()).toEqual(v2);
      install({ ...rotated, keks: rotated.keks.filter((k) => k.version === 2) });
      expect(await provider.activeKek()).toEqual(v2);
      expect(warnings.at(-1)).toContain('no longer holds haven-kek v1');
      expect(await provider.kekVersions()).toEqual([v2]);
      const said = warnings.length;
      expect(await provider.unwrapDek(v1, wrappedV1, context)).toEqual(dek);
      expect(await provider.unwrapDek(v1, wrappedV1, context)).toEqual(dek);
      expect(warnings.slice(said)).toEqual([
        expect.stringContaining('haven-kek v1, which the keyring no longer holds'),
      ]);
      // Not for a new data key, nor asked of the keys held now.
      expect(await cryptoErrorOf(() => provider.wrapDek(v1, dek, context))).toBe('crypto.unknown_kek');
      expect(await cryptoErrorOf(() => provider.unwrapDek(v1, wrappedV1, context, { heldNow: true }))).toBe(
        'crypto.unknown_kek',
      );
    });

    it('says, without the key, when the key file may be read by its group or by others', async () => {
      const dir = dataDir();
      const file = join(dir, 'master.key');
      const key = base64Key();
      writeFileSync(file, key, { mode: 0o600 });
      const warnings: Array<[string, Record<string, unknown>]> = [];
      const warn = (message: string, details: Record<string, unknown>) => warnings.push([message, details]);
      const provider = await createKeyProvider({ dataDir: dir, production: true, masterKeyFile: file, warn });
      expect(warnings).toEqual([]);
      // The secret is remounted readable by all (the same root, a new version): the provider loads it and says so.
      chmodSync(file, 0o644);
      const sameRoot = parseKeyMaterial(key, 'test', await loadSodium());
      writeFileSync(file, serializeKeyring(withNewKekVersion(sameRoot).keyring));
      await provider.refresh();
      expect(warnings).toEqual([
        [
          expect.stringContaining('HAVEN_MASTER_KEY_FILE is readable by its group or by others'),
          { file, mode: '644' },
        ],
      ]);
      await createKeyProvider({ dataDir: dir, production: true, masterKeyFile: file, warn });
      expect(warnings).toHaveLength(2);
      expect(JSON.stringify(warnings)).not.toContain(key);
    });

    it('exports a keyring with a new version that another env provider can load', async () => {
      const dir = dataDir();
      const provider = (await createKeyProvider({
        dataDir: dir,
        production: true,
        masterKey: base64Key(),
      })) as EnvKeyProvider;
      const v1 = await provider.activeKek();
      const wrapped = await provider.wrapDek(v1, randomBytes(32), context);
      const { document, added } = provider.exportWithNewKekVersion();
      expect(added.version).toBe(2);
      const next = await createKeyProvider({ dataDir: dir, production: true, masterKey: document });
      expect(await next.activeKek()).toEqual(added);
      // v1 (derived in single-secret mode) is carried over explicitly: old wraps stay readable.
      await expect(next.unwrapDek(v1, wrapped, context)).resolves.toHaveLength(32);
      expect(Buffer.from(next.rootSecret()).equals(Buffer.from(provider.rootSecret()))).toBe(true);
    });

    it('rejects malformed keys with a message that names the variable but never echoes the value', async () => {
      const secretish = 'c2VjcmV0LXZhbHVlLXRoYXQtaXMtdG9vLXNob3J0';
      const cases: Array<[Partial<CryptoOptions>, string]> = [
        [{ masterKey: secretish }, 'HAVEN_MASTER_KEY'],
        [{ masterKey: Buffer.alloc(32).toString('base64') }, 'HAVEN_MASTER_KEY'],
        [{ masterKey: `{"format":"haven-keyring/1","root":"${secretish}","keks":[]}` }, 'HAVEN_MASTER_KEY'],
        [{ masterKey: '{not json' }, 'HAVEN_MASTER_KEY'],
        [{ masterKeyFile: join(root, 'missing.key') }, 'HAVEN_MASTER_KEY_FILE'],
        [{ masterKey: base64Key(), masterKeyFile: join(root, 'x') }, 'HAVEN_MASTER_KEY_FILE'],
      ];
      for (const [keys, variable] of cases) {
        const err = await createKeyProvider({ dataDir: dataDir(), production: true, ...keys }).catch(
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(CryptoError);
        expect((err as CryptoError).code).toBe('crypto.config');
        expect((err as CryptoError).message).toContain(variable);
        expect((err as CryptoError).message).not.toContain(secretish);
      }
    });

    it('rejects a keyring that reuses key material across purposes or versions', async () => {
      const ring = generateKeyring();
      const reused = { ...ring, keks: [{ version: 1, key: ring.root, createdAt: '' }] };
      expect(
        await cryptoErrorOf(() =>
          createKeyProvider({ dataDir: dataDir(), production: true, masterKey: serializeKeyring(reused) }),
        ),
      ).toBe('crypto.config');
    });
  });

  describe('purpose keys', () => {
    it('derives a distinct key per purpose, stable across restarts', async () => {
      const options = { dataDir: dataDir(), production: false };
      const a = await createCryptoServices(options);
      const b = await createCryptoServices(options);
      const all = (k: PurposeKeys) => [
        k.tokenSigningKey(),
        k.auditChainKey(),
        k.checkpointPublicKey(),
        k.blindIndexKey('fullName'),
        k.blindIndexKey('fullNameDob'),
        k.blindIndexKey('phone'),
        // The throttle's key, seen through an HMAC of the empty text (it is never handed out).
        Buffer.from(k.throttleKeyOf(''), 'hex'),
      ];
      const keysA = all(a.keys).map((k) => k.toString('hex'));
      expect(new Set([...keysA, Buffer.from(a.keyProvider.rootSecret()).toString('hex')]).size).toBe(8);
      expect(all(b.keys).map((k) => k.toString('hex'))).toEqual(keysA);
      for (const k of all(a.keys)) expect(k).toHaveLength(32);
    });

    it('keys the sign-in throttle: not a plain hash of what was typed, another key under another master secret', async () => {
      const a = await createCryptoServices({ dataDir: dataDir(), production: false });
      const b = await createCryptoServices({ dataDir: dataDir(), production: false });
      const typed = 'a passphrase typed as a username';
      expect(a.keys.throttleKeyOf(typed)).toMatch(/^[0-9a-f]{64}$/);
      expect(a.keys.throttleKeyOf(typed)).not.toBe(createHash('sha256').update(typed).digest('hex'));
      expect(a.keys.throttleKeyOf(typed)).not.toBe(
        createHmac('sha256', Buffer.alloc(0)).update(typed).digest('hex'),
      );
      expect(b.keys.throttleKeyOf(typed)).not.toBe(a.keys.throttleKeyOf(typed));
    });

    it('getters return copies', async () => {
      const { keys } = await createCryptoServices({ dataDir: dataDir(), production: false });
      const copy = keys.tokenSigningKey();
      copy.fill(0);
      expect(keys.tokenSigningKey().equals(copy)).toBe(false);
    });

    it('signs and verifies checkpoints with Ed25519, and chains audit entries with a keyed hash', async () => {
      const { keys } = await createCryptoServices({ dataDir: dataDir(), production: false });
      const other = await createCryptoServices({ dataDir: dataDir(), production: false });
      const message = Buffer.from('checkpoint 42: 3f1c...');
      const signature = keys.signCheckpoint(message);
      expect(signature).toHaveLength(64);
      expect(keys.verifyCheckpoint(message, signature)).toBe(true);
      expect(keys.verifyCheckpoint(Buffer.from('checkpoint 43: 3f1c...'), signature)).toBe(false);
      expect(other.keys.verifyCheckpoint(message, signature)).toBe(false);
      expect(other.keys.verifyCheckpoint(message, signature, keys.checkpointPublicKey())).toBe(true);

      const link = keys.auditChainMac(Buffer.alloc(32), Buffer.from('entry 1'));
      expect(link).toHaveLength(32);
      expect(keys.auditChainMac(Buffer.alloc(32), Buffer.from('entry 1')).equals(link)).toBe(true);
      expect(other.keys.auditChainMac(Buffer.alloc(32), Buffer.from('entry 1')).equals(link)).toBe(false);
      // Length prefixes: moving a byte between the two parts changes the link.
      expect(
        keys
          .auditChainMac(Buffer.from('ab'), Buffer.from('c'))
          .equals(keys.auditChainMac(Buffer.from('a'), Buffer.from('bc'))),
      ).toBe(false);
    });
  });

  describe('CryptoModule', () => {
    it('provides the services from CRYPTO_OPTIONS', async () => {
      const moduleRef = await Test.createTestingModule({
        imports: [CryptoModule.forRoot({ dataDir: dataDir(), production: false })],
      }).compile();
      try {
        expect(moduleRef.get(FieldEncryptionService)).toBeInstanceOf(FieldEncryptionService);
        expect(moduleRef.get(BlindIndexService).phone('0912345678')).toHaveLength(4);
        expect(moduleRef.get(PurposeKeys).tokenSigningKey()).toHaveLength(32);
        expect(moduleRef.get(DataKeyService)).toBeInstanceOf(DataKeyService);
        expect(moduleRef.get<KeyProvider>(KEY_PROVIDER).kind).toBe('file');
      } finally {
        await moduleRef.close();
      }
    });

    it('refuses to start in production without keys', async () => {
      const err = await Test.createTestingModule({
        imports: [CryptoModule.forRoot({ dataDir: dataDir(), production: true })],
      })
        .compile()
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CryptoError);
      expect((err as CryptoError).message).toContain('HAVEN_MASTER_KEY');
    });
  });

  it('no code outside src/crypto refers to libsodium', () => {
    const srcRoot = join(__dirname, '..');
    const offenders: string[] = [];
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) {
          if (path !== __dirname) walk(path);
        } else if (
          entry.name.endsWith('.ts') &&
          /['"`]libsodium[\w-]*['"`]/.test(readFileSync(path, 'utf8'))
        ) {
          offenders.push(path);
        }
      }
    };
    walk(srcRoot);
    expect(offenders).toEqual([]);
    // The check does see a reference where there is one.
    expect(readFileSync(join(__dirname, 'sodium.ts'), 'utf8')).toMatch(/['"`]libsodium[\w-]*['"`]/);
  });
});

describe('KEK versions derived from the root', () => {
  it('are single-secret mode’s v1, also once written into a keyring document, and no random version', async () => {
    const sodium = await loadSodium();
    const bare = parseKeyMaterial(randomBytes(32).toString('base64'), 'test', sodium);
    expect(rootDerivedVersions(bare, sodium)).toEqual([1]);
    // --prepare-keyring writes it out with a new, random v2: v1 is still the root's.
    const prepared = parseKeyMaterial(serializeKeyring(withNewKekVersion(bare).keyring), 'test', sodium);
    expect(prepared.keks.map((k) => k.version)).toEqual([1, 2]);
    expect(rootDerivedVersions(prepared, sodium)).toEqual([1]);
    expect(rootDerivedVersions(generateKeyring(), sodium)).toEqual([]);
  });
});
