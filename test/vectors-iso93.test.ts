/**
 * Hand-built wire vectors for ISO 8583:1993 ASCII (iso93a): 1xxx MTIs, binary bitmaps
 * (primary, secondary on bit 1, tertiary on bit 65), ASCII numerics and length prefixes,
 * the 1993 field table (F12 n12, F22 an12, F24 function code, F25 n4, F39 n3, F56 LLVAR).
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

const d = getDialect('iso93a');

const VECTORS: Vector[] = [
  {
    name: '1200 purchase',
    mti: '1200',
    bytes: wire(`
      31 32 30 30                                        # MTI "1200"
      72                                                 # 0111 0010: 2 3 4 7
      30                                                 # 0011 0000: 11 12
      05                                                 # 0000 0101: 22 24
      00
      08                                                 # 0000 1000: 37
      C0                                                 # 1100 0000: 41 42
      80                                                 # 1000 0000: 49
      00
      31 36                                              # F2 LL "16"
      34 31 31 31 31 31 31 31 31 31 31 31 31 31 31 31    #    "4111111111111111"
      30 30 30 30 30 30                                  # F3 "000000"
      30 30 30 30 30 30 30 30 31 30 30 30                # F4 "000000001000"
      31 31 32 35 31 34 33 30 30 30                      # F7 "1125143000"
      30 30 30 31 32 33                                  # F11 "000123"
      32 35 31 31 32 35 31 34 33 30 30 30                # F12 n12 "251125143000" (YYMMDDhhmmss)
      32 30 31 31 30 31 30 31 30 41 33 42                # F22 an12 "201101010A3B" (POS data code)
      32 30 30                                           # F24 "200" function code
      31 32 33 34 35 36 37 38 39 30 31 32                # F37 "123456789012"
      54 45 52 4D 30 30 30 31                            # F41 "TERM0001"
      4D 45 52 43 48 41 4E 54 30 30 30 30 30 30 31       # F42 "MERCHANT0000001"
      38 34 30                                           # F49 "840"
    `),
    fields: {
      2: '4111111111111111', 3: '000000', 4: '000000001000', 7: '1125143000', 11: '000123',
      12: '251125143000', 22: '201101010A3B', 24: '200', 37: '123456789012', 41: 'TERM0001',
      42: 'MERCHANT0000001', 49: '840',
    },
  },
  {
    name: '1210 response',
    mti: '1210',
    bytes: wire(`
      31 32 31 30                                        # MTI "1210"
      32                                                 # 0011 0010: 3 4 7
      30                                                 # 0011 0000: 11 12
      00 00
      0E                                                 # 0000 1110: 37 38 39
      80                                                 # 1000 0000: 41
      80                                                 # 1000 0000: 49
      00
      30 30 30 30 30 30                                  # F3 "000000"
      30 30 30 30 30 30 30 30 31 30 30 30                # F4 "000000001000"
      31 31 32 35 31 34 33 30 30 30                      # F7 "1125143000"
      30 30 30 31 32 33                                  # F11 "000123"
      32 35 31 31 32 35 31 34 33 30 30 30                # F12 "251125143000"
      31 32 33 34 35 36 37 38 39 30 31 32                # F37 "123456789012"
      41 31 42 32 43 33                                  # F38 "A1B2C3"
      30 30 30                                           # F39 n3 action code "000" approved
      54 45 52 4D 30 30 30 31                            # F41 "TERM0001"
      38 34 30                                           # F49 "840"
    `),
    fields: {
      3: '000000', 4: '000000001000', 7: '1125143000', 11: '000123', 12: '251125143000',
      37: '123456789012', 38: 'A1B2C3', 39: '000', 41: 'TERM0001', 49: '840',
    },
  },
  {
    name: '1400 reversal with F56 and F24',
    mti: '1400',
    bytes: wire(`
      31 34 30 30                                        # MTI "1400"
      72                                                 # 0111 0010: 2 3 4 7
      30                                                 # 0011 0000: 11 12
      01                                                 # 0000 0001: 24
      81                                                 # 1000 0001: 25 32
      08                                                 # 0000 1000: 37
      80                                                 # 1000 0000: 41
      81                                                 # 1000 0001: 49 56
      00
      31 36                                              # F2 LL "16"
      34 31 31 31 31 31 31 31 31 31 31 31 31 31 31 31    #    "4111111111111111"
      30 30 30 30 30 30                                  # F3 "000000"
      30 30 30 30 30 30 30 30 31 30 30 30                # F4 "000000001000"
      31 31 32 35 31 34 33 35 30 30                      # F7 "1125143500"
      30 30 30 31 32 33                                  # F11 "000123"
      32 35 31 31 32 35 31 34 33 30 30 30                # F12 "251125143000"
      34 30 30                                           # F24 "400" full reversal
      34 30 32 31                                        # F25 "4021" timeout waiting for response
      30 36 31 32 33 34 35 36                            # F32 LL "06" "123456"
      31 32 33 34 35 36 37 38 39 30 31 32                # F37 "123456789012"
      54 45 52 4D 30 30 30 31                            # F41 "TERM0001"
      38 34 30                                           # F49 "840"
      33 30                                              # F56 LL "30"
      31 32 30 30                                        #     original MTI "1200"
      30 30 30 31 32 33                                  #     original STAN "000123"
      32 35 31 31 32 35 31 34 33 30 30 30                #     original F12 "251125143000"
      30 36 31 32 33 34 35 36                            #     acquirer, own LL: "06" "123456"
    `),
    fields: {
      2: '4111111111111111', 3: '000000', 4: '000000001000', 7: '1125143500', 11: '000123',
      12: '251125143000', 24: '400', 25: '4021', 32: '123456', 37: '123456789012', 41: 'TERM0001',
      49: '840', 56: '120000012325112514300006123456',
    },
  },
  {
    name: '1804 echo (F24 831)',
    mti: '1804',
    bytes: wire(`
      31 38 30 34                                        # MTI "1804"
      02                                                 # 0000 0010: 7
      30                                                 # 0011 0000: 11 12
      01                                                 # 0000 0001: 24
      00 00 00 00 00
      31 31 32 35 31 34 33 30 30 30                      # F7 "1125143000"
      30 30 30 30 30 31                                  # F11 "000001"
      32 35 31 31 32 35 31 34 33 30 30 30                # F12 "251125143000"
      38 33 31                                           # F24 "831" echo test
    `),
    fields: { 7: '1125143000', 11: '000001', 12: '251125143000', 24: '831' },
  },
  {
    name: '1100 with F55 TLV and F100 (secondary bitmap)',
    mti: '1100',
    bytes: wire(`
      31 31 30 30                                        # MTI "1100"
      F0                                                 # 1111 0000: 1 (secondary) 2 3 4
      30                                                 # 0011 0000: 11 12
      05                                                 # 0000 0101: 22 24
      00 00 00
      82                                                 # 1000 0010: 49 55
      00
      00 00 00 00                                        # secondary: none of 65-96
      10                                                 # 0001 0000: 100
      00 00 00
      31 36                                              # F2 LL "16"
      34 31 31 31 31 31 31 31 31 31 31 31 31 31 31 31    #    "4111111111111111"
      30 30 30 30 30 30                                  # F3 "000000"
      30 30 30 30 30 30 30 30 31 30 30 30                # F4 "000000001000"
      30 30 30 31 32 34                                  # F11 "000124"
      32 35 31 31 32 35 31 34 33 30 30 30                # F12 "251125143000"
      32 30 31 31 30 31 30 31 30 41 33 42                # F22 "201101010A3B"
      31 30 30                                           # F24 "100" original authorization
      38 34 30                                           # F49 "840"
      30 32 39                                           # F55 LLL "029" bytes, raw TLV:
      9F 02 06 00 00 00 00 10 00                         #     9F02 amount authorised
      5F 2A 02 08 40                                     #     5F2A currency
      82 02 1C 00                                        #     82 AIP
      9F 26 08 01 23 45 67 89 AB CD EF                   #     9F26 cryptogram
      30 36 31 32 33 34 35 36                            # F100 LL "06" "123456"
    `),
    fields: {
      2: '4111111111111111', 3: '000000', 4: '000000001000', 11: '000124', 12: '251125143000',
      22: '201101010A3B', 24: '100', 49: '840',
      55: B('9F0206000000001000' + '5F2A020840' + '82021C00' + '9F26080123456789ABCDEF'), 100: '123456',
    },
  },
  {
    name: '1804 with F192 MAC (tertiary bitmap)',
    mti: '1804',
    bytes: wire(`
      31 38 30 34                                        # MTI "1804"
      82                                                 # 1000 0010: 1 (secondary) 7
      30                                                 # 0011 0000: 11 12
      01                                                 # 0000 0001: 24
      00 00 00 00 00
      80 00 00 00 00 00 00 00                            # secondary: only bit 65 (tertiary follows)
      00 00 00 00 00 00 00 01                            # tertiary: 0000 0001 in byte 7 = 192
      31 31 32 35 31 34 33 30 30 30                      # F7 "1125143000"
      30 30 30 30 30 31                                  # F11 "000001"
      32 35 31 31 32 35 31 34 33 30 30 30                # F12 "251125143000"
      38 33 31                                           # F24 "831"
      01 02 03 04 05 06 07 08                            # F192 MAC, 8 raw bytes
    `),
    fields: { 7: '1125143000', 11: '000001', 12: '251125143000', 24: '831', 192: B('0102030405060708') },
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

t.test('F56 parts of the 1400', async (t) => {
  const rev = VECTORS.find((v) => v.mti === '1400')!;
  t.same(decode(d, rev.bytes).originalData93(), {
    mti: '1200', stan: '000123', localDateTime: '251125143000', acquirer: '123456',
  });
});

t.test('1420 advice: same body, only the MTI differs', async (t) => {
  const rev = VECTORS.find((v) => v.mti === '1400')!;
  const advice = Buffer.concat([wire('31 34 32 30 # "1420"'), rev.bytes.subarray(4)]);
  const msg = decode(d, advice);
  t.equal(msg.mti, '1420');
  t.equal(msg.get(24), '400');
  t.equal(toHex(encode(d, new IsoMessage('1420', rev.fields))), toHex(advice));
});
