/**
 * Where a SQLite store's report runs: a database file's in a worker started for it
 * (./sqlite-report-worker.ts), with its own connection and a cap on its heap, so neither
 * the switch's event loop nor the journal's worker waits for it and a report that grows
 * past the cap fails alone; `:memory:` (tests), which no other connection can see, on the
 * engine's own connection.
 */
import type { ReportData, ReportQuery } from './report-query.js';
import type { ReportWorkerData, ReportWorkerReply } from './sqlite-report-worker.js';
import { spawnWorker } from './worker-spawn.js';

/** The report worker's JS heap, MB: what it holds is the answer, a few hundred rows. */
const REPORT_HEAP_MB = 256;

export function reportInWorker(path: string, busyTimeoutMs: number, label: string, q: ReportQuery): Promise<ReportData> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const data: ReportWorkerData = { path, busyTimeoutMs, q };
    const w = spawnWorker('sqlite-report-worker', data, { resourceLimits: { maxOldGenerationSizeMb: REPORT_HEAP_MB } });
    w.once('message', (m: ReportWorkerReply) => {
      answered = true;
      if (m.ok) resolve(m.value);
      else reject(new Error(`${label}: report: ${m.error}`));
    });
    w.once('error', (e: Error) => {
      if (!answered) reject(new Error(`${label}: the report worker failed: ${e.message}`));
      answered = true;
    });
    w.once('exit', (code: number) => {
      if (!answered) reject(new Error(`${label}: the report worker exited (code ${code}) before it answered`));
    });
  });
}
