/**
 * Log lines a peer can cause at will (a garbage stream, a swarm of slow connections, a
 * connection flood), at most one a second per key: enough to see that it happens and
 * from where, never a disk filled or an event loop spent on logging. Each line says how
 * many were held back since the one before (`suppressed`); the counters and metrics count
 * every one. The clock is the monotonic one, so a wall-clock step neither floods nor mutes.
 */
import type { Level, Logger } from './log.js';

type Loud = Exclude<Level, 'debug' | 'silent'>;

export class RateLimitedLog {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  /** Keys must come from a bounded set (event names, reasons): one entry each is kept. */
  constructor(private readonly log: Logger, private readonly everyMs = 1000, private readonly now: () => number = () => performance.now()) {}

  /** Writes the line unless one with this key went out within the last `everyMs`; true when written. */
  line(level: Loud, key: string, event: string, fields: Record<string, unknown> = {}): boolean {
    const t = this.now();
    const s = this.last.get(key);
    if (s !== undefined && t - s.at < this.everyMs) {
      s.suppressed++;
      return false;
    }
    const suppressed = s?.suppressed ?? 0;
    if (s === undefined) this.last.set(key, { at: t, suppressed: 0 });
    else {
      s.at = t;
      s.suppressed = 0;
    }
    this.log[level](event, suppressed > 0 ? { ...fields, suppressed } : fields);
    return true;
  }

  /**
   * The underlying logger with its info, warn and error lines limited per event name (for
   * the per-connection code, whose event names are a fixed set). Debug passes untouched:
   * it is off unless someone is looking.
   */
  asLogger(): Logger {
    const { log } = this;
    return {
      get level(): Level {
        return log.level;
      },
      set level(l: Level) {
        log.level = l;
      },
      debug: (event, fields) => log.debug(event, fields),
      info: (event, fields) => void this.line('info', event, event, fields),
      warn: (event, fields) => void this.line('warn', event, event, fields),
      error: (event, fields) => void this.line('error', event, event, fields),
    };
  }
}
