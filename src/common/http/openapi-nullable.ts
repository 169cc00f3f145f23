import type { OpenAPIObject } from '@nestjs/swagger';

type Schema = { properties?: Record<string, Record<string, unknown>>; required?: string[] };

/**
 * Marks as `nullable` the optional fields of the schemas named in `clearable` (each with the schema whose
 * `required` list says which fields may not be cleared: a partial type's own is empty): where `null` clears a
 * field, as a case section's change takes it (README), and a generated client must be able to send it. A field
 * that is a `$ref` is left alone (OpenAPI 3.0 ignores what stands beside a `$ref`).
 */
export function markClearableFields(
  document: OpenAPIObject,
  clearable: Readonly<Record<string, string>>,
): OpenAPIObject {
  const schemas = (document.components?.schemas ?? {}) as Record<string, Schema>;
  for (const [name, requiredFrom] of Object.entries(clearable)) {
    const schema = schemas[name];
    const required = new Set(schemas[requiredFrom]?.required ?? []);
    if (!schema?.properties) throw new Error(`no schema ${name} in the OpenAPI document`);
    for (const [field, property] of Object.entries(schema.properties)) {
      if (!required.has(field) && !('$ref' in property)) property.nullable = true;
    }
  }
  return document;
}
