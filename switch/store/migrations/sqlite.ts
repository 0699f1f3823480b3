/**
 * The SQLite schema, as numbered migrations. Each runs once, in its own transaction, and
 * is recorded in schema_migrations; a database is brought up to the last one at open().
 * Never edit a migration that has shipped: add the next one.
 *
 * Column names are the TxnRow / ReversalRow fields in snake_case. Times are epoch
 * milliseconds (INTEGER). States are plain TEXT without CHECK constraints: the types
 * in ../types.ts are the list, and a new state must not need a table rebuild.
 *
 * reversals.txn_id is indexed but deliberately NOT a foreign key to txns: a reversal must
 * never be refused because its original's journal row is missing or failed to write.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const SQLITE_MIGRATIONS: readonly Migration[] = [
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
  created_at     INTEGER NOT NULL,
  updated_at     INTEGER NOT NULL
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
  enqueued_at    INTEGER NOT NULL,
  due_at         INTEGER NOT NULL,
  last_error     TEXT,
  note           TEXT,
  updated_at     INTEGER NOT NULL
);
CREATE INDEX reversals_state_due_at ON reversals (state, due_at);
CREATE INDEX reversals_txn_id ON reversals (txn_id);

CREATE TABLE history (
  seq     INTEGER PRIMARY KEY AUTOINCREMENT,
  at      INTEGER NOT NULL,
  kind    TEXT NOT NULL,
  ref     TEXT NOT NULL,
  state   TEXT NOT NULL,
  detail  TEXT
);
CREATE INDEX history_ref ON history (ref); -- ordered by seq within a ref: seq is the rowid

CREATE TRIGGER history_no_update BEFORE UPDATE ON history
BEGIN
  SELECT RAISE(ABORT, 'history is append-only: UPDATE refused');
END;
CREATE TRIGGER history_no_delete BEFORE DELETE ON history
BEGIN
  SELECT RAISE(ABORT, 'history is append-only: DELETE refused');
END;
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
  started_at    INTEGER NOT NULL,
  heartbeat_at  INTEGER NOT NULL,
  info          TEXT
);
ALTER TABLE reversals ADD COLUMN owner TEXT;
ALTER TABLE reversals ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;
CREATE INDEX reversals_state_lease ON reversals (state, lease_until);
CREATE INDEX txns_node_state ON txns (node, state);
-- A request's duplicate key (sender|STAN|F7), written with its journal row: a second
-- insert of the same key, from any node, is refused, so a duplicate is never forwarded twice.
CREATE TABLE txn_keys (
  key         TEXT PRIMARY KEY NOT NULL,
  txn_id      TEXT NOT NULL,
  created_at  INTEGER NOT NULL
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
ALTER TABLE nodes ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;
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
  created_at    INTEGER NOT NULL,
  decided_at    INTEGER,
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
-- A maintenance run opens a window (a row here) inside its own transaction, deletes, closes
-- it and records what it removed in pruned; an ad-hoc DELETE outside a run is still refused.
CREATE TABLE maintenance_window (
  run         TEXT PRIMARY KEY NOT NULL,
  started_at  INTEGER NOT NULL
);
CREATE TABLE pruned (
  run        TEXT PRIMARY KEY NOT NULL,
  at         INTEGER NOT NULL,
  before_ms  INTEGER NOT NULL,
  txns       INTEGER NOT NULL,
  reversals  INTEGER NOT NULL,
  reviews    INTEGER NOT NULL,
  history    INTEGER NOT NULL,
  first_seq  INTEGER,
  last_seq   INTEGER,
  digest     TEXT NOT NULL,
  signature  TEXT NOT NULL,
  key_check  TEXT NOT NULL
);
DROP TRIGGER history_no_delete;
CREATE TRIGGER history_no_delete BEFORE DELETE ON history WHEN NOT EXISTS (SELECT 1 FROM maintenance_window)
BEGIN
  SELECT RAISE(ABORT, 'history is append-only: DELETE refused (only revswitch maintenance prunes it)');
END;
CREATE TRIGGER pruned_no_update BEFORE UPDATE ON pruned
BEGIN
  SELECT RAISE(ABORT, 'pruned is append-only: UPDATE refused');
END;
CREATE TRIGGER pruned_no_delete BEFORE DELETE ON pruned
BEGIN
  SELECT RAISE(ABORT, 'pruned is append-only: DELETE refused');
END;
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
  at              INTEGER NOT NULL,
  file            TEXT NOT NULL,
  sha256          TEXT NOT NULL,
  business_date   TEXT NOT NULL,
  upstream        TEXT,
  format          TEXT NOT NULL,
  records         INTEGER NOT NULL,
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
ALTER TABLE reversals ADD COLUMN retried_at INTEGER;
`,
  },
  {
    version: 13,
    name: 'the queue claimed by index: unowned reversals, and reversals by owner',
    sql: `
-- claimReversals reads three indexes instead of scanning the queue: with a million
-- reversals queued (an issuer outage) one claim scanned and sorted them all.
CREATE INDEX reversals_unowned ON reversals (enqueued_at) WHERE owner IS NULL AND state IN ('pending', 'sent');
CREATE INDEX reversals_owner ON reversals (owner, state, enqueued_at) WHERE owner IS NOT NULL;
`,
  },
];
