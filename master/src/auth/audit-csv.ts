/**
 * The audit log as CSV (RFC 4180): a header line, then one line per entry. Cells are quoted
 * when they hold a comma, a quote or a line break; a cell that a spreadsheet would read as a
 * formula (starting with `=`, `+`, `-`, `@`, a tab or a carriage return) gets a leading `'`,
 * so that a username or a detail chosen by someone cannot run in the reader's spreadsheet.
 */
import type { AuditEntryView } from '@cctv/protocol';

export const AUDIT_CSV_COLUMNS = [
  'id',
  'at',
  'username',
  'action',
  'cameraId',
  'nodeId',
  'ip',
  'detail',
] as const;

const FORMULA_START = /^[=+\-@\t\r]/;
const NEEDS_QUOTES = /[",\r\n]/;

/** One CSV cell: null and undefined are empty, objects are JSON. */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  let text = typeof value === 'string' ? value : JSON.stringify(value);
  if (FORMULA_START.test(text)) text = `'${text}`;
  return NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** One line (with its CRLF) from the cells. */
export const csvLine = (cells: readonly unknown[]): string => `${cells.map(csvCell).join(',')}\r\n`;

export const auditCsvHeader = (): string => csvLine(AUDIT_CSV_COLUMNS);

export function auditCsvLine(e: AuditEntryView): string {
  return csvLine(AUDIT_CSV_COLUMNS.map((c) => e[c]));
}

/** The CSV of `entries`, line by line, header first: to stream as the answer's body. */
export async function* auditCsv(entries: AsyncIterable<AuditEntryView>): AsyncGenerator<string> {
  yield auditCsvHeader();
  for await (const e of entries) yield auditCsvLine(e);
}
