/**
 * One report, in a worker thread of its own, on a connection of its own (./sqlite-report.ts
 * starts it): the journal's worker goes on committing meanwhile (WAL lets a reader run
 * beside the writer), and the switch's event loop only receives the small answer. The
 * connection is query_only: a report never writes. The worker answers once and ends.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { ReportData, ReportQuery } from './report-query.js';
import { sqliteReport } from './report-sqlite.js';

export interface ReportWorkerData {
  path: string;
  busyTimeoutMs: number;
  q: ReportQuery;
}

export type ReportWorkerReply = { ok: true; value: ReportData } | { ok: false; error: string };

const port = parentPort;
if (port === null) throw new Error('sqlite-report-worker.ts runs as a worker thread only');
const d = workerData as ReportWorkerData;

let reply: ReportWorkerReply;
try {
  const db = new Database(d.path, { fileMustExist: true, timeout: d.busyTimeoutMs });
  try {
    db.pragma('query_only = ON');
    // The page cache is this connection's memory: a month of journal is read once, not kept.
    db.pragma('cache_size = -16384');
    reply = { ok: true, value: sqliteReport(db, d.q) };
  } finally {
    db.close();
  }
} catch (e) {
  reply = { ok: false, error: e instanceof Error ? e.message : String(e) };
}
port.postMessage(reply);
