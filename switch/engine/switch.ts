/**
 * The switch: its parts built and wired, started in order (recovery first: nothing is
 * accepted before every orphan has its reversal queued) and stopped in order (in-flight
 * sales finish or expire, reversals drain, then the sockets close). A terminal's request
 * goes by its MTI to the part that handles it:
 *
 *   x1x0, x2x0  a posting            -> SalePath (./sale-path.ts)
 *   x4x0, x4x2  the terminal's reversal -> TerminalReversals (./terminal-reversals.ts)
 *   x8xx        network management   -> answered here
 *
 * Policy is never decided in engine/: it observes, asks rules/ (./decisions.ts), and does
 * what the decision says.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import {
  isNetworkManagement, isResponse, mtiClass, MtiClass, mtiFunction, MtiFunction, profileOf, responseTo,
  type Dialect, type IsoMessage,
} from '../../codec/index.js';
import { RulesHolder, type CompiledRules } from '../../rules/index.js';
import type { ListenerConfig, SwitchConfig } from '../config/index.js';
import type { FramedConn } from '../edge/framed-conn.js';
import { Listener } from '../edge/listener.js';
import { Router } from '../edge/router.js';
import { UpstreamLink } from '../edge/upstream-link.js';
import type { TlsReloadOutcome } from '../edge/tls.js';
import type { MacGuard } from '../edge/mac-guard.js';
import type { Security } from '../edge/security.js';
import { SecurityDesk } from './security-desk.js';
import { Admission } from './admission.js';
import { Counters } from '../observe/counters.js';
import type { EventBus } from '../observe/events/emitter.js';
import { summarize, type Logger } from '../observe/log.js';
import { Metrics } from '../observe/metrics.js';
import { MemoryStore } from '../store/memory.js';
import { CardKeys } from '../store/secrets.js';
import { parseKeyText } from '../config/key-text.js';
import type { Store } from '../store/types.js';
import type { ReversalQueue } from '../undo/reversals.js';
import { SafQueue } from '../undo/reversal-queue.js';
import type { EngineContext } from './context.js';
import { Decisions } from './decisions.js';
import { Heartbeat } from './heartbeat.js';
import { Resealer } from './resealer.js';
import { DAY_MS, Maintenance } from '../store/maintenance.js';
import { UnknownOriginals } from './unknown-originals.js';

/** Re-sealing starts once the switch has settled after start, and runs again every 6 hours. */
const RESEAL_FIRST_MS = 10_000;
const RESEAL_EVERY_MS = 6 * 3_600_000;
/** Retention runs a minute after start (then daily): never in the start-up rush. */
const MAINTENANCE_FIRST_MS = 60_000;
import { ReviewItems } from './review-items.js';
import { Journal } from './journal.js';
import { LateAnswers } from './late-answers.js';
import { Recovery } from './recovery.js';
import { Replies } from './replies.js';
import { SalePath } from './sale-path.js';
import { TerminalReversals } from './terminal-reversals.js';
import { TxnTable } from './txn-table.js';

/** What the switch keeps its records in; both default to memory (tests, benches). */
export interface SwitchDeps {
  store?: Store;
  keys?: CardKeys;
  /** Default: a registry of its own. */
  metrics?: Metrics;
  /** Lifecycle events; absent or null: off. */
  events?: EventBus | null;
  /** The key store and security module: needed by any `mac`, `translatePin` or UnionPay key delivery. */
  security?: Security | null;
}

export class Switch {
  readonly counters = new Counters();
  readonly metrics: Metrics;
  readonly txns: TxnTable;
  readonly links = new Map<string, UpstreamLink>();
  readonly reversals: ReversalQueue;
  readonly rules: RulesHolder;
  readonly journal: Journal;
  /** This node's id in the store (config `node`, default the host name). */
  readonly node: string;
  private readonly saf: SafQueue;
  private readonly listeners: Listener[] = [];
  /** By name: a transaction's answers go out in its listener's dialect. */
  private readonly listenerByName = new Map<string, Listener>();
  private readonly router: Router;
  private readonly replies: Replies;
  private readonly sales: SalePath;
  private readonly terminalReversals: TerminalReversals;
  private readonly late: LateAnswers;
  private readonly recovery: Recovery;
  private readonly heartbeat: Heartbeat;
  /** Moves sealed rows to the current format and key (./resealer.ts): a pass after start, then every few hours. */
  readonly resealer: Resealer;
  private resealTimer: NodeJS.Timeout | null = null;
  /** Retention (../store/maintenance.ts): daily when retention.auto. */
  readonly maintenance: Maintenance;
  private maintenanceTimer: NodeJS.Timeout | null = null;
  private maintaining: Promise<unknown> = Promise.resolve();
  private sweepTimer: NodeJS.Timeout | null = null;
  private orphanTimer: NodeJS.Timeout | null = null;
  private readonly reviewItems: ReviewItems;
  /** The switch opened (and closes) the store itself: the in-memory default. */
  private readonly ownsStore: boolean;
  private stopping = false;
  readonly security: Security | null;
  private readonly desk: SecurityDesk;
  private readonly admission: Admission;

  constructor(readonly cfg: SwitchConfig, rules: CompiledRules, readonly log: Logger, private readonly dialects: (name: string) => Dialect, deps: SwitchDeps = {}) {
    this.metrics = deps.metrics ?? new Metrics();
    this.rules = new RulesHolder(rules);
    this.txns = new TxnTable(cfg.retentionMs, cfg.maxRetained);
    const keys = deps.keys ?? new CardKeys(cfg.panHashKey ? parseKeyText(cfg.panHashKey, 'panHashKey') : randomBytes(32));
    this.ownsStore = deps.store === undefined;
    this.security = deps.security ?? null;
    this.desk = new SecurityDesk(this.security, log, this.counters, (conn, res) => this.replies.send(conn, res), (name, req, code) => this.replies.local(name, req, code));
    this.node = cfg.node ?? hostname();
    this.journal = new Journal(deps.store ?? new MemoryStore(), keys, this.node, () => this.rules.current.calendar, log, this.counters, deps.events ?? null);
    for (const u of cfg.upstreams) {
      this.links.set(u.name, new UpstreamLink({
        name: u.name, host: u.host, port: u.port, dialect: dialects(u.dialect), framing: u.framing,
        maxFrame: u.maxFrame, backoffMs: u.reconnectBackoffMs, echoIdleMs: u.echoIdleMs, tickMs: cfg.tickMs,
        netTimeoutMs: u.netTimeoutMs, signOn: u.signOn, refundAsRequest: u.refund.mti.endsWith('200'), log, counters: this.counters,
        wire: this.metrics.wire('upstream', u.dialect), tls: u.tls, tlsFailed: u.tls ? this.metrics.tlsFailureCounter(`upstream ${u.name}`) : undefined,
        mac: u.mac ? this.needSecurity(`upstreams ${u.name}: mac`).upstreamGuard(dialects(u.dialect), u.mac, u.name) : null,
        macFailed: u.mac ? this.metrics.macFailureCounter('upstream', `upstream ${u.name}`) : undefined,
      }));
    }
    this.router = new Router(cfg.routes, this.links);
    const store = this.journal.store;
    this.admission = new Admission(() => store.backlog, () => this.terminalConns(), cfg.maxStoreBacklog, log, this.counters);
    this.saf = new SafQueue(this.journal.store, this.links, {
      window: cfg.reversal.window, responseTimeoutMs: cfg.reversal.responseTimeoutMs, backoffMs: cfg.reversal.backoffMs,
      maxAttempts: cfg.reversal.maxAttempts, maxAgeMs: cfg.reversal.maxAgeMs, maxInMemory: cfg.reversal.maxInMemory,
      outcomeOf: (rc, kind) => (kind === 'refund' ? this.rules.current.refundResponse(rc) : this.rules.current.reversalResponse(rc)), log, counters: this.counters, keys, events: deps.events ?? null,
      lease: { node: this.node, leaseMs: cfg.cluster.leaseMs },
    });
    this.reversals = this.saf;
    for (const l of cfg.listeners) {
      const listener = this.listenerFor(l);
      this.listeners.push(listener);
      this.listenerByName.set(l.name, listener);
    }

    const ctx: EngineContext = {
      cfg, log, counters: this.counters, metrics: this.metrics, node: this.node, rules: this.rules, txns: this.txns,
      journal: this.journal, links: this.links, reversals: this.saf, security: this.security,
      listenerDialect: (name) => this.listenerDialect(name), stopping: () => this.stopping,
    };
    this.replies = new Replies(this.counters, ctx.listenerDialect, (t) => this.txns.ended(t));
    this.reviewItems = new ReviewItems(ctx);
    const decisions = new Decisions(ctx, this.reviewItems);
    this.late = new LateAnswers(ctx, decisions);
    this.sales = new SalePath(ctx, this.router, this.replies, decisions, this.late);
    this.terminalReversals = new TerminalReversals(ctx, this.replies, decisions, new UnknownOriginals(ctx, cfg.unknownOriginals));
    this.recovery = new Recovery(ctx, decisions);
    this.heartbeat = new Heartbeat(ctx, () => this.ports());
    this.resealer = new Resealer(this.journal.store, keys, (u) => this.links.get(u)?.dialect, log, this.counters);
    this.maintenance = new Maintenance(this.journal.store, keys, cfg.retention, { by: this.node, pauseMs: 20 });
    for (const link of this.links.values()) link.onUnmatched = (msg) => this.late.handle(msg, link);
    for (const u of cfg.upstreams) {
      const link = this.links.get(u.name) as UpstreamLink;
      link.onKeyChange = (msg) => this.desk.keyChange(u.name, u.keyChange.field, msg);
    }

    // Gauges are read at scrape time, never kept up to date per message.
    this.metrics.attach({
      counters: this.counters, store: this.journal.store, inFlight: () => this.inFlight(), saf: () => this.saf.depth(),
      connections: () => this.listeners.map((x) => [x.name, x.conns.size] as const),
      links: () => [...this.links.values()].map((k) => [k.name, k.isUp] as const),
    });
  }

  /** Ports actually bound (listeners configured with port 0 get an ephemeral one). */
  ports(): number[] {
    return this.listeners.map((l) => l.port);
  }

  async start(): Promise<void> {
    if (this.ownsStore) await this.journal.store.open();
    await this.heartbeat.claim();
    await this.heartbeat.first();
    await this.recovery.recover();
    this.saf.start();
    for (const link of this.links.values()) link.start();
    for (const l of this.listeners) await l.listen();
    this.sweepTimer = setInterval(() => this.sweep(), 1000);
    this.sweepTimer.unref();
    this.heartbeat.start();
    this.orphanTimer = setInterval(() => void this.recovery.takeOrphans(), Math.max(100, Math.floor(this.cfg.cluster.nodeDeadMs / 4)));
    this.orphanTimer.unref();
    this.reviewItems.start();
    this.scheduleReseal(RESEAL_FIRST_MS);
    if (this.cfg.retention.auto) this.scheduleMaintenance(MAINTENANCE_FIRST_MS);
  }

  private scheduleMaintenance(ms: number): void {
    this.maintenanceTimer = setTimeout(() => {
      this.maintaining = this.maintenance.run(Date.now()).then(
        (m) => {
          const purged = m.runs.reduce((n, r) => n + r.txns + r.reversals + r.reviews + r.history, 0);
          if (m.erased + purged > 0) this.log.info('retention: sealed messages erased, old rows purged', { erased: m.erased, purged, runs: m.runs.length });
        },
        (e: unknown) => this.log.error('retention pass failed', { error: (e as Error).message }),
      ).finally(() => {
        if (!this.stopping) this.scheduleMaintenance(DAY_MS);
      });
    }, ms);
    this.maintenanceTimer.unref();
  }

  private scheduleReseal(ms: number): void {
    this.resealTimer = setTimeout(() => {
      void this.resealer.pass().then(
        (s) => {
          if (s.resealed + s.failed > 0) this.log.info('sealed messages re-sealed', { resealed: s.resealed, failed: s.failed, raced: s.raced, keys: s.byKey });
        },
        (e: unknown) => this.log.error('re-sealing pass failed', { error: (e as Error).message }),
      ).finally(() => {
        if (!this.stopping) this.scheduleReseal(RESEAL_EVERY_MS);
      });
    }, ms);
    this.resealTimer.unref();
  }

  /** Resolves true once an upstream link is signed on, false after maxMs. */
  async waitUntilUp(maxMs = 5000): Promise<boolean> {
    const anyUp = (): boolean => [...this.links.values()].some((l) => l.isUp);
    await waitFor(anyUp, maxMs);
    return anyUp();
  }

  /** Stops accepting, lets in-flight requests finish or expire, then lets reversals drain (bounded). */
  async stop(drainMs = 10_000): Promise<void> {
    this.stopping = true;
    this.admission.release();
    for (const l of this.listeners) l.stopAccepting();
    const until = performance.now() + drainMs;
    await waitFor(() => this.inFlight() === 0, this.cfg.upstreams.reduce((m, u) => Math.max(m, u.timeoutMs), 0) + 1000);
    await waitFor(() => this.reversals.outstanding === 0, Math.max(0, until - performance.now()));
    const left = this.reversals.outstanding;
    if (left > 0) this.log.error('reversals still outstanding at shutdown', { outstanding: left });
    this.saf.stop();
    if (left > 0) {
      // Another node (if any) takes them at its next claim rather than after the lease.
      await this.saf.releaseLeases().catch((e: unknown) => this.log.error('reversal leases not released at shutdown', { error: (e as Error).message }));
    }
    await this.terminalReversals.unknown.flush();
    // State changes kept after a failed commit get what is left of the drain to land.
    await waitFor(() => this.journal.mender.size === 0, Math.max(0, until - performance.now()));
    this.journal.mender.stop();
    await this.journal.store.flush().catch((e: unknown) => this.log.error('journal flush failed at shutdown', { error: (e as Error).message }));
    for (const link of this.links.values()) link.stop();
    for (const l of this.listeners) l.closeConnections();
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    if (this.orphanTimer) clearInterval(this.orphanTimer);
    this.reviewItems.stop();
    this.heartbeat.stop();
    if (this.resealTimer) clearTimeout(this.resealTimer);
    if (this.maintenanceTimer) clearTimeout(this.maintenanceTimer);
    this.maintenance.stop();
    await this.maintaining;
    this.resealer.stop();
    await this.resealer.whenIdle();
    await Promise.all(this.listeners.map((l) => l.whenClosed()));
    if (this.ownsStore) await this.journal.store.close();
  }

  /** SIGHUP: every TLS listener and link ("upstream NAME") reads its certificate files again; a bad one keeps its old ones. */
  reloadTls(): TlsReloadOutcome {
    const out: TlsReloadOutcome = { ok: [], failed: [] };
    for (const x of [...this.listeners, ...this.links.values()]) {
      if (!x.hasTls) continue;
      const r = x.reloadTls();
      const name = x instanceof Listener ? x.name : `upstream ${x.name}`;
      if (r.ok) out.ok.push(name);
      else out.failed.push({ name, error: r.error });
    }
    return out;
  }

  private *terminalConns(): Iterable<FramedConn> {
    for (const l of this.listeners) yield* l.conns;
  }

  /** Sales waiting for an answer, over every link. */
  private inFlight(): number {
    let n = 0;
    for (const link of this.links.values()) n += link.inFlight;
    return n;
  }

  private listenerFor(cfg: ListenerConfig): Listener {
    const dialect = this.dialects(cfg.dialect);
    if (cfg.translatePin) this.needSecurity(`listener ${cfg.name}: translatePin`);
    const mac: MacGuard | null = cfg.mac ? this.needSecurity(`listener ${cfg.name}: mac`).listenerGuard(dialect, cfg.mac) : null;
    const l = new Listener(cfg, dialect, {
      log: this.log, counters: this.counters, wire: this.metrics.wire('terminal', cfg.dialect), tlsFailed: cfg.tls ? this.metrics.tlsFailureCounter(cfg.name) : undefined, mac,
      guard: this.metrics.guard(cfg.name),
    });
    l.onMessage = (msg, conn) => this.request(l, msg, conn);
    if (mac) {
      const failed = this.metrics.macFailureCounter('terminal', cfg.name);
      l.onMacFailure = (msg, verdict, conn) => this.desk.macRefused(l.name, msg, verdict, conn, failed);
    }
    return l;
  }

  /** Asks an upstream for a new working key (its answer goes through the same check); false when the link is not up. */
  requestKeyChange(upstream: string): boolean {
    return this.links.get(upstream)?.requestKeyChange() ?? false;
  }

  private needSecurity(what: string): Security {
    if (!this.security) throw new Error(`${what} needs keys: configure security.keyStore`);
    return this.security;
  }

  private listenerDialect(name: string): Dialect {
    return (this.listenerByName.get(name) ?? this.listeners[0]).dialect;
  }

  /** A terminal's request, to the part that handles its kind. */
  private request(l: Listener, msg: IsoMessage, conn: FramedConn): void {
    const mti = msg.mti;
    if (isResponse(mti)) {
      this.counters.inc('unexpected_responses');
      this.log.warn('response from a terminal ignored', { listener: l.name, ...summarize(msg) });
      return;
    }
    if (isNetworkManagement(mti)) return this.network(l, msg, conn);
    const cls = mtiClass(mti);
    const fn = mtiFunction(mti);
    if ((cls === MtiClass.Authorization || cls === MtiClass.Financial) && fn === MtiFunction.Request) {
      if (this.stopping) {
        // Draining: nothing new goes upstream, so the sales in flight end (answered or
        // timed out, their reversals queued) before the process exits. An acquirer host on
        // a persistent connection would otherwise keep the drain busy until the cap, and
        // the sales in flight at exit would be left for a restart that may never come.
        this.counters.inc('refused_while_stopping');
        this.replies.send(conn, this.replies.local(l.name, msg, 'issuer_unavailable'));
        return;
      }
      this.admission.check(conn);
      return this.sales.forward(l.name, msg, conn);
    }
    if (cls === MtiClass.Reversal && (fn === MtiFunction.Request || fn === MtiFunction.Advice)) return this.terminalReversals.handle(l.name, msg, conn);
    this.counters.inc('unsupported_requests');
    this.replies.send(conn, this.replies.local(l.name, msg, 'invalid_transaction'));
  }

  /** A terminal's sign-on, echo or key request: approved when the function is known, with its keys echoed. */
  private network(l: Listener, msg: IsoMessage, conn: FramedConn): void {
    const profile = profileOf(l.dialect);
    const code = profile.networkCode(msg);
    this.log.debug('network management', { listener: l.name, code });
    const res = responseTo(l.dialect, msg, profile.localCodes[code ? 'approved' : 'invalid_transaction']);
    for (const n of [7, 11, 24, 70]) {
      const v = msg.values[n];
      if (v !== undefined && l.dialect.fields[n]) res.values[n] = v;
    }
    if (code === 'sign_on' && profile.standard === 'cup') this.desk.deliverKeys(l.name, l.dialect, msg, res);
    this.replies.send(conn, res);
  }

  private sweep(): void {
    const now = Date.now();
    const early = this.txns.sweep(now);
    if (early > 0) this.counters.inc('retained_cap_evictions', early);
    this.late.sweep(now);
    this.terminalReversals.unknown.roll(now);
  }
}

/** Waits on the monotonic clock: a wall-clock step during a shutdown neither cuts the drain short nor holds it an hour. */
function waitFor(done: () => boolean, maxMs: number): Promise<void> {
  return new Promise((resolve) => {
    const until = performance.now() + maxMs;
    const check = (): void => (done() || performance.now() >= until ? resolve() : void setTimeout(check, 20).unref());
    check();
  });
}
