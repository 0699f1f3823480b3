/**
 * A terminal's own reversal (x400/x420, and their repeats): answered approved so its queue
 * drains, recorded, and its original found (in memory, else in the shared journal) and
 * put to rules/, which says whether to reverse upstream. The original is the one its
 * original-data field names (F90 on 1987, F56 on 1993); without a usable one, the one
 * with the reversal's own STAN (UnionPay reversals carry the original's trace in F11)
 * near its day, across the date boundary (./txn.ts nearDayKeys).
 */
import { isReversal, profileOf, type IsoMessage, type OriginalRef } from '../../codec/index.js';
import type { FramedConn } from '../edge/framed-conn.js';
import { summarize } from '../observe/log.js';
import type { EngineContext } from './context.js';
import type { Decisions } from './decisions.js';
import type { Replies } from './replies.js';
import { NOT_KEPT } from './sale-path.js';
import { identityOf, nearDayKeys, newTxn, originalKeyOf, senderOf, terminalReversalKey, type Txn, type TxnIdentity } from './txn.js';
import type { UnknownOriginals } from './unknown-originals.js';

/** How far back a reversal without an original-data field looks for its original. */
const REVERSAL_WINDOW_MS = 24 * 3600_000;
/**
 * How much younger than now its original may look. Only clocks make a sale look received
 * after its reversal: another node's that runs ahead, or this node's stepped back after
 * the sale (docs/operations.md, "Clock steps"). Five minutes left the sale of a reversal
 * sent within an hour of a -1 h step unfound, answered as unknown and never reversed.
 */
const FUTURE_SLACK_MS = 2 * 3600_000;

export class TerminalReversals {
  constructor(
    private readonly ctx: EngineContext,
    private readonly replies: Replies,
    private readonly decisions: Decisions,
    /** Reversals of sales never seen: recorded one by one up to a limit per sender, then aggregated. */
    readonly unknown: UnknownOriginals,
  ) {}

  handle(listener: string, msg: IsoMessage, conn: FramedConn): void {
    const { ctx } = this;
    for (const n of NOT_KEPT) msg.delete(n);
    const res = this.replies.local(listener, msg, 'approved');
    const id = identityOf(msg);
    const revKey = terminalReversalKey(id);
    const seen = ctx.txns.get(revKey);
    if (seen) {
      // A repeat (0401/0421) or a duplicate: the first answer again, nothing forwarded.
      ctx.counters.inc('terminal_reversal_repeats');
      conn.chargeDuplicate();
      this.replies.send(conn, seen.answer ?? res);
      return;
    }
    const dialect = ctx.listenerDialect(listener);
    const record = newTxn({
      id: ctx.journal.nextId(), request: msg, listener, standard: profileOf(dialect).standard, state: 'approved',
      startedAt: Date.now(), answer: res, key: revKey,
    });
    ctx.txns.add(record);
    ctx.counters.inc('terminal_reversals');
    const ref = profileOf(dialect).originalOf(msg);
    const found = this.findInMemory(id, ref, msg);
    if (found === 'ambiguous') {
      this.act(msg, conn, res, record, undefined, 'ambiguous');
      return;
    }
    if (found) {
      this.act(msg, conn, res, record, found);
      return;
    }
    // Not in memory: another node may have forwarded the sale (several nodes share the
    // store), or it is older than this process. The shared journal has it, if anyone does.
    this.findInStore(msg, id, ref).then(
      (original) => (original === 'ambiguous' ? this.act(msg, conn, res, record, undefined, 'ambiguous') : this.act(msg, conn, res, record, original)),
      (err: unknown) => {
        ctx.counters.inc('store_errors');
        ctx.log.error('original look-up in the store failed', { error: (err as Error).message, ...summarize(msg) });
        this.act(msg, conn, res, record, undefined);
      },
    );
  }

  private act(msg: IsoMessage, conn: FramedConn, res: IsoMessage, record: Txn, original: Txn | undefined, ambiguous?: 'ambiguous'): void {
    const { ctx } = this;
    const dialect = ctx.listenerDialect(record.listener);
    const reason = msg.get(profileOf(dialect).reasonField) ?? '06';
    if (ambiguous) {
      // Several sales of this terminal match its STAN near that day, with the same amount
      // and RRN: never one picked at random. The journal row goes to the report for a person.
      ctx.counters.inc('terminal_reversals_ambiguous');
      ctx.log.error('terminal reversal matches several originals: a person decides', { ...summarize(msg) });
      record.decision = 'review: several originals match this reversal (same terminal, STAN, amount and RRN near its day); a person decides which to reverse';
    } else if (!original) {
      ctx.counters.inc('terminal_reversals_unknown_original');
      record.decision = 'unknown original: nothing to reverse';
      if (!this.unknown.admit(record.listener, senderOf(msg), msg, Date.now())) {
        // Counted into its sender's aggregate row for this minute: answered at once.
        this.replies.send(conn, res);
        return;
      }
    } else if (original.state === 'inflight') {
      original.reverseWhenDone = { mti: msg.mti, reason, finalAmount: finalAmountOf(msg) };
      record.decision = 'original in flight: reversed if it is approved';
    } else if (original.state === 'approved') {
      const d = this.decisions.decideAndAct(original, 'customer_cancel', { mti: msg.mti, reason, finalAmount: finalAmountOf(msg) });
      if (d?.action === 'reverse') {
        original.state = 'reversed_by_terminal';
        void ctx.journal.record(original, { note: `the terminal reversed it (${msg.mti}, reason ${reason})` });
      }
      record.decision = d ? `${d.action} (rule ${d.rule}): ${d.explanation}` : null;
    } else {
      record.decision = `original ${original.state}: nothing to reverse`;
    }
    // The terminal stops resending once answered, so the reversal is durable first.
    void ctx.journal.terminalReversal(record, original?.id ?? null, dialect);
    ctx.journal.store.flush().then(
      () => this.replies.send(conn, res),
      (err: unknown) => {
        ctx.log.error('terminal reversal not stored; not answered, so the terminal repeats it', { error: (err as Error).message, ...summarize(msg) });
        conn.settle();
      },
    );
  }

  /** `ref`: the original the reversal's F90 or F56 names, if it names one. */
  private findInMemory(id: TxnIdentity, ref: OriginalRef | undefined, rev: IsoMessage): Txn | 'ambiguous' | undefined {
    // A usable original-data field names the original; falling back to the reversal's own
    // STAN then could pick another sale of the same terminal that happens to share it.
    if (ref) return this.ctx.txns.getOriginal(id.sender, ref);
    const now = Date.now();
    const found = nearDayKeys(id, now).map((k) => this.ctx.txns.getByDay(k)).filter((t): t is Txn => t !== undefined);
    return pick([...new Set(found)], rev, now);
  }

  /**
   * The original from the shared journal: same sender, the STAN the reversal names (or its
   * own), and the same keys as a live original would have (each candidate is rebuilt and
   * its keys compared, so the journal and memory agree on what matches). A sale still
   * 'forwarded' on a live node counts as approved here: the reversal's id is the same on
   * every node, so it is queued at most once, and reversing a sale that was declined is
   * harmless, while leaving an approval the terminal reversed would hold money.
   */
  private async findInStore(rev: IsoMessage, id: TxnIdentity, ref: OriginalRef | undefined): Promise<Txn | 'ambiguous' | undefined> {
    const { ctx } = this;
    const terminal = rev.get(41);
    if (terminal === undefined) return undefined;
    const stan = ref ? ref.stan : id.stan;
    const rows = (await ctx.journal.store.findTxns({ terminal, stan }))
      .filter((r) => r.sender === id.sender && !isReversal(r.mti) && r.sealed !== null);
    const now = Date.now();
    const wanted = ref ? [originalKeyOf(id.sender, ref)] : nearDayKeys(id, now);
    const candidates: Txn[] = [];
    for (let i = rows.length - 1; i >= 0; i--) {
      const row = rows[i];
      const t = ctx.journal.rebuild(row, ctx.listenerDialect(row.listener), ctx.links.get(row.upstream ?? '')?.dialect);
      if (!t || !wanted.includes(ref ? (t.originalKey ?? t.key) : t.dayKey)) continue;
      if (row.state === 'forwarded') t.state = 'approved';
      candidates.push(t);
      if (ref) break; // an original-data field names one sale
    }
    const chosen = ref ? candidates[0] : pick(candidates, rev, now);
    if (chosen === undefined || chosen === 'ambiguous') return chosen;
    // Found meanwhile (a takeover, or a repeat): the one in memory is the truth.
    const mem = this.findInMemory(id, ref, rev);
    if (mem) return mem;
    ctx.counters.inc('terminal_reversals_matched_in_store');
    ctx.txns.add(chosen);
    return chosen;
  }
}

/**
 * Of the sales a reversal without an original-data field may mean (its terminal and STAN,
 * near its day), the one within the window before it; several: the one with its amount
 * (F4, or F95's original amount), then its RRN (F37); still several: 'ambiguous'.
 */
function pick(candidates: readonly Txn[], rev: IsoMessage, now: number): Txn | 'ambiguous' | undefined {
  let c = candidates.filter((t) => now - t.startedAt <= REVERSAL_WINDOW_MS && t.startedAt - now <= FUTURE_SLACK_MS);
  if (c.length <= 1) return c[0];
  const amount = rev.get(4);
  for (const [field, want] of [[4, amount], [37, rev.get(37)]] as const) {
    if (want === undefined) continue;
    const same = c.filter((t) => t.request.get(field) === want);
    if (same.length > 0) c = same;
    if (c.length === 1) return c[0];
  }
  return 'ambiguous';
}

/** F95's final amount when the terminal's reversal is partial; a malformed F95 counts as full. */
function finalAmountOf(rev: IsoMessage): string | undefined {
  if (!rev.has(95)) return undefined;
  try {
    return rev.replacementAmounts()?.transaction;
  } catch {
    return undefined;
  }
}
