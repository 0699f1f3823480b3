/**
 * The matcher's in-flight table: key -> entry, for any key type, built for the keys the
 * switch actually uses (its own upstream STANs: small integers that count up).
 *
 * Integer keys in the int32 range live in an intrusive chained hash table: an array of
 * buckets, and a `chain` link on the entry itself. Nothing is allocated per key, and a
 * key is compared on the entry, so a lookup touches the bucket and the entries in its
 * chain. The hash keeps the key's low bits (folding the high bits in), so keys that
 * count up land in consecutive buckets: the buckets the hot path touches stay in cache,
 * which a scrambling hash (V8's Map) cannot offer. That is where the matcher's speed at
 * 1,000,000 in flight comes from; with scattered keys it is about as fast as a Map.
 *
 * The table doubles when it holds more int keys than half its buckets (so a lookup that
 * misses, as every track() does, walks half an entry on average, even for scattered
 * keys) and halves when it holds fewer than an eighth, down to 2^MIN_BITS buckets. A
 * resize rehashes every int key at once: O(n), like a Map growing, and as long (about
 * 140 ms on the way to 1,000,000 keys, when the table reaches 2^21 buckets; a Map's
 * stall is longer). A table made with an expected peak starts that big and never shrinks
 * below it, so it never stalls on the way there. The buckets cost 8-16 bytes per key.
 *
 * Every other key (strings, non-integer numbers, NaN, objects) goes to a Map, so key
 * equality is the Map's SameValueZero throughout (-0 and 0 are one key).
 */

export interface KeyedEntry<K, E> {
  key: K;
  /** Next entry in the same bucket; managed by the table. */
  chain: E | null;
}

const MIN_BITS = 10;

export class KeyTable<K, E extends KeyedEntry<K, E>> {
  private buckets: (E | null)[] = [];
  private bits = 0;
  private mask = 0;
  private intCount = 0;
  private readonly other = new Map<K, E>();
  private readonly minBits: number;

  /** `expected`: the peak number of int keys to size the table for up front. */
  constructor(expected = 0) {
    let bits = MIN_BITS;
    while (2 ** bits < expected * 2 && bits < 30) bits++;
    this.minBits = bits;
    this.resize(bits);
  }

  get size(): number {
    return this.intCount + this.other.size;
  }

  /** Buckets in the int table (for tests and memory accounting). */
  get capacity(): number {
    return this.mask + 1;
  }

  get(key: K): E | null {
    if (typeof key === 'number' && (key | 0) === key) {
      let e = this.buckets[(key ^ (key >>> this.bits)) & this.mask];
      while (e !== null && e.key !== key) e = e.chain;
      return e;
    }
    return this.other.get(key) ?? null;
  }

  /** Adds `e` under `e.key`. The caller guarantees the key is not in the table. */
  add(e: E): void {
    const key = e.key;
    if (typeof key === 'number' && (key | 0) === key) {
      const i = (key ^ (key >>> this.bits)) & this.mask;
      e.chain = this.buckets[i];
      this.buckets[i] = e;
      if (++this.intCount > (this.mask + 1) >>> 1) this.resize(this.bits + 1);
      return;
    }
    this.other.set(key, e);
  }

  /** Removes `e`, which must be in the table. */
  remove(e: E): void {
    const key = e.key;
    if (typeof key === 'number' && (key | 0) === key) {
      const i = (key ^ (key >>> this.bits)) & this.mask;
      let p = this.buckets[i];
      if (p === e) {
        this.buckets[i] = e.chain;
      } else {
        while (p !== null && p.chain !== e) p = p.chain;
        if (p === null) return;
        p.chain = e.chain;
      }
      e.chain = null;
      if (--this.intCount < (this.mask + 1) >>> 3 && this.bits > this.minBits) this.resize(this.bits - 1);
      return;
    }
    this.other.delete(key);
  }

  private resize(bits: number): void {
    const old = this.buckets;
    const size = 2 ** bits;
    // fill() writes every element, so no read ever meets a hole.
    const buckets = new Array<E | null>(size).fill(null);
    this.buckets = buckets;
    this.bits = bits;
    this.mask = size - 1;
    for (let b = 0; b < old.length; b++) {
      let e = old[b];
      while (e !== null) {
        const next: E | null = e.chain;
        const key = e.key as number;
        const i = (key ^ (key >>> bits)) & this.mask;
        e.chain = buckets[i];
        buckets[i] = e;
        e = next;
      }
    }
  }
}
