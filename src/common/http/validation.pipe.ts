import { ArgumentMetadata, ValidationPipe } from '@nestjs/common';
import { DomainError } from '../errors/domain-error';
import { validationException } from '../errors/validation-errors';

/**
 * The global validation: whitelist (unknown fields are refused), transformation to the DTO classes, problem
 * responses without submitted values. A body that class-transformer itself cannot map (e.g. an object whose
 * key is `constructor` where a string is expected) is a 400, not a 500.
 */
export class HavenValidationPipe extends ValidationPipe {
  constructor() {
    super({
      whitelist: true,
      forbidNonWhitelisted: true,
      forbidUnknownValues: true,
      transform: true,
      validationError: { target: false, value: false },
      exceptionFactory: validationException,
    });
  }

  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    try {
      return (await super.transform(value, metadata)) as unknown;
    } catch (e) {
      if (e instanceof DomainError) throw e;
      if (e instanceof TypeError) throw new DomainError('request.validation');
      throw e;
    }
  }
}
