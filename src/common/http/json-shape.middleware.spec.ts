import { jsonShapeOf, MAX_JSON_VALUES } from './json-shape.middleware';

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
    // A long array (with no limit on values) is walked without overflowing the call stack.
    const long = new Array<unknown>(500_000).fill(0);
    expect(jsonShapeOf(long, 16, Infinity)).toBeNull();
    long[long.length - 1] = 'x\u0000';
    expect(jsonShapeOf(long, 16, Infinity)).toBe('nul');
  });

  it('finds the keys validation would drop without a word, at any depth: __proto__, constructor, prototype', () => {
    expect(jsonShapeOf(JSON.parse('{"reason":"x","__proto__":{"a":1}}'))).toBe('reserved_key');
    expect(jsonShapeOf({ survivor: { constructor: { a: 1 } } })).toBe('reserved_key');
    expect(jsonShapeOf([{ prototype: 1 }])).toBe('reserved_key');
    // As values, or within a key, they are text like any other.
    expect(jsonShapeOf({ note: 'constructor', constructorName: '__proto__' })).toBeNull();
  });

  it('refuses more values than the limit, counting every value at any depth, the body itself included', () => {
    expect(jsonShapeOf({ a: [1, 2], b: 'x' }, 16, 5)).toBeNull(); // the object, a, 1, 2, b
    expect(jsonShapeOf({ a: [1, 2, 3], b: 'x' }, 16, 5)).toBe('too_many');
    // The object, its two arrays, {b}, [2], 1 and 2.
    expect(jsonShapeOf({ a: [{ b: 1 }], c: [[2]] }, 16, 7)).toBeNull();
    expect(jsonShapeOf({ a: [{ b: 1 }], c: [[2, 3]] }, 16, 7)).toBe('too_many');
    // An array of empty objects in place of a case section, and the default limit.
    expect(jsonShapeOf({ survivor: new Array(MAX_JSON_VALUES).fill({}) })).toBe('too_many');
    expect(jsonShapeOf({ communeCodes: new Array(500).fill('00145'), name: 'x' })).toBeNull();
    // Too many wins over a NUL character, as too deep does.
    expect(jsonShapeOf(['x\u0000', 1, 2], 16, 3)).toBe('too_many');
  });
});
