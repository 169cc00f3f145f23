import { ConfigError } from '../config/config';
import { initialPassword } from './initial-password';

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
    ])
      expect(() => initialPassword(`${bad}\n`)).toThrow(ConfigError);
  });
});
