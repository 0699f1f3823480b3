/**
 * A validated rules file turned into the structures decide() reads: resolved code tables,
 * a business calendar, limit maps. A CompiledRules is frozen; a change of rules is a new
 * object, swapped in whole (see holder.ts).
 *
 * Deciding is `decide(rules, case, state)` in decide.ts (or RulesHolder.decide), which
 * imports this module's type; this module never imports decide.ts, so the two form no cycle.
 */
import { createHash } from 'node:crypto';
import { BusinessCalendar } from './business-day.js';
import { canonicalJson } from './canonical.js';
import { CLASS_INFO } from './classes.js';
import { Classifier } from './classify.js';
import { CaseError } from './errors.js';
import type { LimitsConfig, Promotion } from './limits.js';
import type { RulesData } from './schema.js';
import { FAILURE_CLASSES, LOCAL_EVENTS, type FailureClass, type LocalEvent } from './types.js';
import type { VelocityConfig } from './velocity.js';

const MS_PER_HOUR = 3_600_000;

/** The validated file stays readable (summary()) but can no more change than the compiled form. */
function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}

/** What classify() needs: a response code or reversal reason (with the MTI saying which), or an event. */
export interface ClassifyQuery {
  readonly mti?: string;
  readonly responseCode?: string;
  readonly event?: LocalEvent;
  readonly dialect?: string;
  readonly upstream?: string;
}

export interface Classification {
  readonly class: FailureClass;
  /** The reversal reason for this class in this table, if it has one. */
  readonly reason: string | null;
  /** "response 05 (do not honour)" */
  readonly subject: string;
}

/**
 * What an answer to a reversal or refund means for it: done; repeat after the backoff; a
 * person takes over; or recheck: "original not found", which is true of a sale the issuer
 * never holds and also of one it is still processing when the reversal overtakes it, so
 * the reversal is repeated a few times over the backoff before it counts as done.
 */
export type ReversalOutcome = 'acked' | 'retry' | 'manual' | 'recheck';

/**
 * Used when a rules file has no refundResponses section. Unlike a reversal, a refund the
 * issuer could not match ("original not found", 25) credited nothing, and the cardholder is
 * still owed it: a person takes it up. A duplicate (94) means the first one was applied.
 */
const DEFAULT_REFUND_RESPONSES: { default: ReversalOutcome; codes: Record<string, ReversalOutcome> } = {
  default: 'retry',
  codes: {
    '00': 'acked', '94': 'acked', '12': 'manual', '13': 'manual', '14': 'manual', '25': 'manual', '30': 'manual', '57': 'manual', '58': 'manual',
    '000': 'acked', '480': 'manual', '902': 'manual', '904': 'manual',
  },
};

/**
 * Used when a rules file has no reversalResponses section. Codes that say the issuer
 * holds nothing for the original (already reversed, original not found) count as done;
 * codes that say the message itself is unacceptable go to a person, since resending the
 * same bytes cannot help; anything else is retried.
 */
const DEFAULT_REVERSAL_RESPONSES: { default: ReversalOutcome; codes: Record<string, ReversalOutcome> } = {
  default: 'retry',
  codes: {
    '00': 'acked', '21': 'acked', '25': 'recheck', '94': 'acked', '12': 'manual', '13': 'manual', '30': 'manual',
    '000': 'acked', '400': 'acked', '480': 'recheck', '904': 'manual',
  },
};

export class CompiledRules {
  /** Where the rules came from (a file name), for messages and summaries. */
  readonly source: string;
  readonly classifier: Classifier;
  readonly calendar: BusinessCalendar;
  readonly graceDays: number;
  readonly maxAgeCardPresentMs: number;
  readonly maxAgeCardNotPresentMs: number;
  readonly afterSettlement: 'refund' | 'review';
  readonly afterMaxAge: 'refund' | 'review';
  readonly limits: LimitsConfig;
  readonly velocity: VelocityConfig;
  /** The window the caller must count velocity over. */
  readonly velocityWindowMs: number;
  /** What an issuer's answer to a reversal means: done, send a repeat, or hand to a person. */
  private readonly reversalOutcomes: ReadonlyMap<string, ReversalOutcome>;
  private readonly reversalDefault: ReversalOutcome;
  private readonly refundOutcomes: ReadonlyMap<string, ReversalOutcome>;
  private readonly refundDefault: ReversalOutcome;
  /** For error messages: the event names, joined. */
  readonly eventNames: string;
  /** The rules as validated (frozen): what `describeRulesChange` compares. */
  readonly data: RulesData;
  /**
   * SHA-256 of the rules' content as canonical JSON (keys sorted): two files that differ
   * only in comments, quoting or layout have one hash, so a hash names what is in force.
   */
  readonly hash: string;
  /** The rules file format (`version:`). */
  readonly version: number;
  /** When these rules were compiled (ms since the epoch): the switch's start or its last SIGHUP. */
  readonly loadedAt: number;

  constructor(data: RulesData, source: string) {
    this.source = source;
    this.data = deepFreeze(data);
    this.hash = createHash('sha256').update(canonicalJson(data)).digest('hex');
    this.version = data.version;
    this.loadedAt = Date.now();
    this.classifier = new Classifier(data);
    this.calendar = new BusinessCalendar(data.businessDay);
    this.graceDays = data.settlement.reversalGraceBusinessDays;
    this.maxAgeCardPresentMs = data.settlement.maxAgeHours.cardPresent * MS_PER_HOUR;
    this.maxAgeCardNotPresentMs = data.settlement.maxAgeHours.cardNotPresent * MS_PER_HOUR;
    this.afterSettlement = data.settlement.afterSettlement;
    this.afterMaxAge = data.settlement.afterMaxAge;
    const pcd = data.limits.perCardDaily;
    const caps = new Map<string, number>([[pcd.currency, pcd.amount]]);
    for (const [cur, cap] of Object.entries(pcd.otherCurrencies ?? {})) caps.set(cur, cap);
    const promotions = new Map<string, Promotion>();
    for (const [id, p] of Object.entries(data.limits.promotions)) promotions.set(id, Object.freeze({ ...p }));
    this.limits = Object.freeze({ perCardCount: pcd.count, perCardCaps: caps, promotions });
    this.velocity = Object.freeze({ ...data.velocity });
    this.velocityWindowMs = data.velocity.windowMinutes * 60_000;
    this.eventNames = LOCAL_EVENTS.join(', ');
    const rr = data.reversalResponses ?? DEFAULT_REVERSAL_RESPONSES;
    this.reversalOutcomes = new Map(Object.entries(rr.codes));
    this.reversalDefault = rr.default;
    const fr = data.refundResponses ?? DEFAULT_REFUND_RESPONSES;
    this.refundOutcomes = new Map(Object.entries(fr.codes));
    this.refundDefault = fr.default;
    Object.freeze(this);
  }

  /** The answer to a reversal (0410/0430 F39): acked, retry (a repeat after the backoff), manual or recheck. */
  reversalResponse(code: string | undefined): ReversalOutcome {
    if (code === undefined) return 'retry';
    return this.reversalOutcomes.get(code) ?? this.reversalDefault;
  }

  /** The answer to a refund (0230 F39): acked, retry or manual, from refundResponses. */
  refundResponse(code: string | undefined): ReversalOutcome {
    if (code === undefined) return 'retry';
    return this.refundOutcomes.get(code) ?? this.refundDefault;
  }

  /**
   * The reversal reason a class is sent with on a link (its dialect's and upstream's
   * overrides included): a terminal's reversal classified in the terminal's dialect goes
   * upstream with the upstream's own code (1987 17 becomes 1993 4000).
   */
  reversalReasonFor(cls: FailureClass, upstream: string | undefined, dialect: string | undefined): string | null {
    return this.classifier.table(upstream, dialect).reasonFor(cls);
  }

  /** The class alone, without timing or limits: what a code means on this link. */
  classify(q: ClassifyQuery): Classification {
    const t = this.classifier.table(q.upstream, q.dialect);
    const o = q.event !== undefined
      ? t.event(q.event)
      : q.responseCode === undefined
        ? undefined
        : q.mti !== undefined && q.mti.charCodeAt(1) === 52 /* x4xx */
          ? t.reversal(q.responseCode)
          : t.response(q.responseCode);
    if (o === undefined) throw new CaseError(q.event !== undefined ? 'event' : 'responseCode', `expected responseCode or one of ${this.eventNames}`);
    return { class: o.cls, reason: o.reason, subject: o.subject };
  }

  /** The business date of an instant, "YYYY-MM-DD": the day key for per-card daily counters. */
  businessDate(ms: number): string {
    return this.calendar.businessDate(ms);
  }

  /** What names these rules where they are reported (`/api/rules`, the reload log line). */
  identity(): { source: string; hash: string; version: number; loadedAt: string } {
    return { source: this.source, hash: this.hash, version: this.version, loadedAt: new Date(this.loadedAt).toISOString() };
  }

  /** What the file says, in a few lines, for `revswitch rules check`. */
  summary(): string {
    const d = this.data;
    const byAction = new Map<string, string[]>();
    for (const cls of FAILURE_CLASSES) {
      const p = d.classes[cls];
      const list = byAction.get(p.action) ?? [];
      list.push(p.reason ? `${cls} (${p.reason})` : cls);
      byAction.set(p.action, list);
    }
    const codesOf = (a: string) => Object.entries(d.responseCodes).filter(([, e]) => d.classes[e.class].action === a).map(([c]) => c).sort();
    const overrides = (o: Record<string, { responseCodes?: object; reversalReasons?: object; reasons?: object }>) =>
      Object.entries(o).map(([n, v]) =>
        `${n} (${Object.keys(v.responseCodes ?? {}).length} response codes, ${Object.keys(v.reversalReasons ?? {}).length} reversal reasons, ${Object.keys(v.reasons ?? {}).length} reasons)`,
      ).join(', ') || 'none';
    const bd = d.businessDay;
    const pcd = d.limits.perCardDaily;
    const other = Object.entries(pcd.otherCurrencies ?? {}).map(([c, a]) => `${a} in ${c}`);
    const promos = Object.entries(d.limits.promotions).map(([id, p]) => `${id} (minimum spend ${p.minimumSpend} in ${p.currency})`);
    const held = FAILURE_CLASSES.filter((c) => CLASS_INFO[c].fundsMayBeHeld).length;
    return [
      `${this.source}: ok (sha256 ${this.hash.slice(0, 16)})`,
      `  classes: ${FAILURE_CLASSES.length} (${held} may leave funds held)`,
      ...['reverse', 'none', 'review'].filter((a) => byAction.has(a)).map((a) => `    ${a}: ${byAction.get(a)?.join(', ')}`),
      `  response codes: ${Object.keys(d.responseCodes).length} (reverse: ${codesOf('reverse').join(' ')}; none: ${codesOf('none').join(' ')}; review: ${codesOf('review').join(' ')}); unknown codes: ${d.unknown.responseCode}`,
      `  reversal reasons: ${Object.entries(d.reversalReasons).sort(([a], [b]) => (a < b ? -1 : 1)).map(([c, e]) => `${c}=${e.class}`).join(' ')}; unknown reasons: ${d.unknown.reversalReason}`,
      `  events: ${LOCAL_EVENTS.map((e) => `${e}=${d.events[e].class}`).join(' ')}`,
      `  dialect overrides: ${overrides(d.dialects)}`,
      `  upstream overrides: ${overrides(d.upstreams)}`,
      `  business day: ${bd.timeZone}, cutover ${bd.cutover}, weekend ${bd.weekend.join('+') || 'none'}, ${bd.holidays.length} holidays` +
        (bd.holidays.length ? ` (${[...bd.holidays].sort()[0]} to ${[...bd.holidays].sort().at(-1)})` : ''),
      `  settlement: reversal until the original's business date closes${this.graceDays ? ` + ${this.graceDays} business day(s)` : ''}, ` +
        `then ${this.afterSettlement} (financial) / review (authorization); max age ${d.settlement.maxAgeHours.cardPresent} h card-present, ` +
        `${d.settlement.maxAgeHours.cardNotPresent} h card-not-present, then ${this.afterMaxAge} (financial) / review (authorization)`,
      `  limits: per card per business day ${pcd.count} automatic refunds, at most ${pcd.amount} in ${pcd.currency}${other.length ? `, ${other.join(', ')}` : ''}; ` +
        `promotions: ${promos.length ? promos.join(', ') : 'none'}`,
      `  velocity: within ${d.velocity.windowMinutes} min, at most ${d.velocity.maxPerTerminal} automatic undos per terminal, ` +
        `${d.velocity.maxPerMerchant} per merchant, ${d.velocity.maxPerCard} per card`,
    ].join('\n');
  }
}
