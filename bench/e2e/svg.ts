/**
 * A latency-by-percentile chart as a hand-written SVG (no plotting dependency): one
 * panel per load level, each with one curve per implementation. x is the percentile on
 * a log scale of 1 / (1 - p), from 50% to 99.99% (so 90, 99, 99.9 are evenly spaced, as
 * in HdrHistogram plots); y is latency in ms, linear, from 0 to a round number above the
 * panel's highest point.
 */

export interface Series {
  label: string;
  color: string;
  /** [log10(1 / (1 - p)), ms] */
  points: [number, number][];
}

export interface Panel {
  title: string;
  subtitle: string;
  series: Series[];
}

const X_MIN = Math.log10(2);
const X_MAX = 4;
const X_TICKS: [number, string][] = [[Math.log10(2), '50%'], [1, '90%'], [2, '99%'], [3, '99.9%'], [4, '99.99%']];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A round step giving about `n` intervals up to max. */
function niceStep(max: number, n: number): number {
  const raw = max / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * mag >= raw) return m * mag;
  return 10 * mag;
}

function fmtMs(v: number): string {
  if (v === 0) return '0';
  if (v >= 100) return v.toFixed(0);
  if (v >= 10) return v.toFixed(v % 1 === 0 ? 0 : 1);
  if (v >= 1) return v.toFixed(v % 1 === 0 ? 0 : 2).replace(/0+$/, '').replace(/\.$/, '');
  return v.toFixed(3).replace(/0+$/, '').replace(/\.$/, '');
}

function panelSvg(p: Panel, ox: number, oy: number, w: number, h: number): string {
  const left = 58;
  const right = 30;
  const top = 44;
  const bottom = 42;
  const pw = w - left - right;
  const ph = h - top - bottom;
  const yMaxData = Math.max(0.001, ...p.series.flatMap((s) => s.points.map(([, y]) => y)));
  const step = niceStep(yMaxData, 5);
  const yMax = Math.ceil(yMaxData / step) * step;
  const sx = (x: number): number => ox + left + ((x - X_MIN) / (X_MAX - X_MIN)) * pw;
  const sy = (y: number): number => oy + top + ph - (y / yMax) * ph;
  const out: string[] = [];
  out.push(`<g>`);
  out.push(`<text x="${ox + left}" y="${oy + 18}" class="title">${esc(p.title)}</text>`);
  out.push(`<text x="${ox + left}" y="${oy + 34}" class="sub">${esc(p.subtitle)}</text>`);
  out.push(`<rect x="${ox + left}" y="${oy + top}" width="${pw}" height="${ph}" class="frame"/>`);
  for (let v = 0; v <= yMax + 1e-9; v += step) {
    const y = sy(v).toFixed(1);
    out.push(`<line x1="${ox + left}" x2="${ox + left + pw}" y1="${y}" y2="${y}" class="grid"/>`);
    out.push(`<text x="${ox + left - 6}" y="${(sy(v) + 4).toFixed(1)}" class="tick" text-anchor="end">${fmtMs(v)}</text>`);
  }
  for (const [x, label] of X_TICKS) {
    const px = sx(x).toFixed(1);
    out.push(`<line x1="${px}" x2="${px}" y1="${oy + top}" y2="${oy + top + ph}" class="grid"/>`);
    out.push(`<text x="${px}" y="${oy + top + ph + 16}" class="tick" text-anchor="middle">${label}</text>`);
  }
  out.push(`<text x="${ox + left + pw / 2}" y="${oy + h - 6}" class="axis" text-anchor="middle">percentile</text>`);
  out.push(`<text x="${ox + 14}" y="${oy + top + ph / 2}" class="axis" text-anchor="middle" transform="rotate(-90 ${ox + 14} ${oy + top + ph / 2})">latency (ms)</text>`);
  const paths: string[] = [];
  const legend: string[] = [];
  const legendW = Math.max(0, ...p.series.map((s) => s.label.length)) * 6.6 + 36;
  if (p.series.length > 0) {
    legend.push(`<rect x="${ox + left + 4}" y="${oy + top + 4}" width="${legendW.toFixed(0)}" height="${p.series.length * 16 + 6}" fill="#fff" fill-opacity="0.85"/>`);
  }
  p.series.forEach((s, i) => {
    if (s.points.length > 0) {
      const d = s.points.map(([x, y], j) => `${j === 0 ? 'M' : 'L'}${sx(Math.min(x, X_MAX)).toFixed(1)},${sy(y).toFixed(1)}`).join(' ');
      paths.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"/>`);
    }
    const lx = ox + left + 10;
    const ly = oy + top + 16 + i * 16;
    legend.push(`<line x1="${lx}" x2="${lx + 18}" y1="${ly - 4}" y2="${ly - 4}" stroke="${s.color}" stroke-width="2"/>`);
    legend.push(`<text x="${lx + 24}" y="${ly}" class="legend">${esc(s.label)}</text>`);
  });
  out.push(...paths, ...legend);
  out.push(`</g>`);
  return out.join('\n');
}

/** The whole figure: panels in a grid of `cols` columns, a heading and footnotes; `summary` lines fill a free grid cell, if any (else go under the footnotes). */
export function latencySvg(heading: string, panels: Panel[], footnotes: string[], summary: string[] = [], cols = 2): string {
  const w = 520;
  const h = 330;
  const head = 40;
  const rows = Math.ceil(panels.length / cols);
  const freeCell = panels.length % cols !== 0;
  const allFoot = freeCell ? footnotes : [...footnotes, ...summary];
  const foot = 18 * allFoot.length + 16;
  const W = w * cols;
  const H = head + rows * h + foot;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif">`);
  parts.push(`<style>
  .title { font-size: 15px; font-weight: bold; fill: #222; }
  .sub { font-size: 11px; fill: #555; }
  .tick { font-size: 11px; fill: #444; }
  .axis { font-size: 11px; fill: #444; }
  .legend { font-size: 12px; fill: #222; }
  .foot { font-size: 11px; fill: #555; }
  .frame { fill: #fff; stroke: #999; }
  .grid { stroke: #e4e4e4; }
</style>`);
  parts.push(`<rect width="${W}" height="${H}" fill="#fafafa"/>`);
  parts.push(`<text x="16" y="26" font-size="17" font-weight="bold" fill="#111">${esc(heading)}</text>`);
  panels.forEach((p, i) => {
    parts.push(panelSvg(p, (i % cols) * w, head + Math.floor(i / cols) * h, w, h));
  });
  if (freeCell && summary.length > 0) {
    const i = panels.length;
    const ox = (i % cols) * w + 58;
    const oy = head + Math.floor(i / cols) * h + 44;
    summary.forEach((line, j) => {
      parts.push(`<text x="${ox}" y="${oy + j * 20}" class="${j === 0 ? 'title' : 'legend'}">${esc(line)}</text>`);
    });
  }
  allFoot.forEach((f, i) => {
    parts.push(`<text x="16" y="${head + rows * h + 14 + i * 18}" class="foot">${esc(f)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
