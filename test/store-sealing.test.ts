/**
 * Sealing (issue 16): a sealed PAN opens only as seal() wrote it (AES-256-GCM, 12-byte IV,
 * full 16-byte tag, bound to its row and field), under a key named in the value, so keys
 * rotate; the first format still opens. A stored message keeps only its standard's
 * allow-list (plus what a dialect file keeps by name and reason): a CVV2 in F48 or a PAN
 * typed into free text never reaches the store.
 */
import { createCipheriv, hkdfSync, randomBytes } from 'node:crypto';
import t from 'tap';
import { deriveDialect, getDialect, IsoMessage, reversalOf } from '../codec/index.js';
import { isCurrentSealed, keptFormOf, maskPanRuns, sealedField, sealMessage, unsealMessage, withSealedField } from '../switch/store/sealed.js';
import { CardKeys, checkValue } from '../switch/store/secrets.js';
import { parseKeyText } from '../switch/config/key-text.js';

const PAN = '4761739001010119';
const ROOT = Buffer.alloc(32, 9);
const keys = new CardKeys(ROOT);
const AAD = 'revswitch sealed 2|txn-1|pan';

t.test('a sealed PAN opens only with its 12-byte IV and full 16-byte tag', async (tt) => {
  const sealed = keys.seal(PAN, AAD);
  tt.match(sealed, /^2\.k0\.[0-9a-z]+\./, 'format 2, key k0, the hour');
  tt.equal(keys.open(sealed, AAD), PAN, 'as written, it opens');
  const [v, kid, hour, iv, tag, body] = sealed.split('.');
  const at = (parts: string[]): string => [v, kid, hour, ...parts].join('.');
  const tag4 = Buffer.from(tag, 'base64url').subarray(0, 4).toString('base64url');
  tt.throws(() => keys.open(at([iv, tag4, body]), AAD), /expected a 16-byte tag, got 4/, 'a tag cut to 4 bytes is refused');
  const iv16 = Buffer.concat([Buffer.from(iv, 'base64url'), Buffer.alloc(4)]).toString('base64url');
  tt.throws(() => keys.open(at([iv16, tag, body]), AAD), /expected a 12-byte IV, got 16/);
  const flipped = Buffer.from(body, 'base64url');
  flipped[0] ^= 1;
  let message = '';
  try {
    keys.open(at([iv, tag, flipped.toString('base64url')]), AAD);
  } catch (e) {
    message = (e as Error).message;
  }
  tt.match(message, /does not verify/, `a tampered ciphertext is refused: ${message}`);
  tt.notOk(message.includes(PAN) || message.includes('0119'), 'and the message carries no card data');
  tt.throws(() => keys.open('no-dots', AAD), /expected 2\.key\.hour\.iv\.tag\.ciphertext/);
});

t.test('a value moved to another row or field does not open', async (tt) => {
  const sealed = keys.seal(PAN, AAD);
  tt.throws(() => keys.open(sealed, 'revswitch sealed 2|txn-2|pan'), /does not verify/, 'another transaction');
  tt.throws(() => keys.open(sealed, 'revswitch sealed 2|txn-1|f34'), /does not verify/, 'another field');
  const d = getDialect('iso87a');
  const msg = new IsoMessage('0200').set(2, PAN).set(3, '000000').set(4, '000000001000').set(11, '000001');
  const stored = sealMessage(d, msg, keys, 'txn-1');
  tt.equal(unsealMessage(d, stored, keys, 'txn-1').get(2), PAN, 'its own row opens it');
  tt.throws(() => unsealMessage(d, stored, keys, 'txn-9'), /does not verify/, 'a refund row naming another transaction cannot borrow it');
});

t.test('the first format (iv.tag.ciphertext under the root\'s seal key, no AAD) still opens', async (tt) => {
  const legacy = Buffer.from(hkdfSync('sha256', ROOT, Buffer.alloc(0), 'revswitch pan seal v1', 32));
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', legacy, iv);
  const body = Buffer.concat([c.update(PAN, 'utf8'), c.final()]);
  const v1 = `${iv.toString('base64url')}.${c.getAuthTag().toString('base64url')}.${body.toString('base64url')}`;
  tt.equal(keys.open(v1, 'ignored'), PAN);
  tt.equal(CardKeys.keyIdOf(v1), 'k0');
  const d = getDialect('iso87a');
  const old = JSON.stringify({ mti: '0200', 3: '000000', 48: 'CVV2=123', pan: v1 });
  const opened = unsealMessage(d, old, keys, 'any');
  tt.equal(opened.get(2), PAN, 'a first-format message opens');
  tt.notOk(isCurrentSealed(old, keys), 'and is not current: the resealer rewrites it');
});

t.test('keys rotate: a new key seals, every configured key opens, each value names its key', async (tt) => {
  const k1 = randomBytes(32);
  const before = keys.seal(PAN, AAD);
  const rotated = new CardKeys(ROOT, [{ id: 'k1', key: k1 }]);
  tt.equal(rotated.currentKeyId, 'k1');
  tt.same(rotated.keyIds(), ['k0', 'k1']);
  const after = rotated.seal(PAN, AAD);
  tt.equal(CardKeys.keyIdOf(after), 'k1', 'new values under k1');
  tt.equal(rotated.open(before, AAD), PAN, 'old values still open');
  tt.throws(() => keys.open(after, AAD), /key k1 is not configured/, 'a process without k1 says which key it lacks');
  tt.equal(rotated.panHash(PAN), keys.panHash(PAN), 'the PAN hash never rotates');
  tt.throws(() => new CardKeys(ROOT, [{ id: 'k0', key: k1 }]), /k0 is the root's/);
  tt.throws(() => new CardKeys(ROOT, [{ id: 'k1', key: k1 }, { id: 'k1', key: k1 }]), /given twice/);
  tt.match(checkValue(k1), /^[0-9A-F]{6}$/, 'keys are named by id and check value');
});

t.test('each UTC hour seals under its own subkey', async (tt) => {
  const hour = 3_600_000;
  const a = keys.seal(PAN, AAD, 10 * hour);
  const b = keys.seal(PAN, AAD, 11 * hour + 5);
  tt.equal(a.split('.')[2], (10).toString(36));
  tt.equal(b.split('.')[2], (11).toString(36));
  tt.equal(keys.open(a, AAD), PAN);
  tt.equal(keys.open(b, AAD), PAN);
  const forged = b.split('.');
  forged[2] = (10).toString(36);
  tt.throws(() => keys.open(forged.join('.'), AAD), /does not verify/, 'the hour is part of the key: a value moved to another hour does not open');
});

t.test('no IV is used twice: across the IV pool\'s refills every value has its own, and each opens', async (tt) => {
  const fresh = new CardKeys(randomBytes(32));
  const ivs = new Set<string>();
  const n = 3 * 1024 + 7; // the pool holds 1,024 IVs: three refills and a part
  for (let i = 0; i < n; i++) {
    const v = fresh.seal(`${PAN}${i}`, AAD);
    const parts = v.split('.');
    tt.equal(Buffer.from(parts[3], 'base64url').length, 12);
    ivs.add(parts[3]);
    if (i % 500 === 0 || i === n - 1) tt.equal(fresh.open(v, AAD), `${PAN}${i}`);
  }
  tt.equal(ivs.size, n, 'every IV distinct');
});

t.test('panHashKey: 32 random bytes, or scrypt and a passphrase; never a short secret', async (tt) => {
  tt.same(parseKeyText('ab'.repeat(32), 'panHashKey'), Buffer.alloc(32, 0xab));
  tt.same(parseKeyText(Buffer.alloc(32, 7).toString('base64'), 'panHashKey'), Buffer.alloc(32, 7));
  tt.same(parseKeyText(Buffer.alloc(32, 250).toString('base64url'), 'panHashKey'), Buffer.alloc(32, 250));
  const secret = 'revswitch-a-passphrase';
  let msg = '';
  try {
    parseKeyText(secret, 'panHashKey');
  } catch (e) {
    msg = (e as Error).message;
  }
  tt.match(msg, /^panHashKey: expected 32 random bytes/);
  tt.notOk(msg.includes(secret), 'the error never carries the value');
  tt.throws(() => parseKeyText('scrypt:short', 'panHashKey'), /at least 16 characters/);
  const s = parseKeyText(`scrypt:${secret}`, 'panHashKey');
  tt.equal(s.length, 32);
  tt.same(parseKeyText(`scrypt:${secret}`, 'x'), s, 'the same passphrase gives the same key on every node');
  tt.throws(() => new CardKeys(Buffer.alloc(16)), /must be 32 bytes/);
});

/** A sale with something in every kind of field: kept, sealed, dropped, masked. */
function noisySale(): IsoMessage {
  return new IsoMessage('0200')
    .set(2, PAN).set(3, '000000').set(4, '000000001000').set(7, '1203101010').set(11, '000123').set(12, '101010').set(13, '1203')
    .set(22, '051').set(25, '00').set(32, '123456').set(34, '5555555555554444123').set(35, `${PAN}=29122011234567890`).set(37, 'ABC123456789')
    .set(41, 'TERM0001').set(42, '123456789012345').set(43, 'SHOP 5555 5555 5555 4444 CITY         US')
    .set(48, 'CVV2=123 ALT PAN 5555555555554444').set(49, '840').set(62, '4111 1111 1111 1111').set(102, '4000056655665556');
}

t.test('a stored message keeps its allow-list: F34 sealed with F2, free text masked, the rest dropped', async (tt) => {
  const d = getDialect('iso87a');
  const stored = sealMessage(d, noisySale(), keys, 'txn-1');
  tt.ok(stored.startsWith('{"v":2,"k":"k0","mti":"0200"'), 'version and key id lead (the resealer finds old rows by prefix)');
  tt.ok(isCurrentSealed(stored, keys));
  for (const text of ['CVV2', '123 ALT', '5555555555554444', '4111 1111 1111 1111', '4000056655665556', PAN, '29122011234567890']) {
    tt.notOk(stored.includes(text), `not stored: ${text}`);
  }
  const back = unsealMessage(d, stored, keys, 'txn-1');
  tt.equal(back.get(2), PAN);
  tt.equal(back.get(34), '5555555555554444123', 'F34 opens with the key');
  tt.equal(back.get(43), 'SHOP 5555 55** **** 4444 CITY         US', 'F43 kept for the reversal, its PAN-like run masked, same length');
  tt.equal(back.get(42), '123456789012345', 'a 15-digit merchant id is not free text: kept as it is');
  tt.same([35, 48, 62, 102].filter((n) => back.has(n)), [], 'track 2, F48, F62, F102 dropped');
  tt.same([3, 4, 7, 11, 12, 13, 22, 25, 32, 37, 41, 49].filter((n) => !back.has(n)), [], 'what a reversal and refund need is kept');
  tt.equal(sealedField(stored, 7), '1203101010');
  const with38 = withSealedField(stored, 38, 'A1B2C3');
  tt.ok(isCurrentSealed(with38, keys), 'a field added keeps the leading version and key');
  tt.equal(unsealMessage(d, with38, keys, 'txn-1').get(38), 'A1B2C3');
  tt.throws(() => withSealedField(stored, 34, 'x'), /never kept in the clear/);
});

t.test('PAN-like runs are masked wherever they sit in free text', async (tt) => {
  tt.equal(maskPanRuns('card 4111-1111-1111-1111 ok'), 'card 4111-11**-****-1111 ok');
  tt.equal(maskPanRuns('123456789012'), '123456789012', '12 digits are not a PAN');
  // A PAN inside a longer run never survives: the whole run is masked but its ends.
  const long = '999999999' + '4111111111111111' + '999999';
  const masked = maskPanRuns(long);
  tt.notOk(masked.includes('4111111111111111'));
  tt.equal(masked.length, long.length);
});

t.test('UnionPay F60 is kept when well-formed (the reversal repeats it) and dropped when not', async (tt) => {
  const cup = getDialect('cup');
  const m = new IsoMessage('0200').set(2, PAN).set(3, '000000').set(4, '000000001000').set(11, '000123').set(41, 'TERM0001').set(60, '22000001000');
  tt.equal(unsealMessage(cup, sealMessage(cup, m, keys, 't'), keys, 't').get(60), '22000001000');
  m.set(60, '2200000100X');
  tt.notOk(unsealMessage(cup, sealMessage(cup, m, keys, 't'), keys, 't').has(60), 'a malformed F60 is not kept');
});

t.test('a dialect file keeps a further field only by its name and with a reason', async (tt) => {
  const base = getDialect('iso87a');
  const label = base.field(48)?.label ?? '';
  const d = deriveDialect(base, { keep: { 48: { name: label, reason: 'the issuer wants its F48 back in every reversal' } } }, 'issuer48.json');
  tt.ok(keptFormOf(d).plain.includes(48));
  tt.ok(keptFormOf(d).masked.has(48), 'and it is free text: PAN-like runs masked');
  const back = unsealMessage(d, sealMessage(d, noisySale(), keys, 'x'), keys, 'x');
  tt.equal(back.get(48), 'CVV2=123 ALT PAN 555555******4444');
  tt.throws(() => deriveDialect(base, { keep: { 48: { name: 'Something else', reason: 'the issuer wants it' } } }, 'f.json'),
    /f\.json: keep\.48\.name: expected the field's label/);
  tt.throws(() => deriveDialect(base, { keep: { 48: { name: label } } }, 'f.json'), /keep\.48\.reason: expected why/);
  tt.throws(() => deriveDialect(base, { keep: { 35: { name: base.field(35)?.label, reason: 'we would like track 2' } } }, 'f.json'),
    /keep\.35: track, PIN block and ICC data are never kept/);
  tt.throws(() => deriveDialect(base, { keep: [48] }, 'f.json'), /keep: expected an object/);
  tt.notOk(keptFormOf(base).plain.includes(48), 'the base dialect is unchanged');
});

t.test('a stored reversal keeps its original-data fields whole (structured, not free text)', async (tt) => {
  for (const name of ['iso87a', 'iso93a']) {
    const d = getDialect(name);
    const sale = new IsoMessage(`${d.versionDigit}200`).set(2, PAN).set(3, '000000').set(4, '000000001000').set(7, '1204101010')
      .set(11, '000123').set(12, name === 'iso93a' ? '261204101010' : '101010').set(32, '06123456').set(41, 'TERM0001').set(49, '840');
    const rev = reversalOf(d, sale, { finalAmount: '500' });
    const back = unsealMessage(d, sealMessage(d, rev, keys, 'r'), keys, 'r');
    const field = name === 'iso93a' ? 56 : 90;
    tt.equal(back.get(field), rev.get(field), `${name}: F${field} kept as built`);
    if (name === 'iso87a') tt.equal(back.get(95), rev.get(95), 'and F95');
    else tt.equal(back.get(30), rev.get(30), 'and F30');
  }
});
