import { DataKey, dekWrapContext } from './data-key';
import { BlindIndexService } from './blind-index.service';
import { asCiphertext, FieldEncryptionService } from './field-encryption.service';
import { kekCheckContext } from './kek-checks';
import { PurposeKeys } from './purpose-keys';
import { loadSodium } from './sodium';

/**
 * The additional data a data key and a KEK version's check are wrapped with, byte for byte. Every stored wrap
 * depends on them: a change here would leave every data key of a running database unopenable, and the other
 * tests would not see it (they wrap and unwrap with the same code). Changing a format takes a new prefix
 * version and a migration of the stored wraps, never an edit of these bytes.
 */
describe('wrap contexts (known answers)', () => {
  const hex = (text: string) => Buffer.from(text, 'latin1').toString('hex');

  it('a data key: prefix | u16 len | owner type | u16 len | owner id (lower case) | dek id (16 bytes) | KEK', () => {
    const context = dekWrapContext(
      { ownerType: 'case', ownerId: '0B7C2E8A-1D2F-4A3B-9C4D-5E6F7A8B9C0D' },
      '123e4567-e89b-42d3-a456-426614174000',
      { kekId: 'local', version: 3 },
    );
    expect(context.toString('hex')).toBe(
      hex('haven/dek/1\0') +
        '0004' +
        hex('case') +
        '0024' +
        hex('0b7c2e8a-1d2f-4a3b-9c4d-5e6f7a8b9c0d') +
        '123e4567e89b42d3a456426614174000' +
        '0005' +
        hex('local') +
        '00000003',
    );
  });

  it('a KEK version check: prefix | u16 len | KEK id (UTF-8) | u32 version', () => {
    expect(kekCheckContext({ kekId: 'kms-hà-nội', version: 70000 }).toString('hex')).toBe(
      hex('haven/kek-check/1\0') + '000d' + Buffer.from('kms-hà-nội', 'utf8').toString('hex') + '00011170',
    );
  });
});

describe('a stored field value (known answer)', () => {
  it('a value written by format 1 (version byte, DEK id, nonce, padded XChaCha20-Poly1305, bound to its place) still opens', async () => {
    // Written by this code with a fixed data key: every sealed column of a running database is such a value,
    // so a change of the format, the padding or the additional data must still open it.
    const fields = new FieldEncryptionService(await loadSodium());
    const owner = '0b7c2e8a-1d2f-4a3b-9c4d-5e6f7a8b9c0d';
    const key = new DataKey(
      { ownerType: 'case', ownerId: owner },
      '123e4567-e89b-42d3-a456-426614174000',
      Buffer.from(Array.from({ length: 32 }, (_, i) => i + 1)),
    );
    const stored = asCiphertext(
      Buffer.from(
        '01123e4567e89b42d3a4564266141740009c01425b059052a84184bd1250f087c8d3f3432ea5a423c2743443df441631c6d1' +
          '2a842ef33c0af483c68268a808835facf333f82c4ed1c1a6f654c15f03e11a2c51a6f02cf0a2a5',
        'hex',
      ),
    );
    const place = { table: 'cases', column: 'enc_identity', rowId: owner };
    expect(fields.decrypt(key, place, stored).toString('utf8')).toBe('Người Thử Mẫu');
    // Bound to its place: the same bytes in another column do not open.
    expect(() => fields.decrypt(key, { ...place, column: 'enc_contact' }, stored)).toThrow(
      /crypto.integrity/,
    );
  });
});

describe('keys derived from the root secret (known answers)', () => {
  it('give the blind indexes, chain links and checkpoint key that a running database already holds', async () => {
    // Values this code derived from a fixed root secret. A change of a derivation context, of a normalisation
    // or of a link's framing would leave the stored blind indexes unfindable (a search finds no earlier case),
    // the log unverifiable, or the service refusing to start (another checkpoint key than the log's).
    const sodium = await loadSodium();
    const keys = new PurposeKeys(Buffer.from(Array.from({ length: 32 }, (_, i) => 255 - i)), sodium);
    const index = new BlindIndexService(keys, sodium);
    expect(index.fullName('Nguyễn Thị Hoà').toString('hex')).toBe('52e5ea7d');
    expect(index.fullNameDob('Nguyễn Thị Hoà', '2009-07-01').toString('hex')).toBe('d3fbbf1a');
    expect(index.phone('0912 345 678').toString('hex')).toBe('70dcf55c');
    expect(index.dateOfBirth('2009-07-01').toString('hex')).toBe('c4eae9c5');
    expect(keys.auditChainMac(Buffer.alloc(32), Buffer.from('1;2:42~', 'utf8')).toString('hex')).toBe(
      '94fd666f4abdd2ce7c49fdafca5b74a21bf24eec755b4d65e58a86559cb9a254',
    );
    expect(keys.checkpointPublicKey().toString('hex')).toBe(
      '1ebb2da4db5dc2d3a97dc9b88873b45d2ab9af688549382190699d12096f47d0',
    );
  });
});
