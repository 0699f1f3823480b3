/**
 * Reconciliation at scale (issue 17: "a business day of 5 million records reconciles in
 * under 60 s, in bounded memory"): `npm run bench:recon -- [--records 1000000,5000000] [--keep]`.
 *
 * For each size N: a SQLite journal of N financial transactions on one business date
 * (approved, declined, timed out with their reversal acknowledged or in manual), written
 * in bulk, and the issuer's settlement file of that day as CSV (sales, reversals), with a
 * few differences of every kind (about 0.1%: dropped, amount changed, duplicated, unknown,
 * reversal not applied, lost reversal). Then, each in a process of its own, sampled for
 * peak RSS (VmHWM from /proc):
 * - **revswitch**: the real CLI, `revswitch reconcile --file ... --store ... --json --limit 0`
 *   (streamed file, journal pages by business date, matching in a scratch SQLite file);
 * - **baseline**: the obvious in-memory hash join of the same inputs (the same file
 *   reader, the same journal pages and the same classifier, but every row in a Map), what
 *   one writes first.
 * Both must find the same counts per class. Prints records/s and peak RSS and writes
 * recon-load-latest.json (bench/out/; bench/results/ with --record).
 */
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resultsDir } from './lib/results.js';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { SqliteStore } from '../switch/store/index.js';
import { createRng } from '../switch/sim/prng.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = join(ROOT, 'dist', 'switch', 'cli', 'main.js');
const BASELINE = join(ROOT, 'dist', 'bench', 'recon-baseline.js');
const DATE = '2026-12-03';
const AT = Date.UTC(2026, 11, 3, 9, 0, 0);
const log = (line: string): void => { process.stderr.write(`recon-load: ${line}\n`); };

const { values: args } = parseArgs({
  options: { records: { type: 'string', default: '1000000' }, keep: { type: 'boolean', default: false }, record: { type: 'boolean', default: false }, 'baseline-max': { type: 'string', default: '1000000' } },
});
const BASELINE_MAX = Number(args['baseline-max']);
const SIZES = String(args.records).split(',').map(Number);

interface Planted { [cls: string]: number }

/** The journal and the file of one day, with `planted` differences counted by class. */
async function fill(dir: string, n: number): Promise<{ store: string; file: string; planted: Planted }> {
  const path = join(dir, 'journal.db');
  const s = new SqliteStore(`sqlite:${path}`, { inline: true });
  await s.open();
  await s.close();
  const db = new Database(path);
  db.pragma('synchronous = OFF');
  const txn = db.prepare(`INSERT INTO txns (id, node, listener, sender, terminal, merchant, acquirer, mti, stan, f7, rrn, amount, currency, pan_masked,
    pan_hash, business_date, upstream, upstream_stan, state, response_code, failure_class, decision, reversal_id, sealed, created_at, updated_at)
    VALUES (?, 'bench', 'pos', ?, ?, 'MERCHANT0000001', '123456', '0200', ?, ?, ?, ?, '978', '476173******0119', NULL, ?, 'issuer', ?, ?, NULL, NULL, NULL, ?, ?, ?, ?)`);
  const rev = db.prepare(`INSERT INTO reversals (id, txn_id, upstream, state, attempts, reason, final_amount, explanation, original, message, sent_stan,
    enqueued_at, due_at, last_error, note, updated_at) VALUES (?, ?, 'issuer', ?, 1, '68', NULL, 'timeout', ?, NULL, NULL, ?, ?, NULL, NULL, ?)`);
  const out = createWriteStream(join(dir, 'settlement.csv'));
  let buf: string[] = ['business_date,rrn,terminal,stan,f7,amount_minor,currency,type'];
  const flush = async (): Promise<void> => {
    if (!out.write(buf.join('\n') + '\n')) await new Promise<void>((r) => out.once('drain', () => r()));
    buf = [];
  };
  const planted: Planted = {};
  const plant = (cls: string): void => { planted[cls] = (planted[cls] ?? 0) + 1; };
  const rng = createRng(17);
  const sealed = (stan: string, f7: string): string => JSON.stringify({ mti: '0200', 7: f7, 11: stan });
  const batch = db.transaction((rows: unknown[][]) => {
    for (const r of rows) txn.run(...r, AT, AT);
  });
  const revs = db.transaction((rows: [string, string, string, string][]) => {
    for (const [id, txnId, state, seal] of rows) rev.run(id, txnId, state, seal, AT, AT, AT);
  });
  let tRows: Parameters<typeof batch>[0] = [];
  let rRows: Parameters<typeof revs>[0] = [];
  for (let i = 0; i < n; i++) {
    const id = `t${String(i).padStart(9, '0')}`;
    const terminal = `T${String(i % 5000).padStart(7, '0')}`;
    const stan = String(i % 1_000_000).padStart(6, '0');
    const p2 = (v: number): string => String(v).padStart(2, '0');
    const f7 = `1203${p2(8 + (Math.floor(i / 3600) % 14))}${p2(Math.floor(i / 60) % 60)}${p2(i % 60)}`;
    const rrn = `R${String(i).padStart(11, '0')}`;
    const amount = rng.int(100, 500_000);
    const r = rng.next();
    let state = 'approved';
    let revState: string | null = null;
    if (r < 0.02) state = 'declined';
    else if (r < 0.04) { state = 'timed_out'; revState = rng.chance(0.05) ? 'manual' : 'acked'; }
    const revId = revState === null ? null : `rev-${id}`;
    tRows.push([id, `00000001/${terminal}`, terminal, stan, f7, rrn, String(amount).padStart(12, '0'), DATE, stan, state, revId, sealed(stan, f7)]);
    if (revId !== null && revState !== null) rRows.push([revId, id, revState, sealed(stan, f7)]);
    const line = (amt: number, type = 'sale'): void => { buf.push(`${DATE},${rrn},${terminal},${stan},${f7},${amt},978,${type}`); };
    const f = rng.next();
    if (state === 'approved') {
      if (f < 0.0002) plant('missing_at_issuer');
      else if (f < 0.0004) { line(amount + 100); plant('amount_mismatch'); } else if (f < 0.0006) { line(amount); line(amount); plant('duplicate_in_file'); } else line(amount);
    } else if (state === 'timed_out') {
      // Posted before the timeout: settled with its reversal when the reversal reached the issuer.
      if (revState === 'manual') { line(amount); plant('posted_but_undone'); } else if (f < 0.01) { line(amount); plant('reversal_not_applied'); } else if (f < 0.5) { line(amount); line(amount, 'reversal'); }
    }
    if (rng.chance(0.0002)) { buf.push(`${DATE},U${String(i).padStart(11, '0')},${terminal},999999,1203235959,4200,978,sale`); plant('unknown_to_switch'); }
    if (tRows.length >= 50_000) { batch(tRows); revs(rRows); tRows = []; rRows = []; await flush(); }
  }
  batch(tRows);
  revs(rRows);
  await flush();
  await new Promise<void>((r) => out.end(r));
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  return { store: `sqlite:${path}`, file: join(dir, 'settlement.csv'), planted };
}

function hwmKb(pid: number): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? 0 : Number(m[1]);
  } catch {
    return 0;
  }
}

/** Runs a node script, sampling its peak RSS; its stdout is JSON. */
async function measure(script: string, argv: string[]): Promise<{ seconds: number; peakRssMb: number; out: unknown }> {
  const t0 = performance.now();
  const child = spawn(process.execPath, ['--max-old-space-size=8192', script, ...argv], { stdio: ['ignore', 'pipe', 'inherit'] });
  let peak = 0;
  const timer = setInterval(() => { peak = Math.max(peak, hwmKb(child.pid ?? 0)); }, 50);
  const chunks: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => { chunks.push(c); peak = Math.max(peak, hwmKb(child.pid ?? 0)); });
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  clearInterval(timer);
  const seconds = (performance.now() - t0) / 1000;
  if (code !== 0) throw new Error(`${script} exited ${code}`);
  return { seconds, peakRssMb: Math.round(peak / 1024), out: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown };
}

type Totals = { cls: string; journalRows: number; fileRecords: number }[];
const byClass = (t: Totals): Record<string, number> => {
  const o: Record<string, number> = {};
  for (const x of t) if (x.cls !== 'matched') o[x.cls] = (o[x.cls] ?? 0) + Math.max(x.journalRows, x.cls === 'duplicate_in_file' || x.cls === 'unknown_to_switch' ? x.fileRecords : 0);
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)));
};

const results: unknown[] = [];
for (const n of SIZES) {
  const dir = mkdtempSync(join(tmpdir(), 'revswitch-recon-bench-'));
  try {
    log(`filling ${n} journal rows and their settlement file in ${dir}`);
    const t0 = performance.now();
    const { store, file, planted } = await fill(dir, n);
    log(`filled in ${((performance.now() - t0) / 1000).toFixed(1)} s; planted ${JSON.stringify(planted)}`);
    const ours = await measure(CLI, ['reconcile', '--file', file, '--store', store, '--date', DATE, '--upstream', 'issuer', '--json', '--limit', '0']);
    const o = ours.out as { records: number; journalRows: number; totals: Totals; phasesMs: Record<string, number> };
    // The in-memory baseline needs about 3.7 GB per million records: past --baseline-max it is left out.
    const base = n <= BASELINE_MAX ? await measure(BASELINE, [file, store, DATE]) : null;
    const b = base === null ? null : base.out as { records: number; totals: Totals };
    const row = {
      journalRows: o.journalRows, records: o.records,
      revswitch: { seconds: +ours.seconds.toFixed(2), recordsPerSecond: Math.round(o.records / ours.seconds), peakRssMb: ours.peakRssMb, phasesMs: o.phasesMs, found: byClass(o.totals) },
      baseline: base === null || b === null ? null
        : { seconds: +base.seconds.toFixed(2), recordsPerSecond: Math.round(b.records / base.seconds), peakRssMb: base.peakRssMb, found: byClass(b.totals) },
      planted,
    };
    const same = row.baseline === null ? null : JSON.stringify(row.revswitch.found) === JSON.stringify(row.baseline.found);
    const asPlanted = JSON.stringify(row.revswitch.found) === JSON.stringify(Object.fromEntries(Object.entries(planted).sort(([x], [y]) => (x < y ? -1 : 1))));
    log(`${n}: revswitch ${row.revswitch.seconds} s (${row.revswitch.recordsPerSecond} records/s, peak RSS ${row.revswitch.peakRssMb} MB); ` +
      (row.baseline === null ? 'baseline not run (--baseline-max)' : `baseline ${row.baseline.seconds} s (${row.baseline.recordsPerSecond}/s, ${row.baseline.peakRssMb} MB); same classes: ${same}`));
    log(`found ${JSON.stringify(row.revswitch.found)} (as planted: ${asPlanted}); phases ${JSON.stringify(o.phasesMs)}`);
    results.push({ ...row, foundAsPlanted: asPlanted, sameClassesAsBaseline: same });
  } finally {
    if (args.keep) log(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}
const outDir = resultsDir(args.record);
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, 'recon-load-latest.json'), JSON.stringify({ at: new Date().toISOString(), command: `npm run bench:recon -- --records ${SIZES.join(',')}`, results }, null, 2) + '\n');
process.stdout.write(JSON.stringify(results, null, 2) + '\n');
