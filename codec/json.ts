/**
 * The JSON form used by the CLI and by logs: {"mti": "0200", "2": "...", "52": "HEX"}.
 * Binary fields travel as hex; the dialect says which fields are binary.
 */
import type { Dialect } from './dialect.js';
import { IsoError } from './errors.js';
import { fromHex, IsoMessage } from './message.js';

export function messageFromJson(dialect: Dialect, obj: unknown): IsoMessage {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw new IsoError('message', -1, 'expected a JSON object');
  const msg = new IsoMessage();
  for (const [k, v] of Object.entries(obj as Record<string, unknown>)) {
    if (typeof v !== 'string') throw new IsoError('message', -1, `key "${k}": expected a string value`);
    if (k === 'mti') { msg.mti = v; continue; }
    if (k === 'tpdu') { msg.tpdu = fromHex(v); continue; }
    if (k === 'header') { msg.header = fromHex(v); continue; }
    const n = Number(k);
    if (!/^\d+$/.test(k) || n < 2 || n > dialect.maxField || dialect.isBitmapField(n)) {
      throw new IsoError('message', -1, `key "${k}": expected "mti", "tpdu", "header" or a data field number from 2 to ${dialect.maxField}`);
    }
    const spec = dialect.fields[n];
    if (!spec) throw new IsoError(n, -1, `dialect ${dialect.name} does not define field ${n}`);
    msg.set(n, spec.spec.type === 'b' ? fromHex(v, n) : v);
  }
  if (msg.mti === '') throw new IsoError('mti', -1, 'missing "mti"');
  return msg;
}
