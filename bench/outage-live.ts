/**
 * An issuer outage as it happens (issue 21): `npm run bench:outage-live -- [--tps 1000]
 * [--outage-seconds 120] [--store sqlite,postgres] [--terminals 20] [--recovery-tps 50]
 * [--drain-limit-seconds 900] [--record]` (PostgreSQL: BENCH_PG_URL, else REVSWITCH_PG_URL, else the local one).
 *
 * ./outage.ts measures a backlog written straight into the store; this drives one through
 * the switch. The issuer's front end stays up (it answers 0800 echoes, so the link stays
 * signed on and the switch keeps forwarding) while its authorisation host is hung: every
 * 0200 and 0400 it receives goes unanswered. Terminals sell open loop at `--tps` over
 * `--terminals` connections for `--outage-seconds`, so every sale times out (after the
 * upstream's timeoutMs), is declined to its terminal, and its mandatory reversal is
 * queued; past reversal.maxInMemory the queue spills to the store. Then the host comes
 * back: everything is answered 00, the terminals go on at `--recovery-tps`, and the
 * bench waits until the store holds no reversal pending or sent.
 *
 * Measured: the answers the terminals got and their latency; the process's memory (RSS,
 * heap, sampled every 250 ms) during the outage and the drain; readiness sampled
 * throughout; the reversals spilled, late waits and retained sales let go for their caps;
 * the drain rate and its duration with the window and backoff as configured (defaults).
 *
 * Checked (exit 1 when one fails): every sale the hung host received has its reversal
 * answered at the issuer; no sale a terminal got approved was reversed; no reversal was
 * answered twice; the store ends with nothing pending, sent or manual; every outage-time
 * sale was answered; the node stayed ready. The rig (terminals, issuer) shares this
 * process, so the memory includes it: the issuer keeps a set of the reversed RRNs (~10 MB
 * at 120k) and the terminals a map of their sales in flight.
 */
import { createServer, type Server, type Socket, connect } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { build as buildHistogram, type Histogram } from 'hdr-histogram-js';
import { decode, encode, frame, FrameReader, getDialect, IsoMessage, responseTo, transmissionTime } from '../codec/index.js';
import { loadDefaultRules } from '../rules/index.js';
import { defaultConfig, UPSTREAM_DEFAULTS } from '../switch/config/index.js';
import { switchReadiness } from '../switch/engine/readiness.js';
import { Switch } from '../switch/engine/switch.js';
import { createLogger } from '../switch/observe/log.js';
import { PostgresStore, SqliteStore, type Store } from '../switch/store/index.js';
import { CardKeys } from '../switch/store/secrets.js';
import { pgAdmin, pgUrlWithSchema } from './lib/pg.js';
import { resultsDir, writeResult } from './lib/results.js';

const { values: args } = parseArgs({
  options: {
    tps: { type: 'string', default: '1000' },
    'outage-seconds': { type: 'string', default: '120' },
    store: { type: 'string', default: 'sqlite,postgres' },
    terminals: { type: 'string', default: '20' },
    'recovery-tps': { type: 'string', default: '50' },
    'drain-limit-seconds': { type: 'string', default: '900' },
    record: { type: 'boolean', default: false },
    'no-write': { type: 'boolean', default: false },
  },
});
const TPS = Number(args.tps);
const OUTAGE_S = Number(args['outage-seconds']);
const TERMINALS = Number(args.terminals);
const RECOVERY_TPS = Number(args['recovery-tps']);
const DRAIN_LIMIT_S = Number(args['drain-limit-seconds']);
const DIALECT = getDialect('iso87a');
const log = (line: string): void => void process.stderr.write(`outage-live: ${line}\n`);
const mb = (b: number): number => Math.round(b / 1e6);
const histogram = (): Histogram => buildHistogram({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000, numberOfSignificantValueDigits: 3 });

/** The issuer: echoes always answered; sales and reversals black-holed while `hung`. */
class Issuer {
  hung = true;
  /** RRNs of the sales received while hung: each must be reversed. */
  readonly blackHoled = new Set<string>();
  /** RRNs of the sales approved: their holds, unless reversed. */
  readonly approved = new Set<string>();
  /** RRN -> how many times a reversal of it was answered. */
  readonly reversed = new Map<string, number>();
  reversalsReceived = 0;
  reversalsIgnored = 0;
  private server: Server | null = null;

  async listen(): Promise<number> {
    this.server = createServer((sock: Socket) => {
      const reader = new FrameReader('len2', { onFrame: (body) => this.onFrame(sock, body) });
      sock.on('data', (d: Buffer) => reader.push(d));
      sock.on('error', () => undefined);
    });
    return new Promise((resolve) => (this.server as Server).listen(0, '127.0.0.1', () => {
      const a = (this.server as Server).address();
      resolve(typeof a === 'object' && a ? a.port : 0);
    }));
  }

  private onFrame(sock: Socket, body: Uint8Array): void {
    const req = decode(DIALECT, body);
    const rrn = req.get(37) ?? '';
    if (req.mti.startsWith('08')) return this.answer(sock, req);
    if (req.mti.startsWith('04')) {
      this.reversalsReceived++;
      if (this.hung) { this.reversalsIgnored++; return; }
      this.reversed.set(rrn, (this.reversed.get(rrn) ?? 0) + 1);
      return this.answer(sock, req);
    }
    if (this.hung) { this.blackHoled.add(rrn); return; }
    this.approved.add(rrn);
    const res = responseTo(DIALECT, req, '00');
    res.set(38, 'A00001');
    sock.write(frame('len2', encode(DIALECT, res)));
  }

  private answer(sock: Socket, req: IsoMessage): void {
    sock.write(frame('len2', encode(DIALECT, responseTo(DIALECT, req, '00'))));
  }

  close(): void {
    this.server?.close();
  }
}

/** One terminal's connection: sales by STAN, answers matched back; no message kept once answered. */
class Terminal {
  private readonly sock: Socket;
  private readonly waiting = new Map<string, { at: number; rrn: string; outage: boolean }>();
  private stan = 0;

  constructor(port: number, private readonly id: string, private readonly tally: Tally) {
    this.sock = connect({ host: '127.0.0.1', port });
    this.sock.setNoDelay(true);
    const reader = new FrameReader('len2', { onFrame: (body) => this.onAnswer(decode(DIALECT, body)) });
    this.sock.on('data', (d: Buffer) => reader.push(d));
    this.sock.on('error', () => undefined);
  }

  ready(): Promise<void> {
    return new Promise((resolve, reject) => { this.sock.once('connect', resolve); this.sock.once('error', reject); });
  }

  sale(outage: boolean): void {
    this.stan = this.stan % 999_999 + 1;
    const stan = String(this.stan).padStart(6, '0');
    const rrn = `${this.id.slice(-4)}${String(this.tally.sent).padStart(8, '0')}`;
    const now = Date.now();
    const m = new IsoMessage('0200');
    const v: Record<number, string> = {
      2: '4761739001010119', 3: '000000', 4: '000000001000', 7: transmissionTime(now), 11: stan, 12: '120000', 13: '1204', 22: '051',
      25: '00', 32: '123456', 37: rrn, 41: this.id, 42: 'MERCHANT0000001', 49: '978',
    };
    for (const [k, x] of Object.entries(v)) m.set(Number(k), x);
    this.waiting.set(stan, { at: performance.now(), rrn, outage });
    this.tally.sent++;
    if (outage) this.tally.outageSent++;
    this.sock.write(frame('len2', encode(DIALECT, m)));
  }

  private onAnswer(m: IsoMessage): void {
    const w = this.waiting.get(m.get(11) ?? '');
    if (!w) return;
    this.waiting.delete(m.get(11) ?? '');
    const ms = Math.max(1, Math.round(performance.now() - w.at));
    const code = m.get(39) ?? '';
    this.tally.codes.set(code, (this.tally.codes.get(code) ?? 0) + 1);
    if (w.outage) { this.tally.outageAnswered++; this.tally.outageMs.recordValue(ms); } else this.tally.recoveryMs.recordValue(ms);
    if (code === '00') this.tally.approvedRrns.add(w.rrn);
  }

  get inFlight(): number {
    return this.waiting.size;
  }

  close(): void {
    this.sock.destroy();
  }
}

interface Tally {
  sent: number;
  outageSent: number;
  outageAnswered: number;
  codes: Map<string, number>;
  approvedRrns: Set<string>;
  outageMs: Histogram;
  recoveryMs: Histogram;
}

interface Mem { rssMb: number; heapMb: number }

interface Figures {
  store: string;
  tps: number;
  outageSeconds: number;
  outage: {
    sent: number; answered: number; answerP50Ms: number; answerP99Ms: number; blackHoled: number;
    peak: Mem; atEnd: Mem; spilled: number; lateWaitsDropped: number; retainedCapEvictions: number; backlogAtEnd: number;
  };
  drain: {
    seconds: number; reversalsAnswered: number; perSecond: number; peak: Mem; sales: number; salesApproved: number; salesP50Ms: number; salesP99Ms: number;
  };
  notReadySamples: number;
  checks: Record<string, boolean>;
  failures: string[];
}

async function backlog(store: Store): Promise<number> {
  return (await store.undoBacklog()).reduce((n, b) => n + b.pending + b.sent, 0);
}

async function run(kind: 'sqlite' | 'postgres'): Promise<Figures> {
  const dir = mkdtempSync(join(tmpdir(), 'revswitch-outage-live-'));
  const schema = `rs_outage_live_${process.pid}`;
  const store: Store = kind === 'sqlite' ? new SqliteStore(`sqlite:${join(dir, 'journal.db')}`) : new PostgresStore(pgUrlWithSchema(schema));
  const issuer = new Issuer();
  const issuerPort = await issuer.listen();
  const cfg = defaultConfig();
  Object.assign(cfg.listeners[0], { port: 0 });
  cfg.node = 'outage-live';
  cfg.upstreams = [{ ...UPSTREAM_DEFAULTS, name: 'issuer', host: '127.0.0.1', port: issuerPort }];
  await store.open();
  const sw = new Switch(cfg, loadDefaultRules(), createLogger('error'), (name) => getDialect(name), { store, keys: new CardKeys(Buffer.alloc(32, 7)) });
  await sw.start();
  await sw.waitUntilUp(10_000);

  const tally: Tally = { sent: 0, outageSent: 0, outageAnswered: 0, codes: new Map(), approvedRrns: new Set(), outageMs: histogram(), recoveryMs: histogram() };
  const terminals = Array.from({ length: TERMINALS }, (_, i) => new Terminal(sw.ports()[0], `TL${String(i).padStart(6, '0')}`, tally));
  await Promise.all(terminals.map((t) => t.ready()));

  const mem = (): Mem => ({ rssMb: mb(process.memoryUsage().rss), heapMb: mb(process.memoryUsage().heapUsed) });
  let peak = mem();
  let notReady = 0;
  const sampler = setInterval(() => {
    const m = mem();
    peak = { rssMb: Math.max(peak.rssMb, m.rssMb), heapMb: Math.max(peak.heapMb, m.heapMb) };
    void switchReadiness(sw).then((r) => { if (!r.ready) notReady++; });
  }, 250);

  /** Open loop: sales due by the clock go out each turn, spread over the terminals. */
  const sell = async (tps: number, seconds: number | (() => boolean), outage: boolean): Promise<void> => {
    const t0 = performance.now();
    let n = 0;
    for (;;) {
      const elapsed = performance.now() - t0;
      if (typeof seconds === 'number' ? elapsed >= seconds * 1000 : seconds()) return;
      const due = Math.floor((elapsed / 1000) * tps);
      for (; n < due; n++) terminals[n % terminals.length].sale(outage);
      await new Promise((r) => setTimeout(r, 2));
    }
  };

  log(`${kind}: outage: ${TPS} sales/s for ${OUTAGE_S} s over ${TERMINALS} terminals, the issuer's host hung`);
  const progress = setInterval(() => {
    log(`${kind}: sent ${tally.sent}, answered ${tally.outageAnswered}, in flight ${terminals.reduce((s, t) => s + t.inFlight, 0)}, ` +
      `in memory ${sw.reversals.outstanding}, spilled ${sw.counters.get('reversals_spilled')}, rss ${mem().rssMb} MB, heap ${mem().heapMb} MB`);
  }, 10_000);
  await sell(TPS, OUTAGE_S, true);
  // The last sales' timeouts: wait until every outage sale is answered (the upstream timeout and a margin).
  const waitUntil = performance.now() + UPSTREAM_DEFAULTS.timeoutMs + 10_000;
  while (tally.outageAnswered < tally.outageSent && performance.now() < waitUntil) await new Promise((r) => setTimeout(r, 100));
  const outagePeak = peak;
  global.gc?.();
  const atEnd = mem();
  const backlogAtEnd = await backlog(store);
  const outage = {
    sent: tally.outageSent, answered: tally.outageAnswered, answerP50Ms: tally.outageMs.getValueAtPercentile(50), answerP99Ms: tally.outageMs.getValueAtPercentile(99),
    blackHoled: issuer.blackHoled.size, peak: outagePeak, atEnd, spilled: sw.counters.get('reversals_spilled'),
    lateWaitsDropped: sw.counters.get('late_waits_dropped'), retainedCapEvictions: sw.counters.get('retained_cap_evictions'), backlogAtEnd,
  };
  log(`${kind}: outage over: ${JSON.stringify(outage)}`);

  issuer.hung = false;
  peak = mem();
  const d0 = performance.now();
  let drained = false;
  const drainCheck = setInterval(() => void backlog(store).then((n) => { if (n === 0) drained = true; }), 1000);
  const recoverySent0 = tally.sent;
  await sell(RECOVERY_TPS, () => drained || performance.now() - d0 > DRAIN_LIMIT_S * 1000, false);
  const drainSeconds = (performance.now() - d0) / 1000;
  clearInterval(drainCheck);
  clearInterval(progress);
  await new Promise((r) => setTimeout(r, 2000));
  clearInterval(sampler);
  const reversalsAnswered = issuer.reversed.size;

  const left = await store.reversals(['pending', 'sent', 'manual']);
  const failures: string[] = [];
  const unreversed = [...issuer.blackHoled].filter((r) => !issuer.reversed.has(r));
  const reversedApproved = [...tally.approvedRrns].filter((r) => issuer.reversed.has(r));
  const twice = [...issuer.reversed.values()].filter((n) => n > 1).length;
  const checks = {
    everyHungSaleReversed: unreversed.length === 0,
    noApprovedSaleReversed: reversedApproved.length === 0,
    noReversalAnsweredTwice: twice === 0,
    storeHoldsNothingOpen: left.length === 0,
    everyOutageSaleAnswered: tally.outageAnswered === tally.outageSent,
    readyThroughout: notReady === 0,
  };
  if (!checks.everyHungSaleReversed) failures.push(`${unreversed.length} sales the hung host received have no reversal answered (e.g. ${unreversed.slice(0, 3).join(', ')})`);
  if (!checks.noApprovedSaleReversed) failures.push(`${reversedApproved.length} sales approved to their terminal were reversed`);
  if (!checks.noReversalAnsweredTwice) failures.push(`${twice} reversals answered more than once`);
  if (!checks.storeHoldsNothingOpen) failures.push(`the store still holds ${left.length} reversals pending, sent or manual`);
  if (!checks.everyOutageSaleAnswered) failures.push(`${tally.outageSent - tally.outageAnswered} outage sales never answered`);
  if (!checks.readyThroughout) failures.push(`not ready in ${notReady} samples`);
  for (const t of terminals) t.close();
  await sw.stop(1000);
  await store.close();
  issuer.close();
  rmSync(dir, { recursive: true, force: true });
  if (kind === 'postgres') await pgAdmin((c) => c.query(`DROP SCHEMA ${schema} CASCADE`));
  return {
    store: kind, tps: TPS, outageSeconds: OUTAGE_S, outage,
    drain: {
      seconds: Math.round(drainSeconds), reversalsAnswered, perSecond: Math.round(reversalsAnswered / drainSeconds), peak,
      sales: tally.sent - recoverySent0, salesApproved: tally.approvedRrns.size, salesP50Ms: tally.recoveryMs.getValueAtPercentile(50), salesP99Ms: tally.recoveryMs.getValueAtPercentile(99),
    },
    notReadySamples: notReady, checks, failures,
  };
}

const results: Figures[] = [];
for (const kind of String(args.store).split(',')) results.push(await run(kind as 'sqlite' | 'postgres'));
for (const r of results) {
  const o = r.outage;
  const d = r.drain;
  process.stdout.write(`${r.store}: outage ${r.outageSeconds} s at ${r.tps}/s: ${o.sent} sales, ${o.answered} answered (p50 ${o.answerP50Ms} ms, p99 ${o.answerP99Ms} ms), ` +
    `${o.blackHoled} reached the hung host; rss peak ${o.peak.rssMb} MB (heap ${o.peak.heapMb} MB), after GC ${o.atEnd.rssMb} MB (heap ${o.atEnd.heapMb} MB); ` +
    `spilled ${o.spilled}, late waits dropped ${o.lateWaitsDropped}, retained let go ${o.retainedCapEvictions}; backlog ${o.backlogAtEnd}. ` +
    `Drain: ${d.reversalsAnswered} reversals in ${d.seconds} s (${d.perSecond}/s), rss peak ${d.peak.rssMb} MB; sales meanwhile ${d.salesApproved}/${d.sales} approved, ` +
    `p50 ${d.salesP50Ms} ms p99 ${d.salesP99Ms} ms; not ready ${r.notReadySamples} samples. ${r.failures.length === 0 ? 'All checks held.' : `FAILED: ${r.failures.join('; ')}`}\n`);
}
if (!args['no-write']) {
  const at = new Date().toISOString();
  const files = writeResult('outage-live', at, { at, tps: TPS, outageSeconds: OUTAGE_S, terminals: TERMINALS, results }, resultsDir(Boolean(args.record)));
  log(`written: ${JSON.stringify(files)}`);
}
process.exitCode = results.some((r) => r.failures.length > 0) ? 1 : 0;
