/**
 * This node's heartbeat row in the shared store: while it is fresh no other node takes
 * this node's in-flight sales (engine/recovery.ts takes a silent node's). Each beat names
 * this process (a random instance id), so two live processes under one node id are seen,
 * on one host or across hosts, and the second refuses to start.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { ConfigError } from '../config/index.js';
import type { NodeRow } from '../store/types.js';
import type { EngineContext } from './context.js';

/** Two live processes under one node id would never see each other die: the second one stops here. */
export class NodeIdInUse extends ConfigError {}

export class Heartbeat {
  private timer: NodeJS.Timeout | null = null;
  private readonly startedAt = Date.now();
  readonly instance = randomUUID();

  constructor(private readonly ctx: EngineContext, private readonly ports: () => number[]) {}

  /**
   * Refuses the node id while another process beats under it. A row that is recent but
   * whose beat does not move over two periods is a dead process's (this node restarting
   * after a crash): taken over. Judged by the row's progress, not by comparing clocks;
   * a row written from this host by a pid that no longer exists is taken at once.
   */
  async claim(): Promise<void> {
    const { ctx } = this;
    const mine = async (): Promise<NodeRow | undefined> => (await ctx.journal.store.nodes()).find((n) => n.node === ctx.node);
    const before = await mine();
    if (before === undefined || Date.now() - before.heartbeatAt > ctx.cfg.cluster.nodeDeadMs) return;
    const other = parsed(before.info);
    if (other.instance === this.instance) return;
    // This node restarting after its own crash on this host: the process that wrote the
    // row is gone, so there is nothing to watch (a restart stays quick).
    if (other.host === hostname() && typeof other.pid === 'number' && processGone(other.pid)) return;
    await new Promise((r) => setTimeout(r, 2 * ctx.cfg.cluster.heartbeatMs + 250));
    const after = await mine();
    if (after === undefined || after.heartbeatAt === before.heartbeatAt) return;
    const info = describe(after.info);
    throw new NodeIdInUse(
      `node id ${JSON.stringify(ctx.node)} is in use: another switch is heartbeating under it in the store${info}. ` +
      'Give this one its own id: revswitch start --node ID, or "node" in the config file',
    );
  }

  /** The first beat, awaited: a failure stops the start, since no other node may take this one's work from here on. */
  async first(): Promise<void> {
    await this.ctx.journal.store.heartbeat(this.ctx.node, Date.now(), this.info());
  }

  private info(ports?: number[]): string {
    return JSON.stringify({ pid: process.pid, host: hostname(), instance: this.instance, startedAt: this.startedAt, ports });
  }

  start(): void {
    this.timer = setInterval(() => void this.beat(), this.ctx.cfg.cluster.heartbeatMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** A failed beat is logged: the next may land before nodeDeadMs. */
  private async beat(): Promise<void> {
    const { ctx } = this;
    try {
      await ctx.journal.store.heartbeat(ctx.node, Date.now(), this.info(this.ports()));
    } catch (e) {
      ctx.counters.inc('store_errors');
      ctx.log.error('heartbeat not stored', { node: ctx.node, error: (e as Error).message });
    }
  }
}

function parsed(info: string | null): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(info ?? 'null');
    return v !== null && typeof v === 'object' ? v as Record<string, unknown> : {};
  } catch {
    return {};
  }
}

/** No process with this pid on this host (ESRCH); one we may not signal (EPERM) is alive. */
function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** " (pid 123 on host-a, instance 5f2c...)", from what the other process wrote about itself. */
function describe(info: string | null): string {
  const o = parsed(info);
  const parts = [o.pid !== undefined ? `pid ${String(o.pid)}` : '', o.host !== undefined ? `on ${String(o.host)}` : '', o.instance !== undefined ? `instance ${String(o.instance)}` : '']
    .filter((x) => x !== '');
  return parts.length === 0 ? '' : ` (${parts.join(' ')})`;
}
