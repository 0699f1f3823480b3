/**
 * An upstream link's request/response matching, as jPOS's QMUX or moov's connection do
 * it: one STAN sequence and one in-flight table per link, shared by everything that asks
 * the host something (sales, reversals, network management). An answer goes to whoever
 * holds its STAN; an answer nobody holds goes to the link's one unmatched handler (late
 * answers). Nothing here depends on who asks: each asker is an `Exchange`.
 *
 * Two ways to hold a STAN:
 * - `track`: with a deadline, on the link's timer wheel (matcher/). The answer or the
 *   deadline ends it, exactly one of the two: sales and network management.
 * - `hold`: without one, until `release`. For an asker whose deadline is part of its own
 *   durable state (the reversal queue keeps a reversal's STAN and response deadline in
 *   the store, across its 0401 repeats and across restarts). Its answers are routed
 *   while it holds the STAN; it decides what an answer means for it.
 *
 * `nextStan` never hands out a STAN that is tracked or held, so a new request can never
 * collect another's answer; a sale past its deadline keeps its STAN held while its late
 * answer is awaited (engine/late-answers.ts).
 */
import { isReversal, type IsoMessage } from '../../codec/index.js';
import { Matcher } from '../matcher/index.js';

/** The STAN space of ISO 8583 F11: 000001-999999. */
export const MAX_STAN = 999_999;

/** Who asked: told of the answer to its request, or (tracked ones) of its deadline. */
export interface Exchange<T> {
  answered(item: T, msg: IsoMessage): void;
  expired(item: T, lateMs: number): void;
  /**
   * An answer under this STAN whose MAC is missing or wrong: its content cannot be
   * trusted. Absent: a tracked request is treated as unanswered at once (expired), a held
   * one waits for its own deadline.
   */
  unauthentic?(item: T, msg: IsoMessage): void;
}

/** One request in flight: who asked and what about. */
interface Pending {
  exchange: Exchange<unknown>;
  item: unknown;
}

export interface MuxOptions {
  /** Timer wheel tick, ms. */
  tickMs: number;
  /** Monotonic clock for the wheel (tests). */
  now?: () => number;
  /** Where the STAN sequence starts (tests that need two links' STANs apart); default random. */
  firstStan?: number;
}

export class Mux {
  private readonly tracked: Matcher<number, Pending>;
  private readonly held = new Map<number, Pending>();
  /**
   * Reversals sent under their original's own STAN (UnionPay: the 0400 repeats the sale's
   * trace, codec/profiles/cup.ts). The sale may still hold that STAN (its late answer is
   * awaited), so these are a lane of their own: a reversal's answer (x41x, x43x) goes here,
   * anything else under the STAN to whoever holds it in the other lane.
   */
  private readonly reversals = new Map<number, Pending>();
  /**
   * Starts at a random point: after a restart, a late answer to a request of the previous
   * process must not meet a new request under the same STAN.
   */
  private stan: number;

  constructor(opts: MuxOptions) {
    this.stan = (opts.firstStan ?? 1 + Math.floor(Math.random() * MAX_STAN)) - 1;
    this.tracked = new Matcher<number, Pending>({
      tickMs: opts.tickMs,
      now: opts.now,
      onExpire: (_stan, p, lateMs) => p.exchange.expired(p.item, lateMs),
    });
  }

  /** The next STAN of this link's sequence that nothing tracks or holds. */
  nextStan(): number {
    for (let tries = 0; tries < MAX_STAN; tries++) {
      this.stan = this.stan >= MAX_STAN ? 1 : this.stan + 1;
      if (!this.tracked.has(this.stan) && !this.held.has(this.stan) && !this.reversals.has(this.stan)) return this.stan;
    }
    throw new Error('every STAN of the link is in flight');
  }

  /** Asks under a fresh STAN with a deadline; returns the STAN to put in F11. */
  track<T>(exchange: Exchange<T>, item: T, timeoutMs: number): number {
    const stan = this.nextStan();
    this.tracked.track(stan, { exchange: exchange as Exchange<unknown>, item }, timeoutMs);
    return stan;
  }

  /** Holds a given STAN (one already on the wire or in the store) until release; false when another holds it. */
  hold<T>(stan: number, exchange: Exchange<T>, item: T): boolean {
    if (this.tracked.has(stan) || this.held.has(stan)) return false;
    this.held.set(stan, { exchange: exchange as Exchange<unknown>, item });
    return true;
  }

  /**
   * Holds the STAN of a reversal sent under its original's own STAN (the reversal lane):
   * false when another reversal holds it. The original may hold it too, in the other lane.
   */
  holdReversal<T>(stan: number, exchange: Exchange<T>, item: T): boolean {
    if (this.reversals.has(stan)) return false;
    this.reversals.set(stan, { exchange: exchange as Exchange<unknown>, item });
    return true;
  }

  /** Gives a STAN up without an answer (a request that never left, a reversal that ended). */
  release(stan: number): void {
    if (this.tracked.resolve(stan) === undefined) this.held.delete(stan);
  }

  /** Gives up a reversal-lane STAN if `item` still holds it. */
  releaseReversal(stan: number, item: unknown): void {
    if (this.reversals.get(stan)?.item === item) this.reversals.delete(stan);
  }

  /** Gives up a held STAN if `item` still holds it (not one another asker holds since); true when it did. */
  releaseHeld(stan: number, item: unknown): boolean {
    if (this.held.get(stan)?.item !== item) return false;
    this.held.delete(stan);
    return true;
  }

  /** Routes an answer by its F11; false when nobody holds that STAN (a late or unknown answer). */
  dispatch(msg: IsoMessage): boolean {
    const stan = stanOf(msg);
    if (stan < 0) return false;
    const p = this.reversalLane(stan, msg) ?? this.tracked.resolve(stan) ?? this.held.get(stan);
    if (p === undefined) return false;
    p.exchange.answered(p.item, msg);
    return true;
  }

  /** The reversal holding `stan` in the reversal lane, when `msg` answers a reversal. */
  private reversalLane(stan: number, msg: IsoMessage): Pending | undefined {
    return this.reversals.size > 0 && isReversal(msg.mti) ? this.reversals.get(stan) : undefined;
  }

  /** Routes an answer that failed its MAC check by its F11; false when nobody holds that STAN. */
  dispatchUnauthentic(msg: IsoMessage): boolean {
    const stan = stanOf(msg);
    if (stan < 0) return false;
    const lane = this.reversalLane(stan, msg);
    const tracked = lane === undefined ? this.tracked.resolve(stan) : undefined;
    const p = lane ?? tracked ?? this.held.get(stan);
    if (p === undefined) return false;
    if (p.exchange.unauthentic) p.exchange.unauthentic(p.item, msg);
    else if (tracked !== undefined) p.exchange.expired(p.item, 0);
    return true;
  }

  /** Requests waiting for an answer before their deadline (sales, network management). */
  get inFlight(): number {
    return this.tracked.size;
  }

  start(): void {
    this.tracked.start();
  }

  /** Manual time (tests): delivers every deadline due at `nowMs`; returns how many. */
  tick(nowMs: number): number {
    return this.tracked.tick(nowMs);
  }

  stop(): void {
    this.tracked.stop();
  }
}

/** F11 as a number without allocating; -1 when absent or not 1-6 digits. */
function stanOf(msg: IsoMessage): number {
  const v = msg.values[11];
  if (typeof v !== 'string' || v.length === 0 || v.length > 6) return -1;
  let n = 0;
  for (let i = 0; i < v.length; i++) {
    const d = v.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}
