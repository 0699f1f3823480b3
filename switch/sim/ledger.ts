/**
 * The issuer simulator's ledger of holds. Every approved 0100/0200 (1100/1200) places a
 * hold keyed by the original as the issuer saw it: MTI, STAN (F11), transmission
 * date-time (F7) and acquirer (F32), which is exactly what F90 of a reversal carries
 * (positions 1-31; the forwarder, positions 32-42, is not part of the key because many
 * senders zero-fill it); on 1993, F12 in place of F7, as F56 carries it. A reversal finds
 * its original by that field, or by F41 + F11 + F7 when it has none; a UnionPay one, which
 * never has one, as ./cup-originals.ts says. When several originals share a key
 * (terminals whose STANs collide), F41 and then F37 narrow the choice. Codes (approved,
 * partial, a reversal's reason) are the standard's own (./original-keys.ts, ./standard-codes.ts).
 *
 * Reversals are idempotent: only the first that reaches a hold changes it (released, or
 * reduced to the F95 final amount). Later ones are answered but counted, as repeats (the
 * 0401/0421 of one already seen) or as second reversals, which prove a sale reversed twice:
 * a distinct one, or the same 0400 again where a 0401 was due. No I/O: the simulator feeds
 * it messages and the clock.
 *
 * Longer than 400 lines: the hold record, the matching of originals, reversals and refunds,
 * and the snapshot are one ledger; split, each half would reach into the other's maps.
 */
import { ISO87, isRepeat, maskPan, type IsoMessage, type Profile } from '../../codec/index.js';
import { CupOriginals } from './cup-originals.js';
import { partOf } from './magic.js';
import { baseMti, OriginalKeys } from './original-keys.js';
import { RefundBook, type RefundOutcome, type RefundRecord } from './refund-book.js';
import { codesOf, type StandardCodes } from './standard-codes.js';

export { originalKey } from './original-keys.js';

export type HoldStatus = 'held' | 'partial' | 'released';

export interface HoldRecord {
  /** MTI + F11 + F7 (1993: F12) + F32 (11 digits, zero-filled): F90 positions 1-31. */
  key: string;
  mti: string;
  stan: string;
  transmissionDateTime: string;
  acquirer: string;
  terminalId: string;
  merchantId: string;
  rrn: string;
  approvalCode: string;
  /** Masked: first 6 and last 4 digits at most. */
  pan: string;
  currency: string;
  /** F4 of the original, 12 digits. */
  originalAmount: string;
  /** What is still held, 12 digits: the original, the F95 final amount, less refunds, or zero once released. */
  amount: string;
  /** Credited back by refunds (x220 processing code 20), 12 digits. */
  refunded: string;
  status: HoldStatus;
  /** Epoch milliseconds. */
  placedAt: number;
  /** Set by a full reversal, or by the refund that empties the hold: not proof of a reversal (see reversedAt). */
  releasedAt: number | null;
  /** When the applied reversal, full or partial, changed the hold (the settlement file dates its row by it), else null. */
  reversedAt: number | null;
  /** What that reversal released, 12 digits: held before it less held after. */
  reversedAmount: string;
  reversals: {
    /** Every reversal message that reached this hold. */
    received: number;
    /** Distinct reversals: 1 after the first; more than 1 means the sale was reversed twice. */
    distinct: number;
    /** Repeats (0401/0421, or the same reversal again): answered, never applied. */
    repeats: number;
    /** The reason of the reversal that was applied: its F39 (1993: F25). */
    reason: string | null;
    /** The applied reversal was partial (F95; 1993 F24 401; UnionPay F4 below the original). */
    partial: boolean;
  };
}

export interface UnmatchedReversal {
  /** F90 positions 1-31 (1993: of F56), or "F41|F11|F7" when the reversal named no original. */
  key: string;
  mti: string;
  terminalId: string;
  rrn: string;
  stan: string;
  reason: string;
  amount: string;
  /** 'not-approved': the original was seen and declined or never answered; 'unknown': never seen. */
  original: 'unknown' | 'not-approved';
  /** F39 the issuer decided for that original (91, 1993 907, for one it never answered). */
  originalCode: string | null;
  firstAt: number;
  received: number;
}

export interface LedgerCounters {
  /** 0100/0200 received, duplicates included. */
  requests: number;
  approved: number;
  declined: Record<string, number>;
  /** The same original again (same key, F41, F37, F4): answered as before, never posted twice. */
  duplicateOriginals: number;
  /** Requests never answered (dropped; with or without a hold). */
  dropped: number;
  /** Requests answered after lateMs. */
  late: number;
  /** Requests answered 30: no F4 or no F11. */
  formatErrors: number;
  reversals: number;
  reversalsApplied: number;
  partialReversals: number;
  reversalRepeats: number;
  /** Distinct reversals reaching a hold that was already reversed: should stay 0. */
  secondReversals: number;
  unmatchedReversals: number;
  /** F95 that does not parse or is not below the original: answered, not applied. */
  invalidPartials: number;
  /** Reversals processed whose 0410/0430 was dropped on purpose (reversalDropRate). */
  reversalAnswersDropped: number;
  networkManagement: number;
  signOns: number;
  echoes: number;
  /** MTIs the simulator does not serve (answered 12) or responses it did not expect (ignored). */
  unsupported: number;
  decodeErrors: number;
  answersSent: number;
  /** Answers due on a connection that had closed by then. */
  answersLost: number;
  connections: number;
}

/** The ledger in a few numbers, for a one-line report or a JSON status. */
export interface LedgerSummary {
  holds: number;
  heldAmount: number;
  released: number;
  partial: number;
  unmatched: number;
  approved: number;
  reversals: number;
  reversalRepeats: number;
  /** Holds reached by more than one distinct reversal: 0 unless a sale was reversed twice. */
  reversedTwice: number;
  /** Refunds credited, their repeats, the ones refused, and what they credited (minor units). */
  refunds: number;
  refundRepeats: number;
  refundsRefused: number;
  refundedAmount: number;
}

export interface LedgerSnapshot {
  takenAt: number;
  summary: LedgerSummary;
  /** Holds still (partly) in place. */
  holds: HoldRecord[];
  /** Holds fully released by a reversal (or refunded in full). */
  released: HoldRecord[];
  /** Every refund that reached the simulator, in order. */
  refunds: RefundRecord[];
  unmatched: UnmatchedReversal[];
  /** Sum of `amount` over `holds`, in minor units. */
  heldAmount: number;
  counters: LedgerCounters;
}

/** One original as the issuer saw it, approved or not. */
export interface Txn {
  key: string;
  terminalId: string;
  rrn: string;
  amount: string;
  /** F39 decided for it. */
  code: string;
  approvalCode: string | null;
  /** Never answered and nothing posted (issuer unavailable): a duplicate is dropped again. */
  silent: boolean;
  hold: HoldRecord | null;
  identities: Set<string> | null;
}

export interface ReversalResult {
  /** The hold it reached, if any. */
  hold: HoldRecord | null;
  kind: 'applied' | 'repeat' | 'second' | 'unmatched';
}

const ZERO = '000000000000';

function isRepeatMti(mti: string): boolean {
  return mti.length === 4 && isRepeat(mti);
}

export function emptyCounters(): LedgerCounters {
  return {
    requests: 0, approved: 0, declined: {}, duplicateOriginals: 0, dropped: 0, late: 0, formatErrors: 0,
    reversals: 0, reversalsApplied: 0, partialReversals: 0, reversalRepeats: 0, secondReversals: 0,
    unmatchedReversals: 0, invalidPartials: 0, reversalAnswersDropped: 0,
    networkManagement: 0, signOns: 0, echoes: 0, unsupported: 0, decodeErrors: 0,
    answersSent: 0, answersLost: 0, connections: 0,
  };
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}

/** Keeps the candidates that agree on a field, unless none do. */
function prefer(cands: Txn[], want: string | undefined, get: (t: Txn) => string): Txn[] {
  if (cands.length < 2 || want === undefined) return cands;
  const same = cands.filter((t) => get(t) === want);
  return same.length > 0 ? same : cands;
}

export class Ledger {
  readonly counters: LedgerCounters = emptyCounters();
  private readonly keys: OriginalKeys;
  private readonly codes: StandardCodes;
  /** UnionPay only: its reversals name no original. */
  private readonly cup: CupOriginals<Txn> | null;
  private readonly byKey = new Map<string, Txn[]>();
  private readonly byFallback = new Map<string, Txn[]>();
  private readonly holdList: HoldRecord[] = [];
  private readonly unmatched = new Map<string, UnmatchedReversal>();
  private readonly refundBook = new RefundBook();

  /** The standard of the messages it is fed (default ISO 8583:1987): their codes and where they name an original. */
  constructor(profile: Profile = ISO87) {
    this.keys = new OriginalKeys(profile);
    this.codes = codesOf(profile.standard);
    this.cup = profile.standard === 'cup' ? new CupOriginals<Txn>() : null;
  }

  /**
   * A refund: found by F90 (1987) or F56 (1993), or by F61's batch and trace (UnionPay),
   * else by the RRN (F37) and terminal (F41) every dialect's refund carries; applied to
   * that sale's hold at most once.
   */
  refund(msg: IsoMessage, now: number): RefundOutcome {
    const key = this.keys.namedKey(msg);
    const cands = key === null ? undefined : this.byKey.get(key);
    const rrn = msg.get(37);
    const f41 = msg.get(41);
    const named = this.cup?.named(msg);
    const found = (cands ?? []).find((t) => t.hold !== null)
      ?? (named?.hold ? named : undefined)
      ?? this.holdTxns().find((t) => t.rrn === rrn && t.terminalId === f41 && t.hold !== null);
    return this.refundBook.apply(msg, found?.hold ?? null, now);
  }

  private holdTxns(): Txn[] {
    const out: Txn[] = [];
    for (const list of this.byKey.values()) for (const t of list) if (t.hold !== null) out.push(t);
    return out;
  }

  /** The same original seen before: same key, terminal, RRN and amount. */
  findDuplicate(req: IsoMessage): Txn | undefined {
    const cands = this.byKey.get(this.keys.keyOf(req));
    if (!cands) return undefined;
    const f41 = req.get(41) ?? '';
    const f37 = req.get(37) ?? '';
    const f4 = req.get(4) ?? '';
    return cands.find((t) => t.terminalId === f41 && t.rrn === f37 && t.amount === f4);
  }

  /** Records an original and its outcome (`code` in the ledger's standard); an approval (00, 1993 000) places a hold. */
  recordOriginal(req: IsoMessage, code: string, approvalCode: string | null, silent: boolean, now: number): Txn {
    const stan = req.get(11) ?? '';
    const f7 = req.get(7) ?? '';
    const acquirer = (req.get(32) ?? '').padStart(11, '0');
    const key = this.keys.keyOf(req);
    const terminalId = req.get(41) ?? '';
    const rrn = req.get(37) ?? '';
    const partial = code === this.codes.partial;
    const amount = partial /* holds what it granted */ ? partOf(req.get(4) ?? '') : req.get(4) ?? '';
    let hold: HoldRecord | null = null;
    if ((code === this.codes.approved || partial) && !silent) {
      const pan = req.get(2);
      hold = {
        key, mti: baseMti(req.mti), stan, transmissionDateTime: f7, acquirer, terminalId,
        merchantId: req.get(42) ?? '', rrn, approvalCode: approvalCode ?? '', pan: pan === undefined ? '' : maskPan(pan),
        currency: req.get(49) ?? '', originalAmount: amount, amount, refunded: ZERO, status: 'held', placedAt: now, releasedAt: null,
        reversedAt: null, reversedAmount: ZERO,
        reversals: { received: 0, distinct: 0, repeats: 0, reason: null, partial: false },
      };
      this.holdList.push(hold);
      this.counters.approved++;
    } else if (!silent) {
      this.counters.declined[code] = (this.counters.declined[code] ?? 0) + 1;
    }
    const txn: Txn = { key, terminalId, rrn, amount, code, approvalCode, silent, hold, identities: null };
    push(this.byKey, key, txn);
    push(this.byFallback, `${terminalId}|${stan}|${f7}`, txn);
    this.cup?.add(req, txn);
    return txn;
  }

  /** Matches a 0400/0401/0420/0421 (1400...) to its original and applies it at most once. */
  reverse(rev: IsoMessage, now: number): ReversalResult {
    this.counters.reversals++;
    const f41 = rev.get(41);
    // Without a usable original-data field (absent, or one that does not parse): the reversal's own key fields.
    let key = this.keys.namedKey(rev);
    let cands = key === null ? undefined : this.byKey.get(key);
    if (key === null) {
      key = `${f41 ?? ''}|${rev.get(11) ?? ''}|${rev.get(7) ?? ''}`;
      cands = this.byFallback.get(key);
    }
    const identity = this.keys.identity(rev);
    let txn: Txn | undefined = this.cup?.find(rev, identity);
    if (txn) this.cup?.remember(identity, txn);
    else if (cands) {
      let c = prefer(cands, f41, (t) => t.terminalId);
      c = prefer(c, rev.get(37), (t) => t.rrn);
      txn = c.find((t) => t.hold !== null && t.hold.status !== 'released') ?? c.find((t) => t.hold !== null) ?? c[0];
    }
    if (!txn || !txn.hold) return this.recordUnmatched(rev, key, txn, now);

    const hold = txn.hold;
    hold.reversals.received++;
    txn.identities ??= new Set();
    if (hold.reversals.distinct === 0) {
      hold.reversals.distinct = 1;
      txn.identities.add(identity);
      this.apply(hold, rev, now);
      return { hold, kind: 'applied' };
    }
    // Only the 0401/0421 of a reversal already seen is a repeat: the same 0400 again is a second.
    if (isRepeatMti(rev.mti) && txn.identities.has(identity)) {
      hold.reversals.repeats++;
      this.counters.reversalRepeats++;
      return { hold, kind: 'repeat' };
    }
    txn.identities.add(identity);
    hold.reversals.distinct++;
    this.counters.secondReversals++;
    return { hold, kind: 'second' };
  }

  private apply(hold: HoldRecord, rev: IsoMessage, now: number): void {
    const before = Number(hold.amount);
    const final = this.keys.partialFinal(rev, hold.originalAmount);
    this.change(hold, rev, final, now);
    // An invalid partial amount changes nothing; any other first reversal released some or all of the hold.
    if (final !== undefined && !hold.reversals.partial) return;
    hold.reversedAt = now;
    hold.reversedAmount = String(Math.max(0, before - Number(hold.amount))).padStart(12, '0');
  }

  /** `final`: the partial reversal's final amount, '' when unreadable, undefined for a full reversal. */
  private change(hold: HoldRecord, rev: IsoMessage, final: string | undefined, now: number): void {
    hold.reversals.reason = this.keys.reason(rev) ?? null;
    if (final === undefined) {
      this.release(hold, now);
      return;
    }
    const orig = hold.originalAmount.padStart(12, '0');
    if (final === '' || final >= orig) {
      this.counters.invalidPartials++;
      return;
    }
    hold.reversals.partial = true;
    this.counters.partialReversals++;
    if (final === ZERO) {
      this.release(hold, now);
      return;
    }
    this.counters.reversalsApplied++;
    hold.amount = final;
    hold.status = 'partial';
  }

  private release(hold: HoldRecord, now: number): void {
    this.counters.reversalsApplied++;
    hold.amount = ZERO;
    hold.status = 'released';
    hold.releasedAt = now;
  }

  private recordUnmatched(rev: IsoMessage, key: string, txn: Txn | undefined, now: number): ReversalResult {
    const terminalId = rev.get(41) ?? '';
    const id = `${key}|${terminalId}`;
    const seen = this.unmatched.get(id);
    if (seen) {
      seen.received++;
      this.counters.reversalRepeats++;
    } else {
      this.counters.unmatchedReversals++;
      this.unmatched.set(id, {
        key, mti: rev.mti, terminalId, rrn: rev.get(37) ?? '', stan: rev.get(11) ?? '', reason: this.keys.reason(rev) ?? '',
        amount: rev.get(4) ?? '', original: txn ? 'not-approved' : 'unknown', originalCode: txn ? txn.code : null,
        firstAt: now, received: 1,
      });
    }
    return { hold: null, kind: 'unmatched' };
  }

  snapshot(now = Date.now()): LedgerSnapshot {
    const holds: HoldRecord[] = [];
    const released: HoldRecord[] = [];
    let heldAmount = 0;
    for (const h of this.holdList) {
      const copy: HoldRecord = { ...h, reversals: { ...h.reversals } };
      if (h.status === 'released') released.push(copy);
      else {
        holds.push(copy);
        heldAmount += Number(h.amount);
      }
    }
    let partial = 0;
    let reversedTwice = 0;
    for (const h of this.holdList) {
      if (h.status === 'partial') partial++;
      if (h.reversals.distinct > 1) reversedTwice++;
    }
    const c = this.counters;
    return {
      takenAt: now,
      summary: {
        holds: holds.length, heldAmount, released: released.length, partial, unmatched: this.unmatched.size,
        approved: c.approved, reversals: c.reversals, reversalRepeats: c.reversalRepeats, reversedTwice,
        refunds: this.refundBook.totals.refunds, refundRepeats: this.refundBook.totals.refundRepeats,
        refundsRefused: this.refundBook.totals.refused, refundedAmount: this.refundBook.totals.refundedAmount,
      },
      holds,
      released,
      refunds: this.refundBook.list(),
      unmatched: [...this.unmatched.values()].map((u) => ({ ...u })),
      heldAmount,
      counters: { ...this.counters, declined: { ...this.counters.declined } },
    };
  }
}
