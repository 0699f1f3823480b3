/**
 * The PostgreSQL backend of the group-commit store: a pool, the reads, and each batch
 * (the queue of ./group-commit.ts hands over one at a time) as ONE transaction on one
 * pooled connection. The client runs in node-postgres's pipeline mode: BEGIN, the batch's
 * statements (./postgres-batch.ts) and COMMIT are written at once and the answers stream
 * back, so a batch costs one round trip plus the server's work, not a round trip per
 * statement (`pipeline: false` waits for each answer, for measuring).
 *
 * Any error aborts a PostgreSQL transaction (unlike SQLite, where a refused statement
 * undoes itself and the transaction goes on). A per-operation SAVEPOINT would isolate it
 * at the price of two more statements per write on the hot path; instead a batch whose
 * operation is refused by the data (a constraint, a value out of range, a trigger
 * raising: ./postgres-errors.ts) is rolled back and run again without that operation,
 * which is reported refused alone: the rest commits, exactly as in SQLite, and a clean
 * batch pays nothing. (A refused multi-row statement does not say which of its
 * operations it was: that batch reruns one statement per operation to find it.) A
 * serialization failure or deadlock reruns the whole batch (a few times); anything else
 * (the connection, a lock timeout, the disk) fails the batch as a whole and every caller
 * is told.
 */
import pg from 'pg';
import type { PoolClient, QueryConfig, QueryResult } from 'pg';
import { repairDetail, reviewDetail, type BatchOutcome, type OpResult, type StoreBackend, type StoreRead } from './backend.js';
import { POSTGRES_MIGRATIONS } from './migrations/postgres.js';
import { describeUnit, idOf, plan, type Unit } from './postgres-batch.js';
import { poolConfig, type PostgresConfig } from './postgres-config.js';
import { conflict, IN_FAILED_TRANSACTION, pgMessage, refusedByData, sqlState } from './postgres-errors.js';
import { migratePostgres, withClient } from './postgres-migrate.js';
import { pgInsertReconRun, pgReconJournal, pgReconRefunds, pgReconRuns } from './recon-pg.js';
import { findTxnsQuery, outcome, q, type StatementName } from './postgres-sql.js';
import { pgReportConnection } from './report-postgres.js';
import type { HistoryRow, NodeRow, ReversalRow, ReviewRow, StoreOp, TxnRow } from './types.js';
import { pgReseal, pgSealedPage, pgSealedValues, type PageRow } from './sealed-rows.js';
import { pgEraseSealed, pgPlan, pgPruned, pgPurge, pgPurgeCandidates } from './retention-pg.js';

const MAX_CONFLICT_RETRIES = 3;

type Attempt =
  /** Per operation of the batch (undefined: not sent): the rows its statement changed, or why it alone failed. */
  | { kind: 'committed'; rows: (number | string | undefined)[] }
  /** Operation `index` was refused by the data; the transaction was rolled back. */
  | { kind: 'refused'; index: number; error: string }
  /** A multi-row statement was refused by the data: which operation is unknown; rolled back. */
  | { kind: 'unknown-refusal'; error: string }
  /** Serialization failure or deadlock; rolled back. */
  | { kind: 'conflict'; error: string };

export class PostgresBackend implements StoreBackend {
  private pool: pg.Pool | null = null;
  /** The schema version after open(). */
  schemaVersion = 0;

  constructor(readonly config: PostgresConfig) {}

  async open(): Promise<void> {
    const c = this.config;
    const pool = new pg.Pool(poolConfig(c));
    // A connection that dies while idle (a server restart, a terminated backend) is
    // dropped by the pool, and the next batch gets a new one; one that dies during a
    // batch fails that batch through its queries. Neither may crash the process.
    pool.on('error', () => undefined);
    pool.on('connect', (client) => { client.on('error', () => undefined); });
    try {
      // Migrations run on a connection of their own, outside pipeline mode: a migration is
      // one multi-statement script, which the simple query protocol runs as a whole.
      this.schemaVersion = await withClient(c, (client) => migratePostgres(client, c.label, c.schema, POSTGRES_MIGRATIONS));
    } catch (e) {
      await pool.end().catch(() => undefined);
      throw e;
    }
    this.pool = pool;
  }

  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = null;
    if (pool !== null) await pool.end();
  }

  private live(): pg.Pool {
    if (this.pool === null) throw new Error(`${this.config.label}: the database is not open`);
    return this.pool;
  }

  /**
   * The batch as one transaction. Refused operations are taken out one by one (each
   * costs a rerun); conflicts rerun the batch; anything else rejects the whole batch.
   */
  async runBatch(ops: StoreOp[]): Promise<BatchOutcome> {
    const pool = this.live();
    const t0 = performance.now();
    const refused = new Map<number, string>();
    let multiRow = this.config.multiRow;
    let conflicts = 0;
    for (;;) {
      const client = await connect(pool);
      let attempt: Attempt;
      try {
        attempt = await this.attempt(client, ops, plan(ops, refused, multiRow));
      } catch (e) {
        client.release(true); // its state is unknown: never back into the pool
        throw e instanceof Error ? e : new Error(String(e));
      }
      client.release();
      switch (attempt.kind) {
        case 'committed': {
          const results = new Array<OpResult>(ops.length);
          for (let i = 0; i < ops.length; i++) {
            const rows = attempt.rows[i];
            const error = refused.get(i) ?? (typeof rows === 'string' ? rows : undefined);
            results[i] = error !== undefined ? { ok: false, error } : outcome(ops[i], rows as number);
          }
          return { results, commitMs: performance.now() - t0 };
        }
        case 'refused':
          refused.set(attempt.index, attempt.error);
          break;
        case 'unknown-refusal':
          multiRow = false; // again one statement per operation, to find the one
          break;
        case 'conflict':
          if (++conflicts > MAX_CONFLICT_RETRIES) throw new Error(`${attempt.error}; gave up after ${MAX_CONFLICT_RETRIES} reruns`);
          break;
      }
    }
  }

  /** BEGIN, the statements, COMMIT: all written at once in pipeline mode. */
  private async attempt(client: PoolClient, ops: StoreOp[], units: Unit[]): Promise<Attempt> {
    const statements: QueryConfig<unknown[]>[] = [{ text: 'BEGIN' }, ...units.map((u) => u.query), { text: 'COMMIT' }];
    const [b, ...r] = this.config.pipeline ? await pipelined(client, statements) : await oneByOne(client, statements);
    const c = r.pop() as PromiseSettledResult<QueryResult>;
    if (b.status === 'rejected') throw new Error(`BEGIN failed: ${pgMessage(b.reason)}`);
    if (c.status === 'fulfilled' && c.value.command === 'COMMIT') {
      // Committed. A statement that failed anyway never reached the transaction (node-postgres
      // refused its values before sending): its operations alone are refused.
      const rows = new Array<number | string | undefined>(ops.length);
      for (let k = 0; k < units.length; k++) {
        const u = units[k];
        const x = r[k];
        if (x.status === 'rejected') {
          for (const i of u.ops) rows[i] = pgMessage(x.reason);
        } else if (!u.multi) {
          rows[u.ops[0]] = x.value.rowCount ?? 0;
        } else {
          const done = new Set((x.value.rows as { ref: string }[]).map((h) => h.ref));
          for (const i of u.ops) rows[i] = done.has(idOf(ops[i])) ? 1 : 0;
        }
      }
      return { kind: 'committed', rows };
    }
    // Not committed: the first statement that failed on its own account says why. (The
    // COMMIT of an aborted transaction already rolled it back; make sure of it.)
    let rollback: string | null = null;
    if (client.getTransactionStatus() !== 'I') rollback = await client.query('ROLLBACK').then(() => null, (e: unknown) => pgMessage(e));
    for (let k = 0; k < units.length; k++) {
      const x = r[k];
      if (x.status === 'fulfilled' || sqlState(x.reason) === IN_FAILED_TRANSACTION) continue;
      const state = sqlState(x.reason);
      const u = units[k];
      const what = `${describeUnit(u, ops)}: ${pgMessage(x.reason)}`;
      if (rollback !== null) throw new Error(`${what}; then ROLLBACK failed: ${rollback}`);
      if (refusedByData(state)) return u.multi ? { kind: 'unknown-refusal', error: what } : { kind: 'refused', index: u.ops[0], error: pgMessage(x.reason) };
      if (conflict(state)) return { kind: 'conflict', error: what };
      throw new Error(what);
    }
    if (c.status === 'rejected') {
      if (conflict(sqlState(c.reason))) return { kind: 'conflict', error: `COMMIT: ${pgMessage(c.reason)}` };
      throw new Error(`COMMIT failed: ${pgMessage(c.reason)}`);
    }
    throw new Error(`the transaction was rolled back (the server answered ${c.value.command} to COMMIT)`);
  }

  async read(r: StoreRead): Promise<unknown> {
    const pool = this.live();
    const all = async <T>(name: StatementName | QueryConfig<unknown[]>, values: unknown[] = []): Promise<T[]> => {
      try {
        return (await pool.query(typeof name === 'string' ? q(name, values) : name)).rows as T[];
      } catch (e) {
        throw new Error(`${this.config.label}: ${r.read}: ${pgMessage(e)}`);
      }
    };
    const count = async (name: StatementName | QueryConfig<unknown[]>, values: unknown[] = []): Promise<number> => {
      try {
        return (await pool.query(typeof name === 'string' ? q(name, values) : name)).rowCount ?? 0;
      } catch (e) {
        throw new Error(`${this.config.label}: ${r.read}: ${pgMessage(e)}`);
      }
    };
    switch (r.read) {
      case 'txn':
        return (await all<TxnRow>('txn', [r.id]))[0];
      case 'recentTxns':
        return r.limit === undefined ? all<TxnRow>('recentTxns', [r.since]) : all<TxnRow>('recentTxnsNewest', [r.since, r.limit]);
      case 'unfinishedTxns':
        return all<TxnRow>('unfinishedTxns', []);
      case 'reversal':
        return (await all<ReversalRow>('reversal', [r.id]))[0];
      case 'reversals':
        return r.states === undefined ? all<ReversalRow>('reversalsAll', []) : all<ReversalRow>('reversalsIn', [[...r.states]]);
      case 'history':
        return all<HistoryRow>('history', [r.ref]);
      case 'txnsBetween':
        return all<TxnRow>('txnsBetween', [r.since, r.until]);
      case 'findTxns': {
        const query = findTxnsQuery(r.q);
        return query === null ? [] : all<TxnRow>(query);
      }
      case 'reversalsBetween':
        return all<ReversalRow>('reversalsBetween', [r.since, r.until]);
      case 'historyBetween':
        return all<HistoryRow>('historyBetween', [r.since, r.until]);
      case 'heartbeat':
        await all('heartbeat', [r.node, r.at, r.info]);
        return null;
      case 'nodes':
        return all<NodeRow>('nodes', []);
      case 'claimReversals': {
        const rows = await all<ReversalRow & { insSeq?: number }>('claimReversals', [r.node, r.now, r.leaseMs, r.limit, r.includeOwn]);
        // RETURNING has no ORDER BY: oldest first here.
        rows.sort((a, b) => a.enqueuedAt - b.enqueuedAt || (a.insSeq ?? 0) - (b.insSeq ?? 0));
        for (const row of rows) delete row.insSeq;
        return rows;
      }
      case 'renewLeases':
        return (await count('renewLeases', [r.node, r.until]));
      case 'releaseLeases':
        return (await count('releaseLeases', [r.node, r.ids]));
      case 'claimOrphanTxns': {
        const rows = await all<TxnRow & { ins_seq?: number }>('claimOrphanTxns', [r.node, r.staleBefore, r.at]);
        for (const row of rows) delete row.ins_seq;
        return rows;
      }
      case 'forgetNode': {
        const [o] = await all<{ known: boolean; leases: number; unfinished: number; forgotten: boolean }>('forgetNode', [r.node]);
        return { forgotten: o.forgotten, known: o.known, leases: Number(o.leases), unfinished: Number(o.unfinished) };
      }
      case 'retryManual':
        return (await all('retryManual', [r.id, r.at, r.note, repairDetail.retried(r.note)])).length === 1;
      case 'undoBacklog':
        return all('undoBacklog', []);
      case 'reassignUpstream':
        return (await all('reassignUpstream', [r.from, r.to, r.at, repairDetail.reassigned(r.from, r.to, r.note)])).length;
      case 'insertReview': {
        const v = r.row;
        return (await all('insertReview', [v.id, v.txnId, v.upstream, v.proposed, v.amount, v.reason, v.finalAmount, v.why, v.state, v.createdAt,
          v.decidedAt, v.decidedBy, v.note, v.action, v.undoId, reviewDetail.inserted(v)])).length === 1;
      }
      case 'review':
        return (await all<ReviewRow>('review', [r.id]))[0];
      case 'reviews':
        return r.states === undefined ? all<ReviewRow>('reviewsAll', []) : all<ReviewRow>('reviewsIn', [[...r.states]]);
      case 'decideReview':
        return (await all('decideReview', [r.d.id, r.d.state, r.d.at, r.d.by, r.d.note, r.d.action, reviewDetail.decided(r.d)])).length === 1;
      case 'reviewQueued':
        return (await all('reviewQueued', [r.id, r.undoId, r.at, reviewDetail.queued(r.undoId)])).length === 1;
      case 'sealedPage':
        return pgSealedValues(r.table, await all<PageRow>(pgSealedPage(r.table, r.after, r.limit)));
      case 'reseal':
        return (await count(pgReseal(r.v, r.to))) === 1;
      case 'checkpoint':
        // The database's own business (autovacuum); rows are what a scan of PostgreSQL reads.
        return null;
      case 'retentionPlan':
      case 'eraseSealed':
      case 'purgeCandidates':
      case 'purge':
      case 'pruned': {
        const client = await connect(pool);
        try {
          return await retention(client, r);
        } catch (e) {
          throw new Error(`${this.config.label}: ${r.read}: ${pgMessage(e)}`);
        } finally {
          client.release();
        }
      }
      case 'reconJournal':
      case 'reconRefunds':
      case 'insertReconRun':
      case 'reconRuns': {
        const client = await connect(pool);
        try {
          return await recon(client, r);
        } catch (e) {
          throw new Error(`${this.config.label}: ${r.read}: ${pgMessage(e)}`);
        } finally {
          client.release();
        }
      }
      case 'report':
        try {
          return await pgReportConnection(this.config, r.q);
        } catch (e) {
          throw new Error(`${this.config.label}: report: ${pgMessage(e)}`);
        }
      default: {
        const unknown: never = r; // a read added to StoreRead must be added here too
        throw new Error(`${this.config.label}: unknown read ${JSON.stringify(unknown)}`);
      }
    }
  }
}

/** Every statement written at once (pipeline mode); the answers, in order. */
function pipelined(client: PoolClient, statements: QueryConfig<unknown[]>[]): Promise<PromiseSettledResult<QueryResult>[]> {
  return Promise.allSettled(statements.map((st) => client.query(st)));
}

/**
 * Each statement once the previous one was answered (one round trip each). After a
 * failure, the statements before COMMIT are not sent and count as ignored, as the server
 * would have ignored them; COMMIT is sent, and rolls the transaction back.
 */
async function oneByOne(client: PoolClient, statements: QueryConfig<unknown[]>[]): Promise<PromiseSettledResult<QueryResult>[]> {
  const out: PromiseSettledResult<QueryResult>[] = [];
  let failed = false;
  for (let k = 0; k < statements.length; k++) {
    if (failed && k < statements.length - 1) {
      out.push({ status: 'rejected', reason: Object.assign(new Error('not sent: an earlier statement failed'), { code: IN_FAILED_TRANSACTION }) });
      continue;
    }
    try {
      out.push({ status: 'fulfilled', value: await client.query(statements[k]) });
    } catch (e) {
      out.push({ status: 'rejected', reason: e });
      failed = true;
    }
  }
  return out;
}

/** A pooled connection, or an error saying why there is none (the caller's error names the store). */
async function connect(pool: pg.Pool): Promise<PoolClient> {
  try {
    return await pool.connect();
  } catch (e) {
    throw new Error(`cannot connect: ${pgMessage(e)}`);
  }
}

type ReconRead = Extract<StoreRead, { read: 'reconJournal' | 'reconRefunds' | 'insertReconRun' | 'reconRuns' }>;

/** Reconciliation's reads, each on a client of its own (./recon-pg.ts). */
function recon(c: PoolClient, r: ReconRead): Promise<unknown> {
  switch (r.read) {
    case 'reconJournal':
      return pgReconJournal(c, r.q);
    case 'reconRefunds':
      return pgReconRefunds(c, r.since, r.until);
    case 'insertReconRun':
      return pgInsertReconRun(c, r.row);
    case 'reconRuns':
      return pgReconRuns(c);
  }
}

type RetentionRead = Extract<StoreRead, { read: 'retentionPlan' | 'eraseSealed' | 'purgeCandidates' | 'purge' | 'pruned' }>;

/** Retention's reads, each on a client of its own (./retention-pg.ts). */
async function retention(c: PoolClient, r: RetentionRead): Promise<unknown> {
  switch (r.read) {
    case 'retentionPlan':
      return pgPlan(c, r.sealedBefore, r.evidenceBefore);
    case 'eraseSealed':
      return pgEraseSealed(c, r.before, r.at, r.limit, r.detail);
    case 'purgeCandidates':
      return pgPurgeCandidates(c, r.before, r.limit);
    case 'purge':
      await pgPurge(c, r.batch, r.summary);
      return null;
    case 'pruned':
      return pgPruned(c);
  }
}
