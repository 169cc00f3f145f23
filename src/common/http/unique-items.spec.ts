import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { validateSync } from 'class-validator';
import { UniqueItems } from './unique-items';
import { flattenValidationErrors } from '../errors/validation-errors';

class Listed {
  @UniqueItems()
  items!: unknown;
}

const errorsOf = (items: unknown) => {
  const l = new Listed();
  l.items = items;
  return validateSync(l).flatMap((e) => Object.keys(e.constraints ?? {}));
};

describe('a list whose items do not repeat', () => {
  it('refuses a repeated item as arrayUnique (its message in both languages), and takes distinct ones', () => {
    expect(errorsOf(['a', 'b', 'a'])).toEqual(['arrayUnique']);
    expect(errorsOf(['a', 'b', 'c'])).toEqual([]);
    expect(errorsOf([])).toEqual([]);
    const l = new Listed();
    l.items = [1, 1];
    expect(flattenValidationErrors(validateSync(l))).toEqual([
      {
        field: 'items',
        code: 'arrayUnique',
        message: { en: 'must not repeat items', vi: 'không được có phần tử trùng' },
      },
    ]);
  });

  it('finds the one repeat among 50,000 items, which the body limit lets a client send (one pass, not one per pair)', () => {
    const many = Array.from({ length: 50_000 }, (_, i) => `item-${i}`);
    // class-validator's ArrayUnique searched the list once per item (indexOf in a filter): 50,000 searches.
    const searches = jest.spyOn(Array.prototype, 'indexOf');
    try {
      expect(errorsOf(many)).toEqual([]);
      expect(errorsOf([...many, 'item-0'])).toEqual(['arrayUnique']);
      expect(searches.mock.calls.length).toBeLessThan(1_000);
    } finally {
      searches.mockRestore();
    }
  });

  it('leaves what is not a list to the type check', () => {
    expect(errorsOf('abc')).toEqual([]);
    expect(errorsOf({ 0: 'a', 1: 'a' })).toEqual([]);
  });

  it("is what every list of the API uses: no code takes class-validator's ArrayUnique", () => {
    const root = join(__dirname, '..', '..');
    const users = readdirSync(root, { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.spec.ts'))
      .filter((f) =>
        /@ArrayUnique\(|import[^;]*\bArrayUnique\b[^;]*from 'class-validator'/.test(
          readFileSync(join(root, f), 'utf8'),
        ),
      );
    expect(users).toEqual([]);
  });
});
