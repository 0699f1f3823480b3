/**
 * The input being run, in memory shared by the fuzzing worker and the runner's watchdog:
 * a flag, the time the input started and its bytes. When an input hangs the worker or runs
 * it out of memory, the worker cannot say which input it was; the runner reads it here.
 */

const HEAD = 16;

export class InputSlot {
  private readonly flags: Int32Array;
  private readonly time: Float64Array;
  private readonly bytes: Uint8Array;

  /** Shared memory for inputs of up to maxLen bytes. */
  static create(maxLen: number): SharedArrayBuffer {
    return new SharedArrayBuffer(HEAD + maxLen);
  }

  constructor(readonly buffer: SharedArrayBuffer) {
    this.flags = new Int32Array(buffer, 0, 2);
    this.time = new Float64Array(buffer, 8, 1);
    this.bytes = new Uint8Array(buffer, HEAD);
  }

  begin(input: Uint8Array): void {
    const n = Math.min(input.length, this.bytes.length);
    this.bytes.set(n === input.length ? input : input.subarray(0, n));
    Atomics.store(this.flags, 1, n);
    this.time[0] = Date.now();
    Atomics.store(this.flags, 0, 1);
  }

  end(): void {
    Atomics.store(this.flags, 0, 0);
  }

  /** Milliseconds the current input has been running; null between inputs. */
  runningFor(now = Date.now()): number | null {
    return Atomics.load(this.flags, 0) === 1 ? now - this.time[0] : null;
  }

  /** A copy of the input last begun. */
  input(): Buffer {
    return Buffer.from(this.bytes.subarray(0, Atomics.load(this.flags, 1)));
  }
}
