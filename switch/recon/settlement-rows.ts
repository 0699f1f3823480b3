/**
 * From split rows (./settlement-csv.ts) to records, for the built-in csv and for mapped
 * delimited and fixed-width layouts: the header, which lines are records, the shape of
 * each row, and errors named by the column as the file calls it (a header name, a
 * position, a fixed-width range), with the settlement field beside it when they differ.
 */
import { CsvSyntaxError } from './settlement-csv.js';
import { SettlementFileError } from './settlement-error.js';
import { FIELDS, FieldProblem, REQUIRED_FIELDS, isFieldName, type FieldName, type RecordBuilder } from './settlement-fields.js';
import type { Layout, Span } from './settlement-mapping.js';
import type { SettlementRecord } from './settlement-record.js';

const NONE = -1;

export class RowReader {
  private records: SettlementRecord[] = [];
  /** Per field (FIELDS order): its column index, or NONE (a constant or not carried). */
  private index: number[] | null = null;
  private labels: string[] = FIELDS.slice();
  /** The file's column names, once the header is read. */
  private names: string[] | null = null;
  /** Fields per row: the header's count, or the first row's without a header; 0 for fixed. */
  private width = 0;
  private filterIndex = NONE;
  /** The line end a fixed-width record must reach. */
  private readonly reach: number;
  private emptyLine = 0;
  private readonly consts: (string | undefined)[];
  private readonly spans: (Span | undefined)[];
  private readonly values: (string | undefined)[] = new Array<string | undefined>(FIELDS.length);

  constructor(private readonly file: string, private readonly layout: Layout, private readonly builder: RecordBuilder) {
    this.consts = FIELDS.map((f) => layout.constants.get(f));
    this.spans = FIELDS.map((f) => layout.spans.get(f));
    const ends = [...layout.spans.values()].map((s) => s.start + s.length - 1);
    const filter = layout.recordFilter?.at;
    if (typeof filter === 'object') ends.push(filter.start + filter.length - 1);
    this.reach = Math.max(0, ...ends);
    if (layout.kind === 'fixed') {
      this.labels = FIELDS.map((f) => {
        const s = layout.spans.get(f);
        return s === undefined ? this.constLabel(f) : `${range(s)} (${f})`;
      });
    } else if (!layout.header) this.plan(null, 1);
  }

  /** Takes each split row (a RowSink). */
  readonly row = (fields: string[], line: number): void => {
    if (fields.length === 0) {
      if (this.emptyLine === 0) this.emptyLine = line;
      return;
    }
    if (this.emptyLine !== 0) throw this.error(this.emptyLine, null, 'an empty line before more rows (only the end of the file may have empty lines)');
    if (this.layout.kind === 'fixed') return this.fixed(fields[0], line);
    if (this.index === null) return this.plan(fields, line);
    if (this.filterIndex !== NONE && !this.keep(fields[this.filterIndex] ?? '', line, this.columnLabel(this.filterIndex))) return;
    if (this.width === 0) this.firstWidth(fields.length, line);
    if (fields.length !== this.width) this.ragged(fields.length, line);
    const index = this.index;
    const v = this.values;
    const trim = this.layout.trim;
    for (let f = 0; f < v.length; f++) {
      const i = index[f];
      v[f] = i === NONE ? this.consts[f] : trim ? fields[i].trim() : fields[i];
    }
    this.build(line);
  };

  /** The records built since the last take(). */
  take(): SettlementRecord[] {
    const out = this.records;
    this.records = [];
    return out;
  }

  /** The end of the file: a header layout with no header at all is refused. */
  finish(lastLine: number): void {
    if (this.layout.kind === 'csv' && this.index === null) throw this.error(lastLine, null, 'the header row is missing: the file is empty');
  }

  /** The column a CsvSyntaxError is in, as the file calls it. */
  syntaxError(e: CsvSyntaxError): SettlementFileError {
    return this.error(e.line, this.columnLabel(e.field), e.message);
  }

  private build(line: number): void {
    try {
      this.records.push(this.builder.build(this.values, line));
    } catch (e) {
      if (!(e instanceof FieldProblem)) throw e;
      throw this.error(line, this.labels[FIELDS.indexOf(e.field)], e.message);
    }
  }

  private fixed(text: string, line: number): void {
    const filter = this.layout.recordFilter;
    if (filter !== null && typeof filter.at === 'object' && !this.keep(slice(text, filter.at), line, range(filter.at))) return;
    if (text.length < this.reach) {
      // Blame the first field (by position) the line does not reach.
      let short = NONE;
      this.spans.forEach((s, f) => {
        const cut = this.spans[short];
        if (s !== undefined && s.start + s.length - 1 > text.length && (cut === undefined || s.start < cut.start)) short = f;
      });
      throw this.error(line, short === NONE ? null : this.labels[short], `the line has ${text.length} characters, the layout needs ${this.reach}`);
    }
    const v = this.values;
    for (let f = 0; f < v.length; f++) {
      const s = this.spans[f];
      v[f] = s === undefined ? this.consts[f] : this.layout.trim ? slice(text, s).trim() : slice(text, s);
    }
    this.build(line);
  }

  /** Whether the line is a record; a code neither kept nor listed to skip is refused. */
  private keep(code: string, line: number, column: string): boolean {
    const filter = this.layout.recordFilter;
    if (filter === null || code === filter.equals) return true;
    if (filter.skip === null || filter.skip.includes(code)) return false;
    throw this.error(line, column, `record code ${JSON.stringify(code)} is neither ${JSON.stringify(filter.equals)} (a record) nor one to skip (${filter.skip.map((c) => JSON.stringify(c)).join(', ')})`);
  }

  /** Where each field comes from: from the header row (`names`), or by position alone. */
  private plan(names: string[] | null, line: number): void {
    const { layout } = this;
    if (names !== null && layout.trim) names = names.map((n) => n.trim());
    this.names = names;
    if (names !== null) {
      const seen = new Set<string>();
      names.forEach((n, i) => {
        if (seen.has(n) && (layout.strictHeader || [...layout.columns.values()].includes(n))) throw this.error(line, n, 'the column is in the header twice');
        seen.add(n);
        if (layout.strictHeader && !isFieldName(n)) throw this.error(line, n === '' ? String(i + 1) : n, `unknown column (columns: ${FIELDS.join(', ')})`);
      });
      this.width = names.length;
    }
    const columns = layout.strictHeader ? new Map<FieldName, string | number>(FIELDS.filter((f) => names?.includes(f)).map((f) => [f, f])) : layout.columns;
    if (layout.strictHeader) {
      const missing = REQUIRED_FIELDS.find((f) => !columns.has(f));
      if (missing !== undefined) throw this.error(line, missing, `a required column is missing from the header (required: ${REQUIRED_FIELDS.join(', ')})`);
    }
    this.index = FIELDS.map((f, fi) => {
      const c = columns.get(f);
      if (c === undefined) {
        this.labels[fi] = this.constLabel(f);
        return NONE;
      }
      const i = this.columnIndex(c, line);
      this.labels[fi] = c === f ? f : `${c} (${f})`;
      return i;
    });
    const at = layout.recordFilter?.at;
    if (at !== undefined && typeof at !== 'object') this.filterIndex = this.columnIndex(at, line);
  }

  private columnIndex(c: string | number, line: number): number {
    if (typeof c === 'number') {
      if (this.names !== null && c > this.names.length) throw this.error(line, String(c), `the mapping names column ${c}, the header has ${this.names.length}`);
      return c - 1;
    }
    const i = (this.names ?? []).indexOf(c);
    if (i === NONE) throw this.error(line, c, `the mapping's column is not in the header`);
    return i;
  }

  /** Without a header the first row sets the width; it must hold every column mapped. */
  private firstWidth(n: number, line: number): void {
    const max = Math.max(...(this.index ?? []).map((i) => i + 1), this.filterIndex + 1);
    if (n < max) throw this.error(line, this.columnLabel(n), `missing: the row has ${n} fields, the mapping reads column ${max}`);
    this.width = n;
  }

  private ragged(n: number, line: number): never {
    const than = this.names === null ? 'the first row' : 'the header';
    if (n < this.width) throw this.error(line, this.columnLabel(n), `missing: the row has ${n} fields, ${than} ${this.width}`);
    throw this.error(line, String(this.width + 1), `the row has ${n} fields, ${than} ${this.width}`);
  }

  private columnLabel(i: number): string {
    const name = this.names?.[i];
    const field = this.index?.indexOf(i) ?? NONE;
    const own = name !== undefined && name !== '' ? name : String(i + 1);
    return field === NONE || FIELDS[field] === own ? own : `${own} (${FIELDS[field]})`;
  }

  private constLabel(f: FieldName): string {
    return `${f} (constant of ${this.layout.mappingFile ?? 'the format'})`;
  }

  private error(line: number | null, column: string | null, problem: string): SettlementFileError {
    return SettlementFileError.at(this.file, line, column, problem);
  }
}

function range(s: Span): string {
  return `${s.start}-${s.start + s.length - 1}`;
}

function slice(text: string, s: Span): string {
  return text.slice(s.start - 1, s.start - 1 + s.length);
}
