/**
 * The sale path: a terminal's authorization or financial request is routed, journaled
 * (durable before it leaves), forwarded under the link's own STAN, and its answer, or its
 * deadline, comes back here through the link's Mux. An approval is durable before the
 * terminal sees it; every timeout and undeliverable approval is put to rules/.
 */
import { answersAnother, isReversal, profileOf, stanString, transmissionTime, type IsoMessage, type Standard } from '../../codec/index.js';
import type { FramedConn } from '../edge/framed-conn.js';
import type { Exchange } from '../edge/mux.js';
import type { Router } from '../edge/router.js';
import type { UpstreamLink } from '../edge/upstream-link.js';
import { summarize } from '../observe/log.js';
import { isDuplicateRequest } from '../store/types.js';
import type { EngineContext } from './context.js';
import type { Decisions } from './decisions.js';
import type { LateAnswers } from './late-answers.js';
import type { Replies } from './replies.js';
import { StoredDuplicates } from './stored-duplicates.js';
import { newTxn, type Txn } from './txn.js';
import { PinTranslationError } from '../edge/security.js';

/** What an answer must agree on with its sale: the terminal and the RRN. */
const ANSWER_KEYS = [41, 37];
/** Fields the terminal's answer takes from the issuer's response. */
const FROM_ISSUER = [4, 38, 39, 44, 54, 55];

/** How many times a row whose insert seemed to fail is marked not_sent before it is left to recovery. */
const NOT_SENT_TRIES = 30;
/** Sensitive authentication data (F55 may carry tag 57, track 2): forwarded once, never kept (PCI DSS 3.3.1). */
export const NOT_KEPT = [35, 36, 45, 52, 55];

export class SalePath implements Exchange<Txn> {
  private readonly storedDuplicates: StoredDuplicates;
  /** Whether each listener translates PINs (config, read once per listener). */
  private readonly pinListeners = new Map<string, boolean>();

  constructor(
    private readonly ctx: EngineContext,
    private readonly router: Router,
    private readonly replies: Replies,
    private readonly decisions: Decisions,
    private readonly late: LateAnswers,
  ) {
    this.storedDuplicates = new StoredDuplicates(ctx, replies);
  }

  forward(listener: string, msg: IsoMessage, conn: FramedConn): void {
    const { ctx } = this;
    const stan = msg.get(11);
    if (stan === undefined || msg.get(41) === undefined) {
      ctx.counters.inc('rejected_missing_keys');
      this.replies.send(conn, this.replies.local(listener, msg, 'format_error'));
      return;
    }
    const now = Date.now();
    const txn = newTxn({
      id: ctx.journal.nextId(), request: msg, listener, standard: this.standardOf(listener), state: 'inflight', conn,
      startedAt: now, receivedAt: performance.now(),
    });
    const known = ctx.txns.get(txn.key);
    if (known) {
      // A duplicate: the stored answer, or wait for the one in flight. Never forwarded twice,
      // and taken from its connection's allowance: a flood of copies is answered at a pace.
      ctx.counters.inc('duplicates');
      conn.chargeDuplicate();
      if (ctx.journal.events) ctx.journal.received(known, known.answer ? 'duplicate: answered again' : 'duplicate: waits for the answer in flight');
      if (known.answer) this.replies.send(conn, known.answer);
      else if (known.waiters === null) known.waiters = [conn];
      else known.waiters.push(conn);
      return;
    }
    ctx.txns.add(txn);
    if (ctx.journal.events) ctx.journal.received(txn);
    const routing = this.router.route(msg);
    if (routing === null || routing.link === null) {
      // Never forwarded, yet kept for its duplicates: without what is never kept.
      for (const n of NOT_KEPT) msg.delete(n);
      txn.state = 'not_sent';
      const noRoute = routing === null;
      ctx.counters.inc(noRoute ? 'no_route' : 'no_upstream');
      const note = noRoute ? 'no routing rule takes this card' : `no upstream of route ${routing.rule.name} is up`;
      if (ctx.journal.events) ctx.journal.event('NOT_SENT', txn, { txnState: 'not_sent', note });
      if (noRoute) ctx.log.warn('no route: declined', { listener, ...summarize(msg) });
      this.replies.finish(txn, this.replies.local(listener, msg, noRoute ? 'no_route' : 'issuer_unavailable'));
      return;
    }
    const link = routing.link;
    if (routing.fallback) ctx.counters.inc('routed_to_fallback');
    const out = msg.clone();
    if (!link.dialect.tpdu) out.tpdu = null;
    if (link.dialect.headerLength === 0) out.header = null;
    // The terminal's MAC is its own key's; the link signs with the upstream's (or sends none).
    out.delete(64);
    out.delete(128);
    if (out.has(52) && this.translatesPin(listener) && !this.pinTranslated(txn, out, link)) return;
    const own = link.mux.track(this, txn, this.timeoutOf(link));
    out.set(11, stanString(own));
    // F90 of a reversal carries the original's F7: without one it could not be built.
    if (!out.has(7) && link.dialect.fields[7]) out.set(7, transmissionTime(now));
    txn.upstream = link.name;
    txn.upstreamStan = own;
    txn.sent = out;
    for (const n of NOT_KEPT) msg.delete(n);
    // Write-ahead: the request is in the journal before it leaves, so a crash from here
    // on is undone by recovery. The deadline already runs: the journal's wait counts.
    ctx.journal.begin(txn, now, link.dialect).then(
      () => this.send(txn, link, own),
      (err: unknown) => {
        // Still in flight (its deadline has not ended it): its STAN is its own to give up.
        if (txn.state === 'inflight') link.mux.release(own);
        if (isDuplicateRequest(err)) {
          conn.chargeDuplicate();
          this.storedDuplicates.answer(txn, this.timeoutOf(link));
          return;
        }
        txn.state = 'not_sent';
        ctx.counters.inc('store_errors');
        ctx.log.error('journal write failed; request not forwarded', { txn: txn.id, error: (err as Error).message });
        this.replies.finish(txn, this.replies.local(listener, msg, 'issuer_unavailable'));
        this.markNotSent(txn, 1);
      },
    );
  }

  private translatesPin(listener: string): boolean {
    let t = this.pinListeners.get(listener);
    if (t === undefined) {
      t = this.ctx.cfg.listeners.find((l) => l.name === listener)?.translatePin === true;
      this.pinListeners.set(listener, t);
    }
    return t;
  }

  /**
   * F52 from the terminal's PIN key to the upstream's. A block that does not translate is
   * declined 55/A7 and never forwarded (nor journaled: nothing left, nothing to undo).
   */
  private pinTranslated(txn: Txn, out: IsoMessage, link: UpstreamLink): boolean {
    const { ctx } = this;
    try {
      if (!ctx.security) throw new PinTranslationError('no key store is configured');
      ctx.security.translatePin(out, (txn.request.get(41) ?? '').trimEnd(), link.name);
      return true;
    } catch (e) {
      if (!(e instanceof PinTranslationError)) throw e;
      txn.state = 'not_sent';
      ctx.counters.inc('pin_translation_failures');
      ctx.metrics.pinFailureCounter(txn.listener)();
      ctx.log.warn('PIN block not translated: declined', { listener: txn.listener, upstream: link.name, reason: e.message, ...summarize(txn.request) });
      if (ctx.journal.events) ctx.journal.event('NOT_SENT', txn, { txnState: 'not_sent', note: `PIN not translated: ${e.message}` });
      for (const n of NOT_KEPT) txn.request.delete(n);
      this.replies.finish(txn, this.replies.local(txn.listener, txn.request, 'pin_error'));
      return false;
    }
  }

  /**
   * The insert failed as far as this node knows, yet it may have committed with its reply
   * lost: such a row must not stay `forwarded`, or a report and recovery would take a sale
   * that never left for one in flight. Marked `not_sent` (nothing, if there is no row),
   * retried while the store fails.
   */
  private markNotSent(txn: Txn, attempt: number): void {
    const { ctx } = this;
    ctx.journal.record(txn, { note: 'the journal write had failed as far as the switch knew: never forwarded', owner: ctx.node }, 'not_sent').catch(() => {
      if (attempt < NOT_SENT_TRIES && !ctx.stopping()) setTimeout(() => this.markNotSent(txn, attempt + 1), 1000).unref();
    });
  }

  /** The deadline of a sale on this link: its configured timeout, else the command line's (the demo issuer's). */
  timeoutOf(link: UpstreamLink): number {
    return this.ctx.cfg.upstreams.find((u) => u.name === link.name)?.timeoutMs ?? 8000;
  }

  private standardOf(listener: string): Standard {
    return profileOf(this.ctx.listenerDialect(listener)).standard;
  }

  private send(txn: Txn, link: UpstreamLink, own: number): void {
    const { ctx } = this;
    // Expired while the journal wrote: the terminal has its answer and the reversal is queued.
    if (txn.state !== 'inflight') return;
    const out = txn.sent as IsoMessage;
    if (!link.send(out)) {
      link.mux.release(own);
      txn.state = 'not_sent';
      ctx.counters.inc('upstream_write_failed');
      void ctx.journal.record(txn, { note: 'the upstream link was down' });
      this.replies.finish(txn, this.replies.local(txn.listener, txn.request, 'issuer_unavailable'));
      return;
    }
    txn.sentAt = performance.now();
    for (const n of NOT_KEPT) out.delete(n);
    ctx.counters.inc('forwarded');
  }

  /** The issuer's answer, matched by the link's Mux. */
  answered(txn: Txn, msg: IsoMessage): void {
    const { ctx } = this;
    const link = ctx.links.get(txn.upstream) as UpstreamLink;
    if (isReversal(msg.mti) || (txn.sent !== null && answersAnother(msg, txn.sent, ANSWER_KEYS))) {
      // Not the answer to this sale, under its STAN: the outcome is unknown, so it is
      // handled as a sale that got no answer in time (answered 91 and put to rules/).
      ctx.counters.inc('mismatched_responses');
      ctx.log.error('upstream response does not match its request; handled as a timeout', { upstream: link.name, ...summarize(msg) });
      this.expire(txn, link);
      return;
    }
    const rtt = txn.sentAt > 0 ? (performance.now() - txn.sentAt) / 1000 : 0;
    if (rtt > 0) ctx.metrics.upstreamRtt(link.name).observe(rtt);
    const listenerDialect = ctx.listenerDialect(txn.listener);
    const rc = msg.get(39);
    const cls = this.decisions.classify(link, rc);
    const approved = cls === 'approved';
    const res = this.replies.relay(txn.listener, txn.request);
    for (const n of FROM_ISSUER) {
      const v = msg.values[n];
      if (v !== undefined && listenerDialect.fields[n]) res.values[n] = v;
    }
    txn.state = approved ? 'approved' : 'declined';
    ctx.counters.inc(approved ? 'answers_approved' : 'answers_declined');
    if (approved && txn.reverseWhenDone) {
      // The terminal's reversal, as rules/ would have taken it had the sale been answered
      // first: a partial one (F95) stays partial.
      txn.state = 'reversed_by_terminal';
      this.decisions.decideAndAct(txn, 'customer_cancel', txn.reverseWhenDone);
    }
    // Fenced by owner: if another node judged this one dead and took the sale over, the
    // write changes nothing and the answer is late here (not relayed; that node reverses it).
    const recorded = ctx.journal.record(txn, {
      responseCode: rc ?? null, failureClass: cls, reversalId: txn.reversalId,
      ...(approved ? { approvalCode: msg.get(38) ?? null, approvedAmount: partialAmount(msg, txn.sent) } : {}),
      owner: ctx.node,
    }, undefined, { kind: 'ANSWERED' });
    const deliver = (): void => {
      const delivered = this.replies.finish(txn, res);
      if (delivered) ctx.metrics.addedLatency.observe((performance.now() - txn.receivedAt) / 1000 - rtt);
      if (approved && !delivered && txn.state === 'approved') this.undeliverable(txn);
    };
    // An approval is durable before the terminal sees it: recovery must never reverse a
    // sale whose approval was delivered. A decline needs no such care.
    if (!approved) deliver();
    else {
      recorded.then((mine) => (mine ? deliver() : this.takenOver(txn)), () => {
        // The approval is not on record, so a restart would reverse it: it must not reach
        // the terminal. The terminal gets a non-approval and the sale is reversed now.
        txn.state = 'undeliverable';
        this.replies.finish(txn, this.replies.local(txn.listener, txn.request, 'issuer_unavailable'));
        this.undeliverable(txn);
      });
    }
    // A decline holds nothing, but an unknown outcome (06, 96, 68...) or an outage may:
    // rules/ says whether to reverse (or, for fraud codes, to flag for review).
    if (!approved) this.decisions.decideAndAct(txn, rc === undefined ? 'format_error' : { responseCode: rc });
  }

  /**
   * An answer whose MAC is missing or wrong: what it says cannot be trusted, so it is
   * never relayed. The terminal gets the non-approval of a timeout, and rules/ decides on
   * a mac_failure (a mandatory reversal: an approval may stand at the issuer).
   */
  unauthentic(txn: Txn): void {
    const { ctx } = this;
    const link = ctx.links.get(txn.upstream) as UpstreamLink;
    ctx.counters.inc('unauthentic_answers');
    txn.state = 'timed_out';
    this.late.remember(link, txn.upstreamStan, txn);
    this.replies.finish(txn, this.replies.local(txn.listener, txn.request, 'issuer_unavailable'));
    this.decisions.decideAndAct(txn, 'mac_failure');
  }

  /** The deadline passed before the answer: the terminal gets 91 and rules/ decides (a reversal). */
  expired(txn: Txn): void {
    this.expire(txn, this.ctx.links.get(txn.upstream) as UpstreamLink);
  }

  private expire(txn: Txn, link: UpstreamLink): void {
    this.ctx.counters.inc('timeouts');
    txn.state = 'timed_out';
    this.late.remember(link, txn.upstreamStan, txn);
    this.replies.finish(txn, this.replies.local(txn.listener, txn.request, 'issuer_unavailable'));
    this.decisions.decideAndAct(txn, 'timeout');
  }

  /**
   * Another node took this sale over while it was in flight (it judged this node's
   * heartbeat stopped) and is reversing it: the approval must not reach the terminal, and
   * this node does not reverse it a second time. The terminal gets the non-approval a
   * timeout gets.
   */
  private takenOver(txn: Txn): void {
    const { ctx } = this;
    ctx.counters.inc('answers_after_takeover');
    ctx.log.warn('an approval for a sale another node took over: not relayed; that node reverses it', { txn: txn.id, upstream: txn.upstream });
    txn.state = 'timed_out';
    this.replies.finish(txn, this.replies.local(txn.listener, txn.request, 'issuer_unavailable'));
  }

  private undeliverable(txn: Txn): void {
    this.ctx.counters.inc('undeliverable');
    txn.state = 'undeliverable';
    const d = this.decisions.decideAndAct(txn, 'undeliverable');
    // A duplicate sent later must not get the approval that is being reversed.
    if (d?.action === 'reverse') txn.answer = this.replies.local(txn.listener, txn.request, 'issuer_unavailable');
  }
}

/** F4 of an approval that is below the amount asked (a partial approval, F39 10), else null. */
function partialAmount(answer: IsoMessage, sent: IsoMessage | null): string | null {
  const approved = answer.get(4);
  return approved !== undefined && sent !== null && approved !== sent.get(4) ? approved : null;
}
