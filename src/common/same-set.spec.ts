import { sameSet } from './same-set';

describe('sameSet', () => {
  it('compares the values, not their order or repetitions', () => {
    expect(sameSet(['00145', '00127'], ['00127', '00145'])).toBe(true);
    expect(sameSet(['00145', '00145'], ['00145'])).toBe(true);
    expect(sameSet([], [])).toBe(true);
    expect(sameSet(['00145'], ['00145', '00127'])).toBe(false);
    expect(sameSet(['00145', '00127'], ['00145'])).toBe(false);
    expect(sameSet(['00145'], ['00127'])).toBe(false);
  });
});
