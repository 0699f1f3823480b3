/**
 * Structured JSON lines on stderr, one per lifecycle event. Nothing card-related is
 * logged except through summarize(), which masks the PAN and leaves track, PIN and ICC
 * data out entirely. (Issue 7 replaces this with pino; callers keep the same shape.)
 */
import { maskPan, type IsoMessage } from '../codec/index.js';

export type Level = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const RANK: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

export interface Logger {
  level: Level;
  debug(event: string, fields?: Record<string, unknown>): void;
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
}

export function createLogger(level: Level = 'info', write: (line: string) => void = (l) => process.stderr.write(l)): Logger {
  const log = (lvl: Level) => (event: string, fields?: Record<string, unknown>) => {
    if (RANK[lvl] < RANK[logger.level]) return;
    write(JSON.stringify({ time: new Date().toISOString(), level: lvl, event, ...fields }) + '\n');
  };
  const logger: Logger = { level, debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
  return logger;
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
