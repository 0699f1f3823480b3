/**
 * Terminal reversals whose original the switch never saw. Each is still answered (a
 * terminal repeats a reversal until it is), but a flood of them (a misconfigured terminal
 * replaying its queue, or someone probing) must not become a journal row, a permanent
 * history row and a log line each. Per sender and minute, the first `recordPerMinute` get
 * their own row as before; the rest are counted into one aggregate row written when the
 * minute ends (and at shutdown). A sender past `alertPerMinute` raises an alert: a
 * counter, one error line, and the aggregate row says so for the report.
 *
 * What a crash loses: the count of the minute in progress (never a reversal of money:
 * there is no original to undo). Nothing here ever holds back a reversal of a known sale.
 */
import type { IsoMessage } from '../../codec/index.js';
import { summarize } from '../observe/log.js';
import type { EngineContext } from './context.js';

export interface UnknownOriginalLimits {
  /** Rows of their own per sender and minute; the rest are aggregated. Default 10. */
  recordPerMinute: number;
  /** Per sender and minute, above this: an alert. Default 100. */
  alertPerMinute: number;
}

export const UNKNOWN_ORIGINAL_DEFAULTS: UnknownOriginalLimits = { recordPerMinute: 10, alertPerMinute: 100 };

interface SenderMinute {
  listener: string;
  count: number;
  /** The latest of them, as the aggregate row's representative (track, PIN and ICC data already removed). */
  last: IsoMessage;
  alerted: boolean;
}

const MINUTE_MS = 60_000;

export class UnknownOriginals {
  private minute = -1;
  private senders = new Map<string, SenderMinute>();

  constructor(private readonly ctx: EngineContext, private readonly limits: UnknownOriginalLimits = UNKNOWN_ORIGINAL_DEFAULTS) {}

  /** Counts one; true when it gets a journal row (and a log line) of its own. */
  admit(listener: string, sender: string, msg: IsoMessage, now: number): boolean {
    this.roll(now);
    let s = this.senders.get(sender);
    if (s === undefined) {
      s = { listener, count: 0, last: msg, alerted: false };
      this.senders.set(sender, s);
    }
    s.count++;
    s.last = msg;
    const { ctx } = this;
    if (s.count > this.limits.alertPerMinute && !s.alerted) {
      s.alerted = true;
      ctx.counters.inc('unknown_original_floods');
      ctx.log.error('terminal reversals of unknown originals above the alert threshold: a misconfigured terminal or an attack', {
        sender, listener, perMinute: this.limits.alertPerMinute, ...summarize(msg),
      });
    }
    const own = s.count <= this.limits.recordPerMinute;
    ctx.counters.inc(own ? 'unknown_originals_recorded' : 'unknown_originals_aggregated');
    if (own) ctx.log.warn('terminal reversal of an unknown original: answered, recorded', { ...summarize(msg) });
    return own;
  }

  /** Ends the minute when it has passed (called every second, and on each reversal). */
  roll(now: number): void {
    const m = Math.floor(now / MINUTE_MS);
    if (m === this.minute) return;
    if (this.minute >= 0) void this.flush();
    this.minute = m;
  }

  /** Writes the ended minute's aggregates (senders past recordPerMinute); resolves once written. */
  flush(): Promise<void> {
    const minute = this.minute;
    const ended = this.senders;
    this.senders = new Map();
    const writes: Promise<void>[] = [];
    for (const [sender, s] of ended) {
      const aggregated = s.count - this.limits.recordPerMinute;
      if (aggregated <= 0) continue;
      const from = new Date(minute * MINUTE_MS).toISOString();
      const decision = `unknown originals: ${aggregated} more terminal reversals from ${sender} in the minute from ${from} ` +
        `(${s.count} in all; the first ${this.limits.recordPerMinute} have rows of their own)` +
        (s.alerted ? `; ALERT: above ${this.limits.alertPerMinute} a minute, a misconfigured terminal or an attack` : '');
      this.ctx.log.warn('terminal reversals of unknown originals aggregated', { sender, listener: s.listener, aggregated, total: s.count, minute: from });
      writes.push(this.ctx.journal.unknownOriginals(s.last, s.listener, minute * MINUTE_MS, decision));
    }
    return Promise.all(writes).then(() => undefined, () => undefined);
  }
}
