/**
 * This node's heartbeat row in the shared store: while it is fresh no other node takes
 * this node's in-flight sales (engine/recovery.ts takes a silent node's).
 */
import { hostname } from 'node:os';
import type { EngineContext } from './context.js';

export class Heartbeat {
  private timer: NodeJS.Timeout | null = null;
  private readonly startedAt = Date.now();

  constructor(private readonly ctx: EngineContext, private readonly ports: () => number[]) {}

  /** The first beat, awaited: a failure stops the start, since no other node may take this one's work from here on. */
  async first(): Promise<void> {
    await this.ctx.journal.store.heartbeat(this.ctx.node, Date.now(), JSON.stringify({ pid: process.pid, host: hostname(), startedAt: this.startedAt }));
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
    const info = JSON.stringify({ pid: process.pid, host: hostname(), startedAt: this.startedAt, ports: this.ports() });
    try {
      await ctx.journal.store.heartbeat(ctx.node, Date.now(), info);
    } catch (e) {
      ctx.counters.inc('store_errors');
      ctx.log.error('heartbeat not stored', { node: ctx.node, error: (e as Error).message });
    }
  }
}
