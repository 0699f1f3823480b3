/**
 * A mapping file: how another issuer's layout (delimited, with or without a header, or
 * fixed-width) gives the settlement fields. See docs/settlement/README.md for the format.
 * A bad mapping is refused naming the mapping file and the JSON path inside it, before a
 * line of the settlement file is read.
 */
import { readFileSync, statSync } from 'node:fs';
import { SettlementMappingError, shown } from './settlement-error.js';
import { DateFormat, FIELDS, ISO_DATE, REQUIRED_FIELDS, isFieldName, type FieldName } from './settlement-fields.js';
import { JsonScanner, JsonSyntaxError, RawNumber, type JsonObject, type JsonValue } from './settlement-json.js';
import { SETTLEMENT_TYPES, type SettlementType } from './settlement-record.js';

/** A fixed-width field: 1-based start and length, in characters. */
export interface Span {
  start: number;
  length: number;
}

/** Which lines are records: those whose code is `equals`; the others are skipped, or refused when `skip` lists the codes to skip. */
export interface RecordFilter {
  /** A column (csv: name or 1-based position) or a span (fixed). */
  at: string | number | Span;
  equals: string;
  skip: readonly string[] | null;
}

export interface Layout {
  kind: 'csv' | 'fixed';
  /** The mapping file, or null for the built-in csv and json formats. */
  mappingFile: string | null;
  delimiter: string;
  header: boolean;
  /** The built-in csv: the header names the fields themselves, and an unknown column is refused. */
  strictHeader: boolean;
  skipLines: number;
  encoding: 'utf8' | 'latin1';
  /** Spaces around values dropped (fixed-width pads with them). */
  trim: boolean;
  /** csv: each field's column, a header name or a 1-based position. */
  columns: ReadonlyMap<FieldName, string | number>;
  /** fixed: each field's span. */
  spans: ReadonlyMap<FieldName, Span>;
  recordFilter: RecordFilter | null;
  dateFormat: DateFormat;
  types: ReadonlyMap<string, SettlementType> | null;
  constants: ReadonlyMap<FieldName, string>;
}

/** The built-in csv format: a header of field names, comma-separated. */
export const CSV_LAYOUT: Layout = {
  kind: 'csv', mappingFile: null, delimiter: ',', header: true, strictHeader: true, skipLines: 0, encoding: 'utf8', trim: false,
  columns: new Map(), spans: new Map(), recordFilter: null, dateFormat: ISO_DATE, types: null, constants: new Map(),
};

const MAX_MAPPING_BYTES = 1 << 20;
const KEYS: Record<'csv' | 'fixed', readonly string[]> = {
  csv: ['layout', 'description', 'delimiter', 'header', 'skipLines', 'encoding', 'trim', 'columns', 'recordFilter', 'dateFormat', 'types', 'constants'],
  fixed: ['layout', 'description', 'skipLines', 'encoding', 'trim', 'fields', 'recordFilter', 'dateFormat', 'types', 'constants'],
};

export function loadMapping(file: string): Layout {
  let text: string;
  try {
    if (statSync(file).size > MAX_MAPPING_BYTES) throw new Error(`larger than ${MAX_MAPPING_BYTES} bytes: not a mapping`);
    text = readFileSync(file, 'utf8').replace(/^\uFEFF/, '');
  } catch (e) {
    throw new SettlementMappingError(file, '', `cannot read the mapping file: ${(e as Error).message}`);
  }
  let doc: JsonValue;
  try {
    doc = new JsonScanner(text).document();
  } catch (e) {
    if (!(e instanceof JsonSyntaxError)) throw e;
    throw new SettlementMappingError(file, '', e.message, e.line);
  }
  return new MappingCheck(file).layout(doc);
}

/** Walks the mapping document; every refusal names the JSON path. */
class MappingCheck {
  constructor(private readonly file: string) {}

  private fail(path: string, problem: string): never {
    throw new SettlementMappingError(this.file, path, problem);
  }

  layout(doc: JsonValue): Layout {
    const root = this.object(doc, '');
    const kind = root.layout;
    if (kind !== 'csv' && kind !== 'fixed') this.fail('layout', `expected "csv" or "fixed", got ${describe(kind)}`);
    for (const key of Object.keys(root)) {
      if (!KEYS[kind].includes(key)) this.fail(key, `not a key of a ${kind} layout (keys: ${KEYS[kind].join(', ')})`);
    }
    if (root.description !== undefined && typeof root.description !== 'string') this.fail('description', 'expected a string');
    const header = kind === 'csv' ? this.boolean(root.header, 'header', true) : false;
    const columns = kind === 'csv' ? this.columns(root.columns, header) : new Map<FieldName, string | number>();
    const spans = kind === 'fixed' ? this.spans(root.fields) : new Map<FieldName, Span>();
    const constants = this.constants(root.constants);
    const from = kind === 'csv' ? 'columns' : 'fields';
    for (const [f] of constants) {
      if (columns.has(f) || spans.has(f)) this.fail(`constants.${f}`, `${f} comes from ${from} already: one source per field`);
    }
    for (const f of REQUIRED_FIELDS) {
      if (!columns.has(f) && !spans.has(f) && !constants.has(f)) this.fail(from, `no source for ${f}: ${REQUIRED_FIELDS.join(', ')} each need ${from === 'columns' ? 'a column' : 'a field'} or a constant`);
    }
    let dateFormat = ISO_DATE;
    if (root.dateFormat !== undefined) {
      try {
        dateFormat = new DateFormat(this.string(root.dateFormat, 'dateFormat'));
      } catch (e) {
        if (e instanceof SettlementMappingError) throw e;
        this.fail('dateFormat', (e as Error).message);
      }
    }
    const encoding = root.encoding ?? 'utf8';
    if (encoding !== 'utf8' && encoding !== 'latin1') this.fail('encoding', `expected "utf8" or "latin1", got ${describe(encoding)}`);
    return {
      kind, mappingFile: this.file, header, strictHeader: false, columns, spans, constants, dateFormat, encoding,
      delimiter: kind === 'csv' ? this.delimiter(root.delimiter) : '',
      skipLines: root.skipLines === undefined ? 0 : this.integer(root.skipLines, 'skipLines', 0),
      trim: this.boolean(root.trim, 'trim', kind === 'fixed'),
      recordFilter: root.recordFilter === undefined ? null : this.filter(root.recordFilter, kind, header),
      types: root.types === undefined ? null : this.types(root.types),
    };
  }

  private object(v: JsonValue | undefined, path: string): JsonObject {
    if (v === null || v === undefined || typeof v !== 'object' || Array.isArray(v) || v instanceof RawNumber) {
      this.fail(path, `expected an object, got ${describe(v)}`);
    }
    return v;
  }

  private string(v: JsonValue | undefined, path: string): string {
    if (typeof v !== 'string' || v === '') this.fail(path, `expected a non-empty string, got ${describe(v)}`);
    return v;
  }

  private boolean(v: JsonValue | undefined, path: string, otherwise: boolean): boolean {
    if (v === undefined) return otherwise;
    if (typeof v !== 'boolean') this.fail(path, `expected true or false, got ${describe(v)}`);
    return v;
  }

  private integer(v: JsonValue | undefined, path: string, min: number): number {
    if (!(v instanceof RawNumber) || !/^\d{1,7}$/.test(v.raw) || Number(v.raw) < min) this.fail(path, `expected an integer from ${min}, got ${describe(v)}`);
    return Number(v.raw);
  }

  private fieldName(key: string, path: string): FieldName {
    if (!isFieldName(key)) this.fail(path, `not a settlement field (fields: ${FIELDS.join(', ')})`);
    return key;
  }

  /** A column: a header name (only when there is a header) or a 1-based position. */
  private column(v: JsonValue | undefined, path: string, header: boolean): string | number {
    if (typeof v === 'string' && v !== '') {
      if (!header) this.fail(path, `"header" is false: name columns by their 1-based position, got ${describe(v)}`);
      return v;
    }
    if (v instanceof RawNumber) return this.integer(v, path, 1);
    this.fail(path, `expected a column name or a 1-based position, got ${describe(v)}`);
  }

  private columns(v: JsonValue | undefined, header: boolean): Map<FieldName, string | number> {
    const o = this.object(v, 'columns');
    const out = new Map<FieldName, string | number>();
    for (const [key, col] of Object.entries(o)) {
      const f = this.fieldName(key, `columns.${key}`);
      const c = this.column(col, `columns.${key}`, header);
      const other = [...out].find(([, x]) => x === c);
      if (other !== undefined) this.fail(`columns.${key}`, `column ${c} is ${other[0]}'s already`);
      out.set(f, c);
    }
    return out;
  }

  private span(v: JsonValue | undefined, path: string): Span {
    if (!Array.isArray(v) || v.length !== 2) this.fail(path, `expected [start, length] (start 1-based), got ${describe(v)}`);
    return { start: this.integer(v[0], `${path}[0]`, 1), length: this.integer(v[1], `${path}[1]`, 1) };
  }

  private spans(v: JsonValue | undefined): Map<FieldName, Span> {
    const o = this.object(v, 'fields');
    const out = new Map<FieldName, Span>();
    for (const [key, s] of Object.entries(o)) out.set(this.fieldName(key, `fields.${key}`), this.span(s, `fields.${key}`));
    return out;
  }

  private constants(v: JsonValue | undefined): Map<FieldName, string> {
    const out = new Map<FieldName, string>();
    if (v === undefined) return out;
    for (const [key, c] of Object.entries(this.object(v, 'constants'))) {
      if (typeof c !== 'string') this.fail(`constants.${key}`, `expected a string (quote numbers: "978"), got ${describe(c)}`);
      out.set(this.fieldName(key, `constants.${key}`), c);
    }
    return out;
  }

  private delimiter(v: JsonValue | undefined): string {
    if (v === undefined) return ',';
    if (typeof v !== 'string' || v.length !== 1 || v === '"' || v === '\n' || v === '\r') {
      this.fail('delimiter', `expected one character other than a double quote or a line end, got ${describe(v)}`);
    }
    return v;
  }

  private types(v: JsonValue): Map<string, SettlementType> {
    const out = new Map<string, SettlementType>();
    for (const [code, t] of Object.entries(this.object(v, 'types'))) {
      if (typeof t !== 'string' || !(SETTLEMENT_TYPES as readonly string[]).includes(t)) {
        this.fail(`types.${code}`, `expected ${SETTLEMENT_TYPES.join(', ')}, got ${describe(t)}`);
      }
      out.set(code, t as SettlementType);
    }
    if (out.size === 0) this.fail('types', 'expected at least one code');
    return out;
  }

  private filter(v: JsonValue, kind: 'csv' | 'fixed', header: boolean): RecordFilter {
    const o = this.object(v, 'recordFilter');
    const keys = kind === 'csv' ? ['column', 'equals', 'skip'] : ['start', 'length', 'equals', 'skip'];
    for (const key of Object.keys(o)) if (!keys.includes(key)) this.fail(`recordFilter.${key}`, `not a key of a ${kind} record filter (keys: ${keys.join(', ')})`);
    const at = kind === 'csv'
      ? this.column(o.column, 'recordFilter.column', header)
      : { start: this.integer(o.start, 'recordFilter.start', 1), length: this.integer(o.length, 'recordFilter.length', 1) };
    const equals = this.string(o.equals, 'recordFilter.equals');
    if (typeof at === 'object' && equals.length !== at.length) this.fail('recordFilter.equals', `expected ${at.length} characters, as "length" says`);
    let skip: string[] | null = null;
    if (o.skip !== undefined) {
      if (!Array.isArray(o.skip)) this.fail('recordFilter.skip', `expected an array of codes, got ${describe(o.skip)}`);
      skip = o.skip.map((c, i) => this.string(c, `recordFilter.skip[${i}]`));
    }
    return { at, equals, skip };
  }
}

function describe(v: JsonValue | undefined): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (v instanceof RawNumber) return v.raw;
  if (typeof v === 'string') return shown(v);
  if (Array.isArray(v)) return v.length === 2 && v.every((x) => x instanceof RawNumber) ? `[${v.map((x) => (x as RawNumber).raw).join(', ')}]` : 'an array';
  return typeof v === 'object' ? 'an object' : String(v);
}
