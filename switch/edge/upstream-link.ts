/**
 * A persistent link to an issuer or network host. It reconnects with backoff, signs on
 * when connected, echoes when idle, and matches every answer to its request through its
 * Mux (./mux.ts): requests on one link come from many terminals, so the link numbers them
 * with STANs of its own, and whoever asked gets the answer back by that STAN. With `tls`
 * it dials TLS and checks the host's certificate and name before anything is sent; a
 * failed handshake is counted and is one more reconnect with backoff.
 */
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { TlsConfig } from '../config/index.js';
import { isNetworkManagement, isOriginating, profileOf, responseTo, stanString, type Dialect, type IsoMessage, type NetCode } from '../../codec/index.js';
import type { Counters } from '../observe/counters.js';
import type { Logger } from '../observe/log.js';
import type { WireMetrics } from '../observe/metrics.js';
import { FramedConn } from './framed-conn.js';
import type { MacGuard, MacVerdict } from './mac-guard.js';
import { Mux, type Exchange } from './mux.js';
import { TlsFailureLog, TlsMaterial, warnIfUnverified } from './tls.js';

export interface UpstreamOptions {
  name: string;
  host: string;
  port: number;
  dialect: Dialect;
  framing: string;
  maxFrame: number;
  /** Delays between reconnect attempts; the last repeats. */
  backoffMs: number[];
  /** Send an echo after this long without traffic. */
  echoIdleMs: number;
  /** How long a sign-on or echo may take before the link is declared dead. */
  netTimeoutMs: number;
  signOn: boolean;
  /** This host takes a refund as a financial request (x200) instead of an advice (x220). */
  refundAsRequest?: boolean;
  /** The in-flight table's timer wheel tick. */
  tickMs: number;
  log: Logger;
  counters: Counters;
  /** Message counts of this link (observe/metrics.ts). */
  wire?: WireMetrics;
  /** Absent: plain TCP. */
  tls?: TlsConfig;
  /** Bumps this link's TLS failure count (observe/metrics.ts tlsFailureCounter). */
  tlsFailed?: () => void;
  /** MACs made on what the link sends and checked on what it receives; absent: none. */
  mac?: MacGuard | null;
  /** Counts an answer whose MAC failed (observe/metrics.ts macFailureCounter). */
  macFailed?: () => void;
}

export type LinkState = 'stopped' | 'down' | 'connecting' | 'signing-on' | 'up';

/** A network management request of the link's own, and the connection it went out on. */
interface NetRequest {
  code: NetCode;
  conn: FramedConn;
}

export class UpstreamLink {
  state: LinkState = 'stopped';
  /** Answers no request on this link is waiting for: late ones, or unknown. */
  onUnmatched: (msg: IsoMessage, link: UpstreamLink) => void = () => {};
  /** Called each time the link becomes usable. */
  onUp: () => void = () => {};
  onDown: () => void = () => {};
  /**
   * A new working key from the host, in its key-change request or in the answer to ours:
   * true when it was accepted (its check value matched) and stored. Absent keys: refused.
   */
  onKeyChange: (msg: IsoMessage) => boolean = () => false;
  /** Sales, reversals and the link's own network management, matched by STAN. */
  readonly mux: Mux;

  private conn: FramedConn | null = null;
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private echoTimer: NodeJS.Timeout | null = null;
  private netPending = 0;
  /** performance.now() of the last message either way: the echo timer is idle time, which a wall-clock step must not shorten or stretch. */
  private lastTraffic = 0;
  /** With `tls`: the context the next dial uses, and the failed-handshake log. */
  private readonly tls: { material: TlsMaterial; failures: TlsFailureLog } | null = null;
  private readonly network: Exchange<NetRequest> = {
    answered: (req, msg) => this.networkAnswered(req, msg),
    expired: (req) => this.networkExpired(req),
  };

  constructor(readonly opts: UpstreamOptions) {
    this.mux = new Mux({ tickMs: opts.tickMs });
    if (opts.tls) {
      this.tls = {
        material: new TlsMaterial(opts.tls),
        failures: new TlsFailureLog(opts.log, { upstream: opts.name }, opts.tlsFailed ?? (() => {})),
      };
    }
  }

  /** Reads the certificate files again for the next dial; the connection up now carries on. A bad file keeps the previous ones. */
  reloadTls(): { ok: true } | { ok: false; error: string } {
    return this.tls ? this.tls.material.reload() : { ok: true };
  }

  get hasTls(): boolean {
    return this.tls !== null;
  }

  get name(): string {
    return this.opts.name;
  }

  get refundAsRequest(): boolean {
    return this.opts.refundAsRequest === true;
  }

  get dialect(): Dialect {
    return this.opts.dialect;
  }

  get isUp(): boolean {
    return this.state === 'up';
  }

  /** Requests of others (sales) waiting for an answer before their deadline; the link's own network management not counted. */
  get inFlight(): number {
    return this.mux.inFlight - this.netPending;
  }

  start(): void {
    if (this.state !== 'stopped') return;
    this.state = 'down';
    if (this.opts.tls) warnIfUnverified(this.opts.tls, this.opts.log, { upstream: this.opts.name });
    this.mux.start();
    this.dial();
  }

  stop(): void {
    this.state = 'stopped';
    this.mux.stop();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.echoTimer) clearInterval(this.echoTimer);
    this.retryTimer = this.echoTimer = null;
    this.conn?.close();
    this.conn = null;
  }

  /** Hands a request to the link; false when the link is not up or the write failed. */
  send(msg: IsoMessage): boolean {
    if (this.state !== 'up' || !this.conn) return false;
    this.lastTraffic = performance.now();
    return this.conn.send(msg);
  }

  private dial(): void {
    if (this.state === 'stopped') return;
    this.state = 'connecting';
    const { host, port, log, name } = this.opts;
    const tls = this.tls;
    const t = this.opts.tls;
    // Node checks the certificate against servername, else host (checkServerIdentity).
    const socket: Socket = tls && t
      ? tlsConnect({ host, port, secureContext: tls.material.context, servername: t.servername ?? undefined, rejectUnauthorized: t.rejectUnauthorized })
      : connect({ host, port });
    // A refused or unreachable host is not a TLS failure: only an error between the TCP
    // connect and the handshake's end counts.
    let tcpUp = false;
    let connected = false;
    if (tls) {
      socket.once('connect', () => { tcpUp = true; });
      socket.once('error', (e) => { if (tcpUp && !connected) tls.failures.failed(e.message, `${host}:${port}`); });
    }
    const conn = new FramedConn(socket, {
      dialect: this.opts.dialect, framing: this.opts.framing, maxFrame: this.opts.maxFrame,
      log, counters: this.opts.counters, name: `upstream ${name}`, wire: this.opts.wire, mac: this.opts.mac,
    });
    conn.onMacFailure = (msg, verdict) => this.unauthentic(msg, verdict);
    this.conn = conn;
    socket.once(tls ? 'secureConnect' : 'connect', () => {
      connected = true;
      this.attempt = 0;
      log.info('upstream connected', { upstream: name, host, port });
      if (this.opts.signOn) {
        this.state = 'signing-on';
        this.ask('sign_on');
      } else {
        this.becomeUp();
      }
    });
    conn.onMessage = (msg) => this.messageIn(msg);
    conn.onClose = () => this.lost(conn);
  }

  private becomeUp(): void {
    this.state = 'up';
    this.lastTraffic = performance.now();
    if (this.echoTimer) clearInterval(this.echoTimer);
    if (this.opts.echoIdleMs > 0) {
      this.echoTimer = setInterval(() => {
        if (this.state === 'up' && this.netPending === 0 && performance.now() - this.lastTraffic >= this.opts.echoIdleMs) this.ask('echo');
      }, Math.max(50, Math.floor(this.opts.echoIdleMs / 2)));
      this.echoTimer.unref();
    }
    this.opts.log.info('upstream up', { upstream: this.opts.name });
    this.opts.counters.inc('upstream_up');
    this.onUp();
  }

  /** A network management request of the link's own, on the current connection. */
  private ask(code: NetCode): void {
    const conn = this.conn;
    if (!conn) return;
    const req: NetRequest = { code, conn };
    const stan = this.mux.track(this.network, req, this.opts.netTimeoutMs);
    const msg = profileOf(this.opts.dialect).networkRequest(this.opts.dialect, code, stanString(stan), Date.now());
    this.lastTraffic = performance.now();
    if (conn.send(msg)) this.netPending++;
    else this.mux.release(stan);
  }

  /** Asks the host for a new working key; false when the link is not up. */
  requestKeyChange(): boolean {
    if (this.state !== 'up') return false;
    this.ask('key_change');
    return true;
  }

  /**
   * The host's own network management: an echo is answered, a key change answered once
   * the key is judged (approved, or refused as a security violation); anything else is
   * answered "invalid transaction" rather than left to time out at the host.
   */
  private hostAsks(msg: IsoMessage): void {
    const conn = this.conn;
    if (!conn) return;
    const profile = profileOf(this.opts.dialect);
    const code = profile.networkCode(msg);
    let rc: string;
    if (code === 'key_change') rc = profile.localCodes[this.onKeyChange(msg) ? 'approved' : 'mac_error'];
    else if (code === 'echo' || code === 'sign_on' || code === 'sign_off' || code === 'cutover') rc = profile.localCodes.approved;
    else rc = profile.localCodes.invalid_transaction;
    const res = responseTo(this.opts.dialect, msg, rc);
    for (const n of [7, 11, 24, 53, 70]) {
      const v = msg.values[n];
      if (v !== undefined && this.opts.dialect.fields[n]) res.values[n] = v;
    }
    this.lastTraffic = performance.now();
    conn.send(res);
  }

  private networkAnswered(req: NetRequest, msg: IsoMessage): void {
    this.netPending--;
    // An answer on a connection that has since been replaced changes nothing.
    if (req.conn !== this.conn) return;
    const rc = msg.get(39);
    if (rc !== '00' && rc !== '000') {
      this.opts.log.warn('upstream refused network management', { upstream: this.opts.name, code: req.code, rc });
      req.conn.close();
      return;
    }
    if (req.code === 'sign_on' && this.state === 'signing-on') this.becomeUp();
    if (req.code === 'key_change') this.onKeyChange(msg);
  }

  private networkExpired(req: NetRequest): void {
    this.netPending--;
    if (req.conn !== this.conn) return;
    this.opts.log.warn('upstream did not answer network management, reconnecting', { upstream: this.opts.name, code: req.code });
    req.conn.close();
  }

  private messageIn(msg: IsoMessage): void {
    this.lastTraffic = performance.now();
    if (isOriginating(msg.mti)) {
      if (isNetworkManagement(msg.mti)) this.hostAsks(msg);
      else this.opts.counters.inc('unexpected_requests');
      return;
    }
    if (this.mux.dispatch(msg)) return;
    // A network management answer after its deadline: the link was already reconnected.
    if (isNetworkManagement(msg.mti)) this.opts.log.debug('late network management answer ignored', { upstream: this.opts.name, mti: msg.mti });
    else this.onUnmatched(msg, this);
  }

  /**
   * An answer whose MAC is missing or wrong is never relayed: whoever asked learns it is
   * unauthentic (a sale: a mac_failure, reversed); a request from the host is dropped.
   */
  private unauthentic(msg: IsoMessage, verdict: MacVerdict): void {
    this.lastTraffic = performance.now();
    this.opts.counters.inc('mac_failures');
    this.opts.macFailed?.();
    this.opts.log.warn('upstream message failed its MAC check', { upstream: this.opts.name, mti: msg.mti, stan: msg.get(11), verdict });
    if (isOriginating(msg.mti)) return;
    if (!this.mux.dispatchUnauthentic(msg)) this.opts.log.debug('unauthentic answer matches nothing in flight', { upstream: this.opts.name, mti: msg.mti });
  }

  private lost(conn: FramedConn): void {
    if (this.conn !== conn) return;
    const wasUp = this.state === 'up';
    this.conn = null;
    if (this.echoTimer) clearInterval(this.echoTimer);
    this.echoTimer = null;
    if (this.state === 'stopped') return;
    this.state = 'down';
    if (wasUp) {
      this.opts.log.warn('upstream down', { upstream: this.opts.name });
      this.opts.counters.inc('upstream_down');
      this.onDown();
    }
    const b = this.opts.backoffMs;
    const delay = b[Math.min(this.attempt, b.length - 1)];
    this.attempt++;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.dial();
    }, delay);
    this.retryTimer.unref();
  }
}
