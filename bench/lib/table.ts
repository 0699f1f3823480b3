/** Plain-text tables for the terminal. */
import type { CaseResult, Suite, Target } from './suite.js';

export function formatInt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function formatUs(us: number): string {
  return us >= 100 ? us.toFixed(1) : us >= 10 ? us.toFixed(2) : us.toFixed(3);
}

/** Milliseconds of a latency: three significant digits or so. */
export function formatMs(ms: number): string {
  return ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2);
}

/** A figure for a result file, to `digits` decimals. */
export function roundTo(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

export function renderTable(header: string[], rows: string[][], rightAlign: boolean[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (rightAlign[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function casesTable(suite: Suite, cases: readonly CaseResult[]): string {
  const base = suite.baselineName ?? 'baseline';
  const header = ['case', suite.variantLabel, 'impl', 'bytes', 'ops/s', 'µs/op', '±%', `ratio vs ${base}`];
  const rows = cases.map((c) => [
    c.name,
    c.variant,
    c.impl,
    c.messageBytes === undefined ? '' : String(c.messageBytes),
    formatInt(c.opsPerSec),
    formatUs(c.usPerOp),
    c.spreadPct.toFixed(1),
    c.ratioVsBaseline === undefined ? '' : `${c.ratioVsBaseline.toFixed(1)}x`,
  ]);
  return renderTable(header, rows, [false, false, false, true, true, true, true, true]);
}

function formatFigure(t: Target, v: number): string {
  return t.metric === 'ratioVsBaseline' ? `${v.toFixed(1)}x` : `${formatInt(v)} ${t.unit}`;
}

export function targetsTable(targets: readonly Target[]): string {
  const rows = targets.map((t) => [
    t.description,
    `>= ${formatFigure(t, t.min)}`,
    t.actual === null ? 'n/a' : formatFigure(t, t.actual),
    t.pass ? 'PASS' : 'MISS',
  ]);
  return renderTable(['target', 'needs', 'got', ''], rows, [false, true, true, false]);
}
