/**
 * Reversal dispatch: the seam between deciding to reverse and the reversal reaching the
 * issuer. Callers enqueue, cancel and hand over responses; a worker per upstream link
 * sends 0400 (then 0401 repeats), takes 0410s, and moves what cannot be delivered to
 * manual handling. This implementation keeps its queue in memory; the durable one
 * (issue 5) implements the same interface, so no caller changes.
 */
import { repeatOf, reversalOf, type Dialect, type IsoMessage } from '../codec/index.js';
import type { Counters } from './counters.js';
import type { Logger } from './log.js';
import { stanString, transmissionTime } from './netmgmt.js';

export type ReversalState = 'pending' | 'sent' | 'acked' | 'manual' | 'cancelled';

export interface ReversalRequest {
  /** Unique per original: the same original enqueued twice is one reversal. */
  id: string;
  upstream: string;
  /** The original as it was sent upstream (the switch's STAN). Track, PIN and ICC data are dropped on enqueue. */
  original: IsoMessage;
  /** F39 reason (1987, UnionPay) or F25 message reason (1993). */
  reason: string;
  /** F95 final amount for a partial reversal. */
  finalAmount?: string;
  /** Why, from rules/: goes into the record and the logs. */
  explanation: string;
}

export interface ReversalRecord {
  readonly id: string;
  readonly upstream: string;
  state: ReversalState;
  attempts: number;
  readonly enqueuedAt: number;
  lastError?: string;
}

/** What the switch needs from an upstream link to send reversals. */
export interface ReversalLink {
  readonly dialect: Dialect;
  readonly isUp: boolean;
  nextStan(): number;
  send(msg: IsoMessage): boolean;
}

export interface ReversalQueue {
  /** False when a reversal with this id already exists (it is not sent twice). */
  enqueue(req: ReversalRequest): boolean;
  /** Withdraws a reversal that has not been sent yet (a late decline: nothing was held). */
  cancel(id: string): boolean;
  /** Offers an upstream response; true when it was the answer to a reversal. */
  handleResponse(upstream: string, msg: IsoMessage): boolean;
  get(id: string): ReversalRecord | undefined;
  /** Reversals not yet acknowledged or moved to manual handling. */
  readonly outstanding: number;
  records(): ReversalRecord[];
  start(): void;
  stop(): void;
}

export interface ReversalQueueOptions {
  /** Reversals in flight at once per link. */
  window: number;
  /** How long to wait for a 0410 before the attempt counts as failed. */
  responseTimeoutMs: number;
  /** Delay before attempt n+1 (n from 1); the last value repeats. */
  backoffMs: number[];
  /** After this many attempts the entry goes to manual handling. */
  maxAttempts: number;
  log: Logger;
  counters: Counters;
  now?: () => number;
}

interface Entry extends ReversalRecord {
  req: ReversalRequest;
  message: IsoMessage | null;
  stan: string;
  dueAt: number;
}

/** Fields a stored reversal never needs: sensitive authentication data (PCI DSS 3.3.1). */
const NEVER_KEPT = [35, 36, 45, 52, 55];

export class MemoryReversalQueue implements ReversalQueue {
  private readonly entries = new Map<string, Entry>();
  /** upstream name + STAN -> entry awaiting its 0410. */
  private readonly bySentStan = new Map<string, Entry>();
  private timer: NodeJS.Timeout | null = null;
  private readonly now: () => number;

  constructor(private readonly links: ReadonlyMap<string, ReversalLink>, private readonly opts: ReversalQueueOptions) {
    this.now = opts.now ?? Date.now;
  }

  enqueue(req: ReversalRequest): boolean {
    if (this.entries.has(req.id)) return false;
    const original = req.original.clone();
    for (const n of NEVER_KEPT) original.delete(n);
    const e: Entry = {
      id: req.id, upstream: req.upstream, state: 'pending', attempts: 0, enqueuedAt: this.now(),
      req: { ...req, original }, message: null, stan: '', dueAt: this.now(),
    };
    this.entries.set(req.id, e);
    this.opts.counters.inc('reversals_queued');
    this.opts.log.info('reversal queued', { id: req.id, upstream: req.upstream, reason: req.reason, partial: req.finalAmount !== undefined, why: req.explanation });
    this.pump();
    return true;
  }

  cancel(id: string): boolean {
    const e = this.entries.get(id);
    if (!e || e.state !== 'pending' || e.attempts > 0) return false;
    e.state = 'cancelled';
    this.opts.counters.inc('reversals_cancelled');
    this.opts.log.info('reversal cancelled before sending', { id });
    return true;
  }

  handleResponse(upstream: string, msg: IsoMessage): boolean {
    if (msg.mti[1] !== '4') return false;
    const key = `${upstream}|${msg.get(11)}`;
    const e = this.bySentStan.get(key);
    if (!e) {
      // A 0410 for a reversal already acknowledged (an answer to a repeat): nothing to do.
      this.opts.counters.inc('reversal_responses_unmatched');
      return true;
    }
    this.bySentStan.delete(key);
    if (e.state !== 'sent') return true;
    e.state = 'acked';
    this.opts.counters.inc('reversals_acked');
    this.opts.log.info('reversal acknowledged', { id: e.id, attempts: e.attempts, rc: msg.get(39) });
    this.pump();
    return true;
  }

  get(id: string): ReversalRecord | undefined {
    const e = this.entries.get(id);
    return e && { id: e.id, upstream: e.upstream, state: e.state, attempts: e.attempts, enqueuedAt: e.enqueuedAt, lastError: e.lastError };
  }

  get outstanding(): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.state === 'pending' || e.state === 'sent') n++;
    return n;
  }

  records(): ReversalRecord[] {
    return [...this.entries.keys()].map((id) => this.get(id) as ReversalRecord);
  }

  start(): void {
    if (this.timer) return;
    // One periodic pump drives sends, response timeouts and backoff for every entry.
    this.timer = setInterval(() => this.pump(), 20);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private pump(): void {
    const now = this.now();
    const inFlight = new Map<string, number>();
    for (const e of this.entries.values()) {
      if (e.state !== 'sent') continue;
      if (now >= e.dueAt) this.failAttempt(e, 'no response before the timeout', now);
      else inFlight.set(e.upstream, (inFlight.get(e.upstream) ?? 0) + 1);
    }
    for (const e of this.entries.values()) {
      if (e.state !== 'pending' || e.dueAt > now) continue;
      const link = this.links.get(e.upstream);
      if (!link || !link.isUp) continue;
      const busy = inFlight.get(e.upstream) ?? 0;
      if (busy >= this.opts.window) continue;
      if (this.send(e, link, now)) inFlight.set(e.upstream, busy + 1);
    }
  }

  private send(e: Entry, link: ReversalLink, now: number): boolean {
    if (e.message === null) {
      const stan = stanString(link.nextStan());
      e.stan = stan;
      e.message = reversalOf(link.dialect, e.req.original, {
        reason: e.req.reason, finalAmount: e.req.finalAmount, stan, transmissionDateTime: transmissionTime(now),
      });
    } else if (e.attempts === 1) {
      e.message = repeatOf(e.message);
    }
    if (!link.send(e.message)) return false;
    e.attempts++;
    e.state = 'sent';
    e.dueAt = now + this.opts.responseTimeoutMs;
    this.bySentStan.set(`${e.upstream}|${e.stan}`, e);
    this.opts.counters.inc(e.attempts === 1 ? 'reversals_sent' : 'reversal_repeats_sent');
    this.opts.log.info('reversal sent', { id: e.id, mti: e.message.mti, attempt: e.attempts });
    return true;
  }

  /** A timeout counts as an attempt, like a reject: a dead host cannot block the queue forever. */
  private failAttempt(e: Entry, why: string, now: number): void {
    this.bySentStan.delete(`${e.upstream}|${e.stan}`);
    e.lastError = why;
    if (e.attempts >= this.opts.maxAttempts) {
      e.state = 'manual';
      this.opts.counters.inc('reversals_manual');
      this.opts.log.error('reversal moved to manual handling', { id: e.id, attempts: e.attempts, why });
      return;
    }
    const b = this.opts.backoffMs;
    e.state = 'pending';
    e.dueAt = now + b[Math.min(e.attempts - 1, b.length - 1)];
  }
}
