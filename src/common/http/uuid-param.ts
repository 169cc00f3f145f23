import { applyDecorators, Param, ParseUUIDPipe, PipeTransform } from '@nestjs/common';
import { Transform } from 'class-transformer';
import { IsUUID } from 'class-validator';
import { DomainError } from '../errors/domain-error';

/** A UUID, in any letter case. */
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** UUIDs in one form: PostgreSQL matches them in any letter case, a string comparison does not. */
const LOWER_CASE: PipeTransform<string, string> = { transform: (value) => value.toLowerCase() };

/**
 * A record's id in the path, in lower case. Anything that is not a UUID answers like a record that does not
 * exist, or that the caller may not see: the same 404 `resource.not_found`, never a hint about what was wrong
 * with it. (An upper-case id of one's own account once passed a string comparison with the caller's id as
 * another account's.)
 */
export const UuidParam = (name = 'id'): ParameterDecorator =>
  Param(
    name,
    new ParseUUIDPipe({ exceptionFactory: () => new DomainError('resource.not_found') }),
    LOWER_CASE,
  );

/**
 * A UUID in a body or query field, in lower case once validated (as UuidParam's): an upper-case id compared with
 * ids PostgreSQL returns (lower case) would never match, and a look at another province's case written in upper
 * case went unrecorded in its province.
 */
export const UuidField = (): PropertyDecorator =>
  applyDecorators(
    IsUUID(),
    Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.toLowerCase() : value)),
  );
