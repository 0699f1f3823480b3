/**
 * The issuer simulator's settlement (clearing) file: what the issuer says it really posted
 * for one business date, made from its ledger, for `revswitch reconcile` to check the
 * switch's journal against. Optional injected faults make the file wrong on purpose, in
 * ways a reconciler must find, each recorded so a test can tell a found fault from a false
 * alarm. Pure: the writer (./settlement-writer.ts) does the files and the clock.
 *
 * Only financial sales (x2xx) settle: an authorization (x1xx) never does, so neither its
 * reversal nor a refund against it has a row. Every row names the sale it moves (RRN,
 * terminal, STAN and F7 as the issuer received them), so a sale, its reversal and its
 * refunds net to what the cardholder finally paid.
 */
import { maskPan } from '../../codec/index.js';
import type { BusinessCalendar } from '../../rules/index.js';
import type { HoldRecord, LedgerSnapshot } from './ledger.js';
import { createRng, type Rng } from './prng.js';

export const SETTLEMENT_COLUMNS = [
  'business_date', 'rrn', 'terminal', 'stan', 'f7', 'amount_minor', 'currency', 'type', 'approval_code', 'merchant', 'pan_masked', 'upstream',
] as const;

export type SettlementRowType = 'sale' | 'reversal' | 'refund';

/** A sale as a settlement row or an injected fault names it. */
export interface SaleKeys {
  /** YYYY-MM-DD. */
  businessDate: string;
  rrn: string;
  terminal: string;
  /** F11 of the sale as the issuer received it; a reversal or refund row names its sale. */
  stan: string;
  /** F7 of the sale as received. */
  f7: string;
  /** Minor units, a plain non-negative integer. */
  amountMinor: string;
}

export interface SettlementRow extends SaleKeys {
  currency: string;
  type: SettlementRowType;
  approvalCode: string;
  merchant: string;
  /** First 6 and last 4 digits at most. */
  panMasked: string;
  upstream: string;
}

export const FAULT_KINDS = ['drop', 'duplicate', 'amount', 'settleReversed', 'unknown'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** How many movements of each file to corrupt. */
export type SettlementFaults = Partial<Record<FaultKind, number>>;

/** A fault and the sale it is about (for unknown: the invented one); amountMinor as written to the file, or for drop the amount left out. */
export interface InjectedFault extends SaleKeys {
  kind: FaultKind;
  note: string;
}

/** Fewer eligible movements than asked for: what was injected instead. */
export interface FaultShortfall {
  kind: FaultKind;
  requested: number;
  injected: number;
}

export interface SettlementDay {
  businessDate: string;
  rows: SettlementRow[];
  faults: InjectedFault[];
  shortfalls: FaultShortfall[];
}

export interface SettlementInput {
  snapshot: Pick<LedgerSnapshot, 'holds' | 'released' | 'refunds'>;
  calendar: Pick<BusinessCalendar, 'businessDate'>;
  upstream: string;
  /** The simulator's seed: the same seed and ledger choose the same faults. */
  seed: number;
  faults?: SettlementFaults;
}

/** What the wrong amount of an `amount` fault adds. */
export const AMOUNT_FAULT_DELTA = 100n;

/** The faults as given, checked: known kinds, each a non-negative integer. */
export function checkSettlementFaults(f: SettlementFaults): SettlementFaults {
  const out: SettlementFaults = {};
  for (const [k, v] of Object.entries(f)) {
    if (!(FAULT_KINDS as readonly string[]).includes(k)) throw new RangeError(`settlementFaults: unknown kind ${JSON.stringify(k)}; expected ${FAULT_KINDS.join(', ')}`);
    if (v === undefined) continue;
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`settlementFaults.${k} must be a non-negative integer, got ${String(v)}`);
    out[k as FaultKind] = v;
  }
  return out;
}

export const settlementFileName = (businessDate: string): string => `settlement-${businessDate}.csv`;
export const faultsFileName = (businessDate: string): string => `settlement-${businessDate}.faults.json`;

/** One money movement: a row, when it happened, and the hold it moves. */
interface Movement {
  row: SettlementRow;
  at: number;
  hold: HoldRecord;
  /** Creation order, the tie-break after `at`. */
  seq: number;
}

const isFinancial = (h: HoldRecord): boolean => h.mti.length === 4 && h.mti[1] === '2';
const minor = (n12: string): bigint => BigInt(n12 === '' ? '0' : n12);

/** Masked already by the ledger; masked again here if it ever is not, since the file leaves the simulator. */
function masked(pan: string): string {
  return (pan.match(/\d/g) ?? []).length > 10 ? maskPan(pan) : pan;
}

function rowOf(h: HoldRecord, type: SettlementRowType, amount: bigint, businessDate: string, upstream: string): SettlementRow {
  return {
    businessDate, rrn: h.rrn, terminal: h.terminalId, stan: h.stan, f7: h.transmissionDateTime, amountMinor: amount.toString(),
    currency: h.currency, type, approvalCode: h.approvalCode, merchant: h.merchantId, panMasked: masked(h.pan), upstream,
  };
}

/** Holds in the order they were placed, whatever their status when the snapshot was taken. */
function placedOrder(snap: SettlementInput['snapshot']): HoldRecord[] {
  const key = (h: HoldRecord): string => `${h.terminalId}|${h.stan}|${h.transmissionDateTime}|${h.rrn}|${h.key}`;
  return [...snap.holds, ...snap.released].sort((a, b) => a.placedAt - b.placedAt || (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

/**
 * The refund record names its sale by hold key only, and terminals whose STANs collide
 * share a key: the one the refund credited has its RRN (RRN and terminal is how the
 * ledger finds a sale without F90) and something refunded.
 */
function refundedHold(byKey: Map<string, HoldRecord[]>, key: string, rrn: string): HoldRecord | undefined {
  const cands = byKey.get(key) ?? [];
  const credited = cands.filter((h) => minor(h.refunded) > 0n);
  return credited.find((h) => h.rrn === rrn) ?? credited[0] ?? cands[0];
}

function movements(input: SettlementInput): Movement[] {
  const { calendar, upstream } = input;
  const out: Movement[] = [];
  const add = (h: HoldRecord, type: SettlementRowType, amount: bigint, at: number): void => {
    out.push({ row: rowOf(h, type, amount, calendar.businessDate(at), upstream), at, hold: h, seq: out.length });
  };
  const holds = placedOrder(input.snapshot);
  const byKey = new Map<string, HoldRecord[]>();
  for (const h of holds) {
    byKey.set(h.key, [...(byKey.get(h.key) ?? []), h]);
    if (!isFinancial(h)) continue;
    add(h, 'sale', minor(h.originalAmount), h.placedAt);
    const released = minor(h.reversedAmount);
    if (h.reversedAt !== null && released > 0n) add(h, 'reversal', released, h.reversedAt);
  }
  for (const r of input.snapshot.refunds) {
    if (r.kind !== 'applied') continue;
    const h = refundedHold(byKey, r.original, r.rrn);
    if (h && isFinancial(h)) add(h, 'refund', minor(r.amount), r.at);
  }
  return out.sort((a, b) => a.at - b.at || a.seq - b.seq);
}

/** Every business date with movements, in date order, its rows and its injected faults. */
export function settlementDays(input: SettlementInput): SettlementDay[] {
  const byDate = new Map<string, Movement[]>();
  for (const m of movements(input)) {
    const list = byDate.get(m.row.businessDate);
    if (list) list.push(m);
    else byDate.set(m.row.businessDate, [m]);
  }
  const known = knownIds(input.snapshot);
  return [...byDate.keys()].sort().map((date) => injectFaults(date, byDate.get(date) ?? [], input, known));
}

interface KnownIds {
  rrns: Set<string>;
  stans: Set<string>;
}

function knownIds(snap: SettlementInput['snapshot']): KnownIds {
  const rrns = new Set<string>();
  const stans = new Set<string>();
  for (const h of [...snap.holds, ...snap.released]) {
    rrns.add(h.rrn);
    stans.add(h.stan);
  }
  for (const r of snap.refunds) {
    rrns.add(r.rrn);
    stans.add(r.stan);
  }
  return { rrns, stans };
}

/** A seed per file, so one date's faults do not depend on the others or on when it is written. */
function dateSeed(seed: number, date: string): number {
  let h = 0x811c9dc5 ^ (seed >>> 0);
  for (let i = 0; i < date.length; i++) h = Math.imul(h ^ date.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Takes up to n from pool at random (removing them), so no sale gets two faults. */
function take<T>(rng: Rng, pool: T[], n: number): T[] {
  const out: T[] = [];
  while (out.length < n && pool.length > 0) out.push(pool.splice(rng.int(0, pool.length - 1), 1)[0]);
  return out;
}

/** A fresh n-digit identifier not in `used` (added to it); bounded, for a ledger that has used nearly all. */
function fresh(rng: Rng, used: Set<string>, digits: number): string {
  let s = '';
  for (let tries = 0; tries < 1000; tries++) {
    s = '';
    while (s.length < digits) s += String(rng.int(0, 999999)).padStart(6, '0');
    s = s.slice(0, digits);
    if (!used.has(s) && !/^0+$/.test(s)) break;
  }
  used.add(s);
  return s;
}

function injectFaults(date: string, moves: Movement[], input: SettlementInput, known: KnownIds): SettlementDay {
  const want = input.faults ?? {};
  const rng = createRng(dateSeed(input.seed, date));
  const sales = moves.filter((m) => m.row.type === 'sale');
  // Kept: approved, and no reversal or refund ever named it (not even one refused or not
  // applied), so the switch too should hold it approved and the fault shows.
  const named = new Set(input.snapshot.refunds.map((r) => r.original));
  const kept = sales.filter((m) => m.hold.reversals.received === 0 && minor(m.hold.refunded) === 0n && !named.has(m.hold.key));
  // Fully reversed on the same date: its reversal row is in this file to leave out.
  const reversalOf = new Map<HoldRecord, Movement>();
  for (const m of moves) if (m.row.type === 'reversal') reversalOf.set(m.hold, m);
  const reversed = sales.filter((m) => reversalOf.has(m.hold) && minor(m.hold.refunded) === 0n
    && minor(m.hold.reversedAmount) === minor(m.hold.originalAmount));

  const faults: InjectedFault[] = [];
  const shortfalls: FaultShortfall[] = [];
  const skip = new Set<Movement>();
  const twice = new Set<Movement>();
  const wrongAmount = new Map<Movement, string>();
  const extra = new Map<Movement, SettlementRow[]>();
  const record = (kind: FaultKind, row: SettlementRow, amountMinor: string, note: string): void => {
    faults.push({ kind, businessDate: date, rrn: row.rrn, terminal: row.terminal, stan: row.stan, f7: row.f7, amountMinor, note });
  };
  const pick = (kind: FaultKind, pool: Movement[]): Movement[] => {
    const n = want[kind] ?? 0;
    const got = take(rng, pool, n);
    if (got.length < n) shortfalls.push({ kind, requested: n, injected: got.length });
    return got;
  };

  for (const m of pick('drop', kept)) {
    skip.add(m);
    record('drop', m.row, m.row.amountMinor, `approved sale of ${m.row.amountMinor} left out of the file`);
  }
  for (const m of pick('duplicate', kept)) {
    twice.add(m);
    record('duplicate', m.row, m.row.amountMinor, `approved sale of ${m.row.amountMinor} written twice`);
  }
  for (const m of pick('amount', kept)) {
    const wrong = (minor(m.row.amountMinor) + AMOUNT_FAULT_DELTA).toString();
    wrongAmount.set(m, wrong);
    record('amount', m.row, wrong, `approved ${m.row.amountMinor}, written as ${wrong}`);
  }
  for (const m of pick('settleReversed', reversed)) {
    const rev = reversalOf.get(m.hold);
    if (rev) skip.add(rev);
    record('settleReversed', m.row, m.row.amountMinor, `sale of ${m.row.amountMinor} fully reversed at the issuer, settled without its reversal row`);
  }
  const unknown = want.unknown ?? 0;
  for (let i = 0; i < unknown; i++) {
    // A terminal, merchant and card the issuer knows, on an invented sale it never saw.
    const templates = sales.length > 0 ? sales : moves;
    const t = templates[rng.int(0, templates.length - 1)];
    const row: SettlementRow = {
      ...t.row, type: 'sale', rrn: fresh(rng, known.rrns, 12), stan: fresh(rng, known.stans, 6),
      approvalCode: String(rng.int(0, 999999)).padStart(6, '0'), amountMinor: String(rng.int(100, 99999)),
    };
    extra.set(t, [...(extra.get(t) ?? []), row]);
    record('unknown', row, row.amountMinor, `a sale the issuer never saw, on known terminal ${row.terminal}`);
  }

  const rows: SettlementRow[] = [];
  for (const m of moves) {
    if (!skip.has(m)) {
      const row = wrongAmount.has(m) ? { ...m.row, amountMinor: wrongAmount.get(m) ?? m.row.amountMinor } : m.row;
      rows.push(row);
      if (twice.has(m)) rows.push({ ...row });
    }
    rows.push(...(extra.get(m) ?? []));
  }
  return { businessDate: date, rows, faults, shortfalls };
}

/** One CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break. */
function csvField(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/** The file's text: the header, then one line per row, each ended by a newline. */
export function settlementCsv(rows: readonly SettlementRow[]): string {
  const lines = [SETTLEMENT_COLUMNS.join(',')];
  for (const r of rows) {
    lines.push([
      r.businessDate, r.rrn, r.terminal, r.stan, r.f7, r.amountMinor, r.currency, r.type, r.approvalCode, r.merchant, r.panMasked, r.upstream,
    ].map(csvField).join(','));
  }
  return lines.join('\n') + '\n';
}
