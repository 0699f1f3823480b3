/**
 * The NATS sink's disk buffer: events are appended here first, and a pump publishes them
 * and moves the committed position only after JetStream acknowledged them. Nothing here
 * talks to NATS.
 *
 * Layout of the spool directory:
 *
 *   LOCK                      the owning process's pid: one process appends and pumps
 *   segment-000000000001.pb   length-delimited LifecycleEvent records (varint length +
 *   segment-000000000002.pb   message), append-only; a new segment every `segmentBytes`
 *   committed                 {"segment":N,"offset":B}: everything before is acknowledged
 *   inbox/*.pb                whole files of records dropped by other processes (the
 *                             manual CLI while the switch runs); the owner moves them in
 *
 * A segment wholly before the committed position is deleted, and once the pump has caught
 * up the writer starts a fresh segment (so the acknowledged one can go) when the current
 * one has grown past `rollBytes`. A record torn by a crash mid-append is cut off at open.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, stat, truncate, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { delimited, splitDelimited } from './schema.js';

export interface SpoolPosition {
  segment: number;
  offset: number;
}

export interface SpoolOptions {
  /** Start a new segment past this size. Default 16 MiB. */
  segmentBytes?: number;
  /** Once everything is acknowledged, start a new segment if the current one is past this. Default 64 KiB. */
  rollBytes?: number;
  /** fdatasync each append. */
  fsync?: boolean;
}

/** Another live process owns the spool directory. */
export class SpoolLocked extends Error {
  override readonly name = 'SpoolLocked';
}

const segName = (n: number): string => `segment-${String(n).padStart(12, '0')}.pb`;

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the directory's LOCK (pid inside); a lock left by a dead process is taken over. */
function takeLock(dir: string): string {
  const path = join(dir, 'LOCK');
  for (let i = 0; i < 2; i++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return path;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let pid = NaN;
      try {
        pid = Number(readFileSync(path, 'utf8').trim());
      } catch {
        // Gone in between: try again.
      }
      if (Number.isInteger(pid) && pid > 0 && processAlive(pid)) {
        throw new SpoolLocked(`${dir} is in use by process ${pid}${pid === process.pid ? ' (this one)' : ''}`);
      }
      try {
        unlinkSync(path);
      } catch {
        // Someone else took it over first; the next try tells.
      }
    }
  }
  throw new SpoolLocked(`${dir}: cannot take the lock`);
}

export class Spool {
  private writer: FileHandle | null = null;
  private writerSeg = 0;
  /** Confirmed (written) size of each segment still on disk. */
  private readonly sizes = new Map<number, number>();
  private committed: SpoolPosition = { segment: 1, offset: 0 };
  private chain: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(readonly dir: string, private readonly lock: string, private readonly opts: Required<SpoolOptions>) {}

  /** Opens (creating) the spool and takes its lock; throws SpoolLocked when a live process has it. */
  static async open(dir: string, options: SpoolOptions = {}): Promise<Spool> {
    await mkdir(join(dir, 'inbox'), { recursive: true, mode: 0o700 });
    const lock = takeLock(dir);
    const s = new Spool(dir, lock, { segmentBytes: 16 << 20, rollBytes: 64 << 10, fsync: false, ...options });
    try {
      await s.recover();
    } catch (e) {
      s.release();
      throw e;
    }
    return s;
  }

  private async recover(): Promise<void> {
    try {
      const c = JSON.parse(await readFile(join(this.dir, 'committed'), 'utf8')) as SpoolPosition;
      if (Number.isInteger(c.segment) && Number.isInteger(c.offset) && c.segment > 0 && c.offset >= 0) this.committed = c;
    } catch {
      // No committed file yet: nothing was acknowledged.
    }
    const segs = (await readdir(this.dir)).filter((f) => f.startsWith('segment-') && f.endsWith('.pb'))
      .map((f) => Number(f.slice(8, -3))).filter((n) => Number.isInteger(n) && n > 0).sort((a, b) => a - b);
    for (const n of segs) {
      if (n < this.committed.segment) {
        await unlink(join(this.dir, segName(n)));
        continue;
      }
      this.sizes.set(n, (await stat(join(this.dir, segName(n)))).size);
    }
    const last = segs.length > 0 ? Math.max(segs[segs.length - 1], this.committed.segment) : this.committed.segment;
    // A crash mid-append leaves a torn record at the end of the last segment: cut it off.
    const lastSize = this.sizes.get(last);
    if (lastSize !== undefined) {
      const from = last === this.committed.segment ? Math.min(this.committed.offset, lastSize) : 0;
      const tail = await readFile(join(this.dir, segName(last)));
      const whole = from + splitDelimited(tail.subarray(from)).complete;
      if (whole < lastSize) {
        await truncate(join(this.dir, segName(last)), whole);
        this.sizes.set(last, whole);
      }
    }
    await this.openWriter(last);
  }

  private async openWriter(seg: number): Promise<void> {
    this.writer = await open(join(this.dir, segName(seg)), 'a', 0o600);
    this.writerSeg = seg;
    if (!this.sizes.has(seg)) this.sizes.set(seg, 0);
  }

  /** Runs `f` after every write queued before it: appends, rolls and inbox moves never overlap. */
  private serial<T>(f: () => Promise<T>): Promise<T> {
    const p = this.chain.then(f);
    this.chain = p.catch(() => undefined);
    return p;
  }

  /** Appends whole records (one write). */
  append(batch: readonly Uint8Array[]): Promise<void> {
    return this.serial(() => this.appendBuffer(delimited(batch)));
  }

  private async appendBuffer(buf: Buffer): Promise<void> {
    if (this.closed || !this.writer) throw new Error('spool closed');
    if ((this.sizes.get(this.writerSeg) ?? 0) >= this.opts.segmentBytes) await this.roll();
    const w = this.writer as FileHandle;
    let off = 0;
    while (off < buf.length) off += (await w.write(buf, off, buf.length - off)).bytesWritten;
    if (this.opts.fsync) await w.datasync();
    this.sizes.set(this.writerSeg, (this.sizes.get(this.writerSeg) ?? 0) + buf.length);
  }

  private async roll(): Promise<void> {
    await this.writer?.close();
    await this.openWriter(this.writerSeg + 1);
  }

  /** Bytes appended and not yet acknowledged. */
  get pendingBytes(): number {
    let n = 0;
    for (const [seg, size] of this.sizes) {
      if (seg > this.committed.segment) n += size;
      else if (seg === this.committed.segment) n += Math.max(0, size - this.committed.offset);
    }
    return n;
  }

  get position(): SpoolPosition {
    return { ...this.committed };
  }

  /**
   * The next records after the committed position (up to `maxRecords`, from one segment),
   * with the position just past them; null when everything is acknowledged.
   */
  async next(maxRecords: number, maxBytes = 1 << 20): Promise<{ records: Uint8Array[]; end: SpoolPosition } | null> {
    for (;;) {
      const { segment, offset } = this.committed;
      const size = this.sizes.get(segment) ?? 0;
      if (offset >= size) {
        if (segment >= this.writerSeg) return null;
        await this.commit({ segment, offset: size });
        continue;
      }
      const len = Math.min(size - offset, maxBytes);
      const buf = Buffer.allocUnsafe(len);
      const fh = await open(join(this.dir, segName(segment)), 'r');
      try {
        let got = 0;
        while (got < len) {
          const { bytesRead } = await fh.read(buf, got, len - got, offset + got);
          if (bytesRead === 0) break;
          got += bytesRead;
        }
      } finally {
        await fh.close();
      }
      const { records, complete } = splitDelimited(buf);
      if (records.length === 0) {
        if (len < maxBytes) {
          // Not a whole record in what is confirmed written: damaged on disk. Skip the rest
          // of this segment rather than block every later event.
          await this.commit({ segment, offset: size });
          throw new Error(`spool ${segName(segment)}: unreadable record at offset ${offset}; skipped ${size - offset} bytes`);
        }
        maxBytes *= 4;
        continue;
      }
      const take = records.length > maxRecords ? records.slice(0, maxRecords) : records;
      const last = take[take.length - 1];
      const end = take === records ? offset + complete : offset + (last.byteOffset - buf.byteOffset) + last.length;
      return { records: take, end: { segment, offset: end } };
    }
  }

  /** Everything before `pos` is acknowledged: persist that, and drop what is wholly behind it. */
  commit(pos: SpoolPosition): Promise<void> {
    return this.serial(async () => {
      let p = pos;
      // At the end of a finished segment: move on to the next one.
      while (p.segment < this.writerSeg && p.offset >= (this.sizes.get(p.segment) ?? 0)) p = { segment: p.segment + 1, offset: 0 };
      // Caught up on a grown current segment: start a fresh one, so this one can go.
      if (p.segment === this.writerSeg && p.offset >= (this.sizes.get(p.segment) ?? 0) && p.offset >= this.opts.rollBytes) {
        await this.roll();
        p = { segment: this.writerSeg, offset: 0 };
      }
      const tmp = join(this.dir, `committed.${randomBytes(4).toString('hex')}.tmp`);
      await writeFile(tmp, JSON.stringify(p));
      await rename(tmp, join(this.dir, 'committed'));
      this.committed = p;
      for (const seg of [...this.sizes.keys()]) {
        if (seg < p.segment) {
          this.sizes.delete(seg);
          await unlink(join(this.dir, segName(seg))).catch(() => undefined);
        }
      }
    });
  }

  /** Moves the inbox's files into the spool (oldest first); returns how many records. */
  ingestInbox(): Promise<number> {
    return this.serial(async () => {
      const inbox = join(this.dir, 'inbox');
      const files = (await readdir(inbox).catch(() => [] as string[])).filter((f) => f.endsWith('.pb')).sort();
      let n = 0;
      for (const f of files) {
        const path = join(inbox, f);
        const data = await readFile(path);
        const { records, complete } = splitDelimited(data);
        if (complete > 0) await this.appendBuffer(data.subarray(0, complete));
        n += records.length;
        // Appended, then removed: a crash between the two publishes these twice, with the
        // same event ids, which JetStream de-duplicates.
        await unlink(path);
      }
      return n;
    });
  }

  private release(): void {
    try {
      unlinkSync(this.lock);
    } catch {
      // Already gone.
    }
  }

  async close(): Promise<void> {
    await this.serial(async () => {
      this.closed = true;
      await this.writer?.close();
      this.writer = null;
    });
    this.release();
  }
}

/**
 * For a process that does not own the spool (the manual CLI while the switch runs): the
 * records go into the inbox as one whole file (written aside, then renamed), and the
 * owner moves them into its spool.
 */
export async function dropInInbox(dir: string, batch: readonly Uint8Array[]): Promise<string> {
  const inbox = join(dir, 'inbox');
  await mkdir(inbox, { recursive: true, mode: 0o700 });
  const name = `${Date.now().toString().padStart(15, '0')}-${process.pid}-${randomBytes(4).toString('hex')}`;
  const tmp = join(inbox, `.${name}.tmp`);
  await writeFile(tmp, delimited(batch));
  await rename(tmp, join(inbox, `${name}.pb`));
  return join(inbox, `${name}.pb`);
}
