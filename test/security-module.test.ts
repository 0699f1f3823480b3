/**
 * The software security module: PIN translation (ISO 9564 format 0) from a terminal's PIN
 * key to a zone PIN key, keys moved under a key-encrypting key with their check value,
 * and MACs through it; errors name keys by id and check value, never a PIN or a key.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import fc from 'fast-check';
import t from 'tap';
import { computeMac } from '../switch/edge/mac.js';
import { SecurityError, SoftwareSecurityModule, withOddParity } from '../switch/edge/security-module.js';

const hex = (s: string): Buffer => Buffer.from(s, 'hex');
const PIK = hex('0123456789ABCDEFFEDCBA9876543210');
const ZPK = hex('89ABCDEF0123456776543210FEDCBA98');
const PAN = '4761739001010119';

const ecb = (key: Buffer, data: Buffer, decrypt = false): Buffer => {
  const c = decrypt ? createDecipheriv('des-ede', key, null) : createCipheriv('des-ede', key, null);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(data), c.final()]);
};

/** The clear format-0 block of a PIN for a PAN: PIN field XOR PAN field. */
function clearBlock(pin: string, pan: string): Buffer {
  const pinField = hex(`0${pin.length.toString(16)}${pin}`.padEnd(16, 'F'));
  const panField = hex(`0000${pan.slice(-13, -1)}`);
  return Buffer.from(pinField.map((b, i) => b ^ panField[i]));
}

/** The kind of SecurityError `f` throws, or 'none'. */
function kindOf(f: () => unknown): string {
  try {
    f();
    return 'none';
  } catch (e) {
    return e instanceof SecurityError ? e.kind : `not a SecurityError: ${String(e)}`;
  }
}

function hsm(): SoftwareSecurityModule {
  const m = new SoftwareSecurityModule();
  m.loadClearKey('pik-T1', 'PIK', PIK);
  m.loadClearKey('zpk-visa', 'ZPK', ZPK);
  return m;
}

t.test('the format-0 PIN block of the standard example', (tt) => {
  // PIN 1234, PAN 4111111111111111: 041234FFFFFFFFFF XOR 0000111111111111.
  tt.equal(clearBlock('1234', '4111111111111111').toString('hex').toUpperCase(), '041225EEEEEEEEEE');
  tt.end();
});

t.test('a PIN block is translated from the terminal\'s key to the zone\'s', (tt) => {
  const m = hsm();
  fc.assert(fc.property(fc.stringMatching(/^[0-9]{4,12}$/), (pin) => {
    const clear = clearBlock(pin, PAN);
    const out = m.translatePin(ecb(PIK, clear), PAN, 'pik-T1', 'zpk-visa');
    return ecb(ZPK, out, true).equals(clear);
  }), { numRuns: 300 });
  tt.end();
});

t.test('a block that is not format 0 for this card is refused, saying nothing of the PIN', (tt) => {
  const m = hsm();
  const good = ecb(PIK, clearBlock('1234', PAN));
  const other = '4000001234567899';
  const e = (() => { try { m.translatePin(good, other, 'pik-T1', 'zpk-visa'); return null; } catch (x) { return x as SecurityError; } })();
  tt.ok(e instanceof SecurityError && e.kind === 'bad_pin_block', 'another card\'s PAN: not a valid block');
  tt.notMatch(e?.message ?? '', /1234|041234/, 'the PIN is not in the message');
  tt.match(e?.message ?? '', /KCV 08D7B4/, 'the key is named by its check value');
  tt.equal(kindOf(() => m.translatePin(ecb(ZPK, clearBlock('1234', PAN)), PAN, 'pik-T1', 'zpk-visa')), 'bad_pin_block', 'encrypted under another key');
  tt.equal(kindOf(() => m.translatePin(Buffer.alloc(7), PAN, 'pik-T1', 'zpk-visa')), 'bad_pin_block', 'a short block');
  tt.equal(kindOf(() => m.translatePin(good, PAN, 'pik-T1', 'nope')), 'no_key');
  m.loadClearKey('mak-T1', 'MAK', hex('2222222222222222'));
  tt.equal(kindOf(() => m.translatePin(good, PAN, 'mak-T1', 'zpk-visa')), 'wrong_type', 'a MAC key never decrypts PINs');
  tt.end();
});

t.test('keys move only under a key-encrypting key, checked by their check value', (tt) => {
  const m = hsm();
  m.loadClearKey('tmk-T1', 'TMK', hex('1111111111111111FFFFFFFFFFFFFFFF'));
  const made = m.generateKey('pik-new', 'PIK');
  tt.equal(made.kcv.length, 6);
  const { cryptogram, kcv } = m.exportKey('pik-new', 'tmk-T1');
  tt.equal(kcv, made.kcv);
  const other = new SoftwareSecurityModule();
  other.loadClearKey('tmk-T1', 'TMK', hex('1111111111111111FFFFFFFFFFFFFFFF'));
  tt.same(other.importKey('pik-T1', 'PIK', cryptogram, 'tmk-T1', kcv), { id: 'pik-T1', type: 'PIK', kcv, length: 16 }, 'imported with the right check value');
  tt.equal(kindOf(() => other.importKey('pik-T2', 'PIK', cryptogram, 'tmk-T1', '000000')), 'bad_kcv', 'a wrong check value is refused');
  tt.equal(kindOf(() => other.info('pik-T2')), 'no_key', 'and nothing is kept');
  tt.ok(withOddParity(hex('0000')).every((b) => [...Array(8).keys()].reduce((n, i) => n + ((b >> i) & 1), 0) % 2 === 1), 'odd parity');
  tt.end();
});

t.test('MACs through the module are the MAC functions\' own', (tt) => {
  const m = hsm();
  m.loadClearKey('mak-T1', 'MAK', hex('2222222222222222'));
  const data = hex('1234567890ABCDEFABCDEF1234567890');
  tt.same(m.mac('cup-ecb', 'mak-T1', data), computeMac('cup-ecb', hex('2222222222222222'), data));
  tt.ok(m.verifyMac('cup-ecb', 'mak-T1', data, Buffer.from('E267B6E2', 'latin1')));
  tt.equal(kindOf(() => m.mac('cup-ecb', 'pik-T1', data)), 'wrong_type', 'a PIN key never makes MACs');
  tt.end();
});
