/**
 * The payShield host-command wire, both ends of it: a 2-byte big-endian length, a header
 * of fixed length (echoed in the answer), the 2-character command code, then fields. The
 * answer's code is the command's with its second character advanced (CA → CB) and its
 * first field is a 2-digit error code.
 *
 * PayShieldLink is the client side: one persistent connection on which requests are
 * pipelined and answers matched by header, because an HSM answers commands in the order
 * it finishes them, not the order they were sent. The header is the request counter.
 */
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import type { KeyType } from './security-module.js';

/** The 2-byte length prefix caps a frame. */
export const MAX_FRAME = 0xffff;

/** Key type codes (3H) of the payShield variant LMK scheme, by our key types. */
export const KEY_TYPE_CODE: Readonly<Record<KeyType, string>> = {
  ZMK: '000', ZPK: '001', TPK: '002', PIK: '002', TMK: '002', TAK: '003', MAK: '003', ZAK: '008',
};

/** The answer's code to a command: CA → CB, M6 → M7, NC → ND. */
export function replyCode(command: string): string {
  return command[0] + String.fromCharCode(command.charCodeAt(1) + 1);
}

export function encodeFrame(header: string, body: Buffer): Buffer {
  const len = header.length + body.length;
  if (len > MAX_FRAME) throw new RangeError(`a payShield frame holds at most ${MAX_FRAME} bytes, this one ${len}`);
  const out = Buffer.alloc(2 + len);
  out.writeUInt16BE(len, 0);
  out.write(header, 2, 'latin1');
  body.copy(out, 2 + header.length);
  return out;
}

/** Cuts a byte stream into frame bodies (header onwards); keeps a partial frame for the next chunk. */
export class FrameSplitter {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Buffer[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: Buffer[] = [];
    while (this.buf.length >= 2) {
      const len = this.buf.readUInt16BE(0);
      if (this.buf.length < 2 + len) break;
      out.push(this.buf.subarray(2, 2 + len));
      this.buf = this.buf.subarray(2 + len);
    }
    return out;
  }
}

export class FieldError extends Error {
  override readonly name = 'FieldError';
}

/** Reads fixed-length fields off a frame in order; ASCII fields as latin1 so binary never throws. */
export class FieldReader {
  private at = 0;
  constructor(private readonly buf: Buffer) {}

  get remaining(): number {
    return this.buf.length - this.at;
  }

  peek(): string {
    return this.remaining > 0 ? String.fromCharCode(this.buf[this.at]) : '';
  }

  bytes(n: number, what: string): Buffer {
    if (n < 0 || this.remaining < n) throw new FieldError(`${what}: wanted ${n} bytes, ${this.remaining} left`);
    const out = this.buf.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }

  take(n: number, what: string): string {
    return this.bytes(n, what).toString('latin1');
  }

  rest(): Buffer {
    return this.bytes(this.remaining, 'rest');
  }
}

/** Why a payShield exchange failed other than by the HSM's verdict on the request itself. */
export type HsmErrorKind = 'timeout' | 'link' | 'refused' | 'protocol';

/** Names the command and the HSM's error code; never a key, PIN block or message. */
export class HsmError extends Error {
  override readonly name = 'HsmError';
  constructor(message: string, readonly command: string, readonly kind: HsmErrorKind, readonly code: string | null = null) {
    super(message);
  }
}

export interface PayShieldLinkOptions {
  host: string;
  port: number;
  /** Characters of header before the command code; default 4. Requests in flight are capped at 10^headerLength. */
  headerLength?: number;
  /** A request's whole budget, dialling included; default 5000. */
  timeoutMs?: number;
  /** Absent: plain TCP. */
  tls?: ConnectionOptions;
}

export interface Answer {
  command: string;
  /** The 2-digit error code. */
  error: string;
  /** What follows the error code. */
  fields: FieldReader;
}

interface Pending {
  command: string;
  resolve: (a: Answer) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
  /** The socket the request went out on; null while it waits for one. */
  sentOn: Socket | null;
}

export class PayShieldLink {
  readonly headerLength: number;
  readonly timeoutMs: number;
  /** Connections dialled so far (a test's view of reconnects). */
  dials = 0;
  /** Answers whose request had already timed out, or that named no request. */
  strays = 0;
  private socket: Socket | null = null;
  private connecting: Promise<Socket> | null = null;
  private readonly pending = new Map<string, Pending>();
  private counter = 0;
  private closed = false;
  private readonly modulus: number;

  constructor(private readonly opts: PayShieldLinkOptions) {
    this.headerLength = opts.headerLength ?? 4;
    if (!Number.isInteger(this.headerLength) || this.headerLength < 1 || this.headerLength > 16) {
      throw new RangeError(`headerLength must be 1 to 16 characters (answers are matched by it), got ${String(opts.headerLength)}`);
    }
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.modulus = 10 ** Math.min(this.headerLength, 6);
  }

  get inFlight(): number {
    return this.pending.size;
  }

  /** Sends one command (code + fields) and resolves with its answer, whatever its error code. */
  call(command: string, fields: Buffer): Promise<Answer> {
    return new Promise<Answer>((resolve, reject) => {
      if (this.closed) { reject(new HsmError(`payShield ${command}: the adapter is closed`, command, 'link')); return; }
      const header = this.nextHeader();
      if (header === null) { reject(new HsmError(`payShield ${command}: ${this.modulus} requests already in flight`, command, 'link')); return; }
      let frame: Buffer;
      try {
        frame = encodeFrame(header, Buffer.concat([Buffer.from(command, 'latin1'), fields]));
      } catch (e) {
        reject(new HsmError(`payShield ${command}: ${(e as Error).message}`, command, 'protocol'));
        return;
      }
      const timer = setTimeout(() => {
        this.settle(header)?.reject(new HsmError(`payShield ${command}: no answer within ${this.timeoutMs} ms from ${this.where()}`, command, 'timeout'));
      }, this.timeoutMs);
      const p: Pending = { command, resolve, reject, timer, sentOn: null };
      this.pending.set(header, p);
      this.connection().then((socket) => {
        if (this.pending.get(header) !== p) return;
        p.sentOn = socket;
        socket.write(frame, (e) => {
          if (e) this.settle(header)?.reject(new HsmError(`payShield ${command}: the request could not be sent to ${this.where()}: ${e.message}`, command, 'link'));
        });
      }, (e: Error) => {
        this.settle(header)?.reject(new HsmError(`payShield ${command}: cannot reach the HSM at ${this.where()}: ${e.message}`, command, 'link'));
      });
    });
  }

  /** Drops the connection and fails every request still waiting. */
  close(): void {
    this.closed = true;
    this.socket?.destroy();
    for (const header of [...this.pending.keys()]) {
      const p = this.settle(header);
      p?.reject(new HsmError(`payShield ${p.command}: the adapter closed before the answer`, p.command, 'link'));
    }
  }

  private where(): string {
    return `${this.opts.host}:${this.opts.port}`;
  }

  private nextHeader(): string | null {
    for (let i = 0; i < this.modulus; i++) {
      const h = String(this.counter).padStart(this.headerLength, '0');
      this.counter = (this.counter + 1) % this.modulus;
      if (!this.pending.has(h)) return h;
    }
    return null;
  }

  private settle(header: string): Pending | undefined {
    const p = this.pending.get(header);
    if (p === undefined) return undefined;
    this.pending.delete(header);
    clearTimeout(p.timer);
    return p;
  }

  /** The open socket, or one being dialled: lazily, so a dropped link is dialled again by the next request. */
  private connection(): Promise<Socket> {
    // A destroyed socket's 'close' may not have run yet: it is dead all the same.
    if (this.socket !== null && !this.socket.destroyed) return Promise.resolve(this.socket);
    this.connecting ??= this.dial().finally(() => { this.connecting = null; });
    return this.connecting;
  }

  private dial(): Promise<Socket> {
    this.dials++;
    return new Promise<Socket>((resolve, reject) => {
      const { host, port, tls } = this.opts;
      const socket = tls ? tlsConnect({ host, port, ...tls }) : connect({ host, port });
      const onError = (e: Error): void => { socket.destroy(); reject(e); };
      socket.once('error', onError);
      socket.once(tls ? 'secureConnect' : 'connect', () => {
        socket.off('error', onError);
        if (this.closed) { socket.destroy(); reject(new Error('the adapter closed')); return; }
        socket.setNoDelay(true);
        socket.setKeepAlive(true);
        this.attach(socket);
        resolve(socket);
      });
    });
  }

  private attach(socket: Socket): void {
    this.socket = socket;
    const splitter = new FrameSplitter();
    socket.on('data', (chunk: Buffer) => {
      for (const f of splitter.push(chunk)) this.answer(f);
    });
    // 'close' follows 'error'; the error's text is the reason given to each waiting request.
    let reason = 'the HSM closed the connection';
    socket.on('error', (e) => { reason = `connection error: ${e.message}`; });
    socket.on('close', () => {
      if (this.socket === socket) this.socket = null;
      for (const [header, p] of [...this.pending]) {
        if (p.sentOn !== socket) continue;
        this.settle(header);
        p.reject(new HsmError(`payShield ${p.command}: ${reason} before the answer (${this.where()})`, p.command, 'link'));
      }
    });
  }

  private answer(frame: Buffer): void {
    const r = new FieldReader(frame);
    let header: string;
    let code: string;
    let error: string;
    try {
      header = r.take(this.headerLength, 'header');
      code = r.take(2, 'response code');
      error = r.take(2, 'error code');
    } catch {
      this.strays++;
      return;
    }
    const p = this.settle(header);
    if (p === undefined) { this.strays++; return; }
    if (code !== replyCode(p.command)) {
      p.reject(new HsmError(`payShield ${p.command}: answered ${JSON.stringify(code)}, not ${replyCode(p.command)}`, p.command, 'protocol'));
      return;
    }
    p.resolve({ command: p.command, error, fields: r });
  }
}
