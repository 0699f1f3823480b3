/**
 * Child process of the hostile-clients bench (../hostile.ts): the switch alone in its
 * process, started as `revswitch start` starts it (startSwitch), with the listener's
 * limits at their defaults, its SQLite journal in a temporary directory, one upstream link
 * to the parent's issuer simulator, and its log lines (level info) in a file the parent
 * counts. Its memory is sampled every 100 ms for the peaks.
 *
 * Commands: start-switch, stats (memory peaks, counters, the listener's guard counts,
 * open connections), reset-peaks (a phase starts), stop (exits).
 */
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join } from 'node:path';
import { startSwitch, type Running } from '../../switch/cli/start-command.js';
import { defaultConfig, UPSTREAM_DEFAULTS } from '../../switch/config/index.js';
import { CLOSE_REASONS, PAUSE_REASONS, REFUSAL_REASONS } from '../../switch/observe/guard-metrics.js';
import { createLogger } from '../../switch/observe/log.js';
import { serve } from '../e2e/ipc.js';

export interface TargetStart {
  issuerPort: number;
  /** Where the log lines go (one JSON line each). */
  logFile: string;
}

export interface MemoryPeaks {
  rssBytes: number;
  heapUsedBytes: number;
  externalBytes: number;
}

export interface TargetStats {
  peaks: MemoryPeaks;
  now: MemoryPeaks;
  /** VmHWM of /proc/self/status: the kernel's own peak RSS over the process's life. */
  vmHwmBytes: number;
  counters: Record<string, number>;
  refused: Record<string, number>;
  closed: Record<string, number>;
  paused: Record<string, number>;
  openConnections: number;
  cpuUs: { user: number; system: number };
  /** The switch's event-loop delay since the last reset-peaks (ms, beyond the 1 ms sampling). */
  loopDelayMs: { p50: number; p99: number; max: number };
  /**
   * Cumulative bucket counts since start, [upper bound in ms, count]: the switch's own
   * part of its sales' latency (only the terminal's sales and the one duplicate are
   * forwarded), the upstream round trip, one journal commit. The parent diffs two reads.
   */
  buckets: Record<'added' | 'upstream' | 'commit', [number, number][]>;
}

let running: Running | null = null;
let dir: string | null = null;
let peaks: MemoryPeaks = { rssBytes: 0, heapUsedBytes: 0, externalBytes: 0 };
const loop = monitorEventLoopDelay({ resolution: 1 });
loop.enable();

function sample(): MemoryPeaks {
  const m = process.memoryUsage();
  return { rssBytes: m.rss, heapUsedBytes: m.heapUsed, externalBytes: m.external + m.arrayBuffers };
}

setInterval(() => {
  const s = sample();
  peaks = { rssBytes: Math.max(peaks.rssBytes, s.rssBytes), heapUsedBytes: Math.max(peaks.heapUsedBytes, s.heapUsedBytes), externalBytes: Math.max(peaks.externalBytes, s.externalBytes) };
}, 100).unref();

function vmHwm(): number {
  const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return m === null ? 0 : Number(m[1]) * 1024;
}

serve({
  async 'start-switch'(a: TargetStart) {
    dir = mkdtempSync(join(tmpdir(), 'revswitch-hostile-'));
    const cfg = defaultConfig();
    cfg.listeners[0].port = 0;
    cfg.admin = 'off';
    cfg.logLevel = 'info';
    cfg.store = `sqlite:${join(dir, 'journal.db')}`;
    cfg.panHashKey = '2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881';
    cfg.upstreams.push({ name: 'issuer', ...UPSTREAM_DEFAULTS, host: '127.0.0.1', port: a.issuerPort, dialect: 'iso87a' });
    const out = createWriteStream(a.logFile, { flags: 'a' });
    running = await startSwitch(cfg, createLogger('info', (line) => void out.write(line)));
    if (!(await running.sw.waitUntilUp(10_000))) throw new Error('the upstream link did not come up');
    return { port: running.sw.ports()[0], listener: cfg.listeners[0] };
  },
  'reset-peaks'() {
    peaks = sample();
    loop.reset();
    return null;
  },
  async stats(): Promise<TargetStats> {
    if (!running) throw new Error('not started');
    const sw = running.sw;
    const g = sw.metrics.guard(sw.cfg.listeners[0].name);
    const cpu = process.cpuUsage();
    const gauge = await sw.metrics.registry.getSingleMetric('revswitch_connections_open')?.get();
    const open = gauge?.values.reduce((n, v) => n + v.value, 0) ?? 0;
    return {
      peaks, now: sample(), vmHwmBytes: vmHwm(), counters: sw.counters.snapshot(),
      refused: Object.fromEntries(REFUSAL_REASONS.map((r) => [r, g.refusedFor(r)])),
      closed: Object.fromEntries(CLOSE_REASONS.map((r) => [r, g.closedFor(r)])),
      paused: Object.fromEntries(PAUSE_REASONS.map((r) => [r, g.pausedFor(r)])), openConnections: open, cpuUs: { user: cpu.user, system: cpu.system },
      loopDelayMs: { p50: ms(loop.percentile(50)), p99: ms(loop.percentile(99)), max: ms(loop.max) },
      buckets: {
        added: await buckets(sw, 'revswitch_added_latency_seconds'),
        upstream: await buckets(sw, 'revswitch_upstream_round_trip_seconds'),
        commit: await buckets(sw, 'revswitch_store_commit_duration_seconds'),
      },
    };
  },
  async stop() {
    await running?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
    setImmediate(() => process.exit(0));
    return null;
  },
});

const ms = (ns: number): number => Math.round(Math.max(0, ns / 1e6 - 1) * 100) / 100;

/** A histogram's cumulative buckets, every label summed, [upper bound in ms, count]. */
async function buckets(sw: Running['sw'], name: string): Promise<[number, number][]> {
  const got = await sw.metrics.registry.getSingleMetric(name)?.get();
  const sums = new Map<number, number>();
  for (const v of (got?.values ?? []) as { metricName?: string; labels: Record<string, string | number>; value: number }[]) {
    if (!v.metricName?.endsWith('_bucket')) continue;
    const le = v.labels.le === '+Inf' ? Infinity : Number(v.labels.le) * 1000;
    sums.set(le, (sums.get(le) ?? 0) + v.value);
  }
  return [...sums].sort((a, b) => a[0] - b[0]);
}
