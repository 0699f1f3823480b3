/**
 * The running switch for end-to-end tests: an issuer simulator on an ephemeral port, a
 * Switch started through startSwitch() with short deadlines, and terminal clients over
 * real TCP on 127.0.0.1. Everything is torn down with the test. Nothing here sleeps for
 * a fixed time: waits are on an issuer event, a client message, or a polled condition
 * with a generous cap.
 */
import type { Test } from 'tap';
import { IsoMessage, formatF90 } from '../../codec/index.js';
import { defaultConfig, UPSTREAM_DEFAULTS, type EventsConfig, type ListenerConfig, type SwitchConfig } from '../../switch/config/index.js';
import type { EventBus } from '../../switch/observe/events/index.js';
import type { AdminServer } from '../../switch/observe/admin.js';
import type { Switch } from '../../switch/engine/switch.js';
import type { Store } from '../../switch/store/types.js';
import { createLogger } from '../../switch/observe/log.js';
import { transmissionTime } from '../../codec/index.js';
import { startSwitch } from '../../switch/cli/start-command.js';
import { connectClient, type SimClient } from '../../switch/sim/client.js';
import { startIssuer, type IssuerEvent, type IssuerOptions, type IssuerSim } from '../../switch/sim/issuer.js';
import { until } from './until.js';

export const PAN = '4761739001010119';
/** Acquirer id (F32) of the terminals' sales, so F90 positions 21-31 carry something. */
export const ACQUIRER = '123456';

export interface HarnessOptions {
  /** Issuer simulator options; seed 1 and approveRate 1 unless given. */
  issuer?: IssuerOptions;
  /** The switch's upstream deadline. Default 300 ms. */
  upstreamTimeoutMs?: number;
  /** The in-memory transaction table's cap (config maxRetained). */
  maxRetained?: number;
  /** Admission control's journal backlog (config maxStoreBacklog). */
  maxStoreBacklog?: number;
  reversal?: Partial<SwitchConfig['reversal']>;
  listener?: Partial<ListenerConfig>;
  /** A rules file instead of rules/default.yaml. */
  rulesFile?: string;
  /** The switch's store URL; default memory:. */
  store?: string;
  /** Serve the admin HTTP (/metrics, /healthz, /readyz) on an ephemeral port of 127.0.0.1. Default off. */
  admin?: boolean;
  /** Lifecycle event sinks (config `events`); default none. */
  events?: EventsConfig;
  /** admin.tokens: names to "sha256:<hex>" of bearer tokens for the admin API's writes. */
  adminTokens?: Record<string, string>;
  /** Config unknownOriginals (per sender and minute: own rows, alert threshold). */
  unknownOriginals?: SwitchConfig['unknownOriginals'];
  /** Receives every log line (the switch logs at info); default none. */
  logLines?: (line: string) => void;
}

export interface Harness {
  issuer: IssuerSim;
  sw: Switch;
  /** The admin server when `admin` was asked for. */
  admin: AdminServer | null;
  /** The lifecycle event bus when `events` configured a sink. */
  bus: EventBus | null;
  /** The switch's store (closed at teardown). */
  store: Store;
  /** The switch's terminal port. */
  port: number;
  /** Every message the issuer handled, in order (sign-on and echoes included). */
  events: IssuerEvent[];
  /** A terminal connection to the switch, closed at teardown. */
  client(): Promise<SimClient>;
  /** Issuer events for sales (0100/0200) carrying this F37. */
  salesSeen(rrn: string): IssuerEvent[];
  /** Issuer events for reversals (04xx). */
  reversalsSeen(): IssuerEvent[];
  /** Polls cond every 10 ms until it holds; fails the wait (throws) after capMs (./until.ts). */
  until(cond: () => boolean, what: string, capMs?: number): Promise<void>;
  /**
   * A sale through the switch that the issuer answers (declined 05): once its answer is back, every
   * message the switch sent upstream before it has been handled by the issuer (one TCP
   * link, handled in order).
   */
  barrier(c: SimClient): Promise<void>;
}

let rrnSeq = 0;
let stanSeq = 0;

/** A unique F37 (12 characters) for this process. */
export function nextRrn(tag = 'E2'): string {
  return tag + String(++rrnSeq).padStart(12 - tag.length, '0');
}

export function nextStan(): string {
  stanSeq = stanSeq >= 999_999 ? 1 : stanSeq + 1;
  return String(stanSeq).padStart(6, '0');
}

export interface SaleFields {
  amount?: string;
  stan?: string;
  f7?: string;
  terminal?: string;
  rrn?: string;
  mti?: '0100' | '0200';
  /** Extra or replaced fields; undefined removes one. */
  over?: Record<number, string | undefined>;
}

/** A 0200 (or 0100) as a terminal sends it. Amounts are minor units, zero-filled to 12. */
export function sale(f: SaleFields = {}): IsoMessage {
  const now = new Date();
  const fields: Record<number, string | undefined> = {
    2: PAN, 3: '000000', 4: (f.amount ?? '1000').padStart(12, '0'), 7: f.f7 ?? transmissionTime(now.getTime()),
    11: f.stan ?? nextStan(), 12: '120000', 13: '0101', 22: '051', 25: '00', 32: ACQUIRER, 37: f.rrn ?? nextRrn(),
    41: f.terminal ?? 'TERM0001', 42: 'MERCHANT0000001', 49: '840', ...f.over,
  };
  const m = new IsoMessage(f.mti ?? '0200');
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) m.set(Number(k), v);
  return m;
}

/** F90 as the switch builds it for its own reversal: the original as it went upstream. */
export function upstreamF90(sent: IsoMessage): string {
  return formatF90({
    mti: sent.mti, stan: sent.get(11) as string, transmissionDateTime: sent.get(7) as string,
    acquirer: sent.get(32), forwarder: sent.get(33),
  });
}

export async function startHarness(tt: Test, opts: HarnessOptions = {}): Promise<Harness> {
  const issuer = await startIssuer({ seed: 1, approveRate: 1, ...opts.issuer });
  const events: IssuerEvent[] = [];
  issuer.onMessage((e) => events.push(e));
  const timeoutMs = opts.upstreamTimeoutMs ?? 300;
  const cfg = defaultConfig();
  Object.assign(cfg.listeners[0], { port: 0, ...opts.listener });
  cfg.logLevel = 'silent';
  cfg.admin = opts.admin ? '127.0.0.1:0' : 'off';
  // Each harness has a store of its own: nothing shared between test files or left behind.
  cfg.store = opts.store ?? 'memory:';
  cfg.panHashKey = 'dff2ad79c71e5c0eba568002bfd86ec05eb5c62dfd845c28ad5d7a34bbed0871';
  if (opts.rulesFile) cfg.rules = opts.rulesFile;
  if (opts.events) cfg.events = opts.events;
  if (opts.adminTokens) cfg.adminTokens = opts.adminTokens;
  cfg.tickMs = 5;
  cfg.upstreamTimeoutMs = timeoutMs;
  if (opts.maxRetained !== undefined) cfg.maxRetained = opts.maxRetained;
  if (opts.maxStoreBacklog !== undefined) cfg.maxStoreBacklog = opts.maxStoreBacklog;
  if (opts.unknownOriginals) cfg.unknownOriginals = opts.unknownOriginals;
  cfg.reversal = { ...cfg.reversal, responseTimeoutMs: 300, backoffMs: [50, 100], ...opts.reversal };
  cfg.upstreams.push({
    name: 'issuer', ...UPSTREAM_DEFAULTS, host: '127.0.0.1', port: issuer.port, dialect: 'iso87a',
    timeoutMs, reconnectBackoffMs: [50, 100],
  });
  let running: Awaited<ReturnType<typeof startSwitch>>;
  try {
    running = await startSwitch(cfg, opts.logLines ? createLogger('info', opts.logLines) : createLogger('silent'));
  } catch (e) {
    await issuer.close(); // a refused start leaves nothing open
    throw e;
  }
  const sw = running.sw;
  const clients: SimClient[] = [];
  tt.teardown(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await running.admin?.stop();
    await sw.stop(200);
    await running.events?.close();
    await running.store.close();
    await issuer.close();
  });
  if (!(await sw.waitUntilUp(10_000))) throw new Error('harness: the issuer link did not come up');

  const h: Harness = {
    issuer, sw, admin: running.admin, bus: running.events, store: running.store, port: sw.ports()[0], events,
    async client() {
      const c = await connectClient({ port: h.port });
      clients.push(c);
      return c;
    },
    salesSeen: (rrn) => events.filter((e) => (e.msg.mti[1] === '1' || e.msg.mti[1] === '2') && e.msg.get(37) === rrn),
    reversalsSeen: () => events.filter((e) => e.msg.mti[1] === '4'),
    async until(cond, what, capMs = 10_000) {
      await until(cond, what, capMs);
    },
    async barrier(c) {
      // ..05: the issuer declines it after its normal latency whatever its random rates say.
      const res = await c.request(sale({ terminal: 'BARRIER1', amount: '1005' }), 10_000);
      if (res.get(39) === undefined) throw new Error('harness: barrier sale unanswered');
    },
  };
  return h;
}
