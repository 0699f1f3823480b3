/**
 * Card data protection (domain.md §7): maskPan shows at most the first 6 and last 4
 * digits; redact blanks track data and PIN blocks, masks PANs and empties the sensitive
 * EMV tags inside F55 while keeping the rest of the ICC data readable.
 */
import t from 'tap';
import {
  BLANKED_FIELDS, decode, encode, getDialect, IsoMessage, maskPan, PAN_FIELDS, redact, redactedJson, toHex,
} from '../codec/index.js';

const B = (h: string): Buffer => Buffer.from(h.replace(/\s+/g, ''), 'hex');

t.test('maskPan', async (t) => {
  const cases: [string, string, string][] = [
    ['19 digits', '6212345678901234567', '621234*********4567'],
    ['16 digits', '4111111111111111', '411111******1111'],
    ['15 digits', '378282246310005', '378282*****0005'],
    ['14 digits', '30569309025904', '305693****5904'],
    ['13 digits', '4222222222222', '422222***2222'],
    ['12 digits: last 4 only', '123456789012', '********9012'],
    ['11 digits: nothing', '12345678901', '***********'],
    ['8 digits: nothing', '12345678', '********'],
    ['1 digit', '7', '*'],
    ['empty', '', ''],
  ];
  for (const [name, pan, masked] of cases) {
    const got = maskPan(pan);
    t.equal(got, masked, name);
    t.equal(got.length, pan.length, `${name}: length kept`);
    const shown = got.replace(/\*/g, '').length;
    t.ok(shown <= 10, `${name}: at most 10 digits shown`);
  }
});

t.test('the field lists', async (t) => {
  t.same([...BLANKED_FIELDS].sort((a, b) => a - b), [35, 36, 45, 52]);
  t.same([...PAN_FIELDS].sort((a, b) => a - b), [2, 34]);
});

const PAN = '4111111111111111';
const TRACK2 = '4111111111111111=25121015432112345678';
const TRACK3 = '014111111111111111=724724100000000000030300000004040009901020000000000000000000000000=1=1000000000000';
const TRACK1 = 'B4111111111111111^CARDHOLDER/TEST^25121015432112345678';
const PIN_BLOCK = 'A1B2C3D4E5F60718';

/** ICC data with the sensitive tags at top level and inside a 70 template. */
const ICC_HEX = [
  '9F02 06 000000001000', //                                 amount: kept
  '57 13 4111111111111111 D2512101 5432112345678 F', //      track 2 equivalent: emptied
  '5A 08 4111111111111111', //                               PAN: emptied
  '82 02 1C00', //                                           AIP: kept
  '70 0B 9F6B 08 4111111111111111', //                       template holding Mastercard track 2: emptied inside
  '9F26 08 0123456789ABCDEF', //                             cryptogram: kept
].join(' ');
const ICC_REDACTED_HEX = [
  '9F02 06 000000001000',
  '57 00',
  '5A 00',
  '82 02 1C00',
  '70 03 9F6B 00',
  '9F26 08 0123456789ABCDEF',
].join(' ');

function cardMessage(): IsoMessage {
  return new IsoMessage('0200', {
    2: PAN, 3: '000000', 4: '000000001000', 11: '000123', 34: 'PAN-EXT 4111111111111111',
    35: TRACK2, 36: TRACK3, 41: 'TERM0001', 45: TRACK1, 52: B(PIN_BLOCK), 55: B(ICC_HEX),
  });
}

t.test('redact', async (t) => {
  const m = cardMessage();
  const before = m.toJSON();
  const r = redact(m);
  t.same(r.toJSON(), {
    mti: '0200',
    2: '411111******1111',
    3: '000000', 4: '000000001000', 11: '000123',
    34: 'PAN-EX**************1111', // masked like a PAN: first 6 and last 4 characters
    35: '*'.repeat(TRACK2.length),
    36: '*'.repeat(TRACK3.length),
    41: 'TERM0001',
    45: '*'.repeat(TRACK1.length),
    52: '*'.repeat(16),
    55: toHex(B(ICC_REDACTED_HEX)),
  });
  t.same(m.toJSON(), before, 'the original message is untouched');
});

t.test('redacted JSON contains no PAN, track, PIN block or track-equivalent digits', async (t) => {
  const text = JSON.stringify(redactedJson(cardMessage()));
  const secrets: [string, string][] = [
    ['PAN', PAN],
    ['PAN middle digits', PAN.slice(6, 12)],
    ['track 2 discretionary data', '5432112345678'],
    ['track 2 separator and expiry', '=2512'],
    ['track 2 BCD separator and expiry, as hex in F55', 'D2512'],
    ['track 3', TRACK3.slice(0, 30)],
    ['track 1 name', 'CARDHOLDER'],
    ['PIN block', PIN_BLOCK],
  ];
  for (const [what, s] of secrets) t.notOk(text.includes(s), `no ${what}`);
  // and none of the 12-digit runs of the PAN that a shifted hex dump could show
  for (let i = 0; i + 12 <= PAN.length; i++) t.notOk(text.includes(PAN.slice(i, i + 12)), `no PAN digits ${i}-${i + 11}`);
});

t.test('redact after a real decode (UnionPay wire bytes)', async (t) => {
  const cup = getDialect('cup');
  const m = new IsoMessage('0200', {
    2: '6212345678901234567', 3: '000000', 4: '000000001000', 11: '000123',
    35: '6212345678901234567D2512101', 41: 'TERM0001', 52: B(PIN_BLOCK), 55: B(ICC_HEX),
  });
  m.tpdu = B('6000010002');
  m.header = B('603100311301');
  const decoded = decode(cup, encode(cup, m));
  const text = JSON.stringify(redactedJson(decoded));
  t.notOk(text.includes('6212345678901234567'), 'no PAN');
  t.notOk(text.includes('345678901'), 'no PAN middle digits');
  t.notOk(text.includes('D2512101'), 'no track 2');
  t.notOk(text.includes(PIN_BLOCK), 'no PIN block');
  t.equal(redactedJson(decoded)['2'], '621234*********4567');
});

t.test('F55 that does not parse is blanked whole', async (t) => {
  // 57 claims 0x13 bytes but only 4 follow: whatever is there could be track data.
  const m = new IsoMessage('0100', { 55: B('9F02 06 000000001000 57 13 41111111') });
  t.equal(redact(m).get(55), '*'.repeat(2 * 15));
});

t.test('F55 held as text (hex) is blanked whole', async (t) => {
  const m = new IsoMessage('0100', { 55: '5713' + '4111111111111111D25121015432112345678F' });
  t.equal(redact(m).get(55), '*'.repeat(42));
});

t.test('messages without card data pass through unchanged', async (t) => {
  const m = new IsoMessage('0800', { 7: '1125143000', 11: '000001', 70: '301' });
  t.same(redact(m).toJSON(), m.toJSON());
  t.same(redactedJson(m), m.toJSON());
});
