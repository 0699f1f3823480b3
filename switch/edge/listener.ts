/**
 * One terminal-facing port: accepts connections up to its cap, wraps each in a FramedConn
 * of the listener's dialect and framing, and hands every decoded message to `onMessage`.
 * What a message means is the engine's business; the listener only owns sockets.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Dialect, IsoMessage } from '../../codec/index.js';
import type { ListenerConfig } from '../config/index.js';
import type { Counters } from '../observe/counters.js';
import type { Logger } from '../observe/log.js';
import type { WireMetrics } from '../observe/metrics.js';
import { FramedConn } from './framed-conn.js';

export interface ListenerDeps {
  log: Logger;
  counters: Counters;
  wire?: WireMetrics;
}

export class Listener {
  readonly conns = new Set<FramedConn>();
  onMessage: (msg: IsoMessage, conn: FramedConn, listener: Listener) => void = () => {};
  private readonly server: Server;
  private accepting = true;
  private readonly closed: Promise<void>;
  private closedResolve: () => void = () => {};

  constructor(readonly cfg: ListenerConfig, readonly dialect: Dialect, private readonly deps: ListenerDeps) {
    this.server = createServer((socket) => this.accept(socket));
    this.closed = new Promise((r) => (this.closedResolve = r));
  }

  get name(): string {
    return this.cfg.name;
  }

  /** The port bound (a listener configured with port 0 gets an ephemeral one); 0 before listen(). */
  get port(): number {
    const a = this.server.address();
    return typeof a === 'object' && a ? a.port : 0;
  }

  listen(): Promise<void> {
    const { cfg } = this;
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(cfg.port, cfg.host, () => {
        this.server.off('error', reject);
        this.deps.log.info('listening', { listener: cfg.name, host: cfg.host, port: this.port, dialect: cfg.dialect, framing: cfg.framing });
        resolve();
      });
    });
  }

  /**
   * Stops accepting. server.close() calls back only once every connection is gone, so the
   * returned promise (`whenClosed`) settles after closeConnections(), not before: a
   * connected terminal would otherwise hold shutdown until its idle timeout.
   */
  stopAccepting(): void {
    this.accepting = false;
    this.server.close(() => this.closedResolve());
  }

  closeConnections(): void {
    for (const c of this.conns) c.close();
  }

  whenClosed(): Promise<void> {
    return this.closed;
  }

  private accept(socket: Socket): void {
    const { cfg, deps } = this;
    if (!this.accepting || this.conns.size >= cfg.maxConnections) {
      deps.counters.inc('connections_rejected');
      socket.destroy();
      return;
    }
    deps.counters.inc('connections_opened');
    const conn = new FramedConn(socket, {
      dialect: this.dialect, framing: cfg.framing, maxFrame: cfg.maxFrame, idleTimeoutMs: cfg.idleTimeoutMs,
      log: deps.log, counters: deps.counters, name: cfg.name, wire: deps.wire,
    });
    this.conns.add(conn);
    conn.onClose = () => this.conns.delete(conn);
    conn.onMessage = (msg) => this.onMessage(msg, conn, this);
  }
}
