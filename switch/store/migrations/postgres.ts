/**
 * The PostgreSQL schema: the same numbered migrations as ./sqlite.ts, in PostgreSQL's
 * dialect. Each runs once, in its own transaction under an advisory lock, and is recorded
 * in schema_migrations (../postgres.ts, migratePostgres). Never edit a migration that has
 * shipped: add the next one, with the same version number in both dialects.
 *
 * Every table lives in the store's schema (the URL's `schema`, default `public`): the
 * statements name no schema, the connection's search_path points at it.
 *
 * Differences from SQLite, and why:
 * - Times are BIGINT (epoch ms), attempts INTEGER, everything else TEXT, as in SQLite.
 * - txns and reversals carry `ins_seq`, an identity column: SQLite's implicit rowid made
 *   explicit, the tie-break that keeps "oldest first" in insertion order for equal times.
 *   It is never read back as a row field.
 * - history.seq is a BIGINT identity (SQLite: INTEGER PRIMARY KEY AUTOINCREMENT), and
 *   history_ref indexes (ref, seq), since PostgreSQL has no rowid order within an index.
 * - Append-only is one trigger function raising an exception on UPDATE and DELETE (row
 *   level) and on TRUNCATE (statement level: TRUNCATE fires no row triggers).
 *
 * reversals.txn_id is indexed but deliberately NOT a foreign key, as in SQLite.
 */
import type { Migration } from './sqlite.js';

export const POSTGRES_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'journal, reversals, append-only history',
    sql: `
CREATE TABLE txns (
  id             TEXT PRIMARY KEY NOT NULL,
  node           TEXT NOT NULL,
  listener       TEXT NOT NULL,
  sender         TEXT NOT NULL,
  terminal       TEXT,
  merchant       TEXT,
  acquirer       TEXT,
  mti            TEXT NOT NULL,
  stan           TEXT NOT NULL,
  f7             TEXT,
  rrn            TEXT,
  amount         TEXT,
  currency       TEXT,
  pan_masked     TEXT,
  pan_hash       TEXT,
  business_date  TEXT,
  upstream       TEXT,
  upstream_stan  TEXT,
  state          TEXT NOT NULL,
  response_code  TEXT,
  failure_class  TEXT,
  decision       TEXT,
  reversal_id    TEXT,
  sealed         TEXT,
  created_at     BIGINT NOT NULL,
  updated_at     BIGINT NOT NULL,
  ins_seq        BIGINT GENERATED ALWAYS AS IDENTITY NOT NULL
);
CREATE INDEX txns_sender_stan_f7 ON txns (sender, stan, f7);
CREATE INDEX txns_created_at ON txns (created_at);
CREATE INDEX txns_state ON txns (state);

CREATE TABLE reversals (
  id             TEXT PRIMARY KEY NOT NULL,
  txn_id         TEXT,
  upstream       TEXT NOT NULL,
  state          TEXT NOT NULL,
  attempts       INTEGER NOT NULL,
  reason         TEXT NOT NULL,
  final_amount   TEXT,
  explanation    TEXT NOT NULL,
  original       TEXT NOT NULL,
  message        TEXT,
  sent_stan      TEXT,
  enqueued_at    BIGINT NOT NULL,
  due_at         BIGINT NOT NULL,
  last_error     TEXT,
  note           TEXT,
  updated_at     BIGINT NOT NULL,
  ins_seq        BIGINT GENERATED ALWAYS AS IDENTITY NOT NULL
);
CREATE INDEX reversals_state_due_at ON reversals (state, due_at);
CREATE INDEX reversals_txn_id ON reversals (txn_id);

CREATE TABLE history (
  seq     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at      BIGINT NOT NULL,
  kind    TEXT NOT NULL,
  ref     TEXT NOT NULL,
  state   TEXT NOT NULL,
  detail  TEXT
);
CREATE INDEX history_ref ON history (ref, seq);

CREATE FUNCTION history_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'history is append-only: % refused', TG_OP USING ERRCODE = 'raise_exception';
END;
$$;
CREATE TRIGGER history_no_update BEFORE UPDATE ON history FOR EACH ROW EXECUTE FUNCTION history_append_only();
CREATE TRIGGER history_no_delete BEFORE DELETE ON history FOR EACH ROW EXECUTE FUNCTION history_append_only();
CREATE TRIGGER history_no_truncate BEFORE TRUNCATE ON history FOR EACH STATEMENT EXECUTE FUNCTION history_append_only();
`,
  },
  {
    version: 2,
    name: 'indexes for reports and evidence look-ups',
    sql: `
CREATE INDEX txns_rrn ON txns (rrn);
CREATE INDEX txns_terminal_stan ON txns (terminal, stan);
CREATE INDEX reversals_enqueued_at ON reversals (enqueued_at);
CREATE INDEX history_at ON history (at);
`,
  },
  {
    version: 3,
    name: 'several nodes: heartbeats, reversal leases',
    sql: `
CREATE TABLE nodes (
  node          TEXT PRIMARY KEY NOT NULL,
  started_at    BIGINT NOT NULL,
  heartbeat_at  BIGINT NOT NULL,
  info          TEXT
);
ALTER TABLE reversals ADD COLUMN owner TEXT;
ALTER TABLE reversals ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0;
CREATE INDEX reversals_state_lease ON reversals (state, lease_until);
CREATE INDEX txns_node_state ON txns (node, state);
-- A request's duplicate key (sender|STAN|F7), written with its journal row: a second
-- insert of the same key, from any node, is refused, so a duplicate is never forwarded twice.
CREATE TABLE txn_keys (
  key         TEXT PRIMARY KEY NOT NULL,
  txn_id      TEXT NOT NULL,
  created_at  BIGINT NOT NULL
);
`,
  },
  {
    version: 4,
    name: 'the approval code (F38) of an approved transaction',
    sql: `
-- So a duplicate answered from the journal (on another node, or after a restart) carries
-- the approval code the terminal's first answer had. Not card data.
ALTER TABLE txns ADD COLUMN approval_code TEXT;
`,
  },
  {
    version: 5,
    name: 'reversal leases renewed per node, not per row',
    sql: `
-- A node's renewal is one write to its own row, whatever it holds: a reversal is held
-- while its own lease_until (set when claimed) or its owner's lease_until here is ahead.
ALTER TABLE nodes ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0;
`,
  },
  {
    version: 6,
    name: 'refunds in the store-and-forward queue',
    sql: `
-- A refund (the undo of a financial sale once its business day has closed) goes through
-- the same durable queue as reversals: same write-ahead, repeats, leases and manual queue.
-- kind tells the two apart; amount is what a refund credits (a reversal's is its original's).
ALTER TABLE reversals ADD COLUMN kind TEXT NOT NULL DEFAULT 'reversal';
ALTER TABLE reversals ADD COLUMN amount TEXT;
`,
  },
  {
    version: 7,
    name: 'the review queue',
    sql: `
-- Decisions rules/ leaves to a person, worked with revswitch review or the admin API.
-- An item is decided once (open -> approved or rejected); an approval's undo is queued in
-- reversals, and undo_id names it once it is there. Every change has its history row.
CREATE TABLE reviews (
  id            TEXT PRIMARY KEY NOT NULL,
  txn_id        TEXT NOT NULL,
  upstream      TEXT,
  proposed      TEXT NOT NULL,
  amount        TEXT,
  reason        TEXT,
  final_amount  TEXT,
  why           TEXT NOT NULL,
  state         TEXT NOT NULL,
  created_at    BIGINT NOT NULL,
  decided_at    BIGINT,
  decided_by    TEXT,
  note          TEXT,
  action        TEXT,
  undo_id       TEXT
);
CREATE INDEX reviews_state ON reviews (state, created_at);
`,
  },
  {
    version: 8,
    name: 'the approved amount of a partial approval',
    sql: `
-- A partial approval (F39 10: F4 of the answer below the request's) is answered again, to
-- a duplicate after a restart or on another node, with the amount the issuer approved,
-- not the amount asked. NULL: approved as asked (or no approval).
ALTER TABLE txns ADD COLUMN approved_amount TEXT;
`,
  },
  {
    version: 9,
    name: 'retention: history pruned only by revswitch maintenance, with a signed summary',
    sql: `
CREATE TABLE maintenance_window (
  run         TEXT PRIMARY KEY NOT NULL,
  started_at  BIGINT NOT NULL
);
CREATE TABLE pruned (
  run        TEXT PRIMARY KEY NOT NULL,
  at         BIGINT NOT NULL,
  before_ms  BIGINT NOT NULL,
  txns       INTEGER NOT NULL,
  reversals  INTEGER NOT NULL,
  reviews    INTEGER NOT NULL,
  history    INTEGER NOT NULL,
  first_seq  BIGINT,
  last_seq   BIGINT,
  digest     TEXT NOT NULL,
  signature  TEXT NOT NULL,
  key_check  TEXT NOT NULL
);
-- A maintenance run's own transaction holds a maintenance_window row; nothing else may delete.
CREATE FUNCTION history_delete_in_maintenance() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM maintenance_window) THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'history is append-only: DELETE refused (only revswitch maintenance prunes it)' USING ERRCODE = 'raise_exception';
END;
$$;
DROP TRIGGER history_no_delete ON history;
CREATE TRIGGER history_no_delete BEFORE DELETE ON history FOR EACH ROW EXECUTE FUNCTION history_delete_in_maintenance();
CREATE FUNCTION pruned_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'pruned is append-only: % refused', TG_OP USING ERRCODE = 'raise_exception';
END;
$$;
CREATE TRIGGER pruned_no_update BEFORE UPDATE ON pruned FOR EACH ROW EXECUTE FUNCTION pruned_append_only();
CREATE TRIGGER pruned_no_delete BEFORE DELETE ON pruned FOR EACH ROW EXECUTE FUNCTION pruned_append_only();
CREATE TRIGGER pruned_no_truncate BEFORE TRUNCATE ON pruned FOR EACH STATEMENT EXECUTE FUNCTION pruned_append_only();
CREATE INDEX reviews_created_at ON reviews (created_at);
CREATE INDEX txn_keys_created_at ON txn_keys (created_at);
`,
  },
  {
    version: 10,
    name: 'reconciliation: the journal by business date, and the runs',
    sql: `
-- revswitch reconcile reads one business date's transactions a page at a time, by id.
CREATE INDEX txns_business_date ON txns (business_date, id);
-- Each applied run: which file (its SHA-256), which date, what it found and queued. Kept for ever.
CREATE TABLE recon_runs (
  id              TEXT PRIMARY KEY NOT NULL,
  at              BIGINT NOT NULL,
  file            TEXT NOT NULL,
  sha256          TEXT NOT NULL,
  business_date   TEXT NOT NULL,
  upstream        TEXT,
  format          TEXT NOT NULL,
  records         BIGINT NOT NULL,
  counts          TEXT NOT NULL,
  refunds_queued  INTEGER NOT NULL,
  reviews_queued  INTEGER NOT NULL,
  run_by          TEXT NOT NULL
);
CREATE INDEX recon_runs_date ON recon_runs (business_date, at);
`,
  },
  {
    version: 11,
    name: 'drop txns_sender_stan_f7: no query reads it',
    sql: `
-- Duplicates are found through txn_keys (the write-ahead's own key) and looked up by
-- terminal and STAN (txns_terminal_stan); no query reads (sender, stan, f7). Dropping it
-- spares every write-ahead one index of nine (issue 19).
DROP INDEX txns_sender_stan_f7;
`,
  },
  {
    version: 12,
    name: 'reversals.retried_at: a retried manual entry ages from its retry',
    sql: `
-- revswitch manual retry puts an entry back in the queue; its maxAgeMs counts from here,
-- while enqueued_at stays when it was first queued (the reports' window and the evidence).
ALTER TABLE reversals ADD COLUMN retried_at BIGINT;
`,
  },
  {
    version: 13,
    name: 'the queue claimed by index: unowned reversals, and reversals by owner',
    sql: `
-- claimReversals reads three indexes instead of scanning the queue: with a million
-- reversals queued (an issuer outage) one claim scanned and sorted them all.
CREATE INDEX reversals_unowned ON reversals (enqueued_at, ins_seq) WHERE owner IS NULL AND state IN ('pending', 'sent');
CREATE INDEX reversals_owner ON reversals (owner, state, enqueued_at) WHERE owner IS NOT NULL;
`,
  },
];
