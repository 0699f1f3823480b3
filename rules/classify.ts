/**
 * Classification: a response code, a reversal reason code or a local event becomes a
 * failure class, with the reversal reason to use. Tables are resolved at load for every
 * (upstream, dialect) pair, with the text of each explanation already built, so a lookup
 * on the hot path is two Map gets and no string work.
 */
import { AFTER_APPROVAL_EVENTS, CLASS_INFO } from './classes.js';
import type { CodeEntryData, OverrideData, RulesData } from './schema.js';
import { FAILURE_CLASSES, LOCAL_EVENTS, type ClassAction, type FailureClass, type LocalEvent } from './types.js';

export type OutcomeKind = 'response' | 'reversal' | 'event';

/** One classified outcome, with everything decide() needs that does not depend on the case. */
export interface Outcome {
  readonly kind: OutcomeKind;
  /** The code ("05", "A0") or the event name. */
  readonly code: string;
  readonly label: string | null;
  /** "response 05 (do not honour)" */
  readonly subject: string;
  readonly cls: FailureClass;
  readonly action: ClassAction;
  /** F39 for a reversal in this table; null when the class has none. */
  readonly reason: string | null;
  readonly fundsMayBeHeld: boolean;
  /** An event that only follows an approval (see AFTER_APPROVAL_EVENTS). */
  readonly afterApproval: boolean;
  /** "response 05 (do not honour) is declined: a definitive decline, so nothing was held" */
  readonly because: string;
  /** The whole explanation when the class policy alone decides (none, or review with nothing held). */
  readonly policyText: string;
  /** The whole explanation for a plain full reversal, the common case. */
  readonly fullReverseText: string;
}

interface Resolved {
  readonly policy: Readonly<Record<FailureClass, { action: ClassAction; reason: string | null }>>;
  readonly unknownResponse: FailureClass;
  readonly unknownReversal: FailureClass;
}

/** The classification for one (upstream, dialect) pair. */
export class CodeTable {
  private readonly responses: ReadonlyMap<string, Outcome>;
  private readonly reversals: ReadonlyMap<string, Outcome>;
  private readonly events: ReadonlyMap<string, Outcome>;
  private readonly resolved: Resolved;

  constructor(resolved: Resolved, responses: Map<string, Outcome>, reversals: Map<string, Outcome>, events: Map<string, Outcome>) {
    this.resolved = resolved;
    this.responses = responses;
    this.reversals = reversals;
    this.events = events;
    Object.freeze(this);
  }

  response(code: string): Outcome {
    return this.responses.get(code) ?? outcome('response', code, null, this.resolved.unknownResponse, this.resolved, null, true);
  }

  reversal(code: string): Outcome {
    return this.reversals.get(code) ?? outcome('reversal', code, null, this.resolved.unknownReversal, this.resolved, null, true);
  }

  /** undefined for a name that is not a local event. */
  event(name: string): Outcome | undefined {
    return this.events.get(name);
  }

  /** Every known code of one kind, for summaries and tests. */
  codes(kind: 'response' | 'reversal'): readonly Outcome[] {
    return [...(kind === 'response' ? this.responses : this.reversals).values()];
  }

  reasonFor(cls: FailureClass): string | null {
    return this.resolved.policy[cls].reason;
  }
}

function subjectOf(kind: OutcomeKind, code: string, label: string | null, unknown: boolean): string {
  const what = kind === 'response' ? `response ${code}` : kind === 'reversal' ? `reversal reason ${code}` : `event ${code}`;
  if (unknown) return `${what} (not in the rules file)`;
  return label ? `${what} (${label})` : what;
}

function outcome(
  kind: OutcomeKind, code: string, label: string | null, cls: FailureClass, resolved: Resolved, ownReason: string | null, unknown = false,
): Outcome {
  const info = CLASS_INFO[cls];
  const policy = resolved.policy[cls];
  const reason = ownReason ?? policy.reason;
  const subject = subjectOf(kind, code, label, unknown);
  const because = unknown
    ? `${subject} is taken as ${cls} (the rules file's unknown.${kind === 'response' ? 'responseCode' : 'reversalReason'}): ${info.meaning}`
    : `${subject} is ${cls}: ${info.meaning}`;
  let policyText: string;
  if (cls === 'duplicate') {
    policyText = policy.action === 'review'
      ? `${because}; never reversed, and the rules file sends it to review`
      : `${because}; never reversed`;
  } else if (policy.action === 'none') {
    policyText = info.fundsMayBeHeld
      ? `${because}; the rules file says no reversal for ${cls}`
      : `${because}; nothing to undo`;
  } else if (cls === 'fraud_suspect') {
    policyText = `${because}; no reversal, flagged for review`;
  } else {
    policyText = `${because}; the rules file sends ${cls} to review`;
  }
  return Object.freeze({
    kind,
    code,
    label,
    subject,
    cls,
    action: policy.action,
    reason,
    fundsMayBeHeld: info.fundsMayBeHeld,
    afterApproval: kind === 'event' && AFTER_APPROVAL_EVENTS.has(code as LocalEvent),
    because,
    policyText,
    fullReverseText: `${because}; reverse the full amount with reason ${reason ?? '(none configured)'}`,
  });
}

type Table = Record<string, CodeEntryData>;

function merge(base: Table, ...layers: (Table | undefined)[]): Table {
  const out: Table = { ...base };
  for (const layer of layers) {
    if (!layer) continue;
    // An override that changes a code's class without a label keeps the base label: the code's meaning is the same words.
    for (const [c, e] of Object.entries(layer)) out[c] = { ...e, label: e.label ?? base[c]?.label };
  }
  return out;
}

function resolve(d: RulesData, layers: OverrideData[]): Resolved {
  const policy = {} as Record<FailureClass, { action: ClassAction; reason: string | null }>;
  for (const cls of FAILURE_CLASSES) {
    const p = d.classes[cls];
    let reason = p.reason ?? null;
    for (const l of layers) reason = l.reasons?.[cls] ?? reason;
    policy[cls] = { action: p.action, reason };
  }
  return Object.freeze({ policy: Object.freeze(policy), unknownResponse: d.unknown.responseCode, unknownReversal: d.unknown.reversalReason });
}

function buildTable(d: RulesData, layers: OverrideData[]): CodeTable {
  const resolved = resolve(d, layers);
  const build = (kind: OutcomeKind, t: Table) => {
    const m = new Map<string, Outcome>();
    for (const [c, e] of Object.entries(t)) m.set(c, outcome(kind, c, e.label ?? null, e.class, resolved, e.reason ?? null));
    return m;
  };
  const events = new Map<string, Outcome>();
  for (const ev of LOCAL_EVENTS) {
    const e = d.events[ev];
    events.set(ev, outcome('event', ev, e.label ?? null, e.class, resolved, e.reason ?? null));
  }
  return new CodeTable(
    resolved,
    build('response', merge(d.responseCodes, ...layers.map((l) => l.responseCodes))),
    build('reversal', merge(d.reversalReasons, ...layers.map((l) => l.reversalReasons))),
    events,
  );
}

/** The tables for one upstream (or none): without a dialect, and per dialect with overrides. */
interface Row {
  readonly plain: CodeTable;
  readonly byDialect: ReadonlyMap<string, CodeTable>;
}

/**
 * Every table the file can produce: upstream (or none) x dialect (or none). Upstream
 * overrides are applied after the dialect's, so an upstream's quirk wins.
 */
export class Classifier {
  readonly base: CodeTable;
  private readonly baseRow: Row;
  private readonly byUpstream: ReadonlyMap<string, Row>;

  constructor(d: RulesData) {
    const dialects = Object.entries(d.dialects);
    const row = (upstream: OverrideData | undefined): Row => {
      const byDialect = new Map<string, CodeTable>();
      for (const [name, o] of dialects) byDialect.set(name, buildTable(d, upstream ? [o, upstream] : [o]));
      return { plain: buildTable(d, upstream ? [upstream] : []), byDialect };
    };
    this.baseRow = row(undefined);
    this.base = this.baseRow.plain;
    const by = new Map<string, Row>();
    for (const [name, o] of Object.entries(d.upstreams)) by.set(name, row(o));
    this.byUpstream = by;
    Object.freeze(this);
  }

  /** An unknown upstream or dialect name has no overrides: it gets the base table. */
  table(upstream: string | undefined, dialect: string | undefined): CodeTable {
    const r = upstream === undefined ? this.baseRow : this.byUpstream.get(upstream) ?? this.baseRow;
    return dialect === undefined ? r.plain : r.byDialect.get(dialect) ?? r.plain;
  }
}
