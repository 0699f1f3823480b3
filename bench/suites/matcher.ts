/**
 * The in-flight matcher (switch/matcher): track+resolve throughput with 10k, 100k and 1M
 * requests in flight, expiry bursts of 100k and 1M deadlines in one tick, and heap bytes
 * per in-flight entry at 1M. The baseline, in the same run, is what a switch without a
 * wheel would do: a plain Map plus a setTimeout/clearTimeout per request.
 *
 * Throughput ("pairs/s"): N requests are tracked first; then each timed operation tracks
 * a new key and resolves the oldest, so N stay in flight and every key lives through N
 * operations, as requests do in a busy switch. Keys are integers counting up, like the
 * switch's own upstream STANs; one extra row at 1M uses scattered integer keys and one at
 * 100k uses string keys (terminal + STAN + date), to show what the key shape costs.
 * Every request has a 30 s timeout and the same value object (the caller's per-request
 * context exists anyway and is not the matcher's cost); one row at 1M allocates a new
 * value per request, as the switch does, so its garbage is in the figure. The matcher's wheel is ticked
 * every 4,096 operations, as its interval would; nothing is due. Cases are measured one
 * at a time, each with only its own table on the heap.
 *
 * Expiry bursts: N entries with deadlines in one tick, then one tick delivers them all
 * (the matcher: advance + drain in slices of 5,000, each slice timed; the baseline: N
 * timers due at once, from the first callback to the last). A full GC runs between the
 * fill and the burst, so the fill's garbage is not charged to the burst. The figure is expiries/s;
 * the notes give the longest matcher slice, i.e. the longest the event loop waits.
 *
 * Heap bytes per entry: heapUsed after a full GC, before and after tracking 1,000,000
 * entries (integer keys, a { stan, attempt } value per entry, so the value's own bytes
 * are included). It needs global.gc: run node with --expose-gc; without it the suite
 * turns the flag on at run time (v8.setFlagsFromString) and says so in a note.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Matcher } from '../../switch/matcher/index.js';
import { check, type CaseResult, type Check, type Suite, type SuiteContext, type SuiteOutput, type TargetSpec } from '../lib/suite.js';
import { caseFilterFromEnv, keptIds, type CaseFilter } from '../lib/options.js';
import { median, measureGroup, type BenchCase, type Measurement } from '../lib/timing.js';

const BASELINE = 'Map+setTimeout';
const IMPL = 'revswitch';
const TIMEOUT_MS = 30_000;
const TARGET_PAIRS = 2_000_000;
const TARGET_BYTES = 250;
const BURST_BATCH = 5_000;
const SIZES: readonly [string, number][] = [['10k', 10_000], ['100k', 100_000], ['1M', 1_000_000]];
const BURSTS: readonly [string, number][] = [['100k', 100_000], ['1M', 1_000_000]];
const MEMORY_N = 1_000_000;

interface Value {
  stan: number;
  attempt: number;
}
const SHARED: Value = { stan: 0, attempt: 0 };

/** The baseline: what a matcher without a wheel looks like. */
class MapTimeout<K, V> {
  private readonly map = new Map<K, { value: V; timer: NodeJS.Timeout }>();
  constructor(private readonly onExpire: (key: K, value: V) => void) {}

  get size(): number {
    return this.map.size;
  }

  track(key: K, value: V, timeoutMs: number): boolean {
    if (this.map.has(key)) return false;
    this.map.set(key, { value, timer: setTimeout(this.expire, timeoutMs, key) });
    return true;
  }

  resolve(key: K): V | undefined {
    const r = this.map.get(key);
    if (r === undefined) return undefined;
    this.map.delete(key);
    clearTimeout(r.timer);
    return r.value;
  }

  /** Cancels every timer, so none keeps the process alive. */
  clear(): void {
    for (const r of this.map.values()) clearTimeout(r.timer);
    this.map.clear();
  }

  private readonly expire = (key: K): void => {
    const r = this.map.get(key);
    if (r === undefined) return;
    this.map.delete(key);
    this.onExpire(key, r.value);
  };
}

type Gc = () => void;

/** global.gc, or turned on at run time; null if neither works. */
function findGc(): { gc: Gc | null; how: string } {
  const g = (globalThis as { gc?: unknown }).gc;
  if (typeof g === 'function') return { gc: g as Gc, how: 'node --expose-gc' };
  try {
    setFlagsFromString('--expose-gc');
    const f: unknown = runInNewContext('gc');
    if (typeof f === 'function') return { gc: f as Gc, how: 'turned on at run time with v8.setFlagsFromString (run node with --expose-gc to avoid it)' };
  } catch {
    // fall through
  }
  return { gc: null, how: 'unavailable' };
}

/** A case measured outside measureGroup (a burst), in the same shape. */
function fromSamples(ratesPerSec: number[], iterations: number, batch: number, sampledMs: number): Omit<Measurement, 'id'> {
  const med = median(ratesPerSec);
  const min = Math.min(...ratesPerSec);
  const max = Math.max(...ratesPerSec);
  return {
    opsPerSec: med, usPerOp: 1e6 / med, sampleOpsPerSec: ratesPerSec, minOpsPerSec: min, maxOpsPerSec: max,
    spreadPct: ((max - min) / med) * 100, iterations, batch, sampledMs,
  };
}

const hrMs = (): number => Number(process.hrtime.bigint()) / 1e6;
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

/** A key space of up to 2^30 integers, scattered: a bijection on [0, 2^30). */
const scatter = (k: number): number => Math.imul(k, 0x9e3779b1) & 0x3fffffff;

interface PairsState {
  fn: () => unknown;
  teardown: () => void;
}

type KeyShape = 'sequential' | 'scattered' | 'string';

function stringKeys(n: number): (k: number) => string {
  // A ring larger than n, so the n keys in flight are always distinct.
  let size = 1;
  while (size <= n) size *= 2;
  const ring: string[] = [];
  for (let i = 0; i < size; i++) ring.push(`T${String(i % 99_991).padStart(7, '0')}:${String(i % 1_000_000).padStart(6, '0')}:1125`);
  const mask = size - 1;
  return (k) => ring[k & mask];
}

function matcherPairs(n: number, shape: KeyShape, fresh = false): PairsState {
  const m = new Matcher<number | string, Value>({ onExpire: () => { throw new Error('nothing should expire during the pairs benchmark'); } });
  const key = shape === 'sequential' ? (k: number) => k : shape === 'scattered' ? scatter : stringKeys(n);
  for (let k = 0; k < n; k++) m.track(key(k), SHARED, TIMEOUT_MS);
  let next = n;
  return {
    fn: () => {
      const k = next++;
      m.track(key(k), fresh ? { stan: k, attempt: 0 } : SHARED, TIMEOUT_MS);
      const v = m.resolve(key(k - n));
      if ((k & 4095) === 0) m.tick();
      return v;
    },
    teardown: () => {
      if (m.size !== n) throw new Error(`matcher: ${m.size} in flight after the run, expected ${n}`);
    },
  };
}

function baselinePairs(n: number, shape: KeyShape, fresh = false): PairsState {
  const b = new MapTimeout<number | string, Value>(() => { throw new Error('nothing should expire during the pairs benchmark'); });
  const key = shape === 'sequential' ? (k: number) => k : shape === 'scattered' ? scatter : stringKeys(n);
  for (let k = 0; k < n; k++) b.track(key(k), SHARED, TIMEOUT_MS);
  let next = n;
  return {
    fn: () => {
      const k = next++;
      b.track(key(k), fresh ? { stan: k, attempt: 0 } : SHARED, TIMEOUT_MS);
      return b.resolve(key(k - n));
    },
    teardown: () => {
      const size = b.size;
      b.clear();
      if (size !== n) throw new Error(`baseline: ${size} in flight after the run, expected ${n}`);
    },
  };
}

/** The matcher pairs every request with its outcome; so does the baseline. */
async function verify(checks: Check[]): Promise<void> {
  let now = 0;
  const expired: number[] = [];
  const m = new Matcher<number, Value>({ now: () => now, onExpire: (k) => expired.push(k) });
  for (let k = 0; k < 1000; k++) m.track(k, { stan: k, attempt: 0 }, 100 + (k % 10));
  check(checks, 'matcher refuses a duplicate', !m.track(5, SHARED, 1), 'track of a key in flight returned true');
  let ok = 0;
  for (let k = 0; k < 1000; k += 2) if (m.resolve(k)?.stan === k) ok++;
  check(checks, 'matcher resolves with the tracked value', ok === 500, `${ok} of 500 resolved to their value`);
  now = 109;
  m.tick();
  check(checks, 'matcher expires the rest at their deadlines', expired.length === 500 && expired.every((k) => k % 2 === 1) && m.size === 0,
    `${expired.length} expired, ${m.size} left`);

  const bExpired: number[] = [];
  const b = new MapTimeout<number, Value>((k) => bExpired.push(k));
  for (let k = 0; k < 1000; k++) b.track(k, { stan: k, attempt: 0 }, 1);
  let bOk = 0;
  for (let k = 0; k < 1000; k += 2) if (b.resolve(k)?.stan === k) bOk++;
  await new Promise<void>((resolve) => setTimeout(resolve, 5));
  await new Promise<void>((resolve) => { const w = () => (bExpired.length >= 500 ? resolve() : setTimeout(w, 1)); w(); });
  check(checks, 'baseline pairs and expires the same way', bOk === 500 && bExpired.length === 500 && b.size === 0, `${bOk} resolved, ${bExpired.length} expired`);
}

function measurePairs(ctx: SuiteContext, gc: Gc | null, cases: CaseResult[], only: CaseFilter | null): void {
  const plan: { id: string; name: string; variant: string; impl: string; baselineId?: string; make: () => PairsState }[] = [];
  for (const [label, n] of SIZES) {
    const base = `pairs/${label}/${BASELINE}`;
    plan.push({ id: `pairs/${label}/${IMPL}`, name: 'track+resolve', variant: label, impl: IMPL, baselineId: base, make: () => matcherPairs(n, 'sequential') });
    plan.push({ id: base, name: 'track+resolve', variant: label, impl: BASELINE, make: () => baselinePairs(n, 'sequential') });
  }
  plan.push({
    id: `pairs/1M/new-value/${IMPL}`, name: 'track+resolve, a new value each', variant: '1M', impl: IMPL,
    baselineId: `pairs/1M/new-value/${BASELINE}`, make: () => matcherPairs(1_000_000, 'sequential', true),
  });
  plan.push({ id: `pairs/1M/new-value/${BASELINE}`, name: 'track+resolve, a new value each', variant: '1M', impl: BASELINE, make: () => baselinePairs(1_000_000, 'sequential', true) });
  plan.push({
    id: `pairs/1M/scattered/${IMPL}`, name: 'track+resolve, scattered int keys', variant: '1M', impl: IMPL,
    baselineId: `pairs/1M/${BASELINE}`, make: () => matcherPairs(1_000_000, 'scattered'),
  });
  plan.push({
    id: `pairs/100k/string/${IMPL}`, name: 'track+resolve, string keys', variant: '100k', impl: IMPL,
    baselineId: `pairs/100k/string/${BASELINE}`, make: () => matcherPairs(100_000, 'string'),
  });
  plan.push({ id: `pairs/100k/string/${BASELINE}`, name: 'track+resolve, string keys', variant: '100k', impl: BASELINE, make: () => baselinePairs(100_000, 'string') });

  const keep = only ? keptIds(plan, only) : null;
  for (const p of plan) {
    if (keep && !keep.has(p.id)) continue;
    ctx.log(`matcher: ${p.id}`);
    gc?.();
    const state = p.make();
    let m: Measurement;
    try {
      const bc: BenchCase = { id: p.id, fn: state.fn };
      [m] = measureGroup([bc], ctx.timing);
    } finally {
      state.teardown();
    }
    const { id: _id, ...rest } = m;
    const c: CaseResult = { id: p.id, name: p.name, variant: p.variant, impl: p.impl, ...rest };
    if (p.baselineId !== undefined) c.baselineId = p.baselineId;
    cases.push(c);
  }
  gc?.();
}

interface BurstResult {
  ms: number;
  maxSliceMs: number;
  medianSliceMs: number;
  slices: number;
}

function matcherBurst(n: number, gc: Gc | null): BurstResult {
  let now = 0;
  let count = 0;
  const m = new Matcher<number, Value>({ now: () => now, batchSize: BURST_BATCH, onExpire: () => { count++; } });
  for (let k = 0; k < n; k++) m.track(k, SHARED, 1000 + (k % 10) / 10);
  gc?.(); // the fill's garbage is not the burst's
  now = 1001;
  const t0 = hrMs();
  m.advance();
  const sliceMs = [hrMs() - t0]; // the advance that queues them all counts as a slice of its own
  for (;;) {
    const s0 = hrMs();
    const got = m.drain(BURST_BATCH);
    const took = hrMs() - s0;
    if (got === 0) break;
    sliceMs.push(took);
  }
  const ms = hrMs() - t0;
  if (count !== n || m.size !== 0) throw new Error(`matcher burst: ${count} of ${n} expired, ${m.size} left`);
  return { ms, maxSliceMs: Math.max(...sliceMs), medianSliceMs: median(sliceMs.slice(1)), slices: sliceMs.length - 1 };
}

async function baselineBurst(n: number, gc: Gc | null): Promise<BurstResult> {
  let count = 0;
  let first = 0;
  let last = 0;
  let done: () => void = () => {};
  const finished = new Promise<void>((resolve) => { done = resolve; });
  const b = new MapTimeout<number, Value>(() => {
    const t = hrMs();
    if (count++ === 0) first = t;
    last = t;
    if (count === n) done();
  });
  // Creating n timers takes longer than 1 ms, so all are due when the loop next runs timers.
  for (let k = 0; k < n; k++) b.track(k, SHARED, 1);
  gc?.();
  await finished;
  if (b.size !== 0) throw new Error(`baseline burst: ${b.size} left`);
  return { ms: last - first, maxSliceMs: last - first, medianSliceMs: last - first, slices: 1 };
}

async function measureBursts(ctx: SuiteContext, gc: Gc | null, cases: CaseResult[], notes: string[], only: CaseFilter | null): Promise<void> {
  const samples = ctx.quick ? 1 : Math.min(ctx.timing.samples, 3);
  for (const [label, n] of BURSTS) {
    if (only && !only.selects(`expire/${label}/${IMPL}`) && !only.selects(`expire/${label}/${BASELINE}`)) continue;
    ctx.log(`matcher: expiry burst ${label} (${samples} samples each)`);
    const mine: BurstResult[] = [];
    const theirs: BurstResult[] = [];
    for (let s = 0; s < samples; s++) {
      gc?.();
      mine.push(matcherBurst(n, gc));
      gc?.();
      theirs.push(await baselineBurst(n, gc));
    }
    const baseId = `expire/${label}/${BASELINE}`;
    const rate = (r: BurstResult) => n / (r.ms / 1000);
    const sum = (rs: BurstResult[]) => rs.reduce((a, r) => a + r.ms, 0);
    cases.push({
      id: `expire/${label}/${IMPL}`, name: 'expiry burst, one tick', variant: label, impl: IMPL, baselineId: baseId,
      ...fromSamples(mine.map(rate), n * samples, BURST_BATCH, sum(mine)),
    });
    cases.push({
      id: baseId, name: 'expiry burst, one tick', variant: label, impl: BASELINE,
      ...fromSamples(theirs.map(rate), n * samples, n, sum(theirs)),
    });
    const medMs = (rs: BurstResult[]) => median(rs.map((r) => r.ms));
    notes.push(`expiry burst ${label}: matcher ${medMs(mine).toFixed(1)} ms in ${mine[0].slices} slices of <= ${fmt(BURST_BATCH)}, ` +
      `median slice ${median(mine.map((r) => r.medianSliceMs)).toFixed(2)} ms, longest ${Math.max(...mine.map((r) => r.maxSliceMs)).toFixed(2)} ms ` +
      '(the longest the event loop waits; GC pauses land in it); ' +
      `${BASELINE} ${medMs(theirs).toFixed(1)} ms, all in one timers phase (the loop waits for all of it)`);
  }
  gc?.();
}

/**
 * Expiries driven by start() on the real clock: how late after its deadline each one was
 * handled. Scattered single deadlines show the tick's share; a burst shows the slices'.
 */
async function measureLateness(ctx: SuiteContext, notes: string[]): Promise<void> {
  const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))];
  const runs: { label: string; n: number; timeout: (k: number) => number }[] = [
    { label: '400 single deadlines spread over 1 s', n: 400, timeout: (k) => 20 + k * 2.5 + (k % 7) * 0.37 },
    { label: '100k deadlines in one tick', n: 100_000, timeout: () => 50 },
  ];
  for (const r of runs) {
    ctx.log(`matcher: lateness, ${r.label}, driven by start()`);
    const late: number[] = [];
    let done: () => void = () => {};
    const finished = new Promise<void>((resolve) => { done = resolve; });
    const m = new Matcher<number, Value>({
      onExpire: (_k, _v, lateMs) => {
        late.push(lateMs);
        if (late.length === r.n) done();
      },
    });
    const keepAlive = setInterval(() => {}, 1000); // the matcher's own interval is unref'd
    m.start();
    const t0 = performance.now();
    for (let k = 0; k < r.n; k++) m.track(k, SHARED, r.timeout(k), t0);
    await finished;
    m.stop();
    clearInterval(keepAlive);
    notes.push(`lateness, deadline to onExpire (real clock, start(), tick ${m.tickMs} ms), ${r.label}: ` +
      `p50 ${pct(late, 50).toFixed(2)} ms, p99 ${pct(late, 99).toFixed(2)} ms, max ${Math.max(...late).toFixed(2)} ms, ${m.stats().slices} slice(s)`);
  }
}

function measureMemory(gc: Gc | null, notes: string[]): { matcher: number; baseline: number; value: number } | null {
  if (gc === null) {
    notes.push('heap bytes per entry NOT MEASURED: global.gc is unavailable; run node --expose-gc dist/bench/run.js matcher');
    return null;
  }
  const heap = () => { gc(); gc(); return process.memoryUsage().heapUsed; };
  const n = MEMORY_N;

  // The value objects alone, for reference (minus the array that holds them).
  let h0 = heap();
  let values: Value[] | null = [];
  for (let k = 0; k < n; k++) values.push({ stan: k, attempt: 0 });
  const value = (heap() - h0) / n - 8;
  if (values.length !== n) throw new Error('memory: values lost');
  values = null;

  h0 = heap();
  let m: Matcher<number, Value> | null = new Matcher<number, Value>({ onExpire: () => {} });
  for (let k = 0; k < n; k++) m.track(k, { stan: k, attempt: 0 }, TIMEOUT_MS);
  const matcher = (heap() - h0) / n;
  if (m.size !== n) throw new Error('memory: matcher lost entries');
  m = null;

  h0 = heap();
  let b: MapTimeout<number, Value> | null = new MapTimeout<number, Value>(() => {});
  for (let k = 0; k < n; k++) b.track(k, { stan: k, attempt: 0 }, TIMEOUT_MS);
  const baseline = (heap() - h0) / n;
  b.clear();
  b = null;
  heap();
  return { matcher, baseline, value };
}

async function run(ctx: SuiteContext): Promise<SuiteOutput> {
  const checks: Check[] = [];
  const notes: string[] = [];
  const cases: CaseResult[] = [];
  const { gc, how } = findGc();
  await verify(checks);

  // BENCH_ONLY (the bench guard): only the selected pairs and burst cases (with their
  // baselines); the heap and lateness figures, which are not cases, are skipped.
  const only = caseFilterFromEnv();
  const mem = only ? null : measureMemory(gc, notes);
  measurePairs(ctx, gc, cases, only);
  await measureBursts(ctx, gc, cases, notes, only);
  if (only) {
    notes.push(`BENCH_ONLY=${only.prefixes.join(',')}: measured ${cases.map((c) => c.id).join(', ') || 'nothing'}; heap per entry and lateness skipped`);
  } else {
    await measureLateness(ctx, notes);
  }

  if (mem !== null) {
    const pass = mem.matcher <= TARGET_BYTES;
    notes.unshift(`target: heap per in-flight entry at ${fmt(MEMORY_N)} (int keys, small value) <= ${TARGET_BYTES} B: ` +
      `got ${mem.matcher.toFixed(1)} B  ${pass ? 'PASS' : 'MISS'}`);
    notes.splice(1, 0, `heap per in-flight entry at ${fmt(MEMORY_N)}: ${IMPL} ${mem.matcher.toFixed(1)} B, ${BASELINE} ${mem.baseline.toFixed(1)} B ` +
      `(${(mem.baseline / mem.matcher).toFixed(1)}x more); both include the { stan, attempt } value, ${mem.value.toFixed(1)} B of it (gc: ${how})`);
  }
  notes.push(`pairs: keys count up (the switch's own STANs) unless the case says otherwise; every request has a ${TIMEOUT_MS / 1000} s timeout; ` +
    'each case is measured alone, with only its own table on the heap');
  notes.push('ops/s of an expiry burst are expiries per second; its baseline is N setTimeout callbacks due at once');

  const declared: TargetSpec[] = [
    { id: 'matcher.pairs.1m', description: 'track+resolve, 1,000,000 in flight', caseId: `pairs/1M/${IMPL}`, metric: 'opsPerSec', min: TARGET_PAIRS, unit: 'pairs/s' },
  ];
  const targets = declared.filter((t) => cases.some((c) => c.id === t.caseId));
  return { cases, targets, checks, notes };
}

export const matcherSuite: Suite = {
  name: 'matcher',
  description: `in-flight matcher and timer wheel against ${BASELINE}`,
  variantLabel: 'in flight',
  baselineName: BASELINE,
  run,
};
