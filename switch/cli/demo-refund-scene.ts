/**
 * The demo's refund scene, after the load has settled: one sale is approved, the business
 * day closes (the demo moves the cutover to the next second), and then the terminal cancels
 * the sale. A reversal is no longer allowed, so the switch answers the terminal at once and
 * sends the issuer a refund through its store-and-forward queue. The scene then checks,
 * at the issuer simulator, that exactly one refund of the sale's amount credited its hold.
 *
 * The cutover is the only rule changed. The scene's calendar has no days off, so the day
 * closes whatever today is: on a Saturday the default calendar rolls both sides of the
 * cutover forward to Monday, and the undo would stay a reversal.
 */
import { existsSync, readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { DEFAULT_DIALECT, IsoMessage, reversalOf } from '../../codec/index.js';
import { compileRules, defaultRulesPath, type CompiledRules } from '../../rules/index.js';
import type { Switch } from '../engine/switch.js';
import type { Store } from '../store/types.js';
import { luhnComplete } from '../observe/redact.js';
import { connectClient } from '../sim/client.js';
import type { IssuerSim } from '../sim/issuer.js';
import { APPROVED_CODES, f4, localDate, localTime, simDialect, transmissionDateTime } from '../sim/wire.js';

/** A normal amount (magic amounts end in 05, 51, 59, 68, 91, 94, 96, 99), under every refund cap. */
const SCENE_AMOUNT = 4200;
const TERMINAL = 'DEMOREF1';
const MERCHANT = 'DEMOREFUNDSHOP1';
/** Its own card, terminal and merchant: the load's undos count toward no limit of the scene's refund. */
const PAN_BODY = '476173900109876';
/** The scene's RRNs: the load's start with 61 and 62. */
const RRN_BASE = '6399990000';
const SALE_TRIES = 6;
const CURRENCY = '840';
const ANSWER_MS = 5000;
const REFUND_MS = 15_000;

export interface RefundSceneResult {
  ok: boolean;
  /** What went wrong, when not ok. */
  problem: string | null;
  rrn: string;
  amount: number;
  cutover: string;
  saleCode: string | null;
  cancelCode: string | null;
  /** The refund row in the store: its state and MTI sent. */
  refundState: string | null;
  /** What the issuer simulator credited against the sale, in minor units, and how many refunds it applied. */
  creditedAtIssuer: number;
  refundsApplied: number;
  holdStatus: string | null;
}

/** HH:MM:SS in `timeZone` at `ms`. */
function wallClock(ms: number, timeZone: string): string {
  return new Intl.DateTimeFormat('en-GB', { timeZone, hourCycle: 'h23', hour: '2-digit', minute: '2-digit', second: '2-digit' }).format(ms);
}

/** The rules file the switch runs on, with the cutover at `cutover` and no days off. */
function rulesWithCutover(path: string, cutover: string): CompiledRules {
  const data = parse(readFileSync(path, 'utf8')) as { businessDay: Record<string, unknown> };
  data.businessDay = { ...data.businessDay, cutover, weekend: [], holidays: [] };
  return compileRules(data, `${path} (demo: cutover ${cutover}, no days off)`);
}

/** The scene's `n`th try at a sale: its own STAN and RRN. */
function saleMessage(now: Date, n: number): IsoMessage {
  const m = new IsoMessage('0200');
  const f: Record<number, string> = {
    2: luhnComplete(PAN_BODY), 3: '000000', 4: f4(SCENE_AMOUNT), 7: transmissionDateTime(now), 11: String(900_001 + n).padStart(6, '0'), 12: localTime(now),
    13: localDate(now), 22: '051', 25: '00', 37: RRN_BASE + String(n).padStart(2, '0'), 41: TERMINAL, 42: MERCHANT, 49: CURRENCY,
  };
  for (const [k, v] of Object.entries(f)) m.set(Number(k), v);
  return m;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(done: () => Promise<boolean>, maxMs: number): Promise<boolean> {
  const end = Date.now() + maxMs;
  while (Date.now() < end) {
    if (await done()) return true;
    await sleep(50);
  }
  return done();
}

/**
 * Runs the scene against a running switch and its issuer simulator; the switch's rules are
 * put back as they were when it ends, whatever happened.
 */
export async function runRefundScene(sw: Switch, store: Store, issuer: IssuerSim, port: number, dialect = DEFAULT_DIALECT): Promise<RefundSceneResult> {
  const r: RefundSceneResult = {
    ok: false, problem: null, rrn: '', amount: SCENE_AMOUNT, cutover: '', saleCode: null, cancelCode: null, refundState: null,
    creditedAtIssuer: 0, refundsApplied: 0, holdStatus: null,
  };
  const fail = (problem: string): RefundSceneResult => ({ ...r, ok: false, problem });
  const client = await connectClient({ port, dialect });
  const original = sw.rules.current;
  try {
    // The simulator declines or drops a share of sales at random: try a few until one is
    // approved (a declined one took nothing; a dropped one the switch reverses).
    let sale: IsoMessage | null = null;
    let answer: IsoMessage | null = null;
    for (let i = 0; i < SALE_TRIES && sale === null; i++) {
      const m = saleMessage(new Date(), i);
      const a = await client.request(m, ANSWER_MS).catch(() => null);
      r.saleCode = a?.get(39) ?? null;
      if (a !== null && APPROVED_CODES.has(r.saleCode ?? '')) [sale, answer] = [m, a];
    }
    if (sale === null || answer === null) return fail(`no sale approved in ${SALE_TRIES} tries (last F39 ${r.saleCode ?? 'none'})`);
    r.rrn = sale.get(37) ?? '';

    // The business day closes one second from now, in the calendar's own zone.
    const closesAt = Date.now() + 1000;
    r.cutover = wallClock(closesAt, original.calendar.timeZone);
    const path = existsSync(original.source) ? original.source : defaultRulesPath();
    const reloaded = sw.rules.reload(() => rulesWithCutover(path, r.cutover));
    if (!reloaded.ok) return fail(`the rules with the moved cutover were refused: ${String(reloaded.error)}`);
    await sleep(Math.max(0, closesAt - Date.now()) + 1000);

    const cancel = reversalOf(simDialect(dialect), sale, {
      reason: '17', stan: '900999', transmissionDateTime: transmissionDateTime(new Date()), approvalCode: answer.get(38),
    });
    r.cancelCode = (await client.request(cancel, ANSWER_MS)).get(39) ?? null;

    // The queue retries an unanswered refund: wait for the issuer's answer to be taken.
    await until(async () => (await store.reversals()).some((x) => x.kind === 'refund' && x.state === 'acked'), REFUND_MS);
    const rows = (await store.reversals()).filter((x) => x.kind === 'refund');
    r.refundState = rows.map((x) => x.state).join(',') || null;
    const ledger = issuer.ledger();
    const hold = [...ledger.holds, ...ledger.released].find((h) => h.rrn === r.rrn) ?? null;
    r.holdStatus = hold?.status ?? null;
    r.creditedAtIssuer = hold === null ? 0 : Number(hold.refunded);
    r.refundsApplied = ledger.refunds.filter((x) => x.rrn === r.rrn && x.kind === 'applied').length;
    if (r.cancelCode !== '00') return fail(`the terminal's cancel was answered ${r.cancelCode ?? 'nothing'}`);
    if (r.refundsApplied !== 1) return fail(`${r.refundsApplied} refunds of the sale reached the issuer, not 1`);
    if (r.creditedAtIssuer !== SCENE_AMOUNT || r.holdStatus !== 'released') return fail(`the issuer credited ${r.creditedAtIssuer} of ${SCENE_AMOUNT}, its hold is ${r.holdStatus ?? 'gone'}`);
    return { ...r, ok: true };
  } finally {
    sw.rules.swap(original);
    await client.close();
  }
}
