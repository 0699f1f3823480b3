/**
 * "Magic amounts": the last two digits of F4 (minor units) script the issuer
 * simulator's answer to one sale, whatever its random rates say. Normal test amounts
 * end in 00, so they never hit a magic ending. Reversals are never scripted.
 *
 * Codes here are ISO 8583:1987's, which UnionPay POS shares; on a 1993 dialect the
 * issuer answers each with the action code it stands for (./standard-codes.ts: 05 is 100,
 * 10 is 002...), so an ending scripts the same outcome in every dialect.
 */

export type MagicAction =
  /** Answer with this F39 after the normal latency. */
  | { kind: 'decline'; code: string }
  /** Never answer; nothing is posted (the issuer was unavailable). */
  | { kind: 'drop-unposted' }
  /** Approve and place the hold, but never answer (the approval is lost on the way back). */
  | { kind: 'drop-posted' }
  /** Approve, place the hold, answer after lateMs. */
  | { kind: 'late' }
  /** Approve in part (F39 10): hold and answer half the amount asked, rounded down, in F4. */
  | { kind: 'partial' };

export interface MagicAmount {
  /** Last two digits of F4. */
  ending: string;
  action: MagicAction;
  /** Whether the issuer places a hold. */
  hold: boolean;
  /** One line for the README and the CLI help. */
  meaning: string;
}

export const MAGIC_AMOUNTS: readonly MagicAmount[] = [
  { ending: '05', action: { kind: 'decline', code: '05' }, hold: false, meaning: 'declined 05 (do not honour); nothing held' },
  { ending: '51', action: { kind: 'decline', code: '51' }, hold: false, meaning: 'declined 51 (insufficient funds); nothing held' },
  { ending: '59', action: { kind: 'decline', code: '59' }, hold: false, meaning: 'declined 59 (suspected fraud); nothing held' },
  { ending: '94', action: { kind: 'decline', code: '94' }, hold: false, meaning: 'answered 94 (duplicate); nothing held; must not be reversed (a reversal shows as unmatched)' },
  { ending: '96', action: { kind: 'decline', code: '96' }, hold: false, meaning: 'answered 96 (system error): the issuer failed, nothing held; the switch may reverse (unknown outcome), the reversal shows as unmatched' },
  { ending: '91', action: { kind: 'drop-unposted' }, hold: false, meaning: 'never answered, nothing held (issuer unavailable); the timeout reversal shows as unmatched' },
  { ending: '99', action: { kind: 'drop-posted' }, hold: true, meaning: 'approved and held, but never answered (approval lost)' },
  { ending: '68', action: { kind: 'late' }, hold: true, meaning: 'approved and held, answered 00 after lateMs (a late approval)' },
  { ending: '10', action: { kind: 'partial' }, hold: true, meaning: 'approved in part: answered 10 with half the amount (rounded down) in F4, and that much held' },
];

const BY_ENDING: ReadonlyMap<string, MagicAmount> = new Map(MAGIC_AMOUNTS.map((m) => [m.ending, m]));

/** The magic entry for an F4 value, or undefined for a normal amount. */
export function magicOf(amount: string | undefined): MagicAmount | undefined {
  if (amount === undefined || amount.length < 2) return undefined;
  return BY_ENDING.get(amount.slice(-2));
}

/** The table as Markdown, for the README and `revswitch sim --help`. */
export function magicTable(): string {
  const rows = MAGIC_AMOUNTS.map((m) => `| ..${m.ending} | ${m.meaning} |`);
  return ['| F4 ends in | issuer simulator does |', '|---|---|', ...rows].join('\n');
}

/** F39 of a partial approval on 1987 (every standard's: ./standard-codes.ts). */
export const PARTIAL = '10';

/** Half of an n12 amount, rounded down, as n12: what a partial approval grants and holds. */
export function partOf(amount: string): string {
  return String(Math.floor(Number(amount || '0') / 2)).padStart(12, '0');
}
