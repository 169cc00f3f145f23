import { ArgumentMetadata, ValidationPipe } from '@nestjs/common';
import { getMetadataStorage } from 'class-validator';
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
      const input = metadata.type === 'query' ? withoutEmptyValues(value, metadata.metatype) : value;
      return (await super.transform(input, metadata)) as unknown;
    } catch (e) {
      if (e instanceof DomainError) throw e;
      if (e instanceof TypeError) throw new DomainError('request.validation');
      throw e;
    }
  }
}

/**
 * A query's parameters without those of the DTO given empty (`?caseId=&action=case.read`): a form's blank field,
 * or the contract's own way of writing a route's parameters. Empty means not given, as for a filter left out; a
 * value given is validated as before, and a parameter the DTO does not declare is refused even empty.
 */
function withoutEmptyValues(value: unknown, metatype: ArgumentMetadata['metatype']): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || !metatype) return value;
  const entries = Object.entries(value);
  if (!entries.some(([, v]) => v === '')) return value; // the usual query: nothing to look up
  const declared = declaredProperties(metatype);
  return Object.fromEntries(entries.filter(([k, v]) => v !== '' || !declared.has(k)));
}

/** The properties a DTO class validates, by class (its metadata does not change once the app runs). */
const declaredByClass = new WeakMap<object, ReadonlySet<string>>();

function declaredProperties(metatype: NonNullable<ArgumentMetadata['metatype']>): ReadonlySet<string> {
  let declared = declaredByClass.get(metatype);
  if (!declared) {
    declared = new Set(
      getMetadataStorage()
        .getTargetValidationMetadatas(metatype, '', true, false)
        .map((m) => m.propertyName),
    );
    declaredByClass.set(metatype, declared);
  }
  return declared;
}
