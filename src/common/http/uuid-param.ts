import { Param, ParseUUIDPipe } from '@nestjs/common';
import { DomainError } from '../errors/domain-error';

/**
 * A record's id in the path. Anything that is not a UUID answers like a record that does not exist, or that
 * the caller may not see: the same 404 `resource.not_found`, never a hint about what was wrong with it.
 */
export const UuidParam = (name = 'id'): ParameterDecorator =>
  Param(name, new ParseUUIDPipe({ exceptionFactory: () => new DomainError('resource.not_found') }));
