/**
 * A link's MAC rule in force: which messages carry a MAC, which bytes it covers, which key
 * signs and which keys verify. A FramedConn asks it after decoding a frame (the frame's own
 * bytes, so nothing is encoded again to check them) and around encoding one (the MAC
 * field is written into the encoded bytes, so nothing is encoded twice to sign them).
 *
 * The MAC field is F64, or F128 when the message has a secondary bitmap; the whole-message
 * block runs from the MTI (after any TPDU or header) to the byte before the MAC field, as
 * the UnionPay POS specification has it (MTI to F63) and as ISO networks do. A field list
 * instead covers the listed fields' values, in the listed order, as text (binary fields as
 * their bytes).
 *
 * Network management (x8xx) carries no MAC: a sign-on is how a terminal gets its key.
 */
import { decode, isNetworkManagement, isResponse, type Dialect, type IsoMessage } from '../../codec/index.js';
import type { MacConfig } from '../config/index.js';
import type { KeyOwner } from './key-store.js';
import type { KeyType, SecurityModule } from './security-module.js';

/** The key store as the guard sees it (edge/key-store.ts). */
export interface KeyDirectory {
  find(owner: KeyOwner, types: readonly KeyType[]): { id: string } | undefined;
  previous(owner: KeyOwner, types: readonly KeyType[]): { id: string; retired: string | null } | undefined;
}

export type MacVerdict = 'ok' | 'exempt' | 'missing' | 'bad' | 'no_key';

export class MacConfigError extends Error {
  override readonly name = 'MacConfigError';
}

const TERMINAL_MAC_KEYS: readonly KeyType[] = ['MAK', 'TAK'];
const UPSTREAM_MAC_KEYS: readonly KeyType[] = ['ZAK', 'MAK', 'TAK'];

export interface MacGuardOptions {
  /** 'terminal': keys by F41 (a listener); otherwise the upstream's name. */
  side: { terminal: true } | { upstream: string };
  /** How long a replaced key still verifies. */
  overlapMs: number;
  now?: () => number;
}

export class MacGuard {
  /** Bytes the MAC field takes on the wire: 8 binary, 16 as hex characters. */
  private readonly width: Record<64 | 128, number>;
  private readonly mtiStart: number;

  constructor(
    readonly dialect: Dialect,
    readonly cfg: MacConfig,
    private readonly hsm: SecurityModule,
    private readonly keys: KeyDirectory,
    private readonly opts: MacGuardOptions,
  ) {
    this.width = { 64: this.fieldWidth(64), 128: dialect.fields[128] ? this.fieldWidth(128) : 0 };
    this.mtiStart = (dialect.tpdu ? 5 : 0) + dialect.headerLength;
    if (cfg.fields) {
      for (const f of cfg.fields) if (!dialect.fields[f]) throw new MacConfigError(`mac.fields: dialect ${dialect.name} has no field ${f}`);
    }
  }

  private fieldWidth(n: 64 | 128): number {
    const f = this.dialect.fields[n];
    if (!f || f.spec.type !== 'b' || f.spec.length !== 'fixed' || f.max !== 8) {
      throw new MacConfigError(`dialect ${this.dialect.name}: F${n} must be a fixed 8-byte binary field to carry a MAC`);
    }
    if (f.spec.encoding === 'binary') return 8;
    if (f.spec.encoding === 'hex') return 16;
    throw new MacConfigError(`dialect ${this.dialect.name}: F${n} is encoded ${f.spec.encoding}; a MAC field is binary or hex`);
  }

  /** Whether this message is MAC'd at all. */
  applies(msg: IsoMessage): boolean {
    return !isNetworkManagement(msg.mti);
  }

  /** F128 when the message needs a secondary bitmap, else F64. */
  macField(msg: IsoMessage): 64 | 128 {
    const v = msg.values;
    for (let i = v.length - 1; i > 64; i--) if (v[i] !== undefined && i !== 128) return 128;
    return 64;
  }

  /** The key to sign with now, and a replaced one still inside its overlap. */
  private keyIds(msg: IsoMessage): { current: string | null; previous: string | null } {
    if (this.cfg.key !== null) return { current: this.cfg.key, previous: null };
    const side = this.opts.side;
    // F41 is fixed-width: a short terminal id arrives space-padded.
    const owner: KeyOwner = 'terminal' in side ? { terminal: (msg.get(41) ?? '').trimEnd() } : { upstream: side.upstream };
    const types = 'terminal' in side ? TERMINAL_MAC_KEYS : UPSTREAM_MAC_KEYS;
    if (owner.terminal === '') return { current: null, previous: null };
    const current = this.keys.find(owner, types)?.id ?? null;
    const prev = this.keys.previous(owner, types);
    const now = (this.opts.now ?? Date.now)();
    const inOverlap = prev !== undefined && prev.retired !== null && now - Date.parse(prev.retired) <= this.opts.overlapMs;
    return { current, previous: inOverlap ? prev.id : null };
  }

  /** The bytes a MAC covers in an encoded message (`body` from the TPDU on) whose MAC field takes its last bytes. */
  private block(body: Uint8Array, msg: IsoMessage, field: 64 | 128): Buffer {
    if (this.cfg.fields === null) {
      const end = body.length - this.width[field];
      return Buffer.from(body.buffer, body.byteOffset + this.mtiStart, Math.max(0, end - this.mtiStart));
    }
    const parts: Buffer[] = [];
    for (const f of this.cfg.fields) {
      const v = msg.values[f];
      if (v === undefined) continue;
      parts.push(typeof v === 'string' ? Buffer.from(v, 'latin1') : Buffer.from(v.buffer, v.byteOffset, v.length));
    }
    return Buffer.concat(parts);
  }

  /** Fields past the MAC field (1993's tertiary bitmap): the MAC would not end the message. */
  private macIsLast(msg: IsoMessage, field: 64 | 128): boolean {
    for (let i = field + 1; i < msg.values.length; i++) if (msg.values[i] !== undefined) return false;
    return true;
  }

  /** Checks a decoded message against the frame it came in. */
  verify(body: Uint8Array, msg: IsoMessage): MacVerdict {
    if (!this.applies(msg)) return 'exempt';
    const field = this.macField(msg);
    const mac = msg.getBytes(field);
    if (mac === undefined) return this.cfg.required ? 'missing' : 'exempt';
    if (!this.macIsLast(msg, field)) return 'bad';
    const { current, previous } = this.keyIds(msg);
    if (current === null && previous === null) return 'no_key';
    const data = this.block(body, msg, field);
    const given = Buffer.from(mac.buffer, mac.byteOffset, mac.length);
    for (const id of [current, previous]) {
      if (id === null) continue;
      try {
        if (this.hsm.verifyMac(this.cfg.algorithm, id, data, given)) return 'ok';
      } catch {
        // A key id the module does not hold verifies nothing; the other may.
      }
    }
    return 'bad';
  }

  /**
   * Before encoding: puts a placeholder in the MAC field when this message is signed, and
   * says whether it is. A response with no key to sign it (a terminal that never signed
   * on, answered A0) goes unsigned; a request with none cannot go at all.
   */
  prepare(msg: IsoMessage): boolean {
    if (!this.applies(msg)) return false;
    const field = this.macField(msg);
    const key = this.keyIds(msg).current;
    if (key === null) {
      if (isResponse(msg.mti)) {
        msg.delete(64);
        msg.delete(128);
        return false;
      }
      throw new MacConfigError(`no MAC key for ${this.describeOwner(msg)}`);
    }
    msg.delete(field === 64 ? 128 : 64);
    msg.set(field, new Uint8Array(8));
    return true;
  }

  /** After encoding a prepared message: its MAC written into its last bytes (and into the message). */
  sign(encoded: Buffer, msg: IsoMessage): void {
    const field = this.macField(msg);
    if (!this.macIsLast(msg, field)) throw new MacConfigError(`F${field} is not the last field of this message: the MAC cannot cover it`);
    const key = this.keyIds(msg).current;
    if (key === null) throw new MacConfigError(`no MAC key for ${this.describeOwner(msg)}`);
    // A field list covers the values as the receiver will decode them (padded, say), so
    // they are read back from the bytes: a decode, never a second encode.
    const covered = this.cfg.fields === null ? msg : decode(this.dialect, encoded);
    const mac = this.hsm.mac(this.cfg.algorithm, key, this.block(encoded, covered, field));
    const at = encoded.length - this.width[field];
    if (this.width[field] === 8) mac.copy(encoded, at);
    else encoded.write(mac.toString('hex').toUpperCase(), at, 'latin1');
    msg.set(field, new Uint8Array(mac));
  }

  private describeOwner(msg: IsoMessage): string {
    if (this.cfg.key !== null) return `key ${this.cfg.key}`;
    const side = this.opts.side;
    return 'terminal' in side ? `terminal ${msg.get(41) ?? '(no F41)'}` : `upstream ${side.upstream}`;
  }
}
