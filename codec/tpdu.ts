/**
 * The 5-byte TPDU that China UnionPay and several terminal networks put before the MTI:
 * an id byte (0x60 for a transaction) and two 16-bit NII addresses. A reply goes back
 * with the addresses swapped, which is all a switch normally does with it.
 */
import { IsoError } from './errors.js';

export interface Tpdu {
  id: number;
  destination: number;
  source: number;
}

export const TPDU_BYTES = 5;

export function parseTpdu(bytes: Uint8Array, off = 0): Tpdu {
  if (!(off >= 0) || bytes.length - off < TPDU_BYTES) {
    const have = Math.max(0, bytes.length - Math.max(0, off));
    throw new IsoError('tpdu', off, `TPDU needs ${TPDU_BYTES} bytes, have ${have}`);
  }
  return {
    id: bytes[off],
    destination: (bytes[off + 1] << 8) | bytes[off + 2],
    source: (bytes[off + 3] << 8) | bytes[off + 4],
  };
}

export function formatTpdu(t: Tpdu): Uint8Array {
  // Out-of-range values would be silently truncated by the byte writes below.
  check('id', t.id, 0xff);
  check('destination', t.destination, 0xffff);
  check('source', t.source, 0xffff);
  return Uint8Array.of(t.id, t.destination >>> 8, t.destination & 0xff, t.source >>> 8, t.source & 0xff);
}

/** The reply's TPDU: same id, destination and source exchanged. */
export function swapTpdu(bytes: Uint8Array): Uint8Array {
  if (bytes.length < TPDU_BYTES) {
    throw new IsoError('tpdu', 0, `TPDU needs ${TPDU_BYTES} bytes, have ${bytes.length}`);
  }
  return Uint8Array.of(bytes[0], bytes[3], bytes[4], bytes[1], bytes[2]);
}

function check(what: string, v: number, max: number): void {
  if (!Number.isInteger(v) || v < 0 || v > max) {
    throw new IsoError('tpdu', -1, `TPDU ${what} ${v} out of range 0..${max}`);
  }
}
