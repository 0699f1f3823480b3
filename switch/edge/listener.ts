/**
 * One terminal-facing port: accepts connections up to its cap, wraps each in a FramedConn
 * of the listener's dialect and framing, and hands every decoded message to `onMessage`.
 * What a message means is the engine's business; the listener only owns sockets. With
 * `tls` it is a TLS server (./tls.ts): a connection is accepted once its handshake is
 * done and its client certificate's subject allowed; a failed one is counted, never fatal.
 *
 * Hostile clients meet its limits: per source address at accept, before a byte is read or
 * a handshake begun (./accept-gate.ts); slow frames and silent connections, by one sweep
 * (./slow-clients.ts); requests in flight, frames a turn and duplicates per connection
 * (./framed-conn.ts). Each refusal, close and pause is counted by reason (observe/guard-metrics.ts) and logged at most once a
 * second per reason, as is every line a connection can make a peer cause.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { IsoError, type Dialect, type IsoMessage } from '../../codec/index.js';
import type { ListenerConfig } from '../config/index.js';
import type { Counters } from '../observe/counters.js';
import { GuardCounts, type CloseReason, type RefusalReason } from '../observe/guard-metrics.js';
import type { Logger } from '../observe/log.js';
import type { WireMetrics } from '../observe/metrics.js';
import { RateLimitedLog } from '../observe/rate-log.js';
import { AcceptGate, sourceOf } from './accept-gate.js';
import { FramedConn } from './framed-conn.js';
import { overdue, Sweeper, sweepEveryMs } from './slow-clients.js';
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
  /** This listener's refusals, closes and pauses by reason (observe/metrics.ts guard()); absent: counted for nobody. */
  guard?: GuardCounts;
}

/** The switch's counter (observe/counters.ts) each close bumps, besides the listener's metric. */
const CLOSE_COUNTER: Record<CloseReason, string> = { first_frame_timeout: 'first_frame_timeouts', frame_timeout: 'frame_timeouts', bad_frame: 'bad_frame_closes' };

/**
 * Frames of one read a connection hands on before the others get their turn. A peer that
 * pipelines (an acquirer host in a burst, or a flood of one duplicate) would otherwise have
 * libuv read up to 2 MB from it in one go, and every other terminal wait behind some
 * 10,000 frames; 64 is twice the deepest window the e2e bench keeps per connection, so
 * ordinary traffic never meets it.
 */
const FRAMES_PER_TURN = 64;

/** Slow connections closed per turn of the event loop when many run out at once. */
const CLOSES_PER_TURN = 64;

/** When no slow-client limit is set, the sweep still runs this often to forget idle addresses. */
const GATE_SWEEP_MS = 1000;

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
  private readonly gate: AcceptGate;
  private readonly guard: GuardCounts;
  private readonly sweeper: Sweeper;
  /** Lines a peer can cause at will: at most one a second per reason or event. */
  private readonly noisy: RateLimitedLog;
  private readonly connLog: Logger;

  constructor(readonly cfg: ListenerConfig, readonly dialect: Dialect, private readonly deps: ListenerDeps) {
    this.gate = new AcceptGate(cfg);
    this.guard = deps.guard ?? new GuardCounts();
    this.noisy = new RateLimitedLog(deps.log);
    this.connLog = this.noisy.asLogger();
    this.sweeper = new Sweeper(sweepEveryMs(cfg) || GATE_SWEEP_MS, (now) => this.sweep(now));
    if (cfg.tls) {
      const material = new TlsMaterial(cfg.tls);
      const server = createTlsServer(this.serverOptions(material));
      const failures = new TlsFailureLog(deps.log, { listener: cfg.name }, deps.tlsFailed ?? (() => {}));
      // Without this listener a failed handshake is only an unhandled-looking socket error;
      // with it, one bad client is a count and a (rate-limited) line, never a crash. Node
      // leaves the socket open after some of them (a handshake timeout): it goes here.
      server.on('tlsClientError', (e, socket) => {
        failures.failed(e.message, socket.remoteAddress);
        socket.destroy();
      });
      server.on('secureConnection', (socket: TLSSocket) => this.secured(socket));
      this.tls = { material, server, failures };
    }
    // One plain TCP server either way: the accept gate runs before any byte is read, so a
    // refused address costs no TLS work, and only the admitted are handed to the TLS
    // server (its documented 'connection' injection), which never listens itself.
    this.server = createServer((socket) => {
      if (!this.arrived(socket)) return;
      if (this.tls) this.tls.server.emit('connection', socket);
      else this.accept(socket);
    });
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
        this.sweeper.start();
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
    this.sweeper.stop();
    for (const c of this.conns) c.close();
  }

  whenClosed(): Promise<void> {
    return this.closed;
  }

  private serverOptions(material: TlsMaterial): Parameters<typeof createTlsServer>[0] & object {
    const t = this.cfg.tls;
    // A handshake is part of the way to a first message, and is bounded like it (Node's own default is 120 s).
    const handshakeTimeout = this.cfg.firstFrameTimeoutMs > 0 ? this.cfg.firstFrameTimeoutMs : 120_000;
    return { ...material.options, requestCert: t?.requestCert === true, rejectUnauthorized: t?.rejectUnauthorized !== false, handshakeTimeout };
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

  /**
   * The accept gate, before anything is read (on TLS, before the handshake): false when the
   * address is over its limits, and the socket is gone. An admitted socket counts against
   * its address until it closes, whatever closes it.
   */
  private arrived(socket: Socket): boolean {
    const source = sourceOf(socket.remoteAddress);
    if (source === null) {
      socket.destroy();
      return false;
    }
    const refusal = this.gate.admit(source);
    if (refusal !== null) {
      this.refuse(socket, refusal, source);
      return false;
    }
    socket.once('close', () => this.gate.release(source));
    return true;
  }

  private refuse(socket: Socket, reason: RefusalReason, remote: string | undefined): void {
    this.deps.counters.inc('connections_rejected');
    this.guard.refuse(reason);
    this.noisy.line(reason === 'stopping' ? 'info' : 'warn', reason, 'connection refused', { listener: this.cfg.name, reason, remote });
    socket.destroy();
  }

  private sweep(now: number): void {
    const due: [FramedConn, CloseReason][] = [];
    for (const conn of this.conns) {
      const reason = overdue(conn, now, this.cfg);
      if (reason !== null) due.push([conn, reason]);
    }
    this.closeSlices(due, 0);
    this.gate.sweep();
  }

  /**
   * Closes CLOSES_PER_TURN at a time, the rest in the next turns: a swarm of slow clients
   * opened together runs out together, and thousands of sockets destroyed in one go would
   * hold every other terminal's answer for tens of milliseconds.
   */
  private closeSlices(due: [FramedConn, CloseReason][], from: number): void {
    const to = Math.min(due.length, from + CLOSES_PER_TURN);
    for (let i = from; i < to; i++) if (due[i][0].isOpen) this.closeFor(due[i][0], due[i][1]);
    if (to < due.length) setImmediate(() => this.closeSlices(due, to));
  }

  private closeFor(conn: FramedConn, reason: CloseReason): void {
    this.guard.close(reason);
    this.deps.counters.inc(CLOSE_COUNTER[reason]);
    if (reason !== 'bad_frame') this.noisy.line('warn', reason, 'slow client closed', { listener: this.cfg.name, reason, remote: conn.remote });
    conn.close();
  }

  private accept(socket: Socket): void {
    const { cfg, deps } = this;
    if (!this.accepting || this.conns.size >= cfg.maxConnections) {
      this.refuse(socket, this.accepting ? 'max_connections' : 'stopping', socket.remoteAddress);
      return;
    }
    deps.counters.inc('connections_opened');
    const conn = new FramedConn(socket, {
      dialect: this.dialect, framing: cfg.framing, maxFrame: cfg.maxFrame, idleTimeoutMs: cfg.idleTimeoutMs,
      log: this.connLog, counters: deps.counters, name: cfg.name, wire: deps.wire, mac: deps.mac,
      maxInFlight: cfg.maxInFlightPerConnection, framesPerTurn: FRAMES_PER_TURN,
      // A host retransmitting its whole window after a link blip is no flood.
      duplicates: { perSecond: cfg.duplicatesPerSecondPerConnection, burst: Math.max(cfg.maxInFlightPerConnection, cfg.duplicatesPerSecondPerConnection) },
      onInFlightCap: () => {
        this.guard.pause('in_flight_cap');
        this.noisy.line('info', 'in_flight_cap', 'reads paused: requests awaiting answers at the cap', { listener: cfg.name, remote: conn.remote, max: cfg.maxInFlightPerConnection });
      },
      onDuplicateThrottle: () => {
        this.guard.pause('duplicate_rate');
        this.noisy.line('warn', 'duplicate_rate', 'reads paused: duplicates past their rate', { listener: cfg.name, remote: conn.remote, perSecond: cfg.duplicatesPerSecondPerConnection });
      },
    });
    this.conns.add(conn);
    conn.onClose = (_c, error) => {
      this.conns.delete(conn);
      // Already closed and logged by the connection (a bad length prefix, or a message that
      // could not be addressed): counted here, by listener.
      if (error instanceof IsoError) this.closeFor(conn, 'bad_frame');
    };
    conn.onMessage = (msg) => this.onMessage(msg, conn, this);
    conn.onMacFailure = (msg, verdict) => this.onMacFailure(msg, verdict, conn, this);
  }
}
