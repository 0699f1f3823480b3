/**
 * Lifecycle events in the daily file, decoded OUTSIDE Node: a scripted scenario through
 * the real switch (three approved sales, one timeout ..99, one late approval ..68), then
 * the file is split record by record (varint length + message, read here by hand) and
 * each record is fed to Debian's `protoc --decode` on stdin. The fields protoc prints are
 * what is checked: kinds in order, masked PAN only, amounts, codes, the decision.
 *
 * A second check decodes the whole file at once as an EventFile message, as README.md
 * shows (scripts/event-file.js puts the 0x0A tag byte in front of each record).
 *
 * Without protoc the test is skipped, visibly; with CI_REQUIRE_TOOLS set it fails.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { PAN, sale, startHarness } from './support/switch-harness.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const PROTO_DIR = join(ROOT, 'switch', 'observe', 'events');
const MASKED = '476173******0119';

function haveProtoc(): boolean {
  return spawnSync('protoc', ['--version'], { encoding: 'utf8' }).status === 0;
}

/** Records of a length-delimited file, split here independently of the switch's code. */
function splitRecords(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let pos = 0;
  while (pos < buf.length) {
    let len = 0;
    let shift = 0;
    let i = pos;
    for (;;) {
      const b = buf[i++];
      len += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if (b < 0x80) break;
    }
    if (i + len > buf.length) throw new Error(`torn record at offset ${pos}`);
    out.push(buf.subarray(i, i + len));
    pos = i + len;
  }
  return out;
}

/** protoc's text format string: C escapes, octal bytes (UTF-8). */
function unquote(v: string): string {
  const bytes: number[] = [];
  for (let i = 1; i < v.length - 1; i++) {
    const c = v[i];
    if (c !== '\\') {
      bytes.push(...Buffer.from(c, 'utf8'));
      continue;
    }
    const n = v[++i];
    if (n >= '0' && n <= '7') {
      let oct = n;
      while (oct.length < 3 && v[i + 1] >= '0' && v[i + 1] <= '7') oct += v[++i];
      bytes.push(parseInt(oct, 8));
    } else bytes.push(({ n: 10, t: 9, r: 13 } as Record<string, number>)[n] ?? n.charCodeAt(0));
  }
  return Buffer.from(bytes).toString('utf8');
}

type Decoded = Record<string, string>;

/** One record through `protoc --decode`, its text output as field -> value. */
function protocDecode(record: Buffer, type = 'revswitch.events.v1.LifecycleEvent'): { text: string; fields: Decoded } {
  const r = spawnSync('protoc', [`--decode=${type}`, `--proto_path=${PROTO_DIR}`, 'events.proto'], { input: record, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`protoc failed: ${r.stderr}`);
  const fields: Decoded = {};
  for (const line of r.stdout.split('\n')) {
    const m = /^(\w+): (.*)$/.exec(line);
    if (m) fields[m[1]] = m[2].startsWith('"') ? unquote(m[2]) : m[2];
  }
  return { text: r.stdout, fields };
}

const missing = haveProtoc() ? false : 'protoc not installed (apt-get install protobuf-compiler): the event file is not decoded outside Node';
if (missing && process.env.CI_REQUIRE_TOOLS) t.fail(`${missing}; CI_REQUIRE_TOOLS is set, so this fails`);

t.test('the event file of a scripted scenario decodes with protoc, field by field', { skip: missing }, async (tt) => {
  const dir = mkdtempSync(join(tmpdir(), 'revswitch-events-'));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const startedAt = Date.now();
  const h = await startHarness(tt, { issuer: { lateMs: 700 }, events: { file: { dir, fsync: false } } });
  tt.ok(h.bus, 'events configured: the switch has a bus');
  const c = await h.client();

  const approved = [];
  for (const amount of ['1000', '2500', '12345']) {
    const s = sale({ amount });
    const res = await c.request(s);
    tt.equal(res.get(39), '00', `sale ${amount} approved`);
    approved.push(s);
  }
  const timeout = sale({ amount: '1099' });
  tt.equal((await c.request(timeout)).get(39), '91', 'the ..99 sale times out');
  const late = sale({ amount: '2068' });
  tt.equal((await c.request(late)).get(39), '91', 'the ..68 sale times out too; its approval comes late');
  await h.until(() => h.sw.counters.get('late_responses') >= 1, 'the late approval');
  await h.until(() => h.sw.reversals.outstanding === 0, 'every reversal acknowledged');
  await h.bus?.flush();

  const files = readdirSync(dir).filter((f) => /^events-\d{4}-\d{2}-\d{2}\.pb$/.test(f)).sort();
  tt.ok(files.length >= 1, `a daily file: ${files.join(', ')}`);
  const raw = Buffer.concat(files.map((f) => readFileSync(join(dir, f))));
  tt.notOk(raw.includes(Buffer.from(PAN)), 'the full PAN appears nowhere in the file');
  const records = files.flatMap((f) => splitRecords(readFileSync(join(dir, f))));
  const events = records.map((r) => protocDecode(r).fields);
  tt.ok(events.length >= 20, `${events.length} records decoded by protoc`);

  const ids = new Set(events.map((e) => e.event_id));
  tt.equal(ids.size, events.length, 'every event id is unique');
  for (const e of events) {
    const time = Number(e.time_ms);
    if (!(time >= startedAt - 1000 && time <= Date.now() + 1000)) tt.fail(`event time ${e.time_ms} outside the run`);
    if (e.pan_masked !== undefined && e.pan_masked !== MASKED) tt.fail(`unexpected pan_masked ${e.pan_masked}`);
    if (!e.node) tt.fail(`event ${e.event_id} without a node`);
  }

  // Every event of a transaction, by the sale's RRN (its events carry it), in file order.
  const txnOf = (rrn: string): string => events.find((e) => e.rrn === rrn && e.kind === 'FORWARDED')?.txn_id ?? '(none)';
  const of = (rrn: string): Decoded[] => events.filter((e) => e.txn_id === txnOf(rrn));

  for (const s of approved) {
    const ev = of(s.get(37) as string);
    tt.same(ev.map((e) => e.kind), ['RECEIVED', 'FORWARDED', 'ANSWERED'], `approved ${s.get(4)}: received, forwarded, answered`);
    const answered = ev[2];
    tt.equal(answered.response_code, '00');
    tt.equal(answered.failure_class, 'approved');
    tt.equal(answered.amount_minor, String(Number(s.get(4))), 'amount in minor units');
    tt.equal(answered.currency, '840');
    tt.equal(answered.pan_masked, MASKED, 'masked PAN');
    tt.ok(answered.pan_hash && answered.pan_hash.length > 20, 'PAN hash');
    tt.equal(answered.terminal, s.get(41));
    tt.equal(answered.merchant, s.get(42));
    tt.equal(answered.stan, s.get(11), 'the terminal\'s own STAN');
    tt.equal(answered.f7, s.get(7));
    tt.equal(answered.mti, '0200');
    tt.equal(answered.txn_state, 'approved');
    tt.ok(answered.upstream_stan, 'the switch\'s upstream STAN');
  }

  const tev = of(timeout.get(37) as string);
  tt.same(tev.map((e) => e.kind), ['RECEIVED', 'FORWARDED', 'TIMED_OUT', 'REVERSAL_QUEUED', 'REVERSAL_SENT', 'REVERSAL_ACKED'],
    'timeout: received, forwarded, timed out, reversal queued, sent, acked');
  const [, fwd, to, queued, sent, ack] = tev;
  tt.equal(fwd.txn_state, 'forwarded');
  tt.match(fwd.business_date, /^\d{4}-\d{2}-\d{2}$/, 'the business date');
  tt.equal(to.amount_minor, '1099');
  tt.equal(to.failure_class, 'timeout');
  tt.equal(to.decision_action, 'reverse', 'the decision travels with the timeout');
  tt.ok(to.decision_rule, `the rule that fired: ${to.decision_rule}`);
  tt.ok(to.decision_explanation, 'and why');
  tt.ok(to.reversal_id, 'the reversal id');
  for (const e of [queued, sent, ack]) {
    tt.equal(e.reversal_id, to.reversal_id, `${e.kind}: same reversal`);
    tt.equal(e.pan_masked, MASKED, `${e.kind}: masked PAN`);
    tt.equal(e.amount_minor, '1099', `${e.kind}: amount`);
    tt.equal(e.reversal_reason, '68', `${e.kind}: reason 68`);
  }
  tt.equal(queued.reversal_state, 'pending');
  tt.equal(sent.mti, '0400');
  tt.equal(sent.reversal_attempt, '1');
  tt.equal(ack.reversal_state, 'acked');
  tt.equal(ack.response_code, '00');

  const lev = of(late.get(37) as string);
  const kinds = lev.map((e) => e.kind);
  tt.same(kinds.slice(0, 3), ['RECEIVED', 'FORWARDED', 'TIMED_OUT'], 'late approval: received, forwarded, timed out first');
  tt.same([...kinds.slice(3)].sort(), ['LATE_RESPONSE', 'REVERSAL_ACKED', 'REVERSAL_QUEUED', 'REVERSAL_SENT'], 'then the late response and the reversal');
  const lr = lev.find((e) => e.kind === 'LATE_RESPONSE') as Decoded;
  tt.equal(lr.response_code, '00', 'the late answer was an approval');
  tt.equal(lr.failure_class, 'approved');
  tt.match(lr.note, /not relayed/, 'never relayed');
  tt.ok(kinds.indexOf('REVERSAL_QUEUED') < kinds.indexOf('REVERSAL_ACKED'));

  // The README's way: the whole file as one EventFile message.
  const whole = spawnSync('node', [join(ROOT, 'scripts', 'event-file.js'), ...files.map((f) => join(dir, f))]);
  tt.equal(whole.status, 0, 'scripts/event-file.js');
  const all = protocDecode(whole.stdout, 'revswitch.events.v1.EventFile');
  tt.equal(all.text.split('\n').filter((l) => l === 'events {').length, records.length, 'protoc reads every record as one EventFile');
});
