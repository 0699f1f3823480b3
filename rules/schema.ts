/**
 * The shape of a rules file, checked once at load. Every leaf says in words what it
 * expects, so a zod issue becomes `path: expected ..., got ...` without zod's wording.
 * Cross-field checks (what the domain forbids, not what the shape forbids) follow the
 * shape check and report in the same form.
 */
import { z } from 'zod';
import { isTimeZone, isoToDay, parseCutover, WEEKDAYS } from './business-day.js';
import { CLASS_INFO, DUPLICATE_CODE, REVERSAL_REASON_CLASSES, UNKNOWN_RESPONSE_CLASSES } from './classes.js';
import type { RulesIssue } from './errors.js';
import { FAILURE_CLASSES, LOCAL_EVENTS, MAX_AMOUNT } from './types.js';

const expected = (what: string) => ({ error: () => `expected ${what}` });

/** A strict object: an unknown key is a typo until proven otherwise. */
function obj<S extends z.ZodRawShape>(shape: S, what: string) {
  const known = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (iss) => (iss.code === 'unrecognized_keys' ? `unknown key; expected one of ${known}` : `expected ${what}`),
  });
}

function mapping<K extends z.core.$ZodRecordKey, V extends z.ZodType>(key: K, value: V, what: string, partial: boolean) {
  const error = (iss: { code?: string }) => (iss.code === 'unrecognized_keys' ? `unknown key; expected ${what}` : `expected a mapping of ${what}`);
  return partial ? z.partialRecord(key, value, { error }) : z.record(key, value, { error });
}

const NON_NEGATIVE = 'a non-negative integer';
const nonNegativeInt = (max: number) =>
  z.int(expected(NON_NEGATIVE)).min(0, expected(NON_NEGATIVE)).max(max, expected(`${NON_NEGATIVE} of at most ${max}`));
const positiveInt = (max: number) =>
  z.int(expected('a positive integer')).min(1, expected('a positive integer')).max(max, expected(`a positive integer of at most ${max}`));

const MINOR = 'a non-negative integer (minor units)';
const minorUnits = z.int(expected(MINOR)).min(0, expected(MINOR)).max(MAX_AMOUNT, expected(`${MINOR} of at most ${MAX_AMOUNT}`));

const CURRENCY = 'an ISO 4217 numeric currency code such as "978", quoted in YAML';
const currency = z.string(expected(CURRENCY)).regex(/^[0-9]{3}$/, expected(CURRENCY));

const CODE = 'a code of 2 to 4 digits or capital letters such as "05", "A0", "911" or "4021" (quote codes in YAML: an unquoted 05 reads as the number 5)';
const code = z.string(expected(CODE)).regex(/^[0-9A-Z]{2,4}$/, expected(CODE));

const CLASS_LIST = `one of ${FAILURE_CLASSES.join(', ')}`;
const failureClass = z.enum(FAILURE_CLASSES, expected(CLASS_LIST));

const ENTRY = 'a class name, or {class, label, reason}';
const LABEL = 'a label of 1 to 80 characters';
/** A code's class, with an optional human label and an optional reversal reason of its own. */
const entry = z.preprocess(
  (v) => (typeof v === 'string' ? { class: v } : v),
  obj(
    {
      class: failureClass,
      label: z.string(expected(LABEL)).min(1, expected(LABEL)).max(80, expected(LABEL)).optional(),
      reason: code.optional(),
    },
    ENTRY,
  ),
);

const codeTable = mapping(code, entry, `codes, each ${ENTRY}`, false);
const reasons = mapping(failureClass, code, `class names to reversal reason codes (${CLASS_LIST})`, true);

const override = obj(
  { responseCodes: codeTable.optional(), reversalReasons: codeTable.optional(), reasons: reasons.optional() },
  'a mapping with responseCodes, reversalReasons and reasons (each optional)',
);

const classPolicy = obj(
  {
    action: z.enum(['reverse', 'none', 'review'], expected('reverse, none or review')),
    reason: code.optional(),
  },
  '{action, reason}',
);

const NAME = 'a name of letters, digits, ".", "_" or "-"';
const name = z.string(expected(NAME)).regex(/^[A-Za-z0-9._-]{1,64}$/, expected(NAME));

const TZ = 'an IANA time zone such as "Europe/Berlin"';
const CUTOVER = 'a local time "HH:MM" or "HH:MM:SS" from 00:00 to 23:59:59';
const DATE = 'a date "YYYY-MM-DD"';
const businessDay = obj(
  {
    timeZone: z.string(expected(TZ)).refine(isTimeZone, expected(TZ)),
    cutover: z.string(expected(CUTOVER)).refine((s) => parseCutover(s) !== null, expected(CUTOVER)),
    weekend: z.array(z.enum(WEEKDAYS, expected(`one of ${WEEKDAYS.join(', ')}`)), expected('a list of weekday names')),
    holidays: z.array(z.string(expected(DATE)).refine((s) => isoToDay(s) !== null, expected(`a real date "YYYY-MM-DD"`)), expected(`a list of dates "YYYY-MM-DD"`)),
  },
  '{timeZone, cutover, weekend, holidays}',
);

const ESCALATION = 'refund or review';
const settlement = obj(
  {
    reversalGraceBusinessDays: nonNegativeInt(30),
    maxAgeHours: obj({ cardPresent: positiveInt(24 * 366), cardNotPresent: positiveInt(24 * 366) }, '{cardPresent, cardNotPresent}'),
    afterSettlement: z.enum(['refund', 'review'], expected(ESCALATION)),
    afterMaxAge: z.enum(['refund', 'review'], expected(ESCALATION)),
  },
  '{reversalGraceBusinessDays, maxAgeHours, afterSettlement, afterMaxAge}',
);

const limits = obj(
  {
    perCardDaily: obj(
      {
        count: nonNegativeInt(1_000_000),
        amount: minorUnits,
        currency,
        otherCurrencies: mapping(currency, minorUnits, 'currency codes to amounts in minor units', false).optional(),
      },
      '{count, amount, currency, otherCurrencies}',
    ),
    promotions: mapping(name, obj({ minimumSpend: minorUnits, currency }, '{minimumSpend, currency}'), 'promotion ids to {minimumSpend, currency}', false),
  },
  '{perCardDaily, promotions}',
);

const velocity = obj(
  {
    windowMinutes: positiveInt(7 * 24 * 60),
    maxPerTerminal: nonNegativeInt(1_000_000),
    maxPerMerchant: nonNegativeInt(1_000_000),
    maxPerCard: nonNegativeInt(1_000_000),
  },
  '{windowMinutes, maxPerTerminal, maxPerMerchant, maxPerCard}',
);

const REVERSAL_OUTCOMES = ['acked', 'retry', 'manual', 'recheck'] as const;
const reversalOutcome = z.enum(REVERSAL_OUTCOMES, expected(
  'acked (done), retry (send a repeat after the backoff), manual (a person takes over) or recheck (repeat a few times, then done)',
));
const reversalResponses = obj(
  {
    default: reversalOutcome,
    codes: mapping(code, reversalOutcome, 'response codes to acked, retry, manual or recheck', false),
  },
  '{default, codes}',
);

export const rulesSchema = obj(
  {
    version: z.literal(1, expected('1, the only rules file format so far')),
    classes: mapping(failureClass, classPolicy, `every class (${CLASS_LIST}) to {action, reason}`, false),
    responseCodes: codeTable,
    reversalReasons: codeTable,
    events: mapping(z.enum(LOCAL_EVENTS, expected(`one of ${LOCAL_EVENTS.join(', ')}`)), entry, `every local event (${LOCAL_EVENTS.join(', ')}) to ${ENTRY}`, false),
    unknown: obj({ responseCode: failureClass, reversalReason: failureClass }, '{responseCode, reversalReason}'),
    dialects: mapping(name, override, 'dialect names to overrides', false),
    upstreams: mapping(name, override, 'upstream names to overrides', false),
    businessDay,
    settlement,
    limits,
    velocity,
    reversalResponses: reversalResponses.optional(),
    refundResponses: reversalResponses.optional(),
  },
  'a mapping with version, classes, responseCodes, reversalReasons, events, unknown, dialects, upstreams, businessDay, settlement, limits, velocity, reversalResponses and refundResponses',
);

export type RulesData = z.infer<typeof rulesSchema>;
export type CodeEntryData = z.infer<typeof entry>;
export type OverrideData = z.infer<typeof override>;

/** Shape check, then the domain's cross-field checks. Returns the data or every issue found. */
export function validateRules(input: unknown): { ok: true; data: RulesData } | { ok: false; issues: RulesIssue[] } {
  const r = rulesSchema.safeParse(input, { reportInput: true });
  if (!r.success) return { ok: false, issues: r.error.issues.flatMap(toIssues) };
  const issues = crossCheck(r.data);
  return issues.length ? { ok: false, issues } : { ok: true, data: r.data };
}

function toIssues(iss: z.core.$ZodIssue): RulesIssue[] {
  const at = pathOf(iss.path);
  if (iss.code === 'unrecognized_keys') return iss.keys.map((k) => ({ path: join(at, k), message: iss.message }));
  const input = (iss as { input?: unknown }).input;
  if (iss.code === 'invalid_key') {
    const inner = iss.issues[0]?.message ?? iss.message;
    return [{ path: at, message: `${inner}, got ${describe(input)}` }];
  }
  if (input === undefined) return [{ path: at, message: `missing; ${iss.message}` }];
  return [{ path: at, message: `${iss.message}, got ${describe(input)}` }];
}

function pathOf(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out = typeof p === 'number' ? `${out}[${p}]` : join(out, String(p));
  return out;
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

/** The offending value, short. Structures are named, not dumped. */
export function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'bigint' || typeof v === 'function' || typeof v === 'symbol') return String(v);
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function crossCheck(d: RulesData): RulesIssue[] {
  const issues: RulesIssue[] = [];
  const bad = (path: string, message: string) => issues.push({ path, message });

  for (const cls of FAILURE_CLASSES) {
    const policy = d.classes[cls];
    const info = CLASS_INFO[cls];
    if (!info.allowed.includes(policy.action)) {
      bad(`classes.${cls}.action`, `expected ${info.allowed.join(' or ')} (${info.because ?? 'the domain allows no other'}), got ${describe(policy.action)}`);
    }
    if (policy.reason === undefined && (policy.action === 'reverse' || info.fundsMayBeHeld)) {
      bad(`classes.${cls}.reason`, `missing; expected ${CODE}: class ${cls} ${policy.action === 'reverse' ? 'reverses' : 'may leave funds held'}, so it needs a reversal reason`);
    }
  }

  type Table = Record<string, CodeEntryData> | undefined;
  const tables: [string, Table, Table][] = [['', d.responseCodes, d.reversalReasons]];
  for (const [n, o] of Object.entries(d.dialects)) tables.push([`dialects.${n}.`, o.responseCodes, o.reversalReasons]);
  for (const [n, o] of Object.entries(d.upstreams)) tables.push([`upstreams.${n}.`, o.responseCodes, o.reversalReasons]);
  for (const [prefix, responses, reversals] of tables) {
    const dup = responses?.[DUPLICATE_CODE];
    if (dup !== undefined && dup.class !== 'duplicate') {
      bad(`${prefix}responseCodes.${DUPLICATE_CODE}.class`, `expected duplicate (94 is a duplicate transmission; reversing it could undo the real original), got ${describe(dup.class)}`);
    }
    for (const [c, e] of Object.entries(reversals ?? {})) {
      if (!REVERSAL_REASON_CLASSES.includes(e.class)) {
        bad(`${prefix}reversalReasons.${c}.class`, `expected a class a terminal reverses for (${REVERSAL_REASON_CLASSES.join(', ')}), got ${describe(e.class)}`);
      }
    }
  }
  if (d.responseCodes[DUPLICATE_CODE] === undefined) {
    bad(`responseCodes.${DUPLICATE_CODE}`, 'missing; expected duplicate: without it an unknown-code rule could reverse a duplicate');
  }
  for (const ev of LOCAL_EVENTS) {
    const e = d.events[ev];
    if (!REVERSAL_REASON_CLASSES.includes(e.class)) {
      bad(`events.${ev}.class`, `expected a class for a failure that may leave funds held (${REVERSAL_REASON_CLASSES.join(', ')}), got ${describe(e.class)}`);
    }
  }
  if (!UNKNOWN_RESPONSE_CLASSES.includes(d.unknown.responseCode)) {
    bad('unknown.responseCode', `expected one of ${UNKNOWN_RESPONSE_CLASSES.join(', ')} (an unknown code must never skip a reversal as approved or duplicate), got ${describe(d.unknown.responseCode)}`);
  }
  if (!REVERSAL_REASON_CLASSES.includes(d.unknown.reversalReason)) {
    bad('unknown.reversalReason', `expected one of ${REVERSAL_REASON_CLASSES.join(', ')}, got ${describe(d.unknown.reversalReason)}`);
  }

  const seenDays = new Set<string>();
  d.businessDay.weekend.forEach((w, i) => {
    if (seenDays.has(w)) bad(`businessDay.weekend[${i}]`, `expected each weekday once, got ${describe(w)} again`);
    seenDays.add(w);
  });
  if (seenDays.size === 7) bad('businessDay.weekend', 'expected at least one working day, got all seven days');
  const seenHolidays = new Set<string>();
  d.businessDay.holidays.forEach((h, i) => {
    if (seenHolidays.has(h)) bad(`businessDay.holidays[${i}]`, `expected each date once, got ${describe(h)} again`);
    seenHolidays.add(h);
  });

  const pcd = d.limits.perCardDaily;
  if (pcd.otherCurrencies?.[pcd.currency] !== undefined) {
    bad(`limits.perCardDaily.otherCurrencies.${pcd.currency}`, `expected a currency other than ${pcd.currency}, whose cap is limits.perCardDaily.amount`);
  }
  return issues;
}
