/**
 * A security module that is a Thales payShield (9000/10K host commands, variant LMK, key
 * scheme 'U') over TCP: PIN translation (CA from a terminal PIN key, CC from a zone PIN
 * key), MACs (M6/M8), keys generated (A0), moved under a ZMK or TMK (A8, A6), check values
 * (BU) and a health check (NC).
 *
 * The adapter never holds a key value. A key is the HSM's cryptogram of it under the LMK
 * ('U' + 32 hex), an opaque token kept here by id with its type; the switch persists the
 * token (a key store entry holds it instead of a value) and gives it back at start.
 *
 * The interface is SecurityModule's made async, since every operation is a round trip.
 * Errors are the software module's SecurityError kinds when the HSM judged the request
 * (a PIN block that does not translate, a key that fails parity under the LMK), HsmError
 * when it could not (timeout, connection, a command disabled); both name keys by id and
 * check value and commands by code, never a key, PIN block or message.
 */
import type { MacAlgorithm } from './mac.js';
import { HsmError, KEY_TYPE_CODE, MAX_FRAME, PayShieldLink, FieldError, type Answer, type PayShieldLinkOptions } from './payshield-wire.js';
import { SecurityError, type KeyInfo, type KeyType } from './security-module.js';

export { HsmError, type HsmErrorKind } from './payshield-wire.js';

export interface AsyncSecurityModule {
  /** ISO 9564 format 0 in and out; SecurityError 'bad_pin_block' when it does not decrypt to one for this PAN. */
  translatePin(block: Buffer, pan: string, from: string, to: string): Promise<Buffer>;
  mac(algorithm: MacAlgorithm, key: string, data: Buffer): Promise<Buffer>;
  verifyMac(algorithm: MacAlgorithm, key: string, data: Buffer, mac: Buffer): Promise<boolean>;
  generateKey(id: string, type: KeyType): Promise<KeyInfo>;
  /** The key under `kek` (X9.17 ECB, as terminals and networks expect it), with its check value. */
  exportKey(id: string, kek: string): Promise<{ cryptogram: Buffer; kcv: string }>;
  /** 6 hex characters. */
  checkValue(id: string): Promise<string>;
  /** The LMK's check value and the firmware: a health check that touches no key of ours. */
  diagnostics(): Promise<{ lmkCheck: string; firmware: string }>;
}

/** A key as the HSM gives it out: its type and its cryptogram under the LMK. */
export interface HsmKey {
  type: KeyType;
  /** 'U' + 32 hex. */
  underLmk: string;
  /** Known after generation or import; named in errors when known. */
  kcv?: string;
}

export type PayShieldOptions = PayShieldLinkOptions;

const UNDER_LMK = /^U[0-9A-F]{32}$/;
const PIN_KEYS: readonly KeyType[] = ['PIK', 'TPK', 'ZPK'];
const MAC_KEYS: readonly KeyType[] = ['MAK', 'TAK', 'ZAK'];
const KEKS: readonly KeyType[] = ['ZMK', 'TMK'];
/** ISO 9564 format 0 is payShield's format code 01. */
const FORMAT_0 = '01';
/** Hex-encoded message, so the frame stays ASCII; its length field (4H) counts characters. */
const MAC_HEX_INPUT = '1';
/** Data bytes one M6/M8 can carry in hex within a frame, with room for the rest of the command. */
export const MAX_MAC_DATA = Math.floor((MAX_FRAME - 128) / 2);

/** Error codes that say the HSM, not the request, is at fault: the operator's to fix. */
const REFUSALS: Readonly<Record<string, string>> = {
  '12': 'no keys loaded in user storage',
  '13': 'LMK error (report to the security officer)',
  '17': 'the HSM is not in the authorised state',
  '68': 'command disabled in the HSM\'s security settings',
};

/** The two MACs payShield makes with algorithm 3 (ISO 9797-1 retail), by padding method. */
const MAC_PADDING: Partial<Record<MacAlgorithm, string>> = { 'x9.19': '1', 'iso9797-1-alg3-pad2': '2' };

/** `bytes` bytes from hex; a malformed answer otherwise. */
function hexOf(field: string, bytes: number, what: string): Buffer {
  if (field.length !== bytes * 2 || !/^[0-9A-Fa-f]*$/.test(field)) throw new FieldError(`${what}: not ${bytes * 2} hex characters`);
  return Buffer.from(field, 'hex');
}

function lmkKeyOf(a: Answer): string {
  const field = a.fields.take(33, 'key under LMK').toUpperCase();
  if (!UNDER_LMK.test(field)) throw new FieldError("key under LMK: not 'U' and 32 hex characters");
  return field;
}

/** A key under a ZMK or TMK in scheme X (X9.17: ECB under the double-length key). */
function kekKeyOf(a: Answer): Buffer {
  const field = a.fields.take(33, 'key under ZMK');
  if (field[0] !== 'X') throw new FieldError("key under ZMK: not scheme 'X'");
  return hexOf(field.slice(1), 16, 'key under ZMK');
}

function kcvOf(a: Answer): string {
  return hexOf(a.fields.take(6, 'check value'), 3, 'check value').toString('hex').toUpperCase();
}

export class PayShieldModule implements AsyncSecurityModule {
  private readonly link: PayShieldLink;
  private readonly keys = new Map<string, HsmKey>();

  constructor(opts: PayShieldOptions, keys: Iterable<[string, HsmKey]> | Record<string, HsmKey> = {}) {
    this.link = new PayShieldLink(opts);
    const entries = Symbol.iterator in keys ? [...(keys as Iterable<[string, HsmKey]>)] : Object.entries(keys);
    for (const [id, k] of entries) this.setKey(id, k);
  }

  /** Requests in flight, connections dialled so far, and answers that matched no request (late ones). */
  get stats(): { inFlight: number; dials: number; strays: number } {
    return { inFlight: this.link.inFlight, dials: this.link.dials, strays: this.link.strays };
  }

  setKey(id: string, key: HsmKey): void {
    const underLmk = key.underLmk.toUpperCase();
    if (!UNDER_LMK.test(underLmk)) throw new SecurityError(`key ${id}: a key under the LMK is 'U' and 32 hex characters (a double-length variant-LMK cryptogram)`, 'bad_input');
    this.keys.set(id, { type: key.type, underLmk, ...(key.kcv !== undefined ? { kcv: key.kcv.toUpperCase() } : {}) });
  }

  /** What to persist for a key: the cryptogram under the LMK, its type and check value. */
  entry(id: string): HsmKey {
    return { ...this.held(id) };
  }

  has(id: string): boolean {
    return this.keys.has(id);
  }

  forget(id: string): void {
    this.keys.delete(id);
  }

  close(): void {
    this.link.close();
  }

  async translatePin(block: Buffer, pan: string, from: string, to: string): Promise<Buffer> {
    if (block.length !== 8) throw new SecurityError(`a PIN block is 8 bytes, got ${block.length}`, 'bad_pin_block');
    if (!/^[0-9]{13,19}$/.test(pan)) throw new SecurityError('the PAN for a PIN block must be 13 to 19 digits', 'bad_input');
    const src = this.held(from, PIN_KEYS);
    const dst = this.held(to, ['ZPK']);
    // A terminal's key is a TPK to the HSM (CA); a zone's is a ZPK (CC). Same fields.
    const command = src.type === 'ZPK' ? 'CC' : 'CA';
    const fields = `${src.underLmk}${dst.underLmk}12${block.toString('hex').toUpperCase()}${FORMAT_0}${FORMAT_0}${pan.slice(-13, -1)}`;
    return this.call(command, fields, [from, to], (a) => {
      a.fields.take(2, 'PIN length');
      const out = hexOf(a.fields.take(16, 'destination PIN block'), 8, 'destination PIN block');
      if (a.fields.take(2, 'destination PIN block format') !== FORMAT_0) throw new FieldError('destination PIN block format: not 01');
      return out;
    });
  }

  async mac(algorithm: MacAlgorithm, key: string, data: Buffer): Promise<Buffer> {
    return this.call('M6', this.macFields(algorithm, key, data, '1'), [key], (a) => hexOf(a.fields.take(16, 'MAC'), 8, 'MAC'));
  }

  async verifyMac(algorithm: MacAlgorithm, key: string, data: Buffer, mac: Buffer): Promise<boolean> {
    // 8H (size 0) checks the 4 bytes an F64 of some networks keeps; 16H the whole 8.
    const size = mac.length === 4 ? '0' : mac.length === 8 ? '1' : null;
    const fields = this.macFields(algorithm, key, data, size ?? '1');
    if (size === null) return false;
    return this.call('M8', fields + mac.toString('hex').toUpperCase(), [key], (a) => a.error === '00', ['01']);
  }

  async generateKey(id: string, type: KeyType): Promise<KeyInfo> {
    const [underLmk, kcv] = await this.call('A0', `0${KEY_TYPE_CODE[type]}U`, [], (a) => [lmkKeyOf(a), kcvOf(a)]);
    return this.adopt(id, type, underLmk, kcv);
  }

  /** A fresh key kept under `id` and given out under `kek` in one command (A0 mode 1), as a key change sends it. */
  async generateExported(id: string, type: KeyType, kek: string): Promise<KeyInfo & { cryptogram: Buffer }> {
    const k = this.held(kek, KEKS);
    const flag = k.type === 'TMK' ? '1' : '0';
    const [underLmk, cryptogram, kcv] = await this.call('A0', `1${KEY_TYPE_CODE[type]}U;${flag}${k.underLmk}X`, [kek],
      (a) => [lmkKeyOf(a), kekKeyOf(a), kcvOf(a)] as const);
    return { ...this.adopt(id, type, underLmk, kcv), cryptogram };
  }

  async exportKey(id: string, kek: string): Promise<{ cryptogram: Buffer; kcv: string }> {
    const k = this.held(id);
    const under = this.held(kek, KEKS);
    return this.call('A8', `${KEY_TYPE_CODE[k.type]}${under.underLmk}${k.underLmk}X`, [kek, id], (a) => ({ cryptogram: kekKeyOf(a), kcv: kcvOf(a) }));
  }

  /** A key given under `kek` (A6); refused unless the HSM's check value of it is `kcv`, and then not kept. */
  async importKey(id: string, type: KeyType, cryptogram: Buffer, kek: string, kcv: string): Promise<KeyInfo> {
    if (cryptogram.length !== 16) throw new SecurityError(`key ${id}: the HSM adapter imports double-length keys (16 bytes), got ${cryptogram.length}`, 'bad_input');
    const under = this.held(kek, KEKS);
    const [underLmk, got] = await this.call('A6', `${KEY_TYPE_CODE[type]}${under.underLmk}X${cryptogram.toString('hex').toUpperCase()}U`, [kek, id],
      (a) => [lmkKeyOf(a), kcvOf(a)]);
    if (kcv.length < 6 || got !== kcv.toUpperCase().slice(0, 6)) {
      throw new SecurityError(`key ${id}: its check value is ${got}, not ${kcv}: refused (wrong key, or wrong key-encrypting key ${this.named(kek)})`, 'bad_kcv');
    }
    return this.adopt(id, type, underLmk, got);
  }

  async checkValue(id: string): Promise<string> {
    const k = this.held(id);
    // BU's key type code is the 3H code without its leading 0; length flag 1: double length.
    return this.call('BU', `${KEY_TYPE_CODE[k.type].slice(1)}1${k.underLmk}`, [id], (a) => hexOf(a.fields.take(16, 'check value'), 8, 'check value').toString('hex', 0, 3).toUpperCase());
  }

  async diagnostics(): Promise<{ lmkCheck: string; firmware: string }> {
    return this.call('NC', '', [], (a) => ({ lmkCheck: a.fields.take(16, 'LMK check value'), firmware: a.fields.take(9, 'firmware number').trim() }));
  }

  private macFields(algorithm: MacAlgorithm, key: string, data: Buffer, size: string): string {
    const padding = MAC_PADDING[algorithm];
    if (padding === undefined) throw new SecurityError(`the HSM adapter does not do ${algorithm} MACs (only x9.19 and iso9797-1-alg3-pad2)`, 'bad_input');
    if (data.length > MAX_MAC_DATA) throw new SecurityError(`the HSM adapter MACs at most ${MAX_MAC_DATA} bytes in one command, got ${data.length}`, 'bad_input');
    const k = this.held(key, MAC_KEYS);
    const hex = data.toString('hex').toUpperCase();
    // Mode 0 (the only block), hex input, the size asked, algorithm 3 (ISO 9797-1 retail).
    return `0${MAC_HEX_INPUT}${size}3${padding}${k.type === 'ZAK' ? '008' : '003'}${k.underLmk}${hex.length.toString(16).toUpperCase().padStart(4, '0')}${hex}`;
  }

  private adopt(id: string, type: KeyType, underLmk: string, kcv: string): KeyInfo {
    this.setKey(id, { type, underLmk, kcv });
    return { id, type, kcv: kcv.toUpperCase(), length: 16 };
  }

  private named(id: string): string {
    const kcv = this.keys.get(id)?.kcv;
    return kcv === undefined ? id : `${id} (KCV ${kcv})`;
  }

  private held(id: string, types?: readonly KeyType[]): HsmKey {
    const k = this.keys.get(id);
    if (k === undefined) throw new SecurityError(`no key ${JSON.stringify(id)}`, 'no_key');
    if (types !== undefined && !types.includes(k.type)) throw new SecurityError(`key ${this.named(id)} is a ${k.type}, not one of ${types.join(', ')}`, 'wrong_type');
    return k;
  }

  /**
   * One command, its answer read by `parse` when the HSM said '00' (or one of `accept`);
   * else throws what its error code means. `keys` are the ids of the command's keys in
   * order, so a parity error (10 for the first, 11 for the second) names the key at fault.
   */
  private async call<T>(command: string, fields: string, keys: readonly string[], parse: (a: Answer) => T, accept: readonly string[] = []): Promise<T> {
    const a = await this.link.call(command, Buffer.from(fields, 'latin1'));
    if (a.error !== '00' && !accept.includes(a.error)) throw this.failure(command, a.error, keys);
    try {
      return parse(a);
    } catch (e) {
      if (e instanceof FieldError) throw new HsmError(`payShield ${command}: a malformed answer (${e.message})`, command, 'protocol');
      throw e;
    }
  }

  private failure(command: string, code: string, keys: readonly string[]): Error {
    const at = `payShield ${command}: error ${code}`;
    switch (code) {
      case '10':
      case '11': {
        const id = keys[code === '10' ? 0 : 1];
        const which = id === undefined ? 'a key' : `key ${this.named(id)}`;
        return new SecurityError(`${at}: ${which} fails parity under the HSM's LMK (a cryptogram from another LMK, or corrupted)`, 'bad_kcv');
      }
      case '20':
      case '24':
        return new SecurityError(`${at}: the PIN block does not decrypt under ${keys[0] === undefined ? 'its key' : this.named(keys[0])} to a format-0 block for this card`, 'bad_pin_block');
      case '04':
      case '15':
      case '23':
      case '26':
      case '27':
        return new SecurityError(`${at}: the HSM refused the command's fields as invalid`, 'bad_input');
      default:
        return new HsmError(`${at}: ${REFUSALS[code] ?? 'the HSM could not do it'}`, command, 'refused', code);
    }
  }
}
