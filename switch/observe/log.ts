/**
 * Structured logs with pino: one JSON line per lifecycle event on stderr, e.g.
 * `{"level":"warn","time":"2025-01-01T12:00:00.000Z","upstream":"issuer","msg":"upstream down"}`.
 * Nothing is logged per healthy message at the default level (info).
 *
 * Every line passes through redact.ts twice: the fields (sensitive keys dropped, card
 * numbers masked, binary left out), then the finished line (any Luhn-valid 13-19 digit run
 * masked, track data cut), so neither a caller's mistake nor an error message can put a
 * full PAN, track, PIN or CVV into a log. `pretty` gives human output (pino-pretty) of the
 * same, already redacted, lines.
 */
import { pino, type Logger as PinoLogger } from 'pino';
import { prettyFactory } from 'pino-pretty';
import { maskPan, type IsoMessage } from '../../codec/index.js';
import { scrubFields, scrubText } from './redact.js';

export type Level = 'debug' | 'info' | 'warn' | 'error' | 'silent';
export const LEVELS: readonly Level[] = ['debug', 'info', 'warn', 'error', 'silent'];

export interface Logger {
  level: Level;
  debug(event: string, fields?: Record<string, unknown>): void;
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
}

export interface LoggerOptions {
  /** Human-readable lines (pino-pretty) instead of JSON; colours when writing to a terminal. */
  pretty?: boolean;
}

/**
 * A logger at `level` writing each finished line to `write` (default: stderr). Tests pass
 * their own `write` to capture lines.
 */
export function createLogger(level: Level = 'info', write?: (line: string) => void, opts: LoggerOptions = {}): Logger {
  const out = write ?? ((line: string) => void process.stderr.write(line));
  let sink: (line: string) => void = out;
  if (opts.pretty) {
    const prettify = prettyFactory({ colorize: write === undefined && process.stderr.isTTY === true, translateTime: 'SYS:standard', ignore: 'pid,hostname' });
    sink = (line) => out(prettify(line));
  }
  const p: PinoLogger = pino({
    level,
    base: null,
    timestamp: pino.stdTimeFunctions.isoTime,
    // Errors are reduced to their type and message by redact.ts (a stack is not redacted).
    serializers: { err: (e: unknown) => e },
    formatters: {
      level: (label) => ({ level: label }),
      log: (fields) => scrubFields(fields) as Record<string, unknown>,
    },
  }, { write: (line: string) => sink(scrubText(line)) });
  return {
    get level(): Level {
      return p.level as Level;
    },
    set level(l: Level) {
      p.level = l;
    },
    debug: (event, fields) => p.debug(fields ?? {}, event),
    info: (event, fields) => p.info(fields ?? {}, event),
    warn: (event, fields) => p.warn(fields ?? {}, event),
    error: (event, fields) => p.error(fields ?? {}, event),
  };
}

/** The fields of a message that are safe and useful in a log line. */
export function summarize(msg: IsoMessage): Record<string, string | undefined> {
  const pan = msg.get(2);
  return {
    mti: msg.mti,
    pan: pan === undefined ? undefined : maskPan(pan),
    stan: msg.get(11),
    f7: msg.get(7),
    terminal: msg.get(41),
    amount: msg.get(4),
    rc: msg.get(39),
  };
}
