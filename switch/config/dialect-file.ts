/**
 * Resolves a --dialect value: a built-in name, or a JSON file deriving from one
 * (`{"base": "iso87a", "fields": {"48": {"max": 500}}}`). Reading the file is I/O, so it
 * lives here rather than in codec/.
 */
import { readFileSync } from 'node:fs';
import { DialectError, dialectFromOverrides, getDialect, DEFAULT_DIALECT, type Dialect } from '../../codec/index.js';

/**
 * A dialect file nests four levels (fields, a field, its keys, a value). The codec quotes a
 * bad value in its error with JSON.stringify, which recurses: a value nested some thousands
 * deep would stop the load with a RangeError instead of a DialectError naming the file.
 */
const MAX_DEPTH = 32;

export function resolveDialect(nameOrFile: string | undefined): Dialect {
  const v = nameOrFile ?? DEFAULT_DIALECT;
  if (!v.endsWith('.json')) return getDialect(v);
  let text: string;
  try {
    text = readFileSync(v, 'utf8');
  } catch (e) {
    throw new DialectError(v, '', `cannot read: ${(e as Error).message}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new DialectError(v, '', `not valid JSON: ${(e as Error).message}`);
  }
  if (nestedDeeperThan(data, MAX_DEPTH)) throw new DialectError(v, '', `nested deeper than ${MAX_DEPTH} levels: not a dialect file`);
  return dialectFromOverrides(data, v);
}

/** Iterative, so that the check itself cannot overflow the stack. */
function nestedDeeperThan(data: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[data, 0]];
  for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
    const [v, depth] = top;
    if (v === null || typeof v !== 'object') continue;
    if (depth >= max) return true;
    for (const x of Object.values(v)) stack.push([x, depth + 1]);
  }
  return false;
}
