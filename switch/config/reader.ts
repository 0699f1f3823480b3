/**
 * The config validator's reader: typed getters over parsed JSON whose errors name the
 * file, the path inside it and what was expected, and hide values under secret-looking keys.
 */
import { ConfigError } from './types.js';

type Json = Record<string, unknown>;

/** Paths whose values are secrets (or may hold one, like a URL with a password). */
const SECRET_PATH = /(key|secret|token|password|passphrase|credential)s?(\.|$)|(^|\.)url$/i;

export class Reader {
  constructor(private readonly source: string) {}

  fail(path: string, what: string, got: unknown): never {
    // A value under a key named like a secret is never printed, whatever it is.
    const shown = SECRET_PATH.test(path) ? '(hidden)' : asJson(got);
    throw new ConfigError(`${this.source}: ${path}: expected ${what}, got ${shown}`);
  }

  obj(v: unknown, path: string): Json {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) this.fail(path, 'an object', v);
    return v as Json;
  }

  keys(o: Json, path: string, allowed: readonly string[]): void {
    for (const k of Object.keys(o)) {
      if (!allowed.includes(k)) throw new ConfigError(`${this.source}: ${path ? path + '.' : ''}${k}: unknown key; expected one of ${allowed.join(', ')}`);
    }
  }

  str(v: unknown, path: string): string {
    if (typeof v !== 'string' || v === '') this.fail(path, 'a non-empty string', v);
    return v as string;
  }

  int(v: unknown, path: string, min: number, max: number): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) this.fail(path, `an integer from ${min} to ${max}`, v);
    return v as number;
  }

  bool(v: unknown, path: string): boolean {
    if (typeof v !== 'boolean') this.fail(path, 'true or false', v);
    return v as boolean;
  }

  ints(v: unknown, path: string, min: number, max: number): number[] {
    if (!Array.isArray(v) || v.length === 0) this.fail(path, 'a non-empty array of integers', v);
    return (v as unknown[]).map((x, i) => this.int(x, `${path}[${i}]`, min, max));
  }
}

/**
 * The value as JSON, for a message. JSON.stringify recurses, so an array nested some
 * thousands deep (a 12 KB file) would end the load with a RangeError instead of this error.
 */
function asJson(v: unknown): string {
  try {
    return JSON.stringify(v);
  } catch (e) {
    if (e instanceof RangeError) return '(a value nested too deeply to show)';
    throw e;
  }
}
