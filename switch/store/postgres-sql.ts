/**
 * The statements of the PostgreSQL store, and each operation as its statement.
 *
 * Each write carries the change AND its history row, in a data-modifying CTE
 * (`WITH row AS (INSERT|UPDATE ... RETURNING ...) INSERT INTO history SELECT ... FROM row`),
 * so a change never commits without its history and a history row is written only when
 * the change matched a row:
 * - insertTxn / insertReversal: `ON CONFLICT (id) DO NOTHING`; no row back means the id
 *   exists: insertTxn is refused as a duplicate (its promise rejects), insertReversal
 *   answers false. No error reaches the database, so the transaction carries on.
 * - updateTxn: no row back means no such transaction: refused, as in SQLite.
 * - updateReversal: compare-and-set, `WHERE id = $1 AND state = ANY($16)`; false when no row.
 *
 * MULTI holds the same writes for several operations of one kind in one statement, which
 * the batch planner (./postgres-batch.ts) uses.
 */
import type { QueryConfig } from 'pg';
import { insertReversalDetail, insertTxnDetail, txnQueryFields, updateTxnDetail, type OpResult } from './backend.js';
import type { StoreOp, TxnQuery } from './types.js';

/**
 * A transaction (as `t`) without an outcome: sent upstream with no answer yet, or taken as
 * `recovered` (after a restart, or from a dead node) whose reversal never reached the
 * store (a crash between the two commits). Recovery and takeover both look for these.
 */
const UNFINISHED = `(t.state = 'forwarded' OR (t.state = 'recovered' AND NOT EXISTS (SELECT 1 FROM reversals r WHERE r.txn_id = t.id)))`;

/** The server's clock in epoch ms: heartbeats are written and judged by it alone. */
const DB_NOW_MS = '(extract(epoch from clock_timestamp()) * 1000)::bigint';

const TXN_COLUMNS = `id, node, listener, sender, terminal, merchant, acquirer, mti, stan, f7, rrn, amount, currency,
  pan_masked AS "panMasked", pan_hash AS "panHash", business_date AS "businessDate", upstream, upstream_stan AS "upstreamStan",
  state, response_code AS "responseCode", failure_class AS "failureClass", decision, reversal_id AS "reversalId", approval_code AS "approvalCode", approved_amount AS "approvedAmount", sealed,
  created_at AS "createdAt", updated_at AS "updatedAt"`;

const REVERSAL_COLUMNS = `id, txn_id AS "txnId", upstream, state, attempts, reason, final_amount AS "finalAmount", explanation,
  original, message, sent_stan AS "sentStan", enqueued_at AS "enqueuedAt", due_at AS "dueAt", last_error AS "lastError", note,
  updated_at AS "updatedAt", kind, amount, retried_at AS "retriedAt"`;

const REVIEW_COLUMNS = `id, txn_id AS "txnId", upstream, proposed, amount, reason, final_amount AS "finalAmount", why, state,
  created_at AS "createdAt", decided_at AS "decidedAt", decided_by AS "decidedBy", note, action, undo_id AS "undoId"`;

/** The statements, prepared once per connection (named). */
export const SQL = {
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
        approval_code = CASE WHEN $13::boolean THEN $14::text ELSE approval_code END,
        approved_amount = CASE WHEN $16::boolean THEN $17::text ELSE approved_amount END
      WHERE id = $1::text AND ($15::text IS NULL OR node = $15::text)
      RETURNING id, state, updated_at)
    INSERT INTO history (at, kind, ref, state, detail) SELECT updated_at, 'txn', id, state, $12::text FROM row`,
  insertReversal: `WITH row AS (
      INSERT INTO reversals (id, txn_id, upstream, state, attempts, reason, final_amount, explanation, original, message, sent_stan,
        enqueued_at, due_at, last_error, note, updated_at, owner, lease_until, kind, amount)
      VALUES ($1, $2, $3, $4, $5::integer, $6, $7, $8, $9, $10, $11, $12::bigint, $13::bigint, $14, $15, $16::bigint, $18::text, $19::bigint,
        $20::text, $21::text)
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
  unfinishedTxns: `SELECT ${TXN_COLUMNS} FROM txns t WHERE ${UNFINISHED} ORDER BY created_at, ins_seq`,
  reversal: `SELECT ${REVERSAL_COLUMNS} FROM reversals WHERE id = $1`,
  reversalsAll: `SELECT ${REVERSAL_COLUMNS} FROM reversals ORDER BY enqueued_at, ins_seq`,
  reversalsIn: `SELECT ${REVERSAL_COLUMNS} FROM reversals WHERE state = ANY($1::text[]) ORDER BY enqueued_at, ins_seq`,
  history: 'SELECT seq, at, kind, ref, state, detail FROM history WHERE ref = $1 ORDER BY seq',
  txnsBetween: `SELECT ${TXN_COLUMNS} FROM txns WHERE created_at >= $1::bigint AND created_at < $2::bigint ORDER BY created_at, ins_seq`,
  reversalsBetween: `SELECT ${REVERSAL_COLUMNS} FROM reversals WHERE enqueued_at >= $1::bigint AND enqueued_at < $2::bigint
    ORDER BY enqueued_at, ins_seq`,
  historyBetween: 'SELECT seq, at, kind, ref, state, detail FROM history WHERE at >= $1::bigint AND at < $2::bigint ORDER BY seq',
  // The beat is the server's time, and a claim compares it with the server's time: nodes
  // whose clocks differ (or a claimer whose clock runs ahead) never take a live node's sales.
  heartbeat: `INSERT INTO nodes (node, started_at, heartbeat_at, info) VALUES ($1::text, $2::bigint, ${DB_NOW_MS}, $3::text)
    ON CONFLICT (node) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, info = excluded.info`,
  nodes: `SELECT n.node, n.started_at AS "startedAt", n.heartbeat_at AS "heartbeatAt", n.info, n.lease_until AS "leaseUntil",
    (SELECT count(*)::bigint FROM reversals v WHERE v.owner = n.node AND v.state IN ('pending', 'sent')) AS leases
    FROM nodes n ORDER BY n.node`,
  // SKIP LOCKED: rows another node is claiming right now are passed over, never waited on
  // nor taken twice; the outer UPDATE re-checks nothing, the subselect's row locks hold.
  // Three index reads, not one OR over the whole queue (which scanned and sorted a
  // million queued rows per claim): the unowned (a partial index), this node's own, and
  // those of owners whose node lease expired.
  claimReversals: `WITH free AS (SELECT id AS cid FROM reversals WHERE owner IS NULL AND state IN ('pending', 'sent')
        ORDER BY enqueued_at, ins_seq LIMIT $4::integer FOR UPDATE SKIP LOCKED),
      own AS (SELECT id AS cid FROM reversals WHERE $5::boolean AND owner = $1::text AND state IN ('pending', 'sent')
        ORDER BY enqueued_at, ins_seq LIMIT $4::integer FOR UPDATE SKIP LOCKED),
      lapsed AS (SELECT id AS cid FROM reversals
        WHERE owner IN (SELECT node FROM nodes WHERE lease_until < $2::bigint AND NOT ($5::boolean AND node = $1::text))
          AND state IN ('pending', 'sent') AND lease_until < $2::bigint
        ORDER BY enqueued_at, ins_seq LIMIT $4::integer FOR UPDATE SKIP LOCKED),
      c AS (SELECT cid FROM free UNION ALL SELECT cid FROM own UNION ALL SELECT cid FROM lapsed LIMIT $4::integer)
    UPDATE reversals r SET owner = $1::text, lease_until = $2::bigint + $3::bigint
    FROM c
    WHERE r.id = c.cid
    RETURNING ${REVERSAL_COLUMNS}, owner, lease_until AS "leaseUntil", ins_seq AS "insSeq"`,
  renewLeases: `INSERT INTO nodes (node, started_at, heartbeat_at, info, lease_until) VALUES ($1::text, 0, 0, NULL, $2::bigint)
    ON CONFLICT (node) DO UPDATE SET lease_until = excluded.lease_until`,
  releaseLeases: 'UPDATE reversals SET owner = NULL, lease_until = 0 WHERE owner = $1::text AND id = ANY($2::text[])',
  claimOrphanTxns: `WITH c AS (
      SELECT t.id, t.node FROM txns t
      WHERE ${UNFINISHED} AND t.node <> $1::text
        AND NOT EXISTS (SELECT 1 FROM nodes n WHERE n.node = t.node AND n.heartbeat_at >= ${DB_NOW_MS} - ($3::bigint - $2::bigint))
      ORDER BY t.created_at, t.ins_seq FOR UPDATE OF t SKIP LOCKED),
    old AS (SELECT ${TXN_COLUMNS}, ins_seq FROM txns WHERE id IN (SELECT id FROM c)),
    upd AS (UPDATE txns t SET node = $1::text, state = 'recovered', updated_at = $3::bigint FROM c WHERE t.id = c.id RETURNING t.id),
    hist AS (INSERT INTO history (at, kind, ref, state, detail)
      SELECT $3::bigint, 'txn', c.id, 'recovered', json_build_object('note', 'taken over from node ' || c.node || ': its heartbeat stopped')::text
      FROM c JOIN upd USING (id))
    SELECT * FROM old WHERE id IN (SELECT id FROM upd) ORDER BY "createdAt", ins_seq`,
  // The node row goes only when it holds nothing: the counts and the delete are one
  // statement, and FOR UPDATE on the node row makes a concurrent claim or heartbeat wait.
  forgetNode: `WITH n AS (SELECT node FROM nodes WHERE node = $1::text FOR UPDATE),
    l AS (SELECT count(*)::bigint AS leases FROM reversals WHERE owner = $1::text AND state IN ('pending', 'sent')),
    u AS (SELECT count(*)::bigint AS unfinished FROM txns t WHERE t.node = $1::text AND ${UNFINISHED}),
    d AS (DELETE FROM nodes WHERE node IN (SELECT node FROM n) AND (SELECT leases FROM l) = 0 AND (SELECT unfinished FROM u) = 0 RETURNING node)
    SELECT EXISTS (SELECT 1 FROM n) AS known, (SELECT leases FROM l) AS leases, (SELECT unfinished FROM u) AS unfinished,
      EXISTS (SELECT 1 FROM d) AS forgotten`,
  retryManual: `WITH row AS (
      UPDATE reversals SET state = 'pending', attempts = 0, due_at = $2::bigint, last_error = NULL, note = $3::text, retried_at = $2::bigint,
        updated_at = $2::bigint, owner = NULL, lease_until = 0
      WHERE id = $1::text AND state = 'manual'
      RETURNING id)
    INSERT INTO history (at, kind, ref, state, detail) SELECT $2::bigint, 'reversal', id, 'pending', $4::text FROM row RETURNING ref`,
  undoBacklog: `SELECT upstream, count(*) FILTER (WHERE state = 'pending')::int AS pending, count(*) FILTER (WHERE state = 'sent')::int AS sent,
      count(*) FILTER (WHERE state = 'manual')::int AS manual
    FROM reversals WHERE state IN ('pending', 'sent', 'manual') GROUP BY upstream ORDER BY upstream`,
  reassignUpstream: `WITH row AS (
      UPDATE reversals SET upstream = $2::text, updated_at = $3::bigint,
        state = CASE WHEN state = 'manual' THEN state ELSE 'pending' END,
        due_at = CASE WHEN state = 'manual' THEN due_at ELSE $3::bigint END,
        message = CASE WHEN state = 'manual' THEN message ELSE NULL END,
        sent_stan = CASE WHEN state = 'manual' THEN sent_stan ELSE NULL END,
        owner = CASE WHEN state = 'manual' THEN owner ELSE NULL END,
        lease_until = CASE WHEN state = 'manual' THEN lease_until ELSE 0 END
      WHERE upstream = $1::text AND state IN ('pending', 'sent', 'manual')
      RETURNING id, state),
    txn AS (
      UPDATE txns t SET upstream = $2::text, updated_at = $3::bigint WHERE t.upstream = $1::text AND ${UNFINISHED} RETURNING t.id, t.state)
    INSERT INTO history (at, kind, ref, state, detail)
      SELECT $3::bigint, 'reversal', id, state, $4::text FROM row UNION ALL SELECT $3::bigint, 'txn', id, state, $4::text FROM txn RETURNING ref`,
  insertReview: `WITH row AS (
      INSERT INTO reviews (id, txn_id, upstream, proposed, amount, reason, final_amount, why, state, created_at, decided_at, decided_by,
        note, action, undo_id)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::bigint, $11::bigint, $12, $13, $14, $15)
      ON CONFLICT (id) DO NOTHING
      RETURNING id, state, created_at)
    INSERT INTO history (at, kind, ref, state, detail) SELECT created_at, 'review', id, state, $16::text FROM row RETURNING ref`,
  review: `SELECT ${REVIEW_COLUMNS} FROM reviews WHERE id = $1::text`,
  reviewsAll: `SELECT ${REVIEW_COLUMNS} FROM reviews ORDER BY created_at, id`,
  reviewsIn: `SELECT ${REVIEW_COLUMNS} FROM reviews WHERE state = ANY($1::text[]) ORDER BY created_at, id`,
  decideReview: `WITH row AS (
      UPDATE reviews SET state = $2::text, decided_at = $3::bigint, decided_by = $4::text, note = $5::text, action = $6::text
      WHERE id = $1::text AND state = 'open'
      RETURNING id, state)
    INSERT INTO history (at, kind, ref, state, detail) SELECT $3::bigint, 'review', id, state, $7::text FROM row RETURNING ref`,
  reviewQueued: `WITH row AS (
      UPDATE reviews SET undo_id = $2::text WHERE id = $1::text AND state = 'approved' AND undo_id IS NULL RETURNING id)
    INSERT INTO history (at, kind, ref, state, detail) SELECT $3::bigint, 'review', id, 'queued', $4::text FROM row RETURNING ref`,
} as const;

/** The column of each TxnQuery field (fixed names: never text from the caller in SQL). */
const FIND_COLUMN: Record<keyof TxnQuery, string> = { rrn: 'rrn', terminal: 'terminal', stan: 'stan', businessDate: 'business_date' };

/** findTxns for the fields given: one named statement per combination of fields (at most 15). */
export function findTxnsQuery(tq: TxnQuery): QueryConfig<unknown[]> | null {
  const fields = txnQueryFields(tq);
  if (fields.length === 0) return null;
  const where = fields.map(([k], i) => `${FIND_COLUMN[k]} = $${i + 1}::text`).join(' AND ');
  return {
    name: `revswitch_findTxns_${fields.map(([k]) => k).join('_')}`,
    text: `SELECT ${TXN_COLUMNS} FROM txns WHERE ${where} ORDER BY created_at, ins_seq`,
    values: fields.map(([, v]) => v),
  };
}

export type StatementName = keyof typeof SQL;
export const q = (name: StatementName, values: unknown[]): QueryConfig<unknown[]> => ({ name: `revswitch_${name}`, text: SQL[name], values });

const set = (v: unknown): boolean => v !== undefined;
const orNull = <T>(v: T | undefined): T | null => (v === undefined ? null : v);

/** One operation as its statement. */
export function statement(op: StoreOp): QueryConfig<unknown[]> {
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
        set(u.decision), orNull(u.decision), set(u.reversalId), orNull(u.reversalId), updateTxnDetail(u), set(u.approvalCode), orNull(u.approvalCode), u.owner ?? null,
        set(u.approvedAmount), orNull(u.approvedAmount)]);
    }
    case 'insertReversal': {
      const r = op.row;
      return q('insertReversal', [r.id, orNull(r.txnId), r.upstream, r.state, r.attempts, r.reason, orNull(r.finalAmount), r.explanation,
        r.original, orNull(r.message), orNull(r.sentStan), r.enqueuedAt, r.dueAt, orNull(r.lastError), orNull(r.note), r.updatedAt,
        insertReversalDetail(r), r.owner ?? null, r.leaseUntil ?? 0, r.kind ?? 'reversal', r.amount ?? null]);
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
export function outcome(op: StoreOp, rows: number): OpResult {
  switch (op.op) {
    case 'insertTxn':
      return rows === 1 ? { ok: true, value: true } : { ok: false, error: `duplicate key: a transaction with id ${op.row.id} exists` };
    case 'updateTxn':
      if (rows === 0 && op.update.owner !== undefined) return { ok: true, value: false };
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
export const MULTI = {
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
        $9::text[], $10::boolean[], $11::text[], $12::text[], $13::boolean[], $14::text[], $15::text[], $16::boolean[], $17::text[])
        WITH ORDINALITY AS v(id, state, at, set_rc, rc, set_fc, fc, set_dn, dn, set_rv, rv, detail, set_ac, ac, owner, set_aa, aa, ord)),
    row AS (
      UPDATE txns t SET state = v.state, updated_at = v.at,
        response_code = CASE WHEN v.set_rc THEN v.rc ELSE t.response_code END,
        failure_class = CASE WHEN v.set_fc THEN v.fc ELSE t.failure_class END,
        decision = CASE WHEN v.set_dn THEN v.dn ELSE t.decision END,
        reversal_id = CASE WHEN v.set_rv THEN v.rv ELSE t.reversal_id END,
        approval_code = CASE WHEN v.set_ac THEN v.ac ELSE t.approval_code END,
        approved_amount = CASE WHEN v.set_aa THEN v.aa ELSE t.approved_amount END
      FROM v WHERE t.id = v.id AND (v.owner IS NULL OR t.node = v.owner)
      RETURNING t.id)
    INSERT INTO history (at, kind, ref, state, detail)
    SELECT v.at, 'txn', v.id, v.state, v.detail FROM v JOIN row USING (id) ORDER BY v.ord
    RETURNING ref`,
  insertReversal: `WITH v AS (
      SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::integer[], $6::text[], $7::text[], $8::text[], $9::text[],
        $10::text[], $11::text[], $12::bigint[], $13::bigint[], $14::text[], $15::text[], $16::bigint[], $17::text[], $18::text[],
        $19::bigint[], $20::text[], $21::text[]) WITH ORDINALITY
        AS v(id, txn_id, upstream, state, attempts, reason, final_amount, explanation, original, message, sent_stan, enqueued_at,
          due_at, last_error, note, updated_at, detail, owner, lease_until, kind, amount, ord)),
    row AS (
      INSERT INTO reversals (id, txn_id, upstream, state, attempts, reason, final_amount, explanation, original, message, sent_stan,
        enqueued_at, due_at, last_error, note, updated_at, owner, lease_until, kind, amount)
      SELECT id, txn_id, upstream, state, attempts, reason, final_amount, explanation, original, message, sent_stan, enqueued_at,
        due_at, last_error, note, updated_at, owner, lease_until, kind, amount FROM v ORDER BY ord
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
