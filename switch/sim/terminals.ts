/**
 * The terminal load generator: simulated POS terminals (or acquirer hosts) that send
 * sales to a target on an open-loop schedule and record what came back.
 *
 * Open loop: sale i is due at t0 + i / tps whether or not earlier sales were answered,
 * and its latency is measured from that due time, so a stalled target shows up as
 * latency instead of silently lowering the offered load (no coordinated omission).
 *
 * Each terminal has its own F41 and its own STAN sequence (000001..999999, wrapping);
 * every sale has a unique F37. Faults a terminal can inject:
 * - disconnect: closes its connection right after the request is written, before the
 *   answer can arrive. It never reverses such a sale itself: that is the switch's job.
 *   In persistent mode the whole connection goes, so every sale in flight on it counts
 *   as disconnected too, like a host that crashed. With reverseOnHangUp those other
 *   sales are reversed by the terminal (0400 F39 68), as a host does for what it never
 *   saw answered: an approval already in its socket when it hung up is lost there, and
 *   no switch can tell that from one delivered.
 * - chip decline: after an approval, sends its own 0400 (F39 06, F90 of the sale) and
 *   waits for the 0410, as a chip card declining offline after an online approval.
 * - timeout: a sale unanswered after responseTimeoutMs is given up and reversed by the
 *   terminal (0400 F39 68), like a real POS. So is a sale whose connection broke
 *   under it. A reversal is resent as 0401 until answered or reversalAttempts run out.
 *
 * The run stops by itself: at the latest durationS + responseTimeoutMs + reversalAttempts
 * x (reversalTimeoutMs + retry delay) after the start, whatever the target does.
 */
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { build as buildHistogram } from 'hdr-histogram-js';
import {
  IsoMessage, repeatOf, reversalOf, responseMti, type Dialect, type Framing, type FramingName,
} from '../../codec/index.js';
import { MAGIC_AMOUNTS } from './magic.js';
import { createRng, randomSeed } from './prng.js';
import { APPROVED_CODES, Link, f4, localDate, localTime, simDialect, simFraming, transmissionDateTime } from './wire.js';
import { luhnComplete } from '../observe/redact.js';

export type TerminalMode = 'per-sale' | 'persistent';

export interface TerminalOptions {
  /** Default 127.0.0.1. */
  host?: string;
  port: number;
  /** Sales per second offered, all terminals together. */
  tps: number;
  /** How long sales are sent; the run then waits for the answers and reversals. */
  durationS: number;
  /** Simulated terminals, each with its own F41 and STAN sequence. Default 8, at most 999. */
  connections?: number;
  /** 'per-sale': a new connection per message (POS style); 'persistent' (default): one per terminal, many requests in flight on it (acquirer host style). */
  mode?: TerminalMode;
  /** Default iso87a. */
  dialect?: Dialect | string;
  /** Default len2. */
  framing?: Framing | FramingName;
  /** 0200 (default) or 0100. */
  mti?: '0100' | '0200';
  /** Normal amounts are whole units in this range (minor units end in 00). Default 1..500. */
  amountUnits?: { min: number; max: number };
  /** Share of sales per magic ending, e.g. { '51': 0.02, '99': 0.01 } (see MAGIC_AMOUNTS). Default none. */
  magicMix?: Record<string, number>;
  /** Share of sales whose terminal disconnects before the answer. Default 0. */
  disconnectRate?: number;
  /** Persistent mode: on a disconnect, reverse the other sales in flight on that connection (not the one that hung up). Default false. */
  reverseOnHangUp?: boolean;
  /** Share of approved sales the chip then declines (the terminal sends its own 0400 F39 06). Default 0. */
  chipDeclineRate?: number;
  /** When a terminal gives up on a sale and reverses it. Default 30000. */
  responseTimeoutMs?: number;
  /** How long a terminal waits for each 0410. Default 10000. */
  reversalTimeoutMs?: number;
  /** 0400 then 0401 repeats, this many sends in all. Default 3. */
  reversalAttempts?: number;
  /** PRNG seed; the sequence of sales (amounts, faults, PANs) repeats for the same seed. Default random. */
  seed?: number;
  /** F41 is this prefix and the terminal number, 8 characters. Default "SIM". */
  terminalIdPrefix?: string;
  /** First 2 digits of every F37, so concurrent runs against one issuer never share an RRN. Default: from the seed. */
  rrnPrefix?: string;
  /** F32, sent when given. */
  acquirerId?: string;
  /** F49. Default 840. */
  currency?: string;
  /** Progress bar on stderr. Default: only when stderr is a TTY. */
  progress?: boolean;
  /** Aborting stops sending new sales; those in flight finish as usual. */
  signal?: AbortSignal;
  /** Keep one record per sale in the summary. Default false. */
  records?: boolean;
}

export type SaleOutcome = 'approved' | 'declined' | 'timed-out' | 'disconnected' | 'chip-declined' | 'error';

export interface SaleRecord {
  rrn: string;
  terminalId: string;
  stan: string;
  amount: string;
  outcome: SaleOutcome;
  /** F39 received, if any. */
  code: string | null;
  /** The terminal sent its own reversal (chip decline, timeout, broken connection). */
  reversedByTerminal: boolean;
}

export interface TerminalSummary {
  seed: number;
  mode: TerminalMode;
  terminals: number;
  targetTps: number;
  durationS: number;
  /** Sales scheduled for the run (fewer are sent when it is aborted). */
  planned: number;
  sent: number;
  outcomes: {
    approved: number;
    declined: Record<string, number>;
    timedOut: number;
    disconnected: number;
    chipDeclined: number;
    errors: number;
  };
  /** Errors by kind: connect (nothing sent), connection-lost, mismatch (an answer for another sale), undecodable, stopped. */
  errors: Record<string, number>;
  reversals: { sent: number; answered: number; repeats: number; failed: number };
  /** Answers that came after the terminal gave up (ignored). */
  lateAnswers: number;
  /** From each sale's scheduled send time to its answer; answered sales only. */
  latencyMs: { count: number; p50: number; p90: number; p99: number; max: number; mean: number };
  /** Sales sent per second of the sending window. */
  achievedTps: number;
  elapsedS: number;
  /** The money invariant: sales whose approval the terminal received and did not itself reverse. */
  approvedRrns: string[];
  /** Sales the terminal reversed itself (chip decline, timeout, broken connection). */
  terminalReversedRrns: string[];
  /** Of those, the ones whose reversal was never acknowledged. */
  reversalFailedRrns: string[];
  disconnectedRrns: string[];
  sales: SaleRecord[] | null;
}

interface Pending {
  kind: 'sale' | 'reversal';
  /** F37 expected back (sales). */
  rrn: string | null;
  responseMti: string;
  onAnswer(res: IsoMessage): void;
  onLost(conn: Conn): void;
}

interface Conn {
  link: Link;
  connected: boolean;
  /** Closed by the terminal on purpose (disconnect fault). */
  dropped: boolean;
  pending: Map<string, Pending>;
}

interface Term {
  index: number;
  id: string;
  merchant: string;
  stan: number;
  seq: number;
  conn: Conn | null;
}

interface Sale {
  term: Term;
  msg: IsoMessage;
  rec: SaleRecord;
  scheduledAt: number;
  chip: boolean;
  done: boolean;
  timer: NodeJS.Timeout | null;
  approvalCode: string | null;
}

const RETRY_DELAY_MS = 500;
const KNOWN_ENDINGS = new Set(MAGIC_AMOUNTS.map((m) => m.ending));

function check(cond: boolean, msg: string): void {
  if (!cond) throw new RangeError(msg);
}


export async function runTerminals(opts: TerminalOptions): Promise<TerminalSummary> {
  const dialect = simDialect(opts.dialect);
  const framing = simFraming(opts.framing);
  const host = opts.host ?? '127.0.0.1';
  const mode: TerminalMode = opts.mode ?? 'persistent';
  const nTerms = opts.connections ?? 8;
  const tps = opts.tps;
  const durationS = opts.durationS;
  const responseTimeoutMs = opts.responseTimeoutMs ?? 30000;
  const reversalTimeoutMs = opts.reversalTimeoutMs ?? 10000;
  const reversalAttempts = opts.reversalAttempts ?? 3;
  const disconnectRate = opts.disconnectRate ?? 0;
  const reverseOnHangUp = opts.reverseOnHangUp ?? false;
  const chipDeclineRate = opts.chipDeclineRate ?? 0;
  const units = opts.amountUnits ?? { min: 1, max: 500 };
  const seed = opts.seed ?? randomSeed();
  const prefix = opts.terminalIdPrefix ?? 'SIM';
  const rrnPrefix = opts.rrnPrefix ?? String(seed % 100).padStart(2, '0');
  const mti = opts.mti ?? '0200';

  check(Number.isInteger(opts.port) && opts.port > 0 && opts.port < 65536, `port must be 1-65535, got ${opts.port}`);
  check(tps > 0 && Number.isFinite(tps), `tps must be positive, got ${tps}`);
  check(durationS > 0 && Number.isFinite(durationS), `durationS must be positive, got ${durationS}`);
  check(Number.isInteger(nTerms) && nTerms >= 1 && nTerms <= 999, `connections must be 1-999, got ${nTerms}`);
  check(mode === 'per-sale' || mode === 'persistent', `mode must be per-sale or persistent, got ${String(mode)}`);
  check(mti === '0100' || mti === '0200', `mti must be 0100 or 0200, got ${String(mti)}`);
  for (const [name, v] of [['disconnectRate', disconnectRate], ['chipDeclineRate', chipDeclineRate]] as const) {
    check(v >= 0 && v <= 1, `${name} must be between 0 and 1, got ${v}`);
  }
  for (const [name, v] of [['responseTimeoutMs', responseTimeoutMs], ['reversalTimeoutMs', reversalTimeoutMs]] as const) {
    check(v > 0 && Number.isFinite(v), `${name} must be positive, got ${v}`);
  }
  check(Number.isInteger(reversalAttempts) && reversalAttempts >= 1, `reversalAttempts must be 1 or more, got ${reversalAttempts}`);
  check(Number.isInteger(units.min) && Number.isInteger(units.max) && units.min >= 1 && units.max >= units.min && units.max <= 9_999_999_999,
    `amountUnits must be whole units with 1 <= min <= max, got ${units.min}..${units.max}`);
  check(/^[0-9]{2}$/.test(rrnPrefix), `rrnPrefix must be 2 digits, got ${JSON.stringify(rrnPrefix)}`);
  check(prefix.length <= 5, `terminalIdPrefix must be at most 5 characters, got ${JSON.stringify(prefix)}`);
  const mix: [string, number][] = Object.entries(opts.magicMix ?? {}).sort(([a], [b]) => a.localeCompare(b));
  let mixTotal = 0;
  for (const [ending, share] of mix) {
    check(KNOWN_ENDINGS.has(ending), `magicMix: no magic ending "${ending}"; expected one of ${[...KNOWN_ENDINGS].join(', ')}`);
    check(share >= 0 && share <= 1, `magicMix: share of ${ending} must be between 0 and 1, got ${share}`);
    mixTotal += share;
  }
  check(mixTotal <= 1 + 1e-9, `magicMix: shares add up to ${mixTotal}, more than 1`);

  const rng = createRng(seed);
  const hist = buildHistogram({ useWebAssembly: false, lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });
  const terms: Term[] = [];
  for (let i = 0; i < nTerms; i++) {
    const num = String(i + 1);
    terms.push({
      index: i + 1,
      id: prefix + num.padStart(8 - prefix.length, '0'),
      merchant: 'REVSWSIM' + num.padStart(7, '0'),
      stan: 0, seq: 0, conn: null,
    });
  }

  const planned = Math.max(1, Math.round(tps * durationS));
  const interval = 1000 / tps;
  const outcomes: TerminalSummary['outcomes'] = { approved: 0, declined: {}, timedOut: 0, disconnected: 0, chipDeclined: 0, errors: 0 };
  const errors: Record<string, number> = {};
  const reversals = { sent: 0, answered: 0, repeats: 0, failed: 0 };
  const approved = new Set<string>();
  const reversedByTerminal = new Set<string>();
  const reversalFailed = new Set<string>();
  const disconnected = new Set<string>();
  const records: SaleRecord[] | null = opts.records ? [] : null;
  const timers = new Set<NodeJS.Timeout>();
  const conns = new Set<Conn>();
  let sent = 0;
  let lateAnswers = 0;
  let openTasks = 0;
  let next = 0;
  let scheduleDone = false;
  let stopped = false;
  let lastLaunch = 0;
  const t0 = performance.now();

  const countError = (kind: string): void => { errors[kind] = (errors[kind] ?? 0) + 1; };

  function later(fn: () => void, ms: number): NodeJS.Timeout {
    const t = setTimeout(() => { timers.delete(t); fn(); }, ms);
    timers.add(t);
    return t;
  }
  function cancel(t: NodeJS.Timeout | null): void {
    if (t === null) return;
    clearTimeout(t);
    timers.delete(t);
  }

  let resolveRun: () => void = () => {};
  const finished = new Promise<void>((r) => { resolveRun = r; });
  function maybeFinish(): void {
    if (scheduleDone && openTasks === 0) resolveRun();
  }
  function taskDone(): void {
    openTasks--;
    maybeFinish();
  }

  // ---- connections

  function openConn(term: Term): Conn {
    const socket = connect({ host, port: opts.port });
    const pending = new Map<string, Pending>();
    const link = new Link(socket, dialect, framing, {
      onMessage: (res) => {
        const stan = res.get(11);
        const p = stan === undefined ? undefined : pending.get(stan);
        if (stan === undefined || !p) { lateAnswers++; return; }
        if (res.mti !== p.responseMti || (res.has(41) && res.get(41) !== term.id) || (p.rrn !== null && res.get(37) !== p.rrn)) {
          // Someone else's answer: the sale stays pending and times out.
          countError('mismatch');
          return;
        }
        pending.delete(stan);
        p.onAnswer(res);
      },
      onBadMessage: () => countError('undecodable'),
      onClose: () => {
        conns.delete(conn);
        if (term.conn === conn) term.conn = null;
        const lost = [...pending.values()];
        pending.clear();
        for (const p of lost) p.onLost(conn);
      },
    });
    const conn: Conn = { link, connected: false, dropped: false, pending };
    socket.once('connect', () => { conn.connected = true; });
    conns.add(conn);
    return conn;
  }

  function connFor(term: Term): Conn {
    if (mode === 'per-sale') return openConn(term);
    if (term.conn === null || term.conn.link.isClosed) term.conn = openConn(term);
    return term.conn;
  }

  /** Per-sale connections close once their one exchange is over. */
  function release(conn: Conn): void {
    if (mode === 'per-sale') conn.link.socket.end();
  }

  function nextStan(term: Term): string {
    term.stan = term.stan >= 999999 ? 1 : term.stan + 1;
    return String(term.stan).padStart(6, '0');
  }

  // ---- sales

  function finishSale(sale: Sale, outcome: SaleOutcome, code: string | null): void {
    sale.done = true;
    cancel(sale.timer);
    sale.rec.outcome = outcome;
    sale.rec.code = code;
    switch (outcome) {
      case 'approved': outcomes.approved++; approved.add(sale.rec.rrn); break;
      case 'declined': outcomes.declined[code ?? '??'] = (outcomes.declined[code ?? '??'] ?? 0) + 1; break;
      case 'timed-out': outcomes.timedOut++; break;
      case 'disconnected': outcomes.disconnected++; disconnected.add(sale.rec.rrn); break;
      case 'chip-declined': outcomes.chipDeclined++; break;
      case 'error': outcomes.errors++; break;
    }
    taskDone();
  }

  function launch(i: number, scheduledAt: number): void {
    const term = terms[i % nTerms];
    // Every draw is taken for every sale, so the sequence repeats for a seed.
    const rMagic = rng.next();
    const amountUnits = rng.int(units.min, units.max);
    const panDigits = String(rng.int(0, 999)).padStart(3, '0');
    const chip = rng.chance(chipDeclineRate);
    const drop = rng.chance(disconnectRate);
    let minor = amountUnits * 100;
    let acc = 0;
    for (const [ending, share] of mix) {
      acc += share;
      if (rMagic < acc) { minor += Number(ending); break; }
    }
    term.seq = term.seq >= 9_999_999 ? 1 : term.seq + 1;
    const rrn = rrnPrefix + String(term.index).padStart(3, '0') + String(term.seq).padStart(7, '0');
    const stan = nextStan(term);
    const now = new Date();
    const msg = new IsoMessage(mti);
    msg.set(2, luhnComplete('476173900101' + panDigits));
    msg.set(3, '000000');
    msg.set(4, f4(minor));
    msg.set(7, transmissionDateTime(now));
    msg.set(11, stan);
    msg.set(12, localTime(now));
    msg.set(13, localDate(now));
    msg.set(22, '051');
    msg.set(25, '00');
    if (opts.acquirerId !== undefined) msg.set(32, opts.acquirerId);
    msg.set(37, rrn);
    msg.set(41, term.id);
    msg.set(42, term.merchant);
    msg.set(49, opts.currency ?? '840');
    const rec: SaleRecord = { rrn, terminalId: term.id, stan, amount: msg.get(4) ?? '', outcome: 'error', code: null, reversedByTerminal: false };
    records?.push(rec);
    const sale: Sale = { term, msg, rec, scheduledAt, chip, done: false, timer: null, approvalCode: null };
    openTasks++;
    sent++;
    const conn = connFor(term);
    conn.pending.set(stan, {
      kind: 'sale', rrn, responseMti: responseMti(mti),
      onAnswer: (res) => answered(sale, conn, res),
      onLost: (c) => lostUnder(sale, c),
    });
    conn.link.send(msg, drop ? () => {
      if (sale.done) return;
      conn.dropped = true;
      conn.pending.delete(stan);
      finishSale(sale, 'disconnected', null);
      conn.link.destroy();
    } : undefined);
    sale.timer = later(() => timedOut(sale, conn), responseTimeoutMs);
  }

  function answered(sale: Sale, conn: Conn, res: IsoMessage): void {
    if (sale.done) { lateAnswers++; return; }
    const us = Math.max(1, Math.round((performance.now() - sale.scheduledAt) * 1000));
    hist.recordValue(us);
    release(conn);
    const code = res.get(39) ?? null;
    if (code !== null && APPROVED_CODES.has(code)) {
      sale.approvalCode = res.get(38) ?? null;
      if (sale.chip) {
        reverse(sale, '06');
        finishSale(sale, 'chip-declined', code);
      } else {
        finishSale(sale, 'approved', code);
      }
    } else {
      finishSale(sale, 'declined', code);
    }
  }

  function timedOut(sale: Sale, conn: Conn): void {
    sale.timer = null;
    if (sale.done) return;
    conn.pending.delete(sale.rec.stan);
    if (mode === 'per-sale') conn.link.destroy();
    reverse(sale, '68');
    finishSale(sale, 'timed-out', null);
  }

  function lostUnder(sale: Sale, conn: Conn): void {
    if (sale.done) return;
    if (conn.dropped) {
      // The sale that hung up is already done: these are the others in flight on it.
      if (reverseOnHangUp) reverse(sale, '68');
      finishSale(sale, 'disconnected', null);
    } else if (!conn.connected) {
      countError('connect');
      finishSale(sale, 'error', null);
    } else {
      countError('connection-lost');
      reverse(sale, '68');
      finishSale(sale, 'error', null);
    }
  }

  // ---- reversals

  function reverse(sale: Sale, reason: string): void {
    openTasks++;
    reversals.sent++;
    sale.rec.reversedByTerminal = true;
    reversedByTerminal.add(sale.rec.rrn);
    const rev = reversalOf(dialect, sale.msg, {
      reason,
      stan: nextStan(sale.term),
      transmissionDateTime: transmissionDateTime(new Date()),
      approvalCode: sale.approvalCode ?? undefined,
    });
    attempt(sale, rev, 1);
  }

  function attempt(sale: Sale, rev: IsoMessage, n: number): void {
    if (stopped) return;
    const msg = n === 1 ? rev : repeatOf(rev);
    if (n > 1) reversals.repeats++;
    const stan = rev.get(11) as string;
    const conn = connFor(sale.term);
    let settled = false;
    const again = (): void => {
      if (n < reversalAttempts) { attempt(sale, rev, n + 1); return; }
      reversals.failed++;
      reversalFailed.add(sale.rec.rrn);
      taskDone();
    };
    const timer = later(() => {
      if (settled) return;
      settled = true;
      conn.pending.delete(stan);
      if (mode === 'per-sale') conn.link.destroy();
      again();
    }, reversalTimeoutMs);
    conn.pending.set(stan, {
      kind: 'reversal', rrn: null, responseMti: responseMti(msg.mti),
      onAnswer: () => {
        if (settled) return;
        settled = true;
        cancel(timer);
        release(conn);
        reversals.answered++;
        taskDone();
      },
      onLost: () => {
        if (settled) return;
        settled = true;
        cancel(timer);
        later(again, RETRY_DELAY_MS);
      },
    });
    conn.link.send(msg);
  }

  // ---- schedule, progress, stop

  function tick(): void {
    if (stopped || scheduleDone) return;
    const now = performance.now();
    while (next < planned && t0 + next * interval <= now) {
      lastLaunch = t0 + next * interval;
      launch(next, lastLaunch);
      next++;
    }
    if (next < planned && !opts.signal?.aborted) {
      later(tick, Math.max(0, t0 + next * interval - performance.now()));
    } else {
      scheduleDone = true;
      maybeFinish();
    }
  }

  const onAbort = (): void => {
    if (scheduleDone) return;
    scheduleDone = true;
    maybeFinish();
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });

  const showProgress = opts.progress ?? process.stderr.isTTY === true;
  let progressTimer: NodeJS.Timeout | null = null;
  const drawProgress = (): void => {
    const frac = Math.min(1, next / planned);
    const width = 24;
    const filled = Math.round(frac * width);
    const done = outcomes.approved + outcomes.chipDeclined + Object.values(outcomes.declined).reduce((a, b) => a + b, 0);
    const p99 = hist.totalCount > 0 ? (hist.getValueAtPercentile(99) / 1000).toFixed(1) : '-';
    process.stderr.write(`\r[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.round(frac * 100)).padStart(3)}%`
      + ` sent ${sent}/${planned} answered ${done} timeouts ${outcomes.timedOut} in flight ${openTasks} p99 ${p99} ms \x1b[K`);
  };
  if (showProgress) {
    progressTimer = setInterval(drawProgress, 250);
    progressTimer.unref();
  }

  // The hard stop: whatever the target does, the run ends.
  const hardStopMs = durationS * 1000 + responseTimeoutMs + reversalAttempts * (reversalTimeoutMs + RETRY_DELAY_MS) + 2000;
  const hardStop = setTimeout(() => resolveRun(), hardStopMs);

  tick();
  await finished;

  stopped = true;
  clearTimeout(hardStop);
  opts.signal?.removeEventListener('abort', onAbort);
  for (const t of timers) clearTimeout(t);
  timers.clear();
  if (progressTimer !== null) {
    clearInterval(progressTimer);
    drawProgress();
    process.stderr.write('\n');
  }
  // Anything still open at a hard stop is counted, then every connection closes.
  if (openTasks > 0) countError('stopped');
  for (const c of [...conns]) {
    c.pending.clear();
    c.link.destroy();
  }

  const elapsedS = (performance.now() - t0) / 1000;
  const sendWindowS = sent > 0 ? (lastLaunch - t0 + interval) / 1000 : 0;
  const count = hist.totalCount;
  // A percentile is its bucket's highest equivalent value, which can pass the true max.
  const ms = (us: number): number => Math.round(Math.min(us, hist.maxValue)) / 1000;
  const approvedRrns = [...approved].filter((r) => !reversedByTerminal.has(r)).sort();
  return {
    seed, mode, terminals: nTerms, targetTps: tps, durationS, planned, sent,
    outcomes, errors, reversals, lateAnswers,
    latencyMs: {
      count,
      p50: count ? ms(hist.getValueAtPercentile(50)) : 0,
      p90: count ? ms(hist.getValueAtPercentile(90)) : 0,
      p99: count ? ms(hist.getValueAtPercentile(99)) : 0,
      max: count ? ms(hist.maxValue) : 0,
      mean: count ? Math.round(hist.mean) / 1000 : 0,
    },
    achievedTps: sendWindowS > 0 ? Math.round((sent / sendWindowS) * 10) / 10 : 0,
    elapsedS: Math.round(elapsedS * 1000) / 1000,
    approvedRrns,
    terminalReversedRrns: [...reversedByTerminal].sort(),
    reversalFailedRrns: [...reversalFailed].sort(),
    disconnectedRrns: [...disconnected].sort(),
    sales: records,
  };
}
