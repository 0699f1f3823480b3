/**
 * The report and the evidence as JSON over the admin HTTP server:
 *
 *   GET /api/report?since=T&until=T&pendingOlderThan=D&top=N   the exception report (as `revswitch report --format json`)
 *   GET /api/transactions?rrn=R | ?terminal=T&stan=S [&date=YYYY-MM-DD]
 *                                                  the matches; with exactly one, its evidence too
 *   GET /api/transactions/:id                      the evidence of one transaction (as `revswitch txn --format json`)
 *   GET /api/manual                                the manual queue with reasons
 *
 * T and D as on the command line (ISO 8601 or an age like 24h; durations like 30m). Errors
 * are JSON `{ "error": "..." }`: 400 for a bad parameter, 404 for nothing found, 405 for a
 * method other than GET or HEAD, 500 when the store fails. Read-only: never a write.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { lookupTxn } from '../reports/evidence.js';
import { buildReport, DEFAULT_PENDING_MS, gatherReport, type ManualLine } from '../reports/report.js';
import { parseDuration, parseTime } from '../reports/time.js';
import type { Store, TxnRow } from '../store/types.js';

export type ApiHandler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

/** An answer other than 200, with its status: the message goes out as `{ "error": ... }`. */
export class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** A JSON answer (no body for HEAD), never cached. */
export function send(req: IncomingMessage, res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body, null, 2) + '\n';
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(req.method === 'HEAD' ? undefined : text);
}

/** A path segment decoded; a malformed percent-encoding (%E0%A4%A) is the caller's error, 400. */
export function pathSegment(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new HttpError(400, `malformed percent-encoding in the path: ${JSON.stringify(raw.slice(0, 64))}`);
  }
}

function param(u: URL, name: string): string | undefined {
  const v = u.searchParams.get(name);
  return v === null || v === '' ? undefined : v;
}

function timeParam(u: URL, name: string, dflt: string, now: number): number {
  try {
    return parseTime(param(u, name) ?? dflt, now);
  } catch (e) {
    throw new HttpError(400, `${name}: ${(e as Error).message}`);
  }
}

/**
 * The /api/* routes on a store. The handler answers any path under /api/ (true) and
 * leaves every other path alone (false), so it can sit beside other routes.
 */
export function apiRoutes(store: Store): ApiHandler {
  return async (req, res) => {
    const u = new URL(req.url ?? '/', 'http://admin.invalid');
    const path = u.pathname.startsWith('/api/') || u.pathname === '/api' ? u.pathname.slice(4) : null;
    if (path === null) return false;
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, `${req.method ?? '?'} is not allowed: the API is read-only (GET)`);
      send(req, res, 200, await route(store, path, u));
    } catch (e) {
      if (e instanceof HttpError) send(req, res, e.status, { error: e.message }, e.status === 405 ? { allow: 'GET, HEAD' } : {});
      else send(req, res, 500, { error: `the store failed: ${e instanceof Error ? e.message : String(e)}` });
    }
    return true;
  };
}

async function route(store: Store, path: string, u: URL): Promise<unknown> {
  if (path === '/report') {
    const now = Date.now();
    const since = timeParam(u, 'since', 'today', now);
    const until = timeParam(u, 'until', 'now', now);
    if (!(since < until)) throw new HttpError(400, 'since must be before until');
    const po = param(u, 'pendingOlderThan');
    const pendingOlderThanMs = po === undefined ? DEFAULT_PENDING_MS : parseDuration(po);
    if (pendingOlderThanMs === null) throw new HttpError(400, `pendingOlderThan: expected a duration like 30m or 1h; got ${JSON.stringify(po)}`);
    const topParam = param(u, 'top');
    const top = topParam === undefined ? undefined : Number(topParam);
    if (top !== undefined && !(Number.isInteger(top) && top >= 1)) throw new HttpError(400, `top: expected a whole number >= 1; got ${JSON.stringify(topParam)}`);
    return gatherReport(store, { since, until, now, pendingOlderThanMs, top });
  }
  if (path === '/transactions') {
    const q = { rrn: param(u, 'rrn'), terminal: param(u, 'terminal'), stan: param(u, 'stan'), businessDate: param(u, 'date') };
    if (q.rrn === undefined && (q.terminal === undefined || q.stan === undefined)) throw new HttpError(400, 'expected ?rrn=R, or ?terminal=T&stan=S (and optionally &date=YYYY-MM-DD)');
    if (q.businessDate !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(q.businessDate)) throw new HttpError(400, `date: expected YYYY-MM-DD; got ${JSON.stringify(q.businessDate)}`);
    const found = await lookupTxn(store, q);
    if (found.found === 'none') return { count: 0, transactions: [] };
    if (found.found === 'many') return { count: found.candidates.length, transactions: found.candidates };
    return { count: 1, transactions: [found.evidence.txn], evidence: found.evidence };
  }
  const one = /^\/transactions\/([^/]+)$/.exec(path);
  if (one) {
    const id = pathSegment(one[1]);
    const found = await lookupTxn(store, { id });
    if (found.found !== 'one') throw new HttpError(404, `no transaction with id ${JSON.stringify(id)}`);
    return found.evidence;
  }
  if (path === '/manual') {
    const manual = await manualQueue(store, Date.now());
    return { count: manual.length, reversals: manual };
  }
  throw new HttpError(404, `no such API path: /api${path}; expected /api/report, /api/transactions, /api/transactions/ID or /api/manual`);
}

/** The manual queue as the report shows it (with the transaction's terminal, RRN and amount). */
async function manualQueue(store: Store, now: number): Promise<ManualLine[]> {
  const manual = await store.reversals(['manual']);
  const related: TxnRow[] = [];
  for (const r of manual) {
    if (r.txnId === null) continue;
    const t = await store.txn(r.txnId);
    if (t !== undefined) related.push(t);
  }
  return buildReport({ txns: [], reversals: [], history: [], active: [], manual, unfinished: [], related }, { since: now, until: now + 1, now }).manual;
}
