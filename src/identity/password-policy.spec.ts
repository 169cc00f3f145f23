import { DomainError } from '../common/errors/domain-error';
import { assertPasswordAcceptable } from './password-policy';

function reasons(password: string, username?: string): string[] {
  try {
    assertPasswordAcceptable(password, username);
    return [];
  } catch (e) {
    expect(e).toBeInstanceOf(DomainError);
    expect((e as DomainError).code).toBe('user.password_weak');
    // The problem never quotes the password.
    expect(JSON.stringify(e)).not.toContain(password);
    return (e as DomainError).errors!.map((x) => x.code);
  }
}

describe('password policy', () => {
  it('accepts a long, uncommon passphrase', () => {
    expect(reasons('mưa rơi trên mái ngói cũ')).toEqual([]);
    expect(reasons('Tr4m-y-te-9f2k')).toEqual([]);
  });

  it('requires at least 12 characters', () => {
    expect(reasons('Xk9!vT2#qL')).toEqual(['minLength']);
    // Counted as composed characters: 11 letters typed with decomposed marks are 11, not 17.
    const eleven = 'ậầẩẫấặằẳẵắộ';
    expect([...eleven.normalize('NFD')].length).toBeGreaterThan(12);
    expect(reasons(eleven.normalize('NFD'))).toContain('minLength');
  });

  it('rejects common passwords, also with digits or symbols added around them', () => {
    expect(reasons('1qaz2wsx3edc')).toContain('common');
    expect(reasons('qwerty123456')).toContain('common');
    expect(reasons('Password123456!')).toContain('common');
    expect(reasons('matkhau123456')).toContain('common');
    expect(reasons('aaaaaaaaaaaaaaaa')).toContain('common');
  });

  it('rejects common passwords spelt in Vietnamese, with their diacritics, spaces or separators', () => {
    for (const password of [
      'Mậtkhẩu@2024',
      'mậtkhẩu123456',
      'Anhyêuem2024',
      'Hà Nội 123456',
      'Việt Nam 2024!',
      'Mật khẩu 123',
      'Hà Nội, 123456',
      'Mật khẩu 2024?',
      'Anh yêu em (2024)',
      'pass/word/2024',
      'Mật khẩu 2024 🙂',
    ]) {
      expect([password, reasons(password)]).toEqual([password, ['common']]);
    }
    // A passphrase of Vietnamese words is not one.
    for (const password of [
      'Hà Nội mùa thu năm 1986',
      'Tôi yêu Hà Nội mùa thu 2024',
      'con mèo đen ngủ trên ghế',
    ]) {
      expect([password, reasons(password)]).toEqual([password, []]);
    }
  });

  it('rejects a password that keeps fewer than 8 characters once its runs and repeats are set aside', () => {
    for (const password of [
      'abcdefghijkl',
      'lkjihgfedcba',
      '1234567890123',
      'Abc@12345678',
      'zxcvbnmasdfg',
      'abcdabcdabcd',
      'ab12ab12ab12',
      'qwertyuiop98',
      'Linh@123456789',
      'Ngoc@1234567',
      'Trang!2345678',
      'Hoa12345678!',
      'asdfasdfasdf1',
      'Minh2024Minh2024',
      'Hoa@1234Hoa@1234',
    ]) {
      expect([password, reasons(password)]).toEqual([password, ['common']]);
    }
    // Short runs, and anything else, count: a passphrase, random characters, symbols or emoji alone.
    for (const password of [
      'abc-xyz-147-lantern',
      'correct horse battery',
      'D|.:52%Ime2`',
      'w%s\\&`;$>>d‹',
      '#%&*)(@!^$~?',
      '🌧️🏠🍵🎋🐉🌾🚲🏮🎐🐟🌙⛰️',
    ]) {
      expect([password, reasons(password)]).toEqual([password, []]);
    }
  });

  it('rejects a password containing the username', () => {
    expect(reasons('ward.longbien-2026', 'ward.longbien')).toEqual(['containsUsername']);
    // Spelt with diacritics too.
    expect(reasons('Phường Long Biên ward.longbiên 7', 'ward.longbien')).toEqual(['containsUsername']);
  });

  it('rejects more than 1 KiB', () => {
    expect(reasons('ab'.repeat(600))).toContain('maxLength');
  });
});
