import t from 'tap';
import fc from 'fast-check';
import { IsoError } from '../codec/errors.js';
import {
  FRAMINGS, FrameReader, frame, getFraming, unframe,
  type FrameReaderOptions, type FramingName,
} from '../codec/framing.js';
import { formatTpdu, parseTpdu, swapTpdu } from '../codec/tpdu.js';

/** The assertions throwsIso needs; satisfied by the root test and every subtest. */
interface T {
  ok(value: unknown, message: string): unknown;
  equal(found: unknown, wanted: unknown, message: string): unknown;
  fail(message: string): unknown;
}

/** Asserts fn throws an IsoError with this site, reason and (optionally) offset. */
function throwsIso(tt: T, fn: () => unknown, site: string, reason: string, offset?: number): void {
  try {
    fn();
  } catch (e) {
    tt.ok(e instanceof IsoError, 'is an IsoError');
    if (e instanceof IsoError) {
      tt.equal(e.site, site, 'site');
      tt.equal(e.reason, reason, 'reason');
      if (offset !== undefined) tt.equal(e.offset, offset, 'offset');
    }
    return;
  }
  tt.fail(`expected IsoError: ${reason}`);
}

const hex = (s: string): Buffer => Buffer.from(s.replace(/ /g, ''), 'hex');
const body = Buffer.from('0800822000000000000004000000000000000000000001', 'ascii');

/** Collects reader output; bodies are kept as delivered so later reuse would show. */
function collector(framing: FramingName, opts: Partial<FrameReaderOptions> = {}) {
  const frames: Buffer[] = [];
  let keepAlives = 0;
  const reader = new FrameReader(framing, {
    onFrame: (b) => frames.push(b),
    onKeepAlive: () => keepAlives++,
    ...opts,
  });
  return { reader, frames, keepAlives: () => keepAlives };
}

t.test('vectors: frame() and unframe() for every named framing', async (t) => {
  const n = body.length; // 46 = 0x2e
  t.equal(n, 46);
  const vectors: [FramingName, string][] = [
    ['len2', '002e'],
    ['len4a', Buffer.from('0046').toString('hex')],
    ['len2bcd', '0046'],
    ['len4', '0000002e'],
    ['len2incl', '0030'], // 46 + its own 2 bytes
    ['vap', '002e 0000'],
    ['none', ''],
  ];
  t.same(vectors.map((v) => v[0]).sort(), [...FRAMINGS].sort(), 'every framing has a vector');
  for (const [name, prefix] of vectors) {
    const framed = frame(name, body);
    t.same(framed, Buffer.concat([hex(prefix), body]), `${name} frame`);
    t.same(unframe(name, framed), body, `${name} unframe`);
    t.equal(getFraming(name).prefixBytes, hex(prefix).length, `${name} prefixBytes`);
  }
  t.same(frame('len2bcd', Buffer.alloc(1234)).subarray(0, 2), hex('1234'), 'BCD digits');
  t.same(frame('len4a', Buffer.alloc(7)).subarray(0, 4), Buffer.from('0007'), 'ASCII digits');
  t.same(frame('len2', Buffer.alloc(0x1234)).subarray(0, 2), hex('1234'), 'big-endian');
  t.same(frame('len4', Buffer.alloc(0x10203)).subarray(0, 4), hex('00010203'), 'len4 big-endian');
  t.same(frame('len2incl', Buffer.alloc(0)), hex('0002'), 'len2incl keep-alive');
  t.same(frame('vap', Buffer.alloc(0x101)).subarray(0, 4), hex('0101 0000'), 'vap reserved zeros');
  t.same(getFraming('len2bcd').readLength(hex('9999'), 0), 9999);
  t.same(getFraming('len4').readLength(hex('ffffffff'), 0), 0xffffffff, 'len4 top bit is not a sign');
  t.same(getFraming('len2').readLength(hex('aa 0102'), 1), 0x102, 'reads at an offset');
});

t.test('unframe returns a subarray, none passes bytes through', async (t) => {
  const framed = frame('len2', body);
  const out = unframe('len2', framed);
  t.equal(out.buffer, framed.buffer);
  t.equal(out.byteOffset, framed.byteOffset + 2);
  const raw = Uint8Array.from(body);
  t.equal(frame('none', raw).buffer, raw.buffer, 'frame none does not copy');
  t.equal(unframe('none', raw).buffer, raw.buffer, 'unframe none does not copy');
});

t.test('errors', async (t) => {
  throwsIso(t, () => getFraming('len3'), 'frame',
    'unknown framing "len3"; expected one of len2, len4a, len2bcd, len4, len2incl, vap, none', -1);
  throwsIso(t, () => unframe('len4a', Buffer.from('01A3xyz')), 'frame', 'non-numeric length prefix byte 0x41', 2);
  throwsIso(t, () => unframe('len4a', Buffer.from(' 123')), 'frame', 'non-numeric length prefix byte 0x20', 0);
  throwsIso(t, () => unframe('len2bcd', hex('01 2a')), 'frame', 'invalid BCD length prefix byte 0x2a', 1);
  throwsIso(t, () => unframe('len2bcd', hex('a0 00')), 'frame', 'invalid BCD length prefix byte 0xa0', 0);
  throwsIso(t, () => unframe('vap', hex('0001 0100 ff')), 'frame',
    'VAP header reserved bytes must be zero, got 0x01 0x00', 2);
  throwsIso(t, () => unframe('len2incl', hex('0001')), 'frame', 'length prefix 1 is less than its own 2 bytes', 0);
  throwsIso(t, () => unframe('len2incl', hex('0000')), 'frame', 'length prefix 0 is less than its own 2 bytes', 0);

  throwsIso(t, () => frame('len2', Buffer.alloc(0x10000)), 'frame', 'body length 65536 exceeds max 65535 for framing len2');
  throwsIso(t, () => frame('len2incl', Buffer.alloc(0xfffe)), 'frame',
    'body length 65534 exceeds max 65533 for framing len2incl');
  throwsIso(t, () => frame('len4a', Buffer.alloc(10000)), 'frame', 'body length 10000 exceeds max 9999 for framing len4a');
  throwsIso(t, () => frame('len2bcd', Buffer.alloc(10000)), 'frame',
    'body length 10000 exceeds max 9999 for framing len2bcd');
  throwsIso(t, () => frame('vap', Buffer.alloc(0x10000)), 'frame', 'body length 65536 exceeds max 65535 for framing vap');
  t.equal(frame('len2incl', Buffer.alloc(0xfffd)).readUInt16BE(0), 0xffff, 'len2incl max fits');
  throwsIso(t, () => getFraming('len2').writePrefix(Buffer.alloc(2), 0, -1), 'frame', 'invalid body length -1');

  throwsIso(t, () => unframe('len2', hex('0005 0102')), 'frame',
    'truncated frame: prefix declares 5 body bytes, got 2', 4);
  throwsIso(t, () => unframe('len2', hex('0002 010203')), 'frame',
    'trailing bytes: prefix declares 2 body bytes, got 3', 4);
  throwsIso(t, () => unframe('len4', hex('0000')), 'frame', 'truncated length prefix: need 4 bytes, have 2', 0);
  throwsIso(t, () => unframe('vap', new Uint8Array(0)), 'frame', 'truncated length prefix: need 4 bytes, have 0', 0);

  throwsIso(t, () => new FrameReader('none', { onFrame: () => {} }), 'frame', 'framing none cannot split a stream', -1);
});

t.test('reader: maxFrame exceeded poisons the reader', async (t) => {
  const { reader, frames } = collector('len2', { maxFrame: 8192 });
  reader.push(Buffer.concat([frame('len2', body), frame('len2', body)]));
  const bad = Buffer.concat([hex('2328'), Buffer.alloc(100)]); // 0x2328 = 9000
  let first: unknown;
  try {
    reader.push(bad);
  } catch (e) {
    first = e;
  }
  t.ok(first instanceof IsoError);
  t.equal((first as IsoError).reason, 'frame length 9000 exceeds max 8192');
  t.equal((first as IsoError).offset, 96, 'stream offset of the bad prefix');
  t.equal((first as IsoError).message, 'frame: frame length 9000 exceeds max 8192 at offset 96');
  t.equal(reader.pending, 0, 'nothing of the oversized frame was buffered');
  t.equal(frames.length, 2);

  t.throws(() => reader.push(frame('len2', body)), first as IsoError, 'poisoned: same error');
  try {
    reader.push(Buffer.alloc(0));
  } catch (e) {
    t.equal(e, first, 'the very same error object');
  }
  t.equal(frames.length, 2, 'nothing delivered while poisoned');

  reader.reset();
  reader.push(frame('len2', body));
  t.equal(frames.length, 3, 'reset clears the poison');
});

t.test('reader: bad prefix split across chunks reports the stream offset', async (t) => {
  const { reader } = collector('len4a');
  reader.push(Buffer.concat([frame('len4a', body), Buffer.from('00')]));
  throwsIso(t, () => reader.push(Buffer.from('4x')), 'frame', 'non-numeric length prefix byte 0x78', 50 + 3);
  throwsIso(t, () => reader.push(Buffer.from('0000')), 'frame', 'non-numeric length prefix byte 0x78', 53);

  const v = collector('vap');
  v.reader.push(hex('00'));
  throwsIso(t, () => v.reader.push(hex('01 0001')), 'frame', 'VAP header reserved bytes must be zero, got 0x00 0x01', 2);
});

t.test('reader: keep-alives are reported and skipped', async (t) => {
  for (const name of ['len2', 'len2incl', 'len4a', 'vap'] as const) {
    const { reader, frames, keepAlives } = collector(name);
    const ka = frame(name, Buffer.alloc(0));
    reader.push(Buffer.concat([ka, frame(name, body), ka, ka]));
    t.equal(keepAlives(), 3, `${name} keep-alives`);
    t.equal(frames.length, 1, `${name} frames`);
    t.same(frames[0], body);
  }
  t.same(frame('len2incl', Buffer.alloc(0)), hex('0002'));
  const onFrame = (): void => {
    t.fail('keep-alive must not reach onFrame');
  };
  const quiet = new FrameReader('len2incl', { onFrame });
  quiet.push(hex('0002 0002'));
  t.equal(quiet.pending, 0, 'keep-alive without onKeepAlive is just skipped');
});

t.test('reader: zero copy for a frame inside one chunk, fresh copy otherwise', async (t) => {
  const a = Buffer.from('first');
  const b = Buffer.from('second!');
  const c = Buffer.from('third, split');
  const fc3 = frame('len2', c);
  // Buffer.alloc is never pooled, so .buffer identity really means "the same chunk".
  const chunk1 = Buffer.alloc(2 + a.length + 2 + b.length + 5);
  Buffer.concat([frame('len2', a), frame('len2', b), fc3.subarray(0, 5)]).copy(chunk1);
  const chunk2 = Buffer.alloc(fc3.length - 5);
  fc3.copy(chunk2, 0, 5);

  const { reader, frames } = collector('len2');
  reader.push(chunk1);
  t.equal(frames.length, 2);
  t.equal(frames[0].buffer, chunk1.buffer, 'first frame is a view of the chunk');
  t.equal(frames[0].byteOffset, chunk1.byteOffset + 2);
  t.equal(frames[1].buffer, chunk1.buffer, 'second frame is a view of the chunk');
  t.equal(reader.pending, 5, 'prefix and 3 body bytes held');
  reader.push(chunk2);
  t.equal(frames.length, 3);
  t.same(frames[2], c);
  t.not(frames[2].buffer, chunk1.buffer);
  t.not(frames[2].buffer, chunk2.buffer);
  chunk1.fill(0);
  chunk2.fill(0);
  t.same(frames[2], c, 'assembled frame does not alias the chunks');
  t.equal(reader.pending, 0);

  // A prefix split across chunks with the body wholly in the next chunk is still zero copy.
  const chunk3 = Buffer.alloc(1);
  const chunk4 = Buffer.alloc(1 + a.length);
  frame('len2', a).copy(chunk3, 0, 0, 1);
  frame('len2', a).copy(chunk4, 0, 1);
  reader.push(chunk3);
  t.equal(reader.pending, 1, 'half a prefix held');
  reader.push(chunk4);
  t.same(frames[3], a);
  t.equal(frames[3].buffer, chunk4.buffer);
});

t.test('reader: a throwing onFrame leaves the reader in sync', async (t) => {
  const seen: string[] = [];
  const reader = new FrameReader('len2', {
    onFrame: (b) => {
      seen.push(b.toString());
      if (b.toString() === 'boom') throw new Error('handler failed');
    },
  });
  const stream = Buffer.concat(['one', 'boom', 'three'].map((s) => frame('len2', Buffer.from(s))));
  t.throws(() => reader.push(stream), { message: 'handler failed' });
  t.same(seen, ['one', 'boom'], 'throwing frame counted as consumed');
  t.equal(reader.pending, 7, 'rest of the chunk kept');
  reader.push(frame('len2', Buffer.from('four')));
  t.same(seen, ['one', 'boom', 'three', 'four']);
  t.equal(reader.pending, 0);

  // The same for a frame assembled across chunks.
  seen.length = 0;
  const split = Buffer.concat(['boom', 'five'].map((s) => frame('len2', Buffer.from(s))));
  reader.push(split.subarray(0, 3));
  t.throws(() => reader.push(split.subarray(3)), { message: 'handler failed' });
  reader.push(Buffer.alloc(0));
  t.same(seen, ['boom', 'five']);

  // Offsets stay right after the detour through the leftover path.
  throwsIso(t, () => reader.push(hex('ffff')), 'frame', 'frame length 65535 exceeds max 8192',
    stream.length + 6 + split.length);
});

t.test('property: any chunking of any frames yields the same bodies', async (t) => {
  const streamable = FRAMINGS.filter((n) => n !== 'none');
  const arb = fc.record({
    name: fc.constantFrom(...streamable),
    bodies: fc.array(fc.oneof(fc.constant(new Uint8Array(0)), fc.uint8Array({ maxLength: 300 })), { maxLength: 20 }),
    sizes: fc.array(fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 700 })), { minLength: 1, maxLength: 30 }),
  });
  fc.assert(
    fc.property(arb, ({ name, bodies, sizes }) => {
      const stream = Buffer.concat(bodies.map((b) => frame(name, b)));
      const { reader, frames, keepAlives } = collector(name, { maxFrame: 300 });
      for (let pos = 0, i = 0; pos < stream.length; i++) {
        const n = sizes[i % sizes.length];
        reader.push(Buffer.from(stream.subarray(pos, pos + n))); // own copy per chunk, as a socket gives
        pos += n;
      }
      const nonEmpty = bodies.filter((b) => b.length > 0);
      return reader.pending === 0
        && keepAlives() === bodies.length - nonEmpty.length
        && frames.length === nonEmpty.length
        && frames.every((f, i) => Buffer.compare(f, nonEmpty[i]) === 0);
    }),
    { numRuns: 500 },
  );
  t.pass('500 random chunkings delivered every body in order');
  fc.assert(
    fc.property(fc.constantFrom(...FRAMINGS), fc.uint8Array({ maxLength: 300 }), (name, b) =>
      Buffer.compare(unframe(name, frame(name, b)), b) === 0),
  );
  t.pass('unframe(frame(b)) is b for every framing');
});

t.test('tpdu', async (t) => {
  const bytes = hex('60 0003 0000');
  t.same(parseTpdu(bytes), { id: 0x60, destination: 3, source: 0 });
  t.same(parseTpdu(hex('ff 60 1234 abcd'), 1), { id: 0x60, destination: 0x1234, source: 0xabcd });
  t.same(formatTpdu({ id: 0x60, destination: 0x1234, source: 0xabcd }), Uint8Array.from(hex('60 1234 abcd')));
  t.same(swapTpdu(hex('60 1234 abcd')), Uint8Array.from(hex('60 abcd 1234')));
  const src = hex('60 0003 0000 0800');
  const swapped = swapTpdu(src);
  t.equal(swapped.length, 5);
  t.not(swapped.buffer, src.buffer, 'swap returns a new array');
  t.same(src.subarray(0, 5), hex('60 0003 0000'), 'input untouched');
  throwsIso(t, () => parseTpdu(hex('60 0003 00')), 'tpdu', 'TPDU needs 5 bytes, have 4', 0);
  throwsIso(t, () => parseTpdu(hex('60 0003 0000'), 2), 'tpdu', 'TPDU needs 5 bytes, have 3', 2);
  throwsIso(t, () => swapTpdu(hex('60')), 'tpdu', 'TPDU needs 5 bytes, have 1', 0);
  throwsIso(t, () => formatTpdu({ id: 0x60, destination: 0x10000, source: 0 }), 'tpdu',
    'TPDU destination 65536 out of range 0..65535', -1);
});
