/**
 * The bench guard: `npm run bench:guard` (= build, then `node dist/bench/guard.js`).
 *
 * Runs short versions of the suites that bench/budgets.json names, each in a fresh
 * process (`run.js SUITE`, with the suite's args and env from the budgets file, result
 * files to a temporary directory), `repeats` times; reads each guarded figure from the
 * suite's result JSON at the budget's path; takes the median over the runs; compares it
 * with the budget. Every guarded figure is a ratio to a baseline measured in the same
 * run (never an absolute time), so a slower or busier machine does not fail the guard by
 * itself.
 *
 * Prints one line per figure (PASS/FAIL, id, value, budget, the runs), writes
 * guard-latest.json (bench/out/, or bench/results/ with --record), and exits 0 when every figure passed, 1 when one did
 * not (or its suite crashed, or a check its figure relies on failed), 2 on a broken
 * budgets file or a usage error.
 *
 *   node dist/bench/guard.js [--only PREFIX[,PREFIX]] [--budgets FILE] [--repeats N] [--record | --no-write]
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gitCommit, machineInfo, repoRoot, runtimeInfo } from './lib/machine.js';
import { resultsDir } from './lib/results.js';
import { median } from './lib/timing.js';

const HERE = dirname(fileURLToPath(import.meta.url));
/** Run from dist/ (compiled) or through tsx (bench/guard.ts): the suites run the same way. */
const RUNNER: string[] = import.meta.url.endsWith('.ts') ? ['--import=tsx', join(HERE, 'run.ts')] : [join(HERE, 'run.js')];

// ---------------------------------------------------------------- budgets file

type Op = '>=' | '<=';

interface Budget {
  id: string;
  suite: string;
  /** Where the figure is in the suite's result JSON, e.g. cases[id=decode/0200/iso87a/revswitch].ratioVsBaseline */
  path: string;
  op: Op;
  value: number;
  /** The issue's ideal, where the budget is looser than it; informational. */
  target?: number;
  unit?: string;
  note: string;
  /** Names (prefixes) of the suite's checks this figure relies on; default: every check. */
  checks?: string[];
}

interface SuiteRun {
  args: string[];
  env: Record<string, string>;
  repeats: number;
  timeoutSeconds: number;
  note?: string;
}

interface BudgetsFile {
  budgets: Budget[];
  suites: Record<string, SuiteRun>;
}

class BudgetsError extends Error {
  override readonly name = 'BudgetsError';
}

type Segment = { key: string } | { select: string; equals: string };

/** `a.b[id=x/y].c` -> segments; throws on anything else. */
function parsePath(path: string): Segment[] {
  const segs: Segment[] = [];
  const re = /\.?([A-Za-z_$][\w$]*)|\[([A-Za-z_$][\w$]*)=([^\]]+)\]/y;
  let at = 0;
  while (at < path.length) {
    re.lastIndex = at;
    const m = re.exec(path);
    if (!m || (segs.length === 0 && (m[1] === undefined || path[at] === '.'))) {
      throw new Error(`cannot parse at character ${at + 1} ("${path.slice(at, at + 20)}"); expected name(.name | [key=value])*`);
    }
    segs.push(m[1] !== undefined ? { key: m[1] } : { select: m[2], equals: m[3] });
    at = re.lastIndex;
  }
  if (segs.length === 0) throw new Error('empty path');
  return segs;
}

/** The value at `path` in a result object, or a reason it is not there. */
function lookup(root: unknown, path: string): { value: number } | { missing: string } {
  let cur: unknown = root;
  let where = '';
  for (const s of parsePath(path)) {
    if ('key' in s) {
      if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) return { missing: `${where || 'the result'} is not an object` };
      cur = (cur as Record<string, unknown>)[s.key];
      where += (where ? '.' : '') + s.key;
    } else {
      if (!Array.isArray(cur)) return { missing: `${where} is not an array` };
      const hit: unknown = cur.find((x: unknown) => x !== null && typeof x === 'object' && String((x as Record<string, unknown>)[s.select]) === s.equals);
      where += `[${s.select}=${s.equals}]`;
      if (hit === undefined) return { missing: `no element ${where}` };
      cur = hit;
    }
    if (cur === undefined) return { missing: `${where} is not in the result` };
  }
  return typeof cur === 'number' && Number.isFinite(cur) ? { value: cur } : { missing: `${where} is ${cur === null ? 'null' : typeof cur}, not a number` };
}

function isObject(x: unknown): x is Record<string, unknown> {
  return x !== null && typeof x === 'object' && !Array.isArray(x);
}

/** Parses and validates the budgets file; every problem is a BudgetsError naming the file and the JSON path. */
function loadBudgets(file: string): BudgetsFile {
  const fail = (where: string, why: string): never => { throw new BudgetsError(`${file}: ${where}: ${why}`); };
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    return fail('(file)', e instanceof Error ? e.message : String(e));
  }
  if (!isObject(raw)) return fail('(top level)', 'expected an object with "suites" and "budgets"');

  if (!isObject(raw.suites)) return fail('suites', 'expected an object: suite name -> { args, env, repeats, timeoutSeconds }');
  const suites: Record<string, SuiteRun> = {};
  for (const [name, v] of Object.entries(raw.suites)) {
    const at = `suites.${name}`;
    if (!/^[a-z][a-z0-9-]*$/.test(name)) fail(at, 'a suite name is lower case letters, digits and dashes');
    if (!isObject(v)) return fail(at, 'expected an object');
    const args = v.args ?? [];
    if (!Array.isArray(args) || !args.every((a) => typeof a === 'string' && a.startsWith('--'))) fail(`${at}.args`, 'expected an array of --options for run.js');
    if ((args as string[]).some((a) => a === '--no-write' || a === '--list')) fail(`${at}.args`, '--no-write and --list leave nothing to read');
    const env = v.env ?? {};
    if (!isObject(env) || !Object.values(env).every((x) => typeof x === 'string')) fail(`${at}.env`, 'expected an object of strings');
    const repeats = v.repeats;
    if (typeof repeats !== 'number' || !Number.isInteger(repeats) || repeats < 1 || repeats > 15) fail(`${at}.repeats`, 'expected an integer from 1 to 15');
    const timeout = v.timeoutSeconds;
    if (typeof timeout !== 'number' || !(timeout > 0)) fail(`${at}.timeoutSeconds`, 'expected a positive number');
    if (v.note !== undefined && typeof v.note !== 'string') fail(`${at}.note`, 'expected a string');
    suites[name] = {
      args: args as string[], env: env as Record<string, string>, repeats: repeats as number, timeoutSeconds: timeout as number,
      ...(typeof v.note === 'string' ? { note: v.note } : {}),
    };
  }

  if (!Array.isArray(raw.budgets) || raw.budgets.length === 0) return fail('budgets', 'expected a non-empty array');
  const seen = new Set<string>();
  const budgets = raw.budgets.map((b: unknown, i: number): Budget => {
    const at = `budgets[${i}]`;
    if (!isObject(b)) return fail(at, 'expected an object');
    const id = b.id;
    if (typeof id !== 'string' || !/^[A-Za-z0-9][\w.-]*$/.test(id)) return fail(`${at}.id`, 'expected an id of letters, digits, ".", "_" and "-"');
    const here = `${at} (${id})`;
    if (seen.has(id)) fail(`${here}.id`, 'duplicate id');
    seen.add(id);
    if (typeof b.suite !== 'string' || !(b.suite in suites)) fail(`${here}.suite`, `expected one of the suites configured under "suites" (${Object.keys(suites).join(', ') || 'none'})`);
    if (typeof b.path !== 'string') return fail(`${here}.path`, 'expected a string');
    try {
      parsePath(b.path);
    } catch (e) {
      fail(`${here}.path`, (e as Error).message);
    }
    if (b.op !== '>=' && b.op !== '<=') fail(`${here}.op`, 'expected ">=" or "<="');
    if (typeof b.value !== 'number' || !Number.isFinite(b.value)) fail(`${here}.value`, 'expected a number');
    if (b.target !== undefined && (typeof b.target !== 'number' || !Number.isFinite(b.target))) fail(`${here}.target`, 'expected a number');
    if (b.unit !== undefined && typeof b.unit !== 'string') fail(`${here}.unit`, 'expected a string');
    if (typeof b.note !== 'string' || b.note.trim() === '') fail(`${here}.note`, 'every budget says where its value comes from');
    if (b.checks !== undefined && (!Array.isArray(b.checks) || !b.checks.every((c) => typeof c === 'string'))) fail(`${here}.checks`, 'expected an array of check-name prefixes');
    return {
      id, suite: b.suite as string, path: b.path, op: b.op as Op, value: b.value as number, note: b.note as string,
      ...(b.target !== undefined ? { target: b.target as number } : {}),
      ...(b.unit !== undefined ? { unit: b.unit as string } : {}),
      ...(b.checks !== undefined ? { checks: b.checks as string[] } : {}),
    };
  });
  return { budgets, suites };
}

// ---------------------------------------------------------------- running the suites

interface RunOutcome {
  suite: string;
  repeat: number;
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  seconds: number;
  /** The suite's result record, or null when it wrote none (it crashed). */
  result: Record<string, unknown> | null;
  stderrTail: string;
}

/**
 * The guard's runs are its own: the budgets file says how long to measure, so the BENCH_*
 * timing and selection variables of the calling shell are dropped (the suite's env may set
 * them). Everything else passes through, REVSWITCH_BENCH_SLOWDOWN_US and BENCH_E2E_* included.
 */
const OWN_VARS = ['BENCH_SECONDS', 'BENCH_SAMPLES', 'BENCH_WARMUP_SECONDS', 'BENCH_ONLY', 'BENCH_RESULTS_DIR'];

function suiteEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out = { ...env };
  for (const k of OWN_VARS) delete out[k];
  return out;
}

/** The suite run in progress: its process group is ended if the guard is interrupted. */
let running: number | null = null;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    if (running !== null) {
      try { process.kill(-running, 'SIGKILL'); } catch { /* already gone */ }
    }
    process.exit(130);
  });
}

function runSuite(name: string, cfg: SuiteRun, repeat: number, dir: string): Promise<RunOutcome> {
  const outDir = join(dir, `${name}-${repeat}`);
  mkdirSync(outDir, { recursive: true });
  const t0 = performance.now();
  return new Promise((resolve) => {
    // Detached: its own process group, so a timeout ends the suite's children too.
    const child = spawn(process.execPath, [...RUNNER, ...cfg.args, name], {
      cwd: repoRoot(),
      env: { ...suiteEnv(process.env), ...cfg.env, BENCH_RESULTS_DIR: outDir },
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
    });
    running = child.pid ?? null;
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => { stderr = (stderr + d).slice(-20_000); });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try { process.kill(-(child.pid as number), 'SIGKILL'); } catch { /* already gone */ }
    }, cfg.timeoutSeconds * 1000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      running = null;
      let result: Record<string, unknown> | null = null;
      try {
        result = JSON.parse(readFileSync(join(outDir, `${name}-latest.json`), 'utf8')) as Record<string, unknown>;
      } catch {
        result = null;
      }
      const tail = stderr.trim().split('\n').slice(-6).join('\n');
      resolve({ suite: name, repeat, exitCode: code, signal, timedOut, seconds: (performance.now() - t0) / 1000, result, stderrTail: tail });
    });
  });
}

/** The suite names run.js knows (`run.js --list`), or null if it cannot say. */
function knownSuites(): string[] | null {
  const r = spawnSync(process.execPath, [...RUNNER, '--list'], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) return null;
  return r.stdout.split('\n').map((l) => l.split(/\s+/)[0]).filter((n) => n !== '');
}

// ---------------------------------------------------------------- judging

interface Check { name: string; ok: boolean; detail: string }

interface FigureRun {
  repeat: number;
  value: number | null;
  /** Why this run gives no value (crash, missing figure, a failed check it relies on). */
  invalid?: string;
  /** The run wrote a result, but the budget's path is not in it: the budget is broken. */
  pathMissing?: boolean;
}

interface Figure {
  id: string;
  suite: string;
  path: string;
  op: Op;
  budget: number;
  target: number | null;
  unit: string;
  value: number | null;
  runs: FigureRun[];
  pass: boolean;
  reason: string | null;
  /** Every run wrote a result without the budget's path in it: a broken budget (exit 2). */
  brokenPath: boolean;
  note: string;
}

function failedChecks(result: Record<string, unknown>): Check[] {
  const cs = Array.isArray(result.checks) ? (result.checks as Check[]) : [];
  return cs.filter((c) => c && c.ok === false);
}

function figureRun(b: Budget, o: RunOutcome): FigureRun {
  if (o.result === null) {
    const why = o.timedOut ? `timed out after ${o.seconds.toFixed(0)} s` : `exit ${o.exitCode ?? o.signal}, no result file`;
    return { repeat: o.repeat, value: null, invalid: `suite run ${o.repeat} gave no result (${why}): ${o.stderrTail.split('\n').pop() ?? ''}` };
  }
  const failed = failedChecks(o.result).filter((c) => b.checks === undefined || b.checks.some((p) => c.name.startsWith(p)));
  if (failed.length > 0) {
    return { repeat: o.repeat, value: null, invalid: `run ${o.repeat}: check failed: ${failed[0].name}: ${failed[0].detail}` };
  }
  const got = lookup(o.result, b.path);
  if ('missing' in got) return { repeat: o.repeat, value: null, invalid: `run ${o.repeat}: ${got.missing}`, pathMissing: true };
  return { repeat: o.repeat, value: got.value };
}

function judge(b: Budget, outcomes: readonly RunOutcome[]): Figure {
  const runs = outcomes.filter((o) => o.suite === b.suite).map((o) => figureRun(b, o));
  const bad = runs.find((r) => r.invalid !== undefined);
  const values = runs.map((r) => r.value).filter((v): v is number => v !== null);
  const value = bad || values.length === 0 ? null : median(values);
  const pass = value !== null && (b.op === '>=' ? value >= b.value : value <= b.value);
  return {
    id: b.id, suite: b.suite, path: b.path, op: b.op, budget: b.value, target: b.target ?? null, unit: b.unit ?? '',
    value, runs, pass,
    reason: bad?.invalid ?? (values.length === 0 ? 'no run' : null),
    brokenPath: runs.length > 0 && runs.every((r) => r.pathMissing === true),
    note: b.note,
  };
}

function fmt(v: number | null): string {
  if (v === null) return 'n/a';
  const a = Math.abs(v);
  return a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : v.toFixed(2);
}

function figureLine(f: Figure, idWidth = 0): string {
  const u = f.unit;
  const runs = f.runs.length > 1 ? `  median of ${f.runs.length}: ${f.runs.map((r) => fmt(r.value) + u).join(' ')}` : f.runs.length === 1 ? '  1 run' : '';
  const target = f.target !== null && f.target !== f.budget ? `  (target ${f.op} ${fmt(f.target)}${u})` : '';
  return `${f.pass ? 'PASS' : 'FAIL'}  ${f.id.padEnd(idWidth)}  ${(fmt(f.value) + u).padStart(8)}  budget ${f.op} ${fmt(f.budget)}${u}${runs}${target}` +
    (f.reason ? `\n      ${f.reason}` : '');
}

// ---------------------------------------------------------------- main

class UsageError extends Error {}

function displayPath(p: string): string {
  const r = relative(process.cwd(), p);
  return r === '' || r.startsWith('..') ? p : r;
}

interface Args {
  only: string[];
  budgetsFile: string;
  repeats: number | null;
  write: boolean;
  record: boolean;
}

const USAGE = `usage: node dist/bench/guard.js [--only PREFIX[,PREFIX...]] [--budgets FILE] [--repeats N] [--record | --no-write]
  --only      guard only the budgets whose id starts with PREFIX (runs only their suites)
  --budgets   the budgets file (default bench/budgets.json)
  --repeats   runs per suite, overriding the budgets file (the median is guarded)
  --record    write guard-latest.json to bench/results/ (committed); without it, to bench/out/ (ignored)
  --no-write  write no guard-latest.json
exit status: 0 every figure within budget, 1 a figure failed, 2 a broken budgets file or usage error`;

function parseArgs(argv: string[]): Args {
  const a: Args = { only: [], budgetsFile: join(repoRoot(), 'bench', 'budgets.json'), repeats: null, write: true, record: false };
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${x} needs a value`);
      return v;
    };
    if (x === '--only') a.only.push(...value().split(',').map((s) => s.trim()).filter((s) => s !== ''));
    else if (x === '--budgets') a.budgetsFile = value();
    else if (x === '--repeats') {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 1) throw new UsageError('--repeats needs a positive integer');
      a.repeats = n;
    } else if (x === '--no-write') a.write = false;
    else if (x === '--record') a.record = true;
    else if (x === '--help' || x === '-h') { console.log(USAGE); process.exit(0); }
    else throw new UsageError(`unknown argument ${x}`);
  }
  if (a.record && !a.write) throw new UsageError('--record and --no-write contradict each other');
  return a;
}

function writeAtomic(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = path.replace(/\.json$/, '') + `.${process.pid}.tmp.json`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

async function main(): Promise<number> {
  const started = performance.now();
  const log = (line: string): void => { process.stderr.write(line + '\n'); };
  let args: Args;
  let file: BudgetsFile;
  try {
    args = parseArgs(process.argv.slice(2));
    file = loadBudgets(args.budgetsFile);
  } catch (e) {
    if (e instanceof BudgetsError) { console.error(`bench guard: broken budgets file: ${e.message}`); return 2; }
    if (e instanceof UsageError) { console.error(`bench guard: ${e.message}\n${USAGE}`); return 2; }
    throw e;
  }
  const budgets = args.only.length === 0 ? file.budgets : file.budgets.filter((b) => args.only.some((p) => b.id.startsWith(p)));
  if (budgets.length === 0) {
    console.error(`bench guard: --only ${args.only.join(',')} matches no budget in ${args.budgetsFile} (ids: ${file.budgets.map((b) => b.id).join(', ')})`);
    return 2;
  }
  const suiteNames = Object.keys(file.suites).filter((s) => budgets.some((b) => b.suite === s));
  const known = knownSuites();
  const unknown = known === null ? [] : suiteNames.filter((s) => !known.includes(s));
  if (unknown.length > 0) {
    console.error(`bench guard: broken budgets file: ${args.budgetsFile}: suites.${unknown[0]}: run.js has no such suite (it has ${known?.join(', ')})`);
    return 2;
  }

  const commit = gitCommit();
  log(`bench guard: ${budgets.length} figure(s) from ${displayPath(args.budgetsFile)}; suites ${suiteNames
    .map((s) => `${s} x${args.repeats ?? file.suites[s].repeats}`).join(', ')}; commit ${commit}`);
  if (process.env.REVSWITCH_BENCH_SLOWDOWN_US) log(`bench guard: REVSWITCH_BENCH_SLOWDOWN_US=${process.env.REVSWITCH_BENCH_SLOWDOWN_US}: the codec suite's revswitch decode is slowed down on purpose (bench/lib/slowdown.ts)`);

  const tmp = mkdtempSync(join(tmpdir(), 'revswitch-guard-'));
  const outcomes: RunOutcome[] = [];
  const warnings: string[] = [];
  try {
    for (const name of suiteNames) {
      const cfg = file.suites[name];
      const repeats = args.repeats ?? cfg.repeats;
      for (let r = 1; r <= repeats; r++) {
        const o = await runSuite(name, cfg, r, tmp);
        outcomes.push(o);
        log(`bench guard: ${name} run ${r}/${repeats}: ${o.seconds.toFixed(1)} s, exit ${o.exitCode ?? o.signal}${o.timedOut ? ' (timed out)' : ''}${o.result ? '' : ', NO RESULT'}`);
        if (o.result) {
          for (const c of failedChecks(o.result)) warnings.push(`${name} run ${r}: failed check: ${c.name}: ${c.detail}`);
          const notes = Array.isArray(o.result.notes) ? (o.result.notes as unknown[]) : [];
          for (const n of notes) if (typeof n === 'string' && n.startsWith('DISTURBED')) warnings.push(`${name} run ${r}: ${n}`);
        } else {
          warnings.push(`${name} run ${r}: no result file (${o.timedOut ? 'timed out' : `exit ${o.exitCode ?? o.signal}`}); stderr ends:\n${o.stderrTail}`);
        }
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }

  const figures = budgets.map((b) => judge(b, outcomes));
  const width = Math.max(...figures.map((f) => f.id.length));
  const seconds = (performance.now() - started) / 1000;
  const failed = figures.filter((f) => !f.pass);
  console.log('');
  for (const f of figures) console.log(figureLine(f, width));
  for (const w of warnings) console.log(`warning: ${w}`);
  console.log(`\nbench guard: ${failed.length === 0 ? 'PASS' : 'FAIL'}, ${figures.length - failed.length} of ${figures.length} figures within budget, ${seconds.toFixed(0)} s`);

  if (args.write) {
    const record = {
      schema: 1,
      suite: 'guard',
      timestamp: new Date().toISOString(),
      machine: machineInfo(),
      node: process.version,
      runtime: runtimeInfo(),
      git: { commit },
      budgetsFile: relative(repoRoot(), args.budgetsFile),
      only: args.only,
      slowdownUs: process.env.REVSWITCH_BENCH_SLOWDOWN_US ?? null,
      seconds: Math.round(seconds * 10) / 10,
      pass: failed.length === 0,
      figures,
      runs: outcomes.map((o) => ({
        suite: o.suite, repeat: o.repeat, seconds: Math.round(o.seconds * 10) / 10, exitCode: o.exitCode, signal: o.signal,
        timedOut: o.timedOut, wroteResult: o.result !== null, options: o.result?.options ?? null,
      })),
      warnings,
    };
    const path = join(resultsDir(args.record), 'guard-latest.json');
    writeAtomic(path, JSON.stringify(record, null, 2) + '\n');
    console.log(`wrote ${path}`);
  }
  const broken = figures.filter((f) => f.brokenPath);
  for (const f of broken) {
    const i = file.budgets.findIndex((b) => b.id === f.id);
    console.error(`bench guard: broken budgets file: ${args.budgetsFile}: budgets[${i}] (${f.id}).path: ${f.path}: not in the ${f.suite} result (${f.reason ?? ''})`);
  }
  if (broken.length > 0) return 2;
  return failed.length === 0 ? 0 : 1;
}

main().then(
  (code) => { process.exitCode = code; },
  (e: unknown) => {
    console.error(e instanceof Error ? e.stack : e);
    process.exitCode = 1;
  },
);
