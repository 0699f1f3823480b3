/**
 * A binary min-heap on a numeric key; equal keys come out in insertion order, so a
 * queue of entries due at the same moment stays first in, first out. Stale entries are
 * the caller's to skip (lazy deletion).
 */
export class MinHeap<T> {
  private readonly keys: number[] = [];
  private readonly seqs: number[] = [];
  private readonly items: T[] = [];
  private seq = 0;

  get size(): number {
    return this.items.length;
  }

  private less(k1: number, s1: number, i: number): boolean {
    return k1 < this.keys[i] || (k1 === this.keys[i] && s1 < this.seqs[i]);
  }

  private put(i: number, k: number, s: number, item: T): void {
    this.keys[i] = k;
    this.seqs[i] = s;
    this.items[i] = item;
  }

  push(key: number, item: T): void {
    const s = this.seq++;
    let i = this.items.length;
    this.put(i, key, s, item);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(key, s, p)) break;
      this.put(i, this.keys[p], this.seqs[p], this.items[p]);
      i = p;
    }
    this.put(i, key, s, item);
  }

  peekKey(): number {
    return this.items.length === 0 ? Infinity : this.keys[0];
  }

  pop(): T | undefined {
    const n = this.items.length;
    if (n === 0) return undefined;
    const top = this.items[0];
    const k = this.keys.pop() as number;
    const s = this.seqs.pop() as number;
    const item = this.items.pop() as T;
    const m = n - 1;
    if (m > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= m) break;
        const r = l + 1;
        const c = r < m && this.less(this.keys[r], this.seqs[r], l) ? r : l;
        if (!(this.keys[c] < k || (this.keys[c] === k && this.seqs[c] < s))) break;
        this.put(i, this.keys[c], this.seqs[c], this.items[c]);
        i = c;
      }
      this.put(i, k, s, item);
    }
    return top;
  }
}
