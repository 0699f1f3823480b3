/**
 * Answers after a sale's deadline, and answers no request was waiting for (the one handler
 * of every upstream link's unmatched answers). A sale's answer after its deadline is never
 * relayed (the reversal queued at the deadline stands), except that a late definitive
 * decline withdraws a reversal not yet sent, since nothing was held.
 *
 * An expired sale keeps its STAN held on its link (the link's Mux) for as long as a late
 * answer is awaited, so the link never gives that STAN to a new sale: after the sequence
 * wraps (about 2 minutes at 8k sales/s), an old sale's late answer could otherwise be taken
 * for a newer sale's. And a late answer must name the same sale (F7, F41, F37 where echoed)
 * to be applied.
 */
import { answersAnother, isReversal, type IsoMessage } from '../../codec/index.js';
import { CLASS_INFO } from '../../rules/index.js';
import type { Exchange } from '../edge/mux.js';
import type { UpstreamLink } from '../edge/upstream-link.js';
import { summarize } from '../observe/log.js';
import type { EngineContext } from './context.js';
import type { Decisions } from './decisions.js';
import type { Txn } from './txn.js';

/** What a late answer must agree on with the sale it is taken for, where it echoes them. */
const LATE_KEYS = [7, 41, 37];

/**
 * The most STANs of one link that expired sales hold. In an issuer outage every sale
 * expires: past this the oldest let theirs go (a late answer to one is then unknown), so
 * new sales always find free STANs (half the 999,999).
 */
const MAX_HELD_PER_LINK = 500_000;

interface Expired {
  link: UpstreamLink;
  stan: number;
  txn: Txn;
}

export class LateAnswers {
  /** Sales whose deadline passed, by link|STAN, oldest first; each holds its STAN on its link. */
  private readonly expired = new Map<string, Expired>();
  private readonly heldPerLink = new Map<string, number>();
  /** What the links' Muxes call with an answer under a STAN an expired sale holds. */
  private readonly exchange: Exchange<Expired> = {
    answered: (e, msg) => this.answered(e, msg),
    expired: () => {},
  };

  constructor(private readonly ctx: EngineContext, private readonly decisions: Decisions) {}

  /** A sale's deadline passed: its answer, if it comes, is late; its STAN stays its own meanwhile. */
  remember(link: UpstreamLink, stan: number, txn: Txn): void {
    const e: Expired = { link, stan, txn };
    const held = link.mux.hold(stan, this.exchange, e);
    this.expired.set(`${link.name}|${stan}`, e);
    if (held) this.heldPerLink.set(link.name, (this.heldPerLink.get(link.name) ?? 0) + 1);
    if ((this.heldPerLink.get(link.name) ?? 0) > MAX_HELD_PER_LINK) this.evictOldest(link.name);
  }

  /** An answer nobody holds a STAN for: a reversal's repeat answered twice, or unknown. */
  handle(msg: IsoMessage, link: UpstreamLink): void {
    const { ctx } = this;
    if (isReversal(msg.mti)) {
      // An answer to a repeat of a reversal already settled: acks are idempotent.
      ctx.counters.inc('reversal_responses_unmatched');
      return;
    }
    ctx.counters.inc('late_responses');
    ctx.log.warn('upstream response for an unknown request', { upstream: link.name, ...summarize(msg) });
  }

  /** An answer under an expired sale's STAN. */
  private answered(e: Expired, msg: IsoMessage): void {
    const { ctx } = this;
    const { link, txn } = e;
    if (isReversal(msg.mti)) {
      ctx.counters.inc('reversal_responses_unmatched');
      return;
    }
    if (txn.sent !== null && answersAnother(msg, txn.sent, LATE_KEYS)) {
      // Another sale's answer under this STAN (an old one, from before the sequence
      // wrapped, or a host's mistake): never applied to this one, which still waits.
      ctx.counters.inc('late_answers_mismatched');
      ctx.log.error('late response names another sale than the one its STAN was given to; ignored', { upstream: link.name, txn: txn.id, ...summarize(msg) });
      return;
    }
    this.forget(e);
    ctx.counters.inc('late_responses');
    const cls = this.decisions.classify(link, msg.get(39));
    // A late approval is never relayed: the reversal queued at the deadline stands. A late
    // definitive decline means nothing was held, so a reversal not yet sent can be withdrawn;
    // a late 96 or 91 leaves the outcome in doubt, so its reversal stands too.
    if (cls !== 'approved' && !CLASS_INFO[cls].fundsMayBeHeld && txn.reversalId && ctx.reversals.cancel(txn.reversalId)) {
      txn.decision = `late ${msg.get(39)}: reversal withdrawn`;
    }
    void ctx.journal.record(txn, { note: `late response ${msg.get(39) ?? '(no F39)'} (${cls}): ${txn.decision?.startsWith('late') ? 'reversal withdrawn' : 'not relayed'}` },
      undefined, { kind: 'LATE_RESPONSE', responseCode: msg.get(39), failureClass: cls });
    ctx.log.info('late response', { upstream: link.name, class: cls, reversal: txn.reversalId, ...summarize(msg) });
  }

  /**
   * Capped like the transaction table: in an issuer outage every sale times out, and a map
   * of them all for retentionMs would keep every one alive whatever the table let go.
   */
  sweep(now: number): void {
    const { retentionMs, maxRetained } = this.ctx.cfg;
    for (const e of this.expired.values()) {
      const young = now - e.txn.startedAt < retentionMs;
      if (young && this.expired.size <= maxRetained) break;
      if (young) this.ctx.counters.inc('late_waits_dropped');
      this.forget(e);
    }
  }

  /** Stops waiting for a late answer: the entry goes, and its STAN is the link's again. */
  private forget(e: Expired): void {
    const k = `${e.link.name}|${e.stan}`;
    if (this.expired.get(k) !== e) return;
    this.expired.delete(k);
    if (e.link.mux.releaseHeld(e.stan, e)) this.heldPerLink.set(e.link.name, (this.heldPerLink.get(e.link.name) ?? 1) - 1);
  }

  private evictOldest(link: string): void {
    for (const e of this.expired.values()) {
      if (e.link.name !== link) continue;
      this.ctx.counters.inc('late_waits_dropped');
      this.forget(e);
      return;
    }
  }
}
