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
import type { IsoMessage, OriginalRef, Standard } from '../../codec/index.js';
import type { FramedConn } from '../edge/framed-conn.js';

export type TxnState =
  | 'inflight'
  | 'approved'
  | 'declined'
  | 'timed_out'
  | 'undeliverable'
  | 'reversed_by_terminal'
  | 'not_sent';

export interface Txn {
  /** The journal's id. */
  readonly id: string;
  readonly key: string;
  readonly dayKey: string;
  /** Only where a reversal names the original by something other than `key` (1993: F12). */
  readonly originalKey: string | null;
  /** The terminal's request, without track, PIN or ICC data once forwarded. */
  readonly request: IsoMessage;
  readonly listener: string;
  state: TxnState;
  /** Where the answer goes, and duplicates waiting for the same answer. */
  conn: FramedConn | null;
  waiters: FramedConn[];
  upstream: string;
  /** The request as sent upstream, under the link's own STAN. */
  sent: IsoMessage | null;
  upstreamStan: number;
  readonly startedAt: number;
  /** performance.now() when the request was read, and when it was written upstream (0: not yet): metrics. */
  readonly receivedAt: number;
  sentAt: number;
  /** The answer the terminal got (or would have got). */
  answer: IsoMessage | null;
  /** The reversal id, once one was queued. */
  reversalId: string | null;
  /** A terminal reversal arrived while the original was still in flight. */
  /** The terminal's reversal that came while the sale was in flight: put to rules/ once the sale is approved. */
  reverseWhenDone: { mti: string; reason: string; finalAmount?: string } | null;
  /** What rules/ said last, for the record. */
  decision: string | null;
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

export function requestKey(id: TxnIdentity): string {
  return `${id.sender}|${id.stan}|${id.f7 ?? ''}`;
}

export function dayKey(id: TxnIdentity): string {
  return `${id.sender}|${id.stan}|${(id.f7 ?? id.f13 ?? '').slice(0, 4)}`;
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
  return `${sender}|${stan}|F12:${f12}`;
}

/** A terminal's own reversal: its repeats (0401/0421) share this key. */
export function terminalReversalKey(id: TxnIdentity): string {
  return `rev|${id.sender}|${id.stan}|${id.f7 ?? ''}`;
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
  return {
    id: t.id, key, dayKey: t.key ?? dayKey(id),
    originalKey: t.key === undefined && t.standard === 'iso93' && id.f12 !== undefined ? localTimeKey(id.sender, id.stan, id.f12) : null,
    request: t.request, listener: t.listener, state: t.state, conn: t.conn ?? null, waiters: [],
    upstream: t.upstream ?? '', sent: t.sent ?? null, upstreamStan: t.upstreamStan ?? 0,
    startedAt: t.startedAt, receivedAt: t.receivedAt ?? 0, sentAt: 0,
    answer: t.answer ?? null, reversalId: t.reversalId ?? null, reverseWhenDone: null, decision: t.decision ?? null,
  };
}
