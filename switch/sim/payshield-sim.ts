/**
 * A payShield simulator: the host commands the switch's HSM adapter (../edge/payshield.ts)
 * sends, over the same wire (../edge/payshield-wire.ts), answered with node:crypto: CA and
 * CC (PIN translation, ISO format 0 only), M6/M8 (ISO 9797-1 algorithms 1 and 3, padding
 * 1 or 2, the only-block mode), A0 (generate, mode 0 or 1), A6/A8 (import and export under
 * a ZMK or TMK, scheme X), BU (check value) and NC (diagnostics). Any other command is
 * answered with its reply code and error 68 (command disabled).
 *
 * Not a real LMK: keys are encrypted under a plain double-length 3DES key and travel as
 * 'U' + 32 hex. A real variant LMK encrypts each key type under its own LMK pair variant,
 * so the HSM itself refuses a PIN key given as a MAC key; this one cannot tell, and the
 * adapter's own type check is all there is. Nothing here protects a key: it is for tests.
 *
 * Requests on a connection are answered when done, each after its own latency, so answers
 * overtake each other as a real HSM's do and the adapter must match them by header.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { blocksPadded, computeMac, keyCheckValue } from '../edge/mac.js';
import type { HsmKey } from '../edge/payshield.js';
import { encodeFrame, FieldReader, FrameSplitter, FieldError, replyCode } from '../edge/payshield-wire.js';
import { withOddParity, type KeyType } from '../edge/security-module.js';

export interface PayShieldSimOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Default 4; must match the adapter's. */
  headerLength?: number;
  /** 16 bytes; default random, so keys under one simulator's LMK fail parity under another's. */
  lmk?: Buffer;
  /** Answer delay of each request: fixed, or uniform in [min, max]. Default 0. */
  latencyMs?: number | { min: number; max: number };
}

export interface PayShieldSim {
  readonly port: number;
  /** Every command code read, in order. */
  readonly commands: string[];
  /** What importClear made, in the adapter's key table form. */
  readonly keyTable: Map<string, HsmKey>;
  /** Commands read and never answered: a test's lever for timeouts. */
  readonly mute: Set<string>;
  /** Connections accepted so far. */
  readonly connections: number;
  /** The answer delay from now on (starts as the option's). */
  latencyMs: number | { min: number; max: number };
  /** A clear key under this simulator's LMK ('U' + 32 hex), recorded in keyTable (tests only). */
  importClear(id: string, type: KeyType, value: Buffer): string;
  /** The clear value of a key under the LMK: what no real HSM gives out, for tests to check against. */
  revealForTest(underLmk: string): Buffer;
  /** Closes every client connection (the listener stays). */
  dropConnections(): void;
  close(): Promise<void>;
}

/** An answer with an error code and nothing after it. */
class Refusal extends Error {
  constructor(readonly code: string) {
    super(`error ${code}`);
  }
}

function ecb(key: Buffer, data: Buffer, decrypt = false): Buffer {
  const c = decrypt ? createDecipheriv('des-ede', key, null) : createCipheriv('des-ede', key, null);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(data), c.final()]);
}

function hexField(s: string, bytes: number): Buffer {
  if (s.length !== bytes * 2 || !/^[0-9A-Fa-f]*$/.test(s)) throw new Refusal('15');
  return Buffer.from(s, 'hex');
}

function oneOf(s: string, allowed: readonly string[], code = '15'): string {
  if (!allowed.includes(s)) throw new Refusal(code);
  return s;
}

function macOf(algorithm: string, padding: string, key: Buffer, data: Buffer): Buffer {
  if (algorithm === '3') return computeMac(padding === '1' ? 'x9.19' : 'iso9797-1-alg3-pad2', key, data);
  // Algorithm 1 with a double-length key: triple-DES CBC, the last block.
  const c = createCipheriv('des-ede-cbc', key, Buffer.alloc(8));
  c.setAutoPadding(false);
  const out = Buffer.concat([c.update(blocksPadded(data, padding === '2' ? 2 : 1)), c.final()]);
  return out.subarray(out.length - 8);
}

/** The PIN's length if `field` (the clear block XOR the PAN field) is format 0, else null. */
function format0PinLength(field: Buffer): number | null {
  const h = field.toString('hex').toUpperCase();
  const n = parseInt(h[1], 16);
  if (h[0] !== '0' || n < 4 || n > 12) return null;
  if (!/^[0-9]+$/.test(h.slice(2, 2 + n)) || !/^F*$/.test(h.slice(2 + n))) return null;
  return n;
}

export async function startPayShieldSim(opts: PayShieldSimOptions = {}): Promise<PayShieldSim> {
  const sim = new Sim(opts);
  await sim.start();
  return sim;
}

class Sim implements PayShieldSim {
  readonly commands: string[] = [];
  readonly keyTable = new Map<string, HsmKey>();
  readonly mute = new Set<string>();
  connections = 0;
  latencyMs: number | { min: number; max: number };
  private readonly lmk: Buffer;
  private readonly headerLength: number;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private boundPort = 0;
  private readonly handlers: Record<string, (r: FieldReader) => string> = {
    CA: (r) => this.translatePin(r),
    CC: (r) => this.translatePin(r),
    M6: (r) => this.mac(r, false),
    M8: (r) => this.mac(r, true),
    A0: (r) => this.generateKey(r),
    A6: (r) => this.importKey(r),
    A8: (r) => this.exportKey(r),
    BU: (r) => this.checkValue(r),
    NC: () => `${keyCheckValue(this.lmk, { bytes: 8 })}revsw-sim`,
  };

  constructor(private readonly opts: PayShieldSimOptions) {
    this.lmk = opts.lmk ?? withOddParity(randomBytes(16));
    if (this.lmk.length !== 16) throw new RangeError(`the simulator's LMK is a double-length key (16 bytes), got ${this.lmk.length}`);
    this.headerLength = opts.headerLength ?? 4;
    this.latencyMs = opts.latencyMs ?? 0;
    this.server = createServer((s) => this.accept(s));
  }

  get port(): number {
    return this.boundPort;
  }

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host: this.opts.host ?? '127.0.0.1', port: this.opts.port ?? 0 }, () => {
        this.server.off('error', reject);
        const a = this.server.address();
        this.boundPort = typeof a === 'object' && a !== null ? a.port : 0;
        resolve();
      });
    });
  }

  importClear(id: string, type: KeyType, value: Buffer): string {
    if (value.length !== 16) throw new RangeError(`key ${id}: the simulator holds double-length keys (16 bytes), got ${value.length}`);
    const underLmk = this.underLmk(value);
    this.keyTable.set(id, { type, underLmk, kcv: keyCheckValue(value) });
    return underLmk;
  }

  revealForTest(underLmk: string): Buffer {
    if (!/^U[0-9A-Fa-f]{32}$/.test(underLmk)) throw new RangeError('not a key under the LMK');
    return ecb(this.lmk, Buffer.from(underLmk.slice(1), 'hex'), true);
  }

  dropConnections(): void {
    for (const s of this.sockets) s.destroy();
  }

  close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.dropConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: Socket): void {
    this.connections++;
    this.sockets.add(socket);
    const splitter = new FrameSplitter();
    socket.on('data', (chunk: Buffer) => {
      for (const f of splitter.push(chunk)) this.request(socket, f);
    });
    socket.on('error', () => {});
    socket.on('close', () => this.sockets.delete(socket));
  }

  private request(socket: Socket, frame: Buffer): void {
    if (frame.length < this.headerLength + 2) return;
    const r = new FieldReader(frame);
    const header = r.take(this.headerLength, 'header');
    const command = r.take(2, 'command');
    this.commands.push(command);
    if (this.mute.has(command)) return;
    const answer = Buffer.from(`${replyCode(command)}${this.outcome(command, r)}`, 'latin1');
    const delay = this.latency();
    const send = (): void => { if (!socket.destroyed) socket.write(encodeFrame(header, answer)); };
    if (delay <= 0) { send(); return; }
    const t = setTimeout(() => { this.timers.delete(t); send(); }, delay);
    this.timers.add(t);
  }

  /** The error code and the fields after it. */
  private outcome(command: string, r: FieldReader): string {
    const handler = this.handlers[command];
    if (handler === undefined) return '68';
    try {
      return `00${handler(r)}`;
    } catch (e) {
      if (e instanceof Refusal) return e.code;
      if (e instanceof FieldError) return '15';
      throw e;
    }
  }

  private latency(): number {
    const l = this.latencyMs;
    return typeof l === 'number' ? l : l.min + Math.random() * (l.max - l.min);
  }

  private underLmk(value: Buffer): string {
    return `U${ecb(this.lmk, value).toString('hex').toUpperCase()}`;
  }

  /** A key under the LMK off the request; `parityCode` (10, 11) when it does not decrypt to an odd-parity key. */
  private key(r: FieldReader, parityCode: string): Buffer {
    oneOf(r.take(1, 'key scheme'), ['U']);
    const value = ecb(this.lmk, hexField(r.take(32, 'key'), 16), true);
    if (!withOddParity(value).equals(value)) throw new Refusal(parityCode);
    return value;
  }

  private translatePin(r: FieldReader): string {
    const src = this.key(r, '10');
    const dst = this.key(r, '11');
    const max = Number(oneOf(r.take(2, 'maximum PIN length'), ['04', '05', '06', '07', '08', '09', '10', '11', '12']));
    const block = hexField(r.take(16, 'PIN block'), 8);
    oneOf(r.take(2, 'source format'), ['01'], '23');
    oneOf(r.take(2, 'destination format'), ['01'], '23');
    const account = r.take(12, 'account number');
    if (!/^[0-9]{12}$/.test(account)) throw new Refusal('15');
    const clear = ecb(src, block, true);
    const pan = Buffer.from(`0000${account}`, 'hex');
    const n = format0PinLength(Buffer.from(clear.map((b, i) => b ^ pan[i])));
    if (n === null) throw new Refusal('20');
    if (n > max) throw new Refusal('24');
    return `${String(n).padStart(2, '0')}${ecb(dst, clear).toString('hex').toUpperCase()}01`;
  }

  private mac(r: FieldReader, verify: boolean): string {
    oneOf(r.take(1, 'mode flag'), ['0']);
    const input = oneOf(r.take(1, 'input format'), ['0', '1', '2']);
    const size = oneOf(r.take(1, 'MAC size'), ['0', '1']);
    const algorithm = oneOf(r.take(1, 'MAC algorithm'), ['1', '3']);
    const padding = oneOf(r.take(1, 'padding method'), ['1', '2']);
    oneOf(r.take(3, 'key type'), ['003', '008'], '04');
    const key = this.key(r, '10');
    const lenField = r.take(4, 'message length');
    if (!/^[0-9A-Fa-f]{4}$/.test(lenField)) throw new Refusal('15');
    const len = parseInt(lenField, 16);
    if (input === '1' && len % 2 !== 0) throw new Refusal('15');
    const data = input === '1' ? hexField(r.take(len, 'message'), len / 2) : r.bytes(len, 'message');
    const mac = macOf(algorithm, padding, key, data).subarray(0, size === '0' ? 4 : 8).toString('hex').toUpperCase();
    if (!verify) return mac;
    if (r.take(mac.length, 'MAC').toUpperCase() !== mac) throw new Refusal('01');
    return '';
  }

  private checkValue(r: FieldReader): string {
    r.take(2, 'key type code');
    // Length flag 1: double length, the only length a 'U' key has.
    oneOf(r.take(1, 'key length flag'), ['1']);
    return keyCheckValue(this.key(r, '10'), { bytes: 8 });
  }

  private generateKey(r: FieldReader): string {
    const mode = oneOf(r.take(1, 'mode'), ['0', '1']);
    r.take(3, 'key type');
    oneOf(r.take(1, 'key scheme (LMK)'), ['U'], '26');
    const value = withOddParity(randomBytes(16));
    if (mode === '0') return `${this.underLmk(value)}${keyCheckValue(value)}`;
    if (r.peek() === ';') r.take(2, 'ZMK/TMK flag');
    const kek = this.key(r, '10');
    oneOf(r.take(1, 'key scheme (ZMK)'), ['X'], '26');
    return `${this.underLmk(value)}X${ecb(kek, value).toString('hex').toUpperCase()}${keyCheckValue(value)}`;
  }

  private exportKey(r: FieldReader): string {
    r.take(3, 'key type');
    const kek = this.key(r, '10');
    const value = this.key(r, '11');
    oneOf(r.take(1, 'key scheme (ZMK)'), ['X'], '26');
    return `X${ecb(kek, value).toString('hex').toUpperCase()}${keyCheckValue(value)}`;
  }

  private importKey(r: FieldReader): string {
    r.take(3, 'key type');
    const kek = this.key(r, '10');
    oneOf(r.take(1, 'key scheme (ZMK)'), ['X'], '26');
    const value = ecb(kek, hexField(r.take(32, 'key under ZMK'), 16), true);
    if (!withOddParity(value).equals(value)) throw new Refusal('11');
    oneOf(r.take(1, 'key scheme (LMK)'), ['U'], '26');
    return `${this.underLmk(value)}${keyCheckValue(value)}`;
  }
}
