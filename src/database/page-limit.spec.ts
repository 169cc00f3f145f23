import { DomainError } from '../common/errors/domain-error';
import { MAX_PAGE_OFFSET, pageLimit, PAGE_LIMIT_STEPS, pageOffset, pageWindow } from './page-limit';

describe('pageLimit', () => {
  it('rounds a page size up to the smallest step that holds it', () => {
    expect([1, 10, 11, 20, 21, 49, 50, 51, 100, 101, 200].map(pageLimit)).toEqual([
      10, 10, 20, 20, 50, 50, 50, 100, 100, 200, 200,
    ]);
  });

  it('never returns fewer rows than asked for, and only the steps', () => {
    for (let size = 1; size <= 200; size++) {
      const limit = pageLimit(size);
      expect(limit).toBeGreaterThanOrEqual(size);
      expect(PAGE_LIMIT_STEPS).toContain(limit);
    }
  });

  it('refuses sizes outside 1-200 and fractions (they would reach the SQL text)', () => {
    for (const size of [0, -1, 201, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => pageLimit(size)).toThrow(RangeError);
    }
  });
});

describe('pageWindow', () => {
  it('writes the first page without an OFFSET, and binds the OFFSET of the others', () => {
    expect(pageWindow(1, 20, 3)).toMatchObject({ sql: 'LIMIT 20', params: [] });
    expect(pageWindow(2, 20, 3)).toMatchObject({ sql: 'LIMIT 20 OFFSET $3', params: [20] });
    expect(pageWindow(5, 7, 1)).toMatchObject({ sql: 'LIMIT 10 OFFSET $1', params: [28] });
  });

  it('takes the page from the rows of a LIMIT that is a larger step', () => {
    const rows = Array.from({ length: 10 }, (_, i) => i);
    expect(pageWindow(1, 7, 1).page(rows)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(pageWindow(3, 7, 1).page(rows.slice(0, 4))).toEqual([0, 1, 2, 3]);
    expect(pageWindow(1, 10, 1).page(rows)).toEqual(rows);
  });

  it('refuses a page below 1 or a fraction', () => {
    for (const page of [0, -1, 1.5, Number.NaN]) expect(() => pageWindow(page, 20, 1)).toThrow(RangeError);
  });
});

describe('pageOffset', () => {
  it('lets a page skip MAX_PAGE_OFFSET rows at most, and says how far pages reach and how to go on', () => {
    expect(pageOffset(1, 200)).toBe(0);
    expect(pageOffset(51, 200)).toBe(MAX_PAGE_OFFSET);
    expect(pageOffset(501, 20)).toBe(MAX_PAGE_OFFSET);
    expect(pageWindow(51, 200, 1).params).toEqual([MAX_PAGE_OFFSET]);
    let refusal: unknown;
    try {
      pageWindow(52, 200, 1, { en: 'search', vi: 'tìm' });
    } catch (e) {
      refusal = e;
    }
    expect(refusal).toBeInstanceOf(DomainError);
    expect((refusal as DomainError).code).toBe('request.validation');
    expect((refusal as DomainError).errors).toEqual([
      {
        field: 'page',
        code: 'invalid',
        message: {
          en: expect.stringMatching(/first 10000 entries .*page 51 at most\): search$/),
          vi: expect.stringMatching(/tối đa trang 51\): tìm$/),
        },
      },
    ]);
    expect(() => pageOffset(502, 20)).toThrow(DomainError);
    expect(() => pageOffset(1_000_000, 1)).toThrow(DomainError);
    expect(pageOffset(10_001, 1)).toBe(MAX_PAGE_OFFSET);
  });
});
