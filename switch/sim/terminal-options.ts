/**
 * The terminal load generator's options, their defaults, and the checks that turn them
 * into the settings a run uses. Everything is checked before the first connection.
 */
import type { Dialect, Framing, FramingName } from '../../codec/index.js';
import { MAGIC_AMOUNTS } from './magic.js';
import { randomSeed } from './prng.js';
import { simDialect, simFraming } from './wire.js';

export type TerminalMode = 'per-sale' | 'persistent';

export interface TerminalOptions {
  /** Default 127.0.0.1. */
  host?: string;
  port: number;
  /** Sales per second offered, all terminals together. */
  tps: number;
  /** How long sales are sent; the run then waits for the answers and reversals. */
  durationS: number;
  /** Simulated terminals, each with its own F41 and STAN sequence. Default 8, at most 999. */
  connections?: number;
  /** 'per-sale': a new connection per message (POS style); 'persistent' (default): one per terminal, many requests in flight on it (acquirer host style). */
  mode?: TerminalMode;
  /** Default iso87a; any built-in dialect (./wire.ts simDialect). */
  dialect?: Dialect | string;
  /** Default len2. */
  framing?: Framing | FramingName;
  /** 0200 (default) or 0100, in 1987's numbering: 1200 or 1100 on a 1993 dialect. */
  mti?: '0100' | '0200';
  /** Normal amounts are whole units in this range (minor units end in 00). Default 1..500. */
  amountUnits?: { min: number; max: number };
  /** Share of sales per magic ending, e.g. { '51': 0.02, '99': 0.01 } (see MAGIC_AMOUNTS). Default none. */
  magicMix?: Record<string, number>;
  /** Share of sales whose terminal disconnects before the answer. Default 0. */
  disconnectRate?: number;
  /** Persistent mode: on a disconnect, reverse the other sales in flight on that connection (not the one that hung up). Default false. */
  reverseOnHangUp?: boolean;
  /** Share of approved sales the chip then declines (the terminal sends its own 0400 F39 06; 1993: 1420 F25 4007). Default 0. */
  chipDeclineRate?: number;
  /** When a terminal gives up on a sale and reverses it. Default 30000. */
  responseTimeoutMs?: number;
  /** How long a terminal waits for each 0410. Default 10000. */
  reversalTimeoutMs?: number;
  /** 0400 then 0401 repeats, this many sends in all. Default 3. */
  reversalAttempts?: number;
  /** PRNG seed; the sequence of sales (amounts, faults, PANs) repeats for the same seed. Default random. */
  seed?: number;
  /**
   * How many cards (PANs) the sales are spread over, 1-1000. Default 1000. With 1, every
   * sale is on one card: every velocity threshold per card is passed, which the promise
   * (no mandatory reversal held back) must survive.
   */
  cards?: number;
  /** F41 is this prefix and the terminal number, 8 characters. Default "SIM". */
  terminalIdPrefix?: string;
  /** First 2 digits of every F37, so concurrent runs against one issuer never share an RRN. Default: from the seed. */
  rrnPrefix?: string;
  /** F32, sent when given (not on UnionPay POS, whose terminals leave it to the host). */
  acquirerId?: string;
  /** F49. Default 840. */
  currency?: string;
  /** Progress bar on stderr. Default: only when stderr is a TTY. */
  progress?: boolean;
  /** Aborting stops sending new sales; those in flight finish as usual. */
  signal?: AbortSignal;
  /** Keep one record per sale in the summary. Default false. */
  records?: boolean;
}

/** TerminalOptions with every default filled in and every value checked. */
export interface FleetSettings {
  dialect: Dialect;
  framing: Framing;
  host: string;
  port: number;
  mode: TerminalMode;
  terminals: number;
  tps: number;
  durationS: number;
  mti: '0100' | '0200';
  units: { min: number; max: number };
  /** Magic endings and their shares, sorted by ending so the draw maps to the same ending every run. */
  mix: [string, number][];
  disconnectRate: number;
  reverseOnHangUp: boolean;
  chipDeclineRate: number;
  cards: number;
  responseTimeoutMs: number;
  reversalTimeoutMs: number;
  reversalAttempts: number;
  seed: number;
  terminalIdPrefix: string;
  rrnPrefix: string;
  acquirerId: string | undefined;
  currency: string;
  progress: boolean;
  signal: AbortSignal | undefined;
  records: boolean;
}

const KNOWN_ENDINGS = new Set(MAGIC_AMOUNTS.map((m) => m.ending));

function check(cond: boolean, msg: string): void {
  if (!cond) throw new RangeError(msg);
}

export function resolveTerminalOptions(opts: TerminalOptions): FleetSettings {
  const dialect = simDialect(opts.dialect);
  const framing = simFraming(opts.framing);
  const mode: TerminalMode = opts.mode ?? 'persistent';
  const nTerms = opts.connections ?? 8;
  const tps = opts.tps;
  const durationS = opts.durationS;
  const responseTimeoutMs = opts.responseTimeoutMs ?? 30000;
  const reversalTimeoutMs = opts.reversalTimeoutMs ?? 10000;
  const reversalAttempts = opts.reversalAttempts ?? 3;
  const disconnectRate = opts.disconnectRate ?? 0;
  const chipDeclineRate = opts.chipDeclineRate ?? 0;
  const cards = opts.cards ?? 1000;
  const units = opts.amountUnits ?? { min: 1, max: 500 };
  const seed = opts.seed ?? randomSeed();
  const prefix = opts.terminalIdPrefix ?? 'SIM';
  const rrnPrefix = opts.rrnPrefix ?? String(seed % 100).padStart(2, '0');
  const mti = opts.mti ?? '0200';
  const currency = opts.currency ?? '840';

  check(Number.isInteger(opts.port) && opts.port > 0 && opts.port < 65536, `port must be 1-65535, got ${opts.port}`);
  check(tps > 0 && Number.isFinite(tps), `tps must be positive, got ${tps}`);
  check(durationS > 0 && Number.isFinite(durationS), `durationS must be positive, got ${durationS}`);
  check(Number.isInteger(nTerms) && nTerms >= 1 && nTerms <= 999, `connections must be 1-999, got ${nTerms}`);
  check(mode === 'per-sale' || mode === 'persistent', `mode must be per-sale or persistent, got ${String(mode)}`);
  check(mti === '0100' || mti === '0200', `mti must be 0100 or 0200, got ${String(mti)}`);
  for (const [name, v] of [['disconnectRate', disconnectRate], ['chipDeclineRate', chipDeclineRate]] as const) {
    check(v >= 0 && v <= 1, `${name} must be between 0 and 1, got ${v}`);
  }
  for (const [name, v] of [['responseTimeoutMs', responseTimeoutMs], ['reversalTimeoutMs', reversalTimeoutMs]] as const) {
    check(v > 0 && Number.isFinite(v), `${name} must be positive, got ${v}`);
  }
  check(Number.isInteger(cards) && cards >= 1 && cards <= 1000, `cards must be 1-1000, got ${cards}`);
  check(Number.isInteger(reversalAttempts) && reversalAttempts >= 1, `reversalAttempts must be 1 or more, got ${reversalAttempts}`);
  check(Number.isInteger(units.min) && Number.isInteger(units.max) && units.min >= 1 && units.max >= units.min && units.max <= 9_999_999_999,
    `amountUnits must be whole units with 1 <= min <= max, got ${units.min}..${units.max}`);
  check(/^[0-9]{2}$/.test(rrnPrefix), `rrnPrefix must be 2 digits, got ${JSON.stringify(rrnPrefix)}`);
  check(prefix.length <= 5, `terminalIdPrefix must be at most 5 characters, got ${JSON.stringify(prefix)}`);
  const mix: [string, number][] = Object.entries(opts.magicMix ?? {}).sort(([a], [b]) => a.localeCompare(b));
  let mixTotal = 0;
  for (const [ending, share] of mix) {
    check(KNOWN_ENDINGS.has(ending), `magicMix: no magic ending "${ending}"; expected one of ${[...KNOWN_ENDINGS].join(', ')}`);
    check(share >= 0 && share <= 1, `magicMix: share of ${ending} must be between 0 and 1, got ${share}`);
    mixTotal += share;
  }
  check(mixTotal <= 1 + 1e-9, `magicMix: shares add up to ${mixTotal}, more than 1`);

  return {
    dialect, framing, host: opts.host ?? '127.0.0.1', port: opts.port, mode, terminals: nTerms, tps, durationS, mti, units, mix,
    disconnectRate, reverseOnHangUp: opts.reverseOnHangUp ?? false, chipDeclineRate, cards, responseTimeoutMs, reversalTimeoutMs, reversalAttempts,
    seed, terminalIdPrefix: prefix, rrnPrefix, acquirerId: opts.acquirerId, currency,
    progress: opts.progress ?? process.stderr.isTTY === true, signal: opts.signal, records: opts.records ?? false,
  };
}
