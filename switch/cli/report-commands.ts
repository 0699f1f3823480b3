/**
 * `revswitch report`: the exception report of a window (text for the morning check, CSV
 * for a spreadsheet, JSON for a program); `revswitch txn`: the evidence for one
 * transaction. Both read the store while the switch runs (SQLite in WAL mode).
 */
import { formatCandidatesText, formatEvidenceText, lookupTxn, type EvidenceQuery } from '../reports/evidence.js';
import { formatCsv, formatText } from '../reports/format-report.js';
import { DEFAULT_PENDING_MS, gatherReport, ReportLimitError, reportQuery } from '../reports/report.js';
import { parseDuration, parseTime } from '../reports/time.js';
import type { Command } from 'commander';
import { CommandError, UsageError } from './args.js';
import { examples, flag, jsonOption, runs, storeOptions, type Parsed } from './kit.js';
import { storeOf, withStore } from './store-arg.js';

export const REPORT_USAGE =
  'revswitch report [--since T] [--until T] [--format text|csv|json | --json] [--pending-older-than DURATION] [--top N] [--limit N]\n' +
  '                [--store URL | --config FILE]   (T: ISO 8601, or an age like 24h, 7d; default today 00:00 UTC .. now;\n' +
  '                the window at most admin.reportMaxDays, 31 by default)';
export const TXN_USAGE =
  'revswitch txn --rrn R | --terminal T --stan S | --id ID [--date YYYY-MM-DD] [--format text|json | --json] [--store URL | --config FILE]';

/** parseTime / parseDuration with a usage error naming the flag. */
function timeFlag(v: string, now: number, what: string): number {
  try {
    return parseTime(v, now);
  } catch (e) {
    throw new UsageError(`${what}: ${(e as Error).message}`);
  }
}


/** --format, or --json (its shorthand); the first allowed format by default. */
function format<T extends string>(p: Parsed, allowed: readonly T[]): T {
  const given = flag(p, 'format');
  if (p.flags.has('json') && given !== undefined && given !== 'json') throw new UsageError(`--json and --format ${given}: give one`);
  const f = p.flags.has('json') ? 'json' : given ?? allowed[0];
  if (!(allowed as readonly string[]).includes(f)) throw new UsageError(`--format: expected ${allowed.join(', ')}; got ${JSON.stringify(f)}`);
  return f as T;
}

export interface Progress {
  step(what: string): void;
  done(): void;
}

/**
 * A spinner with the current step on stderr, drawn only when stderr is a terminal and
 * only once the work has taken `afterMs`; cleared when done. A SQLite report runs in a
 * worker thread (store/sqlite-report.ts), so the event loop is free to draw meanwhile.
 */
export function progress(label: string, out: NodeJS.WriteStream = process.stderr, afterMs = 1000): Progress {
  let step = '';
  if (!out.isTTY) return { step: () => {}, done: () => {} };
  const t0 = Date.now();
  const frames = ['|', '/', '-', '\\'];
  let i = 0;
  let drawn = false;
  const draw = (): void => {
    if (Date.now() - t0 < afterMs) return;
    drawn = true;
    out.write(`\r\x1b[2K${frames[i++ % frames.length]} ${label}: ${step} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  };
  const timer = setInterval(draw, 100);
  timer.unref();
  return {
    step(what) {
      step = what;
    },
    done() {
      clearInterval(timer);
      if (drawn) out.write('\r\x1b[2K');
    },
  };
}

/** A whole-number flag, or undefined when absent. */
function countFlag(p: Parsed, name: string): number | undefined {
  const v = flag(p, name);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new UsageError(`--${name}: expected a whole number; got ${JSON.stringify(v)}`);
  return Number(v);
}

async function reportCommand(p: Parsed): Promise<string> {
  if (p.positional.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(p.positional[0])}`);
  const now = Date.now();
  const since = timeFlag(flag(p, 'since') ?? 'today', now, '--since');
  const until = timeFlag(flag(p, 'until') ?? 'now', now, '--until');
  if (!(since < until)) throw new UsageError(`--since (${new Date(since).toISOString()}) must be before --until (${new Date(until).toISOString()})`);
  const po = flag(p, 'pending-older-than');
  const pendingOlderThanMs = po === undefined ? DEFAULT_PENDING_MS : parseDuration(po);
  if (pendingOlderThanMs === null) throw new UsageError(`--pending-older-than: expected a duration like 30m, 1h or 2d; got ${JSON.stringify(po)}`);
  const fmt = format(p, ['text', 'csv', 'json'] as const);
  // The same bounds as GET /api/report: a report from the command line reads the switch's store too.
  const opts = { since, until, now, pendingOlderThanMs, top: countFlag(p, 'top'), limit: countFlag(p, 'limit'), maxDays: storeOf(p).config.adminReportMaxDays };
  try {
    reportQuery(opts);
  } catch (e) {
    if (e instanceof ReportLimitError) throw new UsageError(e.message.replace(/^(top|limit):/, '--$1:'));
    throw e;
  }
  const report = await withStore(p, async (s) => {
    const pr = progress('report');
    try {
      return await gatherReport(s, opts, (step) => pr.step(step));
    } finally {
      pr.done();
    }
  });
  if (fmt === 'json') return JSON.stringify(report, null, 2);
  if (fmt === 'csv') return formatCsv(report).replace(/\r\n$/, '');
  return formatText(report).replace(/\n$/, '');
}

async function txnCommand(p: Parsed): Promise<string> {
  if (p.positional.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(p.positional[0])}`);
  const q: EvidenceQuery = { rrn: flag(p, 'rrn'), terminal: flag(p, 'terminal'), stan: flag(p, 'stan'), businessDate: flag(p, 'date'), id: flag(p, 'id') };
  if (q.id !== undefined && (q.rrn ?? q.terminal ?? q.stan ?? q.businessDate) !== undefined) throw new UsageError('--id names one transaction: give it alone');
  if (q.id === undefined && q.rrn === undefined && (q.terminal === undefined || q.stan === undefined)) {
    throw new UsageError('expected --rrn R, or --terminal T and --stan S, or --id ID');
  }
  if (q.stan !== undefined && q.terminal === undefined && q.rrn === undefined) throw new UsageError('--stan needs --terminal (STANs are per terminal)');
  if (q.businessDate !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(q.businessDate)) throw new UsageError(`--date: expected YYYY-MM-DD (the business date); got ${JSON.stringify(q.businessDate)}`);
  const fmt = format(p, ['text', 'json'] as const);
  const found = await withStore(p, (s) => lookupTxn(s, q));
  const what = q.id !== undefined ? `id ${q.id}` : [
    q.rrn && `rrn ${q.rrn}`, q.terminal && `terminal ${q.terminal}`, q.stan && `stan ${q.stan}`, q.businessDate && `business date ${q.businessDate}`,
  ].filter(Boolean).join(', ');
  if (found.found === 'none') throw new CommandError(`no transaction with ${what}`);
  if (found.found === 'many') {
    const out = fmt === 'json' ? JSON.stringify({ candidates: found.candidates }, null, 2) : formatCandidatesText(found.candidates).replace(/\n$/, '');
    throw new CommandError(`${found.candidates.length} transactions match ${what}: narrow it with --date or --terminal, or pick one with --id`, 1, out);
  }
  return fmt === 'json' ? JSON.stringify(found.evidence, null, 2) : formatEvidenceText(found.evidence).replace(/\n$/, '');
}

export function registerReport(parent: Command): Command {
  const cmd = parent.command('report')
    .description('the exception report of a window: declines, timeouts, undos, what waits for a person')
    .option('--since <t>', 'the window\'s start: ISO 8601, or an age like 24h, 7d (default: today 00:00 UTC)')
    .option('--until <t>', 'the window\'s end (default: now); the window is at most admin.reportMaxDays, 31 by default')
    .option('--format <format>', 'text, csv or json (default: text)')
    .option('--pending-older-than <duration>', `pending transactions older than this are listed, e.g. 30m, 1h, 2d (default: ${DEFAULT_PENDING_MS / 60_000}m)`)
    .option('--top <n>', 'rows in each top-N table')
    .option('--limit <n>', 'rows in each list');
  jsonOption(cmd, 'the same as --format json');
  storeOptions(cmd);
  examples(cmd, 'revswitch report --config revswitch.json', 'revswitch report --since 7d --format csv --config revswitch.json > week.csv', 'revswitch report --since 2026-12-01 --until 2026-12-02 --json');
  return runs(cmd, reportCommand);
}

export function registerTxn(parent: Command): Command {
  const cmd = parent.command('txn')
    .description('the evidence for one transaction: its messages (masked), states, undos and history')
    .option('--rrn <rrn>', 'the retrieval reference number')
    .option('--terminal <tid>', 'the terminal id (with --stan)')
    .option('--stan <stan>', 'the terminal\'s STAN (with --terminal)')
    .option('--id <id>', 'the switch\'s transaction id, alone')
    .option('--date <yyyy-mm-dd>', 'the business date, when the others match several')
    .option('--format <format>', 'text or json (default: text)');
  jsonOption(cmd, 'the same as --format json');
  storeOptions(cmd);
  examples(cmd, 'revswitch txn --rrn 612345678901 --config revswitch.json', 'revswitch txn --terminal POS00001 --stan 000123 --date 2026-12-03 --json');
  return runs(cmd, txnCommand);
}
