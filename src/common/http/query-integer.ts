import { applyDecorators } from '@nestjs/common';
import { Transform } from 'class-transformer';
import { IsInt } from 'class-validator';

/** A whole number as a query string writes it: decimal digits, a minus sign at most, no more than 16 digits. */
const DECIMAL = /^-?[0-9]{1,16}$/;

/**
 * A query parameter holding a whole number in decimal digits. Anything else stays as sent and fails IsInt (a
 * 400 naming the parameter): `1e3`, `0x10`, ` 2`, `2.0` and an empty value, which Number() would all have
 * turned into a number.
 */
export function QueryInteger(): PropertyDecorator {
  return applyDecorators(
    Transform(({ value }: { value: unknown }) =>
      typeof value === 'string' && DECIMAL.test(value) ? Number(value) : value,
    ),
    IsInt(),
  );
}
