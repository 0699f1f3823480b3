/**
 * A compiled dialect: the validated spec plus the flat arrays the decoder and encoder
 * index by field number. Built once at load; the hot path never looks at the spec.
 */
import { DialectError } from './errors.js';
import { checkFieldSpec, compileField, CompiledField, Enc, type DialectSpec, type FieldSpec, type KeptFieldReason } from './spec.js';

export class Dialect {
  readonly name: string;
  readonly spec: DialectSpec;
  /** Index = field number; undefined where the dialect has no such field. Bitmap slots stay undefined. */
  readonly fields: (CompiledField | undefined)[];
  /** 128, or 192 with a tertiary bitmap. */
  readonly maxField: number;
  readonly mtiEnc: Enc;
  readonly bitmapHex: boolean;
  readonly tertiary: boolean;
  readonly tpdu: boolean;
  readonly headerLength: number;
  /** The MTI version digit this dialect expects ('0' for 1987, '1' for 1993). */
  readonly versionDigit: number;

  constructor(spec: DialectSpec) {
    this.name = spec.name;
    this.spec = spec;
    this.tertiary = spec.tertiary;
    this.maxField = spec.tertiary ? 192 : 128;
    this.mtiEnc = spec.mti === 'bcd' ? Enc.BCD : spec.mti === 'ebcdic' ? Enc.EBCDIC : Enc.ASCII;
    this.bitmapHex = spec.bitmap === 'hex';
    this.tpdu = spec.envelope.tpdu;
    this.headerLength = spec.envelope.header;
    this.versionDigit = spec.version === '1993' ? 1 : 0;
    this.fields = new Array<CompiledField | undefined>(this.maxField + 1).fill(undefined);
    for (const [k, fs] of Object.entries(spec.fields)) {
      const n = Number(k);
      if (this.isBitmapField(n)) continue;
      this.fields[n] = compileField(n, fs);
    }
  }

  /** Field 1, and 65 when a tertiary bitmap is in use, are bitmaps, not data. */
  isBitmapField(n: number): boolean {
    return n === 1 || (n === 65 && this.tertiary);
  }

  field(n: number): FieldSpec | undefined {
    return this.spec.fields[String(n)];
  }
}

const TOP_KEYS = ['name', 'base', 'description', 'version', 'mti', 'bitmap', 'tertiary', 'envelope', 'echo', 'fields', 'keep'];

/** Track 2, track 3, track 1, the PIN block and ICC data: never kept after authorization, whatever a file says (PCI DSS 3.3.1). */
const NEVER_KEPT = [35, 36, 45, 52, 55];
/** A reason is a sentence a reviewer can check, not a placeholder. */
const MIN_REASON = 10;

/**
 * A dialect's extra kept fields: each a field it defines, named by its label (so a wrong
 * number is caught), with a reason; never sensitive authentication data.
 */
function checkKeep(source: string, keep: unknown, fields: Record<string, FieldSpec>): Record<string, KeptFieldReason> {
  if (keep === null || typeof keep !== 'object' || Array.isArray(keep)) {
    throw new DialectError(source, 'keep', 'expected an object keyed by field number: {"48": {"name": "<the field\'s label>", "reason": "<why the host needs it>"}}');
  }
  const out: Record<string, KeptFieldReason> = {};
  for (const [k, v] of Object.entries(keep as Record<string, unknown>)) {
    const path = `keep.${k}`;
    const n = Number(k);
    if (!/^\d+$/.test(k)) throw new DialectError(source, path, 'expected a field number');
    if (NEVER_KEPT.includes(n)) throw new DialectError(source, path, 'track, PIN block and ICC data are never kept after authorization (PCI DSS 3.3.1)');
    const f = fields[String(n)];
    if (f === undefined) throw new DialectError(source, path, `the dialect has no field ${n}`);
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new DialectError(source, path, 'expected {"name": ..., "reason": ...}');
    const { name, reason } = v as Record<string, unknown>;
    if (typeof name !== 'string' || name.trim().toLowerCase() !== f.label.trim().toLowerCase()) {
      throw new DialectError(source, `${path}.name`, `expected the field's label, ${JSON.stringify(f.label)}: a field is kept only by name`);
    }
    if (typeof reason !== 'string' || reason.trim().length < MIN_REASON) {
      throw new DialectError(source, `${path}.reason`, `expected why the field must be kept (at least ${MIN_REASON} characters)`);
    }
    out[String(n)] = { name, reason: reason.trim() };
  }
  return out;
}

/** Checks a whole dialect spec, naming the path of the first problem. */
export function checkDialectSpec(source: string, spec: DialectSpec): DialectSpec {
  if (typeof spec.name !== 'string' || spec.name === '') throw new DialectError(source, 'name', 'expected a non-empty string');
  if (spec.version !== '1987' && spec.version !== '1993') throw new DialectError(source, 'version', `expected "1987" or "1993", got ${JSON.stringify(spec.version)}`);
  if (!['ascii', 'bcd', 'ebcdic'].includes(spec.mti)) throw new DialectError(source, 'mti', `expected one of ascii, bcd, ebcdic, got ${JSON.stringify(spec.mti)}`);
  if (spec.bitmap !== 'binary' && spec.bitmap !== 'hex') throw new DialectError(source, 'bitmap', `expected binary or hex, got ${JSON.stringify(spec.bitmap)}`);
  if (typeof spec.tertiary !== 'boolean') throw new DialectError(source, 'tertiary', 'expected true or false');
  const env = spec.envelope as unknown;
  if (env === null || typeof env !== 'object') throw new DialectError(source, 'envelope', 'expected an object {tpdu, header}');
  if (typeof spec.envelope.tpdu !== 'boolean') throw new DialectError(source, 'envelope.tpdu', 'expected true or false');
  const h = spec.envelope.header;
  if (!Number.isInteger(h) || h < 0 || h > 64) throw new DialectError(source, 'envelope.header', `expected a byte count from 0 to 64, got ${JSON.stringify(h)}`);
  const max = spec.tertiary ? 192 : 128;
  if (!Array.isArray(spec.echo)) throw new DialectError(source, 'echo', 'expected an array of field numbers');
  spec.echo.forEach((n, i) => {
    if (!Number.isInteger(n) || n < 2 || n > max) throw new DialectError(source, `echo[${i}]`, `expected a field number from 2 to ${max}, got ${JSON.stringify(n)}`);
  });
  if (spec.fields === null || typeof spec.fields !== 'object') throw new DialectError(source, 'fields', 'expected an object keyed by field number');
  const fields: Record<string, FieldSpec> = {};
  for (const [k, v] of Object.entries(spec.fields)) {
    const n = Number(k);
    if (!/^\d+$/.test(k) || n < 1 || n > max) throw new DialectError(source, `fields.${k}`, `expected a field number from 1 to ${max}`);
    fields[String(n)] = checkFieldSpec(source, `fields.${k}`, v);
  }
  const checked: DialectSpec = { ...spec, echo: [...spec.echo], envelope: { ...spec.envelope }, fields };
  if (spec.keep !== undefined) checked.keep = checkKeep(source, spec.keep, fields);
  return checked;
}

/**
 * Derives a dialect from a base by overriding parts of it, e.g. parsed from a JSON file.
 * A field entry is merged over the base field (so `{"max": 500}` alone works), or
 * `null` to drop the field. `source` names the file in every error.
 */
export function deriveDialect(base: Dialect, overrides: unknown, source: string): Dialect {
  if (overrides === null || typeof overrides !== 'object' || Array.isArray(overrides)) {
    throw new DialectError(source, '', 'expected a JSON object');
  }
  const o = overrides as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!TOP_KEYS.includes(k)) throw new DialectError(source, k, `unknown key; expected one of ${TOP_KEYS.join(', ')}`);
  }
  const b = base.spec;
  const fields: Record<string, FieldSpec | unknown> = { ...b.fields };
  if (o.fields !== undefined) {
    if (o.fields === null || typeof o.fields !== 'object' || Array.isArray(o.fields)) {
      throw new DialectError(source, 'fields', 'expected an object keyed by field number');
    }
    for (const [k, v] of Object.entries(o.fields as Record<string, unknown>)) {
      const key = String(Number(k));
      if (v === null) { delete fields[key]; continue; }
      if (typeof v !== 'object' || Array.isArray(v)) throw new DialectError(source, `fields.${k}`, 'expected an object or null');
      const merged: Record<string, unknown> = { ...(b.fields[key] ?? {}), ...(v as Record<string, unknown>) };
      // A field turned fixed must lose the base's prefix, or validation would reject it.
      if (merged.length === 'fixed' && (v as Record<string, unknown>).prefix === undefined) delete merged.prefix;
      fields[/^\d+$/.test(k) ? key : k] = merged;
    }
  }
  // Not an object: refused with the same message as in a whole spec.
  if (o.keep !== undefined && (o.keep === null || typeof o.keep !== 'object' || Array.isArray(o.keep))) checkKeep(source, o.keep, {});
  const env = o.envelope === undefined ? b.envelope : { ...b.envelope, ...(o.envelope as object) };
  const spec = {
    name: o.name ?? `${b.name}+${source}`,
    description: o.description ?? `${b.description}, overridden by ${source}`,
    version: o.version ?? b.version,
    mti: o.mti ?? b.mti,
    bitmap: o.bitmap ?? b.bitmap,
    tertiary: o.tertiary ?? b.tertiary,
    envelope: env,
    echo: o.echo ?? b.echo,
    fields,
    ...(o.keep !== undefined || b.keep !== undefined ? { keep: { ...b.keep, ...(o.keep as object | undefined) } } : {}),
  } as DialectSpec;
  return new Dialect(checkDialectSpec(source, spec));
}
