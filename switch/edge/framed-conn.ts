/**
 * One framed ISO 8583 connection, either side of it: a socket, a frame reader, a dialect.
 * Decoding, malformed frames, backpressure and idle timeouts live here once, so terminal
 * listeners, upstream links and the simulators share them.
 *
 * A frame whose length prefix is bad cannot be resynchronised: the connection closes. A
 * frame that is whole but does not decode leaves the stream in sync; what happens then is
 * `onMalformed`'s choice. The switch's default answers with a format-error reject when
 * the request can be addressed (its MTI and F11 or F41 were read), and closes otherwise.
 */
import type { Socket } from 'node:net';
import {
  FrameReader, IsoError, decodePartial, encode, frame, getFraming, isOriginating, profileOf, responseTo,
  type Dialect, type Framing, type IsoMessage,
} from '../../codec/index.js';
import type { Counters } from '../observe/counters.js';
import type { Logger } from '../observe/log.js';
import type { WireMetrics } from '../observe/metrics.js';
import type { MacGuard, MacVerdict } from './mac-guard.js';

export interface FramedConnOptions {
  dialect: Dialect;
  /** A framing, or its name (codec FRAMINGS). */
  framing: Framing | string;
  maxFrame: number;
  /** Close after this long without a frame in either direction; 0 or absent: never. */
  idleTimeoutMs?: number;
  /** For logs: the listener's or upstream's name. */
  name?: string;
  /** Absent: nothing is logged (the simulators keep their own counts). */
  log?: Logger;
  counters?: Counters;
  /** Message and decode-error counts by MTI class (observe/metrics.ts); plain number bumps. */
  wire?: WireMetrics;
  /**
   * Stop reading from a peer while our writes to it wait (default true): a terminal that
   * does not read its answers gets no more of its requests read either. Two ends that both
   * do this stall each other once a burst fills both directions, so a load generator
   * (the simulators) turns it off and always reads.
   */
  pauseOnBackpressure?: boolean;
  /** MACs checked on every frame in and made on every message out (./mac-guard.ts); absent: none. */
  mac?: MacGuard | null;
}

let nextId = 1;

export class FramedConn {
  readonly id = nextId++;
  readonly dialect: Dialect;
  readonly remote: string;
  private readonly framing: Framing;
  private readonly reader: FrameReader;
  private closed = false;
  private paused = false;
  private corked = false;
  private readonly uncork = (): void => {
    this.corked = false;
    this.socket.uncork();
  };
  /** Reads held by admission control (the switch is behind), apart from backpressure. */
  private held = false;
  /** The framing or socket error the connection died of, if any. */
  private closeError: Error | undefined;
  onMessage: (msg: IsoMessage, conn: FramedConn) => void = () => {};
  /** A frame that did not decode; `partial` holds the fields read before the error. */
  onMalformed: (error: IsoError, partial: IsoMessage, conn: FramedConn) => void = (error, partial) => this.rejectOrClose(error, partial);
  /** A message whose MAC is missing or wrong (only with `mac`): never handed to onMessage. */
  onMacFailure: (msg: IsoMessage, verdict: MacVerdict, conn: FramedConn) => void = () => {};
  /** Once, whoever closed it; `error` when a framing or socket error did. */
  onClose: (conn: FramedConn, error: Error | undefined) => void = () => {};

  constructor(readonly socket: Socket, private readonly opts: FramedConnOptions) {
    this.dialect = opts.dialect;
    this.framing = typeof opts.framing === 'string' ? getFraming(opts.framing) : opts.framing;
    this.remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    this.reader = new FrameReader(this.framing, {
      maxFrame: opts.maxFrame,
      onFrame: (body) => this.frameIn(body),
    });
    socket.setNoDelay(true);
    const idleMs = opts.idleTimeoutMs ?? 0;
    if (idleMs > 0) {
      socket.setTimeout(idleMs, () => {
        opts.counters?.inc('idle_timeouts');
        opts.log?.info('connection idle, closing', { conn: this.id, name: opts.name, remote: this.remote });
        this.close();
      });
    }
    socket.on('data', (chunk: Buffer) => this.dataIn(chunk));
    socket.on('drain', () => this.resume());
    socket.on('error', (e) => {
      this.closeError ??= e;
      opts.log?.debug('socket error', { conn: this.id, name: opts.name, error: e.message });
    });
    socket.on('close', () => {
      this.closed = true;
      this.onClose(this, this.closeError);
    });
  }

  get isOpen(): boolean {
    return !this.closed && !this.socket.destroyed && this.socket.writable;
  }

  /**
   * Encodes and writes; false when the message could not be handed to the socket (closed,
   * or the codec refused it). `onWritten` runs once the bytes are flushed to the kernel.
   */
  send(msg: IsoMessage, onWritten?: () => void): boolean {
    if (!this.isOpen) return false;
    let bytes: Buffer;
    const mac = this.opts.mac;
    try {
      if (mac && mac.prepare(msg)) {
        // The MAC goes into the bytes just encoded (a view of the encoder's slab, ours
        // until the next encode): no second encode.
        const body = encode(this.dialect, msg);
        mac.sign(body, msg);
        bytes = frame(this.framing, body);
      } else {
        bytes = frame(this.framing, encode(this.dialect, msg));
      }
    } catch (e) {
      this.opts.counters?.inc('encode_errors');
      this.opts.log?.error('cannot encode outgoing message', { conn: this.id, name: this.opts.name, error: (e as Error).message });
      return false;
    }
    if (!this.corked) {
      // Every answer written in this turn of the event loop (a group commit settles
      // hundreds at once) leaves in one writev rather than a syscall each.
      this.corked = true;
      this.socket.cork();
      process.nextTick(this.uncork);
    }
    const flushed = onWritten === undefined ? this.socket.write(bytes) : this.socket.write(bytes, (err) => { if (!err) onWritten(); });
    // Backpressure: a peer that does not read gets no more reading from us either.
    if (!flushed && !this.paused && this.opts.pauseOnBackpressure !== false) {
      this.paused = true;
      this.socket.pause();
    }
    this.opts.counters?.inc('messages_out');
    this.opts.wire?.messageOut(msg.mti);
    return true;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    // What this turn wrote is still corked: destroy() would drop it unsent.
    if (this.corked) this.uncork();
    this.socket.destroy();
  }

  private resume(): void {
    if (this.paused) {
      this.paused = false;
      if (!this.held) this.socket.resume();
    }
  }

  /** Stops (or restarts) reading this peer's requests while the switch catches up; nothing read is dropped. */
  hold(on: boolean): void {
    if (on === this.held || this.closed) return;
    this.held = on;
    if (on) this.socket.pause();
    else if (!this.paused) this.socket.resume();
  }

  private dataIn(chunk: Buffer): void {
    if (this.closed) return;
    try {
      this.reader.push(chunk);
    } catch (e) {
      if (!(e instanceof IsoError)) throw e;
      this.closeError ??= e;
      this.opts.counters?.inc('frame_errors');
      this.opts.wire?.decodeError(e);
      this.opts.log?.warn('bad frame, closing connection', { conn: this.id, name: this.opts.name, remote: this.remote, error: e.message });
      this.close();
    }
  }

  private frameIn(body: Buffer): void {
    if (this.closed) return;
    this.opts.counters?.inc('messages_in');
    const { msg, error } = decodePartial(this.dialect, body);
    this.opts.wire?.messageIn(msg.mti);
    if (error === null) {
      const mac = this.opts.mac;
      if (mac) {
        const verdict = mac.verify(body, msg);
        if (verdict !== 'ok' && verdict !== 'exempt') {
          this.onMacFailure(msg, verdict, this);
          return;
        }
      }
      this.onMessage(msg, this);
      return;
    }
    this.opts.counters?.inc('decode_errors');
    this.opts.wire?.decodeError(error);
    this.onMalformed(error, msg, this);
  }

  /**
   * Answers a malformed request with a reject when we know what was asked and by whom;
   * otherwise an answer cannot even be addressed, and the connection goes.
   */
  private rejectOrClose(error: IsoError, msg: IsoMessage): void {
    const answerable = msg.mti.length === 4 && isOriginating(msg.mti) && (msg.has(11) || msg.has(41));
    const code = profileOf(this.dialect).localCodes.format_error;
    this.opts.log?.warn('malformed message', {
      conn: this.id, name: this.opts.name, remote: this.remote, error: error.message,
      mti: msg.mti || undefined, stan: msg.get(11), terminal: msg.get(41), action: answerable ? `reject ${code}` : 'close',
    });
    if (!answerable) {
      this.close();
      return;
    }
    const reject = responseTo(this.dialect, msg, code);
    if (!this.send(reject)) this.close();
  }
}
