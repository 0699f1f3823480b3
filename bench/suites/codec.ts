/**
 * Codec throughput: decode and encode of a request, a reversal and a network message in
 * every built-in dialect, and on iso87a the same messages through npm iso_8583.
 *
 * Verified before any timing, recorded as checks (a baseline failure aborts the suite;
 * a failure in another dialect leaves that dialect out and fails the run):
 * - every fixture round-trips through revswitch exactly (decode(encode(m)) == m, and
 *   re-encoding gives the same bytes);
 * - on iso87a, iso_8583 packs the same field values, its bytes equal ours except for
 *   the secondary bitmap it always emits, each decoder reads the other's bytes back to
 *   the same values, and packing leaves its input untouched;
 * - revswitch's strict validation is on (a bad digit is rejected on decode and encode).
 * Both decoders are timed on the same bytes (revswitch's encoding). Both encoders are
 * timed from their own message form: an IsoMessage, and iso_8583's {0: mti, n: value}.
 *
 * The revswitch decode that is timed is `slowedDown(decode)` (bench/lib/slowdown.ts): the
 * plain function, unless REVSWITCH_BENCH_SLOWDOWN_US asks for a regression on purpose
 * (the bench guard's proof that it can fail). The checks use the plain decode.
 */
import {
  decode, DIALECT_NAMES, encode, getDialect, IsoError, IsoMessage,
  type Dialect,
} from '../../codec/index.js';
import { ISO8583_VERSION, isIso8583Error, pack, unpack, type IsoJson } from '../baselines/iso_8583.js';
import { FIXTURES, type Fixture } from '../fixtures/messages.js';
import { BenchCheckError, check, type CaseResult, type Check, type Suite, type SuiteContext, type SuiteOutput, type TargetSpec } from '../lib/suite.js';
import { caseFilterFromEnv, keptIds } from '../lib/options.js';
import { SLOWDOWN_US, slowedDown } from '../lib/slowdown.js';
import { measureGroup, type BenchCase } from '../lib/timing.js';

const BASELINE = 'iso_8583';
const BASELINE_DIALECT = 'iso87a';

/** What the revswitch decode cases time (decided once, when bench/lib/slowdown.ts loads). */
const timedDecode = slowedDown(decode);

/** The issue's targets, on the iso87a request (0200). */
const TARGETS = {
  decodeOps: 1_000_000,
  decodeRatio: 8,
  encodeOps: 1_000_000,
  encodeRatio: 40,
};

interface PlannedCase extends BenchCase {
  name: string;
  variant: string;
  impl: string;
  messageBytes: number;
  baselineId?: string;
}

function caseId(op: string, mti: string, dialect: string, impl: string): string {
  return `${op}/${mti}/${dialect}/${impl}`;
}

/** A message in iso_8583's JSON shape. */
function toIsoJson(m: IsoMessage): IsoJson {
  const out: IsoJson = { 0: m.mti };
  for (const n of m.fieldNumbers()) out[String(n)] = m.get(n) as string;
  return out;
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Which keys differ, without printing values (fixtures are test cards, but still). */
function diffKeys(want: Record<string, string>, got: Record<string, string>): string {
  const keys = new Set([...Object.keys(want), ...Object.keys(got)]);
  const bad = [...keys].filter((k) => want[k] !== got[k]);
  return bad.length === 0 ? 'no difference' : `differs at ${bad.map((k) => (k === '0' || k === 'mti' ? 'mti' : `F${k}`)).join(', ')}`;
}

function verifyRoundTrip(checks: Check[], d: Dialect, f: Fixture): Buffer {
  const label = `${d.name} ${f.msg.mti}`;
  // A copy: encode may return a view of a buffer it reuses, and these bytes are the
  // decode cases' input for the whole run.
  const bytes = Buffer.from(encode(d, f.msg));
  const back = decode(d, bytes);
  check(checks, `round trip ${label}`, sameJson(back.toJSON(), f.msg.toJSON()),
    `decode(encode(m)) ${diffKeys(f.msg.toJSON(), back.toJSON())}`);
  check(checks, `re-encode ${label}`, encode(d, back).equals(bytes), 'encode(decode(bytes)) gives different bytes');
  return bytes;
}

/**
 * iso_8583 carries the same message: same values both ways, same bytes but for the
 * secondary bitmap. Returns iso_8583's packed bytes.
 */
function verifyBaseline(checks: Check[], d: Dialect, f: Fixture, ours: Buffer): Buffer {
  const label = `${BASELINE} ${d.name} ${f.msg.mti}`;
  const data = toIsoJson(f.msg);
  const before = JSON.stringify(data);
  const packed = pack(data);
  if (isIso8583Error(packed)) {
    check(checks, `${label} packs`, false, packed.error);
    throw new Error('unreachable');
  }
  check(checks, `${label} packs`, Buffer.isBuffer(packed), 'getRawMessage() did not return a Buffer');
  check(checks, `${label} leaves its input alone`, JSON.stringify(data) === before, 'pack mutated the message object');

  // Bytes: identical once iso_8583's always-on secondary bitmap is accounted for.
  const needsSecondary = f.msg.fieldNumbers().some((n) => n > 64);
  let comparable = packed;
  if (!needsSecondary) {
    const bitmapAt = 4;
    const secondary = packed.subarray(bitmapAt + 8, bitmapAt + 16);
    check(checks, `${label} empty secondary bitmap`, (packed[bitmapAt] & 0x80) !== 0 && secondary.every((b) => b === 0),
      'expected bit 1 set and an all-zero secondary bitmap');
    comparable = Buffer.concat([packed.subarray(0, bitmapAt + 8), packed.subarray(bitmapAt + 16)]);
    comparable[bitmapAt] &= 0x7f;
  }
  check(checks, `${label} same bytes as revswitch`, comparable.equals(ours),
    `revswitch ${ours.length} bytes, ${BASELINE} ${packed.length} bytes (${comparable.length} without its secondary bitmap); ` +
    `first difference at byte ${firstDifference(comparable, ours)}`);

  // Each decoder reads both encodings to the same values.
  for (const [what, bytes] of [['revswitch bytes', ours], [`${BASELINE} bytes`, packed]] as const) {
    const theirs = unpack(bytes);
    check(checks, `${BASELINE} unpacks ${what} ${d.name} ${f.msg.mti}`,
      !isIso8583Error(theirs) && sameJson(theirs, data),
      isIso8583Error(theirs) ? theirs.error : diffKeys(data, theirs));
    const mine = decode(d, bytes);
    check(checks, `revswitch decodes ${what} ${d.name} ${f.msg.mti}`, sameJson(toIsoJson(mine), data), diffKeys(data, toIsoJson(mine)));
  }
  return packed;
}

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
}

function rejects(fn: () => unknown): boolean {
  try {
    fn();
    return false;
  } catch (e) {
    return e instanceof IsoError;
  }
}

/** Strict validation is what is being measured; prove it is on. */
function verifyStrict(checks: Check[], d: Dialect, f: Fixture, bytes: Buffer): void {
  const amount = f.msg.get(4);
  if (amount === undefined) return;
  const bad = f.msg.clone().set(4, amount.slice(0, -1) + 'A');
  check(checks, `strict encode ${d.name}`, rejects(() => encode(d, bad)), 'a letter in F4 was encoded');
  if (d.name !== BASELINE_DIALECT) return;
  // iso87a is ASCII: find F4's digits in the bytes and turn the last one into a letter.
  const corrupt = Buffer.from(bytes);
  const start = corrupt.indexOf(amount, 0, 'latin1');
  check(checks, `strict decode ${d.name} (locate F4)`, start > 0, 'F4 not found in the encoded bytes');
  corrupt[start + amount.length - 1] = 0x41;
  check(checks, `strict decode ${d.name}`, rejects(() => decode(d, corrupt)), 'a letter in F4 was decoded');
}

function plan(checks: Check[], notes: string[]): PlannedCase[] {
  const cases: PlannedCase[] = [];
  const missing = DIALECT_NAMES.filter((n) => !FIXTURES.has(n));
  if (missing.length > 0) notes.push(`no fixtures for dialect${missing.length > 1 ? 's' : ''} ${missing.join(', ')}: not measured`);

  for (const [name, fixtures] of FIXTURES) {
    // A dialect the codec gets wrong is reported (failed check, exit status 1) and left
    // out, so one broken dialect does not hide the others' figures. The baseline dialect
    // is the exception: without it the suite has no point, so its failures abort.
    const before = cases.length;
    try {
      planDialect(checks, cases, name, fixtures);
    } catch (e) {
      if (name === BASELINE_DIALECT || !(e instanceof BenchCheckError || e instanceof IsoError)) throw e;
      if (e instanceof IsoError) checks.push({ name: `${name} verification`, ok: false, detail: `${e.name}: ${e.message}` });
      cases.length = before;
      notes.push(`dialect ${name} NOT MEASURED: ${e.message}`);
    }
  }
  return cases;
}

function planDialect(checks: Check[], cases: PlannedCase[], name: string, fixtures: readonly Fixture[]): void {
  check(checks, `dialect ${name} exists`, DIALECT_NAMES.includes(name), `codec has ${DIALECT_NAMES.join(', ')}`);
  const d = getDialect(name);
  for (const f of fixtures) {
    const msg = f.msg;
    const mti = msg.mti;
    const bytes = verifyRoundTrip(checks, d, f);
    if (f.kind === 'request') verifyStrict(checks, d, f, bytes);

    let baseDecode: string | undefined;
    let baseEncode: string | undefined;
    if (name === BASELINE_DIALECT) {
      const packed = verifyBaseline(checks, d, f, bytes);
      const data = toIsoJson(msg);
      baseDecode = caseId('decode', mti, name, BASELINE);
      baseEncode = caseId('encode', mti, name, BASELINE);
      cases.push({
        id: baseDecode, name: `decode ${mti}`, variant: name, impl: BASELINE, messageBytes: bytes.length,
        fn: () => unpack(bytes),
      });
      cases.push({
        id: baseEncode, name: `encode ${mti}`, variant: name, impl: BASELINE, messageBytes: packed.length,
        fn: () => pack(data),
      });
    }
    cases.push({
      id: caseId('decode', mti, name, 'revswitch'), name: `decode ${mti}`, variant: name, impl: 'revswitch',
      messageBytes: bytes.length, baselineId: baseDecode,
      fn: () => timedDecode(d, bytes),
    });
    cases.push({
      id: caseId('encode', mti, name, 'revswitch'), name: `encode ${mti}`, variant: name, impl: 'revswitch',
      messageBytes: bytes.length, baselineId: baseEncode,
      fn: () => encode(d, msg),
    });
  }
}

function targets(): TargetSpec[] {
  const dec = caseId('decode', '0200', BASELINE_DIALECT, 'revswitch');
  const enc = caseId('encode', '0200', BASELINE_DIALECT, 'revswitch');
  return [
    { id: 'codec.decode.ops', description: `decode 0200 ${BASELINE_DIALECT}`, caseId: dec, metric: 'opsPerSec', min: TARGETS.decodeOps, unit: 'msg/s' },
    { id: 'codec.decode.ratio', description: `decode 0200 ${BASELINE_DIALECT} vs ${BASELINE}`, caseId: dec, metric: 'ratioVsBaseline', min: TARGETS.decodeRatio, unit: 'x' },
    { id: 'codec.encode.ops', description: `encode 0200 ${BASELINE_DIALECT}`, caseId: enc, metric: 'opsPerSec', min: TARGETS.encodeOps, unit: 'msg/s' },
    { id: 'codec.encode.ratio', description: `encode 0200 ${BASELINE_DIALECT} vs ${BASELINE}`, caseId: enc, metric: 'ratioVsBaseline', min: TARGETS.encodeRatio, unit: 'x' },
  ];
}

function run(ctx: SuiteContext): SuiteOutput {
  const checks: Check[] = [];
  const notes: string[] = [];
  let planned = plan(checks, notes);
  // BENCH_ONLY (the bench guard): every check above still runs; only the timing is cut.
  const only = caseFilterFromEnv();
  if (only) {
    const keep = keptIds(planned, only);
    if (keep.size === 0) throw new Error(`BENCH_ONLY=${only.prefixes.join(',')} selects no codec case`);
    planned = planned.filter((p) => keep.has(p.id));
    notes.push(`BENCH_ONLY=${only.prefixes.join(',')}: measured ${planned.length} cases only (${planned.map((p) => p.id).join(', ')})`);
  }
  const failed = checks.filter((c) => !c.ok).length;
  ctx.log(`codec: ${checks.length - failed} checks passed${failed > 0 ? `, ${failed} FAILED` : ''}; measuring ${planned.length} cases ` +
    `(~${Math.ceil((planned.length * (ctx.timing.warmupMs + ctx.timing.samples * ctx.timing.sampleMs)) / 1000)} s)`);

  let lastPct = -1;
  const measured = measureGroup(planned, ctx.timing, (done, total) => {
    const pct = Math.floor((done / total) * 10) * 10;
    if (pct !== lastPct) { lastPct = pct; ctx.log(`codec: ${pct}%`); }
  });

  const cases: CaseResult[] = planned.map((p, i) => {
    const { id: _id, ...m } = measured[i];
    const c: CaseResult = { id: p.id, name: p.name, variant: p.variant, impl: p.impl, messageBytes: p.messageBytes, ...m };
    if (p.baselineId !== undefined) c.baselineId = p.baselineId;
    return c;
  });
  notes.push(`baseline: npm ${BASELINE} ${ISO8583_VERSION} on ${BASELINE_DIALECT}; both decoders read the same bytes (revswitch's encoding); ` +
    `${BASELINE} encode sizes include the secondary bitmap it always emits`);
  notes.push('revswitch validation is strict (no lax mode exists); verified before timing');
  if (SLOWDOWN_US > 0) notes.push(`REVSWITCH_BENCH_SLOWDOWN_US=${SLOWDOWN_US}: revswitch decode busy-waits ${SLOWDOWN_US} µs a message, on purpose`);
  const measuredIds = new Set(cases.map((c) => c.id));
  return { cases, targets: targets().filter((t) => measuredIds.has(t.caseId)), checks, notes };
}

export const codecSuite: Suite = {
  name: 'codec',
  description: `decode/encode per dialect, iso87a against npm ${BASELINE}`,
  variantLabel: 'dialect',
  baselineName: BASELINE,
  run,
};
