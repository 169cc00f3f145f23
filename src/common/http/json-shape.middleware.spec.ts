import { jsonShapeOf } from './json-shape.middleware';

describe('the shape of a request a handler may see', () => {
  it('refuses nesting deeper than the limit, without recursion', () => {
    expect(jsonShapeOf('x', 0)).toBeNull();
    expect(jsonShapeOf({ a: [1, { b: 2 }] }, 3)).toBeNull();
    expect(jsonShapeOf({ a: [1, { b: 2 }] }, 2)).toBe('too_deep');
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(jsonShapeOf(deep, 16)).toBe('too_deep');
    // Too deep wins over a NUL character found on the way.
    expect(jsonShapeOf(['x\u0000', [[['y']]]], 3)).toBe('too_deep');
  });

  it('finds a NUL character in a value or a key at any depth, and nothing in text without one', () => {
    const nul = (v: unknown) => jsonShapeOf(v) === 'nul';
    expect(nul('a\u0000b')).toBe(true);
    expect(nul({ survivor: { fullName: 'Nguyễn\u0000' } })).toBe(true);
    expect(nul({ items: [['ok', 'x\u0000']] })).toBe(true);
    expect(nul({ ['k\u0000']: 'v' })).toBe(true);
    expect(
      jsonShapeOf({ survivor: { fullName: 'Nguyễn Thị Giả Định', ageYears: 30 }, note: null }),
    ).toBeNull();
    expect(jsonShapeOf('\\u0000 written out')).toBeNull();
    expect(jsonShapeOf(undefined)).toBeNull();
    // A long array (a raised body limit) is walked without overflowing the call stack.
    const long = new Array<unknown>(500_000).fill(0);
    expect(jsonShapeOf(long)).toBeNull();
    long[long.length - 1] = 'x\u0000';
    expect(nul(long)).toBe(true);
  });
});
