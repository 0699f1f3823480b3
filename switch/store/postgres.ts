/**
 * The PostgreSQL store: `postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?schema=NAME&pool=N&...]`
 * (`postgresql://` too). Every table lives in `schema` (default `public`; created if
 * missing): each pooled connection starts with its search_path set to it, so several
 * stores (a test run each, or a staging and a production switch) share one database
 * without seeing each other's rows. Versioned migrations run at open()
 * (./migrations/postgres.ts), each in a transaction under an advisory lock, so nodes
 * starting at once apply each migration once.
 *
 * Group commit: the queue above (./group-commit.ts) hands over one batch at a time, and a
 * batch is ONE transaction on one pooled connection. The client runs in node-postgres's
 * pipeline mode: BEGIN, the batch's statements and COMMIT are written at once and the
 * answers stream back, so a batch costs one round trip plus the server's work, not a
 * round trip per statement. The batch is cut into segments of operations on distinct
 * rows, and each segment's operations of one kind go as ONE multi-row statement (arrays
 * through unnest(); see plan()), which saves the server and node-postgres most of the
 * per-statement work. Measured in bench/suites/store.ts (512 writers, a loaded 2-core
 * box): multi-row ~1.5x the writes/s of one statement per operation, which is itself
 * ~2.5x one statement per round trip; `multiRow: false` / `pipeline: false` switch them off.
 *
 * Each statement carries the change AND its history row, in a data-modifying CTE
 * (`WITH row AS (INSERT|UPDATE ... RETURNING ...) INSERT INTO history SELECT ... FROM row`),
 * so a change never commits without its history and a history row is written only when
 * the change matched a row:
 * - insertTxn / insertReversal: `ON CONFLICT (id) DO NOTHING`; no row back means the id
 *   exists: insertTxn is refused as a duplicate (its promise rejects), insertReversal
 *   answers false. No error reaches the database, so the transaction carries on.
 * - updateTxn: no row back means no such transaction: refused, as in SQLite.
 * - updateReversal: compare-and-set, `WHERE id = $1 AND state = ANY($16)`; false when no row.
 *
 * Any other error aborts a PostgreSQL transaction (unlike SQLite, where a refused
 * statement undoes itself and the transaction goes on). A per-operation SAVEPOINT would
 * isolate it at the price of two more statements per write on the hot path; instead a
 * batch whose operation is refused by the data (SQLSTATE classes 22, 23, P0, ...: a
 * constraint, a value out of range, a trigger raising) is rolled back and run again
 * without that operation, which is reported refused alone: the rest commits, exactly as
 * in SQLite, and a clean batch pays nothing. (A refused multi-row statement does not say
 * which of its operations it was: that batch reruns one statement per operation to find
 * it.) A serialization failure or deadlock (class
 * 40) reruns the whole batch (a few times); anything else (the connection, a lock
 * timeout, the disk) fails the batch as a whole and every caller is told.
 *
 * BIGINT (int8) comes back from node-postgres as a string; this store's pool parses it to
 * a number (epoch ms, sequence numbers), refusing a value beyond 2^53 rather than
 * rounding it. The parser is the pool's own: the process-wide pg.types are left alone.
 */
import pg from 'pg';
import type { CustomTypesConfig, PoolClient, QueryConfig, QueryResult } from 'pg';
import {
  describeOp, insertReversalDetail, insertTxnDetail, txnQueryFields, updateTxnDetail, type BatchOutcome, type OpResult, type StoreBackend, type StoreRead,
} from './backend.js';
import { GroupCommitStore, type GroupCommitOptions } from './group-commit.js';
import { POSTGRES_MIGRATIONS } from './migrations/postgres.js';
import type { Migration } from './migrations/sqlite.js';
import type { HistoryRow, NodeRow, ReversalRow, StoreOp, TxnQuery, TxnRow } from './types.js';
import { redactUrl } from './url.js';

export interface PostgresUrl {
  /** What node-postgres gets: the URL without this store's own parameters. */
  connectionString: string;
  /** Where the tables live. */
  schema: string;
  /** Pooled connections (one carries the batches, the others reads). */
  pool: number;
  /** How long a statement waits for a lock (another node's, an operator's) before the batch fails, ms; 0 waits forever. */
  lockTimeoutMs: number;
  /** How long connecting may take, ms; 0 waits forever. */
  connectTimeoutMs: number;
}

export interface PostgresStoreOptions extends Partial<GroupCommitOptions> {
  /** Default: the URL's, else `public`. */
  schema?: string;
  /** Default: the URL's `pool`, else 4. */
  pool?: number;
  /** Default: the URL's `lock_timeout`, else 5000 (SQLite's busy_timeout). */
  lockTimeoutMs?: number;
  /** Default: the URL's `connect_timeout` (seconds), else 10 s. */
  connectTimeoutMs?: number;
  /**
   * node-postgres pipeline mode (default true): a batch's statements go out together.
   * false waits for each answer before sending the next statement (for measuring).
   */
  pipeline?: boolean;
  /**
   * Several operations of one kind on distinct rows as one multi-row statement (default
   * true). false: one statement per operation (for measuring).
   */
  multiRow?: boolean;
}

const EXPECTED = 'expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?schema=NAME&pool=N&lock_timeout=MS&connect_timeout=S]';
/** Query parameters node-postgres understands and this store passes on untouched. */
const PASS_THROUGH = new Set(['host', 'port', 'user', 'password', 'sslmode', 'ssl', 'sslcert', 'sslkey', 'sslrootcert', 'application_name']);
/** Lower case: search_path folds an unquoted name to lower case, and this one goes unquoted into a startup option. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

function wholeNumber(url: string, k: string, v: string, min: number, max: number, unit: string): number {
  const n = Number(v);
  if (v === '' || !Number.isInteger(n) || n < min || n > max) {
    throw new Error(`store URL ${JSON.stringify(redactUrl(url))}: ${k} must be a whole number of ${unit} from ${min} to ${max}, got ${JSON.stringify(v)}`);
  }
  return n;
}

export function checkSchemaName(url: string, schema: string): string {
  if (!SCHEMA_NAME.test(schema) || schema.startsWith('pg_')) {
    throw new Error(`store URL ${JSON.stringify(redactUrl(url))}: schema must be a lower-case name of letters, digits and _ ` +
      `(at most 63, not starting with a digit or pg_), got ${JSON.stringify(schema)}`);
  }
  return schema;
}

/** Parses a postgres:// URL; throws an error naming the URL (without its password) and what was expected. */
export function parsePostgresUrl(url: string): PostgresUrl {
  const shown = JSON.stringify(redactUrl(url));
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`store URL ${shown}: not a valid URL; ${EXPECTED}`);
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') throw new Error(`store URL ${shown}: ${EXPECTED}`);
  if (u.hostname === '' && !u.searchParams.has('host')) throw new Error(`store URL ${shown}: no host; ${EXPECTED}`);
  if (u.pathname === '' || u.pathname === '/') throw new Error(`store URL ${shown}: no database name; ${EXPECTED}`);
  const out: PostgresUrl = { connectionString: '', schema: 'public', pool: 4, lockTimeoutMs: 5000, connectTimeoutMs: 10_000 };
  const seen = new Set<string>();
  for (const [k, v] of u.searchParams) {
    if (seen.has(k)) throw new Error(`store URL ${shown}: ${k} is given twice`);
    seen.add(k);
    if (k === 'schema') out.schema = checkSchemaName(url, v);
    else if (k === 'pool') out.pool = wholeNumber(url, k, v, 1, 1000, 'connections');
    else if (k === 'lock_timeout') out.lockTimeoutMs = wholeNumber(url, k, v, 0, 2_147_483_647, 'ms');
    else if (k === 'connect_timeout') out.connectTimeoutMs = wholeNumber(url, k, v, 0, 86_400, 'seconds') * 1000;
    else if (!PASS_THROUGH.has(k)) {
      throw new Error(`store URL ${shown}: unknown parameter ${JSON.stringify(k)}; expected schema, pool, lock_timeout, connect_timeout or one of ${[...PASS_THROUGH].join(', ')}`);
    }
  }
  for (const k of ['schema', 'pool', 'lock_timeout', 'connect_timeout']) u.searchParams.delete(k);
  out.connectionString = u.toString();
  return out;
}

/** A PostgreSQL identifier, quoted. */
const ident = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/** int8 to a JS number, never rounded. */
function parseInt8(s: string): number {
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw new Error(`the database returned the BIGINT ${s}, beyond JavaScript's safe integers`);
  return n;
}
const INT8_OID = 20;
const builtinParser = pg.types.getTypeParser;
/** The pool's type parsers: node-postgres's, except int8 (a string there) parsed to a number. */
export const PG_TYPES: CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary' ? parseInt8 : builtinParser(oid, format as 'text')) as CustomTypesConfig['getTypeParser'],
};

/** An error's message with its SQLSTATE or system code; an AggregateError (every address refused) says what each one did. */
export function pgMessage(e: unknown): string {
  if (e instanceof AggregateError && e.errors.length > 0) {
    const inner = [...new Set(e.errors.map(pgMessage))].join('; ');
    return e.message ? `${e.message}: ${inner}` : inner;
  }
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    const msg = e.message || e.name;
    return typeof code === 'string' && !msg.includes(code) ? `${msg} (${code})` : msg;
  }
  return String(e);
}

const sqlState = (e: unknown): string => {
  const code = e instanceof Error ? (e as { code?: unknown }).code : undefined;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : '';
};

/**
 * Errors that belong to one operation's data, as a refused statement in SQLite does:
 * data exceptions (22), integrity constraints (23), a trigger or function raising (P0,
 * 38, 39), WITH CHECK OPTION (44). The rest concern the batch, the session or the server.
 */
const refusedByData = (state: string): boolean => /^(22|23|P0|38|39|44)/.test(state);
/** Serialization failure, deadlock: nothing committed, the same batch may well commit when run again. */
const conflict = (state: string): boolean => state.startsWith('40');
/** Commands ignored until the end of an aborted transaction: an earlier statement's failure, not this one's. */
const IN_FAILED_TRANSACTION = '25P02';
const MAX_CONFLICT_RETRIES = 3;

const TXN_COLUMNS = `id, node, listener, sender, terminal, merchant, acquirer, mti, stan, f7, rrn, amount, currency,
  pan_masked AS "panMasked", pan_hash AS "panHash", business_date AS "businessDate", upstream, upstream_stan AS "upstreamStan",
  state, response_code AS "responseCode", failure_class AS "failureClass", decision, reversal_id AS "reversalId", approval_code AS "approvalCode", sealed,
  created_at AS "createdAt", updated_at AS "updatedAt"`;

const REVERSAL_COLUMNS = `id, txn_id AS "txnId", upstream, state, attempts, reason, final_amount AS "finalAmount", explanation,
  original, message, sent_stan AS "sentStan", enqueued_at AS "enqueuedAt", due_at AS "dueAt", last_error AS "lastError", note,
  updated_at AS "updatedAt"`;

/** The statements, prepared once per connection (named). */
const SQL = {
  insertTxn: `WITH row AS (
      INSERT INTO txns (id, node, listener, sender, terminal, merchant, acquirer, mti, stan, f7, rrn, amount, currency, pan_masked,
        pan_hash, business_date, upstream, upstream_stan, state, response_code, failure_class, decision, reversal_id, sealed,
        created_at, updated_at)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24,
        $25::bigint, $26::bigint)
      ON CONFLICT (id) DO NOTHING
      RETURNING id, state, created_at),
    k AS (INSERT INTO txn_keys (key, txn_id, created_at) SELECT $28::text, id, created_at FROM row WHERE $28::text IS NOT NULL)
    INSERT INTO history (at, kind, ref, state, detail) SELECT created_at, 'txn', id, state, $27::text FROM row`,
  updateTxn: `WITH row AS (
      UPDATE txns SET state = $2::text, updated_at = $3::bigint,
        response_code = CASE WHEN $4::boolean THEN $5::text ELSE response_code END,
        failure_class = CASE WHEN $6::boolean THEN $7::text ELSE failure_class END,
        decision = CASE WHEN $8::boolean THEN $9::text ELSE decision END,
        reversal_id = CASE WHEN $10::boolean THEN $11::text ELSE reversal_id END,
        approval_code = CASE WHEN $13::boolean THEN $14::text ELSE approval_code END
      WHERE id = $1::text
      RETURNING id, state, updated_at)
    INSERT INTO history (at, kind, ref, state, detail) SELECT updated_at, 'txn', id, state, $12::text FROM row`,
  insertReversal: `WITH row AS (
      INSERT INTO reversals (id, txn_id, upstream, state, attempts, reason, final_amount, explanation, original, message, sent_stan,
        enqueued_at, due_at, last_error, note, updated_at, owner, lease_until)
      VALUES ($1, $2, $3, $4, $5::integer, $6, $7, $8, $9, $10, $11, $12::bigint, $13::bigint, $14, $15, $16::bigint, $18::text, $19::bigint)
      ON CONFLICT (id) DO NOTHING
      RETURNING id, state, enqueued_at)
    INSERT INTO history (at, kind, ref, state, detail) SELECT enqueued_at, 'reversal', id, state, $17::text FROM row`,
  updateReversal: `WITH row AS (
      UPDATE reversals SET state = $2::text, updated_at = $3::bigint,
        attempts = CASE WHEN $4::boolean THEN $5::integer ELSE attempts END,
        message = CASE WHEN $6::boolean THEN $7::text ELSE message END,
        sent_stan = CASE WHEN $8::boolean THEN $9::text ELSE sent_stan END,
        due_at = CASE WHEN $10::boolean THEN $11::bigint ELSE due_at END,
        last_error = CASE WHEN $12::boolean THEN $13::text ELSE last_error END,
        note = CASE WHEN $14::boolean THEN $15::text ELSE note END
      WHERE id = $1::text AND state = ANY($16::text[])
      RETURNING id, state, updated_at)
    INSERT INTO history (at, kind, ref, state, detail) SELECT updated_at, 'reversal', id, state, $17::text FROM row`,
  txn: `SELECT ${TXN_COLUMNS} FROM txns WHERE id = $1`,
  recentTxns: `SELECT ${TXN_COLUMNS} FROM txns WHERE created_at >= $1::bigint ORDER BY created_at, ins_seq`,
  recentTxnsNewest: `SELECT ${TXN_COLUMNS} FROM (SELECT * FROM txns WHERE created_at >= $1::bigint
    ORDER BY created_at DESC, ins_seq DESC LIMIT $2::integer) txns ORDER BY created_at, ins_seq`,
  unfinishedTxns: `SELECT ${TXN_COLUMNS} FROM txns WHERE state = 'forwarded' ORDER BY created_at, ins_seq`,
  reversal: `SELECT ${REVERSAL_COLUMNS} FROM reversals WHERE id = $1`,
  reversalsAll: `SELECT ${REVERSAL_COLUMNS} FROM reversals ORDER BY enqueued_at, ins_seq`,
  reversalsIn: `SELECT ${REVERSAL_COLUMNS} FROM reversals WHERE state = ANY($1::text[]) ORDER BY enqueued_at, ins_seq`,
  history: 'SELECT seq, at, kind, ref, state, detail FROM history WHERE ref = $1 ORDER BY seq',
  txnsBetween: `SELECT ${TXN_COLUMNS} FROM txns WHERE created_at >= $1::bigint AND created_at < $2::bigint ORDER BY created_at, ins_seq`,
  reversalsBetween: `SELECT ${REVERSAL_COLUMNS} FROM reversals WHERE enqueued_at >= $1::bigint AND enqueued_at < $2::bigint
    ORDER BY enqueued_at, ins_seq`,
  historyBetween: 'SELECT seq, at, kind, ref, state, detail FROM history WHERE at >= $1::bigint AND at < $2::bigint ORDER BY seq',
  heartbeat: `INSERT INTO nodes (node, started_at, heartbeat_at, info) VALUES ($1::text, $2::bigint, $2::bigint, $3::text)
    ON CONFLICT (node) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, info = excluded.info`,
  nodes: `SELECT n.node, n.started_at AS "startedAt", n.heartbeat_at AS "heartbeatAt", n.info, n.lease_until AS "leaseUntil",
    (SELECT count(*)::bigint FROM reversals v WHERE v.owner = n.node AND v.state IN ('pending', 'sent')) AS leases
    FROM nodes n ORDER BY n.node`,
  // SKIP LOCKED: rows another node is claiming right now are passed over, never waited on
  // nor taken twice; the outer UPDATE re-checks nothing, the subselect's row locks hold.
  claimReversals: `UPDATE reversals r SET owner = $1::text, lease_until = $2::bigint + $3::bigint
    FROM (SELECT id AS cid FROM reversals WHERE state IN ('pending', 'sent')
      AND (owner IS NULL OR (owner = $1::text AND $5::boolean)
        OR (lease_until < $2::bigint AND COALESCE((SELECT n.lease_until FROM nodes n WHERE n.node = reversals.owner), 0) < $2::bigint))
      ORDER BY enqueued_at, ins_seq LIMIT $4::integer FOR UPDATE SKIP LOCKED) c
    WHERE r.id = c.cid
    RETURNING ${REVERSAL_COLUMNS}, owner, lease_until AS "leaseUntil", ins_seq AS "insSeq"`,
  renewLeases: `INSERT INTO nodes (node, started_at, heartbeat_at, info, lease_until) VALUES ($1::text, 0, 0, NULL, $2::bigint)
    ON CONFLICT (node) DO UPDATE SET lease_until = excluded.lease_until`,
  releaseLeases: 'UPDATE reversals SET owner = NULL, lease_until = 0 WHERE owner = $1::text AND id = ANY($2::text[])',
  claimOrphanTxns: `WITH c AS (
      SELECT t.id, t.node FROM txns t
      WHERE t.state = 'forwarded' AND t.node <> $1::text
        AND NOT EXISTS (SELECT 1 FROM nodes n WHERE n.node = t.node AND n.heartbeat_at >= $2::bigint)
      ORDER BY t.created_at, t.ins_seq FOR UPDATE OF t SKIP LOCKED),
    old AS (SELECT ${TXN_COLUMNS}, ins_seq FROM txns WHERE id IN (SELECT id FROM c)),
    upd AS (UPDATE txns t SET node = $1::text, state = 'recovered', updated_at = $3::bigint FROM c WHERE t.id = c.id RETURNING t.id),
    hist AS (INSERT INTO history (at, kind, ref, state, detail)
      SELECT $3::bigint, 'txn', c.id, 'recovered', json_build_object('note', 'taken over from node ' || c.node || ': its heartbeat stopped')::text
      FROM c JOIN upd USING (id))
    SELECT * FROM old WHERE id IN (SELECT id FROM upd) ORDER BY "createdAt", ins_seq`,
} as const;

/** The column of each TxnQuery field (fixed names: never text from the caller in SQL). */
const FIND_COLUMN: Record<keyof TxnQuery, string> = { rrn: 'rrn', terminal: 'terminal', stan: 'stan', businessDate: 'business_date' };

/** findTxns for the fields given: one named statement per combination of fields (at most 15). */
function findTxnsQuery(tq: TxnQuery): QueryConfig<unknown[]> | null {
  const fields = txnQueryFields(tq);
  if (fields.length === 0) return null;
  const where = fields.map(([k], i) => `${FIND_COLUMN[k]} = $${i + 1}::text`).join(' AND ');
  return {
    name: `revswitch_findTxns_${fields.map(([k]) => k).join('_')}`,
    text: `SELECT ${TXN_COLUMNS} FROM txns WHERE ${where} ORDER BY created_at, ins_seq`,
    values: fields.map(([, v]) => v),
  };
}

type StatementName = keyof typeof SQL;
const q = (name: StatementName, values: unknown[]): QueryConfig<unknown[]> => ({ name: `revswitch_${name}`, text: SQL[name], values });

const set = (v: unknown): boolean => v !== undefined;
const orNull = <T>(v: T | undefined): T | null => (v === undefined ? null : v);

/** One operation as its statement. */
function statement(op: StoreOp): QueryConfig<unknown[]> {
  switch (op.op) {
    case 'insertTxn': {
      const r = op.row;
      return q('insertTxn', [r.id, r.node, r.listener, r.sender, orNull(r.terminal), orNull(r.merchant), orNull(r.acquirer), r.mti, r.stan,
        orNull(r.f7), orNull(r.rrn), orNull(r.amount), orNull(r.currency), orNull(r.panMasked), orNull(r.panHash), orNull(r.businessDate),
        orNull(r.upstream), orNull(r.upstreamStan), r.state, orNull(r.responseCode), orNull(r.failureClass), orNull(r.decision),
        orNull(r.reversalId), orNull(r.sealed), r.createdAt, r.updatedAt, insertTxnDetail(r), r.dupKey ?? null]);
    }
    case 'updateTxn': {
      const u = op.update;
      return q('updateTxn', [u.id, u.state, u.at, set(u.responseCode), orNull(u.responseCode), set(u.failureClass), orNull(u.failureClass),
        set(u.decision), orNull(u.decision), set(u.reversalId), orNull(u.reversalId), updateTxnDetail(u), set(u.approvalCode), orNull(u.approvalCode)]);
    }
    case 'insertReversal': {
      const r = op.row;
      return q('insertReversal', [r.id, orNull(r.txnId), r.upstream, r.state, r.attempts, r.reason, orNull(r.finalAmount), r.explanation,
        r.original, orNull(r.message), orNull(r.sentStan), r.enqueuedAt, r.dueAt, orNull(r.lastError), orNull(r.note), r.updatedAt,
        insertReversalDetail(r), r.owner ?? null, r.leaseUntil ?? 0]);
    }
    case 'updateReversal': {
      const u = op.update;
      return q('updateReversal', [u.id, u.state, u.at, set(u.attempts), orNull(u.attempts), set(u.message), orNull(u.message),
        set(u.sentStan), orNull(u.sentStan), set(u.dueAt), orNull(u.dueAt), set(u.lastError), orNull(u.lastError), set(u.note),
        orNull(u.note), [...u.from], orNull(u.detail)]);
    }
  }
}

/** What a statement's row count means for its operation. */
function outcome(op: StoreOp, rows: number): OpResult {
  switch (op.op) {
    case 'insertTxn':
      return rows === 1 ? { ok: true, value: true } : { ok: false, error: `duplicate key: a transaction with id ${op.row.id} exists` };
    case 'updateTxn':
      return rows === 1 ? { ok: true, value: true } : { ok: false, error: `no transaction with id ${op.update.id}` };
    case 'insertReversal':
    case 'updateReversal':
      return { ok: true, value: rows === 1 };
  }
}

/**
 * Several operations of one kind as ONE statement: the rows go in as arrays (one per
 * column), unnest() makes a table of them, and the change and the history rows are
 * written by one data-modifying CTE, as for a single operation. RETURNING gives the ids
 * whose history was written, i.e. whose change took place. Only for operations on
 * distinct ids (see plan()), so no row is touched twice by one statement.
 */
const MULTI = {
  insertTxn: `WITH v AS (
      SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
        $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[], $18::text[], $19::text[],
        $20::text[], $21::text[], $22::text[], $23::text[], $24::text[], $25::bigint[], $26::bigint[], $27::text[], $28::text[]) WITH ORDINALITY
        AS v(id, node, listener, sender, terminal, merchant, acquirer, mti, stan, f7, rrn, amount, currency, pan_masked, pan_hash,
          business_date, upstream, upstream_stan, state, response_code, failure_class, decision, reversal_id, sealed, created_at,
          updated_at, detail, dup_key, ord)),
    row AS (
      INSERT INTO txns (id, node, listener, sender, terminal, merchant, acquirer, mti, stan, f7, rrn, amount, currency, pan_masked,
        pan_hash, business_date, upstream, upstream_stan, state, response_code, failure_class, decision, reversal_id, sealed,
        created_at, updated_at)
      SELECT id, node, listener, sender, terminal, merchant, acquirer, mti, stan, f7, rrn, amount, currency, pan_masked, pan_hash,
        business_date, upstream, upstream_stan, state, response_code, failure_class, decision, reversal_id, sealed, created_at,
        updated_at FROM v ORDER BY ord
      ON CONFLICT (id) DO NOTHING
      RETURNING id),
    k AS (INSERT INTO txn_keys (key, txn_id, created_at) SELECT v.dup_key, v.id, v.created_at FROM v JOIN row USING (id) WHERE v.dup_key IS NOT NULL)
    INSERT INTO history (at, kind, ref, state, detail)
    SELECT v.created_at, 'txn', v.id, v.state, v.detail FROM v JOIN row USING (id) ORDER BY v.ord
    RETURNING ref`,
  updateTxn: `WITH v AS (
      SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::boolean[], $5::text[], $6::boolean[], $7::text[], $8::boolean[],
        $9::text[], $10::boolean[], $11::text[], $12::text[], $13::boolean[], $14::text[]) WITH ORDINALITY
        AS v(id, state, at, set_rc, rc, set_fc, fc, set_dn, dn, set_rv, rv, detail, set_ac, ac, ord)),
    row AS (
      UPDATE txns t SET state = v.state, updated_at = v.at,
        response_code = CASE WHEN v.set_rc THEN v.rc ELSE t.response_code END,
        failure_class = CASE WHEN v.set_fc THEN v.fc ELSE t.failure_class END,
        decision = CASE WHEN v.set_dn THEN v.dn ELSE t.decision END,
        reversal_id = CASE WHEN v.set_rv THEN v.rv ELSE t.reversal_id END,
        approval_code = CASE WHEN v.set_ac THEN v.ac ELSE t.approval_code END
      FROM v WHERE t.id = v.id
      RETURNING t.id)
    INSERT INTO history (at, kind, ref, state, detail)
    SELECT v.at, 'txn', v.id, v.state, v.detail FROM v JOIN row USING (id) ORDER BY v.ord
    RETURNING ref`,
  insertReversal: `WITH v AS (
      SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::integer[], $6::text[], $7::text[], $8::text[], $9::text[],
        $10::text[], $11::text[], $12::bigint[], $13::bigint[], $14::text[], $15::text[], $16::bigint[], $17::text[], $18::text[],
        $19::bigint[]) WITH ORDINALITY
        AS v(id, txn_id, upstream, state, attempts, reason, final_amount, explanation, original, message, sent_stan, enqueued_at,
          due_at, last_error, note, updated_at, detail, owner, lease_until, ord)),
    row AS (
      INSERT INTO reversals (id, txn_id, upstream, state, attempts, reason, final_amount, explanation, original, message, sent_stan,
        enqueued_at, due_at, last_error, note, updated_at, owner, lease_until)
      SELECT id, txn_id, upstream, state, attempts, reason, final_amount, explanation, original, message, sent_stan, enqueued_at,
        due_at, last_error, note, updated_at, owner, lease_until FROM v ORDER BY ord
      ON CONFLICT (id) DO NOTHING
      RETURNING id)
    INSERT INTO history (at, kind, ref, state, detail)
    SELECT v.enqueued_at, 'reversal', v.id, v.state, v.detail FROM v JOIN row USING (id) ORDER BY v.ord
    RETURNING ref`,
  updateReversal: `WITH v AS (
      SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::boolean[], $5::integer[], $6::boolean[], $7::text[], $8::boolean[],
        $9::text[], $10::boolean[], $11::bigint[], $12::boolean[], $13::text[], $14::boolean[], $15::text[], $16::text[], $17::text[])
        WITH ORDINALITY AS v(id, state, at, set_att, att, set_msg, msg, set_stan, stan, set_due, due, set_err, err, set_note, note,
          from_states, detail, ord)),
    row AS (
      UPDATE reversals r SET state = v.state, updated_at = v.at,
        attempts = CASE WHEN v.set_att THEN v.att ELSE r.attempts END,
        message = CASE WHEN v.set_msg THEN v.msg ELSE r.message END,
        sent_stan = CASE WHEN v.set_stan THEN v.stan ELSE r.sent_stan END,
        due_at = CASE WHEN v.set_due THEN v.due ELSE r.due_at END,
        last_error = CASE WHEN v.set_err THEN v.err ELSE r.last_error END,
        note = CASE WHEN v.set_note THEN v.note ELSE r.note END
      FROM v WHERE r.id = v.id AND v.from_states::jsonb ? r.state
      RETURNING r.id)
    INSERT INTO history (at, kind, ref, state, detail)
    SELECT v.at, 'reversal', v.id, v.state, v.detail FROM v JOIN row USING (id) ORDER BY v.ord
    RETURNING ref`,
} as const;

type OpKind = StoreOp['op'];
/** The order of a segment's statements. */
const KINDS: readonly OpKind[] = ['insertTxn', 'updateTxn', 'insertReversal', 'updateReversal'];

/** The operations as columns: the single statement's parameters of each, transposed. */
function columns(ops: StoreOp[]): unknown[][] {
  const per = ops.map((op) => {
    const v = statement(op).values ?? [];
    // updateReversal's `from` goes in as JSON text (arrays of arrays must be rectangular).
    return op.op === 'updateReversal' ? v.map((x, k) => (k === 15 ? JSON.stringify(x) : x)) : v;
  });
  const cols: unknown[][] = per[0].map(() => new Array<unknown>(per.length));
  for (let i = 0; i < per.length; i++) for (let k = 0; k < cols.length; k++) cols[k][i] = per[i][k];
  return cols;
}

/** One statement of the batch: a single operation, or several of one kind on distinct ids. */
interface Unit {
  query: QueryConfig<unknown[]>;
  /** Indexes into the batch. */
  ops: number[];
  multi: boolean;
}

const idOf = (op: StoreOp): string => (op.op === 'insertTxn' || op.op === 'insertReversal' ? op.row.id : op.update.id);
const keyOf = (op: StoreOp): string => (op.op === 'insertTxn' || op.op === 'updateTxn' ? 't' : 'r') + idOf(op);

/**
 * The batch as statements. One per operation, or (multiRow) in segments: a segment is
 * the longest run of operations that touch distinct rows, so they commute, and each of
 * its kinds becomes one multi-row statement (in the order of KINDS). Segments keep their
 * order, so two changes of one row stay in call order, and so does the history of each
 * row; only the seq order of history rows of DIFFERENT rows within one batch (one
 * transaction) follows the kinds instead of the calls. Insertion order is kept.
 */
function plan(ops: StoreOp[], refused: ReadonlyMap<number, string>, multiRow: boolean): Unit[] {
  const units: Unit[] = [];
  if (!multiRow) {
    for (let i = 0; i < ops.length; i++) if (!refused.has(i)) units.push({ query: statement(ops[i]), ops: [i], multi: false });
    return units;
  }
  const groups = new Map<OpKind, number[]>(KINDS.map((k) => [k, []]));
  const keys = new Set<string>();
  const close = () => {
    for (const kind of KINDS) {
      const g = groups.get(kind) ?? [];
      if (g.length === 1) units.push({ query: statement(ops[g[0]]), ops: g, multi: false });
      else if (g.length > 1) units.push({ query: { name: `revswitch_multi_${kind}`, text: MULTI[kind], values: columns(g.map((i) => ops[i])) }, ops: g, multi: true });
      groups.set(kind, []);
    }
    keys.clear();
  };
  for (let i = 0; i < ops.length; i++) {
    if (refused.has(i)) continue;
    const key = keyOf(ops[i]);
    if (keys.has(key)) close();
    keys.add(key);
    groups.get(ops[i].op)?.push(i);
  }
  close();
  return units;
}

const describeUnit = (u: Unit, ops: StoreOp[]): string =>
  u.multi ? `${ops[u.ops[0]].op} of ${u.ops.length} (${u.ops.slice(0, 3).map((i) => idOf(ops[i])).join(', ')}${u.ops.length > 3 ? ', ...' : ''})` : describeOp(ops[u.ops[0]]);

type Attempt =
  /** Per operation of the batch (undefined: not sent): the rows its statement changed, or why it alone failed. */
  | { kind: 'committed'; rows: (number | string | undefined)[] }
  /** Operation `index` was refused by the data; the transaction was rolled back. */
  | { kind: 'refused'; index: number; error: string }
  /** A multi-row statement was refused by the data: which operation is unknown; rolled back. */
  | { kind: 'unknown-refusal'; error: string }
  /** Serialization failure or deadlock; rolled back. */
  | { kind: 'conflict'; error: string };

export interface PostgresConfig extends PostgresUrl {
  /** How errors name this store (its URL without a password). */
  label: string;
  pipeline: boolean;
  /** Several operations of a kind in one statement (default true). */
  multiRow: boolean;
}

/** node-postgres's pool settings for a store. */
export function poolConfig(c: PostgresConfig, pipeline = c.pipeline): pg.PoolConfig {
  return {
    connectionString: c.connectionString,
    max: c.pool,
    options: `-c search_path=${c.schema}`,
    lock_timeout: c.lockTimeoutMs,
    connectionTimeoutMillis: c.connectTimeoutMs,
    types: PG_TYPES,
    pipeline,
    // An idle open store does not hold the process open (as the SQLite worker does not).
    allowExitOnIdle: true,
    application_name: 'revswitch',
  };
}

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
    const count = async (name: StatementName, values: unknown[]): Promise<number> => {
      try {
        return (await pool.query(q(name, values))).rowCount ?? 0;
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

/** The lock that serializes migrations of one schema across processes (a transaction-level advisory lock). */
const lockMigrations = (c: pg.ClientBase, schema: string) => c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`revswitch migrate ${schema}`]);

async function inTransaction<T>(c: pg.ClientBase, f: () => Promise<T>): Promise<T> {
  await c.query('BEGIN');
  try {
    const v = await f();
    await c.query('COMMIT');
    return v;
  } catch (e) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}

/** The highest version in the schema's schema_migrations; 0 when the schema or the table does not exist yet. */
export async function readSchemaVersion(c: pg.ClientBase, schema: string): Promise<number> {
  const t = await c.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [`${ident(schema)}.schema_migrations`]);
  if (t.rows[0]?.t == null) return 0;
  const v = await c.query<{ v: number }>(`SELECT COALESCE(MAX(version), 0)::integer AS v FROM ${ident(schema)}.schema_migrations`);
  return v.rows[0].v;
}

/**
 * Brings the schema up to the last migration (creating the schema when it does not
 * exist); returns the version it is at. Each step is a transaction that first takes the
 * schema's advisory lock and re-reads the version, so two processes starting on one new
 * schema at once apply each migration once and neither fails.
 */
export async function migratePostgres(c: pg.ClientBase, label: string, schema: string, migrations: readonly Migration[]): Promise<number> {
  for (let i = 1; i < migrations.length; i++) {
    if (migrations[i].version <= migrations[i - 1].version) {
      throw new Error(`${label}: migrations out of order: ${migrations[i].version} after ${migrations[i - 1].version}`);
    }
  }
  const latest = migrations.length === 0 ? 0 : migrations[migrations.length - 1].version;
  const s = ident(schema);
  let at: number;
  try {
    at = await inTransaction(c, async () => {
      await lockMigrations(c, schema);
      // CREATE SCHEMA IF NOT EXISTS needs the CREATE privilege even when the schema
      // exists: look first, so a role that may only use its schema can still open it.
      const exists = await c.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
      if (exists.rowCount === 0) await c.query(`CREATE SCHEMA ${s}`);
      await c.query(`CREATE TABLE IF NOT EXISTS ${s}.schema_migrations (
        version INTEGER PRIMARY KEY NOT NULL, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`);
      return readSchemaVersion(c, schema);
    });
  } catch (e) {
    throw new Error(`${label}: cannot prepare schema ${schema} for migrations: ${pgMessage(e)}`);
  }
  if (at > latest) {
    throw new Error(`${label}: the database is at schema version ${at}, newer than this revswitch knows (${latest}); upgrade revswitch`);
  }
  for (const m of migrations) {
    if (m.version <= at) continue;
    try {
      await inTransaction(c, async () => {
        await lockMigrations(c, schema);
        if ((await readSchemaVersion(c, schema)) >= m.version) return; // another process got there first
        await c.query(`SET LOCAL search_path TO ${s}`);
        await c.query(m.sql);
        await c.query(`INSERT INTO ${s}.schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`, [m.version, m.name, Date.now()]);
      });
    } catch (e) {
      throw new Error(`${label}: migration ${m.version} (${m.name}) failed: ${pgMessage(e)}`);
    }
  }
  return readSchemaVersion(c, schema);
}

/** The store's settings from its URL and options; throws on a bad URL, naming it without its password. */
export function postgresConfig(url: string, opts: PostgresStoreOptions = {}): PostgresConfig {
  const parsed = parsePostgresUrl(url);
  const c: PostgresConfig = {
    ...parsed,
    label: redactUrl(url),
    pipeline: opts.pipeline ?? true,
    multiRow: opts.multiRow ?? true,
  };
  if (opts.schema !== undefined) c.schema = checkSchemaName(url, opts.schema);
  if (opts.pool !== undefined) c.pool = opts.pool;
  if (opts.lockTimeoutMs !== undefined) c.lockTimeoutMs = opts.lockTimeoutMs;
  if (opts.connectTimeoutMs !== undefined) c.connectTimeoutMs = opts.connectTimeoutMs;
  return c;
}

/** `postgres://...`: PostgreSQL through a pool, batches pipelined on one connection each. */
export class PostgresStore extends GroupCommitStore {
  readonly schema: string;
  private readonly pg: PostgresBackend;

  constructor(url: string, opts: PostgresStoreOptions = {}) {
    const config = postgresConfig(url, opts);
    const backend = new PostgresBackend(config);
    super(config.label, backend, opts);
    this.schema = config.schema;
    this.pg = backend;
  }

  /** The schema version after open() (0 before). */
  get schemaVersion(): number {
    return this.pg.schemaVersion;
  }
}

/**
 * The schema version a URL's database is at, read without migrating (0 when nothing is
 * there yet): for `revswitch migrate`, which prints it before and after.
 */
export async function postgresSchemaVersion(url: string): Promise<number> {
  const c = postgresConfig(url);
  return withClient(c, async (client) => {
    try {
      return await readSchemaVersion(client, c.schema);
    } catch (e) {
      throw new Error(`${c.label}: cannot read the schema version: ${pgMessage(e)}`);
    }
  });
}

/** One plain (not pipelined, not pooled) connection for `f`, closed afterwards. */
async function withClient<T>(c: PostgresConfig, f: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client(poolConfig(c, false));
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (e) {
    await client.end().catch(() => undefined);
    throw new Error(`${c.label}: cannot connect: ${pgMessage(e)}`);
  }
  try {
    return await f(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}
