/**
 * What a fuzz target is, and the property every target checks: only the part's own error
 * types come out, each with a message, and never a card number inside that message. Any
 * other throw from run() (a TypeError, a RangeError from a Buffer call, a failed
 * round-trip) is a finding; so is an input that hangs or allocates without bound, which the
 * engine and runner watch for.
 */
import type { Rng } from './rng.js';

export interface FuzzTarget {
  readonly name: string;
  /** One line for --list and the docs. */
  readonly about: string;
  /** Longest input the mutator makes, in bytes. */
  readonly maxLen: number;
  /** Tokens the mutator inserts and overwrites with (field values, keys, magic numbers). */
  readonly dictionary: readonly (string | Uint8Array)[];
  /** The input is text that nests (JSON, YAML): the mutator also wraps ranges in brackets, thousands deep. */
  readonly nests?: boolean;
  /** Scripts whose block coverage guides this target; default: the project's codec/, rules/, switch/. */
  readonly covers?: RegExp;
  /** Once per worker, before the first input; `scratch` is an empty directory the runner removes afterwards. */
  setup?(scratch: string): void | Promise<void>;
  /** Checks one input; returns when the input was handled as the property allows. */
  run(input: Buffer): void | Promise<void>;
  /** A structure-aware edit (a bitmap bit, a length prefix); null when it does not apply. */
  mutate?(input: Buffer, rng: Rng): Buffer | null;
}

/** A property the target checks did not hold. */
export class PropertyFailure extends Error {
  override readonly name = 'PropertyFailure';
}

// Abstract so that classes with any constructor qualify; only instanceof is used.
export type ErrorClass = abstract new (...args: never[]) => Error;

/** A run of 13 or more digits, spaces or dashes between them allowed: what a PAN looks like. */
const LONG_NUMBER = /\d(?:[ -]?\d){12,}/;

export interface OwnErrorOptions {
  /** The message may not hold a PAN-like number (the codec and settlement reader promise this). */
  noCardNumbers?: boolean;
}

/** The error if it is one of `own` and well formed; a PropertyFailure otherwise. */
export function checkOwnError(e: unknown, own: readonly ErrorClass[], opts: OwnErrorOptions = {}): Error {
  if (!own.some((c) => e instanceof c)) {
    const names = own.map((c) => c.name).join(' or ');
    throw new PropertyFailure(`expected ${names}, got ${describeThrown(e)}`, { cause: e });
  }
  const err = e as Error;
  if (typeof err.message !== 'string' || err.message.trim() === '') {
    throw new PropertyFailure(`${err.name} with an empty message`, { cause: e });
  }
  // A JSON-quoted control character (\u0010) is not a digit of the value it sits in.
  if (opts.noCardNumbers && LONG_NUMBER.test(err.message.replace(/\\u[0-9a-fA-F]{4}/g, '\\u'))) {
    throw new PropertyFailure(`${err.name} message holds a number of 13 or more digits (a card number could be echoed)`, { cause: e });
  }
  return err;
}

/** fn's value, or the own error it threw; anything else throws a PropertyFailure. */
export function ownErrors<T>(own: readonly ErrorClass[], fn: () => T, opts?: OwnErrorOptions): { ok: true; value: T } | { ok: false; error: Error } {
  try {
    return { ok: true, value: fn() };
  } catch (e) {
    return { ok: false, error: checkOwnError(e, own, opts) };
  }
}

/** ownErrors for an async fn. */
export async function ownErrorsAsync<T>(own: readonly ErrorClass[], fn: () => Promise<T>, opts?: OwnErrorOptions): Promise<{ ok: true; value: T } | { ok: false; error: Error }> {
  try {
    return { ok: true, value: await fn() };
  } catch (e) {
    return { ok: false, error: checkOwnError(e, own, opts) };
  }
}

/** Fails the property unless `cond` holds. */
export function must(cond: boolean, what: string): asserts cond {
  if (!cond) throw new PropertyFailure(what);
}

/** A thrown value in a few words: class and message, cut short. */
export function describeThrown(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message.slice(0, 300)}`;
  return `a thrown ${typeof e}: ${String(e).slice(0, 100)}`;
}
