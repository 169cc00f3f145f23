import { ValidateBy, ValidationOptions } from 'class-validator';

/**
 * A list whose items do not repeat, checked in linear time. class-validator's own `ArrayUnique` compares every
 * item with every other (`indexOf` in a `filter`) and runs even on a list its `ArrayMaxSize` refuses: tens of
 * thousands of items fit in a body, so one request could hold the event loop for seconds. Reported under the
 * same constraint name (`arrayUnique`), so its message is the one in validation-errors.ts.
 */
export function isUniqueItems(value: unknown): boolean {
  return !Array.isArray(value) || new Set(value).size === value.length;
}

export function UniqueItems(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy({ name: 'arrayUnique', validator: { validate: isUniqueItems } }, options);
}
