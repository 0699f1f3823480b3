/**
 * Longer than 400 lines: the whole store contract, every row and operation, in one place.
 *
 * The store contract: the transaction journal, its append-only history, and the
 * store-and-forward reversal queue. SQLite, PostgreSQL and memory implement it, so
 * nothing here is specific to one database: rows are plain values, times are epoch
 * milliseconds, and every write is one operation of a batch that commits as a unit.
 *
 * Card data: rows carry the masked PAN and a keyed hash of it. A message kept for
 * sending a reversal later is "sealed" (switch/store/sealed.ts): sensitive
 * authentication data removed, the PAN encrypted. Nothing else about a card is stored.
 */
import type { ReconJournalQuery, ReconJournalRow, ReconRefundRow, ReconRunRow } from './recon-rows.js';
import type { ReportData, ReportQuery } from './report-query.js';
import type { JournalState, ReversalState, ReviewAction, UndoKind } from './states.js';

// In a file of their own so a module this one names (./report-query.ts) can use them too.
export type { JournalState, ReversalState, ReviewAction, UndoKind } from './states.js';
export type { ReconJournalQuery, ReconJournalRow, ReconRefundRow, ReconRunRow } from './recon-rows.js';

export interface TxnRow {
  /** Unique, assigned by the switch. */
  id: string;
  /** The switch node that forwarded it (several nodes share one PostgreSQL store). */
  node: string;
  listener: string;
  /** F32 + F41: whose STAN sequence this is. */
  sender: string;
  terminal: string | null;
  merchant: string | null;
  acquirer: string | null;
  mti: string;
  stan: string;
  f7: string | null;
  rrn: string | null;
  amount: string | null;
  currency: string | null;
  panMasked: string | null;
  panHash: string | null;
  /** YYYY-MM-DD, the business day rules/ assigns. */
  businessDate: string | null;
  upstream: string | null;
  /** The switch's own STAN on the upstream link. */
  upstreamStan: string | null;
  state: JournalState;
  responseCode: string | null;
  /** From rules/ classify: approved, declined, timeout, ... */
  failureClass: string | null;
  /** The decision's action and explanation, when rules/ was asked. */
  decision: string | null;
  reversalId: string | null;
  /** F38 of an approval, as the issuer gave it (set by updateTxn); null otherwise or before migration 4. */
  approvalCode?: string | null;
  /** F4 of a partial approval, what the issuer approved (set by updateTxn); null when approved as asked, or before migration 8. */
  approvedAmount?: string | null;
  /** The request as sent upstream, sealed: what a reversal is built from after a crash. */
  sealed: string | null;
  createdAt: number;
  updatedAt: number;
  /**
   * The request's duplicate key (sender|STAN|F7), given by the switch for a request it
   * forwards: the insert is refused (isDuplicateRequest) when another row holds the same
   * key, on any node. Written to its own table; ordinary reads leave it out.
   */
  dupKey?: string | null;
}

/** The text a store's refusal of insertTxn carries when its dupKey is taken. */
export const DUPLICATE_REQUEST = 'duplicate request';

/** Whether an insertTxn failed because another transaction holds its dupKey (any store). */
export function isDuplicateRequest(e: unknown): boolean {
  const m = e instanceof Error ? e.message : String(e);
  return m.includes(DUPLICATE_REQUEST) || m.includes('txn_keys');
}

/** A state change of a transaction. Fields left out keep their value. */
export interface TxnUpdate {
  id: string;
  state: JournalState;
  at: number;
  responseCode?: string | null;
  failureClass?: string | null;
  decision?: string | null;
  reversalId?: string | null;
  approvalCode?: string | null;
  /** F4 of the issuer's answer when it approved less than was asked (F39 10). */
  approvedAmount?: string | null;
  /** Goes into the history row only. */
  note?: string;
  /**
   * The node that must still own the row (its `node` column) for the change to apply: a
   * node whose sale another node took over (its heartbeat was judged stopped) is fenced
   * off, and its late writes change nothing. Absent: no fence.
   */
  owner?: string;
}

export interface ReversalRow {
  id: string;
  txnId: string | null;
  upstream: string;
  state: ReversalState;
  attempts: number;
  /** F39 (1987, UnionPay) or F25 (1993) reason. */
  reason: string;
  finalAmount: string | null;
  explanation: string;
  /** The original as sent upstream, sealed. */
  original: string;
  /** The reversal as first built (its STAN and F7 are kept for every repeat), sealed; null until the first send. */
  message: string | null;
  sentStan: string | null;
  enqueuedAt: number;
  /** When the next send is due (pending) or the current attempt times out (sent). */
  dueAt: number;
  lastError: string | null;
  /** The operator's note when resolved by hand. */
  note: string | null;
  updatedAt: number;
  /** Absent on insert: a reversal. Reads always give it. */
  kind?: UndoKind;
  /** What a refund credits, n12 minor units; null for a reversal (it undoes its original's F4, less F95). */
  amount?: string | null;
  /**
   * The node holding the lease on this entry (several nodes share one queue), and until
   * when (epoch ms). Written by insertReversal when given (default: no owner, lease 0);
   * ordinary reads leave them out, claimReversals returns them.
   */
  owner?: string | null;
  leaseUntil?: number;
  /**
   * When a person last put it back from manual handling (`revswitch manual retry`), epoch
   * ms; null if never. Its age for maxAgeMs counts from here, so a retried entry gets a
   * fresh life, while enqueuedAt stays the evidence of when it was first queued.
   */
  retriedAt?: number | null;
}

/** How many undo entries wait for one upstream, by state (`start` checks them against the config). */
export interface UpstreamBacklog {
  upstream: string;
  pending: number;
  sent: number;
  manual: number;
}

/** What `forgetNode` did: forgotten only when the node held nothing. */
export interface ForgetNodeOutcome {
  /** False when there was no such node, or it still holds something (see the counts). */
  forgotten: boolean;
  known: boolean;
  /** Reversals in pending or sent whose lease it holds. */
  leases: number;
  /** Transactions it sent upstream without a final outcome (forwarded, or recovered without a reversal). */
  unfinished: number;
}

/** A switch node as its heartbeat row shows it (`revswitch nodes`). */
export interface NodeRow {
  node: string;
  startedAt: number;
  heartbeatAt: number;
  /** Free text the node reports about itself (JSON: version, pid, listen addresses). */
  info: string | null;
  /** Reversals in pending or sent whose lease this node holds (expired or not). */
  leases: number;
  /** Until when the node's own lease (renewLeases) holds them, epoch ms; 0 if it never renewed. */
  leaseUntil: number;
}

/** A reversal state change, applied only when the row is in one of `from` (compare-and-set). */
export interface ReversalUpdate {
  id: string;
  from: readonly ReversalState[];
  state: ReversalState;
  at: number;
  attempts?: number;
  message?: string | null;
  sentStan?: string | null;
  dueAt?: number;
  lastError?: string | null;
  note?: string | null;
  /** Goes into the history row only. */
  detail?: string;
}

export interface HistoryRow {
  seq: number;
  at: number;
  /** retention: a sealed message erased (its row stays). */
  kind: 'txn' | 'reversal' | 'review' | 'retention';
  /** The transaction or reversal id. */
  ref: string;
  state: string;
  /** Free text or JSON: response code, decision, attempt, note. Never card data. */
  detail: string | null;
}

export type ReviewState = 'open' | 'approved' | 'rejected';


/**
 * A decision rules/ left to a person (a refund over a cap, fraud codes, an authorization
 * past settlement...): durable, worked with `revswitch review` or the admin API, decided
 * once. An approval's undo goes through the store-and-forward queue like any other.
 */
export interface ReviewRow {
  /** review|<transaction id>: one item per transaction. */
  id: string;
  txnId: string;
  upstream: string | null;
  /** What rules/ proposed a person approve. */
  proposed: ReviewAction;
  /** The proposed undo's amount, n12 minor units; null when nothing is proposed. */
  amount: string | null;
  /** The reversal reason rules/ gave, when a reversal was proposed. */
  reason: string | null;
  /** F95 of a proposed partial reversal. */
  finalAmount: string | null;
  /** rules/' explanation: why a person must look. */
  why: string;
  state: ReviewState;
  createdAt: number;
  decidedAt: number | null;
  decidedBy: string | null;
  note: string | null;
  /** What the person's decision carries out (approved), or none (rejected). */
  action: ReviewAction | null;
  /** The reversal or refund the approval queued, once it is in the queue. */
  undoId: string | null;
}

/** A person's decision on an open item (compare-and-set: an item is decided once). */
export interface ReviewDecision {
  id: string;
  state: 'approved' | 'rejected';
  at: number;
  by: string;
  note: string;
  action: ReviewAction;
}

/**
 * What findTxns looks for: a transaction matches when every field given equals its own
 * (fields left out, or undefined, match anything). A query with no field matches nothing.
 */
export interface TxnQuery {
  /** F37. */
  rrn?: string;
  /** F41. */
  terminal?: string;
  /** The terminal's own F11 (not the switch's upstream STAN). */
  stan?: string;
  /** YYYY-MM-DD, the business date rules/ assigned. */
  businessDate?: string;
}

/** One operation of a group-committed batch. */
export type StoreOp =
  | { op: 'insertTxn'; row: TxnRow }
  | { op: 'updateTxn'; update: TxnUpdate }
  | { op: 'insertReversal'; row: ReversalRow }
  | { op: 'updateReversal'; update: ReversalUpdate };

/** What retention would erase and purge now (`revswitch maintenance --dry-run`). */
export interface RetentionPlan {
  /** Transactions whose sealed message can go (done, older than the sealed retention). */
  sealedTxns: number;
  /** Reversal and refund rows whose sealed original and message can go. */
  sealedReversals: number;
  /** Rows past the evidence period. */
  txns: number;
  reversals: number;
  reviews: number;
  /** History rows past it whose transaction, reversal or review is gone. */
  history: number;
}

/** One purge batch as read: each row's key and its text (every column), for the run's digest. */
export interface PurgeBatch {
  before: number;
  txns: { key: string; text: string }[];
  reversals: { key: string; text: string }[];
  reviews: { key: string; text: string }[];
  history: { key: string; text: string }[];
}

/** What a maintenance run removed, kept for ever: counts, the digest of the rows' text, its HMAC. */
export interface PruneSummary {
  run: string;
  at: number;
  beforeMs: number;
  txns: number;
  reversals: number;
  reviews: number;
  history: number;
  firstSeq: number | null;
  lastSeq: number | null;
  /** SHA-256 over the removed rows' text, table by table in key order (hex). */
  digest: string;
  /** HMAC-SHA256 of the summary's canonical text under the maintenance key (hex). */
  signature: string;
  /** The maintenance key's check value: which key signed. */
  keyCheck: string;
}

/** The tables that keep sealed messages. */
export type SealedTable = 'txns' | 'reversals';

/** One sealed message at rest: where it is, what its AAD binds it to, and its text. */
export interface SealedValue {
  table: SealedTable;
  id: string;
  /** A reversal's transaction (its binding); null for a transaction row (bound to its own id) or a reversal without one. */
  txnId: string | null;
  /** The upstream it was sent to: its dialect says what is kept. */
  upstream: string | null;
  column: 'sealed' | 'original' | 'message';
  value: string;
}

export interface StoreStats {
  batches: number;
  ops: number;
  /** Commit latency (batch handed to the database to committed), ms. */
  commitMs: { p50: number; p99: number; max: number };
  /** Operations queued, not yet committed. */
  queued: number;
}

export interface Store {
  /** e.g. "sqlite:./data/revswitch.db", with any password removed. */
  readonly url: string;
  /** Writes queued or committing now: how far the store is behind (admission control reads it). */
  readonly backlog: number;
  /** Connects and runs the migrations. */
  open(): Promise<void>;
  /** Commits what is queued, then closes. */
  close(): Promise<void>;

  // Writes are queued and committed in batches (group commit); each promise resolves once
  // its operation is durable. Operations commit in the order they were called.
  insertTxn(row: TxnRow): Promise<void>;
  /** False when `update.owner` is given and the row is not that node's (taken over): nothing changed, no history row. */
  updateTxn(update: TxnUpdate): Promise<boolean>;
  /** False when a reversal with this id exists: one original, one reversal. */
  insertReversal(row: ReversalRow): Promise<boolean>;
  /** False when the row was not in one of `update.from` (nothing changed, no history row). */
  updateReversal(update: ReversalUpdate): Promise<boolean>;
  /** Resolves when everything queued so far is durable. */
  flush(): Promise<void>;

  // Reads, for start-up, the CLI and tests; never on the hot path.
  txn(id: string): Promise<TxnRow | undefined>;
  /**
   * Transactions created at or after `since`, oldest first: duplicates and terminal
   * reversals after a restart. With `limit`, only the newest `limit` of them (still oldest
   * first), so a restart after a busy quarter of an hour reads what it keeps, not all.
   */
  recentTxns(since: number, limit?: number): Promise<TxnRow[]>;
  /** Sent upstream without a final outcome: what crash recovery must reverse. */
  unfinishedTxns(): Promise<TxnRow[]>;
  reversal(id: string): Promise<ReversalRow | undefined>;
  /** Reversals in the given states (all when omitted), oldest first. */
  reversals(states?: readonly ReversalState[]): Promise<ReversalRow[]>;
  /** Every state change of a transaction or reversal, in order. */
  history(ref: string): Promise<HistoryRow[]>;
  /** Transactions created in [since, until), oldest first (created_at, then insertion order): reports. */
  txnsBetween(since: number, until: number): Promise<TxnRow[]>;
  /** Transactions matching the query (see TxnQuery), oldest first; none for an empty query: evidence look-ups. */
  findTxns(q: TxnQuery): Promise<TxnRow[]>;
  /** Reversals enqueued in [since, until), oldest first (enqueued_at, then insertion order): reports. */
  reversalsBetween(since: number, until: number): Promise<ReversalRow[]>;
  /** History rows of every transaction and reversal written with `at` in [since, until), in seq order: reports. */
  historyBetween(since: number, until: number): Promise<HistoryRow[]>;
  /** Closes a manual entry by hand; false unless it is in `manual`. */
  resolveManual(id: string, note: string, at: number): Promise<boolean>;
  /**
   * Puts a manual entry back in the queue after its cause is fixed (a renamed upstream, a
   * fixed key): manual -> pending, attempts 0, due now, no owner (any node's next claim
   * takes it), retriedAt = at, its message and STAN kept (a repeat stays a repeat); a
   * history row with the note. False unless it is in `manual`. One atomic statement.
   */
  retryManual(id: string, note: string, at: number): Promise<boolean>;
  /** Undo entries not final (pending, sent, manual), counted by upstream and state. */
  undoBacklog(): Promise<UpstreamBacklog[]>;
  /**
   * Moves every undo entry of upstream `from` that is not final to `to` (a renamed link):
   * pending and sent ones become pending, due now, unowned, their message and STAN
   * dropped so the new link builds its own; manual ones keep their state. Each with a
   * history row carrying `note`. Transactions of `from` left without an outcome (a crash:
   * recovery reverses them on their upstream) move too. Returns how many rows moved. One
   * transaction.
   */
  reassignUpstream(from: string, to: string, note: string, at: number): Promise<number>;
  /**
   * Deletes a node's heartbeat row, only when it holds no lease on a pending or sent
   * reversal and no transaction of its is unfinished; the check and the delete are one
   * transaction, so a node that claims meanwhile is not forgotten.
   */
  forgetNode(node: string): Promise<ForgetNodeOutcome>;
  /**
   * The exception report's counts, sums and first `q.limit` rows of each list, computed
   * where the rows are (./report-query.ts): what comes back is small whatever the window.
   */
  report(q: ReportQuery): Promise<ReportData>;

  // Re-sealing (./resealer.ts), off the hot path: a page at a time, one statement each.
  /** The sealed values of up to `limit` rows of `table` with id after `after`, by id. */
  sealedPage(table: SealedTable, after: string, limit: number): Promise<SealedValue[]>;
  /** Replaces one sealed value, only if it still holds `v.value` (a concurrent write wins); false otherwise. */
  reseal(v: SealedValue, to: string): Promise<boolean>;
  /** Writes the WAL back and truncates it (SQLite), so replaced values leave no page image behind; elsewhere nothing. */
  checkpoint(): Promise<void>;

  // Retention (./maintenance.ts): off the hot path, a batch per statement transaction.
  retentionPlan(sealedBefore: number, evidenceBefore: number): Promise<RetentionPlan>;
  /** Erases up to `limit` sealed messages of done rows older than `before`, each with a history row; how many. */
  eraseSealed(before: number, at: number, limit: number, detail: string): Promise<number>;
  /** The next rows past the evidence period (at most `limit` per table), as text. */
  purgeCandidates(before: number, limit: number): Promise<PurgeBatch>;
  /** Deletes exactly the rows of `batch` and records `summary`, in one transaction (history's trigger allows it inside). */
  purge(batch: PurgeBatch, summary: PruneSummary): Promise<void>;
  /** Every maintenance run's summary, oldest first. */
  pruned(): Promise<PruneSummary[]>;

  // Several nodes on one store. Not group-committed: each runs at once (after what is
  // queued), as one atomic statement; called every few hundred ms, never per message.
  /** Upserts the node's heartbeat row (started_at is kept from the first call). */
  heartbeat(node: string, at: number, info: string | null): Promise<void>;
  /** Every node that ever heartbeated, by id, with its lease count. */
  nodes(): Promise<NodeRow[]>;
  /**
   * Takes up to `limit` reversals in pending or sent that are unowned, owned by `node`
   * already (only with includeOwn: a restart resuming its own), or whose lease expired:
   * both the row's own lease_until and its owner's node lease (renewLeases) before now.
   * Sets owner = node, lease_until = now + leaseMs and returns them (owner and leaseUntil
   * included), oldest first. Two nodes never get the same row from concurrent calls.
   */
  claimReversals(node: string, now: number, leaseMs: number, limit: number, includeOwn?: boolean): Promise<ReversalRow[]>;
  /**
   * Extends the lease on everything `node` holds to `until`: one write to the node's own
   * row (created if missing, with no heartbeat), however many reversals it holds, so an
   * outage's backlog costs nothing to keep. Returns 1.
   */
  renewLeases(node: string, until: number): Promise<number>;
  /** Gives up the node's leases on the given reversals (owner = null, lease 0), e.g. at shutdown. */
  releaseLeases(node: string, ids: readonly string[]): Promise<number>;
  /**
   * Takes over the transactions another node sent upstream without a final outcome, when
   * that node's heartbeat is older than staleBefore (or it has none: rows from before
   * heartbeats, or from a node id no longer in use): each becomes node = `node`, state =
   * 'recovered' (with a history row) and is returned as it was before (state 'forwarded',
   * its old node), so the caller can reverse it as crash recovery does. PostgreSQL, which
   * nodes on several hosts share, writes heartbeats with the server's clock and judges them
   * against the server's clock minus (at - staleBefore), so no node's clock matters; SQLite
   * and memory are one host's, whose clock every node shares. A node whose sale was taken
   * is fenced off by `TxnUpdate.owner`.
   */
  claimOrphanTxns(node: string, staleBefore: number, at: number): Promise<TxnRow[]>;
  /** A new review item (open) with its history row; false when the id exists (one item per transaction). */
  insertReview(row: ReviewRow): Promise<boolean>;
  review(id: string): Promise<ReviewRow | undefined>;
  /** Oldest first; all states when `states` is absent. */
  reviews(states?: readonly ReviewState[]): Promise<ReviewRow[]>;
  /** open -> approved/rejected with who, why and the action, and its history row; false when it is not open. */
  decideReview(d: ReviewDecision): Promise<boolean>;
  /** Records the queue row an approval made (once: false when already recorded or not approved). */
  reviewQueued(id: string, undoId: string, at: number): Promise<boolean>;

  // Reconciliation (switch/recon/), off the hot path: one statement each.
  /** One page of a business date's financial transactions, by id (see ReconJournalQuery). */
  reconJournal(q: ReconJournalQuery): Promise<ReconJournalRow[]>;
  /** Refunds enqueued in [since, until), with their original's keys, oldest first. */
  reconRefunds(since: number, until: number): Promise<ReconRefundRow[]>;
  /** Records an applied run; false when its id exists. */
  insertReconRun(row: ReconRunRow): Promise<boolean>;
  /** Every recorded run, oldest first. */
  reconRuns(): Promise<ReconRunRow[]>;
  stats(): StoreStats;
}
