import { validateSync } from 'class-validator';
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
});
