import { ValidationTypes } from 'class-validator';
import { schemaOf } from './openapi-constraints';

const custom = ValidationTypes.CUSTOM_VALIDATION;

describe('schemaOf (a validator as OpenAPI says it)', () => {
  it('says lengths, bounds, list sizes and enumerations with the validator’s own values', () => {
    expect(schemaOf('maxLength', custom, [200])).toEqual({ maxLength: 200 });
    expect(schemaOf('min', custom, [0])).toEqual({ minimum: 0 });
    expect(schemaOf('arrayMaxSize', custom, [50])).toEqual({ maxItems: 50 });
    expect(schemaOf('isIn', custom, [['a', 'b']])).toEqual({ enum: ['a', 'b'] });
    expect(schemaOf('equals', custom, [true])).toEqual({ enum: [true] });
    expect(schemaOf('isInt', custom, [])).toEqual({ type: 'integer' });
  });

  it('gives a pattern only where OpenAPI’s pattern matches the same strings', () => {
    expect(schemaOf('matches', custom, [/^\d{5}$/])).toEqual({ pattern: '^\\d{5}$' });
    expect(schemaOf('matches', custom, [/^\d{5}$/u])).toEqual({ pattern: '^\\d{5}$' });
    expect(schemaOf('matches', custom, ['^[a-z]+$', ''])).toEqual({ pattern: '^[a-z]+$' });
    // Case-insensitive, multi-line or dot-all: a pattern would say something else, so none is said.
    expect(schemaOf('matches', custom, [/^[a-z]+$/i])).toBeUndefined();
    expect(schemaOf('matches', custom, ['^[a-z]+$', 'i'])).toBeUndefined();
    expect(schemaOf('matches', custom, [/^a.b$/s])).toBeUndefined();
  });

  it('says nothing of a uniqueness by selector, of custom checks, or of what is not a validator', () => {
    expect(schemaOf('arrayUnique', custom, [])).toEqual({ uniqueItems: true });
    expect(schemaOf('arrayUnique', custom, [(x: { id: string }) => x.id])).toBeUndefined();
    expect(schemaOf('isNotBlank', custom, [])).toBeUndefined();
    expect(schemaOf(undefined, ValidationTypes.CONDITIONAL_VALIDATION, [])).toBeUndefined();
    expect(schemaOf('maxLength', ValidationTypes.NESTED_VALIDATION, [3])).toBeUndefined();
  });
});
