/** Reconciliation's reads and run records on SQLite (./recon-sql.ts holds the statements). */
import type Database from 'better-sqlite3';
import type { ReconJournalQuery, ReconJournalRow, ReconRefundRow, ReconRunRow } from './recon-rows.js';
import { journalRow, RECON_SQL as S, refundRow, runValues } from './recon-sql.js';

export function sqliteReconJournal(db: Database.Database, q: ReconJournalQuery): ReconJournalRow[] {
  const rows = db.prepare(S.journalPage).all(q.businessDate, q.upstream, q.upstream, q.after, q.limit) as ReconJournalRow[];
  return rows.map(journalRow);
}

export function sqliteReconRefunds(db: Database.Database, since: number, until: number): ReconRefundRow[] {
  return (db.prepare(S.refunds).all(since, until) as ReconRefundRow[]).map(refundRow);
}

export function sqliteInsertReconRun(db: Database.Database, r: ReconRunRow): boolean {
  return db.prepare(S.insertRun).run(...runValues(r)).changes === 1;
}

export function sqliteReconRuns(db: Database.Database): ReconRunRow[] {
  return db.prepare(S.runs).all() as ReconRunRow[];
}
