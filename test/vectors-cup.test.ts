/**
 * Hand-built wire vectors for China UnionPay POS (cup): a 5-byte TPDU (60, destination,
 * source), a 6-byte header, BCD MTI, binary bitmap, BCD numerics LEFT-aligned with a
 * trailing 0 pad nibble (but F23, right-aligned with the pad nibble first), BCD length prefixes (LL 1 byte, LLL 2 bytes), ASCII
 * 37/38/39/41/42/49, and the private F60 (60.1 type, 60.2 batch, 60.3 network code).
 * The 2-byte length in front of a frame belongs to framing and is not part of these bytes.
 * The bytes are written by hand; the codec is checked against them.
 */
import t from 'tap';
import { decode, encode, getDialect, IsoMessage, toHex, type FieldValue } from '../codec/index.js';
import { B, fieldsJson, wire } from './support/wire.js';



const TPDU_REQ = '6000010002'; // id 60, destination 0001, source 0002
const TPDU_RES = '6000020001'; // the response: addresses swapped
const HEADER = '603100311301';

interface Vector {
  name: string;
  mti: string;
  tpdu: string;
  bytes: Buffer;
  fields: Record<number, FieldValue>;
}

const d = getDialect('cup');

const VECTORS: Vector[] = [
  {
    name: '0200 purchase',
    mti: '0200',
    tpdu: TPDU_REQ,
    bytes: wire(`
      60 00 01 00 02                         # TPDU: id 60, destination 0001, source 0002
      60 31 00 31 13 01                      # 6-byte header
      02 00                                  # MTI 0200, BCD
      70                                     # 0111 0000: 2 3 4
      24                                     # 0010 0100: 11 14
      04                                     # 0000 0100: 22
      80                                     # 1000 0000: 25
      20                                     # 0010 0000: 35
      C0                                     # 1100 0000: 41 42
      80                                     # 1000 0000: 49
      10                                     # 0001 0000: 60
      19                                     # F2 LL = 19 digits
      62 12 34 56 78 90 12 34 56 70          #    6212345678901234567, trailing 0 pad nibble
      00 00 00                               # F3 000000
      00 00 00 00 10 00                      # F4 000000001000
      00 01 23                               # F11 000123
      25 12                                  # F14 2512
      05 10                                  # F22 051, left-aligned, trailing 0 pad
      00                                     # F25 00
      27                                     # F35 LL = 27 digits
      62 12 34 56 78 90 12 34 56 7D 25 12 10 10  # track 2, separator nibble D, trailing 0 pad
      54 45 52 4D 30 30 30 31                # F41 "TERM0001" (ASCII)
      4D 45 52 43 48 41 4E 54 30 30 30 30 30 30 31  # F42 "MERCHANT0000001" (ASCII)
      31 35 36                               # F49 "156" (ASCII)
      00 11                                  # F60 LLL = 0011 digits
      22 00 00 01 00 00                      #     60.1 22 sale, 60.2 000001, 60.3 000, pad 0
    `),
    fields: {
      2: '6212345678901234567', 3: '000000', 4: '000000001000', 11: '000123', 14: '2512', 22: '051',
      25: '00', 35: '6212345678901234567D2512101', 41: 'TERM0001', 42: 'MERCHANT0000001', 49: '156',
      60: '22000001000',
    },
  },
  {
    name: '0210 response',
    mti: '0210',
    tpdu: TPDU_RES,
    bytes: wire(`
      60 00 02 00 01                         # TPDU: destination and source swapped
      60 31 00 31 13 01                      # header
      02 10                                  # MTI 0210
      30                                     # 0011 0000: 3 4
      38                                     # 0011 1000: 11 12 13
      00
      80                                     # 1000 0000: 25
      0E                                     # 0000 1110: 37 38 39
      C0                                     # 1100 0000: 41 42
      80                                     # 1000 0000: 49
      10                                     # 0001 0000: 60
      00 00 00                               # F3 000000
      00 00 00 00 10 00                      # F4 000000001000
      00 01 23                               # F11 000123
      14 30 00                               # F12 143000
      11 25                                  # F13 1125
      00                                     # F25 00
      31 32 33 34 35 36 37 38 39 30 31 32    # F37 "123456789012"
      41 31 42 32 43 33                      # F38 "A1B2C3"
      30 30                                  # F39 "00"
      54 45 52 4D 30 30 30 31                # F41 "TERM0001"
      4D 45 52 43 48 41 4E 54 30 30 30 30 30 30 31  # F42 "MERCHANT0000001"
      31 35 36                               # F49 "156"
      00 11                                  # F60 LLL = 11 digits
      22 00 00 01 00 00                      #     22 000001 000
    `),
    fields: {
      3: '000000', 4: '000000001000', 11: '000123', 12: '143000', 13: '1125', 25: '00',
      37: '123456789012', 38: 'A1B2C3', 39: '00', 41: 'TERM0001', 42: 'MERCHANT0000001', 49: '156',
      60: '22000001000',
    },
  },
  {
    name: '0400 reversal, F39 98, the original F11',
    mti: '0400',
    tpdu: TPDU_REQ,
    bytes: wire(`
      60 00 01 00 02                         # TPDU, same direction as the original
      60 31 00 31 13 01                      # header
      04 00                                  # MTI 0400
      70                                     # 0111 0000: 2 3 4
      24                                     # 0010 0100: 11 14
      04                                     # 0000 0100: 22
      80                                     # 1000 0000: 25
      02                                     # 0000 0010: 39
      C0                                     # 1100 0000: 41 42
      80                                     # 1000 0000: 49
      10                                     # 0001 0000: 60
      19                                     # F2 LL = 19 digits
      62 12 34 56 78 90 12 34 56 70          #    6212345678901234567 + pad
      00 00 00                               # F3 000000
      00 00 00 00 10 00                      # F4 000000001000
      00 01 23                               # F11 000123, the ORIGINAL's trace
      25 12                                  # F14 2512
      05 10                                  # F22 051
      00                                     # F25 00
      39 38                                  # F39 "98" (no response from the host)
      54 45 52 4D 30 30 30 31                # F41 "TERM0001"
      4D 45 52 43 48 41 4E 54 30 30 30 30 30 30 31  # F42
      31 35 36                               # F49 "156"
      00 11                                  # F60 LLL = 11 digits
      22 00 00 01 00 00                      #     the original's F60
    `),
    fields: {
      2: '6212345678901234567', 3: '000000', 4: '000000001000', 11: '000123', 14: '2512', 22: '051',
      25: '00', 39: '98', 41: 'TERM0001', 42: 'MERCHANT0000001', 49: '156', 60: '22000001000',
    },
  },
  {
    name: '0800 echo via F60.3',
    mti: '0800',
    tpdu: TPDU_REQ,
    bytes: wire(`
      60 00 01 00 02                         # TPDU
      60 31 00 31 13 01                      # header
      08 00                                  # MTI 0800
      00
      20                                     # 0010 0000: 11
      00 00 00
      C0                                     # 1100 0000: 41 42
      00
      10                                     # 0001 0000: 60
      00 00 01                               # F11 000001
      54 45 52 4D 30 30 30 31                # F41 "TERM0001"
      4D 45 52 43 48 41 4E 54 30 30 30 30 30 30 31  # F42
      00 11                                  # F60 LLL = 11 digits
      00 00 00 01 30 10                      #     60.1 00, 60.2 000001, 60.3 301, pad 0
    `),
    fields: { 11: '000001', 41: 'TERM0001', 42: 'MERCHANT0000001', 60: '00000001301' },
  },
  {
    name: '0100 pre-auth with F55 TLV and F102 (secondary bitmap)',
    mti: '0100',
    tpdu: TPDU_REQ,
    bytes: wire(`
      60 00 01 00 02                         # TPDU
      60 31 00 31 13 01                      # header
      01 00                                  # MTI 0100
      F0                                     # 1111 0000: 1 (secondary) 2 3 4
      24                                     # 0010 0100: 11 14
      06                                     # 0000 0110: 22 23
      80                                     # 1000 0000: 25
      00 00
      82                                     # 1000 0010: 49 55
      10                                     # 0001 0000: 60
      00 00 00 00 04 00 00 00                # secondary: 0000 0100 in byte 4 = 102
      16                                     # F2 LL = 16 digits
      62 12 34 56 78 90 12 34                #    6212345678901234 (even: no pad)
      03 00 00                               # F3 030000 pre-authorization
      00 00 00 00 10 00                      # F4 000000001000
      00 01 24                               # F11 000124
      25 12                                  # F14 2512
      05 10                                  # F22 051 + pad
      00 01                                  # F23 001, right-aligned: the pad nibble first, as terminals send it (unlike F22)
      06                                     # F25 06 pre-auth
      31 35 36                               # F49 "156"
      00 29                                  # F55 LLL = 0029 bytes
      9F 02 06 00 00 00 00 10 00             #     9F02 amount authorised
      5F 2A 02 01 56                         #     5F2A currency 0156
      82 02 1C 00                            #     82 AIP
      9F 26 08 01 23 45 67 89 AB CD EF       #     9F26 cryptogram
      00 11                                  # F60 LLL = 11 digits
      10 00 00 01 00 00                      #     60.1 10 pre-auth, 60.2 000001, 60.3 000, pad
      10                                     # F102 LL = 10 characters
      41 43 43 54 30 30 30 30 30 31          #     "ACCT000001"
    `),
    fields: {
      2: '6212345678901234', 3: '030000', 4: '000000001000', 11: '000124', 14: '2512', 22: '051',
      23: '001', 25: '06', 49: '156', 55: B('9F0206000000001000' + '5F2A020156' + '82021C00' + '9F26080123456789ABCDEF'),
      60: '10000001000', 102: 'ACCT000001',
    },
  },
];

function expectedJson(v: Vector): Record<string, string> {
  return fieldsJson(v.mti, v.fields, { tpdu: v.tpdu, header: HEADER });
}

function handBuilt(v: Vector): IsoMessage {
  const m = new IsoMessage(v.mti, v.fields);
  m.tpdu = B(v.tpdu);
  m.header = B(HEADER);
  return m;
}

for (const v of VECTORS) {
  t.test(v.name, async (t) => {
    const decoded = decode(d, v.bytes);
    t.same(decoded.toJSON(), expectedJson(v), 'decode(bytes) gives TPDU, header and fields');
    t.equal(toHex(encode(d, decoded)), toHex(v.bytes), 'encode(decode(bytes)) gives the bytes back');
    t.equal(toHex(encode(d, handBuilt(v))), toHex(v.bytes), 'encode(hand-built message) gives the bytes');
  });
}

t.test('F60 parts of the vectors', async (t) => {
  const parts = VECTORS.map((v) => [v.mti, decode(d, v.bytes).cup60()]);
  t.same(parts, [
    ['0200', { type: '22', batch: '000001', networkCode: '000' }],
    ['0210', { type: '22', batch: '000001', networkCode: '000' }],
    ['0400', { type: '22', batch: '000001', networkCode: '000' }],
    ['0800', { type: '00', batch: '000001', networkCode: '301' }],
    ['0100', { type: '10', batch: '000001', networkCode: '000' }],
  ]);
});

t.test('encoding one message repeatedly gives the same bytes every time', async (t) => {
  // The encoder keeps state between calls (a shared output buffer); the TPDU and header
  // must land at the start of each message's own bytes, not at a fixed buffer position.
  const v = VECTORS[3]; // 0800 echo: the smallest
  const runs = [1, 2, 3].map(() => toHex(encode(d, handBuilt(v))));
  t.same(runs, [toHex(v.bytes), toHex(v.bytes), toHex(v.bytes)]);
});

t.test('F62 of a sign-on answer is binary: working keys and check values round-trip', (t) => {
  // PIK (16) + CV (4) + MAK (8, padded to 16) + CV (4), as UnionPay terminals expect it.
  const keys = Buffer.from('0123456789ABCDEFFEDCBA9876543210' + '08D7B400' + '2222222222222222' + '0000000000000000' + '00962B60', 'hex');
  const m = new IsoMessage('0810');
  m.tpdu = Buffer.from(TPDU_RES, 'hex');
  m.header = Buffer.from(HEADER, 'hex');
  for (const [k, v] of Object.entries({ 11: '000001', 12: '101010', 13: '1203', 32: '00000001', 37: '000000000001', 39: '00', 41: '12345678', 42: '123456789012345' })) m.set(Number(k), v);
  m.set(60, '00000001003');
  m.set(62, keys.toString('hex').toUpperCase());
  const bytes = encode(d, m);
  t.ok(bytes.includes(keys), 'the key bytes go on the wire as they are, with no text conversion');
  t.equal(decode(d, bytes).get(62), keys.toString('hex').toUpperCase(), 'and come back the same (b fields read as hex), 0x00 and 0xFE bytes included');
  t.end();
});
