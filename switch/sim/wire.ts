/**
 * What both simulators share on the wire: the dialect and framing they accept, their
 * framed connections (the switch's FramedConn, with their own policy for bad frames), and
 * the date-time and amount fields.
 */
import type { Socket } from 'node:net';
import {
  DEFAULT_DIALECT, DEFAULT_FRAMING, DialectError, IsoError, getDialect, getFraming, profileOf, transmissionTime,
  type Dialect, type Framing, type FramingName,
} from '../../codec/index.js';
import { FramedConn } from '../edge/framed-conn.js';

/**
 * The simulators speak ISO 8583:1987 with F90 original data (iso87a, iso87a-hex,
 * iso87b, and dialects derived from them). 1993 (F56, 3-digit action codes) and
 * UnionPay POS (TPDU, F60/F61) are refused with a clear error rather than half-served.
 */
export function simDialect(d: Dialect | string | undefined): Dialect {
  const dialect = typeof d === 'string' || d === undefined ? getDialect(d ?? DEFAULT_DIALECT) : d;
  if (profileOf(dialect).standard !== 'iso87' || dialect.tpdu || dialect.field(90) === undefined) {
    throw new DialectError(dialect.name, '', 'the simulators speak ISO 8583:1987 with F90 (iso87a, iso87a-hex, iso87b or derived); 1993 and UnionPay are not supported');
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

/** F13, MMDD local date. */
export function localDate(d: Date): string {
  return p2(d.getMonth() + 1) + p2(d.getDate());
}

/** Approval codes the terminal treats as approved. */
export const APPROVED_CODES: ReadonlySet<string> = new Set(['00', '08', '10', '11']);

/** Amount in minor units as F4 (12 digits), and back. */
export function f4(minor: number): string {
  return String(minor).padStart(12, '0');
}
