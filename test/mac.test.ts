/**
 * The MAC algorithms and key check values against known answers from public sources
 * (issue 18's list: BouncyCastle's ISO9797Alg3MacTest, jPOS's key test resources, a
 * UnionPay POS example; RFC 4493 for CMAC-AES), and the properties a verifier needs.
 */
import fc from 'fast-check';
import t from 'tap';
import { cmacAes128, computeMac, keyCheckValue, MAC_ALGORITHMS, MacKeyError, verifyMac } from '../switch/edge/mac.js';

const hex = (s: string): Buffer => Buffer.from(s, 'hex');

t.test('known answers', (tt) => {
  tt.equal(computeMac('x9.19', hex('7CA110454A1A6E570131D9619DC1376E'), Buffer.from('Hello World !!!!', 'latin1')).toString('hex').toUpperCase(), 'F09B856213BAB83B', 'X9.19 (BouncyCastle ISO9797Alg3MacTest)');
  tt.equal(keyCheckValue(hex('0123456789ABCDEFFEDCBA9876543210')), '08D7B4', 'KCV of a double-length key (jPOS)');
  tt.equal(computeMac('cup-ecb', hex('2222222222222222'), hex('1234567890ABCDEFABCDEF1234567890')).toString('latin1'), 'E267B6E2', 'UnionPay ECB MAC');
  const k = hex('2b7e151628aed2a6abf7158809cf4f3c');
  const m = hex('6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710');
  tt.equal(cmacAes128(k, Buffer.alloc(0)).toString('hex'), 'bb1d6929e95937287fa37d129b756746', 'CMAC-AES, empty message (RFC 4493)');
  tt.equal(cmacAes128(k, m.subarray(0, 16)).toString('hex'), '070a16b46b4d4144f79bdd9dd04a287c', '16 bytes');
  tt.equal(cmacAes128(k, m.subarray(0, 40)).toString('hex'), 'dfa66747de9ae63030ca32611497c827', '40 bytes');
  tt.equal(cmacAes128(k, m).toString('hex'), '51f0bebf7e3b9d92fc49741779363cfe', '64 bytes');
  tt.equal(computeMac('cmac-aes', k, m).toString('hex'), '51f0bebf7e3b9d92', 'F64 keeps the first 8 bytes');
  tt.end();
});

t.test('padding: method 2 always pads, method 1 only a partial block', (tt) => {
  const key = hex('7CA110454A1A6E570131D9619DC1376E');
  const full = Buffer.from('12345678', 'latin1');
  tt.not(computeMac('x9.19', key, full).toString('hex'), computeMac('iso9797-1-alg3-pad2', key, full).toString('hex'));
  tt.equal(computeMac('x9.19', key, Buffer.from('1234567', 'latin1')).toString('hex'), computeMac('x9.19', key, Buffer.from('1234567\0', 'latin1')).toString('hex'), 'zero padding');
  tt.end();
});

t.test('a verifier accepts its own MAC and refuses any changed byte or another key', (tt) => {
  const keys: Record<string, Buffer> = { 'x9.19': hex('0123456789ABCDEFFEDCBA9876543210'), 'iso9797-1-alg3-pad2': hex('0123456789ABCDEFFEDCBA9876543210'), 'cup-ecb': hex('2222222222222222'), 'cmac-aes': hex('2b7e151628aed2a6abf7158809cf4f3c') };
  for (const alg of MAC_ALGORITHMS) {
    fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 200 }), fc.nat(), (bytes, at) => {
      const data = Buffer.from(bytes);
      const mac = computeMac(alg, keys[alg], data);
      if (!verifyMac(alg, keys[alg], data, mac)) return false;
      const changed = Buffer.from(data);
      changed[at % changed.length] ^= 0x01;
      // cup-ecb XORs the blocks first: a flipped bit always changes the XOR, hence the MAC input.
      return !verifyMac(alg, keys[alg], changed, mac);
    }), { numRuns: 200 });
  }
  tt.notOk(verifyMac('x9.19', keys['x9.19'], Buffer.from('abc'), Buffer.alloc(7)), 'a short MAC is refused');
  tt.throws(() => computeMac('x9.19', Buffer.alloc(8), Buffer.from('x')), MacKeyError, 'a retail MAC refuses a single-length key');
  tt.throws(() => keyCheckValue(Buffer.alloc(5)), /8, 16 or 24 bytes/);
  tt.end();
});
