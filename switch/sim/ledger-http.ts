/**
 * The issuer simulator's ledger over HTTP, so a demo or a test can watch the holds while
 * it runs: GET /ledger (every hold, refund and unmatched reversal, JSON), GET
 * /ledger/summary (the totals and counters, JSON: what a script or a dashboard reads), and
 * GET /ledger/summary?format=text (the text printed at exit, for a person).
 */
import { createServer, type Server } from 'node:http';
import { formatLedger } from './format.js';
import type { Ledger } from './ledger.js';

/** Not listening yet: the issuer binds it where it was told. */
export function createLedgerServer(ledger: Ledger): Server {
  return createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://ledger');
    const path = url.pathname;
    if (req.method !== 'GET') {
      res.writeHead(405, { 'content-type': 'text/plain', allow: 'GET' }).end('method not allowed\n');
    } else if (path === '/ledger') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(ledger.snapshot()));
    } else if (path === '/ledger/summary' && url.searchParams.get('format') === 'text') {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(formatLedger(ledger.snapshot()) + '\n');
    } else if (path === '/ledger/summary') {
      const l = ledger.snapshot();
      const totals = { takenAt: new Date(l.takenAt).toISOString(), ...l.summary, counters: l.counters };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(totals, null, 2) + '\n');
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try GET /ledger, /ledger/summary or /ledger/summary?format=text\n');
    }
  });
}
