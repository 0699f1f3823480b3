/** Reconciliation's reads and run records on PostgreSQL (./recon-sql.ts holds the statements). */
import type pg from 'pg';
import type { ReconJournalQuery, ReconJournalRow, ReconRefundRow, ReconRunRow } from './recon-rows.js';
import { journalRow, RECON_SQL as S, refundRow, runValues } from './recon-sql.js';
import { pg as numbered } from './retention-sql.js';

type Client = pg.PoolClient;

export async function pgReconJournal(c: Client, q: ReconJournalQuery): Promise<ReconJournalRow[]> {
  const res = await c.query<ReconJournalRow>(numbered(S.journalPage), [q.businessDate, q.upstream, q.upstream, q.after, q.limit]);
  return res.rows.map(journalRow);
}

export async function pgReconRefunds(c: Client, since: number, until: number): Promise<ReconRefundRow[]> {
  return (await c.query<ReconRefundRow>(numbered(S.refunds), [since, until])).rows.map(refundRow);
}

export async function pgInsertReconRun(c: Client, r: ReconRunRow): Promise<boolean> {
  return (await c.query(numbered(S.insertRun), runValues(r))).rowCount === 1;
}

export async function pgReconRuns(c: Client): Promise<ReconRunRow[]> {
  return (await c.query<ReconRunRow>(numbered(S.runs))).rows;
}
