/**
 * Resolves a --dialect value: a built-in name, or a JSON file deriving from one
 * (`{"base": "iso87a", "fields": {"48": {"max": 500}}}`). Reading the file is I/O, so it
 * lives here rather than in codec/.
 */
import { readFileSync } from 'node:fs';
import { DialectError, dialectFromOverrides, getDialect, DEFAULT_DIALECT, type Dialect } from '../../codec/index.js';

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
  return dialectFromOverrides(data, v);
}
