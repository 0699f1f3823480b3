/**
 * Hand-built wire vectors for ISO 8583:1987 binary (iso87b): BCD MTI, binary bitmap,
 * BCD numerics right-aligned with a leading 0 pad nibble (track 2 left-aligned with a
 * trailing F), BCD length prefixes (LL = 1 byte, LLL = 2 bytes) that count digits for
 * numerics and bytes for b fields, ASCII text fields and raw binary fields.
 * The bytes are written by hand; the codec is checked against them.
 */
import t from 'tap';
import { decode, encode, getDialect, IsoMessage, toHex, type FieldValue } from '../codec/index.js';
import { B, fieldsJson, wire } from './support/wire.js';



interface Vector {
  name: string;
  mti: string;
  bytes: Buffer;
  fields: Record<number, FieldValue>;
}

const d = getDialect('iso87b');

const VECTORS: Vector[] = [
  {
    name: '0200 purchase',
    mti: '0200',
    bytes: wire(`
      02 00                                  # MTI 0200, BCD
      72                                     # 0111 0010: 2 3 4 7
      38                                     # 0011 1000: 11 12 13
      04                                     # 0000 0100: 22
      90                                     # 1001 0000: 25 28
      28                                     # 0010 1000: 35 37
      C0                                     # 1100 0000: 41 42
      80                                     # 1000 0000: 49
      00                                     # none of 57-64
      19                                     # F2 LL = 19 digits (BCD)
      06 21 23 45 67 89 01 23 45 67          #    0 pad nibble, then 6212345678901234567
      00 00 00                               # F3 000000
      00 00 00 00 10 00                      # F4 000000001000
      11 25 14 30 00                         # F7 1125143000
      00 01 23                               # F11 000123
      14 30 00                               # F12 143000
      11 25                                  # F13 1125
      00 51                                  # F22 0 pad nibble, 051
      00                                     # F25 00
      44 00 00 01 50                         # F28 x+n9: sign "D" as one ASCII byte, then 00000150
      27                                     # F35 LL = 27 digits
      62 12 34 56 78 90 12 34 56 7D 25 12 10 1F  # track 2, separator nibble D, F pad last
      31 32 33 34 35 36 37 38 39 30 31 32    # F37 "123456789012" (ASCII)
      54 45 52 4D 30 30 30 31                # F41 "TERM0001"
      4D 45 52 43 48 41 4E 54 30 30 30 30 30 30 31  # F42 "MERCHANT0000001"
      38 34 30                               # F49 "840" (an, ASCII)
    `),
    fields: {
      2: '6212345678901234567', 3: '000000', 4: '000000001000', 7: '1125143000', 11: '000123',
      12: '143000', 13: '1125', 22: '051', 25: '00', 28: 'D00000150', 35: '6212345678901234567D2512101',
      37: '123456789012', 41: 'TERM0001', 42: 'MERCHANT0000001', 49: '840',
    },
  },
  {
    name: '0210 response',
    mti: '0210',
    bytes: wire(`
      02 10                                  # MTI 0210
      32                                     # 0011 0010: 3 4 7
      20                                     # 0010 0000: 11
      00 00
      0E                                     # 0000 1110: 37 38 39
      80                                     # 1000 0000: 41
      80                                     # 1000 0000: 49
      00
      00 00 00                               # F3 000000
      00 00 00 00 10 00                      # F4 000000001000
      11 25 14 30 00                         # F7 1125143000
      00 01 23                               # F11 000123
      31 32 33 34 35 36 37 38 39 30 31 32    # F37 "123456789012"
      41 31 42 32 43 33                      # F38 "A1B2C3"
      30 30                                  # F39 "00"
      54 45 52 4D 30 30 30 31                # F41 "TERM0001"
      38 34 30                               # F49 "840"
    `),
    fields: {
      3: '000000', 4: '000000001000', 7: '1125143000', 11: '000123', 37: '123456789012',
      38: 'A1B2C3', 39: '00', 41: 'TERM0001', 49: '840',
    },
  },
  {
    name: '0400 reversal with F90',
    mti: '0400',
    bytes: wire(`
      04 00                                  # MTI 0400
      F2                                     # 1111 0010: 1 (secondary) 2 3 4 7
      20                                     # 0010 0000: 11
      00
      01                                     # 0000 0001: 32
      0A                                     # 0000 1010: 37 39
      80                                     # 1000 0000: 41
      80                                     # 1000 0000: 49
      00
      00 00 00 40 00 00 00 00                # secondary: 0100 0000 in byte 3 = 90
      19                                     # F2 LL = 19 digits
      06 21 23 45 67 89 01 23 45 67          #    6212345678901234567
      00 00 00                               # F3 000000
      00 00 00 00 10 00                      # F4 000000001000
      11 25 14 35 00                         # F7 1125143500
      00 01 23                               # F11 000123
      06 12 34 56                            # F32 LL = 6 digits, 123456
      31 32 33 34 35 36 37 38 39 30 31 32    # F37 "123456789012"
      36 38                                  # F39 "68"
      54 45 52 4D 30 30 30 31                # F41 "TERM0001"
      38 34 30                               # F49 "840"
      02 00                                  # F90 n42 (21 bytes): original MTI 0200
      00 01 23                               #     original STAN 000123
      11 25 14 30 00                         #     original F7 1125143000
      00 00 01 23 45 6                       #     acquirer 00000123456 (11 digits, odd: the
       0 00 00 00 00 00                      #     forwarder 00000000000 starts mid-byte)
    `),
    fields: {
      2: '6212345678901234567', 3: '000000', 4: '000000001000', 7: '1125143500', 11: '000123',
      32: '123456', 37: '123456789012', 39: '68', 41: 'TERM0001', 49: '840',
      90: '020000012311251430000000012345600000000000',
    },
  },
  {
    name: '0800 echo',
    mti: '0800',
    bytes: wire(`
      08 00                                  # MTI 0800
      82                                     # 1000 0010: 1 (secondary) 7
      20                                     # 0010 0000: 11
      00 00 00 00 00 00
      04 00 00 00 00 00 00 00                # secondary: 0000 0100 in byte 0 = 70
      11 25 14 30 00                         # F7 1125143000
      00 00 01                               # F11 000001
      03 01                                  # F70 0 pad nibble, 301
    `),
    fields: { 7: '1125143000', 11: '000001', 70: '301' },
  },
  {
    name: '0100 with F55 TLV and F102 (secondary bitmap)',
    mti: '0100',
    bytes: wire(`
      01 00                                  # MTI 0100
      F0                                     # 1111 0000: 1 (secondary) 2 3 4
      24                                     # 0010 0100: 11 14
      06                                     # 0000 0110: 22 23
      00 00 00
      82                                     # 1000 0010: 49 55
      00
      00 00 00 00 04 00 00 00                # secondary: 0000 0100 in byte 4 = 102
      16                                     # F2 LL = 16 digits
      41 11 11 11 11 11 11 11                #    4111111111111111
      00 00 00                               # F3 000000
      00 00 00 00 10 00                      # F4 000000001000
      00 01 24                               # F11 000124
      25 12                                  # F14 2512
      00 51                                  # F22 051
      00 01                                  # F23 001
      38 34 30                               # F49 "840"
      00 29                                  # F55 LLL = 0029 bytes (2-byte BCD prefix)
      9F 02 06 00 00 00 00 10 00             #     9F02 amount authorised
      5F 2A 02 08 40                         #     5F2A currency
      82 02 1C 00                            #     82 AIP
      9F 26 08 01 23 45 67 89 AB CD EF       #     9F26 cryptogram
      10                                     # F102 LL = 10 characters (BCD prefix)
      41 43 43 54 30 30 30 30 30 31          #     "ACCT000001" (ASCII)
    `),
    fields: {
      2: '4111111111111111', 3: '000000', 4: '000000001000', 11: '000124', 14: '2512', 22: '051',
      23: '001', 49: '840', 55: B('9F0206000000001000' + '5F2A020840' + '82021C00' + '9F26080123456789ABCDEF'),
      102: 'ACCT000001',
    },
  },
];

function expectedJson(v: Vector): Record<string, string> {
  return fieldsJson(v.mti, v.fields);
}

for (const v of VECTORS) {
  t.test(v.name, async (t) => {
    const decoded = decode(d, v.bytes);
    t.same(decoded.toJSON(), expectedJson(v), 'decode(bytes) gives the fields');
    t.equal(toHex(encode(d, decoded)), toHex(v.bytes), 'encode(decode(bytes)) gives the bytes back');
    t.equal(toHex(encode(d, new IsoMessage(v.mti, v.fields))), toHex(v.bytes), 'encode(hand-built message) gives the bytes');
  });
}

t.test('track 2 written with "=" encodes to the same separator nibble D', async (t) => {
  const purchase = VECTORS[0];
  const msg = new IsoMessage(purchase.mti, { ...purchase.fields, 35: '6212345678901234567=2512101' });
  t.equal(toHex(encode(d, msg)), toHex(purchase.bytes));
});

t.test('an F (or 0) pad nibble is accepted wherever the pad goes', async (t) => {
  // F22 written as F0 51 (F pad nibble first) instead of 00 51.
  const purchase = VECTORS[0];
  const hexed = toHex(purchase.bytes);
  const at = hexed.indexOf('1125' + '0051'); // F13 then F22
  t.ok(at > 0, 'found F22 in the vector');
  const alt = Buffer.from(hexed.slice(0, at) + '1125' + 'F051' + hexed.slice(at + 8), 'hex');
  t.equal(decode(d, alt).get(22), '051');
  // The encoder writes this dialect's own pad (0), so the re-encoded bytes are the canonical ones.
  t.equal(toHex(encode(d, decode(d, alt))), toHex(purchase.bytes));
});
