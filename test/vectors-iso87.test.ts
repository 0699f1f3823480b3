/**
 * Hand-built wire vectors for ISO 8583:1987 ASCII, in both bitmap styles:
 *   iso87a      binary bitmap (8 raw bytes per bitmap)
 *   iso87a-hex  bitmap as 16 ASCII hex characters per bitmap
 * Everything after the bitmap(s) is identical in the two dialects, so each message below
 * spells its MTI, both bitmap forms and its field bytes by hand. Nothing here comes from
 * our encoder: the bytes are the specification, the codec is checked against them.
 */
import t from 'tap';
import { decode, encode, getDialect, IsoMessage, toHex, type FieldValue } from '../codec/index.js';
import { B, fieldsJson, wire } from './support/wire.js';


interface Msg87 {
  name: string;
  mti: string;
  /** MTI bytes (ASCII). */
  mtiBytes: string;
  /** Bitmap(s) as 8 raw bytes each, for iso87a. */
  binaryBitmap: string;
  /** Bitmap(s) as 16 ASCII hex characters each, for iso87a-hex. */
  hexBitmap: string;
  /** Field bytes, in field-number order. */
  body: string;
  /** The fields as the decoder gives them; binary fields as Buffers. */
  fields: Record<number, FieldValue>;
}


const MESSAGES: Msg87[] = [
  {
    name: '0200 purchase',
    mti: '0200',
    mtiBytes: '30 32 30 30 # "0200"',
    // fields 2 3 4 7 | 11 12 13 | 22 | 25 | 35 37 | 41 42 | 49
    // byte 0: 0100 0000 | 0010 0000 | 0001 0000 | 0000 0010 = 0x72 ... (bits 2, 3, 4, 7)
    binaryBitmap: `
      72 # 0111 0010: 2 3 4 7
      38 # 0011 1000: 11 12 13
      04 # 0000 0100: 22
      80 # 1000 0000: 25
      28 # 0010 1000: 35 37
      C0 # 1100 0000: 41 42
      80 # 1000 0000: 49
      00 # none of 57-64
    `,
    hexBitmap: '37 32 33 38 30 34 38 30 32 38 43 30 38 30 30 30 # "7238048028C08000"',
    body: `
      31 36                                              # F2 LL "16"
      34 31 31 31 31 31 31 31 31 31 31 31 31 31 31 31    #    "4111111111111111"
      30 30 30 30 30 30                                  # F3 "000000" purchase
      30 30 30 30 30 30 30 30 31 30 30 30                # F4 "000000001000" (10.00)
      31 31 32 35 31 34 33 30 30 30                      # F7 "1125143000"
      30 30 30 31 32 33                                  # F11 "000123"
      31 34 33 30 30 30                                  # F12 "143000"
      31 31 32 35                                        # F13 "1125"
      30 35 31                                           # F22 "051" chip
      30 30                                              # F25 "00"
      32 34                                              # F35 LL "24"
      34 31 31 31 31 31 31 31 31 31 31 31 31 31 31 31    #    "4111111111111111"
      3D 32 35 31 32 31 30 31                            #    "=2512101"
      31 32 33 34 35 36 37 38 39 30 31 32                # F37 "123456789012"
      54 45 52 4D 30 30 30 31                            # F41 "TERM0001"
      4D 45 52 43 48 41 4E 54 30 30 30 30 30 30 31       # F42 "MERCHANT0000001"
      38 34 30                                           # F49 "840"
    `,
    fields: {
      2: '4111111111111111', 3: '000000', 4: '000000001000', 7: '1125143000', 11: '000123',
      12: '143000', 13: '1125', 22: '051', 25: '00', 35: '4111111111111111=2512101',
      37: '123456789012', 41: 'TERM0001', 42: 'MERCHANT0000001', 49: '840',
    },
  },
  {
    name: '0210 response',
    mti: '0210',
    mtiBytes: '30 32 31 30 # "0210"',
    binaryBitmap: `
      32 # 0011 0010: 3 4 7
      20 # 0010 0000: 11
      00 00
      0E # 0000 1110: 37 38 39
      80 # 1000 0000: 41
      80 # 1000 0000: 49
      00
    `,
    hexBitmap: '33 32 32 30 30 30 30 30 30 45 38 30 38 30 30 30 # "322000000E808000"',
    body: `
      30 30 30 30 30 30                                  # F3 "000000"
      30 30 30 30 30 30 30 30 31 30 30 30                # F4 "000000001000"
      31 31 32 35 31 34 33 30 30 30                      # F7 "1125143000"
      30 30 30 31 32 33                                  # F11 "000123"
      31 32 33 34 35 36 37 38 39 30 31 32                # F37 "123456789012"
      41 31 42 32 43 33                                  # F38 "A1B2C3"
      30 30                                              # F39 "00" approved
      54 45 52 4D 30 30 30 31                            # F41 "TERM0001"
      38 34 30                                           # F49 "840"
    `,
    fields: {
      3: '000000', 4: '000000001000', 7: '1125143000', 11: '000123', 37: '123456789012',
      38: 'A1B2C3', 39: '00', 41: 'TERM0001', 49: '840',
    },
  },
  {
    name: '0400 reversal with F90',
    mti: '0400',
    mtiBytes: '30 34 30 30 # "0400"',
    binaryBitmap: `
      F2 # 1111 0010: 1 (secondary) 2 3 4 7
      20 # 0010 0000: 11
      00
      01 # 0000 0001: 32
      0A # 0000 1010: 37 39
      80 # 1000 0000: 41
      80 # 1000 0000: 49
      00
      00 00 00               # secondary: none of 65-88
      40                     # 0100 0000: 90
      00 00 00 00            # none of 97-128
    `,
    hexBitmap: `
      46 32 32 30 30 30 30 31 30 41 38 30 38 30 30 30 # "F22000010A808000"
      30 30 30 30 30 30 34 30 30 30 30 30 30 30 30 30 # "0000004000000000"
    `,
    body: `
      31 36                                              # F2 LL "16"
      34 31 31 31 31 31 31 31 31 31 31 31 31 31 31 31    #    "4111111111111111"
      30 30 30 30 30 30                                  # F3 "000000"
      30 30 30 30 30 30 30 30 31 30 30 30                # F4 "000000001000"
      31 31 32 35 31 34 33 35 30 30                      # F7 "1125143500" (the reversal's own)
      30 30 30 31 32 33                                  # F11 "000123"
      30 36 31 32 33 34 35 36                            # F32 LL "06" "123456"
      31 32 33 34 35 36 37 38 39 30 31 32                # F37 "123456789012"
      36 38                                              # F39 "68" (no response in time)
      54 45 52 4D 30 30 30 31                            # F41 "TERM0001"
      38 34 30                                           # F49 "840"
      30 32 30 30                                        # F90 original MTI "0200"
      30 30 30 31 32 33                                  #     original STAN "000123"
      31 31 32 35 31 34 33 30 30 30                      #     original F7 "1125143000"
      30 30 30 30 30 31 32 33 34 35 36                   #     acquirer "00000123456"
      30 30 30 30 30 30 30 30 30 30 30                   #     forwarder "00000000000"
    `,
    fields: {
      2: '4111111111111111', 3: '000000', 4: '000000001000', 7: '1125143500', 11: '000123',
      32: '123456', 37: '123456789012', 39: '68', 41: 'TERM0001', 49: '840',
      90: '020000012311251430000000012345600000000000',
    },
  },
  {
    name: '0800 echo',
    mti: '0800',
    mtiBytes: '30 38 30 30 # "0800"',
    binaryBitmap: `
      82 # 1000 0010: 1 (secondary) 7
      20 # 0010 0000: 11
      00 00 00 00 00 00
      04 # secondary 0000 0100: 70
      00 00 00 00 00 00 00
    `,
    hexBitmap: `
      38 32 32 30 30 30 30 30 30 30 30 30 30 30 30 30 # "8220000000000000"
      30 34 30 30 30 30 30 30 30 30 30 30 30 30 30 30 # "0400000000000000"
    `,
    body: `
      31 31 32 35 31 34 33 30 30 30                      # F7 "1125143000"
      30 30 30 30 30 31                                  # F11 "000001"
      33 30 31                                           # F70 "301" echo test
    `,
    fields: { 7: '1125143000', 11: '000001', 70: '301' },
  },
  {
    name: '0100 with F55 TLV and F102 (secondary bitmap)',
    mti: '0100',
    mtiBytes: '30 31 30 30 # "0100"',
    binaryBitmap: `
      F0 # 1111 0000: 1 (secondary) 2 3 4
      24 # 0010 0100: 11 14
      06 # 0000 0110: 22 23
      00 00 00
      82 # 1000 0010: 49 55
      00
      00 00 00 00            # secondary: none of 65-96
      04                     # 0000 0100: 102
      00 00 00
    `,
    hexBitmap: `
      46 30 32 34 30 36 30 30 30 30 30 30 38 32 30 30 # "F024060000008200"
      30 30 30 30 30 30 30 30 30 34 30 30 30 30 30 30 # "0000000004000000"
    `,
    body: `
      31 36                                              # F2 LL "16"
      34 31 31 31 31 31 31 31 31 31 31 31 31 31 31 31    #    "4111111111111111"
      30 30 30 30 30 30                                  # F3 "000000"
      30 30 30 30 30 30 30 30 31 30 30 30                # F4 "000000001000"
      30 30 30 31 32 34                                  # F11 "000124"
      32 35 31 32                                        # F14 "2512"
      30 35 31                                           # F22 "051"
      30 30 31                                           # F23 "001"
      38 34 30                                           # F49 "840"
      30 32 39                                           # F55 LLL "029" bytes, then raw TLV:
      9F 02 06 00 00 00 00 10 00                         #     9F02 amount authorised
      5F 2A 02 08 40                                     #     5F2A currency 0840
      82 02 1C 00                                        #     82 AIP
      9F 26 08 01 23 45 67 89 AB CD EF                   #     9F26 application cryptogram
      31 30                                              # F102 LL "10"
      41 43 43 54 30 30 30 30 30 31                      #     "ACCT000001"
    `,
    fields: {
      2: '4111111111111111', 3: '000000', 4: '000000001000', 11: '000124', 14: '2512', 22: '051',
      23: '001', 49: '840', 55: B('9F0206000000001000' + '5F2A020840' + '82021C00' + '9F26080123456789ABCDEF'),
      102: 'ACCT000001',
    },
  },
];

function expectedJson(m: Msg87): Record<string, string> {
  return fieldsJson(m.mti, m.fields);
}

for (const dialectName of ['iso87a', 'iso87a-hex'] as const) {
  const d = getDialect(dialectName);
  t.test(dialectName, async (t) => {
    for (const m of MESSAGES) {
      t.test(m.name, async (t) => {
        const bytes = wire(m.mtiBytes + '\n' + (dialectName === 'iso87a' ? m.binaryBitmap : m.hexBitmap) + '\n' + m.body);
        const decoded = decode(d, bytes);
        t.same(decoded.toJSON(), expectedJson(m), 'decode(bytes) gives the fields');
        t.equal(decoded.tpdu, null, 'no TPDU');
        t.equal(decoded.header, null, 'no header');
        t.equal(toHex(encode(d, decoded)), toHex(bytes), 'encode(decode(bytes)) gives the bytes back');
        t.equal(toHex(encode(d, new IsoMessage(m.mti, m.fields))), toHex(bytes), 'encode(hand-built message) gives the bytes');
        // The same bytes as a plain Uint8Array view in the middle of a bigger buffer.
        const big = new Uint8Array(bytes.length + 7).fill(0xee);
        big.set(bytes, 3);
        t.same(decode(d, big.subarray(3, 3 + bytes.length)).toJSON(), expectedJson(m), 'decode(Uint8Array view) gives the fields');
      });
    }
  });
}

t.test('F90 and F55 parts of the hand-built vectors', async (t) => {
  const d = getDialect('iso87a');
  const rev = MESSAGES.find((m) => m.mti === '0400')!;
  const msg = decode(d, wire(rev.mtiBytes + rev.binaryBitmap + rev.body));
  t.same(msg.originalData(), {
    mti: '0200', stan: '000123', transmissionDateTime: '1125143000', acquirer: '00000123456', forwarder: '00000000000',
  });
  const auth = MESSAGES.find((m) => m.mti === '0100')!;
  const emv = decode(d, wire(auth.mtiBytes + auth.binaryBitmap + auth.body)).emv();
  t.same(emv?.map((i) => [i.tag, toHex(i.value)]), [
    ['9F02', '000000001000'], ['5F2A', '0840'], ['82', '1C00'], ['9F26', '0123456789ABCDEF'],
  ]);
});

t.test('hex bitmap: lowercase hex characters are accepted on decode, uppercase written on encode', async (t) => {
  const d = getDialect('iso87a-hex');
  const echo = MESSAGES.find((m) => m.mti === '0800')!;
  const upper = wire(echo.mtiBytes + echo.hexBitmap + echo.body);
  // "8220000000000000" is all digits; use the 0100's "F024..." to have a letter to lower-case.
  const auth = MESSAGES.find((m) => m.mti === '0100')!;
  const authUpper = wire(auth.mtiBytes + auth.hexBitmap + auth.body);
  const authLower = Buffer.from(authUpper);
  authLower[4] = 0x66; // 'F' -> 'f' in the first bitmap character
  t.same(decode(d, authLower).toJSON(), decode(d, authUpper).toJSON());
  t.equal(toHex(encode(d, decode(d, authLower))), toHex(authUpper));
  t.equal(toHex(encode(d, decode(d, upper))), toHex(upper));
});
