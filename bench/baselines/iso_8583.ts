/**
 * npm `iso_8583` (2.6.x), the codec's baseline. It is CommonJS without type
 * declarations. Node's ESM loader would accept `import Iso8583 from 'iso_8583'` (the
 * default export is module.exports, the class), but tsc under `strict` rejects an
 * untyped module, and an ambient `declare module 'iso_8583'` here would be global to the
 * whole program and clash with one the tests may declare. So it is loaded through
 * createRequire and typed locally, covering only what the bench uses.
 *
 * Its API, as read from lib/8583.js:
 * - pack:   new Iso8583({0: mti, 2: pan, ...}).getRawMessage() -> Buffer (MTI, bitmaps,
 *           fields; no length prefix), or {error} on invalid data. It always sets bit 1
 *           and emits a secondary bitmap, even when no field above 64 is present.
 *           getBufferMessage() is the same with a 2-byte binary length in front.
 * - unpack: new Iso8583().getIsoJSON(buffer, config) -> {0: mti, 2: ..., ...} or {error}.
 *           It takes a Buffer and by default skips a 2-byte length header first;
 *           {lenHeader: false} unpacks a bare message as getRawMessage() produces it.
 *           Bitmaps are binary (hex-decoded) by default; a secondary bitmap is read only
 *           when bit 1 is set, so it reads revswitch's iso87a output as-is.
 * Both validate field contents: per-character regexes (z accepts anything) and fixed
 * lengths on pack; unpack only slices.
 */
import { createRequire } from 'node:module';

/** iso_8583's JSON: "0" is the MTI, other keys are field numbers, values are strings. */
export type IsoJson = Record<string, string>;

export interface Iso8583Error {
  error: string;
}

export interface Iso8583Instance {
  getRawMessage(): Buffer | Iso8583Error;
  getBufferMessage(): Buffer | Iso8583Error;
  getIsoJSON(buffer: Buffer, config?: { lenHeader?: boolean }): IsoJson | Iso8583Error;
}

export interface Iso8583Class {
  new (message?: IsoJson, customFormats?: Record<string, unknown>): Iso8583Instance;
}

const requireCjs = createRequire(import.meta.url);
export const Iso8583 = requireCjs('iso_8583') as Iso8583Class;
export const ISO8583_VERSION = (requireCjs('iso_8583/package.json') as { version: string }).version;

export function isIso8583Error(x: unknown): x is Iso8583Error {
  return typeof x === 'object' && x !== null && !Buffer.isBuffer(x) && typeof (x as { error?: unknown }).error === 'string';
}

/** Unpack options for a bare message (no 2-byte length header). */
export const BARE = Object.freeze({ lenHeader: false });

export function pack(data: IsoJson): Buffer | Iso8583Error {
  return new Iso8583(data).getRawMessage();
}

export function unpack(bytes: Buffer): IsoJson | Iso8583Error {
  return new Iso8583().getIsoJSON(bytes, BARE);
}
