/**
 * The exception report and the evidence of one transaction, checked against a scripted
 * scenario with known outcomes: the real switch (on a SQLite file) between a terminal
 * client and the issuer simulator, driven by the simulator's magic amounts. Then the same
 * store through the CLI (a child process, while the switch still runs) and through /api/*
 * on the switch's admin HTTP server. Sections the switch cannot reach in a short test
 * (a refund after cutover, the manual queue, entries pending for hours) are checked on
 * rows written through the Store API.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { getDialect, reversalOf, type IsoMessage } from '../codec/index.js';
import { apiRoutes } from '../switch/observe/admin-api.js';
import { progress } from '../switch/cli/report-commands.js';
import { lookupTxn, type Evidence, type EvidenceTxn } from '../switch/reports/evidence.js';
import { transmissionTime } from '../codec/index.js';
import { csvCell, formatCsv, formatMinor, formatText } from '../switch/reports/format-report.js';
import { buildReport, gatherReport, outcomeOf, type Report } from '../switch/reports/report.js';
import { parseDuration, parseTime } from '../switch/reports/time.js';
import { MemoryStore } from '../switch/store/memory.js';
import type { Store } from '../switch/store/types.js';
import { PAN, nextRrn, nextStan, sale, startHarness } from './support/switch-harness.js';
import { reversalRow, txnRow } from './support/store-contract.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = ['--import=tsx', join(ROOT, 'switch', 'cli', 'main.ts')];
const D87 = getDialect('iso87a');
const MASKED = '476173******0119';
const PAN2 = '4111111111111111';
const noPan = new RegExp(`${PAN}|${PAN2}`);

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [...CLI, ...args], { cwd: ROOT, encoding: 'utf8' });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** RFC 4180, enough for the report: quoted cells with "" and commas, CRLF rows. */
function parseCsv(text: string): Record<string, string>[] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') { cell += '"'; i++; } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') { row.push(cell); cell = ''; } else if (ch === '\r') continue;
    else if (ch === '\n') { row.push(cell); rows.push(row); row = []; cell = ''; } else cell += ch;
  }
  if (cell !== '' || row.length > 0) { row.push(cell); rows.push(row); }
  const [head, ...body] = rows;
  return body.map((r) => Object.fromEntries(head.map((h, i) => [h, r[i] ?? ''])));
}

async function getJson(port: number, path: string, method = 'GET'): Promise<{ status: number; body: unknown; allow: string | null }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { method });
  const text = await res.text();
  return { status: res.status, body: text === '' ? null : JSON.parse(text), allow: res.headers.get('allow') };
}

/** The report without what depends on the moment it was made. */
function stable(r: Report): unknown {
  return { ...r, generatedAt: null, pending: null, manual: null, openReviews: r.openReviews.map((v) => ({ ...v, ageMs: null })) };
}

interface Sale {
  name: string;
  terminal: string;
  merchant: string;
  amount: string;
  msg: IsoMessage;
  res?: IsoMessage;
}

t.test('a scripted scenario: the report in JSON, text and CSV, the evidence, the CLI and /api', async (tt) => {
  const dir = mkdtempSync(join(tmpdir(), 'revswitch-report-'));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const url = `sqlite:${join(dir, 'switch.db')}`;
  const h = await startHarness(tt, { store: url, issuer: { lateMs: 900 }, admin: true });
  const store = h.sw.journal.store;
  const c = await h.client();
  const since = Date.now() - 1;

  const sharedRrn = nextRrn('RP');
  const plan: [string, string, string, string, string?][] = [
    // name, terminal, merchant, amount (the issuer simulator's magic endings script the outcome), rrn
    ['A1', 'TERM0001', 'MERCHANT0000001', '1000', sharedRrn],
    ['A2', 'TERM0001', 'MERCHANT0000001', '2000'],
    ['A3', 'TERM0001', 'MERCHANT0000001', '3000'],
    ['A4', 'TERM0002', 'MERCHANT0000001', '4000', sharedRrn],
    ['A5', 'TERM0002', 'MERCHANT0000001', '5000'],
    ['D51', 'TERM0002', 'MERCHANT0000001', '1251'],
    ['TO', 'TERM0001', 'MERCHANT0000001', '1099'],
    ['LATE', 'TERM0001', 'MERCHANT0000001', '2068'],
    ['E96', 'TERM0002', 'MERCHANT0000001', '3096'],
    ['RV', 'TERM0003', 'MERCHANT0000003', '6000'],
    ['F59', 'TERM0003', 'MERCHANT0000003', '7059'],
  ];
  const sales = new Map<string, Sale>();
  for (const [name, terminal, merchant, amount, rrn] of plan) {
    // TERM0003 takes another card: a fourth undo for one card in 10 minutes would go to review (velocity).
    const msg = sale({ amount, terminal, rrn: rrn ?? nextRrn('RP'), over: { 42: merchant, ...(terminal === 'TERM0003' ? { 2: PAN2 } : {}) } });
    const s: Sale = { name, terminal, merchant, amount, msg };
    s.res = await c.request(msg, 5000);
    sales.set(name, s);
  }
  const S = (name: string): Sale => sales.get(name) as Sale;
  tt.same([...sales.values()].map((s) => s.res?.get(39)), ['00', '00', '00', '00', '00', '51', '91', '91', '96', '00', '59'], 'the terminal saw the scripted answers');
  // The terminal reverses RV (customer cancellation): a 0400 with its own STAN.
  const rvSale = S('RV').msg;
  const rev = reversalOf(D87, rvSale, { reason: '17', stan: nextStan(), transmissionDateTime: transmissionTime(Date.now()), approvalCode: S('RV').res?.get(38) });
  tt.equal((await c.request(rev, 5000)).get(39), '00', 'the terminal reversal is answered at once');
  await h.until(() => h.sw.counters.get('late_responses') === 1, 'the late approval');
  await h.until(() => h.sw.reversals.outstanding === 0 && h.sw.counters.get('reversals_acked') === 4, 'four reversals acked', 15_000);
  await store.flush();
  const until = Date.now() + 1;

  // ---- JSON: the report object --------------------------------------------------------------
  const report = await gatherReport(store, { since, until, now: Date.now() });
  tt.match(report.totals, {
    transactions: 11, approved: 5, declined: 1, exceptions: 5, inFlight: 0, terminalReversals: 1,
    amounts: [{ currency: '840', count: 11, minor: '35573' }],
    exceptionAmounts: [{ currency: '840', count: 5, minor: '19322' }],
  }, 'totals');
  tt.same(report.byClass.map((x) => [x.class, x.exception, x.count, x.amounts.map((a) => `${a.minor} ${a.currency}`).join()]), [
    ['timeout', true, 2, '3167 840'],
    ['customer_cancel', true, 1, '6000 840'],
    ['fraud_suspect', true, 1, '7059 840'],
    ['technical_unknown', true, 1, '3096 840'],
    ['approved', false, 5, '15000 840'],
    ['insufficient_funds', false, 1, '1251 840'],
  ], 'counts and amounts by failure class: the exceptions first');
  tt.same(report.reversalsByState, [{ state: 'acked', count: 4, amounts: [{ currency: '840', count: 4, minor: '12263' }] }], 'reversals by state');
  tt.same(report.pending, { reversals: [], transactions: [] }, 'nothing pending');
  tt.same(report.manual, [], 'nothing manual');
  tt.same(report.reviews.map((v) => [v.rrn, v.failureClass]), [[S('F59').msg.get(37), 'fraud_suspect']], 'the fraud decline is for review');
  tt.match(report.reviews[0].decision, /^review \(rule [a-z-]+\): /);
  tt.same(report.topTerminals.map((x) => [x.key, x.exceptions, x.amounts[0].minor]), [['TERM0001', 2, '3167'], ['TERM0003', 2, '13059'], ['TERM0002', 1, '3096']], 'top terminals');
  tt.same(report.topMerchants.map((x) => [x.key, x.exceptions, x.amounts[0].minor]), [['MERCHANT0000001', 3, '6263'], ['MERCHANT0000003', 2, '13059']], 'top merchants');
  tt.same(report.refunds, [], 'no refund');
  tt.notMatch(JSON.stringify(report), noPan, 'no full PAN in the report');

  // ---- text -------------------------------------------------------------------------------------
  const text = formatText(report);
  tt.match(text, /11 transactions: 5 approved, 1 declined, 5 exceptions, 0 in flight; 1 terminal reversal\n/);
  tt.match(text, /amount 355\.73 840; exceptions 193\.22 840/);
  tt.match(text, /\n {2}timeout +yes +2 +31\.67 840\n/, 'the class table');
  tt.match(text, /\n {2}approved +no +5 +150\.00 840\n/);
  tt.match(text, /\n {2}acked +4 +122\.63 840\n/, 'reversals by state');
  tt.match(text, /Top terminals by exceptions\n {2}terminal +exceptions +amount\n {2}TERM0001 +2 +31\.67 840\n {2}TERM0003 +2 +130\.59 840\n {2}TERM0002 +1 +30\.96 840\n/);
  tt.match(text, /Manual queue \(0\)\n {2}none/);

  // ---- CSV --------------------------------------------------------------------------------------
  const csv = parseCsv(formatCsv(report));
  const sec = (name: string) => csv.filter((r) => r.section === name);
  tt.same(sec('totals').map((r) => [r.key, r.count]), [
    ['transactions', '11'], ['approved', '5'], ['declined', '1'], ['exceptions', '5'], ['in_flight', '0'], ['terminal_reversals', '1'],
  ]);
  tt.same(sec('by_class').map((r) => [r.key, r.exception, r.count, r.currency, r.amount, r.amount_minor]), [
    ['timeout', 'yes', '2', '840', '31.67', '3167'],
    ['customer_cancel', 'yes', '1', '840', '60.00', '6000'],
    ['fraud_suspect', 'yes', '1', '840', '70.59', '7059'],
    ['technical_unknown', 'yes', '1', '840', '30.96', '3096'],
    ['approved', 'no', '5', '840', '150.00', '15000'],
    ['insufficient_funds', 'no', '1', '840', '12.51', '1251'],
  ], 'CSV by class, one row per currency');
  tt.same(sec('reversals_by_state').map((r) => [r.state, r.count, r.amount]), [['acked', '4', '122.63']]);
  tt.same(sec('top_terminal').map((r) => [r.key, r.count]), [['TERM0001', '2'], ['TERM0003', '2'], ['TERM0002', '1']]);
  tt.equal(sec('review').length, 1);
  tt.match(sec('review')[0].detail, /^review \(rule [a-z-]+\): /);

  // ---- the evidence -----------------------------------------------------------------------------
  const late = await lookupTxn(store, { rrn: S('LATE').msg.get(37) });
  if (late.found !== 'one') throw new Error(`expected one match, got ${late.found}`);
  const ev = late.evidence;
  tt.equal(ev.txn.state, 'timed_out');
  tt.equal(ev.txn.panMasked, MASKED, 'the masked PAN');
  tt.notOk('sealed' in ev.txn || 'panHash' in ev.txn, 'neither the sealed message nor the PAN hash');
  tt.notMatch(JSON.stringify(ev), noPan, 'no full PAN in the evidence');
  const mine = (role: string) => ev.history.filter((x) => x.role === role).map((x) => x.state);
  tt.same(mine('transaction'), ['forwarded', 'timed_out', 'timed_out'], 'journal: forwarded, timed out with the decision, then the late response');
  // The link was up with a free slot: the reversal was written `sent`, with its 0400, in one commit.
  tt.same(mine('reversal'), ['sent', 'acked'], 'its reversal: sent, acked');
  tt.ok(ev.history.every((x, i) => i === 0 || x.at >= ev.history[i - 1].at), 'in time order');
  const decided = ev.history.find((x) => x.role === 'transaction' && typeof x.detail === 'object' && x.detail !== null && 'decision' in x.detail);
  tt.match(decided?.detail, { failureClass: 'timeout', decision: /^reverse \(rule [a-z-]+\): / }, 'the decision and its rule text');
  tt.ok(ev.history.some((x) => typeof x.detail === 'object' && x.detail !== null && /late response 00/.test(String(x.detail.note))), 'the late approval is in the history');
  tt.match(ev.reversal, { state: 'acked', reason: '68', attempts: 1 });

  const rv = await lookupTxn(store, { terminal: 'TERM0003', stan: rev.get(11) });
  if (rv.found !== 'one') throw new Error(`expected the terminal reversal to find its original, got ${rv.found}`);
  tt.equal(rv.evidence.txn.rrn, rvSale.get(37), 'a terminal reversal\'s STAN finds the sale it reversed');
  tt.same(rv.evidence.history.filter((x) => x.role === 'transaction').map((x) => x.state), ['forwarded', 'approved', 'approved', 'reversed_by_terminal']);
  tt.same(rv.evidence.history.filter((x) => x.role === 'terminal reversal').map((x) => x.state), ['terminal_reversal']);
  tt.equal(rv.evidence.terminalReversals.length, 1);
  tt.match(rv.evidence.terminalReversals[0].decision, /^reverse \(rule [a-z-]+\): .*\(original /);
  tt.same(rv.evidence.history.filter((x) => x.role === 'reversal').map((x) => x.state), ['sent', 'acked']);

  const both = await lookupTxn(store, { rrn: sharedRrn });
  tt.equal(both.found, 'many', 'two sales with one RRN are ambiguous');
  tt.same(both.found === 'many' ? both.candidates.map((x) => x.terminal) : [], ['TERM0001', 'TERM0002']);
  tt.equal((await lookupTxn(store, { rrn: sharedRrn, terminal: 'TERM0002' })).found, 'one');
  tt.equal((await lookupTxn(store, { rrn: 'NOSUCHRRN' })).found, 'none');

  // ---- the CLI on the SQLite file, while the switch runs ---------------------------------------
  const window = ['--since', new Date(since).toISOString(), '--until', new Date(until).toISOString(), '--store', url];
  const j = cli(['report', ...window, '--format', 'json']);
  tt.equal(j.status, 0, j.stderr);
  tt.same(stable(JSON.parse(j.stdout) as Report), stable(report), 'the CLI\'s JSON is the report object');
  const tx = cli(['report', ...window]);
  tt.equal(tx.status, 0, tx.stderr);
  tt.match(tx.stdout, /^revswitch exception report/);
  tt.match(tx.stdout, /5 exceptions/);
  tt.equal(tx.stderr, '', 'no progress indicator when stderr is not a terminal');
  const cs = cli(['report', ...window, '--format', 'csv']);
  tt.equal(cs.status, 0, cs.stderr);
  tt.same(parseCsv(cs.stdout).filter((r) => r.section === 'by_class').map((r) => r.count), ['2', '1', '1', '1', '5', '1']);
  tt.equal(cli(['report', '--since', 'tomorrow-ish', '--store', url]).status, 2, 'a bad time is a usage error');
  tt.equal(cli(['report', '--format', 'xml', '--store', url]).status, 2);

  const txt = cli(['txn', '--rrn', S('LATE').msg.get(37) as string, '--store', url]);
  tt.equal(txt.status, 0, txt.stderr);
  tt.match(txt.stdout, new RegExp(`card +${MASKED.replace(/\*/g, '\\*')}`));
  tt.match(txt.stdout, /decision +reverse \(rule [a-z-]+\): /);
  tt.match(txt.stdout, /history \(every state change, in time order\)/);
  tt.match(txt.stdout, /transaction +forwarded[\s\S]*transaction +timed_out +failureClass: timeout; decision: reverse \(rule [a-z-]+\): [\s\S]*reversal +acked/);
  tt.notMatch(txt.stdout, noPan, 'no full PAN');
  const tj = cli(['txn', '--terminal', S('TO').terminal, '--stan', S('TO').msg.get(11) as string, '--format', 'json', '--store', url]);
  tt.equal(tj.status, 0, tj.stderr);
  tt.equal((JSON.parse(tj.stdout) as Evidence).txn.rrn, S('TO').msg.get(37));
  const amb = cli(['txn', '--rrn', sharedRrn, '--store', url]);
  tt.equal(amb.status, 1, 'ambiguous: exit 1');
  tt.match(amb.stderr, /2 transactions match rrn .*--id/);
  tt.match(amb.stdout, /TERM0001[\s\S]*TERM0002/, 'the candidates are listed');
  const id = (JSON.parse(cli(['txn', '--rrn', sharedRrn, '--format', 'json', '--store', url]).stdout) as { candidates: EvidenceTxn[] }).candidates[1].id;
  const byId = cli(['txn', '--id', id, '--format', 'json', '--store', url]);
  tt.equal(byId.status, 0, byId.stderr);
  tt.equal((JSON.parse(byId.stdout) as Evidence).txn.terminal, 'TERM0002');
  const none = cli(['txn', '--rrn', 'NOSUCHRRN', '--store', url]);
  tt.equal(none.status, 1);
  tt.match(none.stderr, /no transaction with rrn NOSUCHRRN/);
  tt.equal(cli(['txn', '--terminal', 'TERM0001', '--store', url]).status, 2, '--terminal needs --stan');

  // ---- /api/* on the admin HTTP server (mounted by startSwitch) ---------------------------------
  if (h.admin === null) throw new Error('the admin server did not start');
  const port = h.admin.port;
  const q = `since=${encodeURIComponent(new Date(since).toISOString())}&until=${encodeURIComponent(new Date(until).toISOString())}`;
  const apiReport = await getJson(port, `/api/report?${q}`);
  tt.equal(apiReport.status, 200);
  tt.same(stable(apiReport.body as Report), stable(report), '/api/report is the report object');
  const found = await getJson(port, `/api/transactions?rrn=${S('LATE').msg.get(37)}`);
  tt.equal(found.status, 200);
  tt.match(found.body, { count: 1, evidence: { txn: { state: 'timed_out', panMasked: MASKED } } });
  const many = await getJson(port, `/api/transactions?rrn=${sharedRrn}`);
  tt.match(many.body, { count: 2 });
  tt.notOk((many.body as Record<string, unknown>).evidence, 'no evidence when ambiguous');
  const byTs = await getJson(port, `/api/transactions?terminal=TERM0001&stan=${S('TO').msg.get(11)}`);
  tt.match(byTs.body, { count: 1, evidence: { txn: { rrn: S('TO').msg.get(37) } } });
  const evId = (found.body as { evidence: Evidence }).evidence.txn.id;
  const one = await getJson(port, `/api/transactions/${encodeURIComponent(evId)}`);
  tt.equal(one.status, 200);
  tt.same(one.body, (found.body as { evidence: Evidence }).evidence, '/api/transactions/:id is the evidence');
  tt.equal((await getJson(port, '/api/transactions/nope')).status, 404);
  const bad = await getJson(port, '/api/transactions/%E0%A4%A');
  tt.equal(bad.status, 400, 'a malformed percent-encoding is the caller\'s error, not the store\'s');
  tt.match((bad.body as { error: string }).error, /malformed percent-encoding/);
  tt.match(await getJson(port, '/api/manual'), { status: 200, body: { count: 0, reversals: [] } });
  tt.equal((await getJson(port, '/api/transactions?stan=1')).status, 400);
  tt.equal((await getJson(port, '/api/report?since=soon')).status, 400);
  tt.equal((await getJson(port, '/api/nothing')).status, 404);
  const post = await getJson(port, '/api/manual', 'POST');
  tt.equal(post.status, 405);
  tt.equal(post.allow, 'GET, HEAD');
  tt.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200, 'the admin server\'s own routes still answer');

  // The handler alone leaves every path outside /api/ to its server.
  const routes = apiRoutes(store);
  const server: Server = createServer((req, res) => {
    void routes(req, res).then((handled) => {
      if (!handled) res.writeHead(418).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  tt.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const plain = (server.address() as AddressInfo).port;
  tt.equal((await fetch(`http://127.0.0.1:${plain}/metrics`)).status, 418, 'other paths are left to the server');
  tt.equal((await fetch(`http://127.0.0.1:${plain}/apix`)).status, 418);
  tt.match(await getJson(plain, '/api/manual'), { status: 200, body: { count: 0 } });
  for (const r of [apiReport, found, one]) tt.notMatch(JSON.stringify(r.body), noPan, 'no full PAN over HTTP');
});

// ---- sections the switch cannot reach in a short test: rows through the Store API ----------

t.test('pending entries, the manual queue and refunds after cutover', async (tt) => {
  const store: Store = new MemoryStore();
  await store.open();
  tt.teardown(() => store.close());
  const now = Date.UTC(2025, 10, 26, 8, 0, 0);
  const H = 3_600_000;
  const since = Date.UTC(2025, 10, 26);
  // Yesterday's sale: approved; this morning the terminal reversed it after cutover, so rules/ said refund.
  await store.insertTxn(txnRow('old-sale', { createdAt: since - 10 * H, updatedAt: since - 10 * H, state: 'approved', responseCode: '00', failureClass: 'approved', rrn: 'RRNOLD', terminal: 'T9', businessDate: '2025-11-25', amount: '000000004200' }));
  await store.updateTxn({ id: 'old-sale', state: 'approved', at: since + 2 * H, failureClass: 'customer_cancel', decision: 'refund: the original\'s business date 2025-11-25 closed ...; refund the full 4200' });
  await store.insertTxn(txnRow('trev', { createdAt: since + 2 * H, updatedAt: since + 2 * H, state: 'terminal_reversal', mti: '0400', rrn: 'RRNOLD', terminal: 'T9', upstream: null, decision: 'refund: the original\'s business date 2025-11-25 closed ...; refund the full 4200 (original old-sale)' }));
  // A refund whose original is not in the store: the terminal's row stands for it.
  await store.insertTxn(txnRow('trev-orphan', { createdAt: since + 3 * H, updatedAt: since + 3 * H, state: 'terminal_reversal', mti: '0400', rrn: 'RRNX', terminal: 'T8', decision: 'refund: ... (original gone-1)' }));
  // A sale the switch lost track of two hours ago, and one still in flight.
  await store.insertTxn(txnRow('stuck', { createdAt: now - 2 * H, updatedAt: now - 2 * H, rrn: 'RRNSTUCK', terminal: 'T7' }));
  await store.insertTxn(txnRow('fresh', { createdAt: now - 1000, updatedAt: now - 1000, rrn: 'RRNFRESH', terminal: 'T7' }));
  // Reversals: one pending for 3 hours, one young, one gone to manual, one sent long ago (amount: the stuck sale's).
  await store.insertTxn(txnRow('to-1', { createdAt: since + H, updatedAt: since + H, state: 'timed_out', failureClass: 'timeout', decision: 'reverse: no answer', rrn: 'RRNTO', terminal: 'T7', reversalId: 'rev-manual', amount: '000000001234', currency: '978' }));
  await store.insertReversal(reversalRow('rev-old', { enqueuedAt: now - 3 * H, dueAt: now, txnId: 'stuck', lastError: 'no response before the timeout' }));
  await store.insertReversal(reversalRow('rev-young', { enqueuedAt: now - 60_000, dueAt: now, txnId: 'fresh' }));
  await store.insertReversal(reversalRow('rev-manual', { enqueuedAt: since + H, dueAt: now, txnId: 'to-1' }));
  await store.updateReversal({ id: 'rev-manual', from: ['pending'], state: 'manual', at: since + 4 * H, attempts: 20, lastError: 'answered 12 (invalid transaction): the rules file says manual' });

  const r = await gatherReport(store, { since, until: now, now });
  tt.same(r.pending.reversals.map((x) => [x.id, x.ageMs, x.lastError]), [['rev-old', 3 * H, 'no response before the timeout']], 'pending over 1 h (the default)');
  tt.same(r.pending.transactions.map((x) => x.id), ['stuck'], 'a journal row without an outcome for 2 h');
  tt.same(r.manual.map((x) => [x.id, x.attempts, x.lastError, x.rrn, x.amount, x.currency]), [
    ['rev-manual', 20, 'answered 12 (invalid transaction): the rules file says manual', 'RRNTO', '000000001234', '978'],
  ], 'the manual queue, with why and the transaction');
  tt.same(r.refunds.map((x) => [x.id, x.businessDate, x.decidedAt]), [
    ['old-sale', '2025-11-25', new Date(since + 2 * H).toISOString()],
    ['trev-orphan', '2025-11-25', new Date(since + 3 * H).toISOString()],
  ], 'refunds decided in the window, one per sale, the original created yesterday included');
  tt.same(r.reversalsByState.map((x) => [x.state, x.count, x.amounts.map((a) => `${a.minor} ${a.currency}`).join()]), [
    ['pending', 2, '2000 978'], ['manual', 1, '1234 978'],
  ], 'reversals queued in the window, by state, with what they give back');
  tt.match(r.totals, { transactions: 3, exceptions: 2, inFlight: 1, terminalReversals: 2 }, 'yesterday\'s sale is not in today\'s counts; a young forwarded one is in flight');
  const longer = await gatherReport(store, { since, until: now, now, pendingOlderThanMs: 4 * H });
  tt.same(longer.pending.reversals, [], '--pending-older-than 4h');
  tt.same(longer.pending.transactions, []);

  const text = formatText(r);
  tt.match(text, /Reversals still pending after 1h\n {2}id +kind +txn +state +attempts +queued +age +last error\n {2}rev-old +reversal +stuck +pending +0 +\S+ +3h +no response before the timeout/);
  tt.match(text, /Manual queue \(1\)\n.*\n {2}rev-manual +reversal +T7 +RRNTO +12\.34 978 +20 +68 /);
  tt.match(text, /Refunds decided in the window[^\n]*\n.*\n {2}2025-11-26T02:00:00Z +old-sale +T9 +RRNOLD +42\.00 978 +2025-11-25 +refund: /);
  const csv = parseCsv(formatCsv(r));
  tt.same(csv.filter((x) => x.section === 'manual').map((x) => [x.id, x.attempts, x.detail]), [['rev-manual', '20', 'answered 12 (invalid transaction): the rules file says manual']]);
  tt.same(csv.filter((x) => x.section === 'refund').map((x) => x.id), ['old-sale', 'trev-orphan']);
  tt.same(csv.filter((x) => x.section === 'pending_reversal').map((x) => [x.id, x.age_s]), [['rev-old', String(3 * 3600)]]);

  const ev = await lookupTxn(store, { rrn: 'RRNOLD' });
  tt.equal(ev.found, 'one', 'the sale and the terminal\'s reversal of it are one transaction');
  if (ev.found === 'one') {
    tt.same(ev.evidence.history.map((x) => [x.role, x.state]), [
      ['transaction', 'approved'], ['transaction', 'approved'], ['terminal reversal', 'terminal_reversal'],
    ]);
    tt.match(ev.evidence.history[1].detail, { decision: /^refund: / });
  }
});

t.test('what an exception is', async (tt) => {
  const now = 1_764_000_000_000;
  const o = (over: Parameters<typeof txnRow>[1]) => outcomeOf(txnRow('x', { createdAt: now, ...over }), now + 1000);
  tt.equal(o({ state: 'approved', failureClass: 'approved' }), 'approved');
  tt.equal(o({ state: 'declined', failureClass: 'insufficient_funds' }), 'declined');
  tt.equal(o({ state: 'declined', failureClass: 'declined' }), 'declined');
  tt.equal(o({ state: 'declined', failureClass: 'input_error' }), 'declined');
  for (const cls of ['technical_unknown', 'issuer_outage', 'fraud_suspect', 'duplicate']) tt.equal(o({ state: 'declined', failureClass: cls }), 'exception', `declined ${cls}`);
  for (const s of ['timed_out', 'undeliverable', 'reversed_by_terminal', 'recovered', 'not_sent'] as const) tt.equal(o({ state: s }), 'exception', s);
  tt.equal(o({ state: 'approved', decision: 'review: velocity' }), 'exception', 'any review');
  tt.equal(o({ state: 'forwarded' }), 'in_flight', 'forwarded a second ago');
  tt.equal(outcomeOf(txnRow('x', { createdAt: now }), now + 3_600_000), 'exception', 'forwarded for an hour');
  tt.equal(o({ state: 'terminal_reversal' }), 'terminal_reversal');
});

t.test('amounts, times, CSV cells, progress', async (tt) => {
  tt.equal(formatMinor('123456', '840'), '1234.56');
  tt.equal(formatMinor('5', '978'), '0.05');
  tt.equal(formatMinor('123456', '392'), '123456', 'yen has no minor unit');
  tt.equal(formatMinor('123456', '414'), '123.456', 'dinar has three');
  const rows = [txnRow('a', { amount: '000000000150', currency: '840', state: 'timed_out' }), txnRow('b', { amount: '999999999999', currency: '840', state: 'timed_out' }), txnRow('c', { amount: '000000000100', currency: '978', state: 'timed_out' })];
  const r = buildReport({ txns: rows, reversals: [], history: [], active: [], manual: [], unfinished: [], related: [] }, { since: 0, until: 1, now: 2 });
  tt.same(r.totals.exceptionAmounts, [{ currency: '840', count: 2, minor: '1000000000149' }, { currency: '978', count: 1, minor: '100' }], 'summed per currency, exactly');

  const now = Date.UTC(2025, 10, 26, 9, 30);
  tt.equal(parseTime('24h', now), now - 86_400_000);
  tt.equal(parseTime('7d', now), now - 7 * 86_400_000);
  tt.equal(parseTime('today', now), Date.UTC(2025, 10, 26));
  tt.equal(parseTime('yesterday', now), Date.UTC(2025, 10, 25));
  tt.equal(parseTime('2025-11-20', now), Date.UTC(2025, 10, 20));
  tt.equal(parseTime('2025-11-20T06:00', now), Date.UTC(2025, 10, 20, 6), 'no zone: UTC');
  tt.equal(parseTime('2025-11-20T06:00:00+02:00', now), Date.UTC(2025, 10, 20, 4));
  tt.throws(() => parseTime('soon', now), /expected ISO 8601/);
  tt.throws(() => parseTime('123', now), /expected ISO 8601/);
  tt.equal(parseDuration('30m'), 1_800_000);
  tt.equal(parseDuration('1h'), 3_600_000);
  tt.equal(parseDuration('an hour'), null);

  tt.equal(csvCell('a,b'), '"a,b"');
  tt.equal(csvCell('say "hi"'), '"say ""hi"""');
  tt.equal(csvCell('=HYPERLINK("x")'), '"\'=HYPERLINK(""x"")"', 'a formula is never a formula');
  tt.equal(csvCell(null), '');
  tt.equal(csvCell(true), 'yes');

  const written: string[] = [];
  const tty = { isTTY: true, write: (s: string) => { written.push(s); return true; } } as unknown as NodeJS.WriteStream;
  const quick = progress('report', tty, 1000);
  quick.step('transactions');
  quick.done();
  tt.same(written, [], 'nothing drawn for work under a second');
  const slow = progress('report', tty, 50);
  slow.step('history');
  await new Promise((r) => setTimeout(r, 300));
  slow.done();
  tt.match(written.join(''), /report: history/, 'drawn once the work is slow');
  tt.ok(written[written.length - 1].endsWith('\r\u001b[2K'), 'and cleared when done');
  const pipe = { isTTY: false, write: () => { throw new Error('written to a pipe'); } } as unknown as NodeJS.WriteStream;
  const p = progress('report', pipe, 0);
  await new Promise((r) => setTimeout(r, 150));
  p.done();
});
