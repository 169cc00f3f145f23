import { getMetadataStorage } from 'class-validator';
import type { ValidationMetadata } from 'class-validator/types/metadata/ValidationMetadata';

/**
 * Every class class-validator holds decorators for, with its own (not inherited) decorators' metadata. class-validator
 * lists its classes only in a private map (0.14 and later): a change of it is refused, rather than leave the
 * OpenAPI document without its constraints or refusals without their bounds (routes.e2e-spec.ts would fail too).
 */
export function validatedClasses(): Map<new () => object, ValidationMetadata[]> {
  const map = (getMetadataStorage() as unknown as { validationMetadatas?: unknown }).validationMetadatas;
  if (!(map instanceof Map)) {
    throw new Error('class-validator keeps its metadata differently: update validation-metadata.ts');
  }
  const out = new Map<new () => object, ValidationMetadata[]>();
  for (const [target, metadatas] of map as Map<unknown, ValidationMetadata[]>) {
    if (typeof target === 'function') out.set(target as new () => object, metadatas);
  }
  return out;
}
