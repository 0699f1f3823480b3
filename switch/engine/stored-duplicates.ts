/**
 * A duplicate the store caught: the journal refused the row because another transaction
 * (on another node, or from before a restart) holds this sender|STAN|F7. It is never
 * forwarded; the terminal gets that transaction's outcome once it has one (polled until
 * the upstream deadline), else the switch's own non-approval.
 */
import { isReversal } from '../../codec/index.js';
import type { TxnRow } from '../store/types.js';
import type { EngineContext } from './context.js';
import { withApprovalCode } from './journal.js';
import type { Replies } from './replies.js';
import { senderOf, type Txn } from './txn.js';

/** How often the store is asked again while the original is still in flight. */
const POLL_MS = 50;

export class StoredDuplicates {
  constructor(private readonly ctx: EngineContext, private readonly replies: Replies) {}

  answer(txn: Txn, timeoutMs: number): void {
    const { ctx } = this;
    ctx.counters.inc('duplicates');
    ctx.counters.inc('duplicates_across_nodes');
    txn.state = 'not_sent';
    txn.sent = null;
    txn.upstream = '';
    const req = txn.request;
    const terminal = req.get(41) ?? '';
    const stan = req.get(11) ?? '';
    const f7 = req.get(7) ?? null;
    const sender = senderOf(req);
    // Monotonic: a wall-clock step must neither end the wait at once nor stretch it an hour.
    const deadline = performance.now() + timeoutMs + 1000;
    const poll = (): void => {
      ctx.journal.store.findTxns({ terminal, stan }).then(
        (rows) => {
          const row = rows.filter((r) => r.id !== txn.id && r.sender === sender && r.f7 === f7 && !isReversal(r.mti)).pop();
          if ((row && row.state !== 'forwarded') || performance.now() >= deadline || ctx.stopping()) this.settle(txn, row);
          else setTimeout(poll, POLL_MS).unref();
        },
        (err: unknown) => {
          ctx.counters.inc('store_errors');
          ctx.log.error('duplicate look-up failed', { error: (err as Error).message });
          this.settle(txn, undefined);
        },
      );
    };
    poll();
  }

  private settle(txn: Txn, row: TxnRow | undefined): void {
    const { ctx } = this;
    if (txn.answer !== null) return; // answered already (its deadline passed first)
    const dialect = ctx.listenerDialect(txn.listener);
    const code = row && (row.state === 'approved' || row.state === 'declined') ? row.responseCode : null;
    ctx.log.info('duplicate of a transaction in the store: answered from it', { txn: row?.id, state: row?.state ?? 'not found', rc: code ?? '(non-approval)' });
    this.replies.finish(txn, code !== null && row
      ? withApprovalCode(this.replies.relay(txn.listener, txn.request).set(39, code), dialect, row)
      : this.replies.local(txn.listener, txn.request, 'issuer_unavailable'));
    // From now on this node knows the original itself (later duplicates, a terminal's
    // reversal of it): the stored transaction replaces the duplicate in memory.
    const t = row && row.state !== 'forwarded'
      ? ctx.journal.rebuild(row, ctx.listenerDialect(row.listener), ctx.links.get(row.upstream ?? '')?.dialect)
      : null;
    if (t) ctx.txns.add(t);
  }
}
