/**
 * How a group-commit batch of operations becomes statements. One statement per operation,
 * or (multiRow, the default) the batch cut into segments of operations on distinct rows,
 * each segment's operations of one kind sent as ONE multi-row statement (arrays through
 * unnest(); ./postgres-sql.ts MULTI), which saves the server and node-postgres most of the
 * per-statement work. bench/suites/store.ts measures it against `multiRow: false`.
 */
import type { QueryConfig } from 'pg';
import { describeOp } from './backend.js';
import { MULTI, statement } from './postgres-sql.js';
import type { StoreOp } from './types.js';

type OpKind = StoreOp['op'];
/** The order of a segment's statements. */
const KINDS: readonly OpKind[] = ['insertTxn', 'updateTxn', 'insertReversal', 'updateReversal'];

/** The operations as columns: the single statement's parameters of each, transposed. */
function columns(ops: StoreOp[]): unknown[][] {
  const per = ops.map((op) => {
    const v = statement(op).values ?? [];
    // updateReversal's `from` goes in as JSON text (arrays of arrays must be rectangular).
    return op.op === 'updateReversal' ? v.map((x, k) => (k === 15 ? JSON.stringify(x) : x)) : v;
  });
  const cols: unknown[][] = per[0].map(() => new Array<unknown>(per.length));
  for (let i = 0; i < per.length; i++) for (let k = 0; k < cols.length; k++) cols[k][i] = per[i][k];
  return cols;
}

/** One statement of the batch: a single operation, or several of one kind on distinct ids. */
export interface Unit {
  query: QueryConfig<unknown[]>;
  /** Indexes into the batch. */
  ops: number[];
  multi: boolean;
}

export const idOf = (op: StoreOp): string => (op.op === 'insertTxn' || op.op === 'insertReversal' ? op.row.id : op.update.id);
const keyOf = (op: StoreOp): string => (op.op === 'insertTxn' || op.op === 'updateTxn' ? 't' : 'r') + idOf(op);

/**
 * The batch as statements. One per operation, or (multiRow) in segments: a segment is
 * the longest run of operations that touch distinct rows, so they commute, and each of
 * its kinds becomes one multi-row statement (in the order of KINDS). Segments keep their
 * order, so two changes of one row stay in call order, and so does the history of each
 * row; only the seq order of history rows of DIFFERENT rows within one batch (one
 * transaction) follows the kinds instead of the calls. Insertion order is kept.
 */
export function plan(ops: StoreOp[], refused: ReadonlyMap<number, string>, multiRow: boolean): Unit[] {
  const units: Unit[] = [];
  if (!multiRow) {
    for (let i = 0; i < ops.length; i++) if (!refused.has(i)) units.push({ query: statement(ops[i]), ops: [i], multi: false });
    return units;
  }
  const groups = new Map<OpKind, number[]>(KINDS.map((k) => [k, []]));
  const keys = new Set<string>();
  const close = () => {
    for (const kind of KINDS) {
      const g = groups.get(kind) ?? [];
      if (g.length === 1) units.push({ query: statement(ops[g[0]]), ops: g, multi: false });
      else if (g.length > 1) units.push({ query: { name: `revswitch_multi_${kind}`, text: MULTI[kind], values: columns(g.map((i) => ops[i])) }, ops: g, multi: true });
      groups.set(kind, []);
    }
    keys.clear();
  };
  for (let i = 0; i < ops.length; i++) {
    if (refused.has(i)) continue;
    const key = keyOf(ops[i]);
    if (keys.has(key)) close();
    keys.add(key);
    groups.get(ops[i].op)?.push(i);
  }
  close();
  return units;
}

export const describeUnit = (u: Unit, ops: StoreOp[]): string =>
  u.multi ? `${ops[u.ops[0]].op} of ${u.ops.length} (${u.ops.slice(0, 3).map((i) => idOf(ops[i])).join(', ')}${u.ops.length > 3 ? ', ...' : ''})` : describeOp(ops[u.ops[0]]);
