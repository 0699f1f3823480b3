/**
 * What both simulators share on the wire: the dialects and framing they accept, their
 * framed connections (the switch's FramedConn, with their own policy for bad frames), and
 * the date-time and amount fields.
 */
import type { Socket } from 'node:net';
import {
  DEFAULT_DIALECT, DEFAULT_FRAMING, DialectError, IsoError, getDialect, getFraming, localDateTime, profileOf, transmissionTime,
  type Dialect, type Framing, type FramingName, type Standard,
} from '../../codec/index.js';
import { FramedConn } from '../edge/framed-conn.js';

/**
 * What the simulators read or write in each standard, beyond the MTI: the keys a sale is
 * matched by (F11, F37, F41), its amount, its answer code, and where a reversal names its
 * original and gives its reason (codec/profiles/). A dialect derived without one of them
 * would be half-served (sales answered, reversals never matched), so it is refused.
 */
const NEEDS: Readonly<Record<Standard, readonly [number, string][]>> = {
  iso87: [[7, 'transmission date-time, which F90 names the original by'], [90, 'original data elements, by which a reversal names its original']],
  iso93: [
    [12, 'local date-time, which F56 names the original by'], [24, 'function code (400 full, 401 partial reversal)'],
    [25, 'message reason code, a reversal\'s reason'], [56, 'original data elements, by which a reversal names its original'],
  ],
  cup: [[60, 'type and batch (60.1, 60.2)']],
};

const COMMON: readonly [number, string][] = [
  [3, 'processing code'], [4, 'amount'], [11, 'STAN'], [37, 'retrieval reference number'], [38, 'approval code'],
  [39, 'response code'], [41, 'terminal id'],
];

const STANDARD_NAMES: Readonly<Record<Standard, string>> = { iso87: 'ISO 8583:1987', iso93: 'ISO 8583:1993', cup: 'UnionPay POS' };

/**
 * The dialect the simulators speak: every built-in one (iso87a, iso87a-hex, iso87b,
 * iso93a, cup) and any derived dialect that still has what its standard needs (NEEDS).
 */
export function simDialect(d: Dialect | string | undefined): Dialect {
  const dialect = typeof d === 'string' || d === undefined ? getDialect(d ?? DEFAULT_DIALECT) : d;
  const standard = profileOf(dialect).standard;
  const missing = [...COMMON, ...NEEDS[standard]].filter(([n]) => dialect.field(n) === undefined);
  if (missing.length > 0) {
    const list = missing.map(([n, what]) => `F${n} (${what})`).join(', ');
    throw new DialectError(dialect.name, '', `the simulators cannot speak it: its standard (${STANDARD_NAMES[standard]}) needs ${list}, which the dialect lacks`);
  }
  return dialect;
}

export function simFraming(f: Framing | FramingName | string | undefined): Framing {
  const framing = typeof f === 'object' ? f : getFraming(f ?? DEFAULT_FRAMING);
  if (framing.prefixBytes === 0) throw new IsoError('frame', -1, `framing ${framing.name} cannot delimit messages on a stream`);
  return framing;
}

/** The max frame body of a simulator connection unless told otherwise. */
export const SIM_MAX_FRAME = 8192;

/**
 * A framed connection as the simulators use it. A frame that does not decode is the
 * caller's to count, and the connection stays up, as the framing is still in sync: the
 * switch's own default (reject or close) is what the simulators test, not what they do.
 */
export function simConn(
  socket: Socket, dialect: Dialect, framing: Framing, onUndecodable: (error: IsoError, conn: FramedConn) => void, maxFrame = SIM_MAX_FRAME,
): FramedConn {
  // A simulator always reads: were it to stop while its writes wait, as the switch does,
  // the two would stall each other once a burst fills both directions.
  const conn = new FramedConn(socket, { dialect, framing, maxFrame, pauseOnBackpressure: false });
  conn.onMalformed = (error, _partial, c) => onUndecodable(error, c);
  return conn;
}

const p2 = (n: number): string => (n < 10 ? '0' : '') + n;

/** F7, MMDDhhmmss in UTC: the switch's own formatter, so both sides agree on the form. */
export function transmissionDateTime(d: Date): string {
  return transmissionTime(d.getTime());
}

/** F12, hhmmss local time. */
export function localTime(d: Date): string {
  return p2(d.getHours()) + p2(d.getMinutes()) + p2(d.getSeconds());
}

/** F12 of ISO 8583:1993, YYMMDDhhmmss local time: the switch's own formatter. */
export function localDateTime93(d: Date): string {
  return localDateTime(d.getTime());
}

/** F13, MMDD local date. */
export function localDate(d: Date): string {
  return p2(d.getMonth() + 1) + p2(d.getDate());
}

/** 1987 approval codes (every standard's: ./standard-codes.ts). */
export const APPROVED_CODES: ReadonlySet<string> = new Set(['00', '08', '10', '11']);

/** Amount in minor units as F4 (12 digits), and back. */
export function f4(minor: number): string {
  return String(minor).padStart(12, '0');
}
