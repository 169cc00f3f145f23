/** Whether a field is there and says something: rules class-validator has no decorator for. */
import { applyDecorators } from '@nestjs/common';
import { ValidateBy, ValidateIf } from 'class-validator';

/**
 * For an optional field where null means nothing: in a change (PATCH) of a field that has no "unset", left out
 * the field keeps its value; in a creation, left out it does not apply. `null` is refused (400 `isNotNull`) and
 * the field's other rules apply to anything else. class-validator's `@IsOptional()`
 * would let `null` through every rule, to reach the service as if it were a value.
 */
export function IsOptionalNotNull(): PropertyDecorator {
  return applyDecorators(
    ValidateIf((_, value) => value !== undefined),
    ValidateBy({ name: 'isNotNull', validator: { validate: (value) => value !== null } }),
  );
}

/**
 * Text that says something: not empty and not only white space (spaces, tabs, no-break spaces). A reason, a
 * name or a note of blanks records nothing, and a database rule that trims would refuse it with a 500.
 */
export function IsNotBlank(): PropertyDecorator {
  return ValidateBy({
    name: 'isNotBlank',
    validator: { validate: (value) => typeof value !== 'string' || value.trim().length > 0 },
  });
}
