/**
 * The switch: terminals' requests in, forwarded upstream under the link's own STAN,
 * answers relayed back; every timeout, late or undeliverable approval and terminal
 * reversal is put to rules/ and, where it says so, turned into a queued reversal.
 *
 * Policy is never decided here: the switch observes (an answer, a deadline, a failed
 * write), asks rules/, and does what the decision says.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { createServer, type Server, type Socket } from 'node:net';
import { responseTo, type Dialect, type IsoMessage } from '../../codec/index.js';
import type { CompiledRules, Decision, DecisionCase, LocalEvent } from '../../rules/index.js';
import { CLASS_INFO, RulesHolder } from '../../rules/index.js';
import type { FailureClass } from '../../rules/types.js';
import { responseCode, type LocalCode } from '../edge/codes.js';
import { Conn } from '../edge/framed-conn.js';
import { Counters } from '../observe/counters.js';
import { Metrics } from '../observe/metrics.js';
import type { Logger } from '../observe/log.js';
import { summarize } from '../observe/log.js';
import { Matcher } from '../matcher/index.js';
import { isNetworkMti, networkCode, stanString, transmissionTime } from '../edge/netmgmt.js';
import type { ReversalQueue } from '../undo/reversals.js';
import { SafQueue } from '../undo/reversal-queue.js';
import { MemoryStore } from '../store/memory.js';
import { CardKeys } from '../store/secrets.js';
import { isDuplicateRequest, type Store, type TxnRow } from '../store/types.js';
import { Journal, withApprovalCode } from './journal.js';
import { senderOf, TxnTable, type Txn } from './txn-table.js';
import { UpstreamLink } from '../edge/upstream-link.js';
import { Velocity } from './velocity.js';
import type { SwitchConfig, ListenerConfig } from '../config/load.js';
import type { EventBus } from '../observe/events/emitter.js';

/** Fields the terminal's answer takes from the issuer's response. */
const FROM_ISSUER = [4, 38, 39, 44, 54, 55];
/** Sensitive authentication data (F55 may carry tag 57, track 2): forwarded once, never kept (PCI DSS 3.3.1). */
const NOT_KEPT = [35, 36, 45, 52, 55];

/** What the switch keeps its records in; both default to memory (tests, benches). */
export interface SwitchDeps {
  store?: Store;
  keys?: CardKeys;
  /** Default: a registry of its own. */
  metrics?: Metrics;
  /** Lifecycle events (issue 7); absent or null: off. */
  events?: EventBus | null;
}

interface Listening {
  cfg: ListenerConfig;
  server: Server;
  conns: Set<Conn>;
  dialect: Dialect;
}

export class Switch {
  readonly counters = new Counters();
  readonly metrics: Metrics;
  readonly txns: TxnTable;
  readonly links = new Map<string, UpstreamLink>();
  readonly reversals: ReversalQueue;
  readonly rules: RulesHolder;
  readonly journal: Journal;
  private readonly saf: SafQueue;
  private readonly matcher: Matcher<number, Txn>;
  /** Expired requests by upstream STAN, so a late answer can be recognised. */
  private readonly expired = new Map<number, Txn>();
  private readonly listeners: Listening[] = [];
  private readonly velocity: Velocity;
  private sweepTimer: NodeJS.Timeout | null = null;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private orphanTimer: NodeJS.Timeout | null = null;
  private orphanBusy = false;
  /** This node's id in the store (config `node`, default the host name). */
  readonly node: string;
  private readonly startedAt = Date.now();
  /** The switch opened (and closes) the store itself: the in-memory default. */
  private readonly ownsStore: boolean;
  private stopping = false;

  constructor(readonly cfg: SwitchConfig, rules: CompiledRules, readonly log: Logger, private readonly dialects: (name: string) => Dialect, deps: SwitchDeps = {}) {
    this.metrics = deps.metrics ?? new Metrics();
    this.rules = new RulesHolder(rules);
    this.txns = new TxnTable(cfg.retentionMs, cfg.maxRetained);
    this.velocity = new Velocity(rules.velocityWindowMs);
    const keys = deps.keys ?? new CardKeys(cfg.panHashKey ? Buffer.from(cfg.panHashKey, 'utf8') : randomBytes(32));
    this.ownsStore = deps.store === undefined;
    this.node = cfg.node ?? hostname();
    this.journal = new Journal(deps.store ?? new MemoryStore(), keys, this.node, () => this.rules.current.calendar, log, this.counters, deps.events ?? null);
    for (const u of cfg.upstreams) {
      const link = new UpstreamLink({
        name: u.name, host: u.host, port: u.port, dialect: dialects(u.dialect), framing: u.framing,
        maxFrame: u.maxFrame, backoffMs: u.reconnectBackoffMs, echoIdleMs: u.echoIdleMs,
        netTimeoutMs: u.netTimeoutMs, signOn: u.signOn, log, counters: this.counters, wire: this.metrics.wire('upstream', u.dialect),
      });
      link.onResponse = (msg) => this.upstreamResponse(link, msg);
      this.links.set(u.name, link);
    }
    this.saf = new SafQueue(this.journal.store, this.links, {
      window: cfg.reversal.window, responseTimeoutMs: cfg.reversal.responseTimeoutMs, backoffMs: cfg.reversal.backoffMs,
      maxAttempts: cfg.reversal.maxAttempts, maxAgeMs: cfg.reversal.maxAgeMs,
      outcomeOf: (rc) => this.rules.current.reversalResponse(rc), log, counters: this.counters, keys, events: deps.events ?? null,
      lease: { node: this.node, leaseMs: cfg.cluster.leaseMs },
    });
    this.reversals = this.saf;
    this.matcher = new Matcher<number, Txn>({ tickMs: cfg.tickMs, onExpire: (stan, txn) => this.expire(stan, txn) });
    // Gauges are read at scrape time, never kept up to date per message.
    this.metrics.attach({
      counters: this.counters, store: this.journal.store, inFlight: () => this.matcher.size, saf: () => this.saf.depth(),
      connections: () => this.listeners.map((x) => [x.cfg.name, x.conns.size] as const),
      links: () => [...this.links.values()].map((k) => [k.opts.name, k.isUp] as const),
    });
  }

  /** Ports actually bound (listeners configured with port 0 get an ephemeral one). */
  ports(): number[] {
    return this.listeners.map((l) => {
      const a = l.server.address();
      return typeof a === 'object' && a ? a.port : 0;
    });
  }

  /** Recovers from the store first: nothing is accepted before every orphan has its reversal queued. */
  async start(): Promise<void> {
    if (this.ownsStore) await this.journal.store.open();
    // Alive before anything else (a failure stops the start): no other node may take this
    // one's work from here on.
    await this.journal.store.heartbeat(this.node, Date.now(), JSON.stringify({ pid: process.pid, host: hostname(), startedAt: this.startedAt }));
    await this.recover();
    this.matcher.start();
    this.reversals.start();
    for (const link of this.links.values()) link.start();
    for (const cfg of this.cfg.listeners) await this.listen(cfg);
    this.sweepTimer = setInterval(() => this.sweep(), 1000);
    this.sweepTimer.unref();
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), this.cfg.cluster.heartbeatMs);
    this.heartbeatTimer.unref();
    this.orphanTimer = setInterval(() => void this.takeOrphans(), Math.max(100, Math.floor(this.cfg.cluster.nodeDeadMs / 4)));
    this.orphanTimer.unref();
  }

  /** This node's heartbeat row; a failed one is logged (the next may land before nodeDeadMs). */
  private async heartbeat(): Promise<void> {
    const info = JSON.stringify({ pid: process.pid, host: hostname(), startedAt: this.startedAt, ports: this.listeners.length ? this.ports() : [] });
    try {
      await this.journal.store.heartbeat(this.node, Date.now(), info);
    } catch (e) {
      this.counters.inc('store_errors');
      this.log.error('heartbeat not stored', { node: this.node, error: (e as Error).message });
    }
  }

  /**
   * Another node's heartbeat stopped: the transactions it sent upstream without an outcome
   * become this node's, and are treated as crash recovery treats its own (timed out, so
   * rules/ says reverse). Its reversals come over through the reversal leases.
   */
  private async takeOrphans(): Promise<void> {
    if (this.orphanBusy || this.stopping) return;
    this.orphanBusy = true;
    try {
      const now = Date.now();
      const rows = await this.journal.store.claimOrphanTxns(this.node, now - this.cfg.cluster.nodeDeadMs, now);
      if (rows.length > 0) {
        this.log.warn('took over transactions of a node that stopped heartbeating', { count: rows.length, from: [...new Set(rows.map((r) => r.node))].join(',') });
        for (const row of rows) this.reverseOrphan(row, false);
      }
    } catch (e) {
      this.counters.inc('store_errors');
      this.log.error('orphan takeover failed; retried', { error: (e as Error).message });
    } finally {
      this.orphanBusy = false;
    }
  }

  private listenerDialect(name: string): Dialect {
    return this.dialects((this.cfg.listeners.find((x) => x.name === name) ?? this.cfg.listeners[0]).dialect);
  }

  /** A transaction left in flight (by this node before a restart, or by a dead one) reversed as a timeout. */
  private reverseOrphan(row: TxnRow, record: boolean): void {
    const link = this.links.get(row.upstream ?? '');
    const t = this.journal.rebuild(row, this.listenerDialect(row.listener), link?.dialect);
    if (!t) {
      this.counters.inc('recovery_failed');
      this.manualOrphan(row, link === undefined
        ? `its upstream ${JSON.stringify(row.upstream ?? '')} is not configured on node ${this.node}`
        : row.sealed === null ? 'the journal row holds no request to build a reversal from' : 'the journal row\'s request cannot be opened (another PAN key?)');
      return;
    }
    this.txns.add(t);
    this.counters.inc(record ? 'recovered_in_flight' : 'orphans_taken_over');
    if (record) void this.journal.record(t, { note: 'found without an outcome at start-up: the switch stopped while it was in flight' }, 'recovered');
    this.decideAndAct(t, 'timeout');
  }

  /**
   * A sale left in flight that this node cannot reverse itself: it may hold the
   * cardholder's money, so it goes to the manual-handling queue (a reversal row in state
   * manual, with the sealed request as its original) and the transaction to `recovered`,
   * instead of only a log line. A person settles it with the issuer.
   */
  private manualOrphan(row: TxnRow, why: string): void {
    const upstream = row.upstream ?? '';
    // The F7 sent upstream is inside the sealed request, which may be what cannot be opened: the row's (the terminal's) stands in.
    const id = reversalIdOf(upstream, row.upstreamStan ?? '', row.f7 ?? '', row.createdAt);
    const reason = this.timeoutReason(row);
    const explanation = `left in flight without an outcome and not reversible here: ${why}; reverse it with the issuer by hand (reason ${reason})`;
    this.log.error('cannot reverse a transaction left in flight; sent to manual handling', { txn: row.id, upstream, why });
    this.saf.enqueueManual({ id, upstream, txnId: row.id, reason, explanation, original: row.sealed ?? '', why });
    void this.journal.store.updateTxn({
      id: row.id, state: 'recovered', at: Date.now(), reversalId: id, decision: `review: ${explanation}`, note: 'sent to manual handling',
    }).catch((e: unknown) => {
      this.counters.inc('store_errors');
      this.log.error('journal write failed', { txn: row.id, error: (e as Error).message });
    });
  }

  /** The reversal reason rules/ gives a timeout on the row's upstream (its overrides included); 68 when it gives none. */
  private timeoutReason(row: TxnRow): string {
    try {
      const d = this.rules.current.decide(
        { mti: row.mti, event: 'timeout', amount: row.amount ?? '0', currency: row.currency ?? '000', upstream: row.upstream ?? undefined, originalTime: row.createdAt, now: Date.now() },
        { terminalUndos: 0, merchantUndos: 0, cardUndos: 0, cardRefundsToday: 0, cardRefundAmountToday: 0 },
      );
      return d.reason ?? '68';
    } catch {
      return '68';
    }
  }

  /** Resolves true once an upstream link is signed on, false after maxMs. */
  async waitUntilUp(maxMs = 5000): Promise<boolean> {
    await waitFor(() => this.pickLink() !== undefined, maxMs);
    return this.pickLink() !== undefined;
  }

  /**
   * After a restart: resume the reversal queue, remember recent transactions (so a
   * duplicate or a terminal's reversal that arrives now still finds its original), and
   * treat every transaction that left without a final outcome as timed out.
   */
  private async recover(): Promise<void> {
    const store = this.journal.store;
    await this.saf.load();
    const now = Date.now();
    // The newest maxRetained only: the table keeps no more, and older ones are found in the
    // journal when a duplicate or a terminal's reversal asks for them.
    for (const row of await store.recentTxns(now - this.cfg.retentionMs, this.cfg.maxRetained)) {
      if (row.state === 'forwarded') continue;
      const t = this.journal.rebuild(row, this.listenerDialect(row.listener), this.links.get(row.upstream ?? '')?.dialect);
      if (t) this.txns.add(t);
    }
    // Only this node's own: another node's in-flight sales are its business while it
    // heartbeats, and become orphans (takeOrphans) when it stops.
    const orphans = (await store.unfinishedTxns()).filter((row) => row.node === this.node);
    for (const row of orphans) this.reverseOrphan(row, true);
    await store.flush();
    await this.takeOrphans();
    if (orphans.length > 0) this.log.warn('crash recovery: transactions left in flight were treated as timed out', { count: orphans.length });
  }

  /** Stops accepting, lets in-flight requests finish or expire, then lets reversals drain (bounded). */
  async stop(drainMs = 10_000): Promise<void> {
    this.stopping = true;
    // server.close() calls back only once every connection is gone, so it is awaited after
    // the connections are closed below, not before the drain (a connected terminal would
    // hold shutdown until its idle timeout).
    const closed = this.listeners.map((l) => new Promise<void>((r) => l.server.close(() => r())));
    const until = Date.now() + drainMs;
    await waitFor(() => this.matcher.size === 0, this.cfg.upstreams.reduce((m, u) => Math.max(m, u.timeoutMs), 0) + 1000);
    await waitFor(() => this.reversals.outstanding === 0, Math.max(0, until - Date.now()));
    const left = this.reversals.outstanding;
    if (left > 0) this.log.error('reversals still outstanding at shutdown', { outstanding: left });
    this.matcher.stop();
    this.reversals.stop();
    if (left > 0) {
      // Another node (if any) takes them at its next claim rather than after the lease.
      await this.saf.releaseLeases().catch((e: unknown) => this.log.error('reversal leases not released at shutdown', { error: (e as Error).message }));
    }
    await this.journal.store.flush().catch((e: unknown) => this.log.error('journal flush failed at shutdown', { error: (e as Error).message }));
    for (const link of this.links.values()) link.stop();
    for (const l of this.listeners) for (const c of l.conns) c.close();
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    if (this.orphanTimer) clearInterval(this.orphanTimer);
    await Promise.all(closed);
    if (this.ownsStore) await this.journal.store.close();
  }

  private listen(cfg: ListenerConfig): Promise<void> {
    const dialect = this.dialects(cfg.dialect);
    const conns = new Set<Conn>();
    const wire = this.metrics.wire('terminal', cfg.dialect);
    const server = createServer((socket: Socket) => {
      if (this.stopping || conns.size >= cfg.maxConnections) {
        this.counters.inc('connections_rejected');
        socket.destroy();
        return;
      }
      this.counters.inc('connections_opened');
      const conn = new Conn(socket, {
        dialect, framing: cfg.framing, maxFrame: cfg.maxFrame, idleTimeoutMs: cfg.idleTimeoutMs,
        log: this.log, counters: this.counters, name: cfg.name, wire,
      });
      conns.add(conn);
      conn.onClose = () => conns.delete(conn);
      conn.onMessage = (msg) => this.request(l, msg, conn);
    });
    const l: Listening = { cfg, server, conns, dialect };
    this.listeners.push(l);
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(cfg.port, cfg.host, () => {
        server.off('error', reject);
        this.log.info('listening', { listener: cfg.name, host: cfg.host, port: this.ports()[this.listeners.indexOf(l)], dialect: cfg.dialect, framing: cfg.framing });
        resolve();
      });
    });
  }

  // ---- requests from terminals and acquirer hosts ----------------------------------------

  private request(l: Listening, msg: IsoMessage, conn: Conn): void {
    const mti = msg.mti;
    const fn = mti.charCodeAt(2) - 48;
    if (fn % 2 === 1) {
      this.counters.inc('unexpected_responses');
      this.log.warn('response from a terminal ignored', { listener: l.cfg.name, ...summarize(msg) });
      return;
    }
    if (isNetworkMti(mti)) return this.network(l, msg, conn);
    const cls = mti[1];
    if ((cls === '1' || cls === '2') && fn === 0) return this.forward(l, msg, conn);
    if (cls === '4' && (fn === 0 || fn === 2)) return this.terminalReversal(l, msg, conn);
    this.counters.inc('unsupported_requests');
    this.answer(l, conn, responseTo(l.dialect, msg, responseCode(l.dialect, 'invalid_transaction')));
  }

  private network(l: Listening, msg: IsoMessage, conn: Conn): void {
    const code = networkCode(l.dialect, msg);
    this.log.debug('network management', { listener: l.cfg.name, code });
    const res = responseTo(l.dialect, msg, responseCode(l.dialect, code ? 'approved' : 'invalid_transaction'));
    for (const n of [7, 11, 24, 70]) {
      const v = msg.values[n];
      if (v !== undefined && l.dialect.fields[n]) res.values[n] = v;
    }
    this.answer(l, conn, res);
  }

  private forward(l: Listening, msg: IsoMessage, conn: Conn): void {
    const stan = msg.get(11);
    const f7 = msg.get(7);
    if (stan === undefined || msg.get(41) === undefined) {
      this.counters.inc('rejected_missing_keys');
      this.answer(l, conn, responseTo(l.dialect, msg, responseCode(l.dialect, 'format_error')));
      return;
    }
    const sender = senderOf(msg);
    const key = `${sender}|${stan}|${f7 ?? ''}`;
    const known = this.txns.get(key);
    if (known) {
      // A duplicate: the stored answer, or wait for the one in flight. Never forwarded twice.
      this.counters.inc('duplicates');
      if (this.journal.events) this.journal.received(known, known.answer ? 'duplicate: answered again' : 'duplicate: waits for the answer in flight');
      if (known.answer) this.answer(l, conn, known.answer);
      else known.waiters.push(conn);
      return;
    }
    const now = Date.now();
    const txn: Txn = {
      id: this.journal.nextId(), key, dayKey: `${sender}|${stan}|${(f7 ?? msg.get(13) ?? '').slice(0, 4)}`, request: msg, listener: l.cfg.name,
      state: 'inflight', conn, waiters: [], upstream: '', sent: null, upstreamStan: 0, startedAt: now, receivedAt: performance.now(), sentAt: 0,
      answer: null, reversalId: null, reverseWhenDone: null, decision: null,
    };
    this.txns.add(txn);
    if (this.journal.events) this.journal.received(txn);
    const link = this.pickLink();
    if (!link) {
      txn.state = 'not_sent';
      this.counters.inc('no_upstream');
      if (this.journal.events) this.journal.event('NOT_SENT', txn, { txnState: 'not_sent', note: 'no upstream link is up' });
      this.finish(l, txn, this.localAnswer(l, msg, 'issuer_unavailable'));
      return;
    }
    let own = link.nextStan();
    while (!this.matcher.track(own, txn, this.upstreamTimeout(link))) own = link.nextStan();
    const out = msg.clone();
    if (!link.dialect.tpdu) out.tpdu = null;
    if (link.dialect.headerLength === 0) out.header = null;
    out.set(11, stanString(own));
    // F90 of a reversal carries the original's F7: without one it could not be built.
    if (!out.has(7) && link.dialect.fields[7]) out.set(7, transmissionTime(now));
    txn.upstream = link.opts.name;
    txn.upstreamStan = own;
    txn.sent = out;
    for (const n of NOT_KEPT) msg.delete(n);
    // Write-ahead: the request is in the journal before it leaves, so a crash from here
    // on is undone by recovery. The deadline already runs: the journal's wait counts.
    this.journal.begin(txn, now).then(
      () => this.send(l, txn, link, own),
      (err: unknown) => {
        this.matcher.resolve(own);
        if (isDuplicateRequest(err)) {
          this.duplicateOfStored(l, txn, this.upstreamTimeout(link));
          return;
        }
        txn.state = 'not_sent';
        this.counters.inc('store_errors');
        this.log.error('journal write failed; request not forwarded', { txn: txn.id, error: (err as Error).message });
        this.finish(l, txn, this.localAnswer(l, msg, 'issuer_unavailable'));
      },
    );
  }

  /**
   * The store refused the journal row: another transaction (on another node, or from
   * before a restart) holds this sender|STAN|F7. Never forwarded; the terminal gets that
   * transaction's outcome once it has one (polled until the upstream deadline), else 91.
   */
  private duplicateOfStored(l: Listening, txn: Txn, timeoutMs: number): void {
    this.counters.inc('duplicates');
    this.counters.inc('duplicates_across_nodes');
    txn.state = 'not_sent';
    txn.sent = null;
    txn.upstream = '';
    const req = txn.request;
    const terminal = req.get(41) ?? '';
    const stan = req.get(11) ?? '';
    const f7 = req.get(7) ?? null;
    const sender = senderOf(req);
    const deadline = Date.now() + timeoutMs + 1000;
    const answer = (row: TxnRow | undefined): void => {
      if (txn.answer !== null) return; // answered already (its deadline passed first)
      const code = row && (row.state === 'approved' || row.state === 'declined') ? row.responseCode : null;
      this.log.info('duplicate of a transaction in the store: answered from it', { txn: row?.id, state: row?.state ?? 'not found', rc: code ?? '(91)' });
      this.finish(l, txn, code !== null && row ? withApprovalCode(responseTo(l.dialect, req, code), l.dialect, row) : this.localAnswer(l, req, 'issuer_unavailable'));
      // From now on this node knows the original itself (later duplicates, a terminal's
      // reversal of it): the stored transaction replaces the duplicate in memory.
      const t = row && row.state !== 'forwarded'
        ? this.journal.rebuild(row, this.listenerDialect(row.listener), this.links.get(row.upstream ?? '')?.dialect)
        : null;
      if (t) this.txns.add(t);
    };
    const poll = (): void => {
      this.journal.store.findTxns({ terminal, stan }).then(
        (rows) => {
          const row = rows.filter((r) => r.id !== txn.id && r.sender === sender && r.f7 === f7 && r.mti[1] !== '4').pop();
          if ((row && row.state !== 'forwarded') || Date.now() >= deadline || this.stopping) answer(row);
          else setTimeout(poll, 50).unref();
        },
        (err: unknown) => {
          this.counters.inc('store_errors');
          this.log.error('duplicate look-up failed', { error: (err as Error).message });
          answer(undefined);
        },
      );
    };
    poll();
  }

  private send(l: Listening, txn: Txn, link: UpstreamLink, own: number): void {
    // Expired while the journal wrote: the terminal has its answer and the reversal is queued.
    if (txn.state !== 'inflight') return;
    const out = txn.sent as IsoMessage;
    if (!link.send(out)) {
      this.matcher.resolve(own);
      txn.state = 'not_sent';
      this.counters.inc('upstream_write_failed');
      void this.journal.record(txn, { note: 'the upstream link was down' });
      this.finish(l, txn, this.localAnswer(l, txn.request, 'issuer_unavailable'));
      return;
    }
    txn.sentAt = performance.now();
    for (const n of NOT_KEPT) out.delete(n);
    this.counters.inc('forwarded');
  }

  private pickLink(): UpstreamLink | undefined {
    for (const link of this.links.values()) if (link.isUp) return link;
    return undefined;
  }

  private upstreamTimeout(link: UpstreamLink): number {
    return this.cfg.upstreams.find((u) => u.name === link.opts.name)?.timeoutMs ?? 8000;
  }

  private listenerOf(txn: Txn): Listening {
    return this.listeners.find((x) => x.cfg.name === txn.listener) ?? this.listeners[0];
  }

  // ---- answers from upstream --------------------------------------------------------------

  private upstreamResponse(link: UpstreamLink, msg: IsoMessage): void {
    if (this.reversals.handleResponse(link.opts.name, msg)) return;
    const stan = Number(msg.get(11));
    const txn = this.matcher.resolve(stan);
    if (txn === undefined) return this.late(link, stan, msg);
    if (txn.sent && (differs(msg, txn.sent, 41) || differs(msg, txn.sent, 37))) {
      // STAN reuse within one link would be a switch bug; refuse to mis-deliver.
      this.counters.inc('mismatched_responses');
      this.log.error('upstream response does not match its request', { upstream: link.opts.name, ...summarize(msg) });
      return;
    }
    const rtt = txn.sentAt > 0 ? (performance.now() - txn.sentAt) / 1000 : 0;
    if (rtt > 0) this.metrics.upstreamRtt(link.opts.name).observe(rtt);
    const l = this.listenerOf(txn);
    const rc = msg.get(39);
    const cls = this.classify(link, rc);
    const approved = cls === 'approved';
    const res = responseTo(l.dialect, txn.request, undefined);
    for (const n of FROM_ISSUER) {
      const v = msg.values[n];
      if (v !== undefined && l.dialect.fields[n]) res.values[n] = v;
    }
    txn.state = approved ? 'approved' : 'declined';
    if (approved && txn.reverseWhenDone) {
      txn.state = 'reversed_by_terminal';
      this.queueReversal(txn, { reason: txn.reverseWhenDone.reason, explanation: 'the terminal reversed the sale while it was in flight' }, 'customer_cancel');
    }
    const recorded = this.journal.record(txn, {
      responseCode: rc ?? null, failureClass: cls, reversalId: txn.reversalId, ...(approved ? { approvalCode: msg.get(38) ?? null } : {}),
    }, undefined, { kind: 'ANSWERED' });
    const deliver = (): void => {
      const delivered = this.finish(l, txn, res);
      if (delivered) this.metrics.addedLatency.observe((performance.now() - txn.receivedAt) / 1000 - rtt);
      if (approved && !delivered && txn.state === 'approved') this.undeliverable(txn);
    };
    // An approval is durable before the terminal sees it: recovery must never reverse a
    // sale whose approval was delivered. A decline needs no such care.
    if (!approved) deliver();
    else {
      recorded.then(deliver, () => {
        // The approval is not on record, so a restart would reverse it: it must not reach
        // the terminal. The terminal gets a non-approval and the sale is reversed now.
        txn.state = 'undeliverable';
        this.finish(l, txn, this.localAnswer(l, txn.request, 'issuer_unavailable'));
        this.undeliverable(txn);
      });
    }
    // A decline holds nothing, but an unknown outcome (06, 96, 68...) or an outage may:
    // rules/ says whether to reverse (or, for fraud codes, to flag for review).
    if (!approved) this.decideAndAct(txn, rc === undefined ? 'format_error' : { responseCode: rc });
  }

  private classify(link: UpstreamLink, rc: string | undefined): FailureClass {
    if (rc === undefined) return 'technical_unknown';
    return this.rules.current.classify({ responseCode: rc, dialect: link.dialect.name, upstream: link.opts.name }).class;
  }

  private late(link: UpstreamLink, stan: number, msg: IsoMessage): void {
    const txn = this.expired.get(stan);
    this.counters.inc('late_responses');
    if (!txn) {
      this.log.warn('upstream response for an unknown request', { upstream: link.opts.name, ...summarize(msg) });
      return;
    }
    this.expired.delete(stan);
    const cls = this.classify(link, msg.get(39));
    // A late approval is never relayed: the reversal queued at the deadline stands. A late
    // definitive decline means nothing was held, so a reversal not yet sent can be withdrawn;
    // a late 96 or 91 leaves the outcome in doubt, so its reversal stands too.
    if (cls !== 'approved' && !CLASS_INFO[cls].fundsMayBeHeld && txn.reversalId && this.reversals.cancel(txn.reversalId)) {
      txn.decision = `late ${msg.get(39)}: reversal withdrawn`;
    }
    void this.journal.record(txn, { note: `late response ${msg.get(39) ?? '(no F39)'} (${cls}): ${txn.decision?.startsWith('late') ? 'reversal withdrawn' : 'not relayed'}` },
      undefined, { kind: 'LATE_RESPONSE', responseCode: msg.get(39), failureClass: cls });
    this.log.info('late response', { upstream: link.opts.name, class: cls, reversal: txn.reversalId, ...summarize(msg) });
  }

  /**
   * Answers the terminal and any duplicates; true when the answer reached a socket (the
   * first request's or a duplicate's: a terminal that reconnected and resent has it).
   */
  private finish(l: Listening, txn: Txn, res: IsoMessage): boolean {
    txn.answer = res;
    let delivered = txn.conn !== null && this.answer(l, txn.conn, res);
    txn.conn = null;
    for (const w of txn.waiters) if (this.answer(l, w, res)) delivered = true;
    txn.waiters = [];
    return delivered;
  }

  private answer(l: Listening, conn: Conn, res: IsoMessage): boolean {
    const ok = conn.send(res);
    if (!ok) this.counters.inc('answers_undeliverable');
    return ok;
  }

  private localAnswer(l: Listening, req: IsoMessage, code: LocalCode): IsoMessage {
    return responseTo(l.dialect, req, responseCode(l.dialect, code));
  }

  // ---- failures --------------------------------------------------------------------------

  private expire(stan: number, txn: Txn): void {
    this.counters.inc('timeouts');
    txn.state = 'timed_out';
    this.expired.set(stan, txn);
    const l = this.listenerOf(txn);
    this.finish(l, txn, this.localAnswer(l, txn.request, 'issuer_unavailable'));
    this.decideAndAct(txn, 'timeout');
  }

  private undeliverable(txn: Txn): void {
    this.counters.inc('undeliverable');
    txn.state = 'undeliverable';
    const d = this.decideAndAct(txn, 'undeliverable');
    // A duplicate sent later must not get the approval that is being reversed.
    if (d?.action === 'reverse') txn.answer = this.localAnswer(this.listenerOf(txn), txn.request, 'issuer_unavailable');
  }

  /**
   * Puts an outcome to rules/ and does what it says. `terminal` is set for a reversal the
   * terminal sent: its MTI and reason code are the case, the original's amount the subject.
   */
  private decideAndAct(txn: Txn, event: LocalEvent | { responseCode: string }, terminal?: { mti: string; reason: string; finalAmount?: string }): Decision | null {
    const link = this.links.get(txn.upstream);
    const sent = txn.sent;
    if (!link || !sent) return null;
    const now = Date.now();
    const panHash = this.panHash(sent);
    const c: DecisionCase = terminal
      ? {
        mti: terminal.mti, originalMti: sent.mti, responseCode: terminal.reason, finalAmount: terminal.finalAmount,
        amount: sent.get(4) ?? '0', currency: sent.get(49) ?? '000', dialect: this.listenerOf(txn).dialect.name,
        upstream: link.opts.name, originalTime: txn.startedAt, now, panHash,
      }
      : {
        mti: sent.mti, ...(typeof event === 'string' ? { event } : event), amount: sent.get(4) ?? '0', currency: sent.get(49) ?? '000',
        dialect: link.dialect.name, upstream: link.opts.name, originalTime: txn.startedAt, now, panHash,
      };
    const what = terminal ? `terminal reversal ${terminal.reason}` : typeof event === 'string' ? event : `response ${event.responseCode}`;
    let decision: Decision;
    try {
      decision = this.rules.current.decide(c, this.velocity.state(txn.request, panHash, now));
    } catch (e) {
      // A case rules/ refuses (a malformed reason code from a peer) must not take the switch
      // down, nor be dropped: it goes to a person.
      this.counters.inc('decision_errors');
      this.counters.inc('manual_reviews');
      txn.decision = `review: rules/ refused the case: ${(e as Error).message}`;
      this.log.error('rules/ refused the case; sent to manual review', { txn: txn.key, event: what, error: (e as Error).message });
      return null;
    }
    txn.decision = `${decision.action} (rule ${decision.rule}): ${decision.explanation}`;
    // As an event: the timeout or undeliverable approval itself, with its decision; after
    // an answer or a terminal's reversal (already reported), the decision alone.
    const kind = !terminal && (txn.state === 'timed_out' || txn.state === 'undeliverable') ? undefined : 'DECIDED';
    const recordDecision = (): void => void this.journal.record(txn, { failureClass: decision.class, decision: txn.decision, reversalId: txn.reversalId },
      undefined, { kind, action: decision.action, explanation: decision.explanation, rule: decision.rule });
    // A plain decline (action none) is business as usual: not a line per sale at info.
    const line = { txn: txn.key, event: what, action: decision.action, rule: decision.rule, why: decision.explanation };
    if (decision.action === 'none') this.log.debug('decision', line);
    else this.log.info('decision', line);
    if (decision.action === 'reverse') {
      this.velocity.record(txn.request, panHash, now);
      this.queueReversal(txn, {
        reason: decision.reason ?? '06', explanation: decision.explanation,
        finalAmount: decision.finalAmount === null ? undefined : String(decision.finalAmount),
      }, decision.class);
    } else if (decision.action === 'review' || decision.action === 'refund') {
      this.counters.inc(decision.action === 'review' ? 'manual_reviews' : 'refunds_proposed');
      this.log.warn(decision.action === 'review' ? 'sent to manual review' : 'refund needed', { txn: txn.key, why: decision.explanation });
    }
    recordDecision();
    return decision;
  }

  /** `cls`: the failure class behind it, for revswitch_reversals_total. */
  private queueReversal(txn: Txn, d: { reason: string; explanation: string; finalAmount?: string }, cls: string): void {
    if (!txn.sent) return;
    const id = reversalIdOf(txn.upstream, stanString(txn.upstreamStan), txn.sent.get(7) ?? '', txn.startedAt);
    txn.reversalId = id;
    if (this.reversals.enqueue({ id, upstream: txn.upstream, original: txn.sent, reason: d.reason, finalAmount: d.finalAmount, explanation: d.explanation, txnId: txn.id })) {
      this.metrics.reversalQueued(cls);
    }
  }

  private panHash(msg: IsoMessage): string | undefined {
    return this.journal.panHash(msg);
  }

  // ---- reversals from terminals ----------------------------------------------------------

  private terminalReversal(l: Listening, msg: IsoMessage, conn: Conn): void {
    for (const n of NOT_KEPT) msg.delete(n);
    const res = responseTo(l.dialect, msg, responseCode(l.dialect, 'approved'));
    const sender = senderOf(msg);
    const revKey = `rev|${sender}|${msg.get(11) ?? ''}|${msg.get(7) ?? ''}`;
    const seen = this.txns.get(revKey);
    if (seen) {
      // A repeat (0401/0421) or a duplicate: the first answer again, nothing forwarded.
      this.counters.inc('terminal_reversal_repeats');
      this.answer(l, conn, seen.answer ?? res);
      return;
    }
    const found = this.findOriginal(msg, sender);
    const record: Txn = {
      id: this.journal.nextId(), key: revKey, dayKey: revKey, request: msg, listener: l.cfg.name, state: 'approved', conn: null, waiters: [],
      upstream: '', sent: null, upstreamStan: 0, startedAt: Date.now(), receivedAt: 0, sentAt: 0, answer: res, reversalId: null,
      reverseWhenDone: null, decision: null,
    };
    this.txns.add(record);
    this.counters.inc('terminal_reversals');
    if (found) {
      this.actOnTerminalReversal(l, msg, conn, res, record, found);
      return;
    }
    // Not in memory: another node may have forwarded the sale (several nodes share the
    // store), or it is older than this process. The shared journal has it, if anyone does.
    this.findOriginalInStore(msg, sender).then(
      (original) => this.actOnTerminalReversal(l, msg, conn, res, record, original),
      (err: unknown) => {
        this.counters.inc('store_errors');
        this.log.error('original look-up in the store failed', { error: (err as Error).message, ...summarize(msg) });
        this.actOnTerminalReversal(l, msg, conn, res, record, undefined);
      },
    );
  }

  private actOnTerminalReversal(l: Listening, msg: IsoMessage, conn: Conn, res: IsoMessage, record: Txn, original: Txn | undefined): void {
    const reason = msg.get(39) ?? '06';
    if (!original) {
      this.counters.inc('terminal_reversals_unknown_original');
      this.log.warn('terminal reversal of an unknown original: answered, recorded', { ...summarize(msg) });
      record.decision = 'unknown original: nothing to reverse';
    } else if (original.state === 'inflight') {
      original.reverseWhenDone = { reason };
      record.decision = 'original in flight: reversed if it is approved';
    } else if (original.state === 'approved') {
      const d = this.decideAndAct(original, 'customer_cancel', { mti: msg.mti, reason, finalAmount: finalAmountOf(msg) });
      if (d?.action === 'reverse') {
        original.state = 'reversed_by_terminal';
        void this.journal.record(original, { note: `the terminal reversed it (${msg.mti}, reason ${reason})` });
      }
      record.decision = d ? `${d.action} (rule ${d.rule}): ${d.explanation}` : null;
    } else {
      record.decision = `original ${original.state}: nothing to reverse`;
    }
    // The terminal stops resending once answered, so the reversal is durable first.
    void this.journal.terminalReversal(record, original?.id ?? null);
    this.journal.store.flush().then(
      () => this.answer(l, conn, res),
      (err: unknown) => this.log.error('terminal reversal not stored; not answered, so the terminal repeats it', { error: (err as Error).message, ...summarize(msg) }),
    );
  }

  /**
   * The original of a terminal's reversal from the shared journal: same sender, its STAN
   * (from F90, else the reversal's own), and its F7 (F90) or day (MMDD). A sale still
   * 'forwarded' on a live node counts as approved here: the reversal's id is the same on
   * every node, so it is queued at most once, and reversing a sale that was declined is
   * harmless, while leaving an approval the terminal reversed would hold money.
   */
  private async findOriginalInStore(rev: IsoMessage, sender: string): Promise<Txn | undefined> {
    const terminal = rev.get(41);
    if (terminal === undefined) return undefined;
    const f90 = rev.get(90);
    const byF90 = f90 !== undefined && f90.length === 42;
    const stan = byF90 ? f90.slice(4, 10) : rev.get(11);
    if (stan === undefined) return undefined;
    const day = (rev.get(7) ?? rev.get(13) ?? '').slice(0, 4);
    const rows = (await this.journal.store.findTxns({ terminal, stan })).filter((r) => r.sender === sender && r.mti[1] !== '4'
      && r.sealed !== null && (byF90 ? r.f7 === f90.slice(10, 20) : (r.f7 ?? '').slice(0, 4) === day));
    const row = rows[rows.length - 1];
    if (row === undefined) return undefined;
    // Found meanwhile (a takeover, or a repeat): the one in memory is the truth.
    const mem = this.findOriginal(rev, sender);
    if (mem) return mem;
    const t = this.journal.rebuild(row, this.listenerDialect(row.listener), this.links.get(row.upstream ?? '')?.dialect);
    if (!t) return undefined;
    if (row.state === 'forwarded') t.state = 'approved';
    this.counters.inc('terminal_reversals_matched_in_store');
    this.txns.add(t);
    return t;
  }

  private findOriginal(rev: IsoMessage, sender: string): Txn | undefined {
    const f90 = rev.get(90);
    // A usable F90 names the original; falling back to the reversal's own STAN then could
    // pick another sale of the same terminal that happens to share it.
    if (f90 !== undefined && f90.length === 42) return this.txns.get(`${sender}|${f90.slice(4, 10)}|${f90.slice(10, 20)}`);
    const day = (rev.get(7) ?? rev.get(13) ?? '').slice(0, 4);
    return this.txns.getByDay(`${sender}|${rev.get(11) ?? ''}|${day}`);
  }

  private sweep(): void {
    const now = Date.now();
    this.txns.sweep(now);
    // Capped like the table: in an issuer outage every sale times out, and a map of them
    // all for retentionMs would keep every one alive whatever the table let go.
    for (const [stan, t] of this.expired) {
      if (now - t.startedAt < this.cfg.retentionMs && this.expired.size <= this.cfg.maxRetained) break;
      this.expired.delete(stan);
    }
  }
}

/**
 * A reversal's id, from its original as sent upstream: the same sale gives the same id on
 * every node and after every restart, so the store takes one reversal per original.
 */
function reversalIdOf(upstream: string, upstreamStan: string, f7: string, startedAt: number): string {
  return `${upstream}|${upstreamStan}|${f7}|${startedAt}`;
}

/** A field both messages carry, with different values: the answer is not for this request. */
function differs(a: IsoMessage, b: IsoMessage, n: number): boolean {
  const x = a.get(n);
  const y = b.get(n);
  return x !== undefined && y !== undefined && x !== y;
}

/** F95's final amount when the terminal's reversal is partial; a malformed F95 counts as full. */
function finalAmountOf(rev: IsoMessage): string | undefined {
  if (!rev.has(95)) return undefined;
  try {
    return rev.replacementAmounts()?.transaction;
  } catch {
    return undefined;
  }
}

function waitFor(done: () => boolean, maxMs: number): Promise<void> {
  return new Promise((resolve) => {
    const until = Date.now() + maxMs;
    const check = () => (done() || Date.now() >= until ? resolve() : setTimeout(check, 20).unref());
    check();
  });
}
