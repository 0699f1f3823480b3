/**
 * One framed ISO 8583 connection, either side of it: a socket, a frame reader, a dialect.
 * Decoding, malformed frames, backpressure and idle timeouts live here once, so terminal
 * listeners, upstream links and the simulators share them.
 *
 * A frame whose length prefix is bad cannot be resynchronised: the connection closes. A
 * frame that is whole but does not decode leaves the stream in sync; what happens then is
 * `onMalformed`'s choice. The switch's default answers with a format-error reject when
 * the request can be addressed (its MTI and F11 or F41 were read), and closes otherwise.
 *
 * Reads stop for five reasons, each on its own flag, and resume only when none holds:
 * the peer does not read our writes (backpressure), the journal is behind (admission,
 * `hold`), `maxInFlight` requests of this connection wait for their answers, a read
 * brought more than `framesPerTurn` frames (the rest go on in the next turns of the
 * event loop, so one pipelining peer cannot hold every other connection behind it), or
 * the peer spent its allowance of duplicates (`chargeDuplicate`).
 * Frames already read when reads stop wait here, in order, never dropped.
 * What a listener's sweep (./slow-clients.ts) needs to judge a slow client is kept as
 * plain fields on the monotonic clock: when reads last (re)started, how many frames came,
 * and when the frame under assembly began.
 */
import type { Socket } from 'node:net';
import {
  FrameReader, IsoError, decodePartial, encode, frame, getFraming, isOriginating, isResponse, profileOf, responseTo,
  type Dialect, type Framing, type IsoMessage,
} from '../../codec/index.js';
import type { Counters } from '../observe/counters.js';
import type { Logger } from '../observe/log.js';
import type { WireMetrics } from '../observe/metrics.js';
import type { MacGuard, MacVerdict } from './mac-guard.js';
import { TokenBucket } from './token-bucket.js';

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
  /**
   * Requests read and not yet answered at which reads pause; they resume at 90% of it.
   * Absent or 0: no cap. A request counts from its frame until a response goes out on
   * this connection, or `settle()` says none will.
   */
  maxInFlight?: number;
  /** Each time the in-flight cap pauses reads (for a count). */
  onInFlightCap?: () => void;
  /**
   * Frames of one read handed on before the connection yields: the rest wait, reads
   * paused, and go on `framesPerTurn` a turn of the event loop. Absent or 0: no limit.
   */
  framesPerTurn?: number;
  /**
   * Duplicates (requests answered again from memory) a second, and at once, before reads
   * pause until the allowance refills: every copy is still answered, at this pace.
   * Absent: no limit.
   */
  duplicates?: { perSecond: number; burst: number };
  /** Each time the duplicate allowance pauses reads (for a count). */
  onDuplicateThrottle?: () => void;
}

let nextId = 1;

export class FramedConn {
  readonly id = nextId++;
  readonly dialect: Dialect;
  readonly remote: string;
  private readonly framing: Framing;
  private readonly reader: FrameReader;
  private closed = false;
  /** Backpressure: the peer does not read what we write. */
  private paused = false;
  private corked = false;
  private readonly uncork = (): void => {
    this.corked = false;
    this.socket.uncork();
  };
  /** Reads held by admission control (the switch is behind), apart from backpressure. */
  private held = false;
  /** At the in-flight cap: frames read meanwhile wait in `waiting`. */
  private full = false;
  /** Past framesPerTurn in this read: the rest wait for the next turn. */
  private yielding = false;
  /** The duplicate allowance is spent: reads wait for it to refill. */
  private throttled = false;
  private readonly duplicateAllowance: TokenBucket | null;
  /** Whether the socket is paused by us, for any of the five reasons. */
  private stopped = false;
  private inFlightNow = 0;
  private readonly maxInFlight: number;
  private readonly resumeAt: number;
  private readonly framesPerTurn: number;
  /** Frames of the read being handled, against framesPerTurn. */
  private framesThisRead = 0;
  /** Frames read and not yet handed on, in arrival order, from `waitingHead`; null when none. */
  private waiting: Buffer[] | null = null;
  private waitingHead = 0;
  private drainScheduled = false;
  /** performance.now() when reads last (re)started: accept, or the end of a pause of ours. */
  readFrom: number;
  /** Whole frames read so far (zero-length keep-alives are no frame). */
  framesRead = 0;
  /** performance.now() when the first byte of the frame under assembly arrived; 0 between frames. */
  frameStartedAt = 0;
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
    this.maxInFlight = opts.maxInFlight ?? 0;
    this.framesPerTurn = opts.framesPerTurn ?? 0;
    this.duplicateAllowance = opts.duplicates ? new TokenBucket(opts.duplicates.perSecond, opts.duplicates.burst, performance.now()) : null;
    this.resumeAt = this.maxInFlight - Math.max(1, Math.ceil(this.maxInFlight / 10));
    this.readFrom = performance.now();
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

  /** Reads are paused by us (backpressure, admission or the in-flight cap): the peer's bytes wait in its socket. */
  get readsStopped(): boolean {
    return this.stopped;
  }

  /** Requests read and not yet answered (or settled). */
  get inFlight(): number {
    return this.inFlightNow;
  }

  /** A request read here will get no answer (the engine chose to send none): it stops counting as in flight. */
  settle(): void {
    if (this.inFlightNow > 0) this.inFlightNow--;
    // Not from here: settle() runs inside the engine, and draining hands it requests.
    if (this.full && this.inFlightNow <= this.resumeAt) this.scheduleDrain();
  }

  /**
   * The request just handed on was a duplicate: it takes one from the allowance. With
   * none left, reads pause until a tenth of a second's worth is back.
   */
  chargeDuplicate(): void {
    const a = this.duplicateAllowance;
    if (a === null || this.closed || this.throttled) return;
    const now = performance.now();
    if (a.take(now)) return;
    this.throttled = true;
    this.opts.onDuplicateThrottle?.();
    this.syncReading();
    const perSecond = this.opts.duplicates?.perSecond ?? 1;
    setTimeout(this.unthrottle, Math.max(1, a.msUntil(Math.max(1, perSecond / 10), now))).unref();
  }

  private readonly unthrottle = (): void => {
    this.throttled = false;
    if (this.waiting !== null) this.scheduleDrain();
    else this.syncReading();
  };

  private scheduleDrain(): void {
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    setImmediate(this.drain);
  }

  /**
   * Encodes and writes; false when the message could not be handed to the socket (closed,
   * or the codec refused it). `onWritten` runs once the bytes are flushed to the kernel.
   */
  send(msg: IsoMessage, onWritten?: () => void): boolean {
    if (!this.isOpen) return false;
    // Answered, even if the codec refuses the answer below: the request is no longer waiting.
    if (isResponse(msg.mti)) this.settle();
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
      this.syncReading();
    }
    this.opts.counters?.inc('messages_out');
    this.opts.wire?.messageOut(msg.mti);
    return true;
  }

  /** `error`: why, when a framing or decode error made us close it (onClose gets it). */
  close(error?: Error): void {
    if (this.closed) return;
    if (error) this.closeError ??= error;
    this.closed = true;
    this.waiting = null;
    this.waitingHead = 0;
    // What this turn wrote is still corked: destroy() would drop it unsent.
    if (this.corked) this.uncork();
    this.socket.destroy();
  }

  private resume(): void {
    if (this.paused) {
      this.paused = false;
      this.syncReading();
    }
  }

  /** Stops (or restarts) reading this peer's requests while the switch catches up; nothing read is dropped. */
  hold(on: boolean): void {
    if (on === this.held || this.closed) return;
    this.held = on;
    this.syncReading();
  }

  /** Pauses the socket while any reason holds, resumes it once none does. */
  private syncReading(): void {
    const stop = this.paused || this.held || this.full || this.yielding || this.throttled;
    if (stop === this.stopped || this.closed) return;
    this.stopped = stop;
    if (stop) {
      this.socket.pause();
    } else {
      // A pause of ours is no slowness of the peer's: its deadlines start again.
      this.readFrom = performance.now();
      this.socket.resume();
    }
  }

  private dataIn(chunk: Buffer): void {
    if (this.closed) return;
    this.framesThisRead = 0;
    const frames = this.framesRead;
    const wasPartial = this.frameStartedAt !== 0;
    try {
      this.reader.push(chunk);
      // A frame has started when its first byte (of the length prefix) is here and not its
      // last: the partial frame left now is the one of before only if no frame ended since.
      if (this.reader.pending === 0) this.frameStartedAt = 0;
      else if (!wasPartial || frames !== this.framesRead) this.frameStartedAt = performance.now();
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
    this.framesRead++;
    if (this.waiting === null && !this.full && !this.throttled) {
      if (this.framesPerTurn === 0 || ++this.framesThisRead <= this.framesPerTurn) {
        this.handle(body);
        return;
      }
      this.yielding = true;
      this.syncReading();
      this.scheduleDrain();
    }
    (this.waiting ??= []).push(body);
  }

  /**
   * Frames that waited (for the in-flight count to fall, or for their turn), in order:
   * until the cap is met again, and at most framesPerTurn a turn; reads resume once none
   * is left.
   */
  private readonly drain = (): void => {
    this.drainScheduled = false;
    if (this.closed || this.throttled || (this.full && this.inFlightNow > this.resumeAt)) return;
    this.full = false;
    const q = this.waiting;
    let budget = this.framesPerTurn === 0 ? Infinity : this.framesPerTurn;
    while (q !== null && this.waitingHead < q.length && !this.full && !this.throttled && budget-- > 0) {
      this.handle(q[this.waitingHead++]);
      if (this.closed) return;
    }
    if (q !== null && this.waitingHead >= q.length) {
      this.waiting = null;
      this.waitingHead = 0;
    }
    // Still frames to go: the next turn takes them (the in-flight cap or the allowance, if
    // met, reschedules).
    this.yielding = this.waiting !== null;
    if (this.yielding && !this.full && !this.throttled) this.scheduleDrain();
    this.syncReading();
  };

  private handle(body: Buffer): void {
    this.opts.counters?.inc('messages_in');
    const { msg, error } = decodePartial(this.dialect, body);
    this.opts.wire?.messageIn(msg.mti);
    // Whatever is not a response waits for one: a request, an advice, a malformed frame (a
    // reject, or the close). Counted before it is handed on, which may answer it at once.
    if ((error !== null || !isResponse(msg.mti)) && ++this.inFlightNow >= this.maxInFlight && this.maxInFlight > 0 && !this.full) {
      this.full = true;
      this.opts.onInFlightCap?.();
      this.syncReading();
    }
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
      this.close(error);
      return;
    }
    const reject = responseTo(this.dialect, msg, code);
    if (!this.send(reject)) this.close();
  }
}
