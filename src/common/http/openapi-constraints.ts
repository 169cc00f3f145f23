import { ApiProperty } from '@nestjs/swagger';
import { ValidationTypes } from 'class-validator';
import { validatedClasses } from './validation-metadata';

/**
 * The OpenAPI document says what the validators check. Nest's swagger CLI plugin would read class-validator's
 * decorators, but the build is SWC's, which runs no plugin; a constraint written by hand in `@ApiProperty` beside
 * its validator drifts from it (a pattern missing, a length changed in one place). So, before the document is
 * made, every documented property of a validated class gets the constraints of its own validators that its
 * `@ApiProperty` does not already state: lengths, patterns, bounds, list sizes, unique items, enumerations,
 * formats. What `@ApiProperty` states stays (test/routes.e2e-spec.ts checks that the two agree).
 *
 * Only properties that are documented already are touched: a validated property with no `@ApiProperty` stays out
 * of the document. Idempotent: a second call adds nothing (each test builds its own app in one process).
 */
export function documentValidationConstraints(): void {
  for (const [target, metadatas] of validatedClasses()) {
    const prototype = target.prototype as object;
    const byProperty = new Map<string, { schema?: object; items?: object }>();
    for (const m of metadatas) {
      const constraint = schemaOf(m.name, m.type, m.constraints);
      if (!constraint) continue;
      const key = m.each ? 'items' : 'schema';
      const entry = byProperty.get(m.propertyName) ?? {};
      entry[key] = { ...entry[key], ...constraint };
      byProperty.set(m.propertyName, entry);
    }
    for (const [property, found] of byProperty) {
      const existing = Reflect.getMetadata(API_MODEL_PROPERTIES, prototype, property) as
        Record<string, unknown> | undefined;
      if (!existing) continue;
      const added: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(found.schema ?? {})) {
        if (key === 'type') {
          // isInt narrows a number; the decorator's type (Number, from the design type) says only "number".
          if (value === 'integer' && (existing.type === Number || existing.type === 'number'))
            added.type = value;
        } else if (existing[key] === undefined) added[key] = value;
      }
      if (found.items && (existing.isArray || existing.type === 'array')) {
        const items = (existing.items as Record<string, unknown> | undefined) ?? {};
        const missing = Object.entries(found.items).filter(([k]) => items[k] === undefined);
        if (missing.length > 0) {
          added.items = { type: itemType(existing, items), ...items, ...Object.fromEntries(missing) };
          // Once `items` is given, the list's type must be said as 'array': the item type is in `items`.
          added.type = 'array';
          added.isArray = false;
        }
      }
      if (Object.keys(added).length > 0) ApiProperty(added)(prototype, property);
    }
  }
}

/** Where @nestjs/swagger keeps a property's `@ApiProperty` options (its DECORATORS.API_MODEL_PROPERTIES). */
const API_MODEL_PROPERTIES = 'swagger/apiModelProperties';

/** The item type of a list property documented as `type: String, isArray: true` (or already with its items). */
function itemType(existing: Record<string, unknown>, items: Record<string, unknown>): unknown {
  if (items.type !== undefined) return items.type;
  const t = existing.type;
  if (t === String) return 'string';
  if (t === Number) return 'number';
  if (t === Boolean) return 'boolean';
  return typeof t === 'string' && t !== 'array' ? t : 'string';
}

/** The OpenAPI form of one validator, or undefined where OpenAPI has no word for it (a custom check). */
export function schemaOf(
  name: string | undefined,
  type: string,
  constraints: unknown[] = [],
): Record<string, unknown> | undefined {
  if (type !== ValidationTypes.CUSTOM_VALIDATION) return undefined;
  const [first] = constraints;
  switch (name) {
    case 'maxLength':
      return { maxLength: first };
    case 'minLength':
      return { minLength: first };
    case 'max':
      return { maximum: first };
    case 'min':
      return { minimum: first };
    case 'arrayMaxSize':
      return { maxItems: first };
    case 'arrayMinSize':
      return { minItems: first };
    case 'arrayUnique':
      // class-validator's with a selector compares what the selector picks: not JSON Schema's uniqueItems.
      return typeof first === 'function' ? undefined : { uniqueItems: true };
    case 'isIn':
      return Array.isArray(first) ? { enum: [...(first as unknown[])] } : undefined;
    case 'equals':
      return { enum: [first] };
    case 'matches':
      return patternOf(first, constraints[1]);
    case 'isInt':
      return { type: 'integer' };
    case 'isUuid':
      return { format: 'uuid' };
    case 'isCalendarDate':
      return { format: 'date' };
    case 'isInstant':
      return { format: 'date-time' };
    case undefined:
    default:
      return undefined;
  }
}

/**
 * A JavaScript pattern as an OpenAPI (ECMA-262) one. Flags that change what matches (i, m, s) have no place in a
 * `pattern`: such a check is left undocumented rather than documented wrong.
 */
function patternOf(pattern: unknown, modifiers: unknown): Record<string, unknown> | undefined {
  const re =
    pattern instanceof RegExp
      ? pattern
      : typeof pattern === 'string'
        ? new RegExp(pattern, typeof modifiers === 'string' ? modifiers : '')
        : null;
  if (!re || /[ims]/.test(re.flags)) return undefined;
  return { pattern: re.source };
}
