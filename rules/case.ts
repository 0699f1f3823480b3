/**
 * A case as JSON, for `revswitch rules decide` and other edges: the same fields as
 * DecisionCase, times as ISO 8601 with an explicit offset (or epoch ms), and the caller's
 * counters in `velocity` and `cardRefundsToday` (both optional: missing means none). Validated strictly, so a misspelt field
 * is an error rather than a silently ignored input.
 */
import { z } from 'zod';
import { describe } from './schema.js';
import { CaseError, PAN_REFUSED } from './errors.js';
import { LOCAL_EVENTS, MAX_AMOUNT, type DecisionCase, type DecisionState } from './types.js';

const expected = (what: string) => ({ error: () => `expected ${what}` });

function obj<S extends z.ZodRawShape>(shape: S, what: string) {
  const known = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (iss) => (iss.code === 'unrecognized_keys' ? `unknown key; expected one of ${known}` : `expected ${what}`),
  });
}

const AMOUNT = `integer minor units from 0 to ${MAX_AMOUNT}, as a digit string (F4 style) or a number`;
const amount = z.union([
  z.string(expected(AMOUNT)).regex(/^[0-9]{1,12}$/, expected(AMOUNT)),
  z.int(expected(AMOUNT)).min(0, expected(AMOUNT)).max(MAX_AMOUNT, expected(AMOUNT)),
], expected(AMOUNT));
const COUNT = 'a non-negative integer count';
const count = z.int(expected(COUNT)).min(0, expected(COUNT));

// Without an offset the process's own zone would pick the instant, and the same case
// would decide differently on two machines.
const TIME = 'an ISO 8601 time with Z or an offset (2025-03-07T14:00:00+01:00), or epoch milliseconds';
const ISO_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;
const time = z.union([
  z.int(expected(TIME)),
  z.string(expected(TIME)).regex(ISO_WITH_OFFSET, expected(TIME)).refine((s) => Number.isFinite(Date.parse(s)), expected(TIME)).transform((s) => Date.parse(s)),
], expected(TIME));

const MTI = 'a 4-digit MTI such as "0200"';
const text = (what: string) => z.string(expected(what)).min(1, expected(what)).max(128, expected(what));

const caseSchema = obj(
  {
    mti: z.string(expected(MTI)).regex(/^[0-9]{4}$/, expected(MTI)),
    originalMti: z.string(expected(MTI)).regex(/^[0-9]{4}$/, expected(MTI)).optional(),
    amount,
    currency: z.string(expected('an ISO 4217 numeric code such as "978"')).regex(/^[0-9]{3}$/, expected('an ISO 4217 numeric code such as "978"')),
    responseCode: text('a response or reason code such as "05"').optional(),
    event: z.enum(LOCAL_EVENTS, expected(`one of ${LOCAL_EVENTS.join(', ')}`)).optional(),
    dialect: text('a dialect name').optional(),
    upstream: text('an upstream name').optional(),
    originalTime: time,
    now: time,
    cardPresent: z.boolean(expected('true or false')).optional(),
    finalAmount: amount.optional(),
    refundedSoFar: amount.optional(),
    panHash: text('a keyed hash of the PAN').optional(),
    promotion: text('a promotion id').optional(),
    // Optional, as is each count in it: a user asking "what happens to this case" has no
    // counters to give, and missing means no earlier undos.
    velocity: obj(
      { terminal: count.optional(), merchant: count.optional(), card: count.optional() },
      '{terminal, merchant, card}: automatic undos already in the window',
    ).optional(),
    cardRefundsToday: obj({ count, amount }, '{count, amount}: automatic refunds to this card today').optional(),
  },
  'a JSON object describing one case',
);

export interface ParsedCase {
  readonly case: DecisionCase;
  readonly state: DecisionState;
}

/** Throws CaseError naming the first bad field. A `pan` field is refused before anything else. */
export function parseCaseJson(input: unknown): ParsedCase {
  if (input !== null && typeof input === 'object' && !Array.isArray(input) && 'pan' in input) throw new CaseError('pan', PAN_REFUSED);
  const r = caseSchema.safeParse(input, { reportInput: true });
  if (!r.success) {
    const iss = r.error.issues[0];
    const at = iss.path.map(String).join('.');
    if (iss.code === 'unrecognized_keys') throw new CaseError(at ? `${at}.${iss.keys[0]}` : iss.keys[0], iss.message);
    const got = (iss as { input?: unknown }).input;
    // Values are echoed only for fields that cannot hold card data.
    const echo = got === undefined ? 'missing; ' : '';
    const tail = got === undefined || at === 'panHash' ? '' : `, got ${describe(got)}`;
    throw new CaseError(at, `${echo}${iss.message}${tail}`);
  }
  const { velocity, cardRefundsToday, ...c } = r.data;
  return {
    case: c,
    state: {
      terminalUndos: velocity?.terminal ?? 0,
      merchantUndos: velocity?.merchant ?? 0,
      cardUndos: velocity?.card ?? 0,
      cardRefundsToday: cardRefundsToday?.count ?? 0,
      cardRefundAmountToday: cardRefundsToday?.amount ?? 0,
    },
  };
}
