import { containsNul, jsonDepth } from './json-shape.middleware';

describe('the shape of a request a handler may see', () => {
  it('measures nesting without recursion', () => {
    expect(jsonDepth('x')).toBe(0);
    expect(jsonDepth({ a: [1, { b: 2 }] })).toBe(3);
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(jsonDepth(deep, 16)).toBe(17);
  });

  it('finds a NUL character in a value or a key at any depth, and nothing in text without one', () => {
    expect(containsNul('a\u0000b')).toBe(true);
    expect(containsNul({ survivor: { fullName: 'Nguyễn\u0000' } })).toBe(true);
    expect(containsNul({ items: [['ok', 'x\u0000']] })).toBe(true);
    expect(containsNul({ ['k\u0000']: 'v' })).toBe(true);
    expect(containsNul({ survivor: { fullName: 'Nguyễn Thị Giả Định', ageYears: 30 }, note: null })).toBe(
      false,
    );
    expect(containsNul('\\u0000 written out')).toBe(false);
    expect(containsNul(undefined)).toBe(false);
    // A long array (a raised body limit) is walked without overflowing the call stack.
    const long = new Array<unknown>(500_000).fill(0);
    expect(containsNul(long)).toBe(false);
    long[long.length - 1] = 'x\u0000';
    expect(containsNul(long)).toBe(true);
  });
});
