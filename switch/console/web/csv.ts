/**
 * CSV built in the page from the report already shown (RFC 4180: quoted when needed,
 * CRLF; ./download.ts saves it), so nothing goes back to the server. A cell that a
 * spreadsheet would run as a formula (=, +, -, @ first) is prefixed with a quote.
 */

export interface Column<T> {
  title: string;
  value: (row: T) => string | number | null | undefined;
}

function cell(v: string | number | null | undefined): string {
  if (v === null || v === undefined) return '';
  let s = String(v);
  if (typeof v === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv<T>(columns: readonly Column<T>[], rows: readonly T[]): string {
  const lines = [columns.map((c) => cell(c.title)).join(',')];
  for (const r of rows) lines.push(columns.map((c) => cell(c.value(r))).join(','));
  return lines.join('\r\n') + '\r\n';
}
