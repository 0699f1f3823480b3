/**
 * One framed ISO 8583 connection, either side: a socket, a frame reader, a dialect.
 * Decoding, malformed-frame handling, backpressure and idle timeouts live here once, so
 * terminal listeners and upstream links share them.
 */
import type { Socket } from 'node:net';
import {
  FrameReader, IsoError, decodePartial, encode, frame, getFraming, responseTo,
  type Dialect, type Framing, type IsoMessage,
} from '../../codec/index.js';
import type { Logger } from '../observe/log.js';
import type { Counters } from '../observe/counters.js';
import type { WireMetrics } from '../observe/metrics.js';
import { responseCode } from './codes.js';

export interface ConnOptions {
  dialect: Dialect;
  framing: string;
  maxFrame: number;
  /** Close after this long without a frame in either direction; 0 for never. */
  idleTimeoutMs: number;
  log: Logger;
  counters: Counters;
  /** For logs: listener or upstream name. */
  name: string;
  /** Message and decode-error counts by MTI class (metrics.ts); plain number bumps. */
  wire?: WireMetrics;
}

let nextId = 1;

export class Conn {
  readonly id = nextId++;
  readonly dialect: Dialect;
  readonly remote: string;
  private readonly framing: Framing;
  private readonly reader: FrameReader;
  private closed = false;
  private paused = false;
  onMessage: (msg: IsoMessage, conn: Conn) => void = () => {};
  onClose: (conn: Conn) => void = () => {};

  constructor(readonly socket: Socket, private readonly opts: ConnOptions) {
    this.dialect = opts.dialect;
    this.framing = getFraming(opts.framing);
    this.remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    this.reader = new FrameReader(this.framing, {
      maxFrame: opts.maxFrame,
      onFrame: (body) => this.frameIn(body),
    });
    socket.setNoDelay(true);
    if (opts.idleTimeoutMs > 0) {
      socket.setTimeout(opts.idleTimeoutMs, () => {
        opts.counters.inc('idle_timeouts');
        opts.log.info('connection idle, closing', { conn: this.id, name: opts.name, remote: this.remote });
        this.close();
      });
    }
    socket.on('data', (chunk: Buffer) => this.dataIn(chunk));
    socket.on('drain', () => this.resume());
    socket.on('error', (e) => opts.log.debug('socket error', { conn: this.id, name: opts.name, error: e.message }));
    socket.on('close', () => {
      this.closed = true;
      this.onClose(this);
    });
  }

  get isOpen(): boolean {
    return !this.closed && !this.socket.destroyed && this.socket.writable;
  }

  /** Encodes and writes; false when the message could not be handed to the socket. */
  send(msg: IsoMessage): boolean {
    if (!this.isOpen) return false;
    let bytes: Buffer;
    try {
      bytes = frame(this.framing, encode(this.dialect, msg));
    } catch (e) {
      this.opts.counters.inc('encode_errors');
      this.opts.log.error('cannot encode outgoing message', { conn: this.id, name: this.opts.name, error: (e as Error).message });
      return false;
    }
    const flushed = this.socket.write(bytes);
    // Backpressure: a peer that does not read gets no more reading from us either.
    if (!flushed && !this.paused) {
      this.paused = true;
      this.socket.pause();
    }
    this.opts.counters.inc('messages_out');
    this.opts.wire?.messageOut(msg.mti);
    return true;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
  }

  private resume(): void {
    if (this.paused) {
      this.paused = false;
      this.socket.resume();
    }
  }

  private dataIn(chunk: Buffer): void {
    try {
      this.reader.push(chunk);
    } catch (e) {
      if (!(e instanceof IsoError)) throw e;
      // A bad length prefix: the stream cannot be resynchronised.
      this.opts.counters.inc('frame_errors');
      this.opts.wire?.decodeError(e);
      this.opts.log.warn('bad frame, closing connection', { conn: this.id, name: this.opts.name, remote: this.remote, error: e.message });
      this.close();
    }
  }

  private frameIn(body: Buffer): void {
    if (this.closed) return;
    this.opts.counters.inc('messages_in');
    const { msg, error } = decodePartial(this.dialect, body);
    this.opts.wire?.messageIn(msg.mti);
    if (error === null) {
      this.onMessage(msg, this);
      return;
    }
    this.opts.counters.inc('decode_errors');
    this.opts.wire?.decodeError(error);
    // Answer with a reject when we know what was asked and by whom; otherwise we cannot
    // even address an answer, and the connection goes.
    const answerable = msg.mti.length === 4 && (msg.mti.charCodeAt(2) - 48) % 2 === 0 && (msg.has(11) || msg.has(41));
    this.opts.log.warn('malformed message', {
      conn: this.id, name: this.opts.name, remote: this.remote, error: error.message,
      mti: msg.mti || undefined, stan: msg.get(11), terminal: msg.get(41), action: answerable ? 'reject 30' : 'close',
    });
    if (!answerable) {
      this.close();
      return;
    }
    const reject = responseTo(this.dialect, msg, responseCode(this.dialect, 'format_error'));
    if (!this.send(reject)) this.close();
  }
}
