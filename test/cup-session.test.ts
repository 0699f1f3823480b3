/**
 * A whole UnionPay POS session over TCP, on a SQLite store: a terminal signs on and gets
 * its working keys in F62; its MAC'd, PIN-carrying sale reaches an ISO 8583:1987 host with
 * the PIN translated to the host's ZPK and the switch's own X9.19 MAC; the answer comes
 * back MAC'd under the terminal's new MAK. Then the failures: a sale with a bad MAC is
 * answered A0 and never forwarded; a PIN block that is not one is answered A7; an answer
 * with a bad MAC from the host is not relayed, and the sale is reversed. The network's key
 * change is taken when its check value matches and refused (alarmed) when it does not.
 *
 * The terminal and the host do their cryptography by hand here (raw frames, computeMac
 * over byte ranges cut by hand), so the switch's MAC block, key layout and PIN
 * translation are checked against the specification, not against themselves. Last, the
 * log lines, the events, the store file and the key store file are searched for every
 * clear key and PIN block of the session: none may be there.
 */
import t from 'tap';
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decode, encode, frame, FrameReader, getDialect, IsoMessage, responseTo, transmissionTime, type Dialect } from '../codec/index.js';
import { defaultConfig, UPSTREAM_DEFAULTS } from '../switch/config/index.js';
import { startSwitch } from '../switch/cli/start-command.js';
import { computeMac, keyCheckValue } from '../switch/edge/mac.js';
import { KeyStore } from '../switch/edge/key-store.js';
import { createMasterKeyFile, masterKeyFrom } from '../switch/edge/master-key.js';
import { SoftwareSecurityModule } from '../switch/edge/security-module.js';
import { createLogger } from '../switch/observe/log.js';
import { until } from './support/until.js';

const cup = getDialect('cup');
const iso = getDialect('iso87a');
const TERMINAL = 'T0000001';
const MERCHANT = '898110000000001';
const PAN = '6212345678901234567';
const PIN = '1234';
const TMK = Buffer.from('0123456789ABCDEFFEDCBA9876543210', 'hex');
const ZPK = Buffer.from('C1D0F8FB4958670DBA40AB1F3752EF0D', 'hex');
const ZAK = Buffer.from('7CA110454A1A6E570131D9619DC1376E', 'hex');
const ZMK = Buffer.from('2315208C9110AD402315208C9110AD40', 'hex');
const TPDU = Uint8Array.from([0x60, 0x00, 0x01, 0x00, 0x02]);
const HEADER = Uint8Array.from([0x60, 0x31, 0x00, 0x31, 0x13, 0x01]);
/** The cup MAC block starts at the MTI: after the 5-byte TPDU and the 6-byte header. */
const CUP_MTI_AT = 11;

function tdes(key: Buffer, data: Buffer, decrypt = false): Buffer {
  const k = key.length === 8 ? Buffer.concat([key, key]) : key;
  const c = decrypt ? createDecipheriv('des-ede', k, null) : createCipheriv('des-ede', k, null);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(data), c.final()]);
}

/** ISO 9564 format 0 under `key`: the PIN field XOR the PAN field, encrypted. */
function pinBlock(key: Buffer, pin: string, pan: string): Buffer {
  const pinField = Buffer.from(`0${pin.length}${pin}`.padEnd(16, 'F'), 'hex');
  const panField = Buffer.from(`0000${pan.slice(-13, -1)}`, 'hex');
  for (let i = 0; i < 8; i++) pinField[i] ^= panField[i];
  return tdes(key, pinField);
}

function clearPin(key: Buffer, block: Uint8Array, pan: string): string {
  const clear = tdes(key, Buffer.from(block), true);
  const panField = Buffer.from(`0000${pan.slice(-13, -1)}`, 'hex');
  for (let i = 0; i < 8; i++) clear[i] ^= panField[i];
  const h = clear.toString('hex').toUpperCase();
  return h.slice(2, 2 + Number.parseInt(h[1], 16));
}

/** Encodes with F64 last and writes the MAC of [from, end - 8) into it, as the sender does. */
function signed(d: Dialect, msg: IsoMessage, from: number, mac: (block: Buffer) => Buffer): Buffer {
  // F128 when the message has a secondary bitmap, else F64: either way the last field.
  msg.set(msg.fieldNumbers().some((f) => f > 64) ? 128 : 64, new Uint8Array(8));
  const body = Buffer.from(encode(d, msg));
  mac(body.subarray(from, body.length - 8)).copy(body, body.length - 8);
  return body;
}

function macOk(body: Buffer, from: number, mac: (block: Buffer) => Buffer): boolean {
  return mac(body.subarray(from, body.length - 8)).equals(body.subarray(body.length - 8));
}

/** One raw framed peer: bodies in, bodies out (len2 framing). */
interface Raw {
  socket: Socket;
  bodies: Buffer[];
  send(body: Buffer): void;
  next(after: number, capMs?: number): Promise<Buffer>;
}

function raw(socket: Socket): Raw {
  const bodies: Buffer[] = [];
  const reader = new FrameReader('len2', { maxFrame: 8192, onFrame: (b) => bodies.push(Buffer.from(b)) });
  socket.on('data', (c: Buffer) => reader.push(c));
  return {
    socket, bodies,
    send: (body) => void socket.write(frame('len2', body)),
    async next(after, capMs = 5000) {
      await until(() => bodies.length > after, 'a frame', capMs);
      return bodies[after];
    },
  };
}

/** The host: an ISO 1987 issuer that checks X9.19 MACs under its ZAK and reads PINs under its ZPK. */
interface Host {
  server: Server;
  port: number;
  seen: { msg: IsoMessage; macOk: boolean; pin?: string }[];
  /** Sales with this amount get an approval whose MAC is wrong. */
  badMacAmount: string;
  zak: Buffer;
  peer: Raw | null;
  /** Given in F48 of the answer to the switch's own key-change request (02: a ZAK, under the ZMK, with its KCV). */
  nextZak: Buffer | null;
}

function startHost(): Promise<Host> {
  const host: Host = { server: createServer(), port: 0, seen: [], badMacAmount: '000000000777', zak: ZAK, peer: null, nextZak: null };
  host.server.on('connection', (socket) => {
    const peer = raw(socket);
    host.peer = peer;
    let handled = 0;
    socket.on('data', () => {
      while (handled < peer.bodies.length) {
        const body = peer.bodies[handled++];
        const msg = decode(iso, body);
        if (msg.mti[2] === '1') continue; // an answer to the host's own request
        const macd = msg.mti[1] !== '8';
        const ok = macd && (msg.has(64) || msg.has(128)) && macOk(body, 0, (b) => computeMac('x9.19', host.zak, b));
        const pinBytes = msg.getBytes(52);
        host.seen.push({ msg, macOk: ok, ...(pinBytes ? { pin: clearPin(ZPK, pinBytes, msg.get(2) ?? '') } : {}) });
        const res = responseTo(iso, msg, macd && !ok ? '63' : '00');
        if (msg.mti[1] === '2' && ok) res.set(38, 'AB1234');
        if (!macd) {
          if (msg.get(70) === '161' && host.nextZak) res.set(48, `02${tdes(ZMK, host.nextZak).toString('hex').toUpperCase()}${keyCheckValue(host.nextZak)}`);
          peer.send(Buffer.from(encode(iso, res)));
          continue;
        }
        const bad = msg.get(4) === host.badMacAmount && msg.mti === '0200';
        const out = signed(iso, res, 0, (b) => computeMac('x9.19', host.zak, b));
        if (bad) out[out.length - 1] ^= 0x01;
        peer.send(out);
      }
    });
  });
  return new Promise((resolve) => host.server.listen(0, '127.0.0.1', () => {
    const a = host.server.address();
    host.port = typeof a === 'object' && a ? a.port : 0;
    resolve(host);
  }));
}

let stan = 100;
function cupSale(amount: string, pinUnder: Buffer | null): IsoMessage {
  const m = new IsoMessage('0200');
  m.tpdu = TPDU;
  m.header = HEADER;
  m.set(2, PAN).set(3, '000000').set(4, amount).set(11, String(++stan).padStart(6, '0'))
    .set(22, pinUnder ? '051' : '052').set(25, '00').set(41, TERMINAL).set(42, MERCHANT).set(49, '156').set(60, '22000001000');
  if (pinUnder) m.set(26, '06').set(52, new Uint8Array(pinBlock(pinUnder, PIN, PAN)));
  return m;
}

t.test('a UnionPay terminal session: keys at sign-on, MAC and PIN on every sale, every failure refused', async (tt) => {
  const dir = mkdtempSync(join(tmpdir(), 'revswitch-cup-'));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const masterFile = join(dir, 'master.key');
  createMasterKeyFile(masterFile);
  const keyStorePath = join(dir, 'keys.json');
  const ks = KeyStore.load(keyStorePath, masterKeyFrom({ env: {}, file: masterFile }), new SoftwareSecurityModule());
  ks.importClear(`${TERMINAL}.TMK`, 'TMK', TMK, keyCheckValue(TMK), { terminal: TERMINAL });
  ks.importClear('host.ZPK', 'ZPK', ZPK, keyCheckValue(ZPK), { upstream: 'host' });
  ks.importClear('host.ZAK', 'ZAK', ZAK, keyCheckValue(ZAK), { upstream: 'host' });
  ks.importClear('host.ZMK', 'ZMK', ZMK, keyCheckValue(ZMK), { upstream: 'host' });

  const host = await startHost();
  tt.teardown(() => new Promise<void>((r) => host.server.close(() => r())));
  const lines: string[] = [];
  const cfg = defaultConfig();
  Object.assign(cfg.listeners[0], { port: 0, dialect: 'cup', framing: 'len2', mac: { algorithm: 'cup-ecb', key: null, required: true, fields: null }, translatePin: true });
  cfg.upstreams.push({
    name: 'host', ...UPSTREAM_DEFAULTS, host: '127.0.0.1', port: host.port, dialect: 'iso87a', timeoutMs: 1000, reconnectBackoffMs: [50, 100],
    mac: { algorithm: 'x9.19', key: null, required: true, fields: null },
  });
  cfg.security = { keyStore: keyStorePath, masterKeyFile: masterFile, macOverlapMs: 60_000 };
  cfg.store = `sqlite:${join(dir, 'journal.db')}`;
  cfg.panHashKey = 'dff2ad79c71e5c0eba568002bfd86ec05eb5c62dfd845c28ad5d7a34bbed0871';
  cfg.events = { file: { dir: join(dir, 'events'), fsync: false } };
  cfg.admin = 'off';
  cfg.tickMs = 5;
  cfg.reversal = { ...cfg.reversal, responseTimeoutMs: 300, backoffMs: [50, 100] };
  const running = await startSwitch(cfg, createLogger('debug', (l) => lines.push(l)));
  const sw = running.sw;
  tt.teardown(async () => {
    await sw.stop(500);
    await running.events?.close();
    await running.store.close();
  });
  tt.ok(await sw.waitUntilUp(10_000), 'the host link is up');

  const socket = connect({ port: sw.ports()[0], host: '127.0.0.1' });
  await new Promise<void>((r) => socket.once('connect', () => r()));
  tt.teardown(() => void socket.destroy());
  const term = raw(socket);

  // Sign-on: F62 = PIK under TMK (16) + CV (4) + MAK under TMK (8, zero-padded to 16) + CV (4).
  const signOn = new IsoMessage('0800');
  signOn.tpdu = TPDU;
  signOn.header = HEADER;
  signOn.set(11, '000001').set(41, TERMINAL).set(42, MERCHANT).set(60, '00000001001');
  term.send(Buffer.from(encode(cup, signOn)));
  const on = decode(cup, await term.next(0));
  tt.equal(on.mti, '0810');
  tt.equal(on.get(39), '00', 'sign-on approved');
  const f62 = Buffer.from(on.getBytes(62) ?? new Uint8Array(0));
  tt.equal(f62.length, 40, 'F62 holds 40 bytes of keys');
  const pik = tdes(TMK, f62.subarray(0, 16), true);
  tt.same(f62.subarray(16, 20), tdes(pik, Buffer.alloc(8)).subarray(0, 4), 'the PIK check value: its encryption of zeros, 4 bytes');
  const mak = tdes(TMK, f62.subarray(20, 28), true);
  tt.same(f62.subarray(28, 36), Buffer.alloc(8), 'the single-length MAK is padded to 16 with zeros');
  tt.same(f62.subarray(36, 40), tdes(mak, Buffer.alloc(8)).subarray(0, 4), 'the MAK check value');
  const cupMac = (key: Buffer) => (b: Buffer): Buffer => computeMac('cup-ecb', key, b);

  // A MAC'd sale with a PIN: translated, MAC'd to the host, answered MAC'd under the MAK.
  let n = 1;
  term.send(signed(cup, cupSale('000000001000', pik), CUP_MTI_AT, cupMac(mak)));
  const okBody = await term.next(n++);
  const ok = decode(cup, okBody);
  tt.equal(ok.get(39), '00', 'the sale is approved');
  tt.ok(macOk(okBody, CUP_MTI_AT, cupMac(mak)), 'the answer carries a valid MAC under the terminal\'s new MAK (MTI to F63)');
  const sold = host.seen.filter((s) => s.msg.mti === '0200');
  tt.equal(sold.length, 1, 'the host got the sale');
  tt.ok(sold[0].macOk, 'the host verified the switch\'s X9.19 MAC under its ZAK');
  tt.equal(sold[0].pin, PIN, 'the PIN block decrypts under the host\'s ZPK to the PIN: translated from the PIK');

  // A bad MAC: A0, never forwarded.
  const forged = signed(cup, cupSale('000000002000', pik), CUP_MTI_AT, cupMac(mak));
  forged[forged.length - 2] ^= 0x01;
  term.send(forged);
  const a0 = decode(cup, await term.next(n++));
  tt.equal(a0.get(39), 'A0', 'a sale with a bad MAC is answered A0');
  const noMac = cupSale('000000002100', pik);
  term.send(Buffer.from(encode(cup, noMac)));
  tt.equal(decode(cup, await term.next(n++)).get(39), 'A0', 'a sale with no MAC is answered A0');
  tt.equal(host.seen.filter((s) => s.msg.mti === '0200').length, 1, 'neither reached the host');
  tt.equal(sw.metrics.macFailureCount('terminal', 'pos'), 2, 'revswitch_mac_failures_total{side="terminal"} counts both');

  // A PIN block that is not one under the terminal's PIK: A7, never forwarded.
  const badPin = cupSale('000000003000', Buffer.from('1111111111111111', 'hex'));
  term.send(signed(cup, badPin, CUP_MTI_AT, cupMac(mak)));
  tt.equal(decode(cup, await term.next(n++)).get(39), 'A7', 'a PIN block that does not translate is declined A7');
  tt.equal(host.seen.filter((s) => s.msg.mti === '0200').length, 1, 'and never forwarded');

  // The host's answer with a bad MAC: not relayed; the sale is reversed (MAC'd, verified by the host).
  term.send(signed(cup, cupSale(host.badMacAmount, pik), CUP_MTI_AT, cupMac(mak)));
  const unrelayed = decode(cup, await term.next(n++));
  tt.not(unrelayed.get(39), '00', 'an approval with a bad MAC never reaches the terminal as one');
  await until(() => host.seen.some((s) => s.msg.mti.startsWith('04')), 'the reversal of the sale whose answer failed its MAC', 10_000);
  const rev = host.seen.find((s) => s.msg.mti.startsWith('04'));
  tt.equal(rev?.msg.get(4), host.badMacAmount, 'the reversal is of that sale');
  tt.ok(rev?.macOk, 'the reversal from the store-and-forward queue is MAC\'d under the ZAK at send time');
  tt.equal(sw.metrics.macFailureCount('upstream', 'upstream host'), 1, 'revswitch_mac_failures_total{side="upstream"}');

  // A second sign-on: new keys; a message MAC'd with the previous MAK is still taken during the overlap.
  signOn.set(11, '000002');
  term.send(Buffer.from(encode(cup, signOn)));
  const on2 = decode(cup, await term.next(n++));
  const f62b = Buffer.from(on2.getBytes(62) ?? new Uint8Array(0));
  const mak2 = tdes(TMK, f62b.subarray(20, 28), true);
  tt.not(mak2.toString('hex'), mak.toString('hex'), 'a new MAK at each sign-on');
  term.send(signed(cup, cupSale('000000004000', pik), CUP_MTI_AT, cupMac(mak)));
  const late = await term.next(n++);
  tt.not(decode(cup, late).get(39), 'A0', 'the previous MAK still verifies within the overlap');
  tt.ok(macOk(late, CUP_MTI_AT, cupMac(mak2)), 'the answer is MAC\'d with the new MAK');
  const pik2 = tdes(TMK, f62b.subarray(0, 16), true);

  // The network's key change: a new ZAK under the ZMK, taken when its check value matches.
  const peer = host.peer;
  if (peer === null) throw new Error('no host connection');
  const zak2 = Buffer.from('0123456789ABCDEFFEDCBA9876543210', 'hex');
  const change = (kcv: string, stanText: string): IsoMessage => new IsoMessage('0800')
    .set(7, transmissionTime(Date.now())).set(11, stanText).set(70, '161')
    .set(48, `02${tdes(ZMK, zak2).toString('hex').toUpperCase()}${kcv}`);
  const before = peer.bodies.length;
  peer.send(Buffer.from(encode(iso, change('000000', '900001'))));
  await until(() => peer.bodies.slice(before).some((b) => decode(iso, b).mti === '0810'), 'the answer to a wrong key change');
  const refused = peer.bodies.slice(before).map((b) => decode(iso, b)).find((m) => m.mti === '0810');
  tt.equal(refused?.get(39), '63', 'a key whose check value does not match is refused');
  tt.ok(lines.some((l) => l.includes('ALARM: working key from the network refused')), 'and alarmed');
  const before2 = peer.bodies.length;
  peer.send(Buffer.from(encode(iso, change(keyCheckValue(zak2), '900002'))));
  await until(() => peer.bodies.slice(before2).some((b) => decode(iso, b).mti === '0810'), 'the answer to a good key change');
  tt.equal(peer.bodies.slice(before2).map((b) => decode(iso, b)).find((m) => m.mti === '0810')?.get(39), '00', 'a key whose check value matches is taken');
  host.zak = zak2;
  term.send(signed(cup, cupSale('000000005000', pik2), CUP_MTI_AT, cupMac(mak2)));
  tt.equal(decode(cup, await term.next(n++)).get(39), '00', 'the next sale goes through');
  const lastSale = host.seen.filter((s) => s.msg.mti === '0200').at(-1);
  tt.ok(lastSale?.macOk, 'MAC\'d under the new ZAK');
  tt.equal(lastSale?.pin, PIN, 'and its PIN, from the new PIK, translated');

  // The switch asks for a new key itself: the host's answer carries it, checked the same way.
  const zak3 = Buffer.from('89ABCDEF0123456776543210FEDCBA98', 'hex');
  host.nextZak = zak3;
  tt.ok(sw.requestKeyChange('host'), 'the switch asks the host for a new key');
  await until(() => lines.filter((l) => l.includes('working key from the network accepted')).length >= 2, 'the requested key taken');
  host.zak = zak3;
  term.send(signed(cup, cupSale('000000006000', pik2), CUP_MTI_AT, cupMac(mak2)));
  tt.equal(decode(cup, await term.next(n++)).get(39), '00', 'a sale after the requested key change goes through');
  tt.ok(host.seen.filter((s) => s.msg.mti === '0200').at(-1)?.macOk, 'MAC\'d under the key the host sent');

  // No key material anywhere it could leak: logs, events, the journal, the key store file.
  await sw.stop(500);
  await running.events?.close();
  await running.store.close();
  // The keys, and the PIN blocks as the terminal sent them and as they went upstream.
  const secrets = [TMK, ZPK, ZAK, ZMK, zak2, zak3, pik, mak, pik2, mak2, pinBlock(pik, PIN, PAN), pinBlock(pik2, PIN, PAN), pinBlock(ZPK, PIN, PAN)].map((k) => k.toString('hex'));
  const blobs: [string, string][] = [['log', lines.join('\n')], ['key store', readFileSync(keyStorePath, 'latin1')]];
  for (const f of readdirSync(dir)) if (f.startsWith('journal.db')) blobs.push([f, readFileSync(join(dir, f)).toString('hex') + readFileSync(join(dir, f), 'latin1')]);
  for (const f of readdirSync(join(dir, 'events'))) blobs.push([`events/${f}`, readFileSync(join(dir, 'events', f)).toString('hex')]);
  tt.ok(blobs.length >= 4, 'the log, the key store, the journal and the events were searched');
  for (const [name, text] of blobs) {
    const lower = text.toLowerCase();
    const found = secrets.filter((s) => lower.includes(s));
    tt.same(found, [], `${name}: no clear key`);
  }
});
