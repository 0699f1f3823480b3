/**
 * The FrameReader fed a byte stream cut into arbitrary chunks. Input: a framing selector,
 * a max-frame selector, a byte seeding where the chunks are cut, a flag byte (odd: the
 * frame callback throws on every other frame, as a failing handler would), then the stream.
 *
 * Property: push() throws only IsoError (offset inside the stream, no card number in the
 * message), and once it has thrown it rethrows the same error; the frames, keep-alives and
 * error are the same however the stream is cut, and the same as pushing it whole; no body
 * is longer than the max frame; every body frames and unframes back to itself.
 */
import { isDeepStrictEqual } from 'node:util';
import { FRAMINGS, FrameReader, frame, IsoError, unframe, type FramingName } from '../../../codec/index.js';
import { Rng } from '../rng.js';
import { checkOwnError, must, ownErrors, PropertyFailure, type FuzzTarget } from '../target.js';

export const STREAM_FRAMINGS: readonly FramingName[] = FRAMINGS.filter((f) => f !== 'none');
export const MAX_FRAMES: readonly number[] = [8192, 0, 1, 2, 16, 255, 256, 9999, 65535, 70000];
export const HEAD = 4;

/** A handler's own failure; the caller catches it and pushes on. */
class HandlerFailed extends Error {}

type Event = ['frame', string] | ['keepalive'] | ['error', string, number];

function feed(framing: FramingName, maxFrame: number, chunks: readonly Buffer[], throwing: boolean): Event[] {
  const events: Event[] = [];
  let frames = 0;
  const reader = new FrameReader(framing, {
    maxFrame,
    onFrame: (body) => {
      must(body.length <= maxFrame, `a ${body.length}-byte body passed the max frame of ${maxFrame}`);
      events.push(['frame', body.toString('hex')]);
      if (throwing && frames++ % 2 === 0) throw new HandlerFailed('handler failed');
    },
    onKeepAlive: () => events.push(['keepalive']),
  });
  let pushed = 0;
  for (const chunk of chunks) {
    pushed += chunk.length;
    let next = chunk;
    for (;;) {
      try {
        reader.push(next);
        break;
      } catch (e) {
        if (e instanceof HandlerFailed) {
          // The rest of the chunk was kept: an empty push carries on from there.
          next = Buffer.alloc(0);
          continue;
        }
        if (e instanceof PropertyFailure) throw e;
        const err = checkOwnError(e, [IsoError], { noCardNumbers: true }) as IsoError;
        must(err.offset >= 0 && err.offset <= pushed, `IsoError offset ${err.offset} outside the ${pushed} bytes pushed`);
        events.push(['error', err.message, err.offset]);
        let again: unknown = null;
        try {
          reader.push(Buffer.from([0]));
        } catch (e2) {
          again = e2;
        }
        must(again === e, 'a poisoned reader did not rethrow the same error');
        return events;
      }
    }
    must(reader.pending <= pushed, `pending ${reader.pending} is more than the ${pushed} bytes pushed`);
  }
  return events;
}

/** Cuts `stream` at places the seed picks: empty chunks, single bytes and long runs all occur. */
function cut(stream: Buffer, seed: number): Buffer[] {
  const rng = new Rng(seed);
  const out: Buffer[] = [];
  let at = 0;
  while (at < stream.length) {
    const n = rng.oneIn(8) ? 0 : rng.oneIn(3) ? rng.between(1, 3) : rng.below(stream.length - at + 1);
    out.push(stream.subarray(at, at + n));
    at += n;
  }
  return out;
}

export const target: FuzzTarget = {
  name: 'framing',
  about: 'the frame reader over every framing, the stream cut into arbitrary chunks',
  maxLen: 16384,
  dictionary: [
    Buffer.from([0, 0]), Buffer.from([0, 4]), Buffer.from([0xff, 0xff]), Buffer.from([0, 0, 0, 0]), Buffer.from([0, 1, 0, 0]),
    Buffer.from([0x80, 0, 0, 0]), '0000', '0004', '9999', Buffer.from([0x99, 0x99]), Buffer.from([0x00, 0x12]), Buffer.from([0, 2]),
  ],
  run(input: Buffer): void {
    const framing = STREAM_FRAMINGS[(input[0] ?? 0) % STREAM_FRAMINGS.length];
    const maxFrame = MAX_FRAMES[(input[1] ?? 0) % MAX_FRAMES.length];
    const seed = input[2] ?? 0;
    const throwing = ((input[3] ?? 0) & 1) === 1;
    const stream = Buffer.from(input.subarray(HEAD));
    const whole = feed(framing, maxFrame, [stream], throwing);
    const split = feed(framing, maxFrame, cut(stream, seed), throwing);
    if (!isDeepStrictEqual(split, whole)) {
      throw new PropertyFailure(`${framing}: cutting the stream into chunks changed what the reader gives (${split.length} events, whole ${whole.length})`);
    }
    for (const e of whole) {
      if (e[0] !== 'frame') continue;
      const body = Buffer.from(e[1], 'hex');
      const framed = ownErrors([IsoError], () => frame(framing, body));
      if (framed.ok) must(unframe(framing, framed.value).equals(body), `${framing}: unframe(frame(body)) is not the body`);
    }
  },
};
