/**
 * The issuer simulator's ledger over HTTP: GET /ledger (JSON) and GET /ledger/summary
 * (the text printed at exit), so a demo or a test can watch the holds while it runs.
 */
import { createServer, type Server } from 'node:http';
import { formatLedger } from './format.js';
import type { Ledger } from './ledger.js';

/** Not listening yet: the issuer binds it where it was told. */
export function createLedgerServer(ledger: Ledger): Server {
  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') {
      res.writeHead(405, { 'content-type': 'text/plain', allow: 'GET' }).end('method not allowed\n');
    } else if (path === '/ledger') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(ledger.snapshot()));
    } else if (path === '/ledger/summary') {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(formatLedger(ledger.snapshot()) + '\n');
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try GET /ledger or /ledger/summary\n');
    }
  });
}
