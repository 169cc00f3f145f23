import { randomBytes, randomUUID } from 'node:crypto';
import { inspect } from 'node:util';
import fc from 'fast-check';
import { cryptoErrorOf } from './crypto.spec-helpers';
import { Ciphertext, FIELD_CATEGORIES, FieldCategory, FieldLocation } from './crypto.types';
import { DataKey } from './data-key';
import {
  asCiphertext,
  ciphertextKeyId,
  EncryptedSections,
  FieldEncryptionService,
  fieldsAt,
} from './field-encryption.service';
import { loadSodium, Sodium, WrapperSodium } from './sodium';

const givenKey = (ownerId = randomUUID()) =>
  new DataKey({ ownerType: 'case', ownerId }, randomUUID(), randomBytes(32));
const at = (column: string, rowId: string, table = 'cases'): FieldLocation => ({ table, column, rowId });

describe('FieldEncryptionService, first use in a process', () => {
  it('refuses a location without a row id even as the very first one (nothing cached yet)', async () => {
    // The module's own copies: its cache of the last row, and the data-key registry it reads keys from.
    let fresh!: typeof import('./field-encryption.service');
    let keys!: typeof import('./data-key');
    jest.isolateModules(() => {
      fresh = jest.requireActual('./field-encryption.service');
      keys = jest.requireActual('./data-key');
    });
    const service = new fresh.FieldEncryptionService(await loadSodium());
    const key = new keys.DataKey({ ownerType: 'case', ownerId: randomUUID() }, randomUUID(), randomBytes(32));
    // (Its own CryptoError class too: matched by the message.)
    expect(() => service.encrypt(key, at('enc_identity', ''), 'x')).toThrow(
      'crypto.invalid_input: a field location needs a row id',
    );
  });
});

describe('FieldEncryptionService', () => {
  let sodium: Sodium;
  let fields: FieldEncryptionService;

  beforeAll(async () => {
    sodium = await loadSodium();
    fields = new FieldEncryptionService(sodium);
  });

  /** Spies on every libsodium decryption entry point; `touched(value)` says whether a stored value reached one. */
  function spyOnDecryption() {
    const spies = [
      jest.spyOn(sodium, 'aeadDecrypt'),
      jest.spyOn(sodium, 'aeadOpen'),
      jest.spyOn(sodium, 'aeadOpenAt'),
    ];
    const inputs = () => spies.flatMap((spy) => spy.mock.calls.map((call) => Buffer.from(call[0])));
    return {
      calls: () => inputs().length,
      touched: (value: Ciphertext) =>
        inputs().some((input) => input.equals(value) || input.equals(value.subarray(41))),
      restore: () => spies.forEach((spy) => spy.mockRestore()),
    };
  }

  it('uses the fast libsodium backend after its self-test', () => {
    expect(sodium.backend).toBe('wasm-direct');
  });

  it('round-trips Vietnamese text (NFC and NFD), empty strings and bytes', () => {
    const key = givenKey();
    const loc = at('survivor_full_name', key.owner.ownerId);
    for (const text of [
      'Nguyễn Thị Hoà',
      'Nguyễn Thị Hoà'.normalize('NFD'),
      '',
      'x'.repeat(15),
      'y'.repeat(16),
    ]) {
      const sealed = fields.encrypt(key, loc, text);
      expect(fields.decryptString(key, loc, sealed)).toBe(text);
    }
    const bytes = randomBytes(300);
    expect(fields.decrypt(key, loc, fields.encrypt(key, loc, bytes)).equals(bytes)).toBe(true);
  });

  it('round-trips any string (property)', () => {
    const key = givenKey();
    const loc = at('narrative', key.owner.ownerId);
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 200 }), (text) => {
        expect(fields.decryptString(key, loc, fields.encrypt(key, loc, text))).toBe(text);
      }),
      { numRuns: 300 },
    );
  });

  it('stores a self-describing value: version byte, DEK id, nonce, padded ciphertext', () => {
    const key = givenKey();
    const loc = at('phone', key.owner.ownerId);
    const a = fields.encrypt(key, loc, '0912345678');
    const b = fields.encrypt(key, loc, '0912345678');
    expect(a[0]).toBe(1);
    expect(ciphertextKeyId(a).equals(key.keyId)).toBe(true);
    expect(a.subarray(17, 41).equals(b.subarray(17, 41))).toBe(false); // fresh nonce each time
    expect(a.equals(b)).toBe(false);
    // Lengths are padded to 16-byte blocks: 1..15 bytes of plaintext look the same.
    expect(fields.encrypt(key, loc, 'a').length).toBe(fields.encrypt(key, loc, 'a'.repeat(15)).length);
    expect(a.length).toBe(1 + 16 + 24 + 16 + 16);
  });

  it('fails with crypto.integrity for any flipped bit of nonce, ciphertext or tag', async () => {
    const key = givenKey();
    const loc = at('survivor_full_name', key.owner.ownerId);
    const sealed = fields.encrypt(key, loc, 'Trần Văn Thuỷ');
    for (let i = 17; i < sealed.length; i++) {
      const tampered = Buffer.from(sealed) as Ciphertext;
      tampered[i] ^= 1 << (i % 8);
      expect(await cryptoErrorOf(() => fields.decrypt(key, loc, tampered))).toBe('crypto.integrity');
    }
  });

  it('rejects a changed header: version byte → bad_format, key id → unknown_key', async () => {
    const key = givenKey();
    const loc = at('survivor_full_name', key.owner.ownerId);
    const sealed = fields.encrypt(key, loc, 'Lê Thị Mai');
    const version = Buffer.from(sealed) as Ciphertext;
    version[0] = 2;
    expect(await cryptoErrorOf(() => fields.decrypt(key, loc, version))).toBe('crypto.bad_format');
    const keyId = Buffer.from(sealed) as Ciphertext;
    keyId[5] ^= 0x40;
    expect(await cryptoErrorOf(() => fields.decrypt(key, loc, keyId))).toBe('crypto.unknown_key');
    expect(await cryptoErrorOf(() => asCiphertext(sealed.subarray(0, 60)))).toBe('crypto.bad_format');
    expect(await cryptoErrorOf(() => asCiphertext(Buffer.from('plain text, not sealed')))).toBe(
      'crypto.bad_format',
    );
  });

  it('fails when a value is moved to another row, column or table of the same owner', async () => {
    const key = givenKey();
    const caseId = key.owner.ownerId;
    const sealed = fields.encrypt(key, at('survivor_full_name', caseId), 'Phạm Thị Lan');
    const moves = [
      at('perpetrator_full_name', caseId),
      at('survivor_full_name', randomUUID()),
      at('survivor_full_name', caseId, 'referral_notes'),
    ];
    for (const loc of moves) {
      expect(await cryptoErrorOf(() => fields.decrypt(key, loc, sealed))).toBe('crypto.integrity');
    }
    // The row id is compared as a UUID, whatever its letter case.
    expect(fields.decryptString(key, at('survivor_full_name', caseId.toUpperCase()), sealed)).toBe(
      'Phạm Thị Lan',
    );
  });

  it("fails when a value is copied into another owner's row (other DEK)", async () => {
    const a = givenKey();
    const b = givenKey();
    const sealed = fields.encrypt(a, at('survivor_full_name', a.owner.ownerId), 'Đặng Thu Hà');
    const copied = at('survivor_full_name', b.owner.ownerId);
    expect(await cryptoErrorOf(() => fields.decrypt(b, copied, sealed))).toBe('crypto.unknown_key');
    // Even with the key id rewritten to B's, authentication fails.
    const relabelled = Buffer.from(sealed) as Ciphertext;
    b.keyId.copy(relabelled, 1);
    expect(await cryptoErrorOf(() => fields.decrypt(b, copied, relabelled))).toBe('crypto.integrity');
  });

  it('interoperates with the public libsodium API (wrappers backend)', () => {
    const key = givenKey();
    const loc = at('address', key.owner.ownerId);
    const viaWrappers = new FieldEncryptionService(new WrapperSodium());
    expect(fields.decryptString(key, loc, viaWrappers.encrypt(key, loc, 'Hà Nội'))).toBe('Hà Nội');
    expect(viaWrappers.decryptString(key, loc, fields.encrypt(key, loc, 'Huế'))).toBe('Huế');
  });

  it('refuses a wiped key handle', async () => {
    const key = givenKey();
    const loc = at('phone', key.owner.ownerId);
    const sealed = fields.encrypt(key, loc, '0912345678');
    key.wipe();
    expect(await cryptoErrorOf(() => fields.decrypt(key, loc, sealed))).toBe('crypto.key_destroyed');
  });

  it('never shows key bytes when a DataKey is logged or serialised', () => {
    const raw = randomBytes(32);
    const key = new DataKey({ ownerType: 'case', ownerId: randomUUID() }, randomUUID(), Buffer.from(raw));
    const shown = `${JSON.stringify(key)} ${inspect(key, { showHidden: true, depth: 5 })}`;
    for (const encoding of ['hex', 'base64'] as const) expect(shown).not.toContain(raw.toString(encoding));
  });

  describe('decryptSections', () => {
    const sectionsFor = (key: DataKey): EncryptedSections => {
      const id = key.owner.ownerId;
      const seal = (column: string, text: string) => fields.encrypt(key, at(column, id), text);
      return {
        identity: fieldsAt('cases', id, { full_name: seal('full_name', 'Vũ Thị Hồng'), ethnicity: null }),
        contact: fieldsAt('cases', id, { phone: seal('phone', '0987654321') }),
        incident: fieldsAt('cases', id, { narrative: seal('narrative', 'narrative text') }),
        perpetrator: fieldsAt('cases', id, {
          perpetrator_full_name: seal('perpetrator_full_name', 'Hoàng Văn Nam'),
        }),
        health: fieldsAt('cases', id, { injuries: seal('injuries', 'injuries text') }),
      };
    };

    it('decrypts exactly the allowed categories and never touches the others', () => {
      const key = givenKey();
      const sections = sectionsFor(key);
      // Every category is decryptable with this key, so anything missing below was filtered, not broken.
      expect(Object.keys(fields.decryptSections(key, sections, FIELD_CATEGORIES))).toHaveLength(5);
      const decrypts = spyOnDecryption();
      try {
        const out = fields.decryptSections(key, sections, ['identity', 'contact']);
        expect(out).toEqual({
          identity: { full_name: 'Vũ Thị Hồng', ethnicity: null },
          contact: { phone: '0987654321' },
        });
        // Which stored values reached a libsodium decrypt function: exactly the two allowed, non-null ones.
        const reached = Object.entries(sections).flatMap(([category, fieldsOf]) =>
          Object.entries(fieldsOf)
            .filter(([, f]) => f.value && decrypts.touched(f.value))
            .map(([name]) => `${category}.${name}`),
        );
        expect(reached.sort()).toEqual(['contact.phone', 'identity.full_name']);
      } finally {
        decrypts.restore();
      }
    });

    it('never reads a disallowed category, even one whose ciphertext would throw', () => {
      const key = givenKey();
      const sections = sectionsFor(key);
      const poisoned: EncryptedSections = {
        ...sections,
        health: {
          injuries: {
            location: at('injuries', key.owner.ownerId),
            get value(): Ciphertext {
              throw new Error('a disallowed category was read');
            },
          },
        },
      };
      const allowed: FieldCategory[] = FIELD_CATEGORIES.filter((c) => c !== 'health');
      expect(Object.keys(fields.decryptSections(key, poisoned, allowed)).sort()).toEqual(
        ['contact', 'identity', 'incident', 'perpetrator'].sort(),
      );
      expect(() => fields.decryptSections(key, poisoned, ['health'])).toThrow(
        'a disallowed category was read',
      );
    });

    it('decrypts nothing when nothing is allowed, and rejects unknown categories', async () => {
      const key = givenKey();
      const sections = sectionsFor(key);
      const decrypts = spyOnDecryption();
      try {
        expect(fields.decryptSections(key, sections, [])).toEqual({});
        expect(decrypts.calls()).toBe(0);
      } finally {
        decrypts.restore();
      }
      const bogus = ['triage'] as unknown as FieldCategory[];
      expect(await cryptoErrorOf(() => fields.decryptSections(key, sections, bogus))).toBe(
        'crypto.invalid_input',
      );
    });
  });
});
