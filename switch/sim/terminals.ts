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
 * In every standard (./terminal-sale.ts): a 1993 terminal sends 1200s and reverses with
 * 1420s naming the sale in F56, reason 4007 (chip) or 4021 (timeout) in F25; a UnionPay
 * one reverses under the sale's own trace (F11) and batch (F60), reason 06 or 98 in F39;
 * answers approve as the standard's codes say (./standard-codes.ts).
 *
 * The run stops by itself: at the latest durationS + responseTimeoutMs + reversalAttempts
 * x (reversalTimeoutMs + retry delay) after the start, whatever the target does.
 *
 * This file holds the run: the schedule, the sales and the terminals' reversals. The
 * options are checked in ./terminal-options.ts, answers are matched to what waits for
 * them in ./terminal-conn.ts, and ./terminal-summary.ts counts and sums up.
 */
import { performance } from 'node:perf_hooks';
import { encode, frame, profileOf, repeatOf, reversalOf, responseMti, type IsoMessage } from '../../codec/index.js';
import { createRng, type Rng } from './prng.js';
import { codesOf, type StandardCodes } from './standard-codes.js';
import { TerminalConn, type ConnEvents, type Pending, type ReversalTry, type Sale, type Term } from './terminal-conn.js';
import { resolveTerminalOptions, type FleetSettings, type TerminalOptions } from './terminal-options.js';
import { saleMessage, saleMti } from './terminal-sale.js';
import { SaleTally, type SaleOutcome, type SaleRecord, type TerminalSummary } from './terminal-summary.js';
import { transmissionDateTime } from './wire.js';

export type { TerminalMode, TerminalOptions } from './terminal-options.js';
export type { SaleOutcome, SaleRecord, TerminalSummary } from './terminal-summary.js';

/** After a connection broke under a reversal, before it is sent again. */
const RETRY_DELAY_MS = 500;

export async function runTerminals(opts: TerminalOptions): Promise<TerminalSummary> {
  return new TerminalFleet(opts).run();
}

/** One run of the generator: every terminal, every sale and reversal in flight, until all are over. */
export class TerminalFleet {
  private readonly s: FleetSettings;
  private readonly rng: Rng;
  private readonly tally: SaleTally;
  private readonly terms: Term[] = [];
  private readonly planned: number;
  /** Between two sales' due times, in milliseconds. */
  private readonly interval: number;
  private readonly saleResponseMti: string;
  private readonly codes: StandardCodes;
  private readonly connEvents: ConnEvents;
  private readonly conns = new Set<TerminalConn>();
  /** Every timer of the run, so that its end leaves none behind. */
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Sales and reversals not over yet: the run ends once the schedule is done and none is left. */
  private openTasks = 0;
  /** The next sale to launch. */
  private next = 0;
  private scheduleDone = false;
  /** The run is over: nothing more is sent. */
  private stopped = false;
  private lastLaunch = 0;
  private t0 = 0;
  private resolveRun: () => void = () => {};
  private hardStop: NodeJS.Timeout | null = null;
  private progressTimer: NodeJS.Timeout | null = null;

  constructor(opts: TerminalOptions) {
    const s = resolveTerminalOptions(opts);
    this.s = s;
    this.rng = createRng(s.seed);
    this.tally = new SaleTally(s.records);
    for (let i = 0; i < s.terminals; i++) {
      const num = String(i + 1);
      this.terms.push({
        index: i + 1,
        id: s.terminalIdPrefix + num.padStart(8 - s.terminalIdPrefix.length, '0'),
        merchant: 'REVSWSIM' + num.padStart(7, '0'),
        stan: 0, seq: 0, conn: null,
      });
    }
    this.planned = Math.max(1, Math.round(s.tps * s.durationS));
    this.interval = 1000 / s.tps;
    this.saleResponseMti = responseMti(saleMti(s.dialect, s.mti));
    this.codes = codesOf(s.dialect);
    this.connEvents = {
      answered: (conn, p, res) => (p.kind === 'sale' ? this.saleAnswered(p, conn, res) : this.reversalAnswered(p)),
      late: () => { this.tally.lateAnswers++; },
      error: (kind) => this.tally.countError(kind),
      closed: (conn, lost) => this.connClosed(conn, lost),
    };
    // A connection answers false, not an exception, for a message the codec refuses, so a
    // sale it cannot encode (a bad acquirerId, currency or prefix) would only time out, sale
    // after sale. The largest sale is encoded once here instead: the codec's reason ends
    // the run before it starts.
    const widest = this.saleMessage(this.terms[0], '999999', s.rrnPrefix + '9999999999', s.units.max * 100 + 99, '999', new Date());
    frame(s.framing, encode(s.dialect, widest));
  }

  async run(): Promise<TerminalSummary> {
    const s = this.s;
    this.t0 = performance.now();
    const finished = new Promise<void>((r) => { this.resolveRun = r; });
    s.signal?.addEventListener('abort', this.onAbort, { once: true });
    if (s.progress) {
      this.progressTimer = setInterval(() => this.drawProgress(), 250);
      this.progressTimer.unref();
    }
    // The hard stop: whatever the target does, the run ends.
    const hardStopMs = s.durationS * 1000 + s.responseTimeoutMs + s.reversalAttempts * (s.reversalTimeoutMs + RETRY_DELAY_MS) + 2000;
    this.hardStop = setTimeout(() => this.resolveRun(), hardStopMs);

    this.tick();
    await finished;
    this.stop();

    const elapsedS = (performance.now() - this.t0) / 1000;
    const sendWindowS = this.tally.sent > 0 ? (this.lastLaunch - this.t0 + this.interval) / 1000 : 0;
    const shape = { seed: s.seed, mode: s.mode, terminals: s.terminals, targetTps: s.tps, durationS: s.durationS, planned: this.planned };
    return this.tally.summary(shape, elapsedS, sendWindowS);
  }

  // ---- schedule, progress, stop

  private tick(): void {
    if (this.stopped || this.scheduleDone) return;
    const now = performance.now();
    while (this.next < this.planned && this.t0 + this.next * this.interval <= now) {
      this.lastLaunch = this.t0 + this.next * this.interval;
      this.launch(this.next, this.lastLaunch);
      this.next++;
    }
    if (this.next < this.planned && !this.s.signal?.aborted) {
      this.later(() => this.tick(), Math.max(0, this.t0 + this.next * this.interval - performance.now()));
    } else {
      this.scheduleDone = true;
      this.maybeFinish();
    }
  }

  private readonly onAbort = (): void => {
    if (this.scheduleDone) return;
    this.scheduleDone = true;
    this.maybeFinish();
  };

  private maybeFinish(): void {
    if (this.scheduleDone && this.openTasks === 0) this.resolveRun();
  }

  private taskDone(): void {
    this.openTasks--;
    this.maybeFinish();
  }

  private drawProgress(): void {
    process.stderr.write(this.tally.progressLine(this.next, this.planned, this.openTasks));
  }

  private stop(): void {
    this.stopped = true;
    if (this.hardStop !== null) clearTimeout(this.hardStop);
    this.s.signal?.removeEventListener('abort', this.onAbort);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    if (this.progressTimer !== null) {
      clearInterval(this.progressTimer);
      this.drawProgress();
      process.stderr.write('\n');
    }
    // Anything still open at a hard stop is counted, then every connection closes.
    if (this.openTasks > 0) this.tally.countError('stopped');
    for (const c of [...this.conns]) {
      c.pending.clear();
      c.close();
    }
  }

  private later(fn: () => void, ms: number): NodeJS.Timeout {
    const t = setTimeout(() => { this.timers.delete(t); fn(); }, ms);
    this.timers.add(t);
    return t;
  }

  private cancel(t: NodeJS.Timeout | null): void {
    if (t === null) return;
    clearTimeout(t);
    this.timers.delete(t);
  }

  // ---- connections

  private connFor(term: Term): TerminalConn {
    if (this.s.mode === 'per-sale') return this.openConn(term);
    if (term.conn === null || !term.conn.isOpen) term.conn = this.openConn(term);
    return term.conn;
  }

  private openConn(term: Term): TerminalConn {
    const conn = new TerminalConn(term, this.s.host, this.s.port, this.s.dialect, this.s.framing, this.connEvents);
    this.conns.add(conn);
    return conn;
  }

  /** Per-sale connections close once their one exchange is over. */
  private release(conn: TerminalConn): void {
    if (this.s.mode === 'per-sale') conn.end();
  }

  private connClosed(conn: TerminalConn, lost: Pending[]): void {
    this.conns.delete(conn);
    if (conn.term.conn === conn) conn.term.conn = null;
    for (const p of lost) {
      if (p.kind === 'sale') this.saleLost(p, conn);
      else this.reversalLost(p);
    }
  }

  private nextStan(term: Term): string {
    term.stan = term.stan >= 999999 ? 1 : term.stan + 1;
    return String(term.stan).padStart(6, '0');
  }

  // ---- sales

  private launch(i: number, scheduledAt: number): void {
    const s = this.s;
    const term = this.terms[i % s.terminals];
    // Every draw is taken for every sale, so the sequence repeats for a seed.
    const rMagic = this.rng.next();
    const amountUnits = this.rng.int(s.units.min, s.units.max);
    // Drawn for every sale whatever `cards` is, so the sequence repeats for a seed.
    const panDigits = String(this.rng.int(0, 999) % s.cards).padStart(3, '0');
    const chip = this.rng.chance(s.chipDeclineRate);
    const drop = this.rng.chance(s.disconnectRate);
    let minor = amountUnits * 100;
    let acc = 0;
    for (const [ending, share] of s.mix) {
      acc += share;
      if (rMagic < acc) { minor += Number(ending); break; }
    }
    term.seq = term.seq >= 9_999_999 ? 1 : term.seq + 1;
    const rrn = s.rrnPrefix + String(term.index).padStart(3, '0') + String(term.seq).padStart(7, '0');
    const stan = this.nextStan(term);
    const msg = this.saleMessage(term, stan, rrn, minor, panDigits, new Date());
    const rec: SaleRecord = { rrn, terminalId: term.id, stan, amount: msg.get(4) ?? '', outcome: 'error', code: null, reversedByTerminal: false };
    this.tally.records?.push(rec);
    const sale: Sale = {
      kind: 'sale', term, msg, rec, responseMti: this.saleResponseMti, scheduledAt, chip, done: false, timer: null, approvalCode: null,
    };
    this.openTasks++;
    this.tally.sent++;
    const conn = this.connFor(term);
    conn.pending.set(stan, sale);
    conn.send(msg, drop ? () => this.hangUp(sale, conn) : undefined);
    sale.timer = this.later(() => this.saleTimedOut(sale, conn), s.responseTimeoutMs);
  }

  private saleMessage(term: Term, stan: string, rrn: string, minor: number, panDigits: string, now: Date): IsoMessage {
    const s = this.s;
    return saleMessage(s.dialect, {
      mti: s.mti, terminal: term.index, terminalId: term.id, merchant: term.merchant, stan, rrn, minor, panDigits,
      acquirerId: s.acquirerId, currency: s.currency, now,
    });
  }

  /** The disconnect fault: the request is on the wire, the terminal goes before the answer. */
  private hangUp(sale: Sale, conn: TerminalConn): void {
    if (sale.done) return;
    conn.dropped = true;
    conn.pending.delete(sale.rec.stan);
    this.finishSale(sale, 'disconnected', null);
    conn.close();
  }

  private saleAnswered(sale: Sale, conn: TerminalConn, res: IsoMessage): void {
    if (sale.done) { this.tally.lateAnswers++; return; }
    this.tally.latency(performance.now() - sale.scheduledAt);
    this.release(conn);
    const code = res.get(39) ?? null;
    if (code !== null && this.codes.approvals.has(code)) {
      sale.approvalCode = res.get(38) ?? null;
      if (sale.chip) {
        this.reverse(sale, this.codes.chipDeclineReason);
        this.finishSale(sale, 'chip-declined', code);
      } else {
        this.finishSale(sale, 'approved', code);
      }
    } else {
      this.finishSale(sale, 'declined', code);
    }
  }

  private saleTimedOut(sale: Sale, conn: TerminalConn): void {
    sale.timer = null;
    if (sale.done) return;
    conn.pending.delete(sale.rec.stan);
    if (this.s.mode === 'per-sale') conn.close();
    this.reverse(sale, this.codes.timeoutReason);
    this.finishSale(sale, 'timed-out', null);
  }

  private saleLost(sale: Sale, conn: TerminalConn): void {
    if (sale.done) return;
    if (conn.dropped) {
      // The sale that hung up is already done: these are the others in flight on it.
      if (this.s.reverseOnHangUp) this.reverse(sale, this.codes.timeoutReason);
      this.finishSale(sale, 'disconnected', null);
    } else if (!conn.connected) {
      this.tally.countError('connect');
      this.finishSale(sale, 'error', null);
    } else {
      this.tally.countError('connection-lost');
      this.reverse(sale, this.codes.timeoutReason);
      this.finishSale(sale, 'error', null);
    }
  }

  private finishSale(sale: Sale, outcome: SaleOutcome, code: string | null): void {
    sale.done = true;
    this.cancel(sale.timer);
    sale.rec.outcome = outcome;
    sale.rec.code = code;
    this.tally.saleOver(sale.rec);
    this.taskDone();
  }

  // ---- reversals

  /** `reason` in the profile's reasonField (F39; 1993 F25). */
  private reverse(sale: Sale, reason: string): void {
    this.openTasks++;
    this.tally.reversalSent(sale.rec);
    const dialect = this.s.dialect;
    const rev = reversalOf(dialect, sale.msg, {
      reason,
      // A UnionPay reversal is known by the sale's own trace: it keeps F11.
      stan: profileOf(dialect).standard === 'cup' ? undefined : this.nextStan(sale.term),
      transmissionDateTime: transmissionDateTime(new Date()),
      approvalCode: sale.approvalCode ?? undefined,
    });
    this.attempt(sale, rev, 1);
  }

  private attempt(sale: Sale, rev: IsoMessage, n: number): void {
    if (this.stopped) return;
    const msg = n === 1 ? rev : repeatOf(rev);
    if (n > 1) this.tally.reversals.repeats++;
    const conn = this.connFor(sale.term);
    const t: ReversalTry = {
      kind: 'reversal', sale, rev, n, stan: rev.get(11) as string, conn, responseMti: responseMti(msg.mti), settled: false, timer: null,
    };
    t.timer = this.later(() => this.reversalTimedOut(t), this.s.reversalTimeoutMs);
    conn.pending.set(t.stan, t);
    conn.send(msg);
  }

  private reversalAnswered(t: ReversalTry): void {
    if (t.settled) return;
    t.settled = true;
    this.cancel(t.timer);
    this.release(t.conn);
    this.tally.reversals.answered++;
    this.taskDone();
  }

  private reversalTimedOut(t: ReversalTry): void {
    if (t.settled) return;
    t.settled = true;
    t.conn.pending.delete(t.stan);
    if (this.s.mode === 'per-sale') t.conn.close();
    this.retryOrGiveUp(t);
  }

  private reversalLost(t: ReversalTry): void {
    if (t.settled) return;
    t.settled = true;
    this.cancel(t.timer);
    this.later(() => this.retryOrGiveUp(t), RETRY_DELAY_MS);
  }

  private retryOrGiveUp(t: ReversalTry): void {
    if (t.n < this.s.reversalAttempts) {
      this.attempt(t.sale, t.rev, t.n + 1);
      return;
    }
    this.tally.reversalFailedFor(t.sale.rec);
    this.taskDone();
  }
}
