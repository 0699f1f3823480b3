/**
 * A transaction as the engine holds it, built in one place (`newTxn`), with the keys it is
 * found by built in one place too: a live sale, one rebuilt from the journal after a
 * restart, and a terminal's reversal all get their keys from the same functions, so a
 * duplicate or a reversal finds its original whichever way the original came in.
 *
 * The keys, all prefixed by the sender (a STAN is unique only per sender and day):
 * - `key`, sender|STAN|F7: what makes a request a duplicate of another.
 * - `dayKey`, sender|STAN|MMDD (F7's day, else F13): what a reversal that names no
 *   original (no usable F90/F56; UnionPay's carries the original's own trace) matches on.
 * - `originalKey`, what a reversal's original-data field names (profile.originalOf): on
 *   1987 F90 carries the original's STAN and F7, which is `key` itself; on 1993 F56
 *   carries its STAN and F12 (local date-time), so a 1993 sale has a key of its own.
 */
import { IsoMessage, packDelta, packMessage, unpackMessage, type OriginalRef, type Standard } from '../../codec/index.js';
import type { FramedConn } from '../edge/framed-conn.js';

export type TxnState =
  | 'inflight'
  | 'approved'
  | 'declined'
  | 'timed_out'
  | 'undeliverable'
  | 'reversed_by_terminal'
  | 'not_sent';

/**
 * A transaction: its keys, where it stands, and its three messages (the terminal's
 * request, the copy sent upstream, the answer the terminal got).
 *
 * Once it ends, the table keeps it for the retention (duplicates, a terminal's reversal,
 * a late answer), and hundreds of thousands are kept at once: `pack()` then folds the
 * three messages into strings (codec/packed.ts: the request once, the others as their
 * difference from it), about a tenth of the live objects' heap, and the getters unpack
 * them again on the rare path that reads them. Each read of a packed message is a fresh
 * copy: a change to it is not kept unless assigned back.
 */
export class Txn {
  readonly listener: string;
  state: TxnState;
  readonly startedAt: number;
  /** performance.now() when the request was read: metrics. */
  readonly receivedAt: number;
  conn: FramedConn | null;
  /** Duplicates waiting for the answer in flight: null while there are none. */
  waiters: FramedConn[] | null = null;
  upstream: string;
  upstreamStan: number;
  /** performance.now() when the request was written upstream (0: not yet): metrics. */
  sentAt = 0;
  /** The reversal id, once one was queued. */
  reversalId: string | null;
  /** The terminal's reversal that came while the sale was in flight: put to rules/ once the sale is approved. */
  reverseWhenDone: { mti: string; reason: string; finalAmount?: string } | null = null;
  /** What rules/ said last, for the record. */
  decision: string | null;
  /** The messages, live or packed (`sent` and `answer` then as their difference from the request). */
  private req: IsoMessage | string;
  private out: IsoMessage | string | null;
  private ans: IsoMessage | string | null;

  constructor(
    /** The journal's id. */
    readonly id: string,
    readonly key: string,
    readonly dayKey: string,
    /** Only where a reversal names the original by something other than `key` (1993: F12). */
    readonly originalKey: string | null,
    t: TxnInit,
  ) {
    this.req = t.request;
    this.listener = t.listener;
    this.state = t.state;
    this.conn = t.conn ?? null;
    this.upstream = t.upstream ?? '';
    this.out = t.sent ?? null;
    this.upstreamStan = t.upstreamStan ?? 0;
    this.startedAt = t.startedAt;
    this.receivedAt = t.receivedAt ?? 0;
    this.ans = t.answer ?? null;
    this.reversalId = t.reversalId ?? null;
    this.decision = t.decision ?? null;
  }

  /** The terminal's request, without track, PIN or ICC data once forwarded. */
  get request(): IsoMessage {
    const r = this.req;
    return typeof r === 'string' ? unpackMessage(r) : r;
  }

  /** The request as sent upstream, under the link's own STAN; null if it never was. */
  get sent(): IsoMessage | null {
    const o = this.out;
    return typeof o === 'string' ? unpackMessage(o, this.request) : o;
  }

  set sent(m: IsoMessage | null) {
    this.out = m;
  }

  /** Whether the request was sent (or was on its way) upstream, without unpacking anything. */
  get wasSent(): boolean {
    return this.out !== null;
  }

  /** The answer the terminal got (or would have got). */
  get answer(): IsoMessage | null {
    const a = this.ans;
    return typeof a === 'string' ? unpackMessage(a, this.request) : a;
  }

  set answer(m: IsoMessage | null) {
    this.ans = m;
  }

  /** Every message folded (a message it never had counts as folded: typeof null is 'object'). */
  get packed(): boolean {
    return typeof this.req === 'string' && !(this.out instanceof IsoMessage) && !(this.ans instanceof IsoMessage);
  }

  /**
   * Folds the messages into their packed form; nothing while the sale is in flight (its
   * copy sent upstream is still being written and its answer awaited). Again after a
   * message was assigned anew.
   */
  pack(): void {
    if (this.state === 'inflight' || this.packed) return;
    const base = this.request;
    if (this.out instanceof IsoMessage) this.out = packDelta(base, this.out);
    if (this.ans instanceof IsoMessage) this.ans = packDelta(base, this.ans);
    if (typeof this.req !== 'string') this.req = packMessage(base);
  }
}

/**
 * The fields the keys are built from, as the terminal sent them. A transaction rebuilt
 * from the journal takes F7 from its row (the request kept in the journal carries the F7
 * the switch added upstream when the terminal sent none) and F12/F13 from that request.
 */
export interface TxnIdentity {
  sender: string;
  stan: string;
  f7: string | undefined;
  f12: string | undefined;
  f13: string | undefined;
}

/** Sender identity: the acquirer (F32) when a host forwards for many terminals, and the terminal (F41). */
export function senderOf(msg: IsoMessage): string {
  return `${msg.get(32) ?? ''}/${msg.get(41) ?? ''}`;
}

export function identityOf(msg: IsoMessage): TxnIdentity {
  return { sender: senderOf(msg), stan: msg.get(11) ?? '', f7: msg.get(7), f12: msg.get(12), f13: msg.get(13) };
}

// The keys are kept as long as their transaction. Built with join, each is one flat string;
// a template literal would leave a tree of concatenated pieces (32 bytes a node) behind it.
export function requestKey(id: TxnIdentity): string {
  return [id.sender, id.stan, id.f7 ?? ''].join('|');
}

export function dayKey(id: TxnIdentity): string {
  return [id.sender, id.stan, (id.f7 ?? id.f13 ?? '').slice(0, 4)].join('|');
}

/**
 * The day keys a reversal without an original-data field may find its original under:
 * its own day, the day before and the day after. A 0400 sent after midnight GMT for a sale
 * before it carries the new day in F7; a sale with only a local F13 and a reversal with a
 * GMT F7 may differ by a day either way.
 */
export function nearDayKeys(id: TxnIdentity, nowMs: number): string[] {
  const mmdd = (id.f7 ?? id.f13 ?? '').slice(0, 4);
  if (!/^\d{4}$/.test(mmdd)) return [dayKey(id)];
  // The year is not in F7 or F13: the one that puts the date nearest now.
  const now = new Date(nowMs);
  const month = Number(mmdd.slice(0, 2)) - 1;
  const day = Number(mmdd.slice(2));
  let base = Date.UTC(now.getUTCFullYear(), month, day);
  if (base - nowMs > 180 * 86_400_000) base = Date.UTC(now.getUTCFullYear() - 1, month, day);
  const key = (ms: number): string => {
    const d = new Date(ms);
    return `${id.sender}|${id.stan}|${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}`;
  };
  return [key(base), key(base - 86_400_000), key(base + 86_400_000)];
}

/** The key of the original a reversal's F90 or F56 names, from the reversal's sender. */
export function originalKeyOf(sender: string, ref: OriginalRef): string {
  return ref.timeField === 7 ? `${sender}|${ref.stan}|${ref.time}` : localTimeKey(sender, ref.stan, ref.time);
}

function localTimeKey(sender: string, stan: string, f12: string): string {
  return [sender, stan, `F12:${f12}`].join('|');
}

/** A terminal's own reversal: its repeats (0401/0421) share this key. */
export function terminalReversalKey(id: TxnIdentity): string {
  return ['rev', id.sender, id.stan, id.f7 ?? ''].join('|');
}

export interface TxnInit {
  id: string;
  request: IsoMessage;
  /** The keys' fields; default: the request's own. */
  identity?: TxnIdentity;
  /** The listener's standard: 1993 sales get a key for F56 to name them by. */
  standard: Standard;
  listener: string;
  state: TxnState;
  startedAt: number;
  conn?: FramedConn | null;
  receivedAt?: number;
  upstream?: string;
  sent?: IsoMessage | null;
  upstreamStan?: number;
  answer?: IsoMessage | null;
  reversalId?: string | null;
  decision?: string | null;
  /** Overrides the computed key (a terminal's reversal record). */
  key?: string;
}

/** The one place a Txn is made. */
export function newTxn(t: TxnInit): Txn {
  const id = t.identity ?? identityOf(t.request);
  const key = t.key ?? requestKey(id);
  const originalKey = t.key === undefined && t.standard === 'iso93' && id.f12 !== undefined ? localTimeKey(id.sender, id.stan, id.f12) : null;
  return new Txn(t.id, key, t.key ?? dayKey(id), originalKey, t);
}
