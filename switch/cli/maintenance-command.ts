/**
 * `revswitch maintenance [--dry-run]`: retention now (switch/store/maintenance.ts). Erases
 * the sealed messages of done transactions older than retention.sealedDays, then deletes
 * rows older than retention.evidenceDays with their history, a batch at a time, each batch
 * with a signed summary (`--summaries` lists them and checks each signature). Safe beside
 * a running switch. `--dry-run` only counts.
 */
import { Maintenance, verifySummary, type MaintenanceResult } from '../store/maintenance.js';
import type { PruneSummary } from '../store/types.js';
import type { Command } from 'commander';
import { UsageError } from './args.js';
import { keyFileOf, loadCardKeys } from './card-keys.js';
import { storeOf, withStore } from './store-arg.js';
import { examples, jsonOption, runAlone, runs, storeOptions, type Parsed } from './kit.js';

export const MAINTENANCE_USAGE = 'revswitch maintenance [--dry-run | --summaries] [--config FILE | --store URL] [--json]';

const iso = (ms: number): string => new Date(ms).toISOString();

function describe(m: MaintenanceResult, dryRun: boolean): string {
  const p = m.plan;
  const lines = [
    `sealed messages of done transactions before ${iso(m.sealedBefore)}: ${p.sealedTxns} in transactions, ${p.sealedReversals} in reversals and refunds` +
      (dryRun ? ' would be erased' : `; ${m.erased} erased`),
    `rows before ${iso(m.evidenceBefore)} (the evidence period): ${p.txns} transactions, ${p.reversals} reversals and refunds, ${p.reviews} reviews, ` +
      `${p.history} history rows` + (dryRun ? ' would be deleted (and history rows of what is deleted with them)' : ''),
  ];
  if (!dryRun) {
    const sum = (k: 'txns' | 'reversals' | 'reviews' | 'history'): number => m.runs.reduce((n, r) => n + r[k], 0);
    lines.push(`deleted in ${m.runs.length} signed batch(es): ${sum('txns')} transactions, ${sum('reversals')} reversals and refunds, ` +
      `${sum('reviews')} reviews, ${sum('history')} history rows`);
  }
  return lines.join('\n');
}

function summaries(rows: PruneSummary[], ok: (s: PruneSummary) => boolean): string {
  if (rows.length === 0) return 'no maintenance run has deleted anything';
  return rows.map((s) => `${s.run}  ${iso(s.at)}  before ${iso(s.beforeMs)}  txns ${s.txns}  reversals ${s.reversals}  reviews ${s.reviews}  ` +
    `history ${s.history}${s.firstSeq === null ? '' : ` (seq ${s.firstSeq}-${s.lastSeq})`}  sha256 ${s.digest.slice(0, 16)}…  ` +
    `key ${s.keyCheck}  ${ok(s) ? 'signature ok' : 'SIGNATURE DOES NOT VERIFY'}`).join('\n');
}

export function registerMaintenance(parent: Command): Command {
  const cmd = parent.command('maintenance')
    .description('retention now: erase old sealed messages, then delete rows past the evidence period in signed batches (safe beside a running switch)')
    .option('--dry-run', 'only count what would be erased and deleted')
    .option('--summaries', 'list the signed summaries of past runs, each signature checked');
  storeOptions(cmd);
  jsonOption(cmd);
  examples(cmd, 'revswitch maintenance --dry-run --config revswitch.json', 'revswitch maintenance --config revswitch.json', 'revswitch maintenance --summaries --json --store sqlite:./data/revswitch.db');
  return runs(cmd, maintenance);
}

/** `revswitch maintenance ...` with `argv` after "maintenance". */
export async function maintenanceCommand(argv: string[]): Promise<string> {
  return runAlone(registerMaintenance, argv);
}

async function maintenance(p: Parsed): Promise<string> {
  if (p.positional.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(p.positional[0])}`);
  const { url, config: c } = storeOf(p);
  const dryRun = p.flags.has('dry-run');
  const json = p.flags.has('json');
  const { keys } = loadCardKeys({ configured: c.panHashKey, sealKeys: c.panSealKeys, keyFile: keyFileOf(url) });
  return withStore(p, async (store) => {
    if (p.flags.has('summaries')) {
      const rows = await store.pruned();
      const ok = (s: PruneSummary): boolean => verifySummary(keys, s);
      return json ? JSON.stringify(rows.map((s) => ({ ...s, verified: ok(s) })), null, 2) : summaries(rows, ok);
    }
    const m = await new Maintenance(store, keys, c.retention).run(Date.now(), dryRun);
    return json ? JSON.stringify(m, null, 2) : describe(m, dryRun);
  });
}
