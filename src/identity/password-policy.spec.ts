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

  it('rejects a password containing the username', () => {
    expect(reasons('ward.longbien-2026', 'ward.longbien')).toEqual(['containsUsername']);
  });

  it('rejects more than 1 KiB', () => {
    expect(reasons('ab'.repeat(600))).toContain('maxLength');
  });
});
