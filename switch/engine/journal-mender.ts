/**
 * A transaction's state change that did not commit (a full disk, a store connection lost
 * mid-batch) is not dropped: kept here and written again until it lands. Without this a
 * sale whose approval write failed stays `forwarded` in the journal for good, though the
 * switch answered it, decided and reversed it: the report lists it in flight, and the next
 * start or another node reverses it again.
 *
 * - A later change of the same transaction folds the kept one into itself (its fields,
 *   the later ones winning), so changes are written in the order they were made.
 * - A kept change is written again only if no later change has landed meanwhile (the row's
 *   updatedAt is older than the change); otherwise only the fields the row still lacks
 *   are filled in, under the row's own state. A state never goes back.
 * - Only a batch that did not commit is retried; a refusal (no such row, another node's
 *   row) is final. Bounded: past `cap` kept changes the oldest goes, counted and logged
 *   (crash recovery still finds such a row in flight at the next start).
 */
import type { Counters } from '../observe/counters.js';
import type { Logger } from '../observe/log.js';
import type { Store, TxnRow, TxnUpdate } from '../store/types.js';

/** The columns a TxnUpdate may set, besides its state. */
const FIELDS = ['responseCode', 'failureClass', 'decision', 'reversalId', 'approvalCode', 'approvedAmount'] as const;

export interface MenderOptions {
  /** How often kept changes are tried again, ms. */
  retryMs: number;
  /** At most this many kept changes (one per transaction). */
  cap: number;
}

export const MENDER_DEFAULTS: MenderOptions = { retryMs: 1000, cap: 100_000 };

/** Whether a write failed because its batch did not commit (worth retrying), not because the row refused it. */
export function notCommitted(err: unknown): boolean {
  const m = err instanceof Error ? err.message : String(err);
  return m.includes(': not committed: ') || m.includes('did not commit');
}

function merged(older: TxnUpdate, newer: TxnUpdate): TxnUpdate {
  const out: TxnUpdate = { ...older, id: newer.id, state: newer.state, at: newer.at };
  for (const f of FIELDS) if (newer[f] !== undefined) out[f] = newer[f];
  if (newer.owner !== undefined) out.owner = newer.owner;
  out.note = [older.note, newer.note].filter((n) => n !== undefined && n !== '').join('; ') || undefined;
  if (out.note === undefined) delete out.note;
  return out;
}

export class JournalMender {
  private readonly kept = new Map<string, TxnUpdate>();
  private timer: NodeJS.Timeout | null = null;
  private busy = false;
  private stopped = false;

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
    private readonly counters: Counters,
    private readonly opts: MenderOptions = MENDER_DEFAULTS,
  ) {}

  /** Changes waiting to be written again. */
  get size(): number {
    return this.kept.size;
  }

  /** The change to write now: one kept for the same transaction folds into it. */
  fold(u: TxnUpdate): TxnUpdate {
    if (this.kept.size === 0) return u;
    const old = this.kept.get(u.id);
    if (old === undefined) return u;
    this.kept.delete(u.id);
    return merged(old, u);
  }

  /** A change that did not land: kept (merged with one kept already) when its batch did not commit. */
  failed(u: TxnUpdate, err: unknown): void {
    if (this.stopped || !notCommitted(err)) return;
    const old = this.kept.get(u.id);
    this.kept.delete(u.id);
    this.keep(old === undefined ? u : merged(old, u));
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.kept.size > 0) this.log.warn('journal changes still not written at shutdown: recovery takes their rows at the next start', { count: this.kept.size });
  }

  private schedule(): void {
    if (this.timer !== null || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.retry();
    }, this.opts.retryMs);
    this.timer.unref();
  }

  /** One round: every kept change is tried once (they share the store's batches). */
  private async retry(): Promise<void> {
    if (this.busy || this.stopped) return;
    this.busy = true;
    const round = [...this.kept.values()];
    this.kept.clear();
    try {
      await Promise.all(round.map((u) => this.mend(u)));
    } finally {
      this.busy = false;
      if (this.kept.size > 0) this.schedule();
    }
  }

  private keep(u: TxnUpdate): void {
    if (this.stopped) return;
    // A change kept meanwhile for the same transaction is newer than this one: it wins.
    const newer = this.kept.get(u.id);
    this.kept.set(u.id, newer === undefined ? u : merged(u, newer));
    if (this.kept.size > this.opts.cap) {
      const [oldest] = this.kept.keys();
      this.kept.delete(oldest);
      this.counters.inc('journal_mend_dropped');
      this.log.error('journal change not kept for retry: too many waiting; recovery finds the row in flight at the next start', { txn: oldest, cap: this.opts.cap });
    }
    this.schedule();
  }

  private async mend(u: TxnUpdate): Promise<void> {
    let row: TxnRow | undefined;
    try {
      row = await this.store.txn(u.id);
    } catch {
      this.keep(u); // the store cannot even be read: later
      return;
    }
    if (row === undefined) return; // never written (its write-ahead failed): nothing to mend
    const write = this.against(u, row);
    if (write === null) return;
    try {
      if (await this.store.updateTxn(write)) this.counters.inc('journal_mended');
    } catch (err) {
      if (notCommitted(err)) this.keep(write);
      else this.log.error('journal change refused when written again; dropped', { txn: u.id, error: (err as Error).message });
    }
  }

  /**
   * The change as it may be written over the row now. It keeps the time it was made (the
   * history says when it happened, and a change kept later compares by that time). Written
   * whole when the row has not changed since (or still holds its write-ahead's state);
   * otherwise a later change landed: only the fields the row lacks, under the row's state.
   */
  private against(u: TxnUpdate, row: TxnRow): TxnUpdate | null {
    const when = new Date(u.at).toISOString();
    if (row.updatedAt < u.at || (row.updatedAt === u.at && row.state === 'forwarded')) {
      return { ...u, note: [u.note, `written again: the change of ${when} had not committed`].filter(Boolean).join('; ') };
    }
    const fill: TxnUpdate = { id: u.id, state: row.state, at: row.updatedAt, note: `fields of the change of ${when} filled in: it had not committed, a later one had` };
    let any = false;
    for (const f of FIELDS) {
      if (u[f] !== undefined && u[f] !== null && (row[f] === null || row[f] === undefined)) {
        fill[f] = u[f];
        any = true;
      }
    }
    if (u.owner !== undefined) fill.owner = u.owner;
    return any ? fill : null;
  }
}
