/**
 * The switch's side of the transaction journal: turns a transaction into a row (masked
 * PAN, keyed hash, sealed message), writes state changes, and after a restart rebuilds
 * what the switch must remember: recent transactions (for duplicates and terminal
 * reversals) and the ones that left without a final outcome (for crash recovery).
 */
import { maskPan, profileOf, responseTo, stanString, type Dialect, type IsoMessage } from '../../codec/index.js';
import type { BusinessCalendar } from '../../rules/index.js';
import type { Counters } from '../observe/counters.js';
import type { Logger } from '../observe/log.js';
import { sealMessage, unsealMessage } from '../store/sealed.js';
import type { CardKeys } from '../store/secrets.js';
import type { JournalState, Store, TxnRow, TxnUpdate } from '../store/types.js';
import { JournalMender } from './journal-mender.js';
import { newTxn, senderOf, type Txn, type TxnState } from './txn.js';
import { describeMessage, minorUnits, splitDecision, type EventBase } from '../observe/events/describe.js';
import type { EventBus } from '../observe/events/emitter.js';
import type { EventKind, LifecycleEventInput } from '../observe/events/schema.js';

/** The switch's in-memory states, as the journal names them. */
const JOURNAL_STATE: Record<TxnState, JournalState> = {
  inflight: 'forwarded',
  approved: 'approved',
  declined: 'declined',
  timed_out: 'timed_out',
  undeliverable: 'undeliverable',
  reversed_by_terminal: 'reversed_by_terminal',
  not_sent: 'not_sent',
};

const MEMORY_STATE: Record<JournalState, TxnState> = {
  forwarded: 'timed_out',
  recovered: 'timed_out',
  approved: 'approved',
  declined: 'declined',
  timed_out: 'timed_out',
  undeliverable: 'undeliverable',
  reversed_by_terminal: 'reversed_by_terminal',
  not_sent: 'not_sent',
  terminal_reversal: 'approved',
};

/** The lifecycle event a journal write is, unless the caller names another. */
const EVENT_OF_STATE: Record<JournalState, EventKind> = {
  forwarded: 'FORWARDED',
  approved: 'ANSWERED',
  declined: 'ANSWERED',
  timed_out: 'TIMED_OUT',
  undeliverable: 'UNDELIVERABLE',
  reversed_by_terminal: 'REVERSED_BY_TERMINAL',
  not_sent: 'NOT_SENT',
  recovered: 'RECOVERED',
  terminal_reversal: 'RECEIVED',
};

/** The columns of a journal row that depend on what the row is (a forwarded sale, a terminal's reversal). */
type RowOwn = Pick<TxnRow, 'upstream' | 'upstreamStan' | 'state' | 'responseCode' | 'decision' | 'sealed' | 'dupKey'>;

/** What a state change means as an event, beyond the journal row (events only). */
export interface EventInfo {
  kind?: EventKind;
  responseCode?: string;
  failureClass?: string;
  action?: string;
  rule?: string;
  explanation?: string;
}

export class Journal {
  private seq = 0;
  private readonly prefix: string;
  /** Per transaction, the fields every one of its events repeats (built once, only with events on). */
  private readonly bases = new WeakMap<Txn, EventBase>();

  constructor(
    readonly store: Store,
    readonly keys: CardKeys,
    readonly node: string,
    private readonly calendar: () => BusinessCalendar,
    private readonly log: Logger,
    private readonly counters: Counters,
    /** Lifecycle events (switch/observe/events/); null: off, and nothing is built for them. */
    readonly events: EventBus | null = null,
  ) {
    this.prefix = `${node}-${Date.now().toString(36)}-`;
    this.mender = new JournalMender(store, log, counters);
  }

  /** State changes that did not commit, written again until they land (./journal-mender.ts). */
  readonly mender: JournalMender;

  nextId(): string {
    // One flat string (it lives as long as its transaction): `+` would keep two pieces and a node.
    return [this.prefix, (++this.seq).toString(36)].join('');
  }

  panHash(msg: IsoMessage): string | undefined {
    const pan = msg.get(2);
    return pan === undefined ? undefined : this.keys.panHash(pan);
  }

  /**
   * A terminal's message as a journal row: who sent what, the card masked and hashed, and
   * the row's own state. One literal with every column, in one order, so every row has one
   * shape (a spread of a partial row cost the hot path ~15% of its CPU in a profile).
   */
  private rowOf(req: IsoMessage, id: string, listener: string, now: number, own: RowOwn): TxnRow {
    const pan = req.get(2);
    return {
      id, node: this.node, listener, sender: senderOf(req),
      terminal: req.get(41) ?? null, merchant: req.get(42) ?? null, acquirer: req.get(32) ?? null,
      mti: req.mti, stan: req.get(11) ?? '', f7: req.get(7) ?? null, rrn: req.get(37) ?? null,
      amount: req.get(4) ?? null, currency: req.get(49) ?? null,
      panMasked: pan === undefined ? null : maskPan(pan), panHash: pan === undefined ? null : this.keys.panHash(pan),
      businessDate: this.calendar().businessDate(now), upstream: own.upstream, upstreamStan: own.upstreamStan, state: own.state,
      responseCode: own.responseCode, failureClass: null, decision: own.decision, reversalId: null, sealed: own.sealed,
      createdAt: now, updatedAt: now, dupKey: own.dupKey,
    };
  }

  /** The write-ahead: durable before the request leaves the switch. */
  begin(txn: Txn, now: number, upstreamDialect: Dialect): Promise<void> {
    const req = txn.request;
    const row = this.rowOf(req, txn.id, txn.listener, now, {
      upstream: txn.upstream, upstreamStan: stanString(txn.upstreamStan), state: 'forwarded', responseCode: null, decision: null,
      sealed: sealMessage(upstreamDialect, txn.sent as IsoMessage, this.keys, txn.id),
      // Across nodes: a second request with this key is refused by the store (isDuplicateRequest).
      dupKey: req.get(7) === undefined ? null : txn.key,
    });
    const p = this.store.insertTxn(row);
    if (this.events) {
      this.emitTxn('FORWARDED', txn, { txnState: 'forwarded', businessDate: row.businessDate ?? undefined, timeMs: now }, row);
      p.catch((err: unknown) => this.emitTxn('NOT_SENT', txn, { txnState: 'not_sent', note: `journal write failed: ${(err as Error).message}` }));
    }
    return p;
  }

  /** A request arrived (events only): a new sale, or a duplicate answered from its original. */
  received(txn: Txn, note?: string): void {
    if (this.events) this.emitTxn('RECEIVED', txn, { txnState: txn.state === 'inflight' ? 'received' : txn.state, note, timeMs: txn.startedAt });
  }

  /** An event with no journal write of its own (events on only), e.g. a sale that never left. */
  event(kind: EventKind, txn: Txn, fields: Partial<LifecycleEventInput> = {}): void {
    if (this.events) this.emitTxn(kind, txn, fields);
  }

  /** One event about a transaction: its base fields, then the change's own. */
  private emitTxn(kind: EventKind, txn: Txn, fields: Partial<LifecycleEventInput>, row?: TxnRow): void {
    const bus = this.events as EventBus;
    let base = this.bases.get(txn);
    if (base === undefined) {
      base = row
        ? {
          terminal: row.terminal ?? undefined, merchant: row.merchant ?? undefined, acquirer: row.acquirer ?? undefined,
          stan: row.stan, f7: row.f7 ?? undefined, rrn: row.rrn ?? undefined, mti: row.mti, panMasked: row.panMasked ?? undefined,
          panHash: row.panHash ?? undefined, amountMinor: minorUnits(row.amount), currency: row.currency ?? undefined,
        }
        : describeMessage(txn.request, (pan) => this.keys.panHash(pan));
      this.bases.set(txn, base);
    }
    bus.emit({
      ...base, kind, txnId: txn.id, listener: txn.listener, upstream: txn.upstream || undefined,
      upstreamStan: txn.wasSent ? stanString(txn.upstreamStan) : undefined, reversalId: txn.reversalId ?? undefined, ...fields,
    });
  }

  /** A reversal sent by a terminal: its own row, pointing at the original's id in the decision text. */
  terminalReversal(rec: Txn, originalId: string | null, dialect: Dialect): Promise<void> {
    const req = rec.request;
    const now = rec.startedAt;
    const p = this.store.insertTxn(this.rowOf(req, rec.id, rec.listener, now, {
      upstream: null, upstreamStan: null, state: 'terminal_reversal', responseCode: req.get(profileOf(dialect).reasonField) ?? null,
      decision: `${rec.decision ?? ''}${originalId ? ` (original ${originalId})` : ' (no original found)'}`, sealed: null, dupKey: null,
    }));
    if (this.events) {
      this.emitTxn('RECEIVED', rec, {
        txnState: 'terminal_reversal', responseCode: req.get(profileOf(dialect).reasonField), ...splitDecision(rec.decision), originalTxnId: originalId ?? undefined,
        note: originalId ? undefined : 'no original found', timeMs: now,
      });
    }
    p.catch((err: unknown) => {
      this.counters.inc('store_errors');
      this.log.error('journal write failed', { txn: rec.id, error: (err as Error).message });
    });
    return p;
  }

  /**
   * One row for a minute's terminal reversals of unknown originals from one sender beyond
   * those recorded one by one (./unknown-originals.ts): `last` stands for them all.
   */
  unknownOriginals(last: IsoMessage, listener: string, at: number, decision: string): Promise<void> {
    const p = this.store.insertTxn(this.rowOf(last, this.nextId(), listener, at, {
      upstream: null, upstreamStan: null, state: 'terminal_reversal', responseCode: null, decision, sealed: null, dupKey: null,
    }));
    p.catch((err: unknown) => {
      this.counters.inc('store_errors');
      this.log.error('journal write failed', { what: 'unknown-original aggregate', error: (err as Error).message });
    });
    return p;
  }

  /**
   * A state change; the returned promise resolves once it is durable (callers may ignore
   * it): true, or false when `extra.owner` names this node and another node has taken the
   * sale over meanwhile (nothing was written).
   */
  record(txn: Txn, extra: Omit<TxnUpdate, 'id' | 'state' | 'at'> = {}, state: JournalState = JOURNAL_STATE[txn.state], info?: EventInfo): Promise<boolean> {
    const at = Date.now();
    const u = this.mender.fold({ id: txn.id, state, at, ...extra });
    const p = this.store.updateTxn(u);
    if (this.events) {
      const d = info?.action !== undefined ? { decisionAction: info.action, decisionExplanation: info.explanation } : splitDecision(extra.decision);
      this.emitTxn(info?.kind ?? EVENT_OF_STATE[state], txn, {
        timeMs: at, txnState: state, responseCode: info?.responseCode ?? extra.responseCode ?? undefined,
        failureClass: info?.failureClass ?? extra.failureClass ?? undefined, ...d, decisionRule: info?.rule, note: extra.note,
      });
    }
    p.catch((err: unknown) => {
      this.counters.inc('store_errors');
      this.log.error('journal write failed', { txn: txn.id, state, error: (err as Error).message });
      this.mender.failed(u, err);
    });
    return p;
  }

  /**
   * Transactions from the store, as the switch's table holds them. The request is the
   * message as sent upstream with the terminal's own STAN put back; its answer, where
   * there was one, is rebuilt from the response code and, for an approval, the approval
   * code (F38; rows from before migration 4 have none).
   */
  rebuild(row: TxnRow, listenerDialect: Dialect, upstreamDialect: Dialect | undefined): Txn | null {
    if (row.sealed === null || !upstreamDialect) return null;
    let sent: IsoMessage;
    try {
      sent = unsealMessage(upstreamDialect, row.sealed, this.keys, row.id);
    } catch (e) {
      this.log.error('journal row cannot be opened', { txn: row.id, error: (e as Error).message });
      return null;
    }
    const request = sent.clone();
    request.set(11, row.stan);
    // What a duplicate gets now: the issuer's code for an answer that was delivered, the
    // switch's non-approval for everything that was not (a reversed sale is never 00 again).
    const delivered = row.state === 'approved' || row.state === 'declined';
    const answer = delivered && row.responseCode !== null
      ? withApprovalCode(responseTo(listenerDialect, request, row.responseCode), listenerDialect, row)
      : responseTo(listenerDialect, request, profileOf(listenerDialect).localCodes.issuer_unavailable);
    return newTxn({
      id: row.id, request, listener: row.listener, state: MEMORY_STATE[row.state], startedAt: row.createdAt,
      standard: profileOf(listenerDialect).standard,
      // The keys from what the terminal sent: the row's F7 (the request kept is the one sent
      // upstream, which carries the switch's F7 when the terminal sent none) and its F12, F13.
      identity: { sender: row.sender, stan: row.stan, f7: row.f7 ?? undefined, f12: request.get(12), f13: request.get(13) },
      upstream: row.upstream ?? '', sent, upstreamStan: Number(row.upstreamStan ?? 0),
      answer, reversalId: row.reversalId, decision: row.decision,
    });
  }
}

/**
 * An answer rebuilt from a journal row gets the approval's F38 back, and a partial
 * approval's amount in F4 (not the amount asked), where the row and the dialect have them.
 */
export function withApprovalCode(answer: IsoMessage, dialect: Dialect, row: TxnRow): IsoMessage {
  if (row.state !== 'approved') return answer;
  if (row.approvalCode && dialect.fields[38]) answer.set(38, row.approvalCode);
  if (row.approvedAmount && dialect.fields[4]) answer.set(4, row.approvedAmount);
  return answer;
}
