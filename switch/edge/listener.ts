/**
 * One terminal-facing port: accepts connections up to its cap, wraps each in a FramedConn
 * of the listener's dialect and framing, and hands every decoded message to `onMessage`.
 * What a message means is the engine's business; the listener only owns sockets. With
 * `tls` it is a TLS server (./tls.ts): a connection is accepted once its handshake is
 * done and its client certificate's subject allowed; a failed one is counted, never fatal.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import type { Dialect, IsoMessage } from '../../codec/index.js';
import type { ListenerConfig } from '../config/index.js';
import type { Counters } from '../observe/counters.js';
import type { Logger } from '../observe/log.js';
import type { WireMetrics } from '../observe/metrics.js';
import { FramedConn } from './framed-conn.js';
import type { MacGuard, MacVerdict } from './mac-guard.js';
import { subjectAllowed, TlsFailureLog, TlsMaterial, warnIfUnverified } from './tls.js';

export interface ListenerDeps {
  log: Logger;
  counters: Counters;
  wire?: WireMetrics;
  /** Bumps this listener's TLS failure count (observe/metrics.ts tlsFailureCounter). */
  tlsFailed?: () => void;
  /** MACs checked on every request and made on every answer; absent: none. */
  mac?: MacGuard | null;
}

export class Listener {
  readonly conns = new Set<FramedConn>();
  onMessage: (msg: IsoMessage, conn: FramedConn, listener: Listener) => void = () => {};
  /** A message whose MAC is missing or wrong; never handed to onMessage. */
  onMacFailure: (msg: IsoMessage, verdict: MacVerdict, conn: FramedConn, listener: Listener) => void = () => {};
  private readonly server: Server;
  /** With `tls`: the certificates served, and the failed-handshake log. */
  private readonly tls: { material: TlsMaterial; server: TlsServer; failures: TlsFailureLog } | null = null;
  private accepting = true;
  private readonly closed: Promise<void>;
  private closedResolve: () => void = () => {};

  constructor(readonly cfg: ListenerConfig, readonly dialect: Dialect, private readonly deps: ListenerDeps) {
    if (cfg.tls) {
      const material = new TlsMaterial(cfg.tls);
      const server = createTlsServer(this.serverOptions(material));
      const failures = new TlsFailureLog(deps.log, { listener: cfg.name }, deps.tlsFailed ?? (() => {}));
      // Without this listener a failed handshake is only an unhandled-looking socket error;
      // with it, one bad client is a count and a (rate-limited) line, never a crash.
      server.on('tlsClientError', (e, socket) => failures.failed(e.message, socket.remoteAddress));
      server.on('secureConnection', (socket: TLSSocket) => this.secured(socket));
      this.server = server;
      this.tls = { material, server, failures };
    } else {
      this.server = createServer((socket) => this.accept(socket));
    }
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

  /**
   * Reads the certificate files again: new connections get them, open ones keep theirs.
   * A bad file leaves the previous ones served; the error names the file.
   */
  reloadTls(): { ok: true } | { ok: false; error: string } {
    if (!this.tls) return { ok: true };
    const r = this.tls.material.reload();
    if (r.ok) this.tls.server.setSecureContext(this.serverOptions(this.tls.material));
    return r;
  }

  get hasTls(): boolean {
    return this.tls !== null;
  }

  listen(): Promise<void> {
    const { cfg } = this;
    if (cfg.tls) warnIfUnverified(cfg.tls, this.deps.log, { listener: cfg.name });
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(cfg.port, cfg.host, () => {
        this.server.off('error', reject);
        this.deps.log.info('listening', { listener: cfg.name, host: cfg.host, port: this.port, dialect: cfg.dialect, framing: cfg.framing, tls: cfg.tls !== undefined });
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

  private serverOptions(material: TlsMaterial): Parameters<typeof createTlsServer>[0] & object {
    const t = this.cfg.tls;
    return { ...material.options, requestCert: t?.requestCert === true, rejectUnauthorized: t?.rejectUnauthorized !== false };
  }

  private secured(socket: TLSSocket): void {
    const t = this.cfg.tls;
    if (t && t.allowedSubjects.length > 0 && !subjectAllowed(socket.getPeerCertificate(), t.allowedSubjects)) {
      const cn = socket.getPeerCertificate().subject?.CN;
      this.tls?.failures.failed(`client certificate subject (CN ${String(cn ?? '-')}) not in allowedSubjects`, socket.remoteAddress);
      socket.destroy();
      return;
    }
    this.accept(socket);
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
      log: deps.log, counters: deps.counters, name: cfg.name, wire: deps.wire, mac: deps.mac,
    });
    this.conns.add(conn);
    conn.onClose = () => this.conns.delete(conn);
    conn.onMessage = (msg) => this.onMessage(msg, conn, this);
    conn.onMacFailure = (msg, verdict) => this.onMacFailure(msg, verdict, conn, this);
  }
}
