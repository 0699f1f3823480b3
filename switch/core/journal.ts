/**
 * The switch's side of the transaction journal: turns a transaction into a row (masked
 * PAN, keyed hash, sealed message), writes state changes, and after a restart rebuilds
 * what the switch must remember: recent transactions (for duplicates and terminal
 * reversals) and the ones that left without a final outcome (for crash recovery).
 */
import { maskPan, responseTo, type Dialect, type IsoMessage } from '../../codec/index.js';
import type { BusinessCalendar } from '../../rules/index.js';
import { responseCode } from '../codes.js';
import type { Counters } from '../counters.js';
import type { Logger } from '../log.js';
import { stanString } from '../netmgmt.js';
import { sealMessage, unsealMessage } from '../store/sealed.js';
import type { CardKeys } from '../store/secrets.js';
import type { JournalState, Store, TxnRow, TxnUpdate } from '../store/types.js';
import { senderOf, type Txn, type TxnState } from '../txns.js';

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

export class Journal {
  private seq = 0;
  private readonly prefix: string;

  constructor(
    readonly store: Store,
    readonly keys: CardKeys,
    readonly node: string,
    private readonly calendar: () => BusinessCalendar,
    private readonly log: Logger,
    private readonly counters: Counters,
  ) {
    this.prefix = `${node}-${Date.now().toString(36)}-`;
  }

  nextId(): string {
    return this.prefix + (++this.seq).toString(36);
  }

  panHash(msg: IsoMessage): string | undefined {
    const pan = msg.get(2);
    return pan === undefined ? undefined : this.keys.panHash(pan);
  }

  /** The write-ahead: durable before the request leaves the switch. */
  begin(txn: Txn, now: number): Promise<void> {
    const req = txn.request;
    const sent = txn.sent as IsoMessage;
    const pan = req.get(2);
    const row: TxnRow = {
      id: txn.id, node: this.node, listener: txn.listener, sender: senderOf(req),
      terminal: req.get(41) ?? null, merchant: req.get(42) ?? null, acquirer: req.get(32) ?? null,
      mti: req.mti, stan: req.get(11) ?? '', f7: req.get(7) ?? null, rrn: req.get(37) ?? null,
      amount: req.get(4) ?? null, currency: req.get(49) ?? null,
      panMasked: pan === undefined ? null : maskPan(pan), panHash: pan === undefined ? null : this.keys.panHash(pan),
      businessDate: this.calendar().businessDate(now), upstream: txn.upstream, upstreamStan: stanString(txn.upstreamStan),
      state: 'forwarded', responseCode: null, failureClass: null, decision: null, reversalId: null,
      sealed: sealMessage(sent, this.keys), createdAt: now, updatedAt: now,
    };
    return this.store.insertTxn(row);
  }

  /** A reversal sent by a terminal: its own row, pointing at the original's id in the decision text. */
  terminalReversal(rec: Txn, originalId: string | null): Promise<void> {
    const req = rec.request;
    const now = rec.startedAt;
    const pan = req.get(2);
    const p = this.store.insertTxn({
      id: rec.id, node: this.node, listener: rec.listener, sender: senderOf(req),
      terminal: req.get(41) ?? null, merchant: req.get(42) ?? null, acquirer: req.get(32) ?? null,
      mti: req.mti, stan: req.get(11) ?? '', f7: req.get(7) ?? null, rrn: req.get(37) ?? null,
      amount: req.get(4) ?? null, currency: req.get(49) ?? null,
      panMasked: pan === undefined ? null : maskPan(pan), panHash: pan === undefined ? null : this.keys.panHash(pan),
      businessDate: this.calendar().businessDate(now), upstream: null, upstreamStan: null, state: 'terminal_reversal',
      responseCode: req.get(39) ?? null, failureClass: null,
      decision: `${rec.decision ?? ''}${originalId ? ` (original ${originalId})` : ' (no original found)'}`,
      reversalId: null, sealed: null, createdAt: now, updatedAt: now,
    });
    p.catch((err: unknown) => {
      this.counters.inc('store_errors');
      this.log.error('journal write failed', { txn: rec.id, error: (err as Error).message });
    });
    return p;
  }

  /** A state change; the returned promise resolves once it is durable (callers may ignore it). */
  record(txn: Txn, extra: Omit<TxnUpdate, 'id' | 'state' | 'at'> = {}, state: JournalState = JOURNAL_STATE[txn.state]): Promise<void> {
    const p = this.store.updateTxn({ id: txn.id, state, at: Date.now(), ...extra });
    p.catch((err: unknown) => {
      this.counters.inc('store_errors');
      this.log.error('journal write failed', { txn: txn.id, state, error: (err as Error).message });
    });
    return p;
  }

  /**
   * Transactions from the store, as the switch's table holds them. The request is the
   * message as sent upstream with the terminal's own STAN put back; its answer, where
   * there was one, is rebuilt from the response code (the approval code is not kept).
   */
  rebuild(row: TxnRow, listenerDialect: Dialect, upstreamDialect: Dialect | undefined): Txn | null {
    if (row.sealed === null || !upstreamDialect) return null;
    let sent: IsoMessage;
    try {
      sent = unsealMessage(upstreamDialect, row.sealed, this.keys);
    } catch (e) {
      this.log.error('journal row cannot be opened', { txn: row.id, error: (e as Error).message });
      return null;
    }
    const request = sent.clone();
    request.set(11, row.stan);
    const f7 = row.f7 ?? '';
    // What a duplicate gets now: the issuer's code for an answer that was delivered, the
    // switch's non-approval for everything that was not (a reversed sale is never 00 again).
    const delivered = row.state === 'approved' || row.state === 'declined';
    const answer = responseTo(listenerDialect, request, delivered && row.responseCode !== null
      ? row.responseCode
      : responseCode(listenerDialect, 'issuer_unavailable'));
    return {
      id: row.id, key: `${row.sender}|${row.stan}|${f7}`, dayKey: `${row.sender}|${row.stan}|${(row.f7 ?? '').slice(0, 4)}`,
      request, listener: row.listener, state: MEMORY_STATE[row.state], conn: null, waiters: [],
      upstream: row.upstream ?? '', sent, upstreamStan: Number(row.upstreamStan ?? 0), startedAt: row.createdAt,
      answer, reversalId: row.reversalId, reverseWhenDone: null, decision: row.decision,
    };
  }
}
