/**
 * `revswitch review list|show|approve|reject`: the people's side of the review queue.
 * Decisions rules/ leaves to a person (a refund over a cap, fraud codes, an authorization
 * past settlement...) wait here; an approval carries out the undo through the
 * store-and-forward queue, which the running switch sends within a lease period; a
 * rejection closes the item with nothing sent. Both record who and why. They work while
 * the switch runs, on the same store.
 */
import { loadDefaultRules, loadRulesFile, type CompiledRules } from '../../rules/index.js';
import type { ReviewAction, ReviewRow, ReviewState, Store } from '../store/index.js';
import { approveReview, rejectReview, ReviewError } from '../undo/review-actions.js';
import type { Command } from 'commander';
import { CommandError, UsageError } from './args.js';
import { examples, flag, jsonOption, runs, storeOptions, type Parsed } from './kit.js';
import { storeOf, withStore } from './store-arg.js';
import { alignTable, stdoutColour } from './style.js';

export const REVIEW_USAGE =
  'revswitch review list [--state open|approved|rejected] [--json] [--store URL | --config FILE]\n' +
  '  revswitch review show ID [--json] [--store URL | --config FILE]\n' +
  '  revswitch review approve ID --by NAME --note TEXT [--action reverse|refund|none] [--store URL | --config FILE]\n' +
  '  revswitch review reject ID --by NAME --note TEXT [--store URL | --config FILE]';

const STATES: readonly ReviewState[] = ['open', 'approved', 'rejected'];
const ACTIONS: readonly ReviewAction[] = ['reverse', 'refund', 'none'];

const iso = (ms: number | null): string => (ms === null ? '-' : new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z'));

function table(rows: ReviewRow[], state: string, now: number): string {
  if (rows.length === 0) return `no ${state} review items`;
  const head = ['id', 'txn', 'proposed', 'amount', 'opened', 'age', 'decided by', 'action', 'why'];
  const body = rows.map((r) => [
    r.id, r.txnId, r.proposed, r.amount ?? '-', iso(r.createdAt), `${Math.round((now - r.createdAt) / 60_000)} min`, r.decidedBy ?? '-',
    r.action ?? '-', r.why,
  ]);
  return [`${rows.length} ${state} review item${rows.length === 1 ? '' : 's'}:`, alignTable([head, ...body], { header: true, colour: stdoutColour() })].join('\n');
}

/** --by and --note: who decided and why, both required (they go into the history). */
function verdictOf(p: Parsed): { by: string; note: string } {
  const by = flag(p, 'by')?.trim();
  const note = flag(p, 'note')?.trim();
  if (!by) throw new UsageError('--by is required: who decides (it goes into the history)');
  if (!note) throw new UsageError('--note is required: why (it goes into the history)');
  return { by, note };
}

function oneId(p: Parsed): string {
  if (p.positional.length !== 1) throw new UsageError('expected exactly one review item id (see revswitch review list)');
  return p.positional[0];
}

function rulesOf(p: Parsed): CompiledRules {
  const { config } = storeOf(p);
  return config.rules ? loadRulesFile(config.rules) : loadDefaultRules();
}

/** A ReviewError as the command's failure (exit 1), with its message. */
async function deciding<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof ReviewError) throw new CommandError(e.message);
    throw e;
  }
}

async function show(s: Store, id: string, json: boolean): Promise<string> {
  const review = await s.review(id);
  if (review === undefined) throw new CommandError(`no review item ${JSON.stringify(id)}`);
  const txn = await s.txn(review.txnId);
  const history = await s.history(id);
  if (json) {
    const { sealed: _sealed, panHash: _hash, ...shown } = txn ?? { sealed: null, panHash: null };
    return JSON.stringify({ review, txn: txn === undefined ? null : shown, history }, null, 2);
  }
  const kv: [string, string][] = [
    ['review', `${review.id}: ${review.state}`], ['proposed', `${review.proposed}${review.amount ? ` ${review.amount}` : ''}${review.reason ? ` (reason ${review.reason})` : ''}`],
    ['why', review.why], ['opened', iso(review.createdAt)],
  ];
  if (review.state !== 'open') kv.push(['decided', `${review.state} by ${review.decidedBy ?? '-'} at ${iso(review.decidedAt)}: ${review.action ?? '-'}; ${review.note ?? ''}`]);
  if (review.undoId) kv.push(['undo', review.undoId]);
  if (txn) {
    kv.push(['transaction', `${txn.id}: ${txn.mti} ${txn.state}, terminal ${txn.terminal ?? '-'}, stan ${txn.stan}, rrn ${txn.rrn ?? '-'}, ` +
      `${txn.amount ?? '-'} ${txn.currency ?? ''}, card ${txn.panMasked ?? '-'}, class ${txn.failureClass ?? '-'}`]);
  }
  const width = Math.max(...kv.map(([k]) => k.length));
  const lines = kv.map(([k, v]) => `${k.padEnd(width)}  ${v}`);
  lines.push('history:', ...history.map((h) => `  ${iso(h.at)}  ${h.state.padEnd(9)}  ${h.detail ?? ''}`.trimEnd()));
  return lines.join('\n');
}

async function list(p: Parsed): Promise<string> {
  if (p.positional.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(p.positional[0])}`);
  const state = flag(p, 'state') ?? 'open';
  if (!STATES.includes(state as ReviewState)) throw new UsageError(`--state: expected ${STATES.join(', ')}, got ${JSON.stringify(state)}`);
  const rows = await withStore(p, (s) => s.reviews([state as ReviewState]));
  return p.flags.has('json') ? JSON.stringify(rows, null, 2) : table(rows, state, Date.now());
}

async function showOne(p: Parsed): Promise<string> {
  const id = oneId(p);
  return withStore(p, (s) => show(s, id, p.flags.has('json')));
}

async function approve(p: Parsed): Promise<string> {
  const id = oneId(p);
  const v = verdictOf(p);
  const action = flag(p, 'action');
  if (action !== undefined && !ACTIONS.includes(action as ReviewAction)) throw new UsageError(`--action: expected ${ACTIONS.join(', ')}, got ${JSON.stringify(action)}`);
  const rules = rulesOf(p);
  const r = await withStore(p, (s) => deciding(() => approveReview(s, id, { ...v, action: action as ReviewAction | undefined }, rules, Date.now())));
  return r.undoId === null
    ? `approved ${id} by ${v.by}: nothing to send`
    : `approved ${id} by ${v.by}: ${r.action === 'refund' ? 'refund' : 'reversal'} ${r.undoId} queued; the running switch sends it`;
}

async function reject(p: Parsed): Promise<string> {
  const id = oneId(p);
  const v = verdictOf(p);
  await withStore(p, (s) => deciding(() => rejectReview(s, id, v, Date.now())));
  return `rejected ${id} by ${v.by}: nothing sent`;
}

/** --by and --note, as approve and reject take them. */
function verdictOptions(cmd: Command): Command {
  return cmd
    .option('--by <name>', 'who decides (required; it goes into the history)')
    .option('--note <text>', 'why (required; it goes into the history)');
}

export function registerReview(parent: Command): Command {
  const review = parent.command('review').description('the review queue: undos the rules leave to a person, approved or rejected with who and why');
  examples(review, 'revswitch review list --config revswitch.json', 'revswitch review approve rv-1 --by anna --note "customer confirmed" --config revswitch.json');
  const l = jsonOption(storeOptions(review.command('list')
    .description('the review items in a state')
    .option('--state <state>', `${STATES.join(', ')}`, 'open')));
  examples(l, 'revswitch review list --config revswitch.json', 'revswitch review list --state approved --json --config revswitch.json');
  runs(l, list);
  const s = jsonOption(storeOptions(review.command('show').description('one review item with its transaction and history').argument('<id>', 'the review item id')));
  examples(s, 'revswitch review show rv-1 --config revswitch.json');
  runs(s, showOne);
  const a = storeOptions(verdictOptions(review.command('approve')
    .description('approve an item: its undo is queued and the running switch sends it')
    .argument('<id>', 'the review item id'))
    .option('--action <action>', `${ACTIONS.join(', ')} (default: what the item proposes)`));
  examples(a, 'revswitch review approve rv-1 --by anna --note "customer confirmed" --config revswitch.json', 'revswitch review approve rv-2 --by anna --note "issuer agreed" --action refund');
  runs(a, approve);
  const r = storeOptions(verdictOptions(review.command('reject').description('reject an item: nothing is sent').argument('<id>', 'the review item id')));
  examples(r, 'revswitch review reject rv-1 --by anna --note "duplicate of rv-0" --config revswitch.json');
  runs(r, reject);
  return review;
}
