/**
 * Mutations, libFuzzer's set in small: bit and byte edits, interesting integers, inserted,
 * deleted, duplicated and copied ranges, crossover with another corpus entry, dictionary
 * tokens; and a few that know ISO 8583 and text formats: an ASCII number (a LL/LLL length
 * prefix, an amount, a JSON number) changed as a number, a BCD byte changed as BCD, a
 * line duplicated, dropped or swapped, and for text that nests a range wrapped in brackets
 * thousands deep. A target may add its own structure-aware edit. One to several mutations
 * are stacked per input.
 */
import type { Rng } from './rng.js';

type Edit = (b: Buffer, other: () => Buffer) => Buffer | null;

const INTERESTING8 = [0x00, 0x01, 0x02, 0x0a, 0x0d, 0x10, 0x20, 0x22, 0x2c, 0x30, 0x39, 0x3a, 0x40, 0x7f, 0x80, 0x81, 0x83, 0x9f, 0xc0, 0xf0, 0xff];
const INTERESTING16 = [0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x3e7, 0x3e8, 0x1fff, 0x2000, 0x7fff, 0x8000, 0xfffe, 0xffff];
const INTERESTING32 = [0, 1, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff, 0x10000, 0xffffff];
const DEPTHS = [1, 2, 3, 16, 100, 1000, 3000, 6000, 12000];
const NUMBERS = [0, 1, 2, 9, 10, 16, 19, 99, 100, 255, 256, 999, 1000, 9999, 65535, 65536, 2147483647, 4294967296, 2 ** 53];

export class Mutator {
  private readonly dict: Buffer[];
  private readonly edits: Edit[];

  constructor(
    private readonly rng: Rng,
    private readonly maxLen: number,
    dictionary: readonly (string | Uint8Array)[],
    opts: { nests?: boolean; custom?: (b: Buffer, rng: Rng) => Buffer | null } = {},
  ) {
    const custom = opts.custom;
    this.dict = dictionary.map((t) => (typeof t === 'string' ? Buffer.from(t, 'utf8') : Buffer.from(t)));
    const own: Edit[] = [
      (b) => this.flipBit(b), (b) => this.setByte(b), (b) => this.interestingByte(b), (b) => this.interestingInt(b),
      (b) => this.arith(b), (b) => this.insertBytes(b), (b) => this.deleteRange(b), (b) => this.duplicateRange(b),
      (b) => this.copyRange(b), (b, o) => this.crossover(b, o), (b) => this.asciiNumber(b), (b) => this.bcd(b),
      (b) => this.lines(b), (b) => this.truncate(b),
    ];
    if (opts.nests) own.push((b) => this.nest(b));
    if (this.dict.length > 0) own.push((b) => this.dictInsert(b), (b) => this.dictOverwrite(b), (b) => this.dictInsert(b));
    // Twice: structure-aware edits reach deep states that byte edits mostly break.
    if (custom !== undefined) own.push((b) => custom(b, rng), (b) => custom(b, rng));
    this.edits = own;
  }

  /** A mutant of `base` (never `base` itself, which the corpus keeps); `other` gives a second corpus entry. */
  mutate(base: Buffer, other: () => Buffer): Buffer {
    let b: Buffer = Buffer.from(base);
    const n = this.rng.geometric(8);
    for (let i = 0; i < n; i++) {
      for (let tries = 0; tries < 8; tries++) {
        const out = this.rng.pick(this.edits)(b, other);
        if (out !== null) {
          b = out;
          break;
        }
      }
    }
    return b.length > this.maxLen ? b.subarray(0, this.maxLen) : b;
  }

  private pos(b: Buffer): number {
    return this.rng.below(b.length);
  }

  private flipBit(b: Buffer): Buffer | null {
    if (b.length === 0) return null;
    b[this.pos(b)] ^= 1 << this.rng.below(8);
    return b;
  }

  private setByte(b: Buffer): Buffer | null {
    if (b.length === 0) return null;
    b[this.pos(b)] = this.rng.below(256);
    return b;
  }

  private interestingByte(b: Buffer): Buffer | null {
    if (b.length === 0) return null;
    b[this.pos(b)] = this.rng.pick(INTERESTING8);
    return b;
  }

  private interestingInt(b: Buffer): Buffer | null {
    const wide = this.rng.oneIn(2);
    const size = wide ? 4 : 2;
    if (b.length < size) return null;
    const at = this.rng.below(b.length - size + 1);
    const v = wide ? this.rng.pick(INTERESTING32) : this.rng.pick(INTERESTING16);
    const le = this.rng.oneIn(2);
    if (wide) {
      if (le) b.writeUInt32LE(v >>> 0, at);
      else b.writeUInt32BE(v >>> 0, at);
    } else if (le) b.writeUInt16LE(v, at);
    else b.writeUInt16BE(v, at);
    return b;
  }

  private arith(b: Buffer): Buffer | null {
    if (b.length === 0) return null;
    const at = this.pos(b);
    const delta = this.rng.between(1, 35) * (this.rng.oneIn(2) ? 1 : -1);
    b[at] = (b[at] + delta) & 0xff;
    return b;
  }

  private insertBytes(b: Buffer): Buffer {
    const n = this.rng.geometric(16);
    const fill = Buffer.alloc(n);
    if (this.rng.oneIn(2)) fill.fill(this.rng.below(256));
    else for (let i = 0; i < n; i++) fill[i] = this.rng.below(256);
    const at = this.rng.below(b.length + 1);
    return Buffer.concat([b.subarray(0, at), fill, b.subarray(at)]);
  }

  private deleteRange(b: Buffer): Buffer | null {
    if (b.length === 0) return null;
    const n = Math.min(b.length, this.rng.geometric(64));
    const at = this.rng.below(b.length - n + 1);
    return Buffer.concat([b.subarray(0, at), b.subarray(at + n)]);
  }

  private range(b: Buffer): [number, number] {
    const n = Math.min(b.length, this.rng.geometric(64));
    const at = this.rng.below(b.length - n + 1);
    return [at, at + n];
  }

  private duplicateRange(b: Buffer): Buffer | null {
    if (b.length === 0) return null;
    const [s, e] = this.range(b);
    const to = this.rng.below(b.length + 1);
    return Buffer.concat([b.subarray(0, to), b.subarray(s, e), b.subarray(to)]);
  }

  private copyRange(b: Buffer): Buffer | null {
    if (b.length < 2) return null;
    const [s, e] = this.range(b);
    const to = this.rng.below(b.length - (e - s) + 1);
    b.subarray(s, e).copy(b, to);
    return b;
  }

  /** A prefix of this one and a suffix of the other, or a piece of the other inserted. */
  private crossover(b: Buffer, other: () => Buffer): Buffer | null {
    const o = other();
    if (o.length === 0) return null;
    if (this.rng.oneIn(2)) {
      return Buffer.concat([b.subarray(0, this.rng.below(b.length + 1)), o.subarray(this.rng.below(o.length))]);
    }
    const [s, e] = this.range(o);
    const at = this.rng.below(b.length + 1);
    return Buffer.concat([b.subarray(0, at), o.subarray(s, e), b.subarray(at)]);
  }

  private dictInsert(b: Buffer): Buffer {
    const t = this.rng.pick(this.dict);
    const at = this.rng.below(b.length + 1);
    return Buffer.concat([b.subarray(0, at), t, b.subarray(at)]);
  }

  private dictOverwrite(b: Buffer): Buffer | null {
    const t = this.rng.pick(this.dict);
    if (b.length < t.length) return null;
    t.copy(b, this.rng.below(b.length - t.length + 1));
    return b;
  }

  /** A run of ASCII digits read as a number and rewritten: +-small, an interesting value, same width or not. */
  private asciiNumber(b: Buffer): Buffer | null {
    if (b.length === 0) return null;
    let at = this.pos(b);
    let tries = 0;
    while (!isDigit(b[at]) && tries++ < 64) at = (at + 1) % b.length;
    if (!isDigit(b[at])) return null;
    let s = at;
    while (s > 0 && isDigit(b[s - 1])) s--;
    let e = at;
    while (e < b.length && isDigit(b[e])) e++;
    const width = e - s;
    const old = Number(b.toString('latin1', s, e));
    let v: number;
    switch (this.rng.below(3)) {
      case 0: v = old + this.rng.between(-3, 3); break;
      case 1: v = this.rng.pick(NUMBERS); break;
      default: v = old * (this.rng.oneIn(2) ? 10 : 2); break;
    }
    let text = String(Math.max(0, v));
    // Same width most of the time: a fixed-width length prefix must stay in place.
    if (!this.rng.oneIn(4)) text = text.length >= width ? text.slice(text.length - width) : text.padStart(width, '0');
    return Buffer.concat([b.subarray(0, s), Buffer.from(text, 'latin1'), b.subarray(e)]);
  }

  /** A packed BCD byte (a binary dialect's length prefix, say) changed by +-1..3, or a nibble set to F. */
  private bcd(b: Buffer): Buffer | null {
    if (b.length === 0) return null;
    const at = this.pos(b);
    const hi = b[at] >> 4;
    const lo = b[at] & 15;
    if (this.rng.oneIn(4)) {
      b[at] = this.rng.oneIn(2) ? (b[at] | 0x0f) : (b[at] | 0xf0);
      return b;
    }
    if (hi > 9 || lo > 9) return null;
    const v = (hi * 10 + lo + this.rng.between(-3, 3) + 100) % 100;
    b[at] = (Math.floor(v / 10) << 4) | (v % 10);
    return b;
  }

  /** A line of a text input duplicated, dropped or swapped with another. */
  private lines(b: Buffer): Buffer | null {
    const ls = b.toString('latin1').split('\n');
    if (ls.length < 2) return null;
    const i = this.rng.below(ls.length);
    const j = this.rng.below(ls.length);
    switch (this.rng.below(3)) {
      case 0: ls.splice(j, 0, ls[i]); break;
      case 1: ls.splice(i, 1); break;
      default: [ls[i], ls[j]] = [ls[j], ls[i]]; break;
    }
    return Buffer.from(ls.join('\n'), 'latin1');
  }

  /**
   * A range wrapped in brackets, up to thousands deep: JSON, YAML and TLV nest, and code
   * that recurses over nesting (JSON.stringify of a value for a message, say) meets a
   * stack overflow there that no byte edit reaches.
   */
  private nest(b: Buffer): Buffer | null {
    const depth = Math.min(this.rng.pick(DEPTHS), Math.floor((this.maxLen - b.length) / 2));
    if (depth < 1) return null;
    const [s, e] = b.length === 0 ? [0, 0] : this.range(b);
    return Buffer.concat([b.subarray(0, s), Buffer.alloc(depth, 0x5b), b.subarray(s, e), Buffer.alloc(depth, 0x5d), b.subarray(e)]);
  }

  private truncate(b: Buffer): Buffer | null {
    if (b.length === 0) return null;
    return b.subarray(0, this.rng.below(b.length));
  }
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 0x30 && c <= 0x39;
}
