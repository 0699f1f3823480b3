/**
 * Block coverage from V8 itself, through the inspector of the thread the target runs on:
 * Profiler.startPreciseCoverage in binary block mode (detailed, no counts), read and reset
 * by each takePreciseCoverage. That is the signal the engine keeps inputs by, the role
 * libFuzzer's edge counters play for Jazzer.js.
 *
 * V8 reports, per function, the function's range and the nested ranges whose count
 * differs from their parent's: the first time, a block that did not run is listed with
 * count 0 and one that ran is left out; afterwards the function itself reads 0 (binary
 * mode reports it once) and a block that ran is listed with count 1. Either way, a known
 * block ran when the innermost reported range holding it has a non-zero count, so blocks
 * are learnt as they are reported and judged that way. Each function and each block is
 * one feature id.
 */
import { Session, type Profiler } from 'node:inspector';

/** The project's own code: codec/, rules/, switch/ (from source under tsx, or from dist/). */
export const PROJECT_CODE = /^file:\/\/.*\/(?:dist\/)?(?:codec|rules|switch)\/[^?#]*\.[jt]s$/;

interface Blocks {
  readonly id: number;
  /** Known blocks: start, end and feature id, in parallel arrays. */
  readonly starts: number[];
  readonly ends: number[];
  readonly ids: number[];
  readonly index: Map<number, number>;
}

/**
 * One inspector session per thread, started once and never stopped: once precise coverage
 * is stopped, V8 does not instrument again the functions it has compiled meanwhile, so a
 * second start would see nothing of them.
 */
let shared: Session | null = null;

function session(): Session {
  if (shared === null) {
    const s = new Session();
    s.connect();
    post(s, 'Profiler.enable');
    post(s, 'Profiler.startPreciseCoverage', { callCount: false, detailed: true });
    shared = s;
  }
  return shared;
}

function post(s: Session, method: string, params: object = {}): void {
  let failure: Error | null = null;
  s.post(method, params, (err) => {
    failure = err;
  });
  if (failure !== null) throw failure;
}

/** Feature ids for one engine; the blocks any code of the thread ran since the last take. */
export class Coverage {
  private readonly scripts = new Map<string, boolean>();
  private readonly functions = new Map<string, Blocks>();
  private nextId = 0;

  constructor(private readonly include: RegExp = PROJECT_CODE) {}

  /** Starts coverage for the thread (once) and drops what ran before this call. */
  start(): void {
    this.take();
  }

  /** Feature ids known so far (a block becomes known once V8 has reported it). */
  get known(): number {
    return this.nextId;
  }

  /** Appends to `out` the feature id of every function and block run since the last call. */
  collect(out: number[]): void {
    const result = this.take();
    for (const script of result) {
      let mine = this.scripts.get(script.scriptId);
      if (mine === undefined) {
        mine = this.include.test(script.url);
        this.scripts.set(script.scriptId, mine);
      }
      if (!mine) continue;
      for (const fn of script.functions) this.function(script.url, fn.ranges, out);
    }
  }

  private function(url: string, ranges: Profiler.CoverageRange[], out: number[]): void {
    if (ranges.length === 0) return;
    const head = ranges[0];
    const key = `${url}#${head.startOffset}:${head.endOffset}`;
    let b = this.functions.get(key);
    if (b === undefined) {
      b = { id: this.nextId++, starts: [], ends: [], ids: [], index: new Map() };
      this.functions.set(key, b);
    }
    // Binary mode reports a function's own count once per isolate, then 0: its blocks still
    // count, as ranges whose count differs from that 0.
    if (head.count > 0) out.push(b.id);
    for (let i = 1; i < ranges.length; i++) {
      const r = ranges[i];
      // Offsets are below 2^26 in any source file we have, so the pair fits one number.
      const k = r.startOffset * 0x4000000 + r.endOffset;
      if (b.index.has(k)) continue;
      b.index.set(k, b.ids.length);
      b.starts.push(r.startOffset);
      b.ends.push(r.endOffset);
      b.ids.push(this.nextId++);
    }
    for (let j = 0; j < b.ids.length; j++) {
      const s = b.starts[j];
      const e = b.ends[j];
      let count = head.count;
      let span = Infinity;
      for (let i = 1; i < ranges.length; i++) {
        const r = ranges[i];
        if (r.startOffset <= s && e <= r.endOffset && r.endOffset - r.startOffset < span) {
          span = r.endOffset - r.startOffset;
          count = r.count;
        }
      }
      if (count > 0) out.push(b.ids[j]);
    }
  }

  private take(): Profiler.ScriptCoverage[] {
    let out: Profiler.ScriptCoverage[] = [];
    // The in-thread session answers synchronously, inside post().
    session().post('Profiler.takePreciseCoverage', (err, r) => {
      if (err) throw err;
      out = r.result;
    });
    return out;
  }
}
