/**
 * JSON read with positions: the line each record's object starts on, the line and column
 * where a text stops being JSON, and numbers kept as written. JSON.parse gives none of
 * these: it would turn 9007199254740993 into ...992 and 12.0 into 12 before anyone could
 * refuse them, and its error quotes the text. (switch/config/json-error.ts finds the place
 * of a syntax error only, and recon may not import config/.) Used for settlement files
 * given as JSON and for mapping files.
 */
import { SettlementFileError, shown } from './settlement-error.js';
import { FIELDS, FieldProblem, REQUIRED_FIELDS, isFieldName } from './settlement-fields.js';

/** A number exactly as the text wrote it. */
export class RawNumber {
  constructor(readonly raw: string) {}
}

export type JsonValue = string | RawNumber | boolean | null | JsonValue[] | JsonObject;
/** A plain object (V8 keeps those fast, unlike null-prototype ones); a "__proto__" key is refused. */
export interface JsonObject {
  [key: string]: JsonValue;
}

export class JsonSyntaxError extends Error {
  constructor(readonly line: number, readonly column: number, readonly expected: string) {
    super(`line ${line}, column ${column}: not valid JSON: expected ${expected}`);
  }
}

const MAX_DEPTH = 64;
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const A_VALUE = 'a value (an object, array, string, number, true, false or null)';

export class JsonScanner {
  private i = 0;
  private line = 1;
  private lineStart = 0;

  constructor(private readonly text: string) {}

  /** The whole text as one value. */
  document(): JsonValue {
    const v = this.value(0);
    this.end();
    return v;
  }

  /** The elements of the array the text is, one at a time, each with the line it starts on. */
  *elements(): Generator<{ index: number; line: number; value: JsonValue }> {
    this.ws();
    if (this.text[this.i] !== '[') this.fail('an array of records (a [ at the start)');
    this.i++;
    this.ws();
    if (this.text[this.i] === ']') {
      this.i++;
      this.end();
      return;
    }
    for (let index = 0; ; index++) {
      this.ws();
      const line = this.line;
      yield { index, line, value: this.value(1) };
      this.ws();
      const c = this.text[this.i];
      this.i++;
      if (c === ']') break;
      if (c !== ',') this.fail('a comma or the closing bracket of the array', -1);
    }
    this.end();
  }

  private end(): void {
    this.ws();
    if (this.i < this.text.length) this.fail('the end of the file after the value');
  }

  private fail(expected: string, back = 0): never {
    throw new JsonSyntaxError(this.line, this.i + back - this.lineStart + 1, expected);
  }

  private ws(): void {
    const s = this.text;
    for (;;) {
      const c = s.charCodeAt(this.i);
      if (c === 32 || c === 9 || c === 13) this.i++;
      else if (c === 10) {
        this.i++;
        this.line++;
        this.lineStart = this.i;
      } else return;
    }
  }

  private value(depth: number): JsonValue {
    this.ws();
    const s = this.text;
    const c = s[this.i];
    if (c === '"') return this.string();
    if (c === '{' || c === '[') {
      if (depth >= MAX_DEPTH) this.fail(`at most ${MAX_DEPTH} levels of nesting`);
      return c === '{' ? this.object(depth + 1) : this.array(depth + 1);
    }
    for (const [word, v] of [['true', true], ['false', false], ['null', null]] as const) {
      if (s.startsWith(word, this.i)) {
        this.i += word.length;
        return v;
      }
    }
    NUMBER.lastIndex = this.i;
    const m = NUMBER.exec(s);
    if (m === null) this.fail(A_VALUE);
    this.i += m[0].length;
    return new RawNumber(m[0]);
  }

  private object(depth: number): JsonObject {
    const o: JsonObject = {};
    this.i++;
    this.ws();
    if (this.text[this.i] === '}') {
      this.i++;
      return o;
    }
    for (;;) {
      this.ws();
      if (this.text[this.i] !== '"') this.fail('a double-quoted key');
      const keyAt = this.i;
      const key = this.string();
      if (Object.hasOwn(o, key)) this.fail(`each key once in an object (${shown(key)} is there twice)`, keyAt - this.i);
      if (key === '__proto__') this.fail('a key other than "__proto__"', keyAt - this.i);
      this.ws();
      if (this.text[this.i] !== ':') this.fail('a colon after the key');
      this.i++;
      o[key] = this.value(depth);
      this.ws();
      const c = this.text[this.i];
      this.i++;
      if (c === '}') return o;
      if (c !== ',') this.fail('a comma or the closing brace of an object', -1);
    }
  }

  private array(depth: number): JsonValue[] {
    const a: JsonValue[] = [];
    this.i++;
    this.ws();
    if (this.text[this.i] === ']') {
      this.i++;
      return a;
    }
    for (;;) {
      a.push(this.value(depth));
      this.ws();
      const c = this.text[this.i];
      this.i++;
      if (c === ']') return a;
      if (c !== ',') this.fail('a comma or the closing bracket of an array', -1);
    }
  }

  private string(): string {
    const s = this.text;
    const start = this.i;
    let escaped = false;
    let j = start + 1;
    for (;;) {
      if (j >= s.length) {
        this.i = j;
        this.fail('the closing double quote of a string');
      }
      const c = s.charCodeAt(j);
      if (c === 34) break;
      if (c < 0x20) {
        this.i = j;
        this.fail('no control character inside a string (a line end is written \\n)');
      }
      if (c === 92) {
        escaped = true;
        const e = s[j + 1];
        const ok = e === 'u' ? /^[0-9a-fA-F]{4}$/.test(s.slice(j + 2, j + 6)) : e !== undefined && '"\\/bfnrt'.includes(e);
        if (!ok) {
          this.i = j + 1;
          this.fail(e === 'u' ? 'four hex digits after \\u' : 'a valid escape after a backslash');
        }
        j += e === 'u' ? 6 : 2;
        continue;
      }
      j++;
    }
    this.i = j + 1;
    return escaped ? (JSON.parse(s.slice(start, j + 1)) as string) : s.slice(start + 1, j);
  }
}

function kind(v: JsonValue): string {
  if (v === null) return 'null';
  if (v instanceof RawNumber) return 'a number';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : typeof v === 'string' ? 'a string' : 'true or false';
}

/** A problem with one record of a JSON settlement file: its index, its line and the key. */
export function recordError(file: string, index: number, line: number, key: string | null, problem: string): SettlementFileError {
  return new SettlementFileError(`${file} line ${line}, record [${index}]${key === null ? '' : `, key ${key}`}: ${problem}`, line, key);
}

/**
 * The values of one record object in FIELDS order (as RecordBuilder takes them). null is
 * an empty value; only amount_minor may be a number, and only an exact integer, because
 * a number loses leading zeros (a STAN, a currency) and a JSON reader may round it.
 */
export function jsonRecordValues(file: string, index: number, line: number, v: JsonValue): (string | undefined)[] {
  if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof RawNumber) {
    throw recordError(file, index, line, null, `expected an object, got ${kind(v)}`);
  }
  for (const key of Object.keys(v)) {
    if (!isFieldName(key)) throw recordError(file, index, line, shown(key), `unknown key (known: ${FIELDS.join(', ')})`);
  }
  return FIELDS.map((f) => {
    if (!Object.hasOwn(v, f)) {
      if (REQUIRED_FIELDS.includes(f)) throw recordError(file, index, line, f, `missing (every record has ${REQUIRED_FIELDS.join(', ')})`);
      return undefined;
    }
    const x = v[f];
    if (x === null) return '';
    if (typeof x === 'string') return x;
    if (x instanceof RawNumber && f === 'amount_minor') {
      if (/^\d+$/.test(x.raw) && !Number.isSafeInteger(Number(x.raw))) {
        // Not echoed: a number this long (16 digits or more) could be a card number in the wrong key.
        throw recordError(file, index, line, f, 'a number beyond 2^53 - 1, where JSON numbers stop being exact: write it as a string of digits');
      }
      return x.raw;
    }
    const hint = x instanceof RawNumber ? ' (a number would lose leading zeros: quote it)' : '';
    throw recordError(file, index, line, f, `expected a string or null, got ${kind(x)}${hint}`);
  });
}

/** FieldProblem to the record's error. */
export function fieldError(file: string, index: number, line: number, e: FieldProblem): SettlementFileError {
  return recordError(file, index, line, e.field, e.message);
}
