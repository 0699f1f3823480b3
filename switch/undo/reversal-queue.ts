/**
 * Store-and-forward reversals: the durable ReversalQueue. Every entry is a row in the
 * store and every transition (pending -> sent -> acked, or -> manual) is one
 * compare-and-set write with its history row. A worker per upstream link keeps up to
 * `window` reversals in flight, so one slow entry never holds up the rest.
 *
 * Exactly one reversal per original reaches the issuer, crash or not: the 0400 (its STAN
 * and F7 included) is written with the `sent` state before its first byte leaves, so
 * after a restart the entry resumes as a 0401 repeat of that same message, which the
 * issuer recognises, never as a new reversal.
 *
 * The in-memory mirror holds the active entries; the store is the truth. The mirror never
 * runs ahead of it for good (./reversal-healing.ts): a failed write is retried while the
 * entry waits, and a refused compare-and-set, an insert that met a row, or the periodic
 * sweep re-read the row and the entry follows it.
 *
 * Longer than 400 lines: what is left here is one state machine, an entry's life from
 * enqueue through the `sent` mark before each send, answers, timeouts and retries to
 * manual handling, with the per-link window that schedules it. Its parts share the
 * entries, the two heaps and the in-flight counts, and each change to an entry sits next
 * to the compare-and-set write that makes it durable. The entry (./reversal-entry.ts),
 * the events (./reversal-events.ts) and the several-nodes leases (./reversal-leases.ts)
 * live in modules of their own.
 */
import {
  profileOf, answersAnother, isResponse, isReversal, localDateTime, refundOf, repeatOf, responseMti, reversalOf, stanString, transmissionTime, type IsoMessage,
} from '../../codec/index.js';
import type { ReversalOutcome } from '../../rules/index.js';
import type { Counters } from '../observe/counters.js';
import { MinHeap } from './min-heap.js';
import type { Logger } from '../observe/log.js';
import type { Exchange } from '../edge/mux.js';
import type { ReversalLink, ReversalQueue, ReversalRecord, ReversalRequest } from './reversals.js';
import { sealBinding, sealMessage, unsealMessage } from '../store/sealed.js';
import type { CardKeys } from '../store/secrets.js';
import type { ReversalRow, ReversalUpdate, Store, UndoKind } from '../store/types.js';
import type { EventBus } from '../observe/events/emitter.js';
import type { LifecycleEventInput } from '../observe/events/schema.js';
import { isActive, type Entry } from './reversal-entry.js';
import { ReversalEvents } from './reversal-events.js';
import { ReversalHealing } from './reversal-healing.js';
import { ReversalLeases, type LeaseOptions } from './reversal-leases.js';

export interface SafOptions {
  /** Reversals in flight at once per link. */
  window: number;
  /** How long to wait for a 0410 before the attempt counts as failed. */
  responseTimeoutMs: number;
  /** Delay before attempt n+1 (n from 1); the last value repeats. */
  backoffMs: number[];
  /** After this many attempts the entry goes to manual handling. */
  maxAttempts: number;
  /** After this age (from enqueue) the entry goes to manual handling. */
  maxAgeMs: number;
  /**
   * At most this many entries not final (pending, sent) held in memory (lease mode; default
   * 100,000). Past it, a new one is written to the store unowned and not kept here (an
   * outage's backlog lives in the store, not the heap), and claims take only the room left:
   * the lease tick claims stored ones back as entries finish. Never refused nor dropped.
   */
  maxInMemory?: number;
  /** The rules file's verdict on the answer code to a reversal or a refund (reversalResponses, refundResponses). */
  outcomeOf: (responseCode: string | undefined, kind: UndoKind) => ReversalOutcome;
  log: Logger;
  counters: Counters;
  keys: CardKeys;
  /** The wall clock, for what is stored (times, F7) and ages measured from stored times (default Date.now). */
  now?: () => number;
  /**
   * The monotonic clock response timeouts and backoff are timed on, so a step of the wall
   * clock neither fires them all nor holds them back an hour (default performance.now();
   * a test that injects only `now` gets that for both).
   */
  monotonic?: () => number;
  /** Lifecycle events, emitted once each transition is durable; null or absent: off. */
  events?: EventBus | null;
  /**
   * Several nodes on one store: this node's id and lease length. With it, every entry this
   * queue holds is leased to the node in the store; the leases are renewed every
   * leaseMs/3, rows nobody holds (or whose lease expired: a dead node's) are claimed then,
   * and nothing is sent while the node cannot show a live lease. Without it: one node.
   */
  lease?: LeaseOptions | null;
  /** How often the mirror is compared with the store's live rows (default 5 min; 0: never, tests call sweep()). */
  sweepMs?: number;
}

const DEFAULT_SWEEP_MS = 300_000;

/**
 * How many sends an answer of "original not found" (outcome recheck) gets before it counts
 * as done: with the default backoff, the last is about 36 s after the first, far past any
 * sale still in process at the issuer.
 */
const RECHECK_SENDS = 4;

/** How often entries waiting for a link that cannot send are checked against maxAgeMs. */
const AGE_CHECK_MS = 1000;

/** Finished entries stay visible to get() this long. */
const KEEP_DONE_MS = 15 * 60_000;

/** What an answer must agree on with the reversal or refund it answers: the original it names (F90, F56, F61), the terminal, the RRN. */
const UNDO_KEYS = [90, 56, 61, 41, 37];

/** A counter of the entry's kind: reversals_sent, refunds_sent, ... */
function count(kind: UndoKind, what: string): string {
  return `${kind}s_${what}`;
}

export class SafQueue implements ReversalQueue {
  private readonly entries = new Map<string, Entry>();
  private readonly due = new MinHeap<Entry>();
  private readonly timeouts = new MinHeap<Entry>();
  private readonly ready = new Map<string, Entry[]>();
  private readonly inFlight = new Map<string, number>();
  private done: { at: number; id: string }[] = [];
  private doneHead = 0;
  private active = 0;
  /** When the memory cap was last logged (performance.now()): once a second at most. */
  private spillLogged = -Infinity;
  private timer: NodeJS.Timeout | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;
  private agedOutAt = 0;
  /** Keeps the mirror from leading the store: failed writes retried, rows re-read, the sweep. */
  private readonly healing: ReversalHealing;
  private readonly now: () => number;
  private readonly mono: () => number;
  /** Several-nodes mode only (opts.lease). */
  private readonly leases: ReversalLeases | null;
  /** Events on only (opts.events). */
  private readonly events: ReversalEvents | null;
  /** What the links' Muxes call with an answer under a STAN this queue holds. */
  private readonly exchange: Exchange<Entry> = {
    answered: (e, msg) => this.answered(e, msg),
    // Held STANs have no deadline on the link: the queue's own timeouts (pump) run it.
    expired: () => {},
  };

  constructor(private readonly store: Store, private readonly links: ReadonlyMap<string, ReversalLink>, private readonly opts: SafOptions) {
    this.now = opts.now ?? Date.now;
    this.mono = opts.monotonic ?? opts.now ?? (() => performance.now());
    this.events = opts.events ? new ReversalEvents(opts.events, opts.keys) : null;
    // Closures, not `this`: what the leases may do to the entries stays private to the queue.
    this.leases = opts.lease
      ? new ReversalLeases(store, {
        adopt: (row, why, detail) => this.adopt(row, why, detail),
        activeIds: () => [...this.entries.values()].filter(isActive).map((e) => e.id),
        room: () => this.room(),
        dropUnowned: (owned) => this.dropUnowned(owned),
        pump: () => this.pump(),
      }, opts.lease, { log: opts.log, counters: opts.counters, now: this.now, mono: this.mono })
      : null;
    this.healing = new ReversalHealing({
      entry: (id) => this.entries.get(id),
      entries: () => this.entries.values(),
      adopt: (row, why, detail) => this.adopt(row, why, detail),
      retire: (e) => this.retire(e),
      schedule: (e) => this.schedule(e),
      pump: () => this.pump(),
      write: (u, kind, e, ev) => this.write(u, kind, e, ev),
    }, { store, lease: opts.lease ?? null, now: this.mono, wall: this.now, retryMs: opts.backoffMs[0] ?? 1000, log: opts.log, counters: opts.counters });
  }

  /**
   * Resumes every pending or sent reversal from the store. Call once, before start(). In
   * lease mode: the ones this node may take (its own from before a restart, unowned ones,
   * expired leases), leased to it.
   */
  async load(): Promise<number> {
    const rows = this.leases ? await this.leases.claimAtLoad() : await this.store.reversals(['pending', 'sent']);
    let n = 0;
    for (const row of rows) if (this.adopt(row, 'the switch restarted while it was in flight', 'resumed after restart')) n++;
    if (n > 0) this.opts.log.warn('reversals resumed from the store', { count: n });
    return n;
  }

  /** A row from the store into the mirror (load, or a claim); a `sent` one resumes as a repeat of its message. */
  private adopt(row: ReversalRow, why: string, detail: string): boolean {
    const known = this.entries.get(row.id);
    // A finished entry stays in the mirror for a while (get()); the store showing it active
    // again with a retriedAt means a person put it back (`manual retry`): a new life, not a copy.
    if (known !== undefined && (isActive(known) || row.retriedAt == null)) return false;
    const e = this.fromRow(row);
    if (!e) return false;
    this.entries.set(e.id, e);
    this.active++;
    if (e.sentStan !== null) this.holdStan(e);
    if (row.state === 'sent') {
      // Its answer cannot come any more (the connection died with the process that sent
      // it): the attempt failed, and the next send is a repeat of the same message.
      this.transition(e, { from: ['sent'], state: 'pending', dueAt: this.now(), lastError: why, detail });
    }
    this.schedule(e);
    return true;
  }

  /**
   * Lease mode, at a planned shutdown (after stop()): gives up the leases on what is still
   * pending or sent, so another node takes them at its next claim instead of after leaseMs.
   */
  async releaseLeases(): Promise<number> {
    return this.leases ? this.leases.release() : 0;
  }

  /** Lease mode, after a lapsed lease: what the store no longer says is this node's goes. */
  private dropUnowned(owned: ReadonlySet<string>): void {
    // A busy entry waits on its own write (an insert not landed yet is missing from the
    // claim though it is this node's), so it stays.
    for (const e of [...this.entries.values()]) if (isActive(e) && !e.busy && !owned.has(e.id)) this.drop(e);
  }

  /** Lets go of an entry another node now holds: out of the mirror, no write. */
  private drop(e: Entry): void {
    this.retire(e);
    this.opts.log.warn('reversal left to another node: its lease lapsed here', { id: e.id });
  }

  private fromRow(row: ReversalRow): Entry | null {
    const link = this.links.get(row.upstream);
    const e: Entry = {
      id: row.id, kind: row.kind ?? 'reversal', amount: row.amount ?? null, upstream: row.upstream, txnId: row.txnId, state: row.state, attempts: row.attempts,
      enqueuedAt: row.retriedAt ?? row.enqueuedAt, dueAt: this.dueIn(row.dueAt), lastError: row.lastError, reason: row.reason,
      finalAmount: row.finalAmount, original: null, message: null, sentStan: row.sentStan, busy: false, writes: 0, retrying: false, queued: false, ev: null,
    };
    try {
      if (!link) throw new Error(`upstream ${JSON.stringify(row.upstream)} is not configured`);
      if (row.message !== null) e.message = unsealMessage(link.dialect, row.message, this.opts.keys, sealBinding(row));
      else e.original = unsealMessage(link.dialect, row.original, this.opts.keys, sealBinding(row));
      if (this.events) e.ev = this.events.describe((e.message ?? e.original) as IsoMessage);
    } catch (err) {
      // It cannot be sent from here; a person decides. Never dropped.
      const why = `cannot resume: ${(err as Error).message}`;
      this.opts.log.error(`${e.kind} moved to manual handling`, { id: row.id, why });
      this.opts.counters.inc(count(e.kind, 'manual'));
      void this.write({ id: row.id, from: ['pending', 'sent'], state: 'manual', at: this.now(), lastError: why, detail: why }, e.kind, undefined, {
        txnId: row.txnId ?? '', reversalId: row.id, upstream: row.upstream, reversalAttempt: row.attempts, reversalReason: row.reason,
      });
      return null;
    }
    return e;
  }

  /**
   * A reversal this node cannot build or send (its upstream is not configured here, or its
   * original cannot be opened) goes straight to manual handling, so a person sees it in
   * `revswitch manual list` instead of a log line only. `original` is stored as it is
   * (already sealed, or empty when there is none). Retries until the store takes the row;
   * an id the store has already is left as it is (one original, one reversal).
   */
  enqueueManual(req: { id: string; upstream: string; txnId: string; reason: string; explanation: string; original: string; why: string }): void {
    const now = this.now();
    const row: ReversalRow = {
      id: req.id, txnId: req.txnId, upstream: req.upstream, state: 'manual', attempts: 0, reason: req.reason, finalAmount: null,
      explanation: req.explanation, original: req.original, message: null, sentStan: null, enqueuedAt: now, dueAt: now,
      lastError: req.why, note: null, updatedAt: now,
    };
    this.storeRow(row, (inserted) => {
      if (!inserted) return;
      this.opts.counters.inc('reversals_manual');
      this.opts.log.error('reversal moved to manual handling', { id: req.id, txn: req.txnId, why: req.why });
      this.events?.emit('REVERSAL_MANUAL', undefined, {
        timeMs: now, txnId: req.txnId, reversalId: req.id, reversalState: 'manual', upstream: req.upstream, reversalAttempt: 0,
        reversalReason: req.reason, note: req.why,
      });
    });
  }

  enqueue(req: ReversalRequest): boolean {
    if (this.entries.has(req.id)) return false;
    const now = this.now();
    if (this.leases && this.active >= this.maxInMemory) return this.spill(req, now);
    const e: Entry = {
      id: req.id, kind: req.kind ?? 'reversal', amount: req.amount ?? null, upstream: req.upstream, txnId: req.txnId ?? null, state: 'pending', attempts: 0, enqueuedAt: now,
      dueAt: this.mono(), lastError: null, reason: req.reason, finalAmount: req.finalAmount ?? null, original: req.original,
      message: null, sentStan: null, busy: true, writes: 0, retrying: false, queued: false, ev: this.events ? this.events.describe(req.original) : null,
    };
    this.entries.set(e.id, e);
    this.active++;
    // The fast path: with the link up and a free slot, the row is written already `sent`,
    // with its 0400, in one commit; the 0400 leaves as soon as that commit lands.
    const link = this.links.get(e.upstream);
    const fast = link !== undefined && link.isUp && (this.inFlight.get(e.upstream) ?? 0) < this.opts.window
      && this.maySend() && this.build(e, link, now) === null;
    if (fast) this.inFlight.set(e.upstream, (this.inFlight.get(e.upstream) ?? 0) + 1);
    const row: ReversalRow = {
      id: e.id, txnId: e.txnId, upstream: e.upstream, state: fast ? 'sent' : 'pending', attempts: fast ? 1 : 0, reason: e.reason,
      finalAmount: e.finalAmount, explanation: req.explanation, original: sealMessage(link?.dialect, req.original, this.opts.keys, sealBinding(e)),
      message: fast ? sealMessage(link?.dialect, e.message as IsoMessage, this.opts.keys, sealBinding(e)) : null, sentStan: fast ? e.sentStan : null,
      enqueuedAt: now, dueAt: fast ? now + this.opts.responseTimeoutMs : now, lastError: null, note: null, updatedAt: now,
      kind: e.kind, amount: e.amount,
    };
    this.leases?.own(row, now);
    this.opts.counters.inc(count(e.kind, 'queued'));
    this.opts.log.info(`${e.kind} queued`, { id: e.id, upstream: e.upstream, reason: e.reason, partial: req.finalAmount !== undefined, amount: e.amount ?? undefined, why: req.explanation });
    this.insert(e, row);
    return true;
  }

  /** Entries not final the queue may hold in memory (SafOptions.maxInMemory). */
  private get maxInMemory(): number {
    return this.opts.maxInMemory ?? 100_000;
  }

  /** Room for claimed rows: how many more entries the memory cap allows. */
  private room(): number {
    return Math.max(0, this.maxInMemory - this.active);
  }

  /**
   * Past maxInMemory: the entry goes to the store unowned, pending, due now, and is not
   * kept here. Any node's next claim with room takes it (this one's, as entries finish).
   * Durable like any other: the insert is retried until the store takes it.
   */
  private spill(req: ReversalRequest, now: number): boolean {
    const kind = req.kind ?? 'reversal';
    const link = this.links.get(req.upstream);
    const row: ReversalRow = {
      id: req.id, txnId: req.txnId ?? null, upstream: req.upstream, state: 'pending', attempts: 0, reason: req.reason, finalAmount: req.finalAmount ?? null,
      explanation: req.explanation, original: sealMessage(link?.dialect, req.original, this.opts.keys, sealBinding({ id: req.id, txnId: req.txnId ?? null })),
      message: null, sentStan: null, enqueuedAt: now, dueAt: now, lastError: null, note: null, updatedAt: now, kind, amount: req.amount ?? null,
    };
    this.opts.counters.inc(count(kind, 'queued'));
    this.opts.counters.inc(`${kind}s_spilled`);
    if (this.spillLogged + 1000 <= performance.now()) {
      this.spillLogged = performance.now();
      this.opts.log.warn(`${kind}s beyond the memory cap: kept in the store only, claimed back as room frees`, { maxInMemory: this.maxInMemory, spilled: this.opts.counters.get(`${kind}s_spilled`) });
    }
    this.storeRow(row, (inserted) => {
      if (inserted) this.events?.emit(kind === 'refund' ? 'REFUND_QUEUED' : 'REVERSAL_QUEUED', undefined, {
        timeMs: now, txnId: row.txnId ?? '', reversalId: row.id, reversalState: 'pending', upstream: row.upstream, reversalAttempt: 0, reversalReason: row.reason,
        decisionExplanation: row.explanation,
      });
    });
    return true;
  }

  /** Inserts the row, retrying until the store takes it: a reversal is never lost to a write error. */
  private storeRow(row: ReversalRow, then: (inserted: boolean) => void): void {
    this.store.insertReversal(row).then(then, (err: unknown) => {
      this.opts.counters.inc('store_errors');
      this.opts.log.error('reversal not stored yet; retrying', { id: row.id, error: (err as Error).message });
      setTimeout(() => this.storeRow(row, then), this.opts.backoffMs[0] ?? 1000).unref();
    });
  }

  private insert(e: Entry, row: ReversalRow): void {
    this.storeRow(row, (inserted) => {
      e.busy = false;
      if (!inserted) {
        // The store already has it: one original, one reversal. Either it was reversed
        // before (a restart, another node), or this very insert committed and its reply was
        // lost and the retry met it; in the second case it is live and nobody else holds
        // it, so it is re-read and taken from the row.
        if (row.state === 'sent') this.freeSlot(e);
        this.releaseStan(e);
        this.forget(e);
        e.state = 'cancelled'; // local only: the heaps skip it
        this.healing.takeIfOwnInsert(row, e.kind);
        return;
      }
      this.events?.emit(e.kind === 'refund' ? 'REFUND_QUEUED' : 'REVERSAL_QUEUED', e, { reversalState: 'pending', decisionExplanation: row.explanation, timeMs: row.enqueuedAt });
      if (row.state === 'sent') this.sentNow(e, this.links.get(e.upstream) as ReversalLink, e.message as IsoMessage, 1, row.dueAt);
      else if (e.state === 'pending') this.schedule(e);
      this.pump();
    });
  }

  /** The `sent` row is durable: the message may leave now. Both the fast path and send() end here. */
  private sentNow(e: Entry, link: ReversalLink, out: IsoMessage, attempts: number, dueAt: number): void {
    e.state = 'sent';
    e.attempts = attempts;
    e.dueAt = Math.max(this.dueIn(dueAt), this.mono() + this.opts.responseTimeoutMs);
    this.timeouts.push(e.dueAt, e);
    if (!link.send(out)) {
      this.failAttempt(e, 'the upstream link was down');
      return;
    }
    this.opts.counters.inc(attempts === 1 ? count(e.kind, 'sent') : `${e.kind}_repeats_sent`);
    this.events?.emit(e.kind === 'refund' ? 'REFUND_SENT' : 'REVERSAL_SENT', e, { reversalState: 'sent', mti: out.mti, timeMs: this.now() });
    this.opts.log.info(`${e.kind} sent`, { id: e.id, mti: out.mti, attempt: attempts });
  }

  cancel(id: string): boolean {
    const e = this.entries.get(id);
    // A refund credits money the issuer took, whatever a late answer says: never withdrawn here.
    if (!e || e.kind !== 'reversal' || e.state !== 'pending' || e.attempts > 0 || e.message !== null) return false;
    this.transition(e, { from: ['pending'], state: 'cancelled', detail: 'a late decline: nothing was held' });
    this.opts.counters.inc('reversals_cancelled');
    this.opts.log.info('reversal cancelled before sending', { id });
    return true;
  }

  /**
   * Offers an upstream answer by hand (tests; the switch's links route answers themselves
   * through their Mux): true when it is an answer to a reversal, whether or not an active
   * entry still holds its STAN (acks are idempotent), or a response an entry (a refund) holds.
   */
  handleResponse(upstream: string, msg: IsoMessage): boolean {
    const reversal = isReversal(msg.mti);
    if (!reversal && !isResponse(msg.mti)) return false;
    const link = this.links.get(upstream);
    const taken = link !== undefined && link.mux.dispatch(msg);
    if (!reversal) return taken; // a refund's answer (x230) only when an entry holds its STAN
    if (!taken) this.opts.counters.inc('reversal_responses_unmatched');
    return true;
  }

  /** An answer under the STAN an entry holds, from its link's Mux. */
  private answered(e: Entry, msg: IsoMessage): void {
    if (!this.isAnswerTo(e, msg) || e.state !== 'sent' || e.busy) {
      // An answer to a repeat of an entry already settled (acks are idempotent), or not an
      // answer to a reversal (refund) at all.
      this.opts.counters.inc('reversal_responses_unmatched');
      return;
    }
    const sent = e.message;
    if (sent && answersAnother(msg, sent, UNDO_KEYS)) {
      // Under this entry's STAN but about another original (two nodes' reversals resumed
      // under one STAN): never an ack for this one. It is retried, and ends with a person.
      this.opts.counters.inc('reversal_responses_mismatched');
      this.opts.log.error(`${e.kind} answer names another original; ignored`, { id: e.id, stan: e.sentStan });
      return;
    }
    const rc = msg.get(39);
    let outcome = this.opts.outcomeOf(rc, e.kind);
    if (outcome === 'recheck') {
      // "Original not found" may be a sale the issuer is still processing: the reversal
      // overtook it. Repeated over the backoff until RECHECK_SENDS, then taken as done.
      if (e.attempts < RECHECK_SENDS) {
        this.opts.counters.inc(count(e.kind, 'rechecked'));
        this.failAttempt(e, `the issuer answered ${rc ?? '(no F39)'} (original not found): asked again in case the sale was still in process there`);
        this.pump();
        return;
      }
      outcome = 'acked';
    }
    if (outcome === 'acked') {
      this.transition(e, { from: ['sent'], state: 'acked', detail: `answered ${rc ?? '(no F39)'}` }, { responseCode: rc });
      this.opts.counters.inc(count(e.kind, 'acked'));
      this.opts.log.info(`${e.kind} acknowledged`, { id: e.id, attempts: e.attempts, rc });
    } else if (outcome === 'manual') {
      this.toManual(e, `the issuer answered ${rc ?? '(no F39)'}`);
    } else {
      this.failAttempt(e, `the issuer answered ${rc ?? '(no F39)'}`);
    }
    this.pump();
  }

  /** A reversal's answer is an x410/x430; a refund's the response to what was sent (x230, or x210 for a x200). */
  private isAnswerTo(e: Entry, msg: IsoMessage): boolean {
    if (e.kind === 'reversal') return isReversal(msg.mti);
    return e.message !== null && isResponse(msg.mti) && msg.mti === responseMti(e.message.mti);
  }

  get(id: string): ReversalRecord | undefined {
    const e = this.entries.get(id);
    return e && { id: e.id, upstream: e.upstream, state: e.state, attempts: e.attempts, enqueuedAt: e.enqueuedAt, lastError: e.lastError ?? undefined };
  }

  get outstanding(): number {
    return this.active;
  }

  /** Pending and sent entries, and when the oldest was queued (metrics; a scan, so not per message). */
  depth(): { pending: number; sent: number; oldestEnqueuedAt: number | null } {
    let pending = 0;
    let sent = 0;
    let oldest: number | null = null;
    for (const e of this.entries.values()) {
      if (e.state === 'pending') pending++;
      else if (e.state === 'sent') sent++;
      else continue;
      if (oldest === null || e.enqueuedAt < oldest) oldest = e.enqueuedAt;
    }
    return { pending, sent, oldestEnqueuedAt: oldest };
  }

  records(): ReversalRecord[] {
    return [...this.entries.keys()].map((id) => this.get(id) as ReversalRecord);
  }

  start(): void {
    if (this.timer) return;
    // One periodic pump drives response timeouts and backoff for every entry; sends also
    // start at once when a write lands or an answer frees a slot.
    this.timer = setInterval(() => this.pump(), 10);
    this.timer.unref();
    const sweepMs = this.opts.sweepMs ?? DEFAULT_SWEEP_MS;
    if (sweepMs > 0) {
      this.sweepTimer = setInterval(() => void this.sweep(), sweepMs);
      this.sweepTimer.unref();
    }
    this.leases?.start();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.timer = null;
    this.sweepTimer = null;
    this.leases?.stop();
  }

  /** Drives every entry that is due. Cheap when nothing is: two heap peeks. */
  pump(): void {
    // Deadlines on the monotonic clock; ages (from stored times) and what is stored on the wall clock.
    const now = this.mono();
    const wall = this.now();
    this.healing.retryDue(now);
    while (this.timeouts.peekKey() <= now) {
      const e = this.timeouts.pop() as Entry;
      if (e.state === 'sent' && !e.busy && e.dueAt <= now) this.failAttempt(e, 'no response before the timeout');
    }
    while (this.due.peekKey() <= now) {
      const e = this.due.pop() as Entry;
      if (e.state !== 'pending' || e.busy || e.queued || e.dueAt > now) continue;
      if (wall - e.enqueuedAt >= this.opts.maxAgeMs) {
        this.toManual(e, `older than ${Math.round(this.opts.maxAgeMs / 60_000)} min`);
        continue;
      }
      let line = this.ready.get(e.upstream);
      if (!line) this.ready.set(e.upstream, (line = []));
      line.push(e);
      e.queued = true;
    }
    const maySend = this.maySend();
    // Entries waiting in a line that cannot send (link down, no lease) still age: checked
    // once a second, not on every pump.
    const ageOut = now - this.agedOutAt >= AGE_CHECK_MS;
    if (ageOut) this.agedOutAt = now;
    for (const [upstream, line] of this.ready) {
      if (line.length === 0) continue;
      const link = this.links.get(upstream);
      if (!maySend || !link || !link.isUp) {
        if (ageOut) this.ageOut(line, wall);
        continue;
      }
      let busy = this.inFlight.get(upstream) ?? 0;
      let i = 0;
      while (i < line.length && busy < this.opts.window) {
        const e = line[i++];
        e.queued = false;
        if (e.state !== 'pending' || e.busy) continue;
        this.send(e, link, wall);
        busy++;
      }
      line.splice(0, i);
      this.inFlight.set(upstream, busy);
    }
    this.prune(now);
  }

  /** Moves the entries of a line that cannot send which are older than maxAgeMs to manual handling. */
  private ageOut(line: Entry[], now: number): void {
    let kept = 0;
    for (const e of line) {
      if (e.state === 'pending' && !e.busy && now - e.enqueuedAt >= this.opts.maxAgeMs) {
        e.queued = false;
        this.toManual(e, `older than ${Math.round(this.opts.maxAgeMs / 60_000)} min, the link never free to send it`);
      } else {
        line[kept++] = e;
      }
    }
    line.length = kept;
  }

  /** One node: always. Several: only while this node's leases are known to hold. */
  private maySend(): boolean {
    return !this.leases || this.leases.maySend();
  }

  private schedule(e: Entry): void {
    if (e.state === 'pending') this.due.push(e.dueAt, e);
    else if (e.state === 'sent') this.timeouts.push(e.dueAt, e);
  }

  /**
   * A stored due time (wall clock) as a deadline on the monotonic clock, from now on. Never
   * further ahead than the longest delay the queue sets: a row written before the wall
   * clock stepped back (read at a restart, or by another node) is not held back an hour.
   */
  private dueIn(wallAt: number): number {
    return this.mono() + Math.min(wallAt - this.now(), Math.max(this.opts.responseTimeoutMs, ...this.opts.backoffMs));
  }

  /** Builds the 0400 (the refund's 0220) under a STAN no active entry holds; the error text when the codec refuses. */
  private build(e: Entry, link: ReversalLink, now: number): string | null {
    const original = e.original as IsoMessage;
    // UnionPay names the original by repeating its trace: the sale's own upstream F11.
    const stan = underOriginalStan(e, link) ? (original.get(11) ?? '') : stanString(link.mux.nextStan());
    try {
      e.message = e.kind === 'refund'
        // The original kept for a refund carries its approval's F38 (engine/decisions.ts).
        ? refundOf(link.dialect, original, {
          amount: e.amount ?? original.get(4) ?? '', stan, transmissionDateTime: transmissionTime(now), localDateTime: localDateTime(now),
          approvalCode: original.get(38), request: link.refundAsRequest === true,
        })
        : reversalOf(link.dialect, original, {
          reason: e.reason, finalAmount: e.finalAmount ?? undefined, stan, transmissionDateTime: transmissionTime(now),
        });
    } catch (err) {
      return (err as Error).message;
    }
    e.sentStan = stan;
    this.holdStan(e);
    e.original = null;
    return null;
  }

  /** Marks the entry sent (durably, with the message) and only then writes it to the link. */
  private send(e: Entry, link: ReversalLink, now: number): void {
    const first = e.message === null;
    let stored: string | undefined;
    if (first) {
      const error = this.build(e, link, now);
      if (error !== null) {
        // An original the codec cannot reverse (a field missing): a person decides; the
        // queue goes on with the others.
        this.toManual(e, `cannot build the ${e.kind}: ${error}`);
        return;
      }
      stored = sealMessage(link.dialect, e.message as IsoMessage, this.opts.keys, sealBinding(e));
    }
    const out = e.attempts === 0 ? e.message as IsoMessage : repeatOf(e.message as IsoMessage);
    e.busy = true;
    const attempts = e.attempts + 1;
    const dueAt = now + this.opts.responseTimeoutMs;
    this.store.updateReversal({
      id: e.id, from: ['pending'], state: 'sent', at: now, attempts, dueAt, message: stored, sentStan: first ? e.sentStan : undefined,
      detail: `attempt ${attempts}: ${out.mti}`,
    }).then(
      (ok) => {
        e.busy = false;
        if (!ok) {
          this.freeSlot(e);
          this.opts.log.error(`${e.kind} changed under the queue; not sent`, { id: e.id });
          this.healing.heal(e, 'its sent mark was refused');
          return;
        }
        this.sentNow(e, link, out, attempts, dueAt);
      },
      (err: unknown) => {
        // Not marked sent, so not sent: the row is still pending; try again after the backoff.
        e.busy = false;
        this.freeSlot(e);
        this.opts.counters.inc('store_errors');
        this.opts.log.error(`${e.kind} not marked sent; retrying`, { id: e.id, error: (err as Error).message });
        e.dueAt = this.mono() + (this.opts.backoffMs[0] ?? 1000);
        this.due.push(e.dueAt, e);
      },
    );
  }

  /** A timeout counts as an attempt, like a reject: a dead host cannot block the queue forever. */
  private failAttempt(e: Entry, why: string): void {
    const now = this.now();
    if (e.attempts >= this.opts.maxAttempts) return this.toManual(e, `${why}; ${e.attempts} attempts`);
    if (now - e.enqueuedAt >= this.opts.maxAgeMs) return this.toManual(e, `${why}; older than ${Math.round(this.opts.maxAgeMs / 60_000)} min`);
    const b = this.opts.backoffMs;
    const dueAt = now + b[Math.min(Math.max(e.attempts, 1) - 1, b.length - 1)];
    this.transition(e, { from: ['sent', 'pending'], state: 'pending', dueAt, lastError: why, detail: `attempt ${e.attempts} failed: ${why}` });
    this.due.push(e.dueAt, e);
  }

  private toManual(e: Entry, why: string): void {
    this.transition(e, { from: ['sent', 'pending'], state: 'manual', lastError: why, detail: why });
    this.opts.counters.inc(count(e.kind, 'manual'));
    this.opts.log.error(`${e.kind} moved to manual handling`, { id: e.id, attempts: e.attempts, why });
  }

  /** Applies a transition to the mirror now and to the store in order (group-committed). */
  private transition(e: Entry, u: Omit<ReversalUpdate, 'id' | 'at'>, ev?: Partial<LifecycleEventInput>): void {
    const wasSent = e.state === 'sent';
    e.state = u.state;
    if (u.dueAt !== undefined) e.dueAt = this.dueIn(u.dueAt);
    if (u.lastError !== undefined) e.lastError = u.lastError;
    if (wasSent && u.state !== 'sent') this.freeSlot(e);
    if (u.state !== 'pending' && u.state !== 'sent') this.finished(e);
    e.writes++;
    void this.write({ id: e.id, at: this.now(), ...u }, e.kind, e, ev);
  }

  /**
   * Writes a transition. A failure is retried from pump() after the first backoff, and the
   * entry waits (busy) until the store has taken it, so the mirror is never ahead of the
   * store on the next step. A refusal (the row is not in a state the change starts from)
   * means the mirror is wrong: the row is re-read and the entry follows it.
   */
  private write(u: ReversalUpdate, kind: UndoKind, e?: Entry, ev?: Partial<LifecycleEventInput>): Promise<void> {
    return this.store.updateReversal(u).then(
      (ok) => {
        if (e) {
          e.writes--;
          if (e.retrying) {
            e.retrying = false;
            e.busy = false;
            if (ok && isActive(e) && this.entries.get(e.id) === e) this.schedule(e);
          }
        }
        if (ok) {
          this.events?.transitioned(u, kind, e, ev);
          return;
        }
        this.opts.log.error(`${kind} transition refused by the store`, { id: u.id, to: u.state, from: u.from.join('|') });
        // A retried write that the store had already taken (its reply was lost) is refused
        // by its own compare-and-set: the re-read finds the row as the mirror has it.
        if (e) this.healing.heal(e, `its ${u.state} write was refused`);
      },
      (err: unknown) => {
        this.opts.counters.inc('store_errors');
        this.opts.log.error(`${kind} transition not stored; retrying`, { id: u.id, to: u.state, error: (err as Error).message });
        this.healing.writeFailed({ u, kind, e, ev });
      },
    );
  }

  /** Compares the mirror with the store's live rows and heals each difference (./reversal-healing.ts); public for tests. */
  sweep(): Promise<number> {
    return this.healing.sweep();
  }

  /** Lets go of an entry in memory only (no write): its slot, its STAN, the count, the mirror. */
  private retire(e: Entry): void {
    if (isActive(e)) {
      if (e.state === 'sent') this.freeSlot(e);
      this.releaseStan(e);
      if (this.active > 0) this.active--;
    }
    e.state = 'cancelled'; // local only: the heaps and lines skip it
    this.entries.delete(e.id);
  }

  /**
   * Holds the entry's STAN on its link for as long as the entry is active: its answers
   * come here (./reversal-queue.ts `answered`), its 0401 repeats reuse it, and no sale or
   * other reversal on the link is given it. The response deadline stays the queue's own
   * (it is part of the durable row), so the link holds the STAN without one.
   */
  private holdStan(e: Entry): void {
    const link = this.links.get(e.upstream);
    if (!link || e.sentStan === null) return;
    const held = underOriginalStan(e, link) ? link.mux.holdReversal(Number(e.sentStan), this.exchange, e) : link.mux.hold(Number(e.sentStan), this.exchange, e);
    if (!held) {
      // Two reversals resumed under one STAN (from two nodes' pasts): answers go to the
      // first, which checks them; this one's answers cannot be told apart and it is
      // retried until it reaches its attempts limit and a person.
      this.opts.counters.inc('reversal_stan_conflicts');
      this.opts.log.error('reversal STAN already held on its link', { id: e.id, upstream: e.upstream, stan: e.sentStan });
    }
  }

  private releaseStan(e: Entry): void {
    const link = this.links.get(e.upstream);
    if (e.sentStan === null || !link) return;
    if (underOriginalStan(e, link)) link.mux.releaseReversal(Number(e.sentStan), e);
    else link.mux.release(Number(e.sentStan));
  }

  /** Frees the entry's slot in its link's window. */
  private freeSlot(e: Entry): void {
    const n = this.inFlight.get(e.upstream) ?? 0;
    if (n > 0) this.inFlight.set(e.upstream, n - 1);
  }

  private finished(e: Entry): void {
    if (this.active > 0) this.active--;
    this.releaseStan(e);
    e.original = null;
    e.message = null;
    this.done.push({ at: this.mono(), id: e.id });
  }

  private forget(e: Entry): void {
    this.entries.delete(e.id);
    if (this.active > 0) this.active--;
  }

  private prune(now: number): void {
    while (this.doneHead < this.done.length && now - this.done[this.doneHead].at > KEEP_DONE_MS) {
      const { id } = this.done[this.doneHead++];
      const e = this.entries.get(id);
      if (e && !isActive(e)) this.entries.delete(id);
    }
    if (this.doneHead > 4096 && this.doneHead * 2 > this.done.length) {
      this.done = this.done.slice(this.doneHead);
      this.doneHead = 0;
    }
  }
}

/**
 * A reversal on a link whose standard names the original by repeating its STAN (UnionPay
 * POS, codec/profiles/cup.ts): sent under the original's own upstream F11, which the link
 * holds in its reversal lane (edge/mux.ts). Refunds name the original in F61 and take a
 * STAN of their own, as every 1987 and 1993 undo does.
 */
function underOriginalStan(e: Entry, link: ReversalLink): boolean {
  return e.kind !== 'refund' && profileOf(link.dialect).standard === 'cup';
}
