/**
 * What a suite is and what it hands back. The runner (bench/run.ts) owns everything
 * common: options, machine info, the table, the result file. A suite only builds its
 * cases, measures them with ./timing.js and says which ones are baselines and targets.
 */
import type { TimingOptions } from './options.js';
import type { Measurement } from './timing.js';

export interface SuiteContext {
  timing: TimingOptions;
  quick: boolean;
  /** Progress and diagnostics; goes to stderr so stdout stays the table. */
  log: (line: string) => void;
}

export interface CaseResult extends Omit<Measurement, 'id'> {
  /** Stable and unique within the suite, e.g. "decode/0200/iso87a/revswitch". Guards key on it. */
  id: string;
  /** What is measured, e.g. "decode 0200". */
  name: string;
  /** The suite's variant axis (the codec's is the dialect). */
  variant: string;
  /** Whose code ran: "revswitch", or the baseline's name. */
  impl: string;
  /** Bytes of the message on the wire, where that means something. */
  messageBytes?: number;
  /** id of the case this one is compared with. */
  baselineId?: string;
  /** opsPerSec / the baseline's opsPerSec. */
  ratioVsBaseline?: number;
}

export interface Target {
  id: string;
  description: string;
  caseId: string;
  metric: 'opsPerSec' | 'ratioVsBaseline';
  /** The figure must be at least this. */
  min: number;
  unit: string;
  actual: number | null;
  pass: boolean;
}

/** A precondition the suite verified before measuring (e.g. "both decoders agree"). */
export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

/** A target as a suite declares it; the runner fills in actual and pass. */
export type TargetSpec = Omit<Target, 'actual' | 'pass'>;

export interface SuiteOutput {
  cases: CaseResult[];
  targets: TargetSpec[];
  checks: Check[];
  notes: string[];
}

export interface Suite {
  name: string;
  description: string;
  /** Column header for CaseResult.variant. */
  variantLabel: string;
  /** Name of the baseline implementation, for the ratio column header. */
  baselineName?: string;
  run(ctx: SuiteContext): Promise<SuiteOutput> | SuiteOutput;
}

export class BenchCheckError extends Error {
  override readonly name = 'BenchCheckError';
}

/** Throws (loudly, before any timing) when a precondition of a fair comparison fails. */
export function check(checks: Check[], name: string, ok: boolean, detail: string): void {
  checks.push({ name, ok, detail });
  if (!ok) throw new BenchCheckError(`check failed: ${name}: ${detail}`);
}

/** Fills ratioVsBaseline from baselineId. */
export function linkBaselines(cases: CaseResult[]): void {
  const byId = new Map(cases.map((c) => [c.id, c]));
  for (const c of cases) {
    if (c.baselineId === undefined) continue;
    const b = byId.get(c.baselineId);
    if (!b) throw new Error(`case ${c.id}: baseline ${c.baselineId} was not measured`);
    c.ratioVsBaseline = c.opsPerSec / b.opsPerSec;
  }
}

export function evaluateTarget(cases: readonly CaseResult[], t: TargetSpec): Target {
  const c = cases.find((x) => x.id === t.caseId);
  const actual = c ? (t.metric === 'opsPerSec' ? c.opsPerSec : c.ratioVsBaseline ?? null) : null;
  return { ...t, actual, pass: actual !== null && actual >= t.min };
}
