/**
 * Hostile clients against a real switch (issue 21, section 2, the terminal side):
 * `npm run bench:hostile -- [--quick] [--record] [--unpinned] [--slow 5000] [--seconds 20] [--tps 100]`.
 *
 * The switch runs in a child process (./hostile/target.ts: startSwitch, the listener's
 * limits at their defaults, SQLite journal in a temporary directory), pinned to CPU 1
 * when the machine can pin (`--unpinned`: nothing is pinned), beside this process, which
 * holds the issuer simulator and one well-behaved terminal (a persistent connection from
 * 127.0.0.1, sales open loop at `--tps`: a light load). The hostile clients run in a
 * third process (./hostile/attack.ts) alone on CPU 0 at nice 19, standing in for other
 * machines. They are kept off the terminal's CPU because the kernel's loopback work for
 * thousands of connects a second runs on the attacker's CPU whatever its nice: with the
 * rig on CPU 0 too, the rig's own event loop was late by up to a second and the
 * terminal's figures measured the rig. The rig's delay is reported beside its figures.
 *
 * Phases: warmup (2 s); baseline: the terminal alone (`--seconds`); attack: the same
 * terminal while 5,000 slow connections (half dribbling a byte a second into a frame
 * that never ends, half silent), a connection flood from two addresses, a duplicate flood
 * on one connection and a garbage stream all run (ramped first, then `--seconds`); after:
 * the attackers gone (5 s). Per phase: the terminal's sales sent and answered, latency
 * from send to answer (p50, p99, max), this process's event-loop delay (the rig's share
 * of any latency), the switch's event-loop delay and its own histograms (its part of the
 * latency, the issuer round trip, a journal commit), and its peak RSS and heap (sampled
 * every 100 ms in its process) and VmHWM. Targets: under attack every sale answered, p50
 * and p99 within 3x the baseline's, peak RSS within MEMORY_BOUND_BYTES, the flooded
 * duplicate forwarded once. Also the switch's refusals, closes and pauses by reason, what
 * the attackers did, and the switch's log lines by event.
 *
 * Writes hostile-<timestamp>.json and hostile-latest.json to bench/out/ (bench/results/
 * with --record). Exit status 1 when a target is missed or a phase failed.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { setPriority } from 'node:os';
import { dirname, join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { IsoMessage, transmissionTime } from '../codec/index.js';
import { connectClient, type SimClient } from '../switch/sim/client.js';
import { startIssuer } from '../switch/sim/issuer.js';
import { canPin, Child } from './e2e/ipc.js';
import type { AttackPlan, AttackStats } from './hostile/attack.js';
import type { TargetStats } from './hostile/target.js';
import { machineInfo, runtimeInfo } from './lib/machine.js';
import { resultsDir, writeResult } from './lib/results.js';

const HERE = dirname(fileURLToPath(import.meta.url));
/** What the switch process may take at its peak, slow connections and floods included. */
const MEMORY_BOUND_BYTES = 512 * 1024 * 1024;
const LATENCY_FACTOR = 3;

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false }, record: { type: 'boolean', default: false }, unpinned: { type: 'boolean', default: false },
    slow: { type: 'string' }, seconds: { type: 'string' }, tps: { type: 'string', default: '100' },
    'flood-per-second': { type: 'string', default: '1500' }, garbage: { type: 'string', default: '20' },
  },
});
const SLOW = Number(args.slow ?? (args.quick ? 500 : 5000));
const SECONDS = Number(args.seconds ?? (args.quick ? 4 : 20));
const TPS = Number(args.tps);
const log = (line: string): void => void process.stderr.write(`hostile: ${line}\n`);

interface Phase {
  name: string;
  seconds: number;
  sent: number;
  answered: number;
  approved: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  /** This process's event-loop delay over the phase (ms): the rig's part of every latency. */
  rigLoopDelayMs: { p50: number; p99: number; max: number };
  switchPeakRssBytes: number;
  switchPeakHeapUsedBytes: number;
  /** The switch's event-loop delay over the phase (ms beyond its 1 ms sampling). */
  switchLoopDelayMs: { p50: number; p99: number; max: number };
  /**
   * The switch's own histograms over the phase, p50 and p99 as bucket upper bounds (ms):
   * its part of the sales' latency, the round trip to the issuer, a journal commit.
   */
  switchHistogramsMs: Record<string, { p50: number; p99: number; count: number }>;
}

/** p50 and p99 of the difference of two reads of cumulative buckets. */
function diffQuantiles(before: [number, number][], after: [number, number][]): { p50: number; p99: number; count: number } {
  const d = after.map(([le, n], i) => [le, n - (before[i]?.[1] ?? 0)] as const);
  const count = d.length > 0 ? d[d.length - 1][1] : 0;
  const at = (p: number): number => d.find(([, n]) => n >= p * count)?.[0] ?? NaN;
  return { p50: at(0.5), p99: at(0.99), count };
}

const q = (sorted: number[], p: number): number => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]);
const r2 = (x: number): number => Math.round(x * 100) / 100;
const mb = (b: number): string => `${(b / 1048576).toFixed(0)} MB`;

let stan = 0;
let rrn = 0;
function goodSale(): IsoMessage {
  stan = stan >= 999_999 ? 1 : stan + 1;
  const f: Record<number, string> = {
    2: '4761739001010119', 3: '000000', 4: '000000001000', 7: transmissionTime(Date.now()), 11: String(stan).padStart(6, '0'),
    12: '101010', 13: '1203', 22: '051', 25: '00', 32: '123456', 37: 'GOOD' + String(++rrn).padStart(8, '0'), 41: 'GOOD0001',
    42: 'MERCHANT0000001', 49: '840',
  };
  const m = new IsoMessage('0200');
  for (const [k, v] of Object.entries(f)) m.set(Number(k), v);
  return m;
}

/** The terminal's sales, open loop at `tps` for `seconds`; latency from each send to its answer. */
async function sales(c: SimClient, seconds: number, tps: number): Promise<{ sent: number; answered: number; approved: number; lat: number[] }> {
  const lat: number[] = [];
  const waits: Promise<void>[] = [];
  let approved = 0;
  const n = Math.round(seconds * tps);
  const start = performance.now();
  for (let k = 0; k < n; k++) {
    const due = start + (k * 1000) / tps;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const t0 = performance.now();
    waits.push(c.request(goodSale(), 10_000).then(
      (res) => { lat.push(performance.now() - t0); if (res.get(39) === '00') approved++; },
      () => undefined,
    ));
  }
  await Promise.all(waits);
  return { sent: n, answered: lat.length, approved, lat };
}

async function phase(name: string, c: SimClient, target: Child, seconds: number): Promise<Phase> {
  await target.call('reset-peaks');
  const st0 = await target.call<TargetStats>('stats');
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const s = await sales(c, seconds, TPS);
  loop.disable();
  const st = await target.call<TargetStats>('stats');
  const lat = s.lat.sort((a, b) => a - b);
  // The sampling interval is in every reading: what is beyond it is the delay.
  const ms = (ns: number): number => r2(Math.max(0, ns / 1e6 - 10));
  const p: Phase = {
    name, seconds, sent: s.sent, answered: s.answered, approved: s.approved,
    latencyMs: { p50: r2(q(lat, 0.5)), p90: r2(q(lat, 0.9)), p99: r2(q(lat, 0.99)), max: r2(lat[lat.length - 1] ?? NaN) },
    rigLoopDelayMs: { p50: ms(loop.percentile(50)), p99: ms(loop.percentile(99)), max: ms(loop.max) },
    switchPeakRssBytes: st.peaks.rssBytes, switchPeakHeapUsedBytes: st.peaks.heapUsedBytes, switchLoopDelayMs: st.loopDelayMs,
    switchHistogramsMs: Object.fromEntries((['added', 'upstream', 'commit'] as const).map((k) => [k, diffQuantiles(st0.buckets[k], st.buckets[k])])),
  };
  log(`${name}: ${p.answered}/${p.sent} answered, p50 ${p.latencyMs.p50} ms, p99 ${p.latencyMs.p99} ms, max ${p.latencyMs.max} ms; switch peak RSS ${mb(p.switchPeakRssBytes)}, heap ${mb(p.switchPeakHeapUsedBytes)}`);
  log(`${name}: switch loop delay p50 ${p.switchLoopDelayMs.p50} p99 ${p.switchLoopDelayMs.p99} ms; switch histograms (bucket bounds, ms) ${JSON.stringify(p.switchHistogramsMs)}`);
  return p;
}

function pinSelf(cpu: number): boolean {
  try {
    execFileSync('taskset', ['-p', '-c', String(cpu), String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function main(): Promise<number> {
  const pin = !args.unpinned && canPin(availableParallelism());
  if (pin) pinSelf(1);
  const dir = mkdtempSync(join(tmpdir(), 'revswitch-hostile-bench-'));
  const logFile = join(dir, 'switch.log');
  const issuer = await startIssuer({ seed: 1, approveRate: 1 });
  let dupForwards = 0;
  issuer.onMessage((e) => { if (e.msg.get(37) === 'DUPE00000001') dupForwards++; });
  // BENCH_HOSTILE_TARGET_ARGS: node flags for the switch's process (e.g. "--trace-gc"), to look into a figure.
  const targetArgs = (process.env.BENCH_HOSTILE_TARGET_ARGS ?? '').split(' ').filter((a) => a !== '');
  const target = new Child(join(HERE, 'hostile', 'target.js'), { name: 'switch', execArgv: targetArgs, ...(pin ? { cpu: 1 } : {}) });
  let attacker: Child | null = null;
  try {
    const started = await target.call<{ port: number; listener: Record<string, unknown> }>('start-switch', { issuerPort: issuer.port, logFile });
    const port = started.port;
    log(`switch on 127.0.0.1:${port}${pin ? ' (CPU 1 with this process; the attackers on CPU 0)' : ' (not pinned; the attackers at nice 19)'}`);
    const c = await connectClient({ port });
    await sales(c, args.quick ? 1 : 2, TPS);
    const baseline = await phase('baseline', c, target, SECONDS);

    attacker = new Child(join(HERE, 'hostile', 'attack.js'), { name: 'attackers', ...(pin ? { cpu: 0 } : {}) });
    if (attacker.proc.pid !== undefined) setPriority(attacker.proc.pid, 19);
    const plan: AttackPlan = { port, slow: SLOW, floodIps: 2, floodPerSecondPerIp: Number(args['flood-per-second']), garbagePerSecond: Number(args.garbage) };
    const rampStart = performance.now();
    await target.call('reset-peaks');
    await attacker.call('start', plan);
    let a = await attacker.call<AttackStats>('stats');
    while (a.slowOpenNow < SLOW * 0.95 && performance.now() - rampStart < 30_000) {
      await new Promise((r) => setTimeout(r, 200));
      a = await attacker.call<AttackStats>('stats');
    }
    const rampSeconds = r2((performance.now() - rampStart) / 1000);
    const rampPeak = (await target.call<TargetStats>('stats')).peaks;
    log(`ramp: ${a.slowOpenNow} slow connections open after ${rampSeconds} s`);
    const timeline: { t: number; slowOpen: number; floodOpen: number; switchOpen: number; dupAnswers: number }[] = [];
    const tick = setInterval(() => {
      void Promise.all([attacker?.call<AttackStats>('stats'), target.call<TargetStats>('stats')]).then(([x, y]) => {
        if (x && y) timeline.push({ t: r2((performance.now() - rampStart) / 1000), slowOpen: x.slowOpenNow, floodOpen: x.floodOpenNow, switchOpen: y.openConnections, dupAnswers: x.dupAnswers });
      }, () => undefined);
    }, 1000);
    const underAttack = await phase('attack', c, target, SECONDS);
    clearInterval(tick);
    const during = await target.call<TargetStats>('stats');
    const attack = await attacker.call<AttackStats>('stop');
    await attacker.close();
    attacker = null;
    const after = await phase('after', c, target, args.quick ? 2 : 5);
    const end = await target.call<TargetStats>('stats');
    await c.close();
    await target.call('stop').catch(() => undefined);
    await target.close();

    const lines = readFileSync(logFile, 'utf8').split('\n').filter((l) => l !== '');
    const byEvent: Record<string, number> = {};
    for (const l of lines) {
      const msg = (JSON.parse(l) as { msg?: string }).msg ?? '?';
      byEvent[msg] = (byEvent[msg] ?? 0) + 1;
    }
    const peakRss = Math.max(rampPeak.rssBytes, underAttack.switchPeakRssBytes);
    const checks = [
      { what: 'every sale under attack answered', ok: underAttack.answered === underAttack.sent, got: `${underAttack.answered}/${underAttack.sent}` },
      { what: `p50 under attack <= ${LATENCY_FACTOR}x baseline`, ok: underAttack.latencyMs.p50 <= LATENCY_FACTOR * baseline.latencyMs.p50, got: `${r2(underAttack.latencyMs.p50 / baseline.latencyMs.p50)}x` },
      { what: `p99 under attack <= ${LATENCY_FACTOR}x baseline`, ok: underAttack.latencyMs.p99 <= LATENCY_FACTOR * baseline.latencyMs.p99, got: `${r2(underAttack.latencyMs.p99 / baseline.latencyMs.p99)}x` },
      { what: `switch peak RSS <= ${mb(MEMORY_BOUND_BYTES)}`, ok: peakRss <= MEMORY_BOUND_BYTES && end.vmHwmBytes <= MEMORY_BOUND_BYTES, got: `${mb(peakRss)} (VmHWM ${mb(end.vmHwmBytes)})` },
      { what: 'the flooded duplicate forwarded once', ok: dupForwards === 1, got: String(dupForwards) },
    ];
    const timestamp = new Date().toISOString();
    const result = {
      schema: 1, suite: 'hostile', timestamp, machine: machineInfo(), runtime: runtimeInfo(), pinned: pin,
      command: `npm run bench:hostile --${args.quick ? ' --quick' : ''} --slow ${SLOW} --seconds ${SECONDS} --tps ${TPS}`,
      plan, listener: started.listener, memoryBoundBytes: MEMORY_BOUND_BYTES,
      phases: { baseline, attack: underAttack, after },
      ratios: { p50: r2(underAttack.latencyMs.p50 / baseline.latencyMs.p50), p99: r2(underAttack.latencyMs.p99 / baseline.latencyMs.p99) },
      ramp: { seconds: rampSeconds, slowOpen: a.slowOpenNow, switchPeakRssBytes: rampPeak.rssBytes },
      switch: {
        peakRssBytes: peakRss, vmHwmBytes: end.vmHwmBytes, refused: during.refused, closed: during.closed, paused: during.paused,
        duplicates: during.counters.duplicates ?? 0, duplicateForwardsAtIssuer: dupForwards, forwarded: during.counters.forwarded ?? 0,
        frameErrors: during.counters.frame_errors ?? 0, decodeErrors: during.counters.decode_errors ?? 0, cpuUs: during.cpuUs,
        logLines: lines.length, logLinesByEvent: byEvent,
      },
      attackers: attack, timeline, checks,
    };
    const files = writeResult('hostile', timestamp, result, resultsDir(args.record));
    const row = (p: Phase): string => `| ${p.name} | ${p.answered}/${p.sent} | ${p.latencyMs.p50} | ${p.latencyMs.p99} | ${p.latencyMs.max} | ${p.rigLoopDelayMs.p99} | ${mb(p.switchPeakRssBytes)} | ${mb(p.switchPeakHeapUsedBytes)} |`;
    console.log(['| phase | answered | p50 ms | p99 ms | max ms | rig loop p99 ms | switch peak RSS | peak heap |', '|---|---|---|---|---|---|---|---|', row(baseline), row(underAttack), row(after)].join('\n'));
    console.log(`refused ${JSON.stringify(during.refused)}; closed ${JSON.stringify(during.closed)}; duplicates answered ${result.switch.duplicates}, forwarded ${dupForwards}; log lines ${lines.length}`);
    for (const ch of checks) console.log(`${ch.ok ? 'PASS' : 'MISS'} ${ch.what}: ${ch.got}`);
    log(`wrote ${files.file}`);
    rmSync(dir, { recursive: true, force: true });
    await issuer.close();
    return checks.every((ch) => ch.ok) ? 0 : 1;
  } finally {
    if (attacker) await attacker.close(2000);
    await target.close(2000);
  }
}

main().then((code) => process.exit(code), (e: unknown) => {
  log(e instanceof Error ? e.stack ?? e.message : String(e));
  process.exit(1);
});
