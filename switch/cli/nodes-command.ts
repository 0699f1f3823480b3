/**
 * `revswitch nodes --store URL`: the switch nodes that share a store, from their heartbeat
 * rows: when each started, how old its last heartbeat is, how many reversal leases it
 * holds, and whether it counts as alive (heartbeat younger than --dead-ms, default the
 * config default of cluster.nodeDeadMs). A stale node's unfinished transactions are taken
 * over by a live one (docs/deployment.md).
 *
 * `--forget ID` deletes a dead node's heartbeat row, so `nodes` and the dashboards stop
 * showing a host that is gone for good. Refused while the node is alive or still holds
 * anything (a lease on a queued reversal, a sale sent upstream without an outcome): those
 * pass to a live node first (after leaseMs and nodeDeadMs), and the store checks and
 * deletes in one transaction.
 *
 * Exit status: 0; 1 the store could not be reached, or --forget refused; 2 a bad URL or usage.
 */
import { redactUrl } from '../store/index.js';
import type { NodeRow, Store } from '../store/types.js';
import type { Command } from 'commander';
import { CommandError, UsageError } from './args.js';
import { examples, flag, jsonOption, runs, storeOptions, type Parsed } from './kit.js';
import { alignTable, stdoutColour } from './style.js';
import { commandStore, namingStore, storeOf } from './store-arg.js';

export const NODES_USAGE = 'revswitch nodes [--store URL | --config FILE] [--dead-ms MS] [--forget ID] [--json]';

export interface NodeStatus extends NodeRow {
  ageMs: number;
  alive: boolean;
  /** How long the node's lease still holds (negative: lapsed that long ago); null if it never renewed one. */
  leaseLeftMs: number | null;
}

export function nodeStatus(rows: NodeRow[], now: number, deadMs: number): NodeStatus[] {
  return rows.map((r) => ({
    ...r, ageMs: Math.max(0, now - r.heartbeatAt), alive: now - r.heartbeatAt < deadMs, leaseLeftMs: r.leaseUntil > 0 ? r.leaseUntil - now : null,
  }));
}

export function formatNodes(list: NodeStatus[], colour = false): string {
  if (list.length === 0) return 'no node has heartbeated in this store';
  const head = ['NODE', 'STATUS', 'HEARTBEAT', 'STARTED', 'LEASES', 'LEASE', 'INFO'];
  const lease = (ms: number | null): string => (ms === null ? '-' : ms > 0 ? `${(ms / 1000).toFixed(1)}s left` : `lapsed ${(-ms / 1000).toFixed(1)}s ago`);
  const rows = list.map((n) => [
    n.node, n.alive ? 'alive' : 'stale', `${(n.ageMs / 1000).toFixed(1)}s ago`, new Date(n.startedAt).toISOString(), String(n.leases), lease(n.leaseLeftMs),
    n.info ?? '',
  ]);
  return alignTable([head, ...rows], { header: true, colour, cell: (v, c) => (c !== 1 ? null : v === 'alive' ? 'green' : 'red') });
}

export function registerNodes(parent: Command): Command {
  const cmd = parent.command('nodes')
    .description('the switch nodes sharing a store, from their heartbeats: alive or stale, leases held')
    .option('--dead-ms <ms>', 'a heartbeat older than this is stale (default: the config\'s cluster.nodeDeadMs, 15000)')
    .option('--forget <id>', 'delete a stale node\'s heartbeat row; refused while it is alive or holds leases or unfinished sales');
  storeOptions(cmd);
  jsonOption(cmd);
  examples(cmd, 'revswitch nodes --config revswitch.json', 'revswitch nodes --store "postgres://rev@db/revswitch" --dead-ms 30000 --json',
    'revswitch nodes --config revswitch.json --forget sw-old-3');
  return runs(cmd, nodes);
}

async function nodes(p: Parsed): Promise<string> {
  if (p.positional.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(p.positional[0])}`);
  const { url, config: cfg } = storeOf(p);
  const deadText = flag(p, 'dead-ms');
  const deadMs = deadText === undefined ? cfg.cluster.nodeDeadMs : Number(deadText);
  if (!Number.isInteger(deadMs) || deadMs <= 0) throw new UsageError(`--dead-ms must be a whole number of milliseconds, got ${JSON.stringify(deadText)}`);
  const shown = redactUrl(url);
  const store = commandStore(url);
  try {
    await store.open();
    const list = nodeStatus(await store.nodes(), Date.now(), deadMs);
    const forget = flag(p, 'forget');
    if (forget !== undefined) return await forgetNode(store, list, forget, deadMs, p.flags.get('json') === true);
    return p.flags.get('json') === true ? JSON.stringify(list, null, 2) : formatNodes(list, stdoutColour());
  } catch (e) {
    if (e instanceof CommandError) throw e;
    throw new CommandError(namingStore(shown, e));
  } finally {
    await store.close().catch(() => undefined);
  }
}

async function forgetNode(store: Store, list: NodeStatus[], id: string, deadMs: number, json: boolean): Promise<string> {
  const node = list.find((n) => n.node === id);
  if (node === undefined) throw new CommandError(`no node ${JSON.stringify(id)} in this store (it has ${list.map((n) => n.node).join(', ') || 'none'})`);
  if (node.alive) {
    throw new CommandError(`node ${id} is alive (heartbeat ${(node.ageMs / 1000).toFixed(1)}s ago, under --dead-ms ${deadMs}): stop it first`);
  }
  const o = await store.forgetNode(id);
  if (!o.forgotten) {
    const held = [o.leases > 0 ? `${o.leases} reversal lease${o.leases === 1 ? '' : 's'}` : '', o.unfinished > 0 ? `${o.unfinished} sale${o.unfinished === 1 ? '' : 's'} without an outcome` : '']
      .filter((x) => x !== '').join(' and ');
    throw new CommandError(`node ${id} still holds ${held || 'something'}: a live node takes them over (leases after cluster.leaseMs, ` +
      'sales after cluster.nodeDeadMs); forget it after that');
  }
  return json ? JSON.stringify({ forgotten: id }) : `forgot node ${id}: its heartbeat row is gone; its transactions and history keep its name`;
}
