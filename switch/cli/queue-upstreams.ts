/**
 * At start, before anything is recovered or claimed: every reversal and refund waiting in
 * the store must have its upstream in the config. One whose link was renamed or removed
 * would otherwise be claimed, fail to resume ("upstream ... is not configured") and land
 * in the manual queue: a hold the switch could have released becomes a person's work.
 * So start refuses (exit 2, naming them) unless `--reassign-upstream OLD=NEW` moves them.
 *
 * What counts: undo entries in pending or sent, and sales left without an outcome (a
 * crash), which recovery reverses on their upstream. Manual entries do not stop a start
 * (a person already has them), but a reassignment moves them too, so `manual retry` can
 * send them on the new name.
 */
import type { Logger } from '../observe/log.js';
import type { Store } from '../store/index.js';
import { ConfigError } from '../config/index.js';

/** `OLD=NEW[,OLD=NEW...]` as a map, checked against the configured names. */
export function parseReassign(text: string | undefined, configured: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  if (text === undefined) return out;
  const name = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
  for (const pair of text.split(',')) {
    const m = /^([^=]+)=([^=]+)$/.exec(pair.trim());
    if (!m || !name.test(m[1]) || !name.test(m[2])) {
      throw new ConfigError(`command line: --reassign-upstream: expected OLD=NEW (upstream names, comma-separated pairs), got ${JSON.stringify(pair)}`);
    }
    const [, from, to] = m;
    if (!configured.includes(to)) {
      throw new ConfigError(`command line: --reassign-upstream ${from}=${to}: the config has no upstream named ${JSON.stringify(to)} (it has ${configured.join(', ')})`);
    }
    if (configured.includes(from)) {
      throw new ConfigError(`command line: --reassign-upstream ${from}=${to}: ${JSON.stringify(from)} is still configured; its queue is sent as it is`);
    }
    if (out.has(from)) throw new ConfigError(`command line: --reassign-upstream: ${JSON.stringify(from)} is given twice`);
    out.set(from, to);
  }
  return out;
}

interface Stranded {
  upstream: string;
  pending: number;
  sent: number;
  unfinished: number;
}

function describe(s: Stranded): string {
  const parts = [[s.pending, 'pending'], [s.sent, 'sent'], [s.unfinished, 'unfinished sale']] as const;
  const what = parts.filter(([n]) => n > 0).map(([n, w]) => `${n} ${w}${w === 'unfinished sale' && n !== 1 ? 's' : ''}`).join(', ');
  return `${JSON.stringify(s.upstream)} (${what})`;
}

/**
 * Moves what `reassign` names, then refuses (ConfigError: exit 2 from `start`) when undo
 * entries or unfinished sales still wait for an upstream the config does not have.
 */
export async function checkQueueUpstreams(
  store: Store, configured: readonly string[], reassign: ReadonlyMap<string, string>, log: Logger, node: string, now = Date.now(),
): Promise<void> {
  for (const [from, to] of reassign) {
    const moved = await store.reassignUpstream(from, to, `revswitch start --reassign-upstream ${from}=${to} (node ${node})`, now);
    log.warn('queue moved to another upstream', { from, to, rows: moved });
  }
  const byName = new Map<string, Stranded>();
  const of = (upstream: string): Stranded => {
    let s = byName.get(upstream);
    if (s === undefined) byName.set(upstream, (s = { upstream, pending: 0, sent: 0, unfinished: 0 }));
    return s;
  };
  for (const b of await store.undoBacklog()) {
    if (configured.includes(b.upstream) || b.pending + b.sent === 0) continue;
    Object.assign(of(b.upstream), { pending: b.pending, sent: b.sent });
  }
  for (const t of await store.unfinishedTxns()) {
    if (t.upstream !== null && !configured.includes(t.upstream)) of(t.upstream).unfinished++;
  }
  if (byName.size === 0) return;
  const list = [...byName.values()].sort((a, b) => (a.upstream < b.upstream ? -1 : 1));
  throw new ConfigError(`the store holds reversals for upstreams the config no longer has: ${list.map(describe).join('; ')}. ` +
    `Start with --reassign-upstream ${list[0].upstream}=NEW to send them on a configured upstream (it has ${configured.join(', ')}), ` +
    'or put the upstream back in the config');
}
