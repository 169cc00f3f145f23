import { Result, types } from 'pg';

/**
 * node-postgres builds, for every result, a template row that each parsed row is copied from (so that rows get
 * one fixed shape). It builds that template on an `Object.create(null)` object, which V8 keeps in dictionary
 * mode, and then spreads it into a plain object: ~0.6 µs per column, 24 µs for a 40-column result, on every
 * query, before a single row is parsed. In a profile of case reads it was the largest JavaScript item after
 * socket writes (`addFields`, 3.9 % of the service's samples; docs/performance.md).
 *
 * This replaces `Result.prototype.addFields` with the same work on a plain object literal (~0.05 µs per
 * column): the same fields, the same parsers, a template with the same keys in the same order, and rows that
 * compare equal. The null prototype guarded against one column name only: assigning `__proto__` on a plain
 * object would set its prototype, so a result with a column of that name takes node-postgres' own path.
 * Past a dozen columns V8 turns this template to dictionary mode as well (keys added by computed name); a
 * template in fast mode (built by JSON.parse, or cached per shape) was slower overall in a micro-benchmark.
 *
 * Installed once, by data-source-options.ts, for every client of the process. If node-postgres no longer
 * builds rows from `_prebuiltEmptyResultObject`, nothing is replaced (`installRowTemplates()` says so, and a
 * test fails, so that an upgrade is looked at).
 */

interface FieldDescription {
  name: string;
  dataTypeID: number;
  format?: string;
}

interface TypeSource {
  getTypeParser(oid: number, format: string): (value: unknown) => unknown;
}

/** The parts of node-postgres' Result (lib/result.js) this touches. */
interface ResultInternals {
  fields: FieldDescription[];
  _parsers?: ((value: unknown) => unknown)[];
  _types?: TypeSource;
  _prebuiltEmptyResultObject: Record<string, null> | null;
  addFields: (this: ResultInternals, fields: FieldDescription[]) => void;
  parseRow: (this: ResultInternals, rowData: unknown[]) => unknown;
}

const proto = Result.prototype as unknown as ResultInternals;
/** node-postgres' own addFields. */
export const pgAddFields = proto.addFields;
const globalTypes = types as unknown as TypeSource;

/** Result.prototype.addFields, with the template row built on a plain object (see the module comment). */
export function addFieldsOnPlainRow(this: ResultInternals, fields: FieldDescription[]): void {
  for (let i = 0; i < fields.length; i++) {
    if (fields[i].name === '__proto__') return pgAddFields.call(this, fields);
  }
  this.fields = fields;
  if (fields.length) this._parsers = new Array<(value: unknown) => unknown>(fields.length);
  const source = this._types ?? globalTypes;
  const row: Record<string, null> = {};
  for (let i = 0; i < fields.length; i++) {
    const desc = fields[i];
    row[desc.name] = null;
    this._parsers![i] = source.getTypeParser(desc.dataTypeID, desc.format || 'text');
  }
  this._prebuiltEmptyResultObject = row;
}

/** Whether node-postgres still parses rows as this module expects (copies of `_prebuiltEmptyResultObject`). */
function rowsFromTemplate(): boolean {
  return (
    typeof pgAddFields === 'function' &&
    typeof proto.parseRow === 'function' &&
    Function.prototype.toString.call(proto.parseRow).includes('_prebuiltEmptyResultObject')
  );
}

/** Replaces Result.prototype.addFields (idempotent); false when node-postgres does not work as expected. */
export function installRowTemplates(): boolean {
  if (proto.addFields === addFieldsOnPlainRow) return true;
  if (!rowsFromTemplate()) return false;
  proto.addFields = addFieldsOnPlainRow;
  return true;
}
