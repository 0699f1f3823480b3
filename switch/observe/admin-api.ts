/**
 * The report and the evidence as JSON over the admin HTTP server:
 *
 *   GET /api/report?since=T&until=T&pendingOlderThan=D&top=N&limit=N
 *                                                  the exception report (as `revswitch report --format json`)
 *   GET /api/transactions?rrn=R | ?terminal=T&stan=S [&date=YYYY-MM-DD]
 *                                                  the matches; with exactly one, its evidence too
 *   GET /api/transactions/:id                      the evidence of one transaction (as `revswitch txn --format json`)
 *   GET /api/manual[?limit=N]                      the manual queue with reasons
 *   GET /api/rules                                 the rules in force: source, content hash, version, load time
 *   GET /api/rules/decide?case=JSON                what they decide for a case (as `revswitch rules decide`)
 *
 * T and D as on the command line (ISO 8601 or an age like 24h; durations like 30m). Errors
 * are JSON `{ "error": "..." }`: 400 for a bad parameter (a window longer than
 * admin.reportMaxDays included), 404 for nothing found, 405 for a method other than GET or
 * HEAD, 429 while another report runs, 500 when the store fails. Read-only: never a write.
 *
 * The admin port must not stop the switch (issue 16): a report is aggregated by the store
 * off the event loop (store/report-query.ts), bounded (report.ts), and one runs at a time
 * per process; a second is refused with Retry-After rather than queued, since queued
 * reports are the pile-up the bounds are there to prevent.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { lookupTxn } from '../reports/evidence.js';
import { DEFAULT_LIMIT, DEFAULT_PENDING_MS, gatherReport, manualQueue, reportQuery, ReportLimitError } from '../reports/report.js';
import { parseDuration, parseTime } from '../reports/time.js';
import { sendBody } from './admin-guard.js';
import type { Store } from '../store/types.js';

export type ApiHandler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

/** An answer other than 200, with its status: the message goes out as `{ "error": ... }`. */
export class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
  }
}

/** A JSON answer (no body for HEAD), never cached. */
export function send(_req: IncomingMessage, res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  // A report can run to megabytes: written as the client takes it (./admin-guard.ts).
  sendBody(res, status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers }, JSON.stringify(body, null, 2) + '\n');
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

function wholeParam(u: URL, name: string): number | undefined {
  const v = param(u, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n)) throw new HttpError(400, `${name}: expected a whole number; got ${JSON.stringify(v)}`);
  return n;
}

function timeParam(u: URL, name: string, dflt: string, now: number): number {
  try {
    return parseTime(param(u, name) ?? dflt, now);
  } catch (e) {
    throw new HttpError(400, `${name}: ${(e as Error).message}`);
  }
}

export interface ApiOptions {
  /** The longest report window, days (config admin.reportMaxDays; default 31). */
  reportMaxDays?: number;
  /** The rules in force, as /api/rules reports them (CompiledRules.identity()); absent: 404. */
  rules?: () => RulesIdentity;
  /** What the rules in force decide for a case (`rules decide`'s JSON); throws HttpError 400 on a bad case. */
  decide?: (caseJson: unknown) => unknown;
}

/** Which rules a running switch decides with: an operator compares the hash with `revswitch rules check`'s. */
export interface RulesIdentity {
  source: string;
  hash: string;
  version: number;
  loadedAt: string;
}

/** One report at a time per process (see the header); how long the last one took, for Retry-After. */
const reports = { running: false, lastMs: 5000 };

/**
 * The /api/* routes on a store. The handler answers any path under /api/ (true) and
 * leaves every other path alone (false), so it can sit beside other routes.
 */
export function apiRoutes(store: Store, opts: ApiOptions = {}): ApiHandler {
  return async (req, res) => {
    const u = new URL(req.url ?? '/', 'http://admin.invalid');
    const path = u.pathname.startsWith('/api/') || u.pathname === '/api' ? u.pathname.slice(4) : null;
    if (path === null) return false;
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, `${req.method ?? '?'} is not allowed: the API is read-only (GET)`, { allow: 'GET, HEAD' });
      send(req, res, 200, await route(store, path, u, opts));
    } catch (e) {
      if (e instanceof HttpError) send(req, res, e.status, { error: e.message }, e.headers);
      else if (e instanceof ReportLimitError) send(req, res, 400, { error: e.message });
      else send(req, res, 500, { error: `the store failed: ${e instanceof Error ? e.message : String(e)}` });
    }
    return true;
  };
}

async function report(store: Store, u: URL, opts: ApiOptions): Promise<unknown> {
  const now = Date.now();
  const since = timeParam(u, 'since', 'today', now);
  const until = timeParam(u, 'until', 'now', now);
  const po = param(u, 'pendingOlderThan');
  const pendingOlderThanMs = po === undefined ? DEFAULT_PENDING_MS : parseDuration(po);
  if (pendingOlderThanMs === null) throw new HttpError(400, `pendingOlderThan: expected a duration like 30m or 1h; got ${JSON.stringify(po)}`);
  const o = { since, until, now, pendingOlderThanMs, top: wholeParam(u, 'top'), limit: wholeParam(u, 'limit'), maxDays: opts.reportMaxDays };
  reportQuery(o); // a bad request is answered 400 even while another report runs
  if (reports.running) {
    const secs = Math.max(1, Math.ceil(reports.lastMs / 1000));
    throw new HttpError(429, `another report is running: one at a time; retry in ${secs} s`, { 'retry-after': String(secs) });
  }
  reports.running = true;
  const t0 = performance.now();
  try {
    return await gatherReport(store, o);
  } finally {
    reports.running = false;
    reports.lastMs = performance.now() - t0;
  }
}

async function route(store: Store, path: string, u: URL, opts: ApiOptions): Promise<unknown> {
  if (path === '/report') return report(store, u, opts);
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
  if (path === '/rules' && opts.rules) return opts.rules();
  if (path === '/rules/decide' && opts.decide) {
    // A pure computation on the rules in force, so a GET: `revswitch rules decide --admin URL`.
    const text = param(u, 'case');
    if (text === undefined) throw new HttpError(400, 'expected ?case=JSON (the case as `revswitch rules decide` takes it)');
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (e) {
      throw new HttpError(400, `case: not valid JSON: ${(e as Error).message}`);
    }
    return opts.decide(data);
  }
  if (path === '/manual') {
    const { lines, total, limit } = await manualQueue(store, Date.now(), wholeParam(u, 'limit') ?? DEFAULT_LIMIT);
    return { count: total, reversals: lines, truncated: total > limit };
  }
  throw new HttpError(404, `no such API path: /api${path}; expected /api/report, /api/transactions, /api/transactions/ID, /api/manual, /api/rules or /api/rules/decide`);
}
