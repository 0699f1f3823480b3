/**
 * Self time per function in a .cpuprofile, the way the e2e suite's profiles are read:
 *
 *   BENCH_E2E_CPU_PROF=/tmp/prof node dist/bench/run.js e2e
 *   node dist/bench/e2e/profile-summary.js /tmp/prof/e2e-saturation-revswitch.cpuprofile [N]
 *
 * Percentages are of the busy time (samples that were not "(idle)"), then by file.
 */
import { readFileSync } from 'node:fs';

interface CallFrame { functionName: string; url: string; lineNumber: number }
interface ProfileNode { id: number; callFrame: CallFrame }
interface Profile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }

const [file, nArg = '30'] = process.argv.slice(2);
if (!file) {
  console.error('usage: node dist/bench/e2e/profile-summary.js FILE.cpuprofile [N]');
  process.exit(2);
}
const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const self = new Map<string, number>();
const byFile = new Map<string, number>();
let total = 0;
let idle = 0;
const short = (url: string): string => url.replace(/^file:\/\/.*?\/(dist|node_modules)\//, '$1/');
for (let i = 0; i < p.samples.length; i++) {
  const cf = byId.get(p.samples[i])?.callFrame;
  const d = p.timeDeltas[i] ?? 0;
  if (!cf) continue;
  if (cf.functionName === '(idle)') { idle += d; continue; }
  total += d;
  const where = cf.url ? `${short(cf.url)}:${cf.lineNumber + 1}` : '(native)';
  const key = `${cf.functionName || '(anonymous)'}  ${where}`;
  self.set(key, (self.get(key) ?? 0) + d);
  const f = cf.url ? short(cf.url) : cf.functionName.startsWith('(') ? cf.functionName : '(native)';
  byFile.set(f, (byFile.get(f) ?? 0) + d);
}
const pc = (v: number): string => ((100 * v) / total).toFixed(1).padStart(5) + '%';
console.log(`${file}: ${(total / 1000).toFixed(0)} ms busy, ${(idle / 1000).toFixed(0)} ms idle`);
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(nArg))) console.log(`${pc(v)}  ${k}`);
console.log('-- by file');
for (const [k, v] of [...byFile].sort((a, b) => b[1] - a[1]).slice(0, 20)) console.log(`${pc(v)}  ${k}`);
