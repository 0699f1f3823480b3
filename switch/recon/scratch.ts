/**
 * The reconciler's scratch database: both sides of one business date in a throw-away
 * SQLite file, so a day of millions of records is matched in bounded memory. SQLite sorts
 * and joins on disk with a capped page cache; nothing here needs to be durable, so the
 * file has no journal and no fsync, and it is deleted when the run ends.
 *
 * The work stays in SQLite's C code, which is what makes 5 million records a minute's job:
 * - the journal of a SQLite store is copied in one INSERT ... SELECT from the attached
 *   file; any other store's comes a page at a time (addJournalRows);
 * - what the journal expects of each row is computed in SQL (EXPECTATION below, the same
 *   rule as ./journal-side.ts, checked against it by test/reconcile-units.test.ts);
 * - matching: each record takes the journal row it keys to, F37 + F41 first (preferring
 *   the same amount, then the same STAN), then upstream STAN + F7 for hosts that do not
 *   echo the RRN. A refund record keys to a refund of the journal, any other to a sale;
 * - the rows that plainly agree (at most one sale record, the file's net equal to what
 *   the journal expects, one currency) are counted and summed in SQL; only the rest come
 *   back to JavaScript, with their records, for ./classify.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { journalSelect } from '../store/recon-sql.js';
import type { ReconJournalRow, ReconRefundRow } from '../store/types.js';
import type { FileEntry, JournalEntry } from './classify.js';
import { minor } from './journal-side.js';
import type { SettlementType } from './settlement-record.js';

const SCHEMA = `
CREATE TABLE rec (seq INTEGER PRIMARY KEY, line INTEGER NOT NULL, kind TEXT NOT NULL, type TEXT NOT NULL, rrn TEXT NOT NULL,
  terminal TEXT NOT NULL, stan TEXT NOT NULL, f7 TEXT NOT NULL, amount INTEGER NOT NULL, currency TEXT NOT NULL);
CREATE TABLE jr (n INTEGER PRIMARY KEY, kind TEXT NOT NULL, txn_id TEXT, undo_id TEXT, undo_state TEXT, state TEXT, rrn TEXT NOT NULL,
  terminal TEXT NOT NULL, ustan TEXT NOT NULL, f7 TEXT NOT NULL, asked INTEGER NOT NULL, expected INTEGER NOT NULL, kept INTEGER NOT NULL,
  undone INTEGER NOT NULL, rev_acked INTEGER NOT NULL, in_flight INTEGER NOT NULL, currency TEXT NOT NULL);
CREATE TABLE agg (txn INTEGER PRIMARY KEY, recs INTEGER NOT NULL, sales INTEGER NOT NULL, net INTEGER NOT NULL, cmin TEXT, cmax TEXT);
`;

/** An amount column (n12 text, or null) as minor units; '' and null are 0. */
const minorSql = (col: string): string => `CAST(COALESCE(${col}, '0') AS INTEGER)`;
const ASKED = `${minorSql('COALESCE(s."approvedAmount", s.amount)')}`;
const KEPT = `(s.state = 'approved' AND (s."reversalState" IS NULL OR s."reversalState" = 'cancelled'))`;
const NOTHING = `(s.state IN ('declined', 'not_sent'))`;

/**
 * ./journal-side.ts's expectationOf, over a source `s` with the columns of
 * ReconJournalRow: asked, expected, kept, undone, rev_acked, in_flight.
 */
const EXPECTATION = `${ASKED},
  CASE WHEN ${NOTHING} THEN 0 WHEN ${KEPT} THEN ${ASKED} WHEN s."reversalState" IS 'acked' THEN ${minorSql('s."reversalFinal"')} ELSE 0 END,
  ${KEPT}, (NOT ${NOTHING} AND NOT ${KEPT}), s."reversalState" IS 'acked', COALESCE(s."reversalState" IN ('pending', 'sent'), 0)`;

const JR_COLUMNS = 'kind, txn_id, undo_id, undo_state, state, rrn, terminal, ustan, f7, asked, expected, kept, undone, rev_acked, in_flight, currency';

/** A sale of the journal from a source `s` with the columns of ReconJournalRow (F7 from the sealed message when the journal has none). */
const SALE_FROM_SOURCE = `SELECT 'sale', s.id, s."reversalId", s."reversalState", s.state, COALESCE(s.rrn, ''), COALESCE(s.terminal, ''),
  COALESCE(s."upstreamStan", ''), COALESCE(s.f7, CASE WHEN json_valid(s.sealed) THEN json_extract(s.sealed, '$."7"') END, ''), ${EXPECTATION},
  COALESCE(s.currency, '')`;

/**
 * Record to journal row, into m (seq, txn): written as a new narrow table, not an UPDATE
 * of rec, so each match is an append. Ties prefer the same amount, then the same STAN,
 * then the first journal row (max() picks the row its bare columns come from).
 * The STAN + F7 pass scans the journal once against an index of the few records left,
 * rather than indexing the journal for them.
 */
const MATCH = `
CREATE INDEX jr_rrn ON jr (kind, rrn, terminal);
CREATE TABLE m (seq INTEGER PRIMARY KEY, txn INTEGER NOT NULL);
INSERT INTO m (seq, txn)
  SELECT seq, n FROM (SELECT r.seq, j.n, max(((j.asked = r.amount) * 2 + (j.ustan = r.stan)) * 10000000000 - j.n)
    FROM rec r JOIN jr j ON j.kind = r.kind AND j.rrn = r.rrn AND j.terminal = r.terminal WHERE r.rrn <> '' GROUP BY r.seq);
CREATE TEMP TABLE cand AS SELECT r.seq, r.kind, r.stan, r.f7, r.terminal FROM rec r WHERE r.f7 <> '' AND NOT EXISTS (SELECT 1 FROM m WHERE m.seq = r.seq);
CREATE INDEX temp.cand_key ON cand (kind, stan, f7);
INSERT INTO m (seq, txn)
  SELECT seq, n FROM (SELECT c.seq, j.n, max((c.terminal = j.terminal) * 10000000000 - j.n)
    FROM jr j CROSS JOIN cand c ON c.kind = j.kind AND c.stan = j.ustan AND c.f7 = j.f7 GROUP BY c.seq);
CREATE INDEX m_txn ON m (txn);
INSERT INTO agg (txn, recs, sales, net, cmin, cmax)
  SELECT m.txn, count(*), sum(r.type = 'sale'), sum(CASE r.type WHEN 'reversal' THEN -r.amount ELSE r.amount END), min(r.currency), max(r.currency)
  FROM m JOIN rec r ON r.seq = m.seq GROUP BY m.txn;
`;

/** A journal row that plainly agrees with its records (classify.ts would say matched, with no duplicate). */
const AGREES = `(COALESCE(a.sales, 0) <= 1 AND COALESCE(a.net, 0) = j.expected AND (a.txn IS NULL OR (a.cmin = j.currency AND a.cmax = j.currency)))`;

/** One journal row with the records keyed to it (none: the record columns null). */
interface JoinedRow {
  n: number; kind: 'sale' | 'refund'; txn_id: string | null; undo_id: string | null; undo_state: string | null; state: string | null;
  rrn: string; terminal: string; ustan: string; f7: string; asked: number; expected: number; kept: number; undone: number; rev_acked: number;
  in_flight: number; currency: string;
  line: number | null; type: SettlementType | null; r_amount: number | null; r_currency: string | null; r_rrn: string | null; r_terminal: string | null;
  r_stan: string | null; r_f7: string | null;
}

interface RecRow { line: number; type: SettlementType; amount: number; currency: string; rrn: string; terminal: string; stan: string; f7: string }

/** What the rows that plainly agree add up to, per currency. */
export interface AgreedTotal { currency: string; journalRows: number; fileRecords: number; journalAmount: bigint; fileAmount: bigint }

export class Scratch {
  private readonly dir: string;
  private readonly db: Database.Database;
  private readonly putRec: Database.Statement;
  /** REC_BLOCK records in one statement: a record costs one call into SQLite per block, not one each. */
  private readonly putRecs: Database.Statement;

  constructor(parent = tmpdir()) {
    this.dir = mkdtempSync(join(parent, 'revswitch-recon-'));
    this.db = new Database(join(this.dir, 'scratch.db'));
    this.db.pragma('journal_mode = OFF');
    this.db.pragma('synchronous = OFF');
    this.db.pragma('cache_size = -65536'); // 64 MiB: the bound on what sorting and joining keep in memory
    this.db.pragma('temp_store = FILE');
    this.db.exec(SCHEMA);
    const values = '(?, ?, ?, ?, ?, ?, ?, ?, ?)';
    this.putRec = this.db.prepare(`INSERT INTO rec (line, kind, type, rrn, terminal, stan, f7, amount, currency) VALUES ${values}`);
    this.putRecs = this.db.prepare(`INSERT INTO rec (line, kind, type, rrn, terminal, stan, f7, amount, currency) VALUES ${Array<string>(REC_BLOCK).fill(values).join(', ')}`);
  }

  get dirPath(): string {
    return this.dir;
  }

  /** A batch of records, in one transaction. */
  addRecords(recs: readonly FileEntry[]): void {
    this.db.transaction(() => {
      const params: (string | number)[] = [];
      let i = 0;
      for (; i + REC_BLOCK <= recs.length; i += REC_BLOCK) {
        params.length = 0;
        for (let k = i; k < i + REC_BLOCK; k++) pushRecord(params, recs[k]);
        this.putRecs.run(params);
      }
      for (; i < recs.length; i++) {
        params.length = 0;
        pushRecord(params, recs[i]);
        this.putRec.run(params);
      }
    })();
  }

  /** The date's journal straight from a SQLite store's file (read only; the switch may be writing it): one statement. Returns the rows copied. */
  copyJournalFrom(path: string, businessDate: string, upstream: string | null): number {
    this.db.prepare('ATTACH DATABASE ? AS j').run(path);
    try {
      return this.db.prepare(`INSERT INTO jr (${JR_COLUMNS}) ${SALE_FROM_SOURCE} FROM (${journalSelect('j.')}) s`).run(businessDate, upstream, upstream).changes;
    } finally {
      this.db.exec('DETACH DATABASE j');
    }
  }

  /** A page of journal rows from any store. */
  addJournalRows(rows: readonly ReconJournalRow[]): void {
    const put = this.db.prepare(`INSERT INTO jr (${JR_COLUMNS}) ${SALE_FROM_SOURCE} FROM (SELECT ? AS id, ? AS state, ? AS rrn, ? AS terminal,
      ? AS "upstreamStan", ? AS f7, NULL AS sealed, ? AS amount, ? AS "approvedAmount", ? AS currency, ? AS "reversalId", ? AS "reversalState",
      ? AS "reversalFinal") s`);
    this.db.transaction(() => {
      for (const r of rows) {
        put.run(r.id, r.state, r.rrn, r.terminal, r.upstreamStan, r.f7, r.amount, r.approvedAmount, r.currency, r.reversalId, r.reversalState, r.reversalFinal);
      }
    })();
  }

  /** Refunds of the queue acknowledged on the date: the file should settle each, for its amount. */
  addRefunds(rows: readonly ReconRefundRow[]): void {
    const put = this.db.prepare(`INSERT INTO jr (${JR_COLUMNS}) VALUES ('refund', ?, ?, ?, NULL, ?, ?, ?, ?, ?, ?, 1, 0, 0, 0, ?)`);
    this.db.transaction(() => {
      for (const r of rows) {
        const amount = minor(r.amount);
        put.run(r.txnId, r.id, r.state, r.rrn ?? '', r.terminal ?? '', r.upstreamStan ?? '', r.f7 ?? '', amount, amount, r.currency ?? '');
      }
    })();
  }

  match(): void {
    this.db.exec(MATCH);
  }

  /** Per currency, the journal rows that plainly agree with the file, and their records. */
  agreed(): AgreedTotal[] {
    const rows = this.db.prepare(`SELECT j.currency, count(*) AS journalRows, COALESCE(sum(a.recs), 0) AS fileRecords, sum(j.expected) AS journalAmount,
      COALESCE(sum(a.net), 0) AS fileAmount FROM jr j LEFT JOIN agg a ON a.txn = j.n WHERE ${AGREES} GROUP BY j.currency ORDER BY j.currency`)
      .safeIntegers(true).all() as { currency: string; journalRows: bigint; fileRecords: bigint; journalAmount: bigint; fileAmount: bigint }[];
    return rows.map((r) => ({ currency: r.currency, journalRows: Number(r.journalRows), fileRecords: Number(r.fileRecords), journalAmount: r.journalAmount, fileAmount: r.fileAmount }));
  }

  /** Every other journal row in order, with the records keyed to it in file order. */
  *groups(): Generator<{ journal: JournalEntry; records: FileEntry[] }> {
    const stmt = this.db.prepare(`SELECT j.*, r.line, r.type, r.amount AS r_amount, r.currency AS r_currency, r.rrn AS r_rrn, r.terminal AS r_terminal,
      r.stan AS r_stan, r.f7 AS r_f7 FROM jr j LEFT JOIN agg a ON a.txn = j.n LEFT JOIN m ON m.txn = j.n LEFT JOIN rec r ON r.seq = m.seq
      WHERE NOT ${AGREES} ORDER BY j.n, r.seq`);
    let cur: { n: number; journal: JournalEntry; records: FileEntry[] } | null = null;
    for (const row of stmt.iterate() as IterableIterator<JoinedRow>) {
      if (cur === null || cur.n !== row.n) {
        if (cur !== null) yield cur;
        cur = { n: row.n, journal: journalOf(row), records: [] };
      }
      if (row.line !== null && row.type !== null) {
        cur.records.push({
          line: row.line, type: row.type, amount: row.r_amount ?? 0, currency: row.r_currency ?? '', rrn: row.r_rrn ?? '', terminal: row.r_terminal ?? '',
          stan: row.r_stan ?? '', f7: row.r_f7 ?? '',
        });
      }
    }
    if (cur !== null) yield cur;
  }

  /** Records no journal row keys to, in file order. */
  *unmatched(): Generator<FileEntry> {
    const stmt = this.db.prepare(`SELECT line, type, amount, currency, rrn, terminal, stan, f7 FROM rec r
      WHERE NOT EXISTS (SELECT 1 FROM m WHERE m.seq = r.seq) ORDER BY seq`);
    yield* stmt.iterate() as IterableIterator<RecRow>;
  }

  /** The expectation SQL computes for a row (test/reconcile-units.test.ts holds it against ./journal-side.ts). */
  expectationOf(row: ReconJournalRow): { asked: number; expected: number; kept: boolean; undone: boolean; reversalAcked: boolean; undoInFlight: boolean } {
    const r = this.db.prepare(`SELECT ${EXPECTATION.replace(/,\n\s*/g, ', ')} FROM (SELECT ? AS state, ? AS amount, ? AS "approvedAmount", ? AS "reversalState",
      ? AS "reversalFinal") s`).raw(true).get(row.state, row.amount, row.approvedAmount, row.reversalState, row.reversalFinal) as number[];
    return { asked: r[0], expected: r[1], kept: r[2] === 1, undone: r[3] === 1, reversalAcked: r[4] === 1, undoInFlight: r[5] === 1 };
  }

  close(): void {
    if (this.db.open) this.db.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const REC_BLOCK = 64;

function pushRecord(params: (string | number)[], r: FileEntry): void {
  params.push(r.line, r.type === 'refund' ? 'refund' : 'sale', r.type, r.rrn, r.terminal, r.stan, r.f7, r.amount, r.currency);
}

function journalOf(r: JoinedRow): JournalEntry {
  return {
    kind: r.kind, txnId: r.txn_id, undoId: r.undo_id, undoState: r.undo_state, state: r.state, rrn: r.rrn, terminal: r.terminal, stan: r.ustan, f7: r.f7,
    currency: r.currency, expected: r.expected, asked: r.asked, kept: r.kept === 1, undone: r.undone === 1, reversalAcked: r.rev_acked === 1,
    undoInFlight: r.in_flight === 1,
  };
}
