/**
 * A message kept for later (a reversal to build after a crash, a repeat to resend, a
 * refund after cutover) is stored sealed: only the fields its standard needs later
 * (Profile.keptFields, plus what a dialect file keeps by name and reason) survive, the PAN
 * (F2, and F34, the extended PAN) is encrypted, and the rest is dropped. So a CVV2 in
 * F48, a PAN in free text, track, PIN and ICC data never reach the disk (PCI DSS 3.3.1,
 * 3.5.1). Free text that must be kept (F43, the card acceptor's name and location) has
 * any PAN-like digit run masked to its first 6 and last 4; a structured field (F90, F56,
 * UnionPay F60) is kept only when it parses.
 *
 * Format 2: `{"v":2,"k":KEYID,"mti":...,"3":...,"pan":SEALED,"f34":SEALED}`, each sealed
 * value bound (AAD) to the row it belongs to and its field, so a value copied into
 * another row does not open. The first format (no "v", everything but track/PIN/ICC
 * data, the PAN under k0 without AAD) still opens, and ./resealer.ts rewrites it.
 */
import {
  CUP, ISO87, ISO93, messageFromJson, parseCup60, parseCup61, parseF56, parseF90, parseF95, profileOf, type Dialect, type IsoMessage, type PartKind,
} from '../../codec/index.js';
import type { CardKeys } from './secrets.js';

/** Track 2, track 3, track 1, PIN block, and the ICC data that may carry tag 57 (track 2 equivalent). */
export const SENSITIVE_FIELDS: readonly number[] = [35, 36, 45, 52, 55];
/** Encrypted, each under its own name in the sealed JSON. */
const SEALED_FIELDS: readonly (readonly [number, string])[] = [[2, 'pan'], [34, 'f34']];
export const SEALED_FORMAT = 2;

/** Free text by its field number, where a PAN may be typed by hand: what is kept of it is masked. */
function isFreeText(n: number): boolean {
  return n === 34 || (n >= 43 && n <= 48) || (n >= 54 && n <= 63) || (n >= 102 && n <= 127) || n >= 129;
}

/** The parser of each structured kind a kept field may have (TLV, ICC data, is never kept). */
const PARSERS: Partial<Record<PartKind, (v: string) => unknown>> = {
  f90: parseF90, f56: parseF56, f95: parseF95, cup60: parseCup60, cup61: parseCup61,
};

/** What is kept of a message in one dialect, computed once per dialect. */
export interface KeptForm {
  /** Plain fields kept, ascending. */
  readonly plain: readonly number[];
  /** Of those, free text: PAN-like runs masked. */
  readonly masked: ReadonlySet<number>;
  /** Structured fields kept only when well-formed (UnionPay F60, F61): otherwise dropped. */
  readonly checked: ReadonlyMap<number, (v: string) => unknown>;
  readonly sealed: readonly (readonly [number, string])[];
}

const forms = new WeakMap<Dialect, KeptForm>();

/**
 * Without a dialect (a reversal queued for an upstream this process does not have): what
 * every standard keeps, nothing more.
 */
const STRICT: KeptForm = (() => {
  const lists = [ISO87, ISO93, CUP].map((p) => p.keptFields);
  const plain = lists[0].filter((n) => lists.every((l) => l.includes(n)) && !SEALED_FIELDS.some(([s]) => s === n));
  return { plain, masked: new Set(plain.filter(isFreeText)), checked: new Map(), sealed: SEALED_FIELDS };
})();

export function keptFormOf(dialect: Dialect | undefined): KeptForm {
  if (dialect === undefined) return STRICT;
  let f = forms.get(dialect);
  if (f !== undefined) return f;
  const profile = profileOf(dialect);
  const wanted = new Set<number>([...profile.keptFields, ...Object.keys(dialect.spec.keep ?? {}).map(Number)]);
  const plain = [...wanted]
    .filter((n) => dialect.fields[n] !== undefined && !SENSITIVE_FIELDS.includes(n) && !SEALED_FIELDS.some(([s]) => s === n))
    .sort((a, b) => a - b);
  // A structured field (F90, F95, F56, UnionPay F60/F61) is kept whole when it parses: its
  // digits are the original's keys, which masking would destroy; free text never parses so.
  const checked = new Map<number, (v: string) => unknown>();
  for (const n of plain) {
    const kind = dialect.field(n)?.parts;
    const parse = kind === undefined ? undefined : PARSERS[kind];
    if (parse !== undefined) checked.set(n, parse);
  }
  f = {
    plain,
    masked: new Set(plain.filter((n) => isFreeText(n) && !checked.has(n) && dialect.fields[n]?.spec.type !== 'b')),
    checked,
    sealed: SEALED_FIELDS.filter(([n]) => wanted.has(n) && dialect.fields[n] !== undefined),
  };
  forms.set(dialect, f);
  return f;
}

/** 13 or more digits, single spaces or dashes between them: a PAN as people type it. */
const PAN_LIKE = /\d(?:[ -]?\d){12,}/g;

/** Every PAN-like run in `text` with all but its first 6 and last 4 digits replaced by '*'; same length. */
export function maskPanRuns(text: string): string {
  return text.replace(PAN_LIKE, (run) => {
    let digits = 0;
    let total = 0;
    for (let i = 0; i < run.length; i++) if (run.charCodeAt(i) >= 48 && run.charCodeAt(i) <= 57) total++;
    let out = '';
    for (let i = 0; i < run.length; i++) {
      const c = run[i];
      if (c < '0' || c > '9') { out += c; continue; }
      out += digits < 6 || digits >= total - 4 ? c : '*';
      digits++;
    }
    return out;
  });
}

/**
 * What a reversals row's sealed messages are bound to: its transaction (a refund's original
 * is the transaction's own sealed request, moved as it is), or the reversal itself.
 */
export function sealBinding(row: { id: string; txnId: string | null }): string {
  return row.txnId ?? row.id;
}

/** The AAD of a sealed field: its row's binding (the transaction id, or the reversal's own) and the field. */
function aadOf(bind: string, name: string): string {
  return `revswitch sealed 2|${bind}|${name}`;
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

/**
 * The kept form of `msg` in `dialect` (the dialect it is encoded in), sealed for the row
 * `bind` names. Built as text: the version and key id lead, so the store can find rows
 * that are not current by a prefix (JSON.stringify puts number keys first).
 */
export function sealMessage(dialect: Dialect | undefined, msg: IsoMessage, keys: CardKeys, bind: string): string {
  const form = keptFormOf(dialect);
  let out = `{"v":${SEALED_FORMAT},"k":${JSON.stringify(keys.currentKeyId)},"mti":${JSON.stringify(msg.mti)}`;
  if (msg.tpdu) out += `,"tpdu":"${hex(msg.tpdu)}"`;
  if (msg.header) out += `,"header":"${hex(msg.header)}"`;
  const values = msg.values;
  for (const n of form.plain) {
    const raw = values[n];
    if (raw === undefined) continue;
    let v = typeof raw === 'string' ? raw : hex(raw);
    const check = form.checked.get(n);
    if (check !== undefined) {
      try {
        check(v);
      } catch {
        continue;
      }
    }
    if (form.masked.has(n)) v = maskPanRuns(v);
    out += `,"${n}":${JSON.stringify(v)}`;
  }
  for (const [n, name] of form.sealed) {
    const raw = values[n];
    if (raw === undefined) continue;
    out += `,"${name}":"${keys.seal(typeof raw === 'string' ? raw : hex(raw), aadOf(bind, name))}"`;
  }
  return out + '}';
}

/** Whether a sealed message is in the current format under the current key (nothing to re-seal). */
export function isCurrentSealed(sealed: string, keys: CardKeys): boolean {
  return sealed.startsWith(`{"v":${SEALED_FORMAT},"k":${JSON.stringify(keys.currentKeyId)},`);
}

/** The key id a sealed message's leading prefix names ("k0" for the first format, which names none). */
export function sealedKeyId(sealed: string): string {
  const m = /^\{"v":\d+,"k":"(k\d+)"/.exec(sealed);
  return m === null ? 'k0' : m[1];
}

export function unsealMessage(dialect: Dialect, sealed: string, keys: CardKeys, bind: string): IsoMessage {
  const json = JSON.parse(sealed) as Record<string, unknown>;
  const v2 = json.v === SEALED_FORMAT;
  if (!v2 && json.v !== undefined) throw new Error(`sealed message: unknown format ${JSON.stringify(json.v)}`);
  delete json.v;
  delete json.k;
  for (const [n, name] of SEALED_FIELDS) {
    const s = json[name];
    delete json[name];
    if (typeof s === 'string') json[String(n)] = keys.open(s, aadOf(bind, name));
  }
  return messageFromJson(dialect, json);
}

/** A plain (not encrypted) field of a sealed message, without opening the PAN: F7, F3, the MTI. */
export function sealedField(sealed: string, n: number | 'mti'): string | undefined {
  const v = (JSON.parse(sealed) as Record<string, unknown>)[String(n)];
  return typeof v === 'string' ? v : undefined;
}

/**
 * The sealed message with a plain field set (a refund's original carries its approval's
 * F38): no key needed, the PAN stays sealed. Never for sensitive or sealed fields.
 */
export function withSealedField(sealed: string, n: number, value: string): string {
  if (SEALED_FIELDS.some(([s]) => s === n) || SENSITIVE_FIELDS.includes(n)) throw new Error(`field ${n} is never kept in the clear`);
  if (!sealed.startsWith('{"v":')) {
    const json = JSON.parse(sealed) as Record<string, unknown>;
    json[String(n)] = value;
    return JSON.stringify(json);
  }
  // Keep the leading version and key id (the resealer's prefix); number keys after them.
  const json = JSON.parse(sealed) as Record<string, unknown>;
  json[String(n)] = value;
  const { v, k, ...rest } = json;
  return `{"v":${JSON.stringify(v)},"k":${JSON.stringify(k)},` + JSON.stringify(rest).slice(1);
}
