import { applyDecorators } from '@nestjs/common';
import { Transform } from 'class-transformer';
import { IsInt } from 'class-validator';

/** A whole number as a query or a header writes it: decimal digits, a minus sign at most, 16 digits at most. */
const DECIMAL = /^-?[0-9]{1,16}$/;

/**
 * The whole number `text` writes in decimal digits, else undefined: `1e3`, `0x10`, ` 2`, `2.0` and an empty text,
 * which Number() would all read as numbers, are not one.
 */
export function decimalInteger(text: string): number | undefined {
  return DECIMAL.test(text) ? Number(text) : undefined;
}

/**
 * A query parameter holding a whole number in decimal digits. Anything else stays as sent and fails IsInt (a
 * 400 naming the parameter): `1e3`, `0x10`, ` 2` and `2.0`, which Number() would all have turned into a number.
 * (A parameter given empty is taken as left out before it gets here: HavenValidationPipe.)
 */
export function QueryInteger(): PropertyDecorator {
  return applyDecorators(
    Transform(({ value }: { value: unknown }) =>
      typeof value === 'string' ? (decimalInteger(value) ?? value) : value,
    ),
    IsInt(),
  );
}
