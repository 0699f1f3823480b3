/**
 * What the terminal load generator reports: one record per sale, the counts by outcome
 * and error, the latency histogram, and the summary built from them at the end of a run.
 * The tally only counts; when a sale or a reversal is over is the fleet's business
 * (./terminals.ts).
 */
import { build as buildHistogram } from 'hdr-histogram-js';
import type { TerminalMode } from './terminal-options.js';

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

/** What the summary says about the run itself, as opposed to what happened in it. */
export type RunShape = Pick<TerminalSummary, 'seed' | 'mode' | 'terminals' | 'targetTps' | 'durationS' | 'planned'>;

export class SaleTally {
  readonly outcomes: TerminalSummary['outcomes'] = { approved: 0, declined: {}, timedOut: 0, disconnected: 0, chipDeclined: 0, errors: 0 };
  readonly errors: Record<string, number> = {};
  readonly reversals = { sent: 0, answered: 0, repeats: 0, failed: 0 };
  readonly records: SaleRecord[] | null;
  sent = 0;
  lateAnswers = 0;
  // By RRN: the approvals kept are the approved sales the terminal did not reverse itself.
  private readonly approved = new Set<string>();
  private readonly reversedByTerminal = new Set<string>();
  private readonly reversalFailed = new Set<string>();
  private readonly disconnected = new Set<string>();
  private readonly hist = buildHistogram({
    useWebAssembly: false, lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3,
  });

  constructor(keepRecords: boolean) {
    this.records = keepRecords ? [] : null;
  }

  countError(kind: string): void {
    this.errors[kind] = (this.errors[kind] ?? 0) + 1;
  }

  /** In microseconds, at least 1, so that a sub-millisecond answer still counts. */
  latency(ms: number): void {
    this.hist.recordValue(Math.max(1, Math.round(ms * 1000)));
  }

  saleOver(rec: SaleRecord): void {
    const code = rec.code;
    switch (rec.outcome) {
      case 'approved': this.outcomes.approved++; this.approved.add(rec.rrn); break;
      case 'declined': this.outcomes.declined[code ?? '??'] = (this.outcomes.declined[code ?? '??'] ?? 0) + 1; break;
      case 'timed-out': this.outcomes.timedOut++; break;
      case 'disconnected': this.outcomes.disconnected++; this.disconnected.add(rec.rrn); break;
      case 'chip-declined': this.outcomes.chipDeclined++; break;
      case 'error': this.outcomes.errors++; break;
    }
  }

  reversalSent(rec: SaleRecord): void {
    this.reversals.sent++;
    rec.reversedByTerminal = true;
    this.reversedByTerminal.add(rec.rrn);
  }

  reversalFailedFor(rec: SaleRecord): void {
    this.reversals.failed++;
    this.reversalFailed.add(rec.rrn);
  }

  /** The progress bar's line, drawn over itself with \r. */
  progressLine(launched: number, planned: number, inFlight: number): string {
    const frac = Math.min(1, launched / planned);
    const width = 24;
    const filled = Math.round(frac * width);
    const o = this.outcomes;
    const done = o.approved + o.chipDeclined + Object.values(o.declined).reduce((a, b) => a + b, 0);
    const p99 = this.hist.totalCount > 0 ? (this.hist.getValueAtPercentile(99) / 1000).toFixed(1) : '-';
    return `\r[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.round(frac * 100)).padStart(3)}%`
      + ` sent ${this.sent}/${planned} answered ${done} timeouts ${o.timedOut} in flight ${inFlight} p99 ${p99} ms \x1b[K`;
  }

  summary(run: RunShape, elapsedS: number, sendWindowS: number): TerminalSummary {
    const hist = this.hist;
    const count = hist.totalCount;
    // A percentile is its bucket's highest equivalent value, which can pass the true max.
    const ms = (us: number): number => Math.round(Math.min(us, hist.maxValue)) / 1000;
    const approvedRrns = [...this.approved].filter((r) => !this.reversedByTerminal.has(r)).sort();
    return {
      seed: run.seed, mode: run.mode, terminals: run.terminals, targetTps: run.targetTps, durationS: run.durationS, planned: run.planned,
      sent: this.sent, outcomes: this.outcomes, errors: this.errors, reversals: this.reversals, lateAnswers: this.lateAnswers,
      latencyMs: {
        count,
        p50: count ? ms(hist.getValueAtPercentile(50)) : 0,
        p90: count ? ms(hist.getValueAtPercentile(90)) : 0,
        p99: count ? ms(hist.getValueAtPercentile(99)) : 0,
        max: count ? ms(hist.maxValue) : 0,
        mean: count ? Math.round(hist.mean) / 1000 : 0,
      },
      achievedTps: sendWindowS > 0 ? Math.round((this.sent / sendWindowS) * 10) / 10 : 0,
      elapsedS: Math.round(elapsedS * 1000) / 1000,
      approvedRrns,
      terminalReversedRrns: [...this.reversedByTerminal].sort(),
      reversalFailedRrns: [...this.reversalFailed].sort(),
      disconnectedRrns: [...this.disconnected].sort(),
      sales: this.records,
    };
  }
}
