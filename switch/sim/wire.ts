/**
 * What both simulators share on the wire: the dialect and framing they accept, a framed
 * connection that hands over decoded messages, and the date-time fields.
 */
import type { Socket } from 'node:net';
import {
  DEFAULT_DIALECT, DEFAULT_FRAMING, DialectError, FrameReader, IsoError, decode, encode, frame, getDialect, getFraming,
  type Dialect, type Framing, type FramingName, type IsoMessage,
} from '../../codec/index.js';
import { transmissionTime } from '../edge/netmgmt.js';

/**
 * The simulators speak ISO 8583:1987 with F90 original data (iso87a, iso87a-hex,
 * iso87b, and dialects derived from them). 1993 (F56, 3-digit action codes) and
 * UnionPay POS (TPDU, F60/F61) are refused with a clear error rather than half-served.
 */
export function simDialect(d: Dialect | string | undefined): Dialect {
  const dialect = typeof d === 'string' || d === undefined ? getDialect(d ?? DEFAULT_DIALECT) : d;
  if (dialect.spec.version !== '1987' || dialect.tpdu || dialect.field(90) === undefined || dialect.field(60)?.parts === 'cup60') {
    throw new DialectError(dialect.name, '', 'the simulators speak ISO 8583:1987 with F90 (iso87a, iso87a-hex, iso87b or derived); 1993 and UnionPay are not supported');
  }
  return dialect;
}

export function simFraming(f: Framing | FramingName | string | undefined): Framing {
  const framing = typeof f === 'object' ? f : getFraming(f ?? DEFAULT_FRAMING);
  if (framing.prefixBytes === 0) throw new IsoError('frame', -1, `framing ${framing.name} cannot delimit messages on a stream`);
  return framing;
}

export interface LinkHandlers {
  onMessage(msg: IsoMessage): void;
  /** A frame that does not decode: the link stays up (the framing is still in sync). */
  onBadMessage?(err: IsoError): void;
  /** Once, when the socket is gone, whoever closed it. `err` for a framing or socket error. */
  onClose?(err: Error | undefined): void;
}

/** A socket with a frame reader on its input and encode+frame on its output. */
export class Link {
  readonly socket: Socket;
  private closed = false;
  private closeErr: Error | undefined;

  constructor(socket: Socket, private readonly dialect: Dialect, private readonly framing: Framing, h: LinkHandlers, maxFrame = 8192) {
    this.socket = socket;
    socket.setNoDelay(true);
    const reader = new FrameReader(framing, {
      maxFrame,
      onFrame: (body) => {
        let msg: IsoMessage;
        try {
          msg = decode(dialect, body);
        } catch (e) {
          if (e instanceof IsoError) { h.onBadMessage?.(e); return; }
          throw e;
        }
        h.onMessage(msg);
      },
    });
    socket.on('data', (chunk: Buffer) => {
      if (this.closed) return;
      try {
        reader.push(chunk);
      } catch (e) {
        // A poisoned reader: the stream is out of sync for good. Anything else is a bug
        // in a handler and is not hidden.
        if (!(e instanceof IsoError) || e.site !== 'frame') throw e;
        this.closeErr = e;
        socket.destroy();
      }
    });
    socket.on('error', (e) => { this.closeErr ??= e; });
    socket.on('close', () => {
      if (this.closed) return;
      this.closed = true;
      h.onClose?.(this.closeErr);
    });
  }

  get isClosed(): boolean {
    return this.closed || this.socket.destroyed;
  }

  /** Encodes and writes; false when the link is already closed (nothing written). */
  send(msg: IsoMessage, onWritten?: () => void): boolean {
    if (this.isClosed) return false;
    const bytes = frame(this.framing, encode(this.dialect, msg));
    this.socket.write(bytes, onWritten && ((err) => { if (!err) onWritten(); }));
    return true;
  }

  destroy(): void {
    this.socket.destroy();
  }
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
