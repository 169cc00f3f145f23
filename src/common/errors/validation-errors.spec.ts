import {
  ArrayMinSize,
  IsInt,
  IsString,
  Max,
  MaxLength,
  Min,
  validateSync,
  ValidationError,
} from 'class-validator';
import { annotateBounds, flattenValidationErrors } from './validation-errors';

describe('validation errors as a problem names them', () => {
  it('an object no constraint covers (class-validator gives its error no property) is named ?, never "undefined"', () => {
    // forbidUnknownValues: an object without any decorated property is refused as a whole.
    class Bare {
      value = 1;
    }
    const errors = validateSync(new Bare(), { forbidUnknownValues: true });
    expect(errors.map((e) => e.property)).toEqual([undefined]);
    expect(flattenValidationErrors(errors)).toEqual([
      expect.objectContaining({ field: '?', code: 'unknownValue' }),
    ]);
  });

  it('a key of digits refused as unknown is ?, not echoed (a date of birth as ddmmyy); an array index is named', () => {
    const error = (
      property: string,
      constraints?: Record<string, string>,
      children: ValidationError[] = [],
    ) => Object.assign(new ValidationError(), { property, constraints, children });
    const errors = [
      error('120590', { whitelistValidation: 'property 120590 should not exist' }),
      error('services', undefined, [error('2', { isEnum: 'not one of them' })]),
    ];
    expect(flattenValidationErrors(errors).map((e) => e.field)).toEqual(['?', 'services.2']);
  });

  it('says the bound a value missed, and only the type when the value is not of it', () => {
    class Query {
      @IsInt() @Min(2001) @Max(2100) year!: unknown;
      @IsString() @MaxLength(5) code!: unknown;
    }
    annotateBounds();
    const refusals = (value: Partial<Record<'year' | 'code', unknown>>) =>
      flattenValidationErrors(validateSync(Object.assign(new Query(), { year: 2026, code: 'ab', ...value })));
    expect(refusals({ year: 'abc' })).toEqual([
      { field: 'year', code: 'isInt', message: { en: 'must be an integer', vi: 'phải là số nguyên' } },
    ]);
    expect(refusals({ year: 1999 })).toEqual([
      { field: 'year', code: 'min', message: { en: 'must be at least 2001', vi: 'không được nhỏ hơn 2001' } },
    ]);
    expect(refusals({ code: 'abcdef' })).toEqual([
      {
        field: 'code',
        code: 'maxLength',
        message: { en: 'must be at most 5 characters long', vi: 'không được dài quá 5 ký tự' },
      },
    ]);
    expect(refusals({ code: 12 }).map((e) => e.code)).toEqual(['isString']);
    // One is one.
    class List {
      @ArrayMinSize(1) tags!: unknown[];
    }
    annotateBounds();
    expect(flattenValidationErrors(validateSync(Object.assign(new List(), { tags: [] })))).toEqual([
      {
        field: 'tags',
        code: 'arrayMinSize',
        message: { en: 'must have at least 1 item', vi: 'phải có ít nhất 1 phần tử' },
      },
    ]);
    // A null refused as such says so, not that it is not of the type.
    const nullRefused = new ValidationError();
    Object.assign(nullRefused, {
      property: 'version',
      constraints: { isNotNull: 'x', isInt: 'y', min: 'z' },
    });
    expect(flattenValidationErrors([nullRefused]).map((e) => e.code)).toEqual(['isNotNull']);
  });
});
