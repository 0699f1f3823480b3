/**
 * `revswitch manual list`, `resolve ID --note TEXT` and `retry ID --note TEXT`: the
 * operator's side of the manual-handling queue. Reversals land there after their last
 * attempt or their maximum age; a person settles them with the issuer and records how, or,
 * once the cause is fixed (a renamed upstream, a fixed key, an issuer back), puts them
 * back in the queue. All work while the switch runs (SQLite in WAL mode takes a second
 * writer with a busy wait); a retried entry is unowned, so a running node's next lease
 * tick claims it.
 *
 * With --config naming event sinks (`events`), a resolution is also a MANUAL_RESOLVED
 * lifecycle event: appended to the daily file, and for NATS put in the spool's inbox
 * (the running switch publishes it) or, with no switch running, published from here.
 */
import { hostname } from 'node:os';
import { loadConfigFile, type SwitchConfig } from '../config/index.js';
import { minorUnits } from '../observe/events/describe.js';
import { createEventBus, eventsEnabled } from '../observe/events/index.js';
import { createLogger } from '../observe/log.js';
import { manualQueue, MAX_LIMIT, type ManualLine } from '../reports/report.js';
import type { ReversalRow, Store } from '../store/index.js';
import type { Command } from 'commander';
import { CommandError, UsageError } from './args.js';
import { examples, flag, jsonOption, runAlone, runs, storeOptions, type Parsed } from './kit.js';
import { withStore } from './store-arg.js';
import { alignTable, stdoutColour } from './style.js';

export const MANUAL_USAGE =
  'revswitch manual list [--store URL | --config FILE] [--json]\n' +
  '  revswitch manual resolve ID --note TEXT [--store URL | --config FILE]\n' +
  '  revswitch manual retry ID --note TEXT [--store URL | --config FILE]\n' +
  '  revswitch manual history ID [--store URL | --config FILE] [--json]';


const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

function table(lines: ManualLine[], total: number): string {
  if (lines.length === 0) return 'the manual queue is empty';
  // As the report's manual section: what the sale was (terminal, RRN, amount), then why.
  const head = ['id', 'kind', 'upstream', 'terminal', 'rrn', 'amount', 'attempts', 'reason', 'queued', 'age', 'why'];
  const body = lines.map((r) => [
    r.id, r.kind, r.upstream, r.terminal ?? '-', r.rrn ?? '-', r.amount === null ? '-' : `${r.amount}${r.currency ? ` ${r.currency}` : ''}`,
    String(r.attempts), r.reason || '-', r.enqueuedAt.replace(/\.\d+Z$/, 'Z'), `${Math.round(r.ageMs / 60_000)} min`, r.lastError ?? '',
  ]);
  const refunds = lines.filter((r) => r.kind === 'refund').length;
  const what = [[total - refunds, 'reversal'], [refunds, 'refund']].filter(([n]) => n !== 0).map(([n, w]) => `${n} ${w}${n === 1 ? '' : 's'}`).join(' and ');
  const more = total > lines.length ? [`... and ${total - lines.length} more (the first ${lines.length} shown)`] : [];
  return [`${what} waiting for a person:`, alignTable([head, ...body], { header: true, colour: stdoutColour() }), ...more].join('\n');
}

/** MANUAL_RESOLVED, with the transaction's fields from the journal. The resolution stands whatever happens here. */
async function emitResolved(cfg: SwitchConfig, s: Store, row: ReversalRow, note: string, at: number): Promise<void> {
  try {
    const txn = row.txnId ? await s.txn(row.txnId) : undefined;
    const bus = await createEventBus(cfg.events, { node: cfg.node ?? hostname(), log: createLogger('warn'), role: 'cli', nats: { drainMs: 3000 } });
    const v = (x: string | null | undefined): string | undefined => x ?? undefined;
    bus?.emit({
      kind: 'MANUAL_RESOLVED', timeMs: at, txnId: row.txnId ?? '', reversalId: row.id, reversalState: 'resolved',
      reversalAttempt: row.attempts, reversalReason: row.reason, finalAmountMinor: minorUnits(row.finalAmount), upstream: row.upstream,
      upstreamStan: v(row.sentStan), note,
      terminal: v(txn?.terminal), merchant: v(txn?.merchant), acquirer: v(txn?.acquirer), stan: v(txn?.stan), f7: v(txn?.f7),
      rrn: v(txn?.rrn), mti: v(txn?.mti), panMasked: v(txn?.panMasked), panHash: v(txn?.panHash), amountMinor: minorUnits(txn?.amount),
      currency: v(txn?.currency), businessDate: v(txn?.businessDate), txnState: v(txn?.state), listener: v(txn?.listener),
    });
    await bus?.close();
  } catch (e) {
    process.stderr.write(`revswitch manual: resolved, but the MANUAL_RESOLVED event was not emitted: ${(e as Error).message}\n`);
  }
}

async function list(p: Parsed): Promise<string> {
  if (p.positional.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(p.positional[0])}`);
  const q = await withStore(p, (s) => manualQueue(s, Date.now(), MAX_LIMIT));
  return p.flags.has('json') ? JSON.stringify(q.lines, null, 2) : table(q.lines, q.total);
}

async function resolve(p: Parsed): Promise<string> {
  if (p.positional.length !== 1) throw new UsageError('expected exactly one reversal id');
  const note = flag(p, 'note');
  if (note === undefined || note.trim() === '') throw new UsageError('--note is required: say how it was settled (it goes into the history)');
  const id = p.positional[0];
  return withStore(p, async (s) => {
    const row = await s.reversal(id);
    if (!row) throw new CommandError(`no reversal with id ${JSON.stringify(id)}`);
    if (row.state !== 'manual') throw new CommandError(`reversal ${id} is ${row.state}, not manual: nothing to resolve`);
    const at = Date.now();
    if (!(await s.resolveManual(id, note.trim(), at))) throw new CommandError(`reversal ${id} changed while resolving; list again`);
    const config = flag(p, 'config');
    const cfg = config ? loadConfigFile(config) : null;
    if (cfg && eventsEnabled(cfg.events)) await emitResolved(cfg, s, row, note.trim(), at);
    return `resolved ${id}: ${note.trim()}`;
  });
}

async function retry(p: Parsed): Promise<string> {
  if (p.positional.length !== 1) throw new UsageError('expected exactly one reversal id');
  const note = flag(p, 'note');
  if (note === undefined || note.trim() === '') throw new UsageError('--note is required: say what was fixed (it goes into the history)');
  const id = p.positional[0];
  const config = flag(p, 'config');
  const cfg = config ? loadConfigFile(config) : null;
  return withStore(p, async (s) => {
    const row = await s.reversal(id);
    if (!row) throw new CommandError(`no reversal with id ${JSON.stringify(id)}`);
    if (row.state !== 'manual') throw new CommandError(`reversal ${id} is ${row.state}, not manual: nothing to retry`);
    // Sent back to a link the switch does not have, it would come straight back here.
    if (cfg && cfg.upstreams.length > 0 && !cfg.upstreams.some((u) => u.name === row.upstream)) {
      throw new CommandError(`reversal ${id} is for upstream ${JSON.stringify(row.upstream)}, which ${config} does not configure ` +
        `(it has ${cfg.upstreams.map((u) => u.name).join(', ')}): restart with --reassign-upstream ${row.upstream}=NEW first`);
    }
    const at = Date.now();
    if (!(await s.retryManual(id, note.trim(), at))) throw new CommandError(`reversal ${id} changed while retrying; list again`);
    return `retried ${id}: pending again with a fresh count of attempts and age, for upstream ${row.upstream}; ` +
      'a running switch takes it at its next lease tick, a stopped one when it starts';
  });
}

async function history(p: Parsed): Promise<string> {
  if (p.positional.length !== 1) throw new UsageError('expected exactly one transaction or reversal id');
  const id = p.positional[0];
  const rows = await withStore(p, (s) => s.history(id));
  if (rows.length === 0) throw new CommandError(`no history for ${JSON.stringify(id)}`);
  if (p.flags.has('json')) return JSON.stringify(rows, null, 2);
  return alignTable([['at (UTC)', 'of', 'state', 'detail'], ...rows.map((h) => [iso(h.at), h.kind, h.state, h.detail ?? ''])], { header: true, colour: stdoutColour() });
}

export function registerManual(parent: Command): Command {
  const manual = parent.command('manual').description('the manual-handling queue: reversals and refunds that need a person');
  examples(manual, 'revswitch manual list --config revswitch.json', 'revswitch manual resolve rev-1 --note "settled by phone, ticket 7" --config revswitch.json');
  const l = jsonOption(storeOptions(manual.command('list').description('what waits for a person, oldest first')));
  examples(l, 'revswitch manual list --store sqlite:./data/revswitch.db', 'revswitch manual list --config revswitch.json --json');
  runs(l, list);
  const r = storeOptions(manual.command('resolve')
    .description('record how a queued reversal was settled with the issuer (a MANUAL_RESOLVED event with the config\'s event sinks)')
    .argument('<id>', 'the reversal id (see manual list)')
    .option('--note <text>', 'how it was settled (required; it goes into the history)'));
  examples(r, 'revswitch manual resolve rev-1 --note "settled by phone, ticket 7" --config revswitch.json');
  runs(r, resolve);
  const rt = storeOptions(manual.command('retry')
    .description('put a manual entry back in the queue once its cause is fixed (a renamed upstream, a fixed key): attempts and age start again')
    .argument('<id>', 'the reversal id (see manual list)')
    .option('--note <text>', 'what was fixed (required; it goes into the history)'));
  examples(rt, 'revswitch manual retry rev-1 --note "issuer link back after the key change, ticket 12" --config revswitch.json');
  runs(rt, retry);
  const h = jsonOption(storeOptions(manual.command('history')
    .description('the history of a transaction or reversal')
    .argument('<id>', 'a transaction or reversal id')));
  examples(h, 'revswitch manual history rev-1 --config revswitch.json');
  runs(h, history);
  return manual;
}

/** `revswitch manual ...` with `argv` after "manual". */
export async function manualCommand(argv: string[]): Promise<string> {
  return runAlone(registerManual, argv);
}
