/**
 * The smallest len2 splitter that is still correct on a TCP stream (split and merged
 * chunks, a prefix split across chunks). It is deliberately not codec/'s FrameReader:
 * the relay baseline and the load generator must not share the switch's code paths.
 * No max-length check and no keep-alive handling: both ends are ours.
 *
 * onFrame gets the whole frame, prefix included, as a subarray of the chunk when it lies
 * inside one (no copy), so a relay can write it on unchanged.
 */
export class Len2Splitter {
  private partial: Buffer | null = null;

  constructor(private readonly onFrame: (frame: Buffer) => void) {}

  push(chunk: Buffer): void {
    let buf = chunk;
    if (this.partial !== null) {
      buf = Buffer.concat([this.partial, chunk]);
      this.partial = null;
    }
    const end = buf.length;
    let pos = 0;
    while (end - pos >= 2) {
      const len = (buf[pos] << 8) | buf[pos + 1];
      if (end - pos - 2 < len) break;
      this.onFrame(buf.subarray(pos, pos + 2 + len));
      pos += 2 + len;
    }
    if (pos < end) this.partial = Buffer.from(buf.subarray(pos));
  }
}
