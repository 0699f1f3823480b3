/**
 * The one error class the codec throws. Decode, encode and framing failures all land
 * here so a caller can tell "bad bytes" from a bug with a single instanceof.
 * Messages never carry field values: a PAN or track could be the offending value.
 */
export type ErrorSite = number | 'mti' | 'bitmap' | 'tpdu' | 'header' | 'frame' | 'message';

export class IsoError extends Error {
  override readonly name = 'IsoError';
  /** Field number, or null when the problem is not inside a data field. */
  readonly field: number | null;
  readonly site: ErrorSite;
  /** Byte offset in the input (decode) or output (encode); -1 when not meaningful. */
  readonly offset: number;
  readonly reason: string;

  constructor(site: ErrorSite, offset: number, reason: string) {
    super(`${siteLabel(site)}: ${reason}${offset >= 0 ? ` at offset ${offset}` : ''}`);
    this.site = site;
    this.field = typeof site === 'number' ? site : null;
    this.offset = offset;
    this.reason = reason;
  }
}

function siteLabel(site: ErrorSite): string {
  return typeof site === 'number' ? `field ${site}` : site;
}

/**
 * A dialect definition that does not make sense (a bad field spec, an unknown base).
 * Carries the source (file name or "built-in") and the path inside it.
 */
export class DialectError extends Error {
  override readonly name = 'DialectError';
  readonly source: string;
  readonly path: string;
  constructor(source: string, path: string, reason: string) {
    super(`${source}: ${path ? path + ': ' : ''}${reason}`);
    this.source = source;
    this.path = path;
  }
}
