/**
 * The MAC guard on its own: which bytes the MAC covers (MTI to the field before it, F128
 * with a secondary bitmap, or a field list), which messages carry one, what a missing,
 * wrong or keyless MAC is called, and the overlap of a replaced key. The expected MACs
 * are computed here over byte ranges cut by hand, never by the guard. Also: the network's
 * key change layouts, and the config that asks for MACs without a key store.
 */
import t from 'tap';
import { decode, encode, getDialect, IsoMessage } from '../codec/index.js';
import { configFromJson, type MacConfig } from '../switch/config/index.js';
import { keyChangeOf } from '../switch/edge/key-change.js';
import { MacConfigError, MacGuard, type KeyDirectory } from '../switch/edge/mac-guard.js';
import type { KeyOwner } from '../switch/edge/key-store.js';
import { computeMac } from '../switch/edge/mac.js';
import { SoftwareSecurityModule, type KeyType } from '../switch/edge/security-module.js';

const iso = getDialect('iso87a');
const KEY = Buffer.from('7CA110454A1A6E570131D9619DC1376E', 'hex');
const OLD = Buffer.from('0123456789ABCDEFFEDCBA9876543210', 'hex');

/** One terminal's MAK, and a previous one retired at `retired`. */
function directory(retired: string | null): KeyDirectory {
  return {
    find: (o: KeyOwner, types: readonly KeyType[]) => (o.terminal === 'T1' && types.includes('MAK') ? { id: 'T1.MAK.2' } : undefined),
    previous: (o: KeyOwner) => (o.terminal === 'T1' && retired !== null ? { id: 'T1.MAK.1', retired } : undefined),
  };
}

function guard(cfg: Partial<MacConfig> = {}, retired: string | null = null, now = Date.now()): MacGuard {
  const hsm = new SoftwareSecurityModule();
  hsm.loadClearKey('T1.MAK.2', 'MAK', KEY);
  hsm.loadClearKey('T1.MAK.1', 'MAK', OLD);
  return new MacGuard(iso, { algorithm: 'x9.19', key: null, required: true, fields: null, ...cfg }, hsm, directory(retired), { side: { terminal: true }, overlapMs: 60_000, now: () => now });
}

function sale(extra: Record<number, string> = {}): IsoMessage {
  const m = new IsoMessage('0200').set(2, '4761739001010119').set(3, '000000').set(4, '000000001000').set(11, '000123').set(41, 'T1').set(49, '840');
  for (const [k, v] of Object.entries(extra)) m.set(Number(k), v);
  return m;
}

/** Sent through the guard: prepared, encoded once, signed in place. */
function signedBy(g: MacGuard, m: IsoMessage): Buffer {
  t.ok(g.prepare(m), 'the guard signs it');
  const body = Buffer.from(encode(iso, m));
  g.sign(body, m);
  return body;
}

t.test('the MAC covers the MTI to the byte before F64, and verifies', async (tt) => {
  const g = guard();
  const m = sale();
  const body = signedBy(g, m);
  tt.same(body.subarray(body.length - 8), computeMac('x9.19', KEY, body.subarray(0, body.length - 8)), 'F64 = X9.19 of everything before it');
  tt.equal(g.verify(body, decode(iso, body)), 'ok');
  const tampered = Buffer.from(body);
  tampered[20] ^= 0x01;
  tt.equal(g.verify(tampered, decode(iso, tampered)), 'bad', 'a changed byte: bad');
  const unsigned = Buffer.from(encode(iso, sale()));
  tt.equal(g.verify(unsigned, decode(iso, unsigned)), 'missing', 'no MAC where one is required: missing');
  tt.equal(guard({ required: false }).verify(unsigned, decode(iso, unsigned)), 'exempt', 'not required: an unsigned message passes');
  const other = Buffer.from(encode(iso, sale({ 41: 'T9' }).set(64, new Uint8Array(8))));
  tt.equal(g.verify(other, decode(iso, other)), 'no_key', 'a terminal with no key');
});

t.test('with a secondary bitmap the MAC is F128, and F64 is not sent', async (tt) => {
  const g = guard();
  const m = sale({ 90: '0200000123120112000000000123400000000000' });
  const body = signedBy(g, m);
  const back = decode(iso, body);
  tt.ok(back.has(128) && !back.has(64), 'F128 carries it');
  tt.same(body.subarray(body.length - 8), computeMac('x9.19', KEY, body.subarray(0, body.length - 8)));
  tt.equal(g.verify(body, back), 'ok');
});

t.test('network management carries no MAC; a response without a key goes unsigned; a request cannot', async (tt) => {
  const g = guard();
  const echo = new IsoMessage('0800').set(11, '000001').set(70, '301');
  tt.notOk(g.prepare(echo), 'an 0800 is not signed');
  const e = Buffer.from(encode(iso, echo));
  tt.equal(g.verify(e, decode(iso, e)), 'exempt');
  const answer = new IsoMessage('0210').set(11, '000001').set(39, '63').set(41, 'T9').set(64, new Uint8Array(8));
  tt.notOk(g.prepare(answer), 'an answer to a terminal without a key goes unsigned');
  tt.notOk(answer.has(64), 'and carries no stale MAC');
  tt.throws(() => g.prepare(sale({ 41: 'T9' })), MacConfigError, 'a request without a key cannot be signed');
});

t.test('a replaced key verifies during the overlap only', async (tt) => {
  const now = Date.parse('2026-12-04T10:00:00Z');
  const m = sale();
  m.set(64, new Uint8Array(8));
  const body = Buffer.from(encode(iso, m));
  computeMac('x9.19', OLD, body.subarray(0, body.length - 8)).copy(body, body.length - 8);
  const msg = decode(iso, body);
  tt.equal(guard({}, '2026-12-04T09:59:30Z', now).verify(body, msg), 'ok', 'retired 30 s ago: still taken');
  tt.equal(guard({}, '2026-12-04T09:58:00Z', now).verify(body, msg), 'bad', 'retired 2 min ago (overlap 60 s): refused');
});

t.test('a field list MACs those fields\' values in order', async (tt) => {
  const g = guard({ fields: [2, 4, 11, 41] });
  const m = sale();
  const body = signedBy(g, m);
  tt.same(body.subarray(body.length - 8), computeMac('x9.19', KEY, Buffer.from('4761739001010119' + '000000001000' + '000123' + 'T1      ', 'latin1')));
  tt.equal(g.verify(body, decode(iso, body)), 'ok');
  tt.throws(() => guard({ fields: [199] }), MacConfigError, 'a field the dialect lacks is refused at start');
});

t.test('a dialect whose F64 cannot carry a MAC is refused at start', async (tt) => {
  const hsm = new SoftwareSecurityModule();
  const d = getDialect('iso87a');
  const broken = Object.create(d) as typeof d;
  Object.defineProperty(broken, 'fields', { value: d.fields.map((f, i) => (i === 64 ? d.fields[2] : f)) });
  tt.throws(() => new MacGuard(broken, { algorithm: 'x9.19', key: null, required: true, fields: null }, hsm, directory(null), { side: { terminal: true }, overlapMs: 0 }), MacConfigError);
});

t.test('the network\'s key change: F48, or F96 with F53 and F48', async (tt) => {
  const crypt = 'A1B2C3D4E5F60718293A4B5C6D7E8F90';
  const f48 = keyChangeOf(new IsoMessage('0800').set(48, `02${crypt}08D7B4`), 'F48');
  tt.same(f48, { type: 'ZAK', cryptogram: Buffer.from(crypt, 'hex'), kcv: '08D7B4' });
  tt.ok('error' in keyChangeOf(new IsoMessage('0800').set(48, `03${crypt}08D7B4`), 'F48'), 'an unknown key type');
  tt.ok('error' in keyChangeOf(new IsoMessage('0800').set(48, `02${crypt}`), 'F48'), 'no check value');
  const f96 = keyChangeOf(new IsoMessage('0800').set(96, new Uint8Array(Buffer.from('0123456789ABCDEF', 'hex'))).set(53, '0100000000000000').set(48, 'abcdef'), 'F96');
  tt.same(f96, { type: 'ZPK', cryptogram: Buffer.from('0123456789ABCDEF', 'hex'), kcv: 'ABCDEF' });
  const err = keyChangeOf(new IsoMessage('0800').set(53, '0100000000000000').set(48, 'ABCDEF'), 'F96');
  tt.ok('error' in err && !err.error.includes('0123'), 'a missing F96, named without key material');
});

t.test('config: a MAC or PIN translation needs the key store; bad MAC settings are named', async (tt) => {
  const base = { listeners: [{ port: 0, dialect: 'cup', mac: { algorithm: 'cup-ecb' } }] };
  tt.throws(() => configFromJson(base, 'c.json'), /c\.json: security\.keyStore: expected the key store file its keys come from \(listeners\[0\]\.mac need keys\)/);
  tt.throws(() => configFromJson({ listeners: [{ port: 0, translatePin: true }] }, 'c.json'), /listeners\[0\]\.translatePin/);
  tt.throws(() => configFromJson({ listeners: [{ port: 0, mac: { algorithm: 'md5' } }], security: { keyStore: 'k.json' } }, 'c.json'), /listeners\[0\]\.mac\.algorithm: expected "x9\.19"/);
  tt.throws(() => configFromJson({ listeners: [{ port: 0, mac: { algorithm: 'x9.19', fields: [2, 64] } }], security: { keyStore: 'k.json' } }, 'c.json'), /mac\.fields/);
  const c = configFromJson({ ...base, security: { keyStore: 'k.json', macOverlapMs: 5000 } }, 'c.json');
  tt.same(c.listeners[0].mac, { algorithm: 'cup-ecb', key: null, required: true, fields: null });
  tt.equal(c.security.macOverlapMs, 5000);
  tt.equal(c.listeners[0].translatePin, false);
});
