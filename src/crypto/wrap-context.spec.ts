import { dekWrapContext } from './data-key';
import { kekCheckContext } from './kek-checks';

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
