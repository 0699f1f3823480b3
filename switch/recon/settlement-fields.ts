/**
 * From the text values of one settlement record (whatever the file format) to a
 * SettlementRecord, checking each field. Every reader goes through RecordBuilder, so a
 * csv, json or mapped file is held to the same rules. A bad value is a FieldProblem
 * naming the field; the reader turns it into a SettlementFileError with the file, line
 * and the column as the file calls it.
 */
import { SETTLEMENT_TYPES, type SettlementRecord, type SettlementType } from './settlement-record.js';
import { shown } from './settlement-error.js';

/** The field names files use (CSV columns, JSON keys, mapping keys), in record order. */
export const FIELDS = [
  'business_date', 'rrn', 'terminal', 'stan', 'f7', 'amount_minor', 'currency', 'type',
  'approval_code', 'merchant', 'pan_masked', 'upstream',
] as const;
export type FieldName = (typeof FIELDS)[number];
export const REQUIRED_FIELDS: readonly FieldName[] = FIELDS.slice(0, 8);

export function isFieldName(s: string): s is FieldName {
  return (FIELDS as readonly string[]).includes(s);
}

const I = Object.fromEntries(FIELDS.map((f, i) => [f, i])) as Record<FieldName, number>;

/** A field's value refused; `field` is the record field, the reader names the file's column. */
export class FieldProblem extends Error {
  constructor(readonly field: FieldName, message: string) {
    super(message);
  }
}

/** A date layout made of YYYY or YY, MM, DD and literal separators (YY is 20YY). */
export class DateFormat {
  private readonly re: RegExp;
  private readonly order: ('Y' | 'YY' | 'M' | 'D')[] = [];

  constructor(readonly pattern: string) {
    let src = '';
    for (const tok of pattern.match(/YYYY|YY|MM|DD|./g) ?? []) {
      if (tok === 'YYYY' || tok === 'YY' || tok === 'MM' || tok === 'DD') {
        src += tok === 'YYYY' ? '(\\d{4})' : '(\\d{2})';
        this.order.push(tok === 'YYYY' ? 'Y' : tok === 'YY' ? 'YY' : tok === 'MM' ? 'M' : 'D');
      } else if (/[A-Za-z0-9]/.test(tok)) {
        throw new Error(`"${tok}" is neither YYYY, YY, MM, DD nor a separator`);
      } else src += tok.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    }
    const kinds = this.order.map((k) => (k === 'YY' ? 'Y' : k)).sort().join('');
    if (kinds !== 'DMY') throw new Error('a date format has one year (YYYY or YY), one MM and one DD');
    this.re = new RegExp(`^${src}$`);
  }

  /** YYYY-MM-DD, or null when `s` is not a real date in this format. */
  parse(s: string): string | null {
    const m = this.re.exec(s);
    if (m === null) return null;
    let y = 0;
    let mo = 0;
    let d = 0;
    this.order.forEach((k, i) => {
      const n = Number(m[i + 1]);
      if (k === 'Y') y = n;
      else if (k === 'YY') y = 2000 + n;
      else if (k === 'M') mo = n;
      else d = n;
    });
    const t = new Date(Date.UTC(y, mo - 1, d));
    // Before 1970 is no settlement date, and Date.UTC would read years 0-99 as 19xx.
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || t.getUTCDate() !== d || t.getUTCMonth() !== mo - 1) return null;
    return `${String(y).padStart(4, '0')}-${String(mo).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
  }
}

export const ISO_DATE = new DateFormat('YYYY-MM-DD');

export interface BuildRules {
  dateFormat: DateFormat;
  /** The file's type codes to types; null: the values are sale, refund or reversal. */
  types: ReadonlyMap<string, SettlementType> | null;
  /** YYYY-MM-DD every record must have, or null. */
  businessDate: string | null;
  /** The upstream the file must carry, if it carries one. */
  upstream: string | null;
}

/** Digits only: an ISO 8583 amount (F4) has at most 12, a fixed-width file may zero-pad it. */
const MAX_AMOUNT_DIGITS = 12;
const PRINTABLE = /^[\x20-\x7e]+$/;

/** Checks record after record, remembering what must be the same across the file. */
export class RecordBuilder {
  /** The upstream the file carries (column or constant), once seen. */
  upstream: string | null = null;
  private upstreamLine = 0;
  private firstDate: string | null = null;
  private mixedDates = false;
  private lastDateRaw: string | null = null;
  private lastDate = '';

  constructor(private readonly rules: BuildRules) {}

  /** The business date every record had: the one asked, else the shared one, else null. */
  get businessDate(): string | null {
    return this.rules.businessDate ?? (this.mixedDates ? null : this.firstDate);
  }

  /** `v` holds the values in FIELDS order; undefined: the file does not carry that field. */
  build(v: readonly (string | undefined)[], line: number): SettlementRecord {
    const businessDate = this.date(v[I.business_date] ?? '');
    const rrn = rrnOf(v[I.rrn] ?? '');
    const f7 = f7Of(v[I.f7] ?? '');
    if (rrn === '' && f7 === '') throw new FieldProblem('rrn', 'rrn and f7 are both empty: a record needs one of them to be matched');
    const upstream = v[I.upstream];
    if (upstream !== undefined) this.checkUpstream(upstream, line);
    return {
      line,
      businessDate,
      rrn,
      terminal: own(terminalOf(v[I.terminal] ?? '')),
      stan: stanOf(v[I.stan] ?? ''),
      f7,
      amountMinor: amount(v[I.amount_minor] ?? ''),
      currency: currencyOf(v[I.currency] ?? ''),
      type: this.type(v[I.type] ?? ''),
      approvalCode: approvalOf(v[I.approval_code]),
      merchant: own(merchantOf(v[I.merchant])),
      panMasked: own(panMasked(v[I.pan_masked])),
    };
  }

  /**
   * One value on its own, as build() would check it: a mapping's constants are checked
   * once before the first line, so a bad one is blamed on the mapping.
   */
  check(field: FieldName, raw: string): void {
    const one: Record<FieldName, () => unknown> = {
      business_date: () => this.date(raw),
      rrn: () => rrnOf(raw),
      terminal: () => terminalOf(raw),
      stan: () => stanOf(raw),
      f7: () => f7Of(raw),
      amount_minor: () => amount(raw),
      currency: () => currencyOf(raw),
      type: () => this.type(raw),
      approval_code: () => approvalOf(raw),
      merchant: () => merchantOf(raw),
      pan_masked: () => panMasked(raw),
      upstream: () => this.checkUpstream(raw, 0),
    };
    one[field]();
  }

  private date(raw: string): string {
    if (raw === this.lastDateRaw) return this.lastDate;
    const d = this.rules.dateFormat.parse(raw);
    if (d === null) throw new FieldProblem('business_date', `expected a real date as ${this.rules.dateFormat.pattern}, got ${shown(raw)}`);
    const asked = this.rules.businessDate;
    if (asked !== null && d !== asked) throw new FieldProblem('business_date', `${d} is not the business date asked (${asked})`);
    if (this.firstDate === null) this.firstDate = d;
    else if (d !== this.firstDate) this.mixedDates = true;
    this.lastDateRaw = raw;
    this.lastDate = d;
    return d;
  }

  private type(raw: string): SettlementType {
    const types = this.rules.types;
    if (types === null) {
      if (raw === 'sale' || raw === 'refund' || raw === 'reversal') return raw;
      throw new FieldProblem('type', `expected ${SETTLEMENT_TYPES.join(', ')}, got ${shown(raw)}`);
    }
    const t = types.get(raw);
    if (t === undefined) throw new FieldProblem('type', `the code ${shown(raw)} is not in the mapping's types (${[...types.keys()].sort().join(', ')})`);
    return t;
  }

  private checkUpstream(u: string, line: number): void {
    if (u === this.upstream) return;
    if (u.length > 64 || !PRINTABLE.test(u) || u.trim() !== u || u === '') {
      throw new FieldProblem('upstream', `expected an upstream name (1 to 64 printable characters), got ${shown(u)}`);
    }
    const asked = this.rules.upstream;
    if (asked !== null && u !== asked) throw new FieldProblem('upstream', `${shown(u)} is not the upstream asked (${shown(asked)})`);
    // One file, one upstream: records carry no upstream of their own to tell them apart.
    if (this.upstream !== null) throw new FieldProblem('upstream', `${shown(u)} differs from ${shown(this.upstream)} (${this.upstreamLine === 0 ? 'the mapping' : `line ${this.upstreamLine}`}): a file settles one upstream`);
    this.upstream = u;
    this.upstreamLine = line;
  }
}

/**
 * A copy of a value that no longer points into the chunk it was cut from. V8 keeps a
 * substring of 13 characters or more as a view of its parent, so one record kept by the
 * reconciler held its whole 64 KiB chunk alive (1,000 records kept of 1M: +64 MiB RSS).
 * Slicing a concatenation makes V8 copy the characters into a string of their own.
 */
function own<T extends string | null>(s: T): T {
  return (s === null || s.length < 13 ? s : ` ${s}`.slice(1)) as T;
}

function rrnOf(s: string): string {
  if (s !== '' && !/^[A-Za-z0-9]{1,12}$/.test(s)) throw new FieldProblem('rrn', `expected up to 12 letters or digits (F37), got ${shown(s)}`);
  return s;
}

function terminalOf(s: string): string {
  if (s.length > 16 || !PRINTABLE.test(s) || s.trim() === '') throw new FieldProblem('terminal', `expected 1 to 16 printable characters (F41), got ${shown(s)}`);
  return s;
}

function stanOf(s: string): string {
  if (!/^\d{1,6}$/.test(s)) throw new FieldProblem('stan', `expected 1 to 6 digits, got ${shown(s)}`);
  return s.padStart(6, '0');
}

function f7Of(s: string): string {
  if (s !== '' && !isF7(s)) throw new FieldProblem('f7', `expected 10 digits MMDDhhmmss or nothing, got ${shown(s)}`);
  return s;
}

function currencyOf(s: string): string {
  if (!/^\d{3}$/.test(s)) throw new FieldProblem('currency', `expected 3 digits (ISO 4217 numeric), got ${shown(s)}`);
  return s;
}

/** MMDDhhmmss with each part in range; by char codes, as it runs once per record. */
function isF7(s: string): boolean {
  if (!/^\d{10}$/.test(s)) return false;
  const two = (i: number): number => (s.charCodeAt(i) - 48) * 10 + s.charCodeAt(i + 1) - 48;
  const mo = two(0);
  const d = two(2);
  return mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && two(4) <= 23 && two(6) <= 59 && two(8) <= 59;
}

/** Minor units: digits only. The messages say why, because "12.50" is the usual mistake. */
export function amount(raw: string): bigint {
  if (/^\d+$/.test(raw)) {
    if (raw.length > MAX_AMOUNT_DIGITS && raw.replace(/^0+/, '').length > MAX_AMOUNT_DIGITS) {
      throw new FieldProblem('amount_minor', `more than ${MAX_AMOUNT_DIGITS} digits, larger than any ISO 8583 amount: ${shown(raw)}`);
    }
    return BigInt(raw);
  }
  if (raw === '') throw new FieldProblem('amount_minor', 'expected an integer in minor units, got nothing');
  if (/^\s*-/.test(raw)) throw new FieldProblem('amount_minor', `expected a non-negative integer in minor units, got ${shown(raw)}: the type says the direction, the amount is never negative`);
  if (/^\+?\d*[.,]\d*$|[eE]/.test(raw)) {
    throw new FieldProblem('amount_minor', `expected an integer in minor units, got ${shown(raw)}: amounts are integers in minor units, no decimal point or exponent`);
  }
  throw new FieldProblem('amount_minor', `expected an integer in minor units (digits only), got ${shown(raw)}`);
}

function approvalOf(s: string | undefined): string | null {
  return optional('approval_code', s, /^[A-Za-z0-9 ]{1,6}$/, 'up to 6 letters, digits or spaces (F38)');
}

function merchantOf(s: string | undefined): string | null {
  return optional('merchant', s, /^[^\p{Cc}]{1,200}$/u, 'up to 200 characters, no control characters');
}

function optional(field: FieldName, raw: string | undefined, re: RegExp, what: string): string | null {
  if (raw === undefined || raw === '') return null;
  if (!re.test(raw)) throw new FieldProblem(field, `expected ${what}, got ${shown(raw)}`);
  return raw;
}

/**
 * At most the first 6 and last 4 digits, the rest masked (PCI DSS 3.4.1); a value showing
 * more is kept masked down to 6 + 4. Never echoed: a bad value may be the card number.
 */
export function panMasked(raw: string | undefined): string | null {
  if (raw === undefined || raw === '') return null;
  // One pass: leading digits, then mask characters, then trailing digits is the usual shape.
  const n = raw.length;
  let i = 0;
  while (i < n && isDigit(raw.charCodeAt(i))) i++;
  const lead = i;
  let stars = true;
  for (let c = raw.charCodeAt(i); i < n && isMask(c); c = raw.charCodeAt(++i)) stars &&= c === 42;
  const masks = i - lead;
  while (i < n && isDigit(raw.charCodeAt(i))) i++;
  if (i === n && masks > 0 && lead <= 6 && n - lead - masks <= 4 && n >= 12 && n <= 19) {
    return stars ? raw : raw.slice(0, lead) + '*'.repeat(masks) + raw.slice(lead + masks);
  }
  let digits = 0;
  let other = false;
  let masked = false;
  for (let k = 0; k < n; k++) {
    const c = raw.charCodeAt(k);
    if (isDigit(c)) digits++;
    else if (isMask(c)) masked = true;
    else other = true;
  }
  if (digits >= 13) throw new FieldProblem('pan_masked', 'looks like a full PAN; the file must carry it masked (6 + 4 at most)');
  if (n < 12 || n > 19 || other || !masked) {
    throw new FieldProblem('pan_masked', 'expected a masked PAN of 12 to 19 characters: digits and * (or X, #), at most the first 6 and last 4 digits shown');
  }
  // Shows more than 6 + 4 (or masks in odd places): keep the first 6 and last 4 characters only.
  return raw.slice(0, 6).replace(/[Xx#]/g, '*') + '*'.repeat(n - 10) + raw.slice(-4).replace(/[Xx#]/g, '*');
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** *, X, x or #. */
function isMask(c: number): boolean {
  return c === 42 || c === 88 || c === 120 || c === 35;
}
