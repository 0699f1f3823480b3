/**
 * What bench/run.ts hands a suite beyond SuiteContext, and what a suite may hand back
 * beyond SuiteOutput. Kept apart from ./suite.ts so the common contract stays small:
 * suites that do not care never see these.
 */
import type { CaseResult, SuiteContext, SuiteOutput } from './suite.js';

export interface RunExtras {
  /** --plot: also write the suite's plot(s) next to its result file. */
  plot: boolean;
  /** Where result files go; null with --no-write. */
  resultsDir: string | null;
}

export type ExtendedContext = SuiteContext & Partial<RunExtras>;

export interface ExtendedOutput extends SuiteOutput {
  /** Merged into the result file's top level (e.g. { e2e: {...} }). */
  extra?: Record<string, unknown>;
  /** Replaces the default ops/s table in the terminal output. */
  table?: string;
  /** Files the suite wrote itself (a plot); printed after the result files. */
  files?: string[];
}

export type { CaseResult };
