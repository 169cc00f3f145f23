import { validateSync, ValidationError } from 'class-validator';
import { flattenValidationErrors } from './validation-errors';

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
});
