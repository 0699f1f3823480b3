/**
 * The lifecycle event schema, loaded at run time with protobufjs from events.proto.
 *
 * The .proto is the single source of truth and ships next to the compiled code:
 * `npm run build` copies it to dist/switch/observe/events/ (scripts/copy-assets.js). When only
 * `tsc` ran, the source tree's copy is used, so both layouts work.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

/** The kinds, as named in events.proto (the TypeScript side of LifecycleEvent.Kind). */
export const EVENT_KINDS = [
  'RECEIVED', 'FORWARDED', 'ANSWERED', 'TIMED_OUT', 'LATE_RESPONSE', 'REVERSAL_QUEUED', 'REVERSAL_SENT',
  'REVERSAL_ACKED', 'REVERSAL_MANUAL', 'MANUAL_RESOLVED', 'REVERSAL_CANCELLED', 'RECOVERED', 'UNDELIVERABLE',
  'NOT_SENT', 'DECIDED', 'REVERSED_BY_TERMINAL', 'REVERSAL_RETRY', 'VELOCITY_ALERT',
  'REFUND_QUEUED', 'REFUND_SENT', 'REFUND_RETRY', 'REFUND_ACKED', 'REFUND_MANUAL',
] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

/** One event as the switch builds it; `eventId`, `timeMs` and `node` are filled in by the bus when absent. */
export interface LifecycleEventInput {
  kind: EventKind;
  eventId?: string;
  timeMs?: number;
  node?: string;
  txnId: string;
  reversalId?: string;
  terminal?: string;
  merchant?: string;
  acquirer?: string;
  stan?: string;
  f7?: string;
  rrn?: string;
  mti?: string;
  /** Masked only (6 + 4): never a full PAN. */
  panMasked?: string;
  panHash?: string;
  amountMinor?: number;
  currency?: string;
  responseCode?: string;
  failureClass?: string;
  decisionAction?: string;
  decisionExplanation?: string;
  decisionRule?: string;
  txnState?: string;
  reversalAttempt?: number;
  reversalState?: string;
  reversalReason?: string;
  finalAmountMinor?: number;
  upstreamStan?: string;
  listener?: string;
  upstream?: string;
  businessDate?: string;
  note?: string;
  originalTxnId?: string;
}

export const PROTO_PACKAGE = 'revswitch.events.v1';
export const EVENT_TYPE = `${PROTO_PACKAGE}.LifecycleEvent`;

/** Where events.proto is: next to this module (dist after `npm run build`), else in the source tree. */
export function protoPath(): string {
  const here = fileURLToPath(new URL('./events.proto', import.meta.url));
  if (existsSync(here)) return here;
  const source = fileURLToPath(new URL('../../../../switch/observe/events/events.proto', import.meta.url));
  if (existsSync(source)) return source;
  throw new Error(`events.proto not found next to ${fileURLToPath(import.meta.url)} (run npm run build, which copies it)`);
}

export interface EventSchema {
  type: protobuf.Type;
  /** Kind name to its number in the .proto. */
  kinds: Record<EventKind, number>;
  /** The encoded event (no length prefix). */
  encode(e: LifecycleEventInput): Uint8Array;
  /** Decodes one record into plain values: int64 as number, kind as its name. */
  decode(bytes: Uint8Array): LifecycleEventInput & { eventId: string; timeMs: number; node: string };
}

let loaded: EventSchema | null = null;

/** Loads (once) and checks that every kind the code emits exists in the .proto. */
export function eventSchema(): EventSchema {
  if (loaded) return loaded;
  const root = protobuf.loadSync(protoPath());
  const type = root.lookupType(EVENT_TYPE);
  const kindEnum = root.lookupEnum(`${EVENT_TYPE}.Kind`);
  const kinds = {} as Record<EventKind, number>;
  for (const k of EVENT_KINDS) {
    const n = kindEnum.values[k];
    if (n === undefined) throw new Error(`events.proto: LifecycleEvent.Kind has no ${k}`);
    kinds[k] = n;
  }
  loaded = {
    type,
    kinds,
    encode(e) {
      // protobufjs encodes plain objects directly; only the enum needs its number.
      const msg: Record<string, unknown> = { ...e, kind: kinds[e.kind] };
      return type.encode(msg).finish();
    },
    decode(bytes) {
      return type.toObject(type.decode(bytes), { longs: Number, enums: String }) as ReturnType<EventSchema['decode']>;
    },
  };
  return loaded;
}

/** Splits a length-delimited stream (varint length + message, repeated) into records; a torn tail is left out. */
export function splitDelimited(buf: Uint8Array): { records: Uint8Array[]; complete: number } {
  const records: Uint8Array[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const r = readVarint(buf, pos);
    if (r === null || r.next + r.value > buf.length) break;
    records.push(buf.subarray(r.next, r.next + r.value));
    pos = r.next + r.value;
  }
  return { records, complete: pos };
}

/** A varint at `pos`, or null when the buffer ends inside it (or it is longer than 5 bytes). */
export function readVarint(buf: Uint8Array, pos: number): { value: number; next: number } | null {
  let value = 0;
  let shift = 0;
  for (let i = pos; i < buf.length && i < pos + 5; i++) {
    const b = buf[i];
    value += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return { value, next: i + 1 };
    shift += 7;
  }
  return null;
}

/** The varint length prefix of a record of `n` bytes. */
export function varint(n: number): Buffer {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Buffer.from(out);
}

/** Records, each with its varint length prefix, as one buffer (one write). */
export function delimited(batch: readonly Uint8Array[]): Buffer {
  const parts: Uint8Array[] = [];
  for (const r of batch) parts.push(varint(r.length), r);
  return Buffer.concat(parts);
}
