/**
 * What the e2e suite's TLS + MAC steps need besides the switch: certificates made at run
 * time with the `openssl` CLI (nothing checked in that could expire), random MAC keys,
 * and the rig's own X9.19 MAC over len2 frames (signing requests and checking answers in
 * the load generator, checking requests and signing answers in the issuer's front).
 *
 * The rig's MAC is the switch's own computeMac (its cost counts as the rig's CPU, not the
 * switch's): ANSI X9.19, ISO 9797-1 algorithm 3 with padding method 1. Its correctness is
 * test/mac.test.ts's business (public known answers), not the bench's.
 *
 * The MAC covers the message from the MTI to the byte before the MAC field (F64, or F128
 * with a secondary bitmap), which ends the message: the switch's rule for `fields: null`
 * on iso87a (binary bitmap, no TPDU, no header).
 */
import { randomBytes } from 'node:crypto';
import { computeMac } from '../../switch/edge/mac.js';
import { withOddParity } from '../../switch/edge/security-module.js';
import { makeCa, makeLeaf, opensslMissing as pkiMissing, type Pair } from '../lib/pki.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Files and keys of a TLS + MAC step, as the children get them over IPC (paths, hex). */
export interface SecureSpec {
  /** The CA the load generator and the switch's upstream link trust (PEM path). */
  ca: string;
  /** The server certificate and key of the switch's listener and of the issuer's front (SAN IP:127.0.0.1). */
  cert: string;
  key: string;
  /** The listener's MAC key (double-length DES, hex): the generator signs with it. */
  mak: string;
  /** The upstream link's MAC key (hex): the issuer's front checks and signs with it. */
  zak: string;
}

export interface BenchPki {
  dir: string;
  ca: string;
  cert: string;
  key: string;
  cleanup(): void;
}

/** Why no certificates can be made here, or false when they can. */
export function opensslMissing(): string | false {
  return pkiMissing('no certificates for the TLS + MAC steps');
}

/** A CA and one server certificate for 127.0.0.1 and localhost (EC P-256, 2 days), in a temporary directory. */
export function makeBenchPki(): BenchPki {
  const dir = mkdtempSync(join(tmpdir(), 'revswitch-bench-pki-'));
  let server: Pair;
  try {
    makeCa(dir, 'ca', 'revswitch bench CA', 2);
    server = makeLeaf(dir, { name: 'server', cn: 'localhost', san: 'IP:127.0.0.1,DNS:localhost', ca: 'ca', serial: 1, days: 2 });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return { dir, ca: join(dir, 'ca.pem'), ...server, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A random double-length DES key with odd parity, as hex. */
export function randomDesKey(): string {
  return withOddParity(randomBytes(16)).toString('hex');
}

/** X9.19 under one double-length key, as the switch computes it (switch/edge/mac.ts). */
export class X919 {
  constructor(private readonly key: Buffer) {
    if (key.length !== 16) throw new Error(`X9.19 needs a 16-byte key, got ${key.length}`);
  }

  static fromHex(hex: string): X919 {
    return new X919(Buffer.from(hex, 'hex'));
  }

  /** The 8-byte MAC of `data` (zero-padded to whole blocks, none when it fills them). */
  mac(data: Buffer): Buffer {
    return computeMac('x9.19', this.key, data);
  }
}

/** iso87a body: MTI (4), primary bitmap (8, binary), then the secondary when bit 1 is set. */
const BITMAP_AT = 4;

/** Whether the body's last bitmap has its last bit (F64, or F128) set: the message carries a MAC. */
export function hasMacField(body: Buffer): boolean {
  const last = BITMAP_AT + ((body[BITMAP_AT] & 0x80) !== 0 ? 15 : 7);
  return (body[last] & 0x01) !== 0;
}

/** Network management (x8xx) carries no MAC. */
export function macExempt(body: Buffer): boolean {
  return body[1] === 0x38;
}

/** Writes the MAC into the last 8 bytes of a len2 frame at `pos` of `buf`, `len` bytes long with its prefix. */
export function signFrameAt(mac: X919, buf: Buffer, pos: number, len: number): void {
  mac.mac(buf.subarray(pos + 2, pos + len - 8)).copy(buf, pos + len - 8);
}

/** Whether a len2 frame's MAC field is present and right. */
export function frameMacOk(mac: X919, frame: Buffer): boolean {
  const body = frame.subarray(2);
  if (body.length < BITMAP_AT + 8 + 8 || !hasMacField(body)) return false;
  return mac.mac(body.subarray(0, body.length - 8)).equals(body.subarray(body.length - 8));
}

/**
 * A len2 frame without a MAC field, returned with one added and signed: 8 bytes appended
 * and the last bit of the last bitmap set. Only when no field after the MAC field's
 * number is present, which holds for any message whose last bitmap has its last bit clear.
 */
export function withMac(mac: X919, frame: Buffer): Buffer {
  const bodyLen = frame.length - 2 + 8;
  const out = Buffer.allocUnsafe(frame.length + 8);
  frame.copy(out, 0);
  out[0] = bodyLen >> 8;
  out[1] = bodyLen & 0xff;
  const last = 2 + BITMAP_AT + ((out[2 + BITMAP_AT] & 0x80) !== 0 ? 15 : 7);
  out[last] |= 0x01;
  signFrameAt(mac, out, 0, out.length);
  return out;
}
