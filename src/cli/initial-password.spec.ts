import { ConfigError } from '../config/config';
import { firstLinePiped, initialPassword } from './initial-password';

describe('the initial password of users:create-admin', () => {
  it('is the first line piped in, without a byte-order mark or the line end', () => {
    expect(initialPassword('first-admin-password-77\n')).toBe('first-admin-password-77');
    expect(initialPassword('\uFEFFfirst-admin-password-77\r\nsecond line')).toBe('first-admin-password-77');
    expect(initialPassword('mật khẩu có dấu cách ở giữa')).toBe('mật khẩu có dấu cách ở giữa');
  });

  it('refuses one nobody could type: surrounding spaces, a tab, a control or an invisible character', () => {
    for (const bad of [
      ' leading-space-pw',
      'trailing-space-pw ',
      'tab\tinside-pw',
      'zero\u200Bwidth-pw',
      'nul\u0000-pw',
      'soft\u00ADhyphen-pw',
      'rtl\u202Emark-pw',
      'joiner\u2060-pw',
      'selector\uFE0F-pw',
      'latin1-caf\uFFFD-pw',
    ])
      expect(() => initialPassword(`${bad}\n`)).toThrow(ConfigError);
  });
});

describe('what users:create-admin reads from its standard input', () => {
  /** The chunks as a stream yields them (each in its own turn of the event loop). */
  async function* pieces(...chunks: Buffer[]): AsyncGenerator<Buffer> {
    for (const c of chunks) yield await Promise.resolve(c);
  }

  it('decodes a character split between two chunks as one, and stops at the first line end', async () => {
    const bytes = Buffer.from('mật-khẩu-quản-trị\nsecond line', 'utf8');
    // Split inside the three bytes of "ậ" (and of "ẩ").
    const at = bytes.indexOf(Buffer.from('ậ', 'utf8')) + 1;
    const later = bytes.indexOf(Buffer.from('ẩ', 'utf8')) + 2;
    const line = await firstLinePiped(
      pieces(bytes.subarray(0, at), bytes.subarray(at, later), bytes.subarray(later)),
    );
    expect(initialPassword(line)).toBe('mật-khẩu-quản-trị');
  });

  it('reads to the end when no line end comes; a character cut short there is refused, not stored', async () => {
    const bytes = Buffer.from('mật-khẩu-quản-trị', 'utf8');
    expect(initialPassword(await firstLinePiped(pieces(bytes.subarray(0, 3), bytes.subarray(3))))).toBe(
      'mật-khẩu-quản-trị',
    );
    await expect(
      firstLinePiped(pieces(bytes.subarray(0, bytes.length - 1))).then(initialPassword),
    ).rejects.toThrow(ConfigError);
  });
});
