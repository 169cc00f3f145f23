import { unreadableName } from './readable-name';

describe('unreadableName', () => {
  it.each([
    ['a right-to-left override', 'Ba Đình\u202e'],
    ['a line break', 'Ba\nĐình'],
    ['a zero-width space alone', '\u200b'],
    ['a line separator', 'Ba\u2028Đình'],
  ])('refuses %s as a control or invisible character, in both languages', (_, name) => {
    expect(unreadableName(name)).toEqual({
      en: 'contains a control or invisible character',
      vi: 'chứa ký tự điều khiển hoặc ký tự ẩn',
    });
  });

  it('refuses a name without a letter, and takes a Vietnamese one with digits and punctuation', () => {
    expect(unreadableName('123 - 45')?.en).toBe('has no letter');
    expect(unreadableName('Trạm y tế số 2 (phường Yên Hoà)')).toBeNull();
  });
});
