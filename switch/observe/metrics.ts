/**
 * Longer than 400 lines: every metric the switch exports is declared here, with its help
 * text, so the set can be read (and checked against dashboards) in one place.
 *
 * The switch's metrics in the Prometheus text format, on a prom-client Registry of its
 * own (never the global one: tests run several switches in one process). Every label set
 * is bounded: side, direction, MTI class, dialect and listener or upstream names from the
 * config, a fixed list of decode-error reasons and failure classes. Never a PAN, STAN,
 * terminal or merchant id.
 *
 * The hot path never calls prom-client. Measured on this machine, a pre-bound child
 * (`counter.labels(...).inc()`) costs about 130 ns, because prom-client re-hashes the
 * label object on every call, and `histogram.observe()` about 150 ns. So what happens per
 * message is a plain number bump: the message counts live in typed arrays (WireMetrics,
 * ./wire-metrics.ts, which also says what an MTI class is), the event counts in the
 * switch's Counters, the two per-message histograms in FastHistogram
 * (./fast-histogram.ts), and everything else (gauges, sums) is read in prom-client's
 * collect() callbacks, at scrape time.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { FAILURE_CLASSES } from '../../rules/index.js';
import type { Counters } from './counters.js';
import { FastHistogram, type HistogramChild } from './fast-histogram.js';
import { GuardCounts, registerGuardMetrics } from './guard-metrics.js';
import { DECODE_REASONS, MTI_SLOTS, mtiClassOf, WireMetrics, type Side } from './wire-metrics.js';
import { GroupCommitStore } from '../store/group-commit.js';
import type { Store } from '../store/types.js';

// Split out of this file; importers keep taking them from here.
export { FastHistogram, HistogramChild } from './fast-histogram.js';
export { DECODE_REASONS, decodeReason, mtiClassOf, mtiSlot, WireMetrics, type DecodeReason, type Side } from './wire-metrics.js';

/** Latencies the switch adds or waits for: 100 µs to 10 s. */
const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** What the switch lets the metrics read at scrape time. */
export interface MetricSources {
  counters: Counters;
  /** Requests sent upstream and not yet answered or expired. */
  inFlight(): number;
  /** Open terminal connections by listener name. */
  connections(): Iterable<readonly [string, number]>;
  /** Upstream links and whether each is signed on. */
  links(): Iterable<readonly [string, boolean]>;
  /** The store-and-forward queue. */
  saf(): { pending: number; sent: number; oldestEnqueuedAt: number | null };
  store: Store;
}

/** Maps the switch's own counter names onto labelled prom-client counters. */
const FROM_COUNTERS: { metric: string; help: string; label?: string; map: Record<string, string> }[] = [
  { metric: 'revswitch_connections_opened_total', help: 'Terminal connections accepted.', map: { connections_opened: '' } },
  { metric: 'revswitch_connections_rejected_total', help: 'Terminal connections refused, whatever the reason (by listener and reason: revswitch_connections_refused_total).', map: { connections_rejected: '' } },
  { metric: 'revswitch_upstream_timeouts_total', help: 'Requests the upstream did not answer before the deadline.', map: { timeouts: '' } },
  { metric: 'revswitch_late_responses_total', help: 'Upstream answers that came after the deadline (never relayed).', map: { late_responses: '' } },
  {
    metric: 'revswitch_undeliverable_responses_total', help: 'Approvals that reached no terminal (the connection was gone), so rules/ was asked to reverse them.',
    map: { undeliverable: '' },
  },
  { metric: 'revswitch_answer_write_failures_total', help: 'Answers of any kind that could not be handed to a terminal socket.', map: { answers_undeliverable: '' } },
  {
    metric: 'revswitch_reversals_finished_total', help: 'Reversals that reached a final state in this process.', label: 'state',
    map: { reversals_acked: 'acked', reversals_manual: 'manual', reversals_cancelled: 'cancelled' },
  },
  {
    metric: 'revswitch_reversal_sends_total', help: 'Reversal messages sent upstream: the first 0400 and every 0401 repeat.', label: 'attempt',
    map: { reversals_sent: 'first', reversal_repeats_sent: 'repeat' },
  },
  {
    metric: 'revswitch_unknown_original_reversals_total',
    help: 'Terminal reversals of sales the switch never saw, answered: recorded one by one, or counted into a per-sender aggregate row past unknownOriginals.recordPerMinute.',
    label: 'recorded', map: { unknown_originals_recorded: 'own_row', unknown_originals_aggregated: 'aggregate' },
  },
  {
    metric: 'revswitch_unknown_original_floods_total',
    help: 'Sender-minutes past unknownOriginals.alertPerMinute terminal reversals of unknown originals: a misconfigured terminal or an attack.',
    map: { unknown_original_floods: '' },
  },
  {
    metric: 'revswitch_velocity_alerts_total',
    help: 'Automatic undos past a velocity threshold, by scope (one undo may pass several). On a reversal an alert only: the reversal still goes out.',
    label: 'scope', map: { velocity_alerts_terminal: 'terminal', velocity_alerts_merchant: 'merchant', velocity_alerts_card: 'card' },
  },
  {
    metric: 'revswitch_refunds_total', help: 'Refunds (the undo of an approved sale once its business day has closed) by what became of them in this process.',
    label: 'state',
    map: { refunds_queued: 'queued', refunds_acked: 'acked', refunds_manual: 'manual', refunds_already_known: 'already_known', refunds_refused: 'refused' },
  },
  {
    metric: 'revswitch_refund_sends_total', help: 'Refund messages sent upstream: the first 0220 and every 0221 repeat.', label: 'attempt',
    map: { refunds_sent: 'first', refund_repeats_sent: 'repeat' },
  },
  {
    metric: 'revswitch_issuer_answers_total', help: 'Answers to sales from the issuer, by outcome: approved (partial approvals included) or declined (any other code).',
    label: 'outcome', map: { answers_approved: 'approved', answers_declined: 'declined' },
  },
  { metric: 'revswitch_duplicate_requests_total', help: 'Requests recognised as duplicates (answered again, never forwarded twice).', map: { duplicates: '' } },
  {
    metric: 'revswitch_undo_heals_total',
    help: 'Reversals and refunds whose queue entry was re-read from the store because the two disagreed (a refused write, an insert already there, a sweep).',
    map: { reversals_healed: '' },
  },
  { metric: 'revswitch_store_errors_total', help: 'Store writes that failed (each is retried or answered as a failure).', map: { store_errors: '' } },
];

export interface StoreStatus {
  /** The last batch committed (or none failed yet). */
  ok: boolean;
  lastError: string | null;
}

export class Metrics {
  readonly registry = new Registry();
  private readonly wires = new Map<string, WireMetrics>();
  /** By listener: its limits against hostile clients (./guard-metrics.ts). */
  private readonly guards = new Map<string, GuardCounts>();
  private readonly rtt: FastHistogram;
  private readonly rttChildren = new Map<string, HistogramChild>();
  /** From request received to answer written, minus the upstream round trip. */
  readonly addedLatency: HistogramChild;
  private readonly reversals: Counter<'reason'>;
  /** TLS handshake failures by listener ("upstream NAME" for a link): plain numbers, read at scrape time. */
  private readonly tlsFailures = new Map<string, number>();
  /** By "side|listener": messages whose MAC was missing or wrong. */
  private readonly macFailures = new Map<string, number>();
  /** By listener: PIN blocks that could not be translated (declined, never forwarded). */
  private readonly pinFailures = new Map<string, number>();
  private readonly commitSeconds: Histogram;
  private src: MetricSources | null = null;
  private processMetrics = false;
  private readinessWired = false;
  private storeStatus: StoreStatus = { ok: true, lastError: null };
  private readonly manual: Cached = { values: [0], at: -Infinity, pending: null };
  /** Open review items: how many, and when the oldest was opened (0: none). */
  private readonly reviews: Cached = { values: [0, 0], at: -Infinity, pending: null };

  constructor() {
    const registers = [this.registry];
    this.rtt = new FastHistogram('revswitch_upstream_round_trip_seconds', 'From a request written to the upstream link to its answer read, by upstream.', LATENCY_BUCKETS);
    const added = new FastHistogram(
      'revswitch_added_latency_seconds',
      'What the switch adds to a sale answered from upstream: from the request read to the answer written, minus the upstream round trip (journal writes included).',
      LATENCY_BUCKETS,
    );
    this.addedLatency = added.child();
    this.registry.registerMetric(this.rtt as unknown as Histogram);
    this.registry.registerMetric(added as unknown as Histogram);

    // Counts kept by the hot path, turned into prom-client values at scrape time.
    const wires = this.wires;
    new Counter({
      name: 'revswitch_messages_total', help: 'ISO 8583 messages read (in) and written (out), by side and MTI class (origin digit zeroed: 0401 counts as 0400).',
      labelNames: ['side', 'direction', 'mti_class'], registers,
      collect() {
        this.reset();
        const sums = new Map<string, number>();
        for (const w of wires.values()) {
          for (const [direction, counts] of [['in', w.in], ['out', w.out]] as const) {
            for (let s = 0; s < MTI_SLOTS; s++) {
              if (counts[s] === 0) continue;
              const key = `${w.side}|${direction}|${s}`;
              sums.set(key, (sums.get(key) ?? 0) + counts[s]);
            }
          }
        }
        for (const [key, n] of sums) {
          const [side, direction, slot] = key.split('|');
          this.inc({ side, direction, mti_class: mtiClassOf(Number(slot)) }, n);
        }
      },
    });
    new Counter({
      name: 'revswitch_decode_errors_total', help: 'Frames or messages that could not be decoded, by side, dialect and reason.',
      labelNames: ['side', 'dialect', 'reason'], registers,
      collect() {
        this.reset();
        for (const w of wires.values()) {
          for (let i = 0; i < DECODE_REASONS.length; i++) this.inc({ side: w.side, dialect: w.dialect, reason: DECODE_REASONS[i] }, w.decodeErrors[i]);
        }
      },
    });

    registerGuardMetrics(this.registry, this.guards);

    const tlsFailures = this.tlsFailures;
    new Counter({
      name: 'revswitch_tls_handshake_failures_total',
      help: 'TLS connections refused, by listener (an upstream link as "upstream NAME"): a failed handshake (no, expired or unknown certificate, a plain TCP client, a host name mismatch) or a client certificate subject not in allowedSubjects.',
      labelNames: ['listener'], registers,
      collect() {
        this.reset();
        for (const [listener, n] of tlsFailures) this.inc({ listener }, n);
      },
    });

    const macFailures = this.macFailures;
    new Counter({
      name: 'revswitch_mac_failures_total',
      help: 'Messages whose MAC was missing or did not verify: side "terminal" (a request refused with A0/63, never forwarded) or "upstream" (an answer not relayed: a mac_failure, reversed); listener is the listener or "upstream NAME".',
      labelNames: ['side', 'listener'], registers,
      collect() {
        this.reset();
        for (const [k, n] of macFailures) {
          const [side, listener] = k.split('|', 2);
          this.inc({ side, listener }, n);
        }
      },
    });
    const pinFailures = this.pinFailures;
    new Counter({
      name: 'revswitch_pin_translation_failures_total',
      help: 'Requests whose PIN block could not be translated to the upstream\'s key (not a valid block under the terminal\'s key, or a key missing): declined 55/A7, never forwarded.',
      labelNames: ['listener'], registers,
      collect() {
        this.reset();
        for (const [listener, n] of pinFailures) this.inc({ listener }, n);
      },
    });

    this.reversals = new Counter({
      name: 'revswitch_reversals_total', help: 'Reversals queued by the switch, by the failure class that caused them.',
      labelNames: ['reason'], registers,
    });
    for (const c of [...FAILURE_CLASSES, 'other']) this.reversals.inc({ reason: c }, 0);

    this.commitSeconds = new Histogram({
      name: 'revswitch_store_commit_duration_seconds', help: 'Time to commit one group-commit batch of store writes.',
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers,
    });
  }

  /** The counts of one side and dialect (one object per pair; give it to each Conn). */
  wire(side: Side, dialect: string): WireMetrics {
    const key = `${side}|${dialect}`;
    let w = this.wires.get(key);
    if (!w) this.wires.set(key, (w = new WireMetrics(side, dialect)));
    return w;
  }

  /** One listener's refusals, closes and in-flight pauses; its series exist from now on. */
  guard(listener: string): GuardCounts {
    let g = this.guards.get(listener);
    if (!g) this.guards.set(listener, (g = new GuardCounts()));
    return g;
  }

  /** The round-trip histogram of one upstream. */
  upstreamRtt(upstream: string): HistogramChild {
    let c = this.rttChildren.get(upstream);
    if (!c) this.rttChildren.set(upstream, (c = this.rtt.child({ upstream })));
    return c;
  }

  /** The bump of one TLS listener's (or "upstream NAME"'s) failure count; it shows as 0 from now on. */
  tlsFailureCounter(listener: string): () => void {
    if (!this.tlsFailures.has(listener)) this.tlsFailures.set(listener, 0);
    return () => this.tlsFailures.set(listener, (this.tlsFailures.get(listener) ?? 0) + 1);
  }

  /** A bump of revswitch_mac_failures_total for one side and listener (or "upstream NAME"); the series exists from the start. */
  macFailureCounter(side: 'terminal' | 'upstream', listener: string): () => void {
    const k = `${side}|${listener}`;
    if (!this.macFailures.has(k)) this.macFailures.set(k, 0);
    return () => this.macFailures.set(k, (this.macFailures.get(k) ?? 0) + 1);
  }

  macFailureCount(side: 'terminal' | 'upstream', listener: string): number {
    return this.macFailures.get(`${side}|${listener}`) ?? 0;
  }

  pinFailureCounter(listener: string): () => void {
    if (!this.pinFailures.has(listener)) this.pinFailures.set(listener, 0);
    return () => this.pinFailures.set(listener, (this.pinFailures.get(listener) ?? 0) + 1);
  }

  /** One TLS listener's failure count so far (tests, logs). */
  tlsFailureCount(listener: string): number {
    return this.tlsFailures.get(listener) ?? 0;
  }

  /** One reversal queued; `cls` is the rules failure class that caused it. */
  reversalQueued(cls: string): void {
    this.reversals.inc({ reason: (FAILURE_CLASSES as readonly string[]).includes(cls) ? cls : 'other' });
  }

  /** The last batch's outcome, for readiness. */
  store(): StoreStatus {
    return this.storeStatus;
  }

  /**
   * revswitch_ready from now on, read at scrape time from `probe` (what /readyz checks).
   * /readyz alone is seen by a load balancer, not by Prometheus: the gauge lets an alert
   * catch a node that runs but is not ready. A probe that throws counts as not ready. Once.
   */
  readiness(probe: () => Promise<boolean>): void {
    if (this.readinessWired) throw new Error('metrics: readiness already wired');
    this.readinessWired = true;
    new Gauge({
      name: 'revswitch_ready', help: '1 while the node is ready as /readyz judges it (an upstream link signed on, the store writable), else 0.',
      registers: [this.registry],
      async collect() {
        this.set((await probe().catch(() => false)) ? 1 : 0);
      },
    });
  }

  /** The default Node process metrics (CPU, memory, event loop lag, GC...), on this registry. Once. */
  collectProcessMetrics(): void {
    if (this.processMetrics) return;
    this.processMetrics = true;
    collectDefaultMetrics({ register: this.registry });
    // Gauges named like counters, which `promtool check metrics` rejects; the same numbers
    // stay by type in nodejs_active_handles, nodejs_active_requests and nodejs_active_resources.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) this.registry.removeSingleMetric(name);
  }

  /** Wires the scrape-time gauges and counters to the switch. Once. */
  attach(src: MetricSources): void {
    if (this.src) throw new Error('metrics: already attached to a switch');
    this.src = src;
    const registers = [this.registry];
    const counters = src.counters;
    for (const [name] of src.links()) this.upstreamRtt(name);

    for (const def of FROM_COUNTERS) {
      new Counter({
        name: def.metric, help: def.help, labelNames: def.label ? [def.label] : [], registers,
        collect() {
          this.reset();
          for (const [name, value] of Object.entries(def.map)) {
            if (def.label) this.inc({ [def.label]: value }, counters.get(name));
            else this.inc(counters.get(name));
          }
        },
      });
    }
    new Counter({
      name: 'revswitch_switch_events_total',
      help: 'Every internal event counter of the switch by name (the counters `revswitch start` prints at exit; a fixed set of names).',
      labelNames: ['event'], registers,
      collect() {
        this.reset();
        for (const [event, n] of Object.entries(counters.snapshot())) this.inc({ event }, n);
      },
    });

    new Gauge({
      name: 'revswitch_requests_in_flight', help: 'Requests sent upstream and not yet answered or expired.', registers,
      collect() { this.set(src.inFlight()); },
    });
    new Gauge({
      name: 'revswitch_connections_open', help: 'Open terminal connections, by listener.', labelNames: ['listener'], registers,
      collect() {
        this.reset();
        for (const [listener, n] of src.connections()) this.set({ listener }, n);
      },
    });
    new Gauge({
      name: 'revswitch_upstream_up', help: '1 when the upstream link is connected and signed on, else 0.', labelNames: ['upstream'], registers,
      collect() {
        this.reset();
        for (const [upstream, up] of src.links()) this.set({ upstream }, up ? 1 : 0);
      },
    });
    new Gauge({
      name: 'revswitch_saf_depth', help: 'Reversals and refunds in the store-and-forward queue, by state (pending: waiting to be sent; sent: waiting for the 0410 or 0230).',
      labelNames: ['state'], registers,
      collect() {
        const d = src.saf();
        this.set({ state: 'pending' }, d.pending);
        this.set({ state: 'sent' }, d.sent);
      },
    });
    new Gauge({
      name: 'revswitch_saf_oldest_entry_age_seconds', help: 'Age of the oldest reversal or refund still in the store-and-forward queue (0 when empty).', registers,
      collect() {
        const oldest = src.saf().oldestEnqueuedAt;
        this.set(oldest === null ? 0 : Math.max(0, (Date.now() - oldest) / 1000));
      },
    });
    const manual = this.manual;
    new Gauge({
      name: 'revswitch_manual_queue_size', help: 'Reversals and refunds waiting for a person (state manual in the store; read at most every 10 s).', registers,
      async collect() {
        await refresh(manual, async () => [(await src.store.reversals(['manual'])).length]);
        this.set(manual.values[0]);
      },
    });
    const reviews = this.reviews;
    const readReviews = async (): Promise<number[]> => {
      const open = await src.store.reviews(['open']);
      return [open.length, open.length === 0 ? 0 : Math.min(...open.map((r) => r.createdAt))];
    };
    new Gauge({
      name: 'revswitch_review_open', help: 'Review items waiting for a person (revswitch review list; read at most every 10 s).', registers,
      async collect() {
        await refresh(reviews, readReviews);
        this.set(reviews.values[0]);
      },
    });
    new Gauge({
      name: 'revswitch_review_oldest_age_seconds', help: 'Age of the oldest open review item (0 when none).', registers,
      async collect() {
        await refresh(reviews, readReviews);
        const oldest = reviews.values[1];
        this.set(oldest === 0 ? 0 : Math.max(0, (Date.now() - oldest) / 1000));
      },
    });
    const store = src.store;
    new Gauge({
      name: 'revswitch_store_queued_ops', help: 'Store writes accepted and not yet committed.', registers,
      collect() { this.set(store.stats().queued); },
    });
    new Counter({
      name: 'revswitch_store_batches_total', help: 'Group-commit batches committed.', registers,
      collect() {
        this.reset();
        this.inc(store.stats().batches);
      },
    });
    new Counter({
      name: 'revswitch_store_committed_ops_total', help: 'Store writes committed.', registers,
      collect() {
        this.reset();
        this.inc(store.stats().ops);
      },
    });

    // The commit hooks: one call per group-commit batch, never per message.
    if (store instanceof GroupCommitStore) {
      store.onCommit = (ms) => {
        this.commitSeconds.observe(ms / 1000);
        if (!this.storeStatus.ok) this.storeStatus = { ok: true, lastError: null };
      };
      store.onCommitError = (e) => {
        this.storeStatus = { ok: false, lastError: e.message };
      };
    }
  }
}

const MANUAL_REFRESH_MS = 10_000;
const MANUAL_READ_CAP_MS = 2000;

/** Figures read from the store at scrape time, at most every 10 s. */
interface Cached {
  values: number[];
  at: number;
  pending: Promise<void> | null;
}

/** Reads the figures again when the cached ones are old; never waits more than 2 s (the old ones stand). */
async function refresh(m: Cached, read: () => Promise<number[]>): Promise<void> {
  // performance.now(): a wall clock stepped back must not freeze these figures for an hour.
  if (performance.now() - m.at < MANUAL_REFRESH_MS) return;
  m.pending ??= read().then(
    (values) => { m.values = values; m.at = performance.now(); },
    () => { m.at = performance.now(); },
  ).finally(() => { m.pending = null; });
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([m.pending, new Promise<void>((r) => { timer = setTimeout(r, MANUAL_READ_CAP_MS); })]);
  clearTimeout(timer);
}
