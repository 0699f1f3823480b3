/**
 * The event machinery piece by piece, without a network: the `events` config and its
 * errors, the bus (never throws, a failing sink costs only its own events), the daily
 * file's rotation, the NATS sink's disk spool (commit, segments, a torn tail after a
 * crash, the lock, the inbox), and MANUAL_RESOLVED from `revswitch manual resolve`.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, appendFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { configFromJson, ConfigError } from '../switch/config/index.js';
import { EventBus, FileSink, type EventSink } from '../switch/observe/events/emitter.js';
import { EVENT_KINDS, eventSchema, splitDelimited, type LifecycleEventInput } from '../switch/observe/events/schema.js';
import { dropInInbox, Spool, SpoolLocked } from '../switch/observe/events/spool.js';
import { manualCommand } from '../switch/cli/manual-commands.js';
import { createLogger } from '../switch/observe/log.js';
import { connectStore, type ReversalRow, type TxnRow } from '../switch/store/index.js';

const log = createLogger('silent');

function tmp(tt: Test): string {
  const d = mkdtempSync(join(tmpdir(), 'revswitch-ev-'));
  tt.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

const enc = (txnId: string): Uint8Array => eventSchema().encode({ kind: 'FORWARDED', eventId: `e-${txnId}`, timeMs: 1, node: 'n', txnId });
const ids = (buf: Uint8Array): string[] => splitDelimited(buf).records.map((r) => eventSchema().decode(r).txnId);

t.test('every kind the code emits is in events.proto', async (tt) => {
  const s = eventSchema();
  for (const k of EVENT_KINDS) tt.ok(s.kinds[k] > 0, `${k} = ${s.kinds[k]}`);
  tt.equal(new Set(Object.values(s.kinds)).size, EVENT_KINDS.length, 'distinct numbers');
});

t.test('config: events, with defaults and errors naming file and path', async (tt) => {
  tt.same(configFromJson({}, 'c.json').events, {}, 'none: events off');
  const c = configFromJson({ events: { file: { dir: '/var/ev' }, nats: { spoolDir: '/var/spool' } } }, 'c.json');
  tt.same(c.events.file, { dir: '/var/ev', fsync: false });
  tt.equal(c.events.nats?.url, 'nats://127.0.0.1:4222');
  tt.equal(c.events.nats?.subject, 'revswitch.events');
  tt.equal(c.events.nats?.stream, 'REVSWITCH_EVENTS');
  tt.equal(c.events.nats?.spoolDir, '/var/spool');
  const bad: [unknown, RegExp][] = [
    [{ events: [] }, /^c\.json: events: expected an object/],
    [{ events: { kafka: {} } }, /^c\.json: events\.kafka: unknown key; expected one of file, nats/],
    [{ events: { file: {} } }, /^c\.json: events\.file\.dir: expected a non-empty string, got undefined/],
    [{ events: { file: { dir: 'x', fsync: 'yes' } } }, /events\.file\.fsync: expected true or false/],
    [{ events: { nats: { subject: 'revswitch.*' } } }, /events\.nats\.subject: expected a NATS subject/],
    [{ events: { nats: { subject: 'a..b' } } }, /events\.nats\.subject/],
    [{ events: { nats: { stream: 'A.B' } } }, /events\.nats\.stream: expected a stream name/],
    [{ events: { nats: { url: 'http://x' } } }, /events\.nats\.url: expected a URL like "nats:\/\/127\.0\.0\.1:4222"/],
    [{ events: { nats: { duplicateWindowMs: 5 } } }, /events\.nats\.duplicateWindowMs: expected an integer from 1000/],
  ];
  for (const [json, re] of bad) tt.throws(() => configFromJson(json, 'c.json'), re, JSON.stringify(json));
  tt.throws(() => configFromJson({ events: { kafka: {} } }, 'c.json'), ConfigError);
});

t.test('the bus: stamps ids, never throws, a failing sink loses only its own batch', async (tt) => {
  const got: Uint8Array[][] = [];
  const good: EventSink = { name: 'good', write: async (b) => void got.push(b), close: async () => undefined };
  const bad: EventSink = { name: 'bad', write: async () => { throw new Error('disk full'); }, close: async () => undefined };
  const bus = new EventBus([good, bad], { node: 'node-a', log });
  const e: LifecycleEventInput = { kind: 'RECEIVED', txnId: 't1' };
  bus.emit(e);
  bus.emit({ kind: 'FORWARDED', txnId: 't1' });
  tt.ok(e.eventId?.startsWith('node-a.'), 'stamped in place');
  await bus.flush();
  tt.equal(got.length, 1, 'one batch for the turn');
  tt.same(got[0].map((r) => eventSchema().decode(r).kind), ['RECEIVED', 'FORWARDED']);
  const st = bus.stats();
  tt.equal(st.emitted, 2);
  tt.same(st.sinks.map((s) => [s.name, s.written, s.dropped, s.failedWrites]), [['good', 2, 0, 0], ['bad', 0, 2, 1]]);
  await bus.close();
  bus.emit({ kind: 'RECEIVED', txnId: 't2' });
  tt.equal(bus.stats().emitted, 2, 'emits after close are ignored');
});

t.test('file sink: one file per UTC day, appended, rotated at midnight', async (tt) => {
  const dir = tmp(tt);
  let now = Date.UTC(2026, 4, 1, 23, 59, 59, 500);
  const sink = new FileSink({ dir, now: () => now });
  await sink.write([enc('a'), enc('b')]);
  now += 1000;
  await sink.write([enc('c')]);
  await sink.close();
  const again = new FileSink({ dir, now: () => now });
  await again.write([enc('d')]);
  await again.close();
  tt.same(readdirSync(dir).sort(), ['events-2026-05-01.pb', 'events-2026-05-02.pb']);
  tt.same(ids(readFileSync(join(dir, 'events-2026-05-01.pb'))), ['a', 'b']);
  tt.same(ids(readFileSync(join(dir, 'events-2026-05-02.pb'))), ['c', 'd'], 'a restart appends');
});

t.test('spool: commit survives a reopen, segments roll and go once acknowledged', async (tt) => {
  const dir = tmp(tt);
  let s = await Spool.open(dir, { segmentBytes: 60, rollBytes: 1 << 20 });
  for (const id of ['a', 'b', 'c', 'd', 'e', 'f']) await s.append([enc(id)]);
  const segs = () => readdirSync(dir).filter((f) => f.startsWith('segment-')).length;
  tt.ok(segs() >= 2, `several segments (${segs()})`);
  let n = await s.next(4);
  tt.ok(n && n.records.length >= 1);
  const first = (n?.records ?? []).map((r) => eventSchema().decode(r).txnId);
  await s.commit((n as NonNullable<typeof n>).end);
  await s.close();
  s = await Spool.open(dir, { segmentBytes: 60, rollBytes: 1 << 20 });
  const rest: string[] = [];
  while ((n = await s.next(2))) {
    rest.push(...n.records.map((r) => eventSchema().decode(r).txnId));
    await s.commit(n.end);
  }
  tt.same([...first, ...rest], ['a', 'b', 'c', 'd', 'e', 'f'], 'each record once, in order, across the reopen');
  tt.equal(s.pendingBytes, 0);
  tt.equal(segs(), 1, 'acknowledged segments are deleted');
  await s.close();
});

t.test('spool: once caught up, a grown segment is replaced by a fresh one', async (tt) => {
  const dir = tmp(tt);
  const s = await Spool.open(dir, { rollBytes: 20 });
  await s.append([enc('a'), enc('b'), enc('c')]);
  const before = readdirSync(dir).filter((f) => f.startsWith('segment-'));
  const n = await s.next(10);
  await s.commit((n as NonNullable<typeof n>).end);
  const after = readdirSync(dir).filter((f) => f.startsWith('segment-'));
  tt.equal(after.length, 1);
  tt.not(after[0], before[0], 'a new segment');
  tt.same(JSON.parse(readFileSync(join(dir, 'committed'), 'utf8')), { segment: 2, offset: 0 });
  await s.append([enc('d')]);
  tt.same((await s.next(10))?.records.map((r) => eventSchema().decode(r).txnId), ['d']);
  await s.close();
});

t.test('spool: a torn record from a crash mid-append is cut off at open', async (tt) => {
  const dir = tmp(tt);
  const s = await Spool.open(dir);
  await s.append([enc('a'), enc('b')]);
  await s.close();
  const seg = join(dir, readdirSync(dir).find((f) => f.startsWith('segment-')) as string);
  const whole = readFileSync(seg).length;
  appendFileSync(seg, Buffer.from([0x40, 0x0a, 0x01])); // says 64 bytes follow; 2 do
  const r = await Spool.open(dir);
  tt.equal(readFileSync(seg).length, whole, 'truncated to the last whole record');
  await r.append([enc('c')]);
  tt.same((await r.next(10))?.records.map((x) => eventSchema().decode(x).txnId), ['a', 'b', 'c']);
  await r.close();
});

t.test('spool: one owner at a time; a dead owner\'s lock is taken over; the inbox', async (tt) => {
  const dir = tmp(tt);
  const s = await Spool.open(dir);
  await tt.rejects(Spool.open(dir), SpoolLocked, 'a second owner is refused');
  await dropInInbox(dir, [enc('x'), enc('y')]);
  tt.equal(await s.ingestInbox(), 2);
  tt.same(readdirSync(join(dir, 'inbox')), [], 'the inbox file is gone');
  tt.same((await s.next(10))?.records.map((r) => eventSchema().decode(r).txnId), ['x', 'y']);
  await s.close();
  tt.notOk(existsSync(join(dir, 'LOCK')), 'lock released');
  writeFileSync(join(dir, 'LOCK'), '2147483646');
  const t2 = await Spool.open(dir);
  tt.pass('a lock whose process is gone is taken over');
  await t2.close();
});

t.test('manual resolve with --config emits MANUAL_RESOLVED to the file, and to a running switch\'s NATS inbox', async (tt) => {
  const dir = tmp(tt);
  const url = `sqlite:${join(dir, 'm.db')}`;
  const store = await connectStore(url);
  const at = Date.now() - 60_000;
  const txn: TxnRow = {
    id: 'txn-1', node: 'n', listener: 'pos', sender: '123456/TERM0001', terminal: 'TERM0001', merchant: 'M1', acquirer: '123456',
    mti: '0200', stan: '000042', f7: '0501120000', rrn: 'RRN000000042', amount: '000000001099', currency: '840',
    panMasked: '476173******0119', panHash: 'hash', businessDate: '2026-05-01', upstream: 'issuer', upstreamStan: '000777',
    state: 'timed_out', responseCode: null, failureClass: 'timeout', decision: 'reverse: no answer', reversalId: 'rev-1',
    sealed: null, createdAt: at, updatedAt: at,
  };
  const rev: ReversalRow = {
    id: 'rev-1', txnId: 'txn-1', upstream: 'issuer', state: 'pending', attempts: 0, reason: '68', finalAmount: null, explanation: 'timeout',
    original: '{}', message: null, sentStan: null, enqueuedAt: at, dueAt: at, lastError: null, note: null, updatedAt: at,
  };
  await store.insertTxn(txn);
  await store.insertReversal(rev);
  await store.updateReversal({ id: 'rev-1', from: ['pending'], state: 'manual', attempts: 20, at: at + 1 });
  await store.close();
  const spoolDir = join(dir, 'spool');
  const owner = await Spool.open(spoolDir); // as a running switch would hold it
  tt.teardown(() => owner.close());
  const cfgFile = join(dir, 'switch.json');
  writeFileSync(cfgFile, JSON.stringify({ store: url, node: 'ops', events: { file: { dir: join(dir, 'ev') }, nats: { spoolDir } } }));

  const out = await manualCommand(['resolve', 'rev-1', '--note', 'settled by phone, ticket 7', '--config', cfgFile]);
  tt.match(out, /resolved rev-1/);
  const files = readdirSync(join(dir, 'ev'));
  tt.equal(files.length, 1);
  const [e] = splitDelimited(readFileSync(join(dir, 'ev', files[0]))).records.map((r) => eventSchema().decode(r));
  tt.equal(e.kind, 'MANUAL_RESOLVED');
  tt.equal(e.reversalId, 'rev-1');
  tt.equal(e.txnId, 'txn-1');
  tt.equal(e.note, 'settled by phone, ticket 7');
  tt.equal(e.node, 'ops');
  tt.equal(e.reversalState, 'resolved');
  tt.equal(e.panMasked, '476173******0119');
  tt.equal(e.amountMinor, 1099);
  tt.equal(e.rrn, 'RRN000000042');
  tt.equal(await owner.ingestInbox(), 1, 'the switch (the spool\'s owner) finds it in the inbox');
  const n = await owner.next(10);
  tt.equal(n?.records.length, 1);
  tt.equal(eventSchema().decode((n as NonNullable<typeof n>).records[0]).eventId, e.eventId, 'the same event, for NATS');
});
