/**
 * The payShield adapter against the payShield simulator over TCP on 127.0.0.1: its
 * answers agree with the software security module given the same clear keys, requests
 * are pipelined on one connection and matched by header, a dropped connection is dialled
 * again, and every error names keys by id and check value, never by a value.
 */
import { createCipheriv } from 'node:crypto';
import { connect } from 'node:net';
import fc from 'fast-check';
import t, { type Test } from 'tap';
import { computeMac, keyCheckValue } from '../switch/edge/mac.js';
import { HsmError, PayShieldModule, type PayShieldOptions } from '../switch/edge/payshield.js';
import { encodeFrame, FrameSplitter } from '../switch/edge/payshield-wire.js';
import { SecurityError, SoftwareSecurityModule, type KeyType } from '../switch/edge/security-module.js';
import { startPayShieldSim, type PayShieldSim, type PayShieldSimOptions } from '../switch/sim/payshield-sim.js';
import { until } from './support/until.js';

const hex = (s: string): Buffer => Buffer.from(s, 'hex');
const PAN = '4761739001010119';
const LMK = hex('0E1F2A3B4C5D6E7F8091A2B3C4D5E6F7');
const CLEAR: Record<string, { type: KeyType; value: Buffer }> = {
  'tpk-T1': { type: 'TPK', value: hex('0123456789ABCDEFFEDCBA9876543210') },
  'zpk-visa': { type: 'ZPK', value: hex('89ABCDEF0123456776543210FEDCBA98') },
  'zpk-mc': { type: 'ZPK', value: hex('1C1C1C1C1C1C1C1C2A2A2A2A2A2A2A2A') },
  'tak-T1': { type: 'TAK', value: hex('7CA110454A1A6E570131D9619DC1376E') },
  'zmk-visa': { type: 'ZMK', value: hex('3131313131313131BABABABABABABABA') },
};
/** The BouncyCastle ISO 9797-1 algorithm 3 vector. */
const BC_DATA = Buffer.from('Hello World !!!!', 'latin1');
const BC_MAC = 'F09B856213BAB83B';

const ecb = (key: Buffer, data: Buffer): Buffer => {
  const c = createCipheriv('des-ede', key, null);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(data), c.final()]);
};

/** A PIN field (16 hex) XOR the PAN field: the clear block. */
function withPan(pinField: string, pan: string): Buffer {
  const panField = hex(`0000${pan.slice(-13, -1)}`);
  return Buffer.from(hex(pinField).map((b, i) => b ^ panField[i]));
}

const clearBlock = (pin: string, pan: string): Buffer => withPan(`0${pin.length.toString(16)}${pin}`.padEnd(16, 'F'), pan);

/** Every hex spelling of every key, in the clear and under the LMK: none may appear in an error. */
function keyHex(sim: PayShieldSim): string[] {
  const clear = Object.values(CLEAR).map((k) => k.value.toString('hex').toUpperCase());
  const under = [...sim.keyTable.values()].map((k) => k.underLmk.slice(1).toUpperCase());
  return [...clear, ...under].flatMap((h) => [h, h.slice(0, 16), h.slice(16)]);
}

async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

interface Rig { sim: PayShieldSim; hsm: PayShieldModule; soft: SoftwareSecurityModule }

async function rig(tt: Test, simOpts: PayShieldSimOptions = {}, opts: Partial<PayShieldOptions> = {}): Promise<Rig> {
  const sim = await startPayShieldSim({ lmk: LMK, ...simOpts });
  const soft = new SoftwareSecurityModule();
  for (const [id, k] of Object.entries(CLEAR)) {
    sim.importClear(id, k.type, k.value);
    soft.loadClearKey(id, k.type, k.value);
  }
  const hsm = new PayShieldModule({ host: '127.0.0.1', port: sim.port, ...opts }, sim.keyTable);
  tt.teardown(async () => {
    hsm.close();
    await sim.close();
  });
  return { sim, hsm, soft };
}

t.test('CA and CC translate a PIN block as the software module does, given the same clear keys', async (tt) => {
  const { sim, hsm, soft } = await rig(tt);
  await fc.assert(fc.asyncProperty(fc.stringMatching(/^[0-9]{4,12}$/), async (pin) => {
    const block = ecb(CLEAR['tpk-T1'].value, clearBlock(pin, PAN));
    const viaHsm = await hsm.translatePin(block, PAN, 'tpk-T1', 'zpk-visa');
    const zoned = soft.translatePin(viaHsm, PAN, 'zpk-visa', 'zpk-mc');
    return viaHsm.equals(soft.translatePin(block, PAN, 'tpk-T1', 'zpk-visa'))
      && (await hsm.translatePin(viaHsm, PAN, 'zpk-visa', 'zpk-mc')).equals(zoned);
  }), { numRuns: 60 });
  tt.ok(sim.commands.includes('CA') && sim.commands.includes('CC'), 'a TPK source is CA, a ZPK source CC');
});

t.test('a PIN block that does not translate is bad_pin_block, named by key id and KCV only', async (tt) => {
  const { sim, hsm } = await rig(tt);
  const wrongPan = ecb(CLEAR['tpk-T1'].value, clearBlock('1234', '5413330089010434'));
  const fill = ecb(CLEAR['tpk-T1'].value, withPan('041234AAFFFFFFFF', PAN));
  for (const block of [wrongPan, fill, hex('0000000000000000')]) {
    const e = await failure(hsm.translatePin(block, PAN, 'tpk-T1', 'zpk-visa'));
    tt.ok(e instanceof SecurityError && e.kind === 'bad_pin_block', e.message);
    tt.match(e.message, /tpk-T1 \(KCV [0-9A-F]{6}\)/);
    for (const h of [...keyHex(sim), block.toString('hex').toUpperCase()]) tt.notOk(e.message.toUpperCase().includes(h), 'no key or PIN block in the error');
  }
  const short = await failure(hsm.translatePin(Buffer.alloc(7), PAN, 'tpk-T1', 'zpk-visa'));
  tt.equal((short as SecurityError).kind, 'bad_pin_block');
  tt.equal((await failure(hsm.translatePin(wrongPan, PAN, 'tpk-T1', 'tpk-T1')) as SecurityError).kind, 'wrong_type', 'PINs go to a ZPK');
  tt.equal((await failure(hsm.translatePin(wrongPan, PAN, 'nope', 'zpk-visa')) as SecurityError).kind, 'no_key');
});

t.test('M6 makes the X9.19 MAC of the BouncyCastle vector; M8 verifies it and refuses a flipped one', async (tt) => {
  const { sim, hsm } = await rig(tt);
  const mac = await hsm.mac('x9.19', 'tak-T1', BC_DATA);
  tt.equal(mac.toString('hex').toUpperCase(), BC_MAC);
  tt.same(mac, computeMac('x9.19', CLEAR['tak-T1'].value, BC_DATA));
  const data = Buffer.from('0200 some MAC block of odd length', 'latin1');
  tt.same(await hsm.mac('iso9797-1-alg3-pad2', 'tak-T1', data), computeMac('iso9797-1-alg3-pad2', CLEAR['tak-T1'].value, data));
  tt.equal(await hsm.verifyMac('x9.19', 'tak-T1', BC_DATA, mac), true);
  tt.equal(await hsm.verifyMac('x9.19', 'tak-T1', BC_DATA, mac.subarray(0, 4)), true, 'the 8H form');
  const flipped = Buffer.from(mac);
  flipped[7] ^= 1;
  tt.equal(await hsm.verifyMac('x9.19', 'tak-T1', BC_DATA, flipped), false);
  tt.equal(await hsm.verifyMac('x9.19', 'tak-T1', Buffer.from('Hello World !!!?'), mac), false);
  tt.same(sim.commands.filter((c) => c === 'M6' || c === 'M8'), ['M6', 'M6', 'M8', 'M8', 'M8', 'M8']);
  for (const alg of ['cup-ecb', 'cmac-aes'] as const) {
    const e = await failure(hsm.mac(alg, 'tak-T1', BC_DATA));
    tt.ok(e instanceof SecurityError && e.kind === 'bad_input', e.message);
    tt.match(e.message, /HSM adapter does not do/);
  }
  tt.equal((await failure(hsm.mac('x9.19', 'zpk-visa', BC_DATA)) as SecurityError).kind, 'wrong_type');
});

t.test('A0 generates a key whose BU check value is that of its clear value', async (tt) => {
  const { sim, hsm } = await rig(tt);
  const info = await hsm.generateKey('zak-new', 'ZAK');
  tt.match(info, { id: 'zak-new', type: 'ZAK', length: 16 });
  const entry = hsm.entry('zak-new');
  tt.match(entry.underLmk, /^U[0-9A-F]{32}$/);
  const clear = sim.revealForTest(entry.underLmk);
  tt.equal(info.kcv, keyCheckValue(clear));
  tt.equal(await hsm.checkValue('zak-new'), keyCheckValue(clear));
  tt.equal(await hsm.checkValue('tpk-T1'), keyCheckValue(CLEAR['tpk-T1'].value));
  tt.same(await hsm.mac('x9.19', 'zak-new', BC_DATA), computeMac('x9.19', clear, BC_DATA), 'the new key MACs');
});

t.test('keys move under a ZMK the way the software module moves them (A0 mode 1, A8, A6)', async (tt) => {
  const { hsm, soft } = await rig(tt);
  const made = await hsm.generateExported('zpk-new', 'ZPK', 'zmk-visa');
  tt.equal(soft.importKey('zpk-new', 'ZPK', made.cryptogram, 'zmk-visa', made.kcv).kcv, made.kcv, 'A0 mode 1: the software module takes it');
  const out = await hsm.exportKey('tak-T1', 'zmk-visa');
  tt.same(out, soft.exportKey('tak-T1', 'zmk-visa'), 'A8 gives what the software module gives');
  const given = soft.generateKey('zak-in', 'ZAK');
  const { cryptogram } = soft.exportKey('zak-in', 'zmk-visa');
  tt.equal((await hsm.importKey('zak-in', 'ZAK', cryptogram, 'zmk-visa', given.kcv)).kcv, given.kcv);
  tt.same(await hsm.mac('x9.19', 'zak-in', BC_DATA), soft.mac('x9.19', 'zak-in', BC_DATA));
  const e = await failure(hsm.importKey('zak-bad', 'ZAK', cryptogram, 'zmk-visa', '000000'));
  tt.ok(e instanceof SecurityError && e.kind === 'bad_kcv', e.message);
  tt.notOk(hsm.has('zak-bad'), 'a refused key is not kept');
});

t.test('a key under another LMK fails parity: bad_kcv naming the key', async (tt) => {
  const { hsm } = await rig(tt);
  const other = await startPayShieldSim({ lmk: hex('F1E2D3C4B5A69788F1E2D3C4B5A69788') });
  tt.teardown(() => other.close());
  hsm.setKey('tak-foreign', { type: 'TAK', underLmk: other.importClear('x', 'TAK', CLEAR['tak-T1'].value), kcv: 'ABCDEF' });
  const e = await failure(hsm.mac('x9.19', 'tak-foreign', BC_DATA));
  tt.ok(e instanceof SecurityError && e.kind === 'bad_kcv', e.message);
  tt.match(e.message, /tak-foreign \(KCV ABCDEF\)/);
  const bad = (() => {
    try {
      hsm.setKey('bad', { type: 'TAK', underLmk: 'X' + '0'.repeat(32) });
      return 'none';
    } catch (err) {
      return (err as SecurityError).kind;
    }
  })();
  tt.equal(bad, 'bad_input', 'a cryptogram that is not U + 32 hex is refused');
});

t.test('100 concurrent requests are pipelined on one connection and each gets its own answer', async (tt) => {
  const { sim, hsm } = await rig(tt, { latencyMs: { min: 0, max: 25 } });
  const data = Array.from({ length: 100 }, (_, i) => Buffer.from(`message ${i} `.repeat(1 + (i % 7)), 'latin1'));
  const macs = await Promise.all(data.map((d) => hsm.mac('x9.19', 'tak-T1', d)));
  macs.forEach((m, i) => tt.same(m, computeMac('x9.19', CLEAR['tak-T1'].value, data[i]), `request ${i}`));
  tt.equal(sim.connections, 1, 'one connection');
  tt.match(hsm.stats, { dials: 1, inFlight: 0, strays: 0 });
});

t.test('a connection dropped by the HSM fails what was on it; the next request dials again', async (tt) => {
  const { sim, hsm } = await rig(tt);
  tt.match(await hsm.diagnostics(), { firmware: 'revsw-sim' });
  sim.mute.add('M6');
  const lost = hsm.mac('x9.19', 'tak-T1', BC_DATA);
  await until(() => sim.commands.includes('M6'), 'the M6 read by the simulator');
  sim.dropConnections();
  const e = await failure(lost);
  tt.ok(e instanceof HsmError && e.kind === 'link' && e.command === 'M6', e.message);
  sim.mute.delete('M6');
  tt.equal((await hsm.mac('x9.19', 'tak-T1', BC_DATA)).toString('hex').toUpperCase(), BC_MAC);
  tt.equal(sim.connections, 2);
  tt.equal(hsm.stats.dials, 2);
});

t.test('a request without an answer times out naming its command, never a key', async (tt) => {
  const { sim, hsm } = await rig(tt, {}, { timeoutMs: 150 });
  sim.mute.add('M6');
  sim.mute.add('CA');
  const started = Date.now();
  const e = await failure(hsm.mac('x9.19', 'tak-T1', BC_DATA));
  tt.ok(e instanceof HsmError && e.kind === 'timeout', e.message);
  tt.ok(Date.now() - started >= 140, 'after the timeout');
  tt.match(e.message, /M6/);
  const block = ecb(CLEAR['tpk-T1'].value, clearBlock('1234', PAN));
  const e2 = await failure(hsm.translatePin(block, PAN, 'tpk-T1', 'zpk-visa'));
  tt.match(e2.message, /CA/);
  for (const err of [e, e2]) {
    for (const h of [...keyHex(sim), block.toString('hex').toUpperCase(), BC_DATA.toString('hex').toUpperCase()]) {
      tt.notOk(err.message.toUpperCase().includes(h), 'no key, PIN block or data in the error');
    }
  }
  tt.equal((await hsm.checkValue('tak-T1')).length, 6, 'other commands still answered');
});

t.test('an answer that comes after its request timed out is dropped, not given to a later request', async (tt) => {
  const { sim, hsm } = await rig(tt, { latencyMs: 200 }, { timeoutMs: 60 });
  const e = await failure(hsm.mac('x9.19', 'tak-T1', BC_DATA));
  tt.ok(e instanceof HsmError && e.kind === 'timeout', e.message);
  sim.latencyMs = 0;
  const other = Buffer.from('another message', 'latin1');
  tt.same(await hsm.mac('x9.19', 'tak-T1', other), computeMac('x9.19', CLEAR['tak-T1'].value, other));
  await until(() => hsm.stats.strays === 1, 'the late answer');
  tt.same(await hsm.mac('x9.19', 'tak-T1', other), computeMac('x9.19', CLEAR['tak-T1'].value, other), 'still in step');
});

t.test('NC: the LMK check value and firmware, with a longer header', async (tt) => {
  const { hsm } = await rig(tt, { headerLength: 8 }, { headerLength: 8 });
  tt.same(await hsm.diagnostics(), { lmkCheck: keyCheckValue(LMK, { bytes: 8 }), firmware: 'revsw-sim' });
});

t.test('the simulator answers a command it does not do with error 68, and the header echoed', async (tt) => {
  const sim = await startPayShieldSim();
  tt.teardown(() => sim.close());
  const socket = connect({ host: '127.0.0.1', port: sim.port });
  tt.teardown(() => socket.destroy());
  const splitter = new FrameSplitter();
  const answer = new Promise<string>((resolve) => socket.on('data', (c: Buffer) => {
    const f = splitter.push(c)[0];
    if (f !== undefined) resolve(f.toString('latin1'));
  }));
  socket.write(encodeFrame('HDR1', Buffer.from('B20004PING', 'latin1')));
  tt.equal(await answer, 'HDR1B368');
});
