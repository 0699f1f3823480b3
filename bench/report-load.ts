/**
 * The report under load (issue 16, "the admin port must not stop the switch"):
 * `npm run bench:report -- [--rows 1000000] [--days 30] [--concurrent 3] [--cli PATH] [--legacy-config] [--keep]`.
 *
 * Fills a SQLite store in a temporary directory with `--rows` journal rows spread over the
 * last `--days` days, as the switch writes them (sealed message, a history row for the
 * request and one for its outcome; reversals with their sealed original and message for
 * the timeouts), inserted in bulk; starts the real switch on it (`node CLI start`), then
 * asks GET /api/report for the largest window allowed (31 days) while
 * - an echo probe sends an 0800 on the terminal port every 10 ms and times each answer,
 * - the switch's RSS is sampled from /proc/PID/status (VmRSS every 20 ms, VmHWM at the end);
 * then `--concurrent` reports at once. Prints the figures and writes them to
 * report-load-latest.json (bench/out/; bench/results/ with --record). The goal: no echo waits over 50 ms.
 *
 * `--cli` runs another build (e.g. the code before the change, built elsewhere);
 * `--legacy-config` leaves out config keys such a build does not know.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resultsDir } from './lib/results.js';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { IsoMessage, transmissionTime } from '../codec/index.js';
import { untilAnswering } from '../switch/sim/answering.js';
import { connectClient } from '../switch/sim/client.js';
import { createRng } from '../switch/sim/prng.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' }, days: { type: 'string', default: '30' }, concurrent: { type: 'string', default: '3' },
    cli: { type: 'string', default: join(ROOT, 'dist', 'switch', 'cli', 'main.js') }, 'legacy-config': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false }, record: { type: 'boolean', default: false }, 'window-days': { type: 'string', default: '31' },
  },
});
const ROWS = Number(args.rows);
const DAYS = Number(args.days);
const CONCURRENT = Number(args.concurrent);
const WINDOW_DAYS = Number(args['window-days']);
const CLI = args.cli as string;
const DAY = 86_400_000;
const log = (line: string): void => { process.stderr.write(`report-load: ${line}\n`); };
const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

/** A sealed message as the switch stores one: version, key id, then ~360 characters of ciphertext. */
function sealedText(rng: ReturnType<typeof createRng>): string {
  const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  let s = 'sealed:2:k1:';
  for (let i = 0; i < 360; i++) s += abc[rng.int(0, 63)];
  return s;
}

/** The journal, written straight into the file in large transactions (the switch's own writes, minus the switch). */
function fill(path: string, rows: number, now: number): void {
  const db = new Database(path);
  db.pragma('synchronous = OFF');
  const rng = createRng(16);
  const txn = db.prepare(`INSERT INTO txns (id, node, listener, sender, terminal, merchant, acquirer, mti, stan, f7, rrn, amount, currency, pan_masked,
    pan_hash, business_date, upstream, upstream_stan, state, response_code, failure_class, decision, reversal_id, sealed, created_at, updated_at)
    VALUES (?, 'bench', 'pos', ?, ?, ?, '123456', '0200', ?, ?, ?, ?, ?, ?, ?, ?, 'issuer', ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const hist = db.prepare('INSERT INTO history (at, kind, ref, state, detail) VALUES (?, ?, ?, ?, ?)');
  const rev = db.prepare(`INSERT INTO reversals (id, txn_id, upstream, state, attempts, reason, final_amount, explanation, original, message, sent_stan,
    enqueued_at, due_at, last_error, note, updated_at) VALUES (?, ?, 'issuer', ?, 1, '68', NULL, ?, ?, ?, ?, ?, ?, ?, NULL, ?)`);
  const span = DAYS * DAY;
  const batch = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const at = now - span + Math.floor((i * span) / rows);
      const id = `bench-${i}`;
      const terminal = `TERM${String(rng.int(1, 2000)).padStart(4, '0')}`;
      const merchant = `MERCHANT${String(rng.int(1, 300)).padStart(7, '0')}`;
      const stan = String(i % 1_000_000).padStart(6, '0');
      const amount = String(rng.int(100, 2_000_000)).padStart(12, '0');
      const r = rng.next();
      let state = 'approved';
      let code = '00';
      let cls = 'approved';
      let decision: string | null = null;
      if (r < 0.03) { state = 'declined'; code = '51'; cls = 'insufficient_funds'; } else if (r < 0.05) {
        state = 'timed_out'; code = '91'; cls = 'timeout'; decision = 'reverse (rule timeout): no answer before the deadline; reverse the full amount with reason 68';
      } else if (r < 0.055) { state = 'declined'; code = '59'; cls = 'fraud_suspect'; decision = 'review (rule fraud): response 59 (suspected fraud) is fraud_suspect'; } else if (r < 0.058) {
        state = 'approved'; cls = 'customer_cancel'; decision = 'refund: the original\'s business date closed; refund the full amount';
      }
      const revId = state === 'timed_out' ? `issuer|${id}` : null;
      txn.run(id, `00000001/${terminal}`, terminal, merchant, stan, '1125213300', `RR${String(i).padStart(10, '0')}`, amount, '840', '476173******0119',
        `h:${i.toString(16)}`, new Date(at).toISOString().slice(0, 10), stan, state, code, cls, decision, revId, sealedText(rng), at, at + 150);
      hist.run(at, 'txn', id, 'forwarded', null);
      hist.run(at + 150, 'txn', id, state, JSON.stringify({ responseCode: code, failureClass: cls, decision: decision ?? undefined, reversalId: revId ?? undefined }));
      if (revId !== null) {
        const revState = rng.chance(0.02) ? 'manual' : 'acked';
        rev.run(revId, id, revState, 'timeout: full reversal', sealedText(rng), sealedText(rng), stan, at + 160, at + 5160,
          revState === 'manual' ? 'answered 12 (invalid transaction): the rules file says manual' : null, at + 200);
        hist.run(at + 160, 'reversal', revId, 'sent', JSON.stringify({ txnId: id, reason: '68', explanation: 'timeout: full reversal' }));
        hist.run(at + 200, 'reversal', revId, revState, 'attempt 1: answered 00');
      }
    }
  });
  for (let from = 0; from < rows; from += 50_000) batch(from, Math.min(rows, from + 50_000));
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
}

function rssKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? 0 : Number(m[1]);
  } catch {
    return 0;
  }
}

const pct = (xs: number[], p: number): number => {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

/** Echoes every 10 ms on one connection, each timed alone (a stalled switch answers them all late). */
async function probe(port: number): Promise<{ stop(): Promise<number[]> }> {
  const c = await connectClient({ port });
  const waits: Promise<number>[] = [];
  let stan = 0;
  const timer = setInterval(() => {
    const echo = new IsoMessage('0800').set(7, transmissionTime(Date.now())).set(11, String((++stan % 999_999) + 1).padStart(6, '0')).set(70, '301');
    const t0 = performance.now();
    waits.push(c.request(echo, 120_000).then(() => performance.now() - t0, () => Number.POSITIVE_INFINITY));
  }, 10);
  return {
    async stop() {
      clearInterval(timer);
      const out = await Promise.all(waits);
      await c.close();
      return out;
    },
  };
}

interface Phase {
  what: string;
  ms: number;
  statuses: number[];
  bytes: number[];
  echoes: number;
  echoP50Ms: number;
  echoP99Ms: number;
  echoMaxMs: number;
  echoesOver50Ms: number;
  rssBeforeMb: number;
  rssPeakMb: number;
  rssAfterMb: number;
}

async function phase(what: string, pid: number, port: number, requests: (() => Promise<Response>)[]): Promise<Phase> {
  const rssBefore = rssKb(pid, 'VmRSS');
  let peak = rssBefore;
  const sampler = setInterval(() => { peak = Math.max(peak, rssKb(pid, 'VmRSS')); }, 20);
  const p = await probe(port);
  await delay(300);
  const t0 = performance.now();
  const answers = await Promise.all(requests.map(async (r) => {
    try {
      const res = await r();
      return { status: res.status, bytes: (await res.arrayBuffer()).byteLength };
    } catch {
      return { status: 0, bytes: 0 };
    }
  }));
  const ms = performance.now() - t0;
  await delay(300);
  const waits = await p.stop();
  clearInterval(sampler);
  const mb = (kb: number): number => Math.round(kb / 1024);
  return {
    what, ms: Math.round(ms), statuses: answers.map((a) => a.status), bytes: answers.map((a) => a.bytes), echoes: waits.length,
    echoP50Ms: Math.round(pct(waits, 50) * 10) / 10, echoP99Ms: Math.round(pct(waits, 99) * 10) / 10, echoMaxMs: Math.round(Math.max(...waits)),
    echoesOver50Ms: waits.filter((w) => w > 50).length, rssBeforeMb: mb(rssBefore), rssPeakMb: mb(peak), rssAfterMb: mb(rssKb(pid, 'VmRSS')),
  };
}

const dir = mkdtempSync(join(tmpdir(), 'revswitch-report-load-'));
const dbPath = join(dir, 'switch.db');
const now = Date.now();
const migrate = spawnSync(process.execPath, [CLI, 'migrate', '--store', `sqlite:${dbPath}`], { encoding: 'utf8' });
if (migrate.status !== 0) throw new Error(`migrate failed: ${migrate.stderr}`);
let t = performance.now();
fill(dbPath, ROWS, now);
const fillS = (performance.now() - t) / 1000;
log(`filled ${ROWS} journal rows in ${fillS.toFixed(1)} s`);

const port = await freePort();
const adminPort = await freePort();
const config = join(dir, 'config.json');
writeFileSync(config, JSON.stringify({
  listeners: [{ name: 'pos', host: '127.0.0.1', port }], store: `sqlite:${dbPath}`, admin: `127.0.0.1:${adminPort}`, logLevel: 'warn',
  // Retention would start erasing the month's sealed messages a minute in: not what is measured.
  ...(args['legacy-config'] ? {} : { retention: { auto: false } }),
}));
const child = spawn(process.execPath, [CLI, 'start', '--config', config], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
let stderr = '';
child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr = (stderr + s).slice(-20_000); });
const exited = new Promise<void>((r) => child.once('exit', () => r()));
t = performance.now();
await untilAnswering({ port, capMs: 120_000, gone: () => (child.exitCode !== null || child.signalCode !== null ? stderr : null), what: 'the switch' });
log(`the switch answers after ${((performance.now() - t) / 1000).toFixed(1)} s`);
const pid = child.pid as number;

const since = new Date(now - WINDOW_DAYS * DAY + 60_000).toISOString();
const until = new Date(now + 60_000).toISOString();
const report = (): Promise<Response> => fetch(`http://127.0.0.1:${adminPort}/api/report?since=${since}&until=${until}`);
const phases: Phase[] = [];
phases.push(await phase('idle (no report)', pid, port, [() => delay(2000).then(() => new Response(''))]));
phases.push(await phase(`one report, ${WINDOW_DAYS} days`, pid, port, [report]));
phases.push(await phase(`${CONCURRENT} reports at once`, pid, port, Array.from({ length: CONCURRENT }, () => report)));
const hwm = Math.round(rssKb(pid, 'VmHWM') / 1024);
const alive = child.exitCode === null && child.signalCode === null;
child.kill('SIGTERM');
await exited;
if (!args.keep) rmSync(dir, { recursive: true, force: true });

const result = { rows: ROWS, days: DAYS, windowDays: WINDOW_DAYS, cli: CLI, fillS: Math.round(fillS), phases, rssHighWaterMb: hwm, survived: alive };
for (const p of phases) {
  process.stdout.write(`${p.what}: ${p.ms} ms, HTTP ${p.statuses.join(',')} (${p.bytes.join(',')} bytes); echo ${p.echoes}x p50 ${p.echoP50Ms} ms, ` +
    `p99 ${p.echoP99Ms} ms, max ${p.echoMaxMs} ms, ${p.echoesOver50Ms} over 50 ms; RSS ${p.rssBeforeMb} -> peak ${p.rssPeakMb} -> ${p.rssAfterMb} MB\n`);
}
process.stdout.write(`switch RSS high-water mark (VmHWM) ${hwm} MB; the switch ${alive ? 'survived' : 'DIED'}${alive ? '' : `: ${stderr.slice(-2000)}`}\n`);
mkdirSync(resultsDir(args.record), { recursive: true });
writeFileSync(join(resultsDir(args.record), 'report-load-latest.json'), JSON.stringify(result, null, 2) + '\n');
if (!args.keep) log(`removed ${dir}`);
else log(`kept ${dir}`);
