/**
 * The security module: what a switch asks an HSM for (translate a PIN block, make and
 * check MACs, generate keys and move them under a key-encrypting key) behind one
 * interface, so a Thales-style adapter can replace the software one without the switch
 * noticing.
 *
 * SoftwareSecurityModule keeps its keys in this process's memory, in the clear. It is for
 * development and tests, never for production card data: it protects nothing an HSM
 * protects (no tamper response, no key separation in hardware, keys in a core dump).
 *
 * Keys are named by id; values never leave the module except encrypted under another key.
 * Errors name the key by id and check value, and a PIN block by nothing but its fault.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { computeMac, keyCheckValue, verifyMac, type MacAlgorithm } from './mac.js';

/** TMK: terminal master key; PIK/TPK: PIN keys at the terminal; MAK/TAK: MAC keys at the terminal; ZPK/ZAK: a network zone's PIN and MAC keys. */
export type KeyType = 'TMK' | 'PIK' | 'TPK' | 'MAK' | 'TAK' | 'ZPK' | 'ZAK' | 'ZMK';

export interface KeyInfo {
  id: string;
  type: KeyType;
  /** Key check value: 6 hex characters. */
  kcv: string;
  /** Bytes: 8 (single DES), 16 (double), 24 (triple). */
  length: number;
}

export class SecurityError extends Error {
  override readonly name = 'SecurityError';
  constructor(message: string, readonly kind: 'no_key' | 'wrong_type' | 'bad_kcv' | 'bad_pin_block' | 'bad_input') {
    super(message);
  }
}

export interface SecurityModule {
  /**
   * A PIN block (ISO 9564 format 0, bound to the PAN) from one key to another: decrypted
   * under `from`, checked to be a valid format-0 block for this PAN, encrypted under `to`.
   * SecurityError 'bad_pin_block' when it does not decrypt to one (decline 55/A7).
   */
  translatePin(block: Buffer, pan: string, from: string, to: string): Buffer;
  mac(algorithm: MacAlgorithm, key: string, data: Buffer): Buffer;
  verifyMac(algorithm: MacAlgorithm, key: string, data: Buffer, mac: Buffer): boolean;
  /** A fresh key (odd parity, double length unless asked; 8 bytes: single DES, as a UnionPay MAK), kept under `id`. */
  generateKey(id: string, type: KeyType, length?: 8 | 16 | 24): KeyInfo;
  /** The first `bytes` of the key's encryption of a zero block (a UnionPay sign-on carries 4). */
  checkValue(id: string, bytes: number): Buffer;
  /** Drops a key (a working key replaced and past its overlap). */
  forget(id: string): void;
  has(id: string): boolean;
  /** The key encrypted under `kek` (ECB, as terminals and networks expect it), with its check value. */
  exportKey(id: string, kek: string): { cryptogram: Buffer; kcv: string };
  /** A key given encrypted under `kek`; refused unless it decrypts to the check value given. */
  importKey(id: string, type: KeyType, cryptogram: Buffer, kek: string, kcv: string): KeyInfo;
  info(id: string): KeyInfo;
}

interface Held {
  type: KeyType;
  value: Buffer;
  kcv: string;
}

function tdes(key: Buffer, data: Buffer, decrypt: boolean): Buffer {
  const k = key.length === 8 ? Buffer.concat([key, key]) : key;
  const cipher = k.length === 16 ? 'des-ede' : 'des-ede3';
  const c = decrypt ? createDecipheriv(cipher, k, null) : createCipheriv(cipher, k, null);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(data), c.final()]);
}

/** Sets each byte's lowest bit so the byte has an odd number of ones, as DES keys must. */
export function withOddParity(key: Buffer): Buffer {
  const out = Buffer.from(key);
  for (let i = 0; i < out.length; i++) {
    let ones = 0;
    for (let b = 1; b < 256; b <<= 1) if (out[i] & b & 0xfe) ones++;
    out[i] = (out[i] & 0xfe) | (ones % 2 === 0 ? 1 : 0);
  }
  return out;
}

/** The PAN field of format 0: 0000 and the 12 rightmost digits before the check digit. */
function panField(pan: string): Buffer {
  if (!/^[0-9]{13,19}$/.test(pan)) throw new SecurityError('the PAN for a PIN block must be 13 to 19 digits', 'bad_input');
  return Buffer.from(`0000${pan.slice(-13, -1)}`, 'hex');
}

/** Whether a clear PIN field is format 0: 0, a length of 4 to 12, that many digits, then F nibbles. */
function isFormat0(field: Buffer): boolean {
  const h = field.toString('hex').toUpperCase();
  if (h[0] !== '0') return false;
  const n = parseInt(h[1], 16);
  if (n < 4 || n > 12) return false;
  for (let i = 2; i < 2 + n; i++) if (h[i] < '0' || h[i] > '9') return false;
  for (let i = 2 + n; i < 16; i++) if (h[i] !== 'F') return false;
  return true;
}

export class SoftwareSecurityModule implements SecurityModule {
  private readonly keys = new Map<string, Held>();

  /** Loads a clear key (tests and development only: a real module never sees one). */
  loadClearKey(id: string, type: KeyType, value: Buffer): KeyInfo {
    if (![8, 16, 24].includes(value.length)) throw new SecurityError(`key ${id}: a DES key is 8, 16 or 24 bytes, got ${value.length}`, 'bad_input');
    this.keys.set(id, { type, value: Buffer.from(value), kcv: keyCheckValue(value) });
    return this.info(id);
  }

  info(id: string): KeyInfo {
    const k = this.held(id);
    return { id, type: k.type, kcv: k.kcv, length: k.value.length };
  }

  translatePin(block: Buffer, pan: string, from: string, to: string): Buffer {
    if (block.length !== 8) throw new SecurityError(`a PIN block is 8 bytes, got ${block.length}`, 'bad_pin_block');
    const a = this.held(from, ['PIK', 'TPK', 'ZPK']);
    const b = this.held(to, ['PIK', 'TPK', 'ZPK']);
    const p = panField(pan);
    const clear = tdes(a.value, block, true);
    const field = Buffer.alloc(8);
    for (let i = 0; i < 8; i++) field[i] = clear[i] ^ p[i];
    if (!isFormat0(field)) throw new SecurityError(`the PIN block does not decrypt under ${from} (KCV ${a.kcv}) to a format-0 block for this card`, 'bad_pin_block');
    return tdes(b.value, clear, false);
  }

  mac(algorithm: MacAlgorithm, key: string, data: Buffer): Buffer {
    return computeMac(algorithm, this.held(key, ['MAK', 'TAK', 'ZAK']).value, data);
  }

  verifyMac(algorithm: MacAlgorithm, key: string, data: Buffer, mac: Buffer): boolean {
    return verifyMac(algorithm, this.held(key, ['MAK', 'TAK', 'ZAK']).value, data, mac);
  }

  generateKey(id: string, type: KeyType, length: 8 | 16 | 24 = 16): KeyInfo {
    const value = withOddParity(randomBytes(length));
    this.keys.set(id, { type, value, kcv: keyCheckValue(value) });
    return this.info(id);
  }

  checkValue(id: string, bytes: number): Buffer {
    return Buffer.from(keyCheckValue(this.held(id).value, { bytes }), 'hex');
  }

  forget(id: string): void {
    this.keys.delete(id);
  }

  has(id: string): boolean {
    return this.keys.has(id);
  }

  exportKey(id: string, kek: string): { cryptogram: Buffer; kcv: string } {
    const k = this.held(id);
    const under = this.held(kek, ['TMK', 'ZMK']);
    return { cryptogram: tdes(under.value, k.value, false), kcv: k.kcv };
  }

  importKey(id: string, type: KeyType, cryptogram: Buffer, kek: string, kcv: string): KeyInfo {
    if (![8, 16, 24].includes(cryptogram.length)) throw new SecurityError(`key ${id}: a DES key cryptogram is 8, 16 or 24 bytes, got ${cryptogram.length}`, 'bad_input');
    const under = this.held(kek, ['TMK', 'ZMK']);
    const value = tdes(under.value, cryptogram, true);
    const got = keyCheckValue(value);
    if (got.toUpperCase() !== kcv.toUpperCase().slice(0, 6) || kcv.length < 6) {
      throw new SecurityError(`key ${id}: its check value is ${got}, not ${kcv}: refused (wrong key, or wrong key-encrypting key ${kek} KCV ${under.kcv})`, 'bad_kcv');
    }
    this.keys.set(id, { type, value, kcv: got });
    return this.info(id);
  }

  private held(id: string, types?: readonly KeyType[]): Held {
    const k = this.keys.get(id);
    if (k === undefined) throw new SecurityError(`no key ${JSON.stringify(id)}`, 'no_key');
    if (types !== undefined && !types.includes(k.type)) throw new SecurityError(`key ${id} (KCV ${k.kcv}) is a ${k.type}, not one of ${types.join(', ')}`, 'wrong_type');
    return k;
  }
}
