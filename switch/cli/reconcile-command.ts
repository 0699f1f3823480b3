/**
 * `revswitch reconcile`: the journal against an issuer's settlement file for one business
 * date (switch/recon/). A dry run by default; `--apply` queues the refunds and review items
 * and records the run; `--list` shows the recorded runs. A malformed file exits 1 naming
 * the line and column, with nothing applied.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { basename } from 'node:path';
import { loadDefaultRules, loadRulesFile } from '../../rules/index.js';
import { applyRecon, type ApplyOutcome } from '../recon/apply.js';
import type { ReconLine } from '../recon/classes.js';
import { reconcile } from '../recon/reconcile.js';
import { applySummary, countsJson, CSV_HEADER, csvLine, describeLine, header, reportJson, totalsTable } from '../recon/recon-report.js';
import { SettlementFileError } from '../recon/settlement-file.js';
import type { ReconRunRow } from '../store/types.js';
import type { Command } from 'commander';
import { CommandError, UsageError } from './args.js';
import { examples, flag, jsonOption, runs, storeOptions, type Parsed } from './kit.js';
import { storeOf, withStore } from './store-arg.js';

export const RECONCILE_USAGE =
  'revswitch reconcile --file PATH [--format csv|json|MAPPING.json] [--date YYYY-MM-DD] [--upstream NAME] [--config FILE | --store URL] ' +
  '[--apply] [--out FILE.csv] [--json] [--limit N] [--by NAME] | revswitch reconcile --list [--json]';

const DATE = /^\d{4}-\d{2}-\d{2}$/;

function formatOf(file: string, given: string | undefined): string {
  if (given !== undefined) return given;
  return file.toLowerCase().endsWith('.json') ? 'json' : 'csv';
}

function listRuns(rows: ReconRunRow[]): string {
  if (rows.length === 0) return 'no reconciliation has been applied';
  return rows.map((r) => `${r.id}  ${new Date(r.at).toISOString()}  ${r.businessDate}  ${r.upstream ?? 'all'}  ${r.file} (${r.format}, ${r.records} records, ` +
    `sha256 ${r.sha256.slice(0, 16)}…)  queued ${r.refundsQueued} refund(s), ${r.reviewsQueued} review(s)  by ${r.by}`).join('\n');
}

export function registerReconcile(parent: Command): Command {
  const cmd = parent.command('reconcile')
    .description('the journal against an issuer\'s settlement file for one business date: a dry run unless --apply')
    .option('--file <path>', 'the settlement file (required, unless --list)')
    .option('--format <csv|json|mapping.json>', 'the file\'s format, or a column mapping file (default: from the file name, csv unless .json)')
    .option('--date <yyyy-mm-dd>', 'the business date (default: the file\'s)')
    .option('--upstream <name>', 'only this upstream\'s transactions (default: all)')
    .option('--apply', 'queue the refunds and review items, and record the run')
    .option('--out <file.csv>', 'write every difference to this CSV file (mode 0600)')
    .option('--limit <n>', 'differences shown on the terminal', '1000')
    .option('--by <name>', 'who applies it, recorded with the run (default: $USER)')
    .option('--list', 'the recorded runs instead');
  storeOptions(cmd);
  jsonOption(cmd);
  examples(cmd,
    'revswitch reconcile --file settlement-2026-12-03.csv --config revswitch.json',
    'revswitch reconcile --file settlement.csv --date 2026-12-03 --apply --by ops-anna --config revswitch.json',
    'revswitch reconcile --list --json --config revswitch.json');
  return runs(cmd, reconcileCommand);
}

async function reconcileCommand(p: Parsed): Promise<string> {
  if (p.positional.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(p.positional[0])}`);
  const json = p.flags.has('json');
  if (p.flags.has('list')) return withStore(p, async (s) => (json ? JSON.stringify(await s.reconRuns(), null, 2) : listRuns(await s.reconRuns())));
  const file = flag(p, 'file');
  if (file === undefined) throw new UsageError('--file is required (or --list)');
  const date = flag(p, 'date');
  if (date !== undefined && (!DATE.test(date) || Number.isNaN(Date.parse(`${date}T00:00:00Z`)))) throw new UsageError(`--date: expected YYYY-MM-DD, got ${JSON.stringify(date)}`);
  const limitText = flag(p, 'limit') ?? '1000';
  const limit = Number(limitText);
  if (!Number.isInteger(limit) || limit < 0) throw new UsageError(`--limit: expected a whole number, got ${JSON.stringify(limitText)}`);
  const { config } = storeOf(p);
  const rules = config.rules ? loadRulesFile(config.rules) : loadDefaultRules();
  const format = formatOf(file, flag(p, 'format'));
  const apply = p.flags.has('apply');
  const by = flag(p, 'by') ?? process.env.USER ?? 'cli';
  const out = flag(p, 'out');
  return withStore(p, async (store) => {
    let r;
    try {
      r = await reconcile({ file, format, businessDate: date, upstream: flag(p, 'upstream') ?? null, store, calendar: rules.calendar });
    } catch (e) {
      if (e instanceof SettlementFileError) throw new CommandError(`${e.message} (nothing applied)`, 1);
      throw e;
    }
    try {
      const shown: ReconLine[] = [];
      const outFd = out === undefined ? null : openSync(out, 'w', 0o600);
      try {
        if (outFd !== null) writeSync(outFd, CSV_HEADER + '\n');
        for await (const l of r.lines()) {
          if (shown.length < limit) shown.push(l);
          if (outFd !== null) writeSync(outFd, csvLine(l) + '\n');
        }
      } finally {
        if (outFd !== null) closeSync(outFd);
      }
      let applied: ApplyOutcome | null = null;
      if (apply) {
        const at = Date.now();
        applied = await applyRecon(store, r, at);
        await store.insertReconRun({
          id: r.runId, at, file: basename(file), sha256: r.file.sha256, businessDate: r.businessDate, upstream: r.upstream, format: basename(format),
          records: r.records, counts: countsJson(r), refundsQueued: applied.refundsQueued, reviewsQueued: applied.reviewsQueued, by,
        });
      }
      const truncated = r.differences > shown.length;
      if (json) return JSON.stringify(reportJson(r, shown, truncated, applied), null, 2);
      return [
        header(r), '', totalsTable(r.totals), '',
        ...(shown.length > 0 ? ['differences:', ...shown.map(describeLine)] : ['no differences: the journal and the file agree']),
        ...(truncated ? [`... ${r.differences - shown.length} more (--limit, or --out FILE.csv for all)`] : []),
        ...(out !== undefined ? [`differences written to ${out}`] : []),
        '', applySummary(applied),
      ].join('\n');
    } finally {
      r.close();
    }
  });
}
