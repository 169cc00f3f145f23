import type { LocalizedText } from '../common/errors/error-catalog';
import { type FlatRow, rowKey, unionRows } from './report-model';

/**
 * CSV rendering of the reports (RFC 4180): UTF-8 with a byte-order mark so that Excel reads the Vietnamese
 * text, CRLF line ends, every heading in Vietnamese and English (`vi / en`). A field is quoted when it holds
 * a comma, a quote, a line break or leading/trailing spaces; a text field that a spreadsheet would run as a
 * formula (starting with = + - @ or a tab) is prefixed with an apostrophe.
 */

export const CSV_CONTENT_TYPE = 'text/csv; charset=utf-8; header=present';
export const BOM = '\uFEFF';

export const CSV_HEADINGS = {
  table: 'bang / table',
  code: 'ma / code',
  category: 'hang_muc / category',
  value: 'gia_tri / value',
  info: 'thong_tin / info',
} as const;

export type CsvValue = string | number | null;

export function csvField(value: CsvValue): string {
  if (value === null) return '';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '';
  let text = value;
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]|^\s|\s$/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvDocument(rows: readonly (readonly CsvValue[])[]): string {
  return BOM + rows.map((r) => r.map(csvField).join(',')).join('\r\n') + '\r\n';
}

export function bilingual(t: LocalizedText): string {
  return `${t.vi} / ${t.en}`;
}

/** An information row (period, area, notes) before the figures. */
export interface InfoRow {
  readonly code: string;
  readonly label: LocalizedText;
  /** One value per value column. */
  readonly values: readonly CsvValue[];
}

/**
 * One line per published value: table, category code, category name, then one value column per period
 * (a single `gia_tri / value` column for a summary; one per year for the Action Month comparison).
 */
export function reportCsv(
  valueHeadings: readonly string[],
  info: readonly InfoRow[],
  columns: readonly (readonly FlatRow[])[],
): string {
  const rows: CsvValue[][] = [
    [CSV_HEADINGS.table, CSV_HEADINGS.code, CSV_HEADINGS.category, ...valueHeadings],
  ];
  for (const i of info) rows.push([CSV_HEADINGS.info, i.code, bilingual(i.label), ...i.values]);
  const byKey = columns.map((c) => new Map(c.map((r) => [rowKey(r), r.value])));
  for (const row of unionRows(columns)) {
    rows.push([
      row.table.csv,
      row.code,
      bilingual(row.label),
      ...byKey.map((m) => m.get(rowKey(row)) ?? null),
    ]);
  }
  return csvDocument(rows);
}
