/**
 * Message authentication codes of the payment world, as pure functions over bytes: the
 * MAC block goes in, the F64 (or F128) value comes out. Which bytes form the block (MTI to
 * the field before the MAC, or a field list) is the caller's business.
 *
 * - `x9.19`: ANSI X9.19 retail MAC = ISO 9797-1 algorithm 3 with padding method 1 (zeros,
 *   none when the data fills its last block): DES CBC-MAC under K1, the last block then
 *   decrypted under K2 and encrypted under K1. Double-length DES key.
 * - `iso9797-1-alg3-pad2`: the same with padding method 2 (0x80, then zeros, always).
 * - `cup-ecb`: the UnionPay POS MAC: the blocks XORed together, the result written as 16
 *   hex characters, DES of the first 8 XORed with the last 8, DES again, the first 8 hex
 *   characters of that (ASCII), as the terminal puts them in F64.
 * - `cmac-aes`: ISO 9797-1 algorithm 5 / NIST SP 800-38B CMAC with an AES key.
 *
 * OpenSSL 3 (Node 20) keeps single DES in its legacy provider, so single DES here is
 * two-key triple DES with both halves equal (E K · D K · E K = E K).
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';

export type MacAlgorithm = 'x9.19' | 'iso9797-1-alg3-pad2' | 'cup-ecb' | 'cmac-aes';

export const MAC_ALGORITHMS: readonly MacAlgorithm[] = ['x9.19', 'iso9797-1-alg3-pad2', 'cup-ecb', 'cmac-aes'];

export class MacKeyError extends Error {
  override readonly name = 'MacKeyError';
}

function des(key8: Buffer, block: Buffer, decrypt = false): Buffer {
  const k = Buffer.concat([key8, key8]);
  const c = decrypt ? createDecipheriv('des-ede', k, null) : createCipheriv('des-ede', k, null);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(block), c.final()]);
}

function ecb(cipher: string, key: Buffer, block: Buffer): Buffer {
  const c = createCipheriv(cipher, key, null);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(block), c.final()]);
}

function xorInto(acc: Buffer, block: Buffer, at = 0): void {
  for (let i = 0; i < acc.length; i++) acc[i] ^= block[at + i] ?? 0;
}

/** ISO 9797-1 padding method 1 (zeros; none when the data fills whole blocks, one block when empty) or 2 (0x80 then zeros). */
export function blocksPadded(data: Buffer, method: 1 | 2): Buffer {
  if (method === 2) {
    const n = Math.ceil((data.length + 1) / 8) * 8;
    const out = Buffer.alloc(n);
    data.copy(out);
    out[data.length] = 0x80;
    return out;
  }
  if (data.length % 8 === 0 && data.length > 0) return data;
  const out = Buffer.alloc(Math.max(8, Math.ceil(data.length / 8) * 8));
  data.copy(out);
  return out;
}

/** ISO 9797-1 algorithm 3 (retail MAC) with the given padding method; 8 bytes. */
function retailMac(key: Buffer, data: Buffer, method: 1 | 2): Buffer {
  if (key.length !== 16) throw new MacKeyError(`a retail MAC needs a double-length DES key (16 bytes), got ${key.length}`);
  const k1 = key.subarray(0, 8);
  const k2 = key.subarray(8, 16);
  const padded = blocksPadded(data, method);
  // Each cipher costs ~9 µs to set up (OpenSSL 3), far more than the blocks: so one CBC
  // pass under K1 (zero IV) chains every block but the last, and the last block, XORed
  // with that chain (the IV) and put through E K1 · D K2 · E K1, which is two-key 3DES,
  // is the MAC. Two ciphers whatever the length.
  const last = padded.length - 8;
  let iv = Buffer.alloc(8);
  if (last > 0) {
    const c = createCipheriv('des-ede-cbc', Buffer.concat([k1, k1]), iv);
    c.setAutoPadding(false);
    const chained = Buffer.concat([c.update(padded.subarray(0, last)), c.final()]);
    iv = chained.subarray(chained.length - 8);
  }
  const f = createCipheriv('des-ede-cbc', Buffer.concat([k1, k2]), iv);
  f.setAutoPadding(false);
  return Buffer.concat([f.update(padded.subarray(last)), f.final()]);
}

/** The UnionPay POS MAC of a MAC block: 8 ASCII hex characters (as bytes, for F64). */
function cupEcb(key: Buffer, data: Buffer): Buffer {
  if (key.length !== 8 && key.length !== 16) throw new MacKeyError(`the UnionPay MAC needs a DES key of 8 bytes (or 16, of which the first 8 are used), got ${key.length}`);
  const k = key.subarray(0, 8);
  const r = Buffer.alloc(8);
  for (let i = 0; i < data.length; i += 8) xorInto(r, data, i);
  const hex = Buffer.from(r.toString('hex').toUpperCase(), 'latin1');
  // DES of the first 8, XORed with the last 8, DES again: the second block of a CBC
  // encryption of the 16 characters, one cipher instead of two.
  const c = createCipheriv('des-ede-cbc', Buffer.concat([k, k]), Buffer.alloc(8));
  c.setAutoPadding(false);
  const out = Buffer.concat([c.update(hex), c.final()]).subarray(8, 16);
  return Buffer.from(out.toString('hex').toUpperCase().slice(0, 8), 'latin1');
}

/** Doubling in GF(2^128), the CMAC subkey step. */
function dbl(b: Buffer): Buffer {
  const out = Buffer.alloc(16);
  let carry = 0;
  for (let i = 15; i >= 0; i--) {
    out[i] = ((b[i] << 1) | carry) & 0xff;
    carry = b[i] >> 7;
  }
  if (b[0] & 0x80) out[15] ^= 0x87;
  return out;
}

function cmacAes(key: Buffer, data: Buffer): Buffer {
  if (![16, 24, 32].includes(key.length)) throw new MacKeyError(`CMAC-AES needs an AES key of 16, 24 or 32 bytes, got ${key.length}`);
  const cipher = `aes-${key.length * 8}-ecb`;
  const k1 = dbl(ecb(cipher, key, Buffer.alloc(16)));
  const k2 = dbl(k1);
  const n = Math.max(1, Math.ceil(data.length / 16));
  const complete = data.length > 0 && data.length % 16 === 0;
  const last = Buffer.alloc(16);
  data.copy(last, 0, (n - 1) * 16);
  if (!complete) last[data.length - (n - 1) * 16] = 0x80;
  xorInto(last, complete ? k1 : k2);
  let x: Buffer = Buffer.alloc(16);
  for (let i = 0; i < n - 1; i++) {
    xorInto(x, data, i * 16);
    x = ecb(cipher, key, x);
  }
  xorInto(x, last);
  return ecb(cipher, key, x);
}

/** The MAC of `data` under `key`: 8 bytes (cmac-aes: the first 8 of 16, as F64 holds 8). */
export function computeMac(algorithm: MacAlgorithm, key: Buffer, data: Buffer): Buffer {
  switch (algorithm) {
    case 'x9.19':
      return retailMac(key, data, 1);
    case 'iso9797-1-alg3-pad2':
      return retailMac(key, data, 2);
    case 'cup-ecb':
      return cupEcb(key, data);
    case 'cmac-aes':
      return cmacAes(key, data).subarray(0, 8);
  }
}

/** The full 16-byte AES-CMAC (for callers that keep more than F64's 8). */
export function cmacAes128(key: Buffer, data: Buffer): Buffer {
  return cmacAes(key, data);
}

/** Whether `mac` is the MAC of `data`, in constant time over its length. */
export function verifyMac(algorithm: MacAlgorithm, key: Buffer, data: Buffer, mac: Buffer): boolean {
  const want = computeMac(algorithm, key, data);
  if (mac.length !== want.length) return false;
  let diff = 0;
  for (let i = 0; i < want.length; i++) diff |= want[i] ^ mac[i];
  return diff === 0;
}

/**
 * A key's check value: the first `bytes` (default 3) of its encryption of a zero block,
 * as hex. DES keys of 8, 16 or 24 bytes; AES keys (`aes: true`) of 16, 24 or 32. Names a
 * key in logs and on screens instead of its value.
 */
export function keyCheckValue(key: Buffer, opts: { aes?: boolean; bytes?: number } = {}): string {
  const bytes = opts.bytes ?? 3;
  let out: Buffer;
  if (opts.aes) {
    if (![16, 24, 32].includes(key.length)) throw new MacKeyError(`an AES key is 16, 24 or 32 bytes, got ${key.length}`);
    out = ecb(`aes-${key.length * 8}-ecb`, key, Buffer.alloc(16));
  } else if (key.length === 8) out = des(key, Buffer.alloc(8));
  else if (key.length === 16) out = ecb('des-ede', key, Buffer.alloc(8));
  else if (key.length === 24) out = ecb('des-ede3', key, Buffer.alloc(8));
  else throw new MacKeyError(`a DES key is 8, 16 or 24 bytes, got ${key.length}`);
  return out.subarray(0, bytes).toString('hex').toUpperCase();
}
