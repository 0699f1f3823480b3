/**
 * A persistent link to an issuer or network host. It reconnects with backoff, signs on
 * when connected, echoes when idle, and hands every non-network-management response to
 * the switch. Requests on one link come from many terminals, so the link owns a STAN
 * sequence of its own: the switch re-numbers each request and maps the answer back by it.
 */
import { connect, type Socket } from 'node:net';
import type { Dialect, IsoMessage } from '../../codec/index.js';
import { Conn } from './framed-conn.js';
import type { Counters } from '../observe/counters.js';
import type { Logger } from '../observe/log.js';
import type { WireMetrics } from '../observe/metrics.js';
import { isNetworkMti, networkRequest, type NetCode } from './netmgmt.js';

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
  log: Logger;
  counters: Counters;
  /** Message counts of this link (metrics.ts). */
  wire?: WireMetrics;
}

export type LinkState = 'stopped' | 'down' | 'connecting' | 'signing-on' | 'up';

export class UpstreamLink {
  state: LinkState = 'stopped';
  /** Responses to the switch's requests (not 08x0). */
  onResponse: (msg: IsoMessage) => void = () => {};
  /** Called each time the link becomes usable. */
  onUp: () => void = () => {};
  onDown: () => void = () => {};

  private conn: Conn | null = null;
  /**
   * Starts at a random point: after a restart, a late answer to a request of the previous
   * process must not meet a new request under the same STAN.
   */
  private stan = Math.floor(Math.random() * 999_999);
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private echoTimer: NodeJS.Timeout | null = null;
  private netWait: { stan: string; timer: NodeJS.Timeout; code: NetCode } | null = null;
  private lastTraffic = 0;

  constructor(readonly opts: UpstreamOptions) {}

  get dialect(): Dialect {
    return this.opts.dialect;
  }

  get isUp(): boolean {
    return this.state === 'up';
  }

  /** The next STAN of this link's own sequence, 000001-999999. */
  nextStan(): number {
    this.stan = this.stan >= 999_999 ? 1 : this.stan + 1;
    return this.stan;
  }

  start(): void {
    if (this.state !== 'stopped') return;
    this.state = 'down';
    this.dial();
  }

  stop(): void {
    this.state = 'stopped';
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.echoTimer) clearInterval(this.echoTimer);
    if (this.netWait) clearTimeout(this.netWait.timer);
    this.retryTimer = this.echoTimer = null;
    this.netWait = null;
    this.conn?.close();
    this.conn = null;
  }

  /** Hands a request to the link; false when the link is not up or the write failed. */
  send(msg: IsoMessage): boolean {
    if (this.state !== 'up' || !this.conn) return false;
    this.lastTraffic = Date.now();
    return this.conn.send(msg);
  }

  private dial(): void {
    if (this.state === 'stopped') return;
    this.state = 'connecting';
    const { host, port, log, name } = this.opts;
    const socket: Socket = connect({ host, port });
    const conn = new Conn(socket, {
      dialect: this.opts.dialect, framing: this.opts.framing, maxFrame: this.opts.maxFrame,
      idleTimeoutMs: 0, log, counters: this.opts.counters, name: `upstream ${name}`, wire: this.opts.wire,
    });
    this.conn = conn;
    socket.once('connect', () => {
      this.attempt = 0;
      log.info('upstream connected', { upstream: name, host, port });
      if (this.opts.signOn) {
        this.state = 'signing-on';
        this.network('sign_on');
      } else {
        this.becomeUp();
      }
    });
    conn.onMessage = (msg) => this.messageIn(msg);
    conn.onClose = () => this.lost(conn);
  }

  private becomeUp(): void {
    this.state = 'up';
    this.lastTraffic = Date.now();
    if (this.echoTimer) clearInterval(this.echoTimer);
    if (this.opts.echoIdleMs > 0) {
      this.echoTimer = setInterval(() => {
        if (this.state === 'up' && !this.netWait && Date.now() - this.lastTraffic >= this.opts.echoIdleMs) this.network('echo');
      }, Math.max(50, Math.floor(this.opts.echoIdleMs / 2)));
      this.echoTimer.unref();
    }
    this.opts.log.info('upstream up', { upstream: this.opts.name });
    this.opts.counters.inc('upstream_up');
    this.onUp();
  }

  private network(code: NetCode): void {
    if (!this.conn) return;
    const stan = this.nextStan();
    const req = networkRequest(this.opts.dialect, code, stan, Date.now());
    const timer = setTimeout(() => {
      this.opts.log.warn('upstream did not answer network management, reconnecting', { upstream: this.opts.name, code });
      this.conn?.close();
    }, this.opts.netTimeoutMs);
    timer.unref();
    this.netWait = { stan: req.get(11) ?? '', timer, code };
    this.lastTraffic = Date.now();
    this.conn.send(req);
  }

  private messageIn(msg: IsoMessage): void {
    this.lastTraffic = Date.now();
    if (!isNetworkMti(msg.mti)) {
      this.onResponse(msg);
      return;
    }
    const w = this.netWait;
    if (!w || msg.get(11) !== w.stan) {
      // A request from the host (e.g. its own echo) gets a plain approval.
      if ((msg.mti.charCodeAt(2) - 48) % 2 === 0) this.opts.log.debug('upstream network request ignored', { upstream: this.opts.name, mti: msg.mti });
      return;
    }
    clearTimeout(w.timer);
    this.netWait = null;
    const rc = msg.get(39);
    if (rc !== '00' && rc !== '000') {
      this.opts.log.warn('upstream refused network management', { upstream: this.opts.name, code: w.code, rc });
      this.conn?.close();
      return;
    }
    if (w.code === 'sign_on' && this.state === 'signing-on') this.becomeUp();
  }

  private lost(conn: Conn): void {
    if (this.conn !== conn) return;
    const wasUp = this.state === 'up';
    this.conn = null;
    if (this.netWait) clearTimeout(this.netWait.timer);
    this.netWait = null;
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
