/**
 * Longer than 400 lines: the statements and the dispatch of every read in one place; each
 * larger read (re-sealing, retention, reports) already lives in a module of its own.
 *
 * SQLite, synchronously: opening (pragmas, migrations), one batch as one transaction,
 * and reads. It blocks its thread on every call, so the switch runs it inside a worker
 * (./sqlite-worker.ts); the CLI may run it inline.
 *
 * A batch is `BEGIN IMMEDIATE`, its operations, `COMMIT`. An operation is two
 * statements: the change (INSERT or UPDATE of the row), then its history row. Only the
 * first can be refused (a duplicate key; an update that matches no row is refused by the
 * code, before any history is written), and SQLite undoes a refused statement by itself
 * while the transaction carries on: so a refused operation changed nothing and is
 * reported alone, and the rest of the batch commits. No SAVEPOINT per operation: it
 * cost more than the operation itself (measured: ~12 -> ~30 µs per write).
 *
 * Should a history insert ever fail after its change went through (it has no constraint
 * the change would not have hit first), the whole batch is rolled back and fails, so no
 * change ever commits without its history. An error that ends the transaction (disk
 * full, I/O, a lock held past busy_timeout) fails the batch the same way: nothing of it
 * is committed and every caller is told.
 */
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import {
  describeOp, insertReversalDetail, insertTxnDetail, orphanNote, repairDetail, reviewDetail, txnQueryFields, updateTxnDetail, type BatchOutcome, type OpResult,
  type StoreRead,
} from './backend.js';
import { SQLITE_MIGRATIONS, type Migration } from './migrations/sqlite.js';
import { sqliteReseal, sqliteSealedPage } from './sealed-rows.js';
import { sqliteEraseSealed, sqlitePlan, sqlitePruned, sqlitePurge, sqlitePurgeCandidates } from './retention-sqlite.js';
import { sqliteReport } from './report-sqlite.js';
import { sqliteInsertReconRun, sqliteReconJournal, sqliteReconRefunds, sqliteReconRuns } from './recon-sqlite.js';
import {
  DUPLICATE_REQUEST, type HistoryRow, type NodeRow, type ReversalRow, type ReviewRow, type StoreOp, type TxnQuery, type TxnRow,
} from './types.js';

/** `full` survives a power loss after a commit; `normal` in WAL mode may lose the last commits on one (not on a process crash). */
export type SyncMode = 'full' | 'normal' | 'extra';
export const SYNC_MODES: readonly SyncMode[] = ['full', 'normal', 'extra'];

export interface SqliteEngineOptions {
  /** A file path, or ":memory:". */
  path: string;
  synchronous: SyncMode;
  busyTimeoutMs: number;
  /** How errors name this database (the store's URL). */
  label: string;
}

/**
 * A transaction without an outcome: sent upstream with no answer yet, or taken as
 * `recovered` (after a restart, or from a dead node) whose reversal never reached the
 * store (a crash between the two commits). Recovery and takeover both look for these.
 */
const UNFINISHED = `(txns.state = 'forwarded' OR (txns.state = 'recovered' AND NOT EXISTS (SELECT 1 FROM reversals r WHERE r.txn_id = txns.id)))`;

const TXN_COLUMNS = `id, node, listener, sender, terminal, merchant, acquirer, mti, stan, f7, rrn, amount, currency,
  pan_masked AS panMasked, pan_hash AS panHash, business_date AS businessDate, upstream, upstream_stan AS upstreamStan,
  state, response_code AS responseCode, failure_class AS failureClass, decision, reversal_id AS reversalId, approval_code AS approvalCode, approved_amount AS approvedAmount, sealed,
  created_at AS createdAt, updated_at AS updatedAt`;

const REVERSAL_COLUMNS = `id, txn_id AS txnId, upstream, state, attempts, reason, final_amount AS finalAmount, explanation,
  original, message, sent_stan AS sentStan, enqueued_at AS enqueuedAt, due_at AS dueAt, last_error AS lastError, note,
  updated_at AS updatedAt, kind, amount, retried_at AS retriedAt`;

export const REVIEW_COLUMNS = `id, txn_id AS txnId, upstream, proposed, amount, reason, final_amount AS finalAmount, why, state,
  created_at AS createdAt, decided_at AS decidedAt, decided_by AS decidedBy, note, action, undo_id AS undoId`;

/** The column of each TxnQuery field (fixed names: never text from the caller in SQL). */
const FIND_COLUMN: Record<keyof TxnQuery, string> = { rrn: 'rrn', terminal: 'terminal', stan: 'stan', businessDate: 'business_date' };

const flag = (v: unknown): number => (v === undefined ? 0 : 1);
const orNull = <T>(v: T | undefined): T | null => (v === undefined ? null : v);

function message(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    return typeof code === 'string' && !e.message.includes(code) ? `${e.message} (${code})` : e.message;
  }
  return String(e);
}

type Stmt = Database.Statement<unknown[], unknown>;

export class SqliteEngine {
  private readonly db: Database.Database;
  private readonly s: Record<
    'insertTxn' | 'updateTxn' | 'insertReversal' | 'updateReversal' | 'history' | 'txn' | 'recentTxns' | 'recentTxnsNewest' | 'unfinishedTxns' |
    'reversal' | 'reversalsAll' | 'reversalsIn' | 'historyOf' | 'txnsBetween' | 'reversalsBetween' | 'historyBetween' | 'keyHolder' | 'insertKey',
    Stmt
  >;
  /** findTxns statements, one per combination of the fields given (at most 15). */
  private readonly finders = new Map<string, Stmt>();
  private readonly batch: Database.Transaction<(ops: StoreOp[]) => OpResult[]>;
  /** Set by apply() once an operation's first statement went through. */
  private changed = false;
  readonly schemaVersion: number;

  constructor(readonly opts: SqliteEngineOptions) {
    const { path, label } = opts;
    if (path !== ':memory:') {
      try {
        // Owner only (PCI DSS 7): the journal holds sealed card data. SQLite gives its -wal
        // and -shm files the database file's mode, so creating that one 0600 covers them.
        mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
        closeSync(openSync(path, 'a', 0o600));
      } catch (e) {
        throw new Error(`${label}: cannot create the directory for ${path}: ${message(e)}`);
      }
    }
    try {
      this.db = new Database(path, { timeout: opts.busyTimeoutMs });
    } catch (e) {
      throw new Error(`${label}: cannot open ${path}: ${message(e)}`);
    }
    try {
      this.pragmas();
      this.schemaVersion = migrate(this.db, label, SQLITE_MIGRATIONS);
      this.s = this.prepare();
    } catch (e) {
      this.db.close();
      throw e;
    }
    this.batch = this.db.transaction((ops: StoreOp[]) => {
      const results = new Array<OpResult>(ops.length);
      for (let i = 0; i < ops.length; i++) {
        this.changed = false;
        try {
          results[i] = { ok: true, value: this.apply(ops[i]) };
        } catch (e) {
          // SQLite ended the transaction (full disk, I/O), or a change went through without
          // its history: the batch fails as one and is rolled back.
          if (!this.db.inTransaction) throw e;
          if (this.changed) throw new Error(`${describeOp(ops[i])}: the history row failed after the change: ${message(e)}`);
          results[i] = { ok: false, error: message(e) };
        }
      }
      return results;
    });
  }

  private pragmas(): void {
    const { path, label, synchronous, busyTimeoutMs } = this.opts;
    const mode = this.db.pragma('journal_mode = WAL', { simple: true });
    if (path !== ':memory:' && String(mode).toLowerCase() !== 'wal') {
      throw new Error(`${label}: could not switch ${path} to WAL mode (journal_mode is ${String(mode)})`);
    }
    this.db.pragma(`synchronous = ${synchronous.toUpperCase()}`);
    this.db.pragma(`busy_timeout = ${Math.trunc(busyTimeoutMs)}`);
    this.db.pragma('foreign_keys = ON');
    // What a row held before an update (a sealed message re-sealed through the allow-list)
    // is zeroed in its page, not left in free space for a file scan to find.
    this.db.pragma('secure_delete = ON');
  }

  private prepare(): SqliteEngine['s'] {
    const p = (sql: string): Stmt => this.db.prepare<unknown[], unknown>(sql);
    return {
      insertTxn: p(`INSERT INTO txns (id, node, listener, sender, terminal, merchant, acquirer, mti, stan, f7, rrn, amount,
        currency, pan_masked, pan_hash, business_date, upstream, upstream_stan, state, response_code, failure_class, decision,
        reversal_id, sealed, created_at, updated_at) VALUES (${Array(26).fill('?').join(', ')})`),
      updateTxn: p(`UPDATE txns SET state = ?, updated_at = ?,
        response_code = CASE WHEN ? THEN ? ELSE response_code END,
        failure_class = CASE WHEN ? THEN ? ELSE failure_class END,
        decision = CASE WHEN ? THEN ? ELSE decision END,
        reversal_id = CASE WHEN ? THEN ? ELSE reversal_id END,
        approval_code = CASE WHEN ? THEN ? ELSE approval_code END,
        approved_amount = CASE WHEN ? THEN ? ELSE approved_amount END
        WHERE id = ? AND (? IS NULL OR node = ?)`),
      insertReversal: p(`INSERT INTO reversals (id, txn_id, upstream, state, attempts, reason, final_amount, explanation,
        original, message, sent_stan, enqueued_at, due_at, last_error, note, updated_at, owner, lease_until, kind, amount)
        VALUES (${Array(20).fill('?').join(', ')}) ON CONFLICT (id) DO NOTHING`),
      updateReversal: p(`UPDATE reversals SET state = ?, updated_at = ?,
        attempts = CASE WHEN ? THEN ? ELSE attempts END,
        message = CASE WHEN ? THEN ? ELSE message END,
        sent_stan = CASE WHEN ? THEN ? ELSE sent_stan END,
        due_at = CASE WHEN ? THEN ? ELSE due_at END,
        last_error = CASE WHEN ? THEN ? ELSE last_error END,
        note = CASE WHEN ? THEN ? ELSE note END
        WHERE id = ? AND state IN (SELECT value FROM json_each(?))`),
      history: p('INSERT INTO history (at, kind, ref, state, detail) VALUES (?, ?, ?, ?, ?)'),
      txn: p(`SELECT ${TXN_COLUMNS} FROM txns WHERE id = ?`),
      recentTxns: p(`SELECT ${TXN_COLUMNS} FROM txns WHERE created_at >= ? ORDER BY created_at, rowid`),
      recentTxnsNewest: p(`SELECT ${TXN_COLUMNS} FROM txns WHERE rowid IN
        (SELECT rowid FROM txns WHERE created_at >= ? ORDER BY created_at DESC, rowid DESC LIMIT ?) ORDER BY created_at, rowid`),
      unfinishedTxns: p(`SELECT ${TXN_COLUMNS} FROM txns WHERE ${UNFINISHED} ORDER BY created_at, rowid`),
      reversal: p(`SELECT ${REVERSAL_COLUMNS} FROM reversals WHERE id = ?`),
      reversalsAll: p(`SELECT ${REVERSAL_COLUMNS} FROM reversals ORDER BY enqueued_at, rowid`),
      reversalsIn: p(`SELECT ${REVERSAL_COLUMNS} FROM reversals WHERE state IN (SELECT value FROM json_each(?)) ORDER BY enqueued_at, rowid`),
      historyOf: p('SELECT seq, at, kind, ref, state, detail FROM history WHERE ref = ? ORDER BY seq'),
      txnsBetween: p(`SELECT ${TXN_COLUMNS} FROM txns WHERE created_at >= ? AND created_at < ? ORDER BY created_at, rowid`),
      reversalsBetween: p(`SELECT ${REVERSAL_COLUMNS} FROM reversals WHERE enqueued_at >= ? AND enqueued_at < ? ORDER BY enqueued_at, rowid`),
      historyBetween: p('SELECT seq, at, kind, ref, state, detail FROM history WHERE at >= ? AND at < ? ORDER BY seq'),
      // Prepared once: preparing these two per sale cost the worker 13 of its 39 µs a sale.
      keyHolder: p('SELECT txn_id FROM txn_keys WHERE key = ?').pluck(),
      insertKey: p('INSERT INTO txn_keys (key, txn_id, created_at) VALUES (?, ?, ?)'),
    };
  }

  /** One operation and its history row; throws when refused (before `changed` is set, nothing changed). */
  private apply(op: StoreOp): boolean {
    const s = this.s;
    switch (op.op) {
      case 'insertTxn': {
        const r = op.row;
        // Checked before anything is written (the batch holds SQLite's write lock), so a
        // refusal changes nothing; the key itself goes in with the row below.
        const holder = r.dupKey == null ? undefined : (s.keyHolder.get(r.dupKey) as string | undefined);
        if (holder !== undefined) throw new Error(`${DUPLICATE_REQUEST}: key ${r.dupKey ?? ''} is transaction ${holder}'s (txn_keys)`);
        s.insertTxn.run(r.id, r.node, r.listener, r.sender, orNull(r.terminal), orNull(r.merchant), orNull(r.acquirer), r.mti, r.stan,
          orNull(r.f7), orNull(r.rrn), orNull(r.amount), orNull(r.currency), orNull(r.panMasked), orNull(r.panHash),
          orNull(r.businessDate), orNull(r.upstream), orNull(r.upstreamStan), r.state, orNull(r.responseCode), orNull(r.failureClass),
          orNull(r.decision), orNull(r.reversalId), orNull(r.sealed), r.createdAt, r.updatedAt);
        this.changed = true;
        if (r.dupKey != null) s.insertKey.run(r.dupKey, r.id, r.createdAt);
        s.history.run(r.createdAt, 'txn', r.id, r.state, insertTxnDetail(r));
        return true;
      }
      case 'updateTxn': {
        const u = op.update;
        const { changes } = s.updateTxn.run(u.state, u.at,
          flag(u.responseCode), orNull(u.responseCode), flag(u.failureClass), orNull(u.failureClass),
          flag(u.decision), orNull(u.decision), flag(u.reversalId), orNull(u.reversalId), flag(u.approvalCode), orNull(u.approvalCode), flag(u.approvedAmount), orNull(u.approvedAmount),
          u.id, u.owner ?? null, u.owner ?? null);
        if (changes === 0 && u.owner !== undefined) return false;
        if (changes === 0) throw new Error(`no transaction with id ${u.id}`);
        this.changed = true;
        s.history.run(u.at, 'txn', u.id, u.state, updateTxnDetail(u));
        return true;
      }
      case 'insertReversal': {
        const r = op.row;
        const { changes } = s.insertReversal.run(r.id, orNull(r.txnId), r.upstream, r.state, r.attempts, r.reason, orNull(r.finalAmount),
          r.explanation, r.original, orNull(r.message), orNull(r.sentStan), r.enqueuedAt, r.dueAt, orNull(r.lastError), orNull(r.note),
          r.updatedAt, r.owner ?? null, r.leaseUntil ?? 0, r.kind ?? 'reversal', r.amount ?? null);
        if (changes === 0) return false;
        this.changed = true;
        s.history.run(r.enqueuedAt, 'reversal', r.id, r.state, insertReversalDetail(r));
        return true;
      }
      case 'updateReversal': {
        const u = op.update;
        const { changes } = s.updateReversal.run(u.state, u.at,
          flag(u.attempts), orNull(u.attempts), flag(u.message), orNull(u.message), flag(u.sentStan), orNull(u.sentStan),
          flag(u.dueAt), orNull(u.dueAt), flag(u.lastError), orNull(u.lastError), flag(u.note), orNull(u.note),
          u.id, JSON.stringify(u.from));
        if (changes === 0) return false;
        this.changed = true;
        s.history.run(u.at, 'reversal', u.id, u.state, orNull(u.detail));
        return true;
      }
    }
  }

  /** The whole batch in one transaction (BEGIN IMMEDIATE: the write lock up front). Throws when it did not commit. */
  runBatch(ops: StoreOp[]): BatchOutcome {
    const t0 = performance.now();
    const results = this.batch.immediate(ops);
    return { results, commitMs: performance.now() - t0 };
  }

  read(r: StoreRead): unknown {
    const s = this.s;
    switch (r.read) {
      case 'txn':
        return s.txn.get(r.id) as TxnRow | undefined;
      case 'recentTxns':
        return (r.limit === undefined ? s.recentTxns.all(r.since) : s.recentTxnsNewest.all(r.since, r.limit)) as TxnRow[];
      case 'unfinishedTxns':
        return s.unfinishedTxns.all() as TxnRow[];
      case 'reversal':
        return s.reversal.get(r.id) as ReversalRow | undefined;
      case 'reversals':
        return (r.states === undefined ? s.reversalsAll.all() : s.reversalsIn.all(JSON.stringify(r.states))) as ReversalRow[];
      case 'history':
        return s.historyOf.all(r.ref) as HistoryRow[];
      case 'txnsBetween':
        return s.txnsBetween.all(r.since, r.until) as TxnRow[];
      case 'findTxns':
        return this.findTxns(r.q);
      case 'reversalsBetween':
        return s.reversalsBetween.all(r.since, r.until) as ReversalRow[];
      case 'historyBetween':
        return s.historyBetween.all(r.since, r.until) as HistoryRow[];
      case 'heartbeat':
        this.db.prepare(`INSERT INTO nodes (node, started_at, heartbeat_at, info) VALUES (?, ?, ?, ?)
          ON CONFLICT (node) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, info = excluded.info`).run(r.node, r.at, r.at, r.info);
        return null;
      case 'nodes':
        return this.db.prepare(`SELECT n.node, n.started_at AS startedAt, n.heartbeat_at AS heartbeatAt, n.info, n.lease_until AS leaseUntil,
          (SELECT count(*) FROM reversals v WHERE v.owner = n.node AND v.state IN ('pending', 'sent')) AS leases
          FROM nodes n ORDER BY n.node`).all() as NodeRow[];
      case 'claimReversals':
        return this.db.transaction(() => {
          // Three cheap reads instead of one OR over the whole queue: with a million rows
          // queued that OR scanned and sorted them all (seconds a claim, the store's one
          // writer held meanwhile). Each reads an index of its own, named (INDEXED BY: the
          // planner, without statistics, took reversals_state_lease and sorted every pending
          // row, 270 ms a claim at a million): the unowned (a partial index), this node's
          // own, and those of owners whose node lease expired.
          type Claimed = ReversalRow & { rid?: number };
          const rows: Claimed[] = this.db.prepare(`SELECT ${REVERSAL_COLUMNS}, rowid AS rid FROM reversals INDEXED BY reversals_unowned
            WHERE owner IS NULL AND state IN ('pending', 'sent') ORDER BY enqueued_at, rowid LIMIT ?`).all(r.limit) as Claimed[];
          if (r.includeOwn && rows.length < r.limit) {
            rows.push(...this.db.prepare(`SELECT ${REVERSAL_COLUMNS}, rowid AS rid FROM reversals INDEXED BY reversals_owner
              WHERE owner = ? AND state IN ('pending', 'sent') ORDER BY enqueued_at, rowid LIMIT ?`).all(r.node, r.limit - rows.length) as Claimed[]);
          }
          if (rows.length < r.limit) {
            // This node's own lapsed rows too (as before the split); with includeOwn they were read above.
            rows.push(...this.db.prepare(`SELECT ${REVERSAL_COLUMNS}, rowid AS rid FROM reversals INDEXED BY reversals_owner
              WHERE owner IN (SELECT node FROM nodes WHERE lease_until < ? AND (? = 0 OR node <> ?)) AND state IN ('pending', 'sent') AND lease_until < ?
              ORDER BY enqueued_at, rowid LIMIT ?`).all(r.now, r.includeOwn ? 1 : 0, r.node, r.now, r.limit - rows.length) as Claimed[]);
          }
          rows.sort((a, b) => a.enqueuedAt - b.enqueuedAt || (a.rid ?? 0) - (b.rid ?? 0));
          const take = this.db.prepare('UPDATE reversals SET owner = ?, lease_until = ? WHERE rowid = ?');
          for (const row of rows) {
            take.run(r.node, r.now + r.leaseMs, row.rid);
            delete row.rid;
            row.owner = r.node;
            row.leaseUntil = r.now + r.leaseMs;
          }
          return rows;
        }).immediate();
      case 'renewLeases':
        return this.db.prepare(`INSERT INTO nodes (node, started_at, heartbeat_at, info, lease_until) VALUES (?, 0, 0, NULL, ?)
          ON CONFLICT (node) DO UPDATE SET lease_until = excluded.lease_until`).run(r.node, r.until).changes;
      case 'releaseLeases':
        return this.db.prepare(`UPDATE reversals SET owner = NULL, lease_until = 0 WHERE owner = ? AND id IN (SELECT value FROM json_each(?))`)
          .run(r.node, JSON.stringify(r.ids)).changes;
      case 'claimOrphanTxns':
        return this.db.transaction(() => {
          const rows = this.db.prepare(`SELECT ${TXN_COLUMNS} FROM txns WHERE ${UNFINISHED} AND node <> ?
            AND NOT EXISTS (SELECT 1 FROM nodes n WHERE n.node = txns.node AND n.heartbeat_at >= ?) ORDER BY created_at, rowid`).all(r.node, r.staleBefore) as TxnRow[];
          const take = this.db.prepare(`UPDATE txns SET node = ?, state = 'recovered', updated_at = ? WHERE id = ? AND state IN ('forwarded', 'recovered')`);
          for (const row of rows) {
            take.run(r.node, r.at, row.id);
            this.s.history.run(r.at, 'txn', row.id, 'recovered', orphanNote(row.node));
          }
          return rows;
        }).immediate();
      case 'forgetNode':
        return this.db.transaction(() => {
          const known = this.db.prepare('SELECT 1 FROM nodes WHERE node = ?').get(r.node) !== undefined;
          const leases = (this.db.prepare(`SELECT count(*) AS n FROM reversals WHERE owner = ? AND state IN ('pending', 'sent')`).get(r.node) as { n: number }).n;
          const unfinished = (this.db.prepare(`SELECT count(*) AS n FROM txns WHERE node = ? AND ${UNFINISHED}`).get(r.node) as { n: number }).n;
          const forgotten = known && leases === 0 && unfinished === 0;
          if (forgotten) this.db.prepare('DELETE FROM nodes WHERE node = ?').run(r.node);
          return { forgotten, known, leases, unfinished };
        }).immediate();
      case 'retryManual':
        return this.db.transaction(() => {
          const { changes } = this.db.prepare(`UPDATE reversals SET state = 'pending', attempts = 0, due_at = ?, last_error = NULL, note = ?,
            retried_at = ?, updated_at = ?, owner = NULL, lease_until = 0 WHERE id = ? AND state = 'manual'`).run(r.at, r.note, r.at, r.at, r.id);
          if (changes === 0) return false;
          this.s.history.run(r.at, 'reversal', r.id, 'pending', repairDetail.retried(r.note));
          return true;
        }).immediate();
      case 'undoBacklog':
        return this.db.prepare(`SELECT upstream, sum(state = 'pending') AS pending, sum(state = 'sent') AS sent, sum(state = 'manual') AS manual
          FROM reversals WHERE state IN ('pending', 'sent', 'manual') GROUP BY upstream ORDER BY upstream`).all();
      case 'reassignUpstream':
        return this.db.transaction(() => {
          const rows = this.db.prepare(`SELECT id, state FROM reversals WHERE upstream = ? AND state IN ('pending', 'sent', 'manual')`)
            .all(r.from) as { id: string; state: string }[];
          const active = this.db.prepare(`UPDATE reversals SET upstream = ?, state = 'pending', due_at = ?, message = NULL, sent_stan = NULL,
            owner = NULL, lease_until = 0, updated_at = ? WHERE id = ?`);
          const manual = this.db.prepare('UPDATE reversals SET upstream = ?, updated_at = ? WHERE id = ?');
          const detail = repairDetail.reassigned(r.from, r.to, r.note);
          for (const row of rows) {
            if (row.state === 'manual') manual.run(r.to, r.at, row.id);
            else active.run(r.to, r.at, r.at, row.id);
            this.s.history.run(r.at, 'reversal', row.id, row.state === 'manual' ? 'manual' : 'pending', detail);
          }
          // A sale left without an outcome (a crash) is reversed by recovery on its own upstream.
          const txns = this.db.prepare(`SELECT id, state FROM txns WHERE upstream = ? AND ${UNFINISHED}`).all(r.from) as { id: string; state: string }[];
          const move = this.db.prepare('UPDATE txns SET upstream = ?, updated_at = ? WHERE id = ?');
          for (const row of txns) {
            move.run(r.to, r.at, row.id);
            this.s.history.run(r.at, 'txn', row.id, row.state, detail);
          }
          return rows.length + txns.length;
        }).immediate();
      case 'insertReview':
        return this.db.transaction(() => {
          const v = r.row;
          const { changes } = this.db.prepare(`INSERT INTO reviews (id, txn_id, upstream, proposed, amount, reason, final_amount, why, state,
            created_at, decided_at, decided_by, note, action, undo_id) VALUES (${Array(15).fill('?').join(', ')}) ON CONFLICT (id) DO NOTHING`)
            .run(v.id, v.txnId, v.upstream, v.proposed, v.amount, v.reason, v.finalAmount, v.why, v.state, v.createdAt, v.decidedAt, v.decidedBy,
              v.note, v.action, v.undoId);
          if (changes === 0) return false;
          this.s.history.run(v.createdAt, 'review', v.id, v.state, reviewDetail.inserted(v));
          return true;
        }).immediate();
      case 'review':
        return this.db.prepare(`SELECT ${REVIEW_COLUMNS} FROM reviews WHERE id = ?`).get(r.id) as ReviewRow | undefined;
      case 'reviews':
        return (r.states === undefined
          ? this.db.prepare(`SELECT ${REVIEW_COLUMNS} FROM reviews ORDER BY created_at, rowid`).all()
          : this.db.prepare(`SELECT ${REVIEW_COLUMNS} FROM reviews WHERE state IN (SELECT value FROM json_each(?)) ORDER BY created_at, rowid`)
            .all(JSON.stringify(r.states))) as ReviewRow[];
      case 'decideReview':
        return this.db.transaction(() => {
          const d = r.d;
          const { changes } = this.db.prepare(`UPDATE reviews SET state = ?, decided_at = ?, decided_by = ?, note = ?, action = ?
            WHERE id = ? AND state = 'open'`).run(d.state, d.at, d.by, d.note, d.action, d.id);
          if (changes === 0) return false;
          this.s.history.run(d.at, 'review', d.id, d.state, reviewDetail.decided(d));
          return true;
        }).immediate();
      case 'reviewQueued':
        return this.db.transaction(() => {
          const { changes } = this.db.prepare(`UPDATE reviews SET undo_id = ? WHERE id = ? AND state = 'approved' AND undo_id IS NULL`)
            .run(r.undoId, r.id);
          if (changes === 0) return false;
          this.s.history.run(r.at, 'review', r.id, 'queued', reviewDetail.queued(r.undoId));
          return true;
        }).immediate();
      case 'sealedPage':
        return sqliteSealedPage(this.db, r.table, r.after, r.limit);
      case 'reseal':
        return sqliteReseal(this.db, r.v, r.to);
      case 'checkpoint':
        // Old page images stay in the WAL until it is reset: truncate it.
        this.db.pragma('wal_checkpoint(TRUNCATE)');
        return null;
      case 'retentionPlan':
        return sqlitePlan(this.db, r.sealedBefore, r.evidenceBefore);
      case 'eraseSealed':
        return sqliteEraseSealed(this.db, r.before, r.at, r.limit, r.detail);
      case 'purgeCandidates':
        return sqlitePurgeCandidates(this.db, r.before, r.limit);
      case 'purge':
        sqlitePurge(this.db, r.batch, r.summary);
        return null;
      case 'pruned':
        return sqlitePruned(this.db);
      case 'reconJournal':
        return sqliteReconJournal(this.db, r.q);
      case 'reconRefunds':
        return sqliteReconRefunds(this.db, r.since, r.until);
      case 'insertReconRun':
        return sqliteInsertReconRun(this.db, r.row);
      case 'reconRuns':
        return sqliteReconRuns(this.db);
      case 'report': // ":memory:" only: a file's report has a worker of its own (sqlite-report.ts)
        return sqliteReport(this.db, r.q);
    }
  }

  private findTxns(q: TxnQuery): TxnRow[] {
    const fields = txnQueryFields(q);
    if (fields.length === 0) return [];
    const key = fields.map(([k]) => k).join(',');
    let stmt = this.finders.get(key);
    if (stmt === undefined) {
      const where = fields.map(([k]) => `${FIND_COLUMN[k]} = ?`).join(' AND ');
      stmt = this.db.prepare<unknown[], unknown>(`SELECT ${TXN_COLUMNS} FROM txns WHERE ${where} ORDER BY created_at, rowid`);
      this.finders.set(key, stmt);
    }
    return stmt.all(...fields.map(([, v]) => v)) as TxnRow[];
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

/**
 * Brings the database up to the last migration; returns the version it is at. Each
 * migration runs in its own BEGIN IMMEDIATE transaction that first re-reads the version,
 * so two processes opening one new file at once apply each migration once.
 */
export function migrate(db: Database.Database, label: string, migrations: readonly Migration[]): number {
  for (let i = 1; i < migrations.length; i++) {
    if (migrations[i].version <= migrations[i - 1].version) {
      throw new Error(`${label}: migrations out of order: ${migrations[i].version} after ${migrations[i - 1].version}`);
    }
  }
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY NOT NULL, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
  const current = db.prepare<[], number>('SELECT COALESCE(MAX(version), 0) FROM schema_migrations').pluck();
  const record = db.prepare<[number, string, number]>('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
  const latest = migrations.length === 0 ? 0 : migrations[migrations.length - 1].version;
  const at = current.get() ?? 0;
  if (at > latest) {
    throw new Error(`${label}: the database is at schema version ${at}, newer than this revswitch knows (${latest}); upgrade revswitch`);
  }
  for (const m of migrations) {
    if (m.version <= at) continue;
    const step = db.transaction(() => {
      if ((current.get() ?? 0) >= m.version) return; // another process got there first
      db.exec(m.sql);
      record.run(m.version, m.name, Date.now());
    });
    try {
      step.immediate();
    } catch (e) {
      throw new Error(`${label}: migration ${m.version} (${m.name}) failed: ${message(e)}`);
    }
  }
  return current.get() ?? 0;
}
