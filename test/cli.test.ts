/**
 * The command line, run as a child process: `revswitch decode` and `revswitch encode`.
 * Uses the built dist/switch/cli/main.js (npm test builds first). When it is missing, or older
 * than the sources (a stale build from before an edit), the TypeScript source runs
 * through tsx instead, so the test always exercises the current code.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { nodeArgsFor } from './support/built.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));


const CLI_ARGS = nodeArgsFor('switch/cli/main', ['codec', 'switch']);

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], input?: string): Run {
  const r = spawnSync(process.execPath, [...CLI_ARGS, ...args], { cwd: ROOT, input: input ?? '', encoding: 'utf8' });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Hex with whitespace and `#` comments -> uppercase hex string. */
function hex(text: string): string {
  return text.replace(/#[^\n]*/g, '').replace(/\s+/g, '').toUpperCase();
}

// An iso87a 0200 with a PAN and track 2, built by hand (see vectors-iso87.test.ts).
const PURCHASE = hex(`
  30 32 30 30                                        # MTI "0200"
  60 00 00 00 20 00 00 00                            # 0110 0000: 2 3 | 0010 0000: 35
  31 36                                              # F2 LL "16"
  34 31 31 31 31 31 31 31 31 31 31 31 31 31 31 31    #    "4111111111111111"
  30 30 30 30 30 30                                  # F3 "000000"
  32 34                                              # F35 LL "24"
  34 31 31 31 31 31 31 31 31 31 31 31 31 31 31 31    #    "4111111111111111"
  3D 32 35 31 32 31 30 31                            #    "=2512101"
`);
const PURCHASE_FIELDS = { mti: '0200', 2: '4111111111111111', 3: '000000', 35: '4111111111111111=2512101' };

t.comment(`CLI under test: ${CLI_ARGS.length === 1 ? 'dist/switch/cli/main.js' : 'tsx switch/cli/main.ts'}`);

t.test('decode masks card data by default', async (t) => {
  const r = cli(['decode', PURCHASE]);
  t.equal(r.status, 0, 'exit 0');
  t.equal(r.stderr, '');
  const out = JSON.parse(r.stdout) as Record<string, string>;
  t.same(out, { mti: '0200', 2: '411111******1111', 3: '000000', 35: '*'.repeat(24) });
  t.notOk(r.stdout.includes('4111111111111111'), 'no full PAN anywhere in the output');
});

t.test('decode --unmasked shows the fields as they are', async (t) => {
  const r = cli(['decode', '--unmasked', PURCHASE]);
  t.equal(r.status, 0);
  t.same(JSON.parse(r.stdout), PURCHASE_FIELDS);
});

t.test('decode reads hex from stdin, with spaces, newlines and lowercase', async (t) => {
  const spaced = PURCHASE.toLowerCase().replace(/(..)/g, '$1 ').replace(/(.{48})/g, '$1\n');
  const r = cli(['decode', '--unmasked', '-'], spaced);
  t.equal(r.status, 0, r.stderr);
  t.same(JSON.parse(r.stdout), PURCHASE_FIELDS);
});

t.test('decode --framing len2 strips a 2-byte length', async (t) => {
  const bodyLen = PURCHASE.length / 2; // 4 + 8 + 18 + 6 + 26 = 62 = 0x3E
  t.equal(bodyLen, 62);
  const r = cli(['decode', '--unmasked', '--framing', 'len2', '003E' + PURCHASE]);
  t.equal(r.status, 0, r.stderr);
  t.same(JSON.parse(r.stdout), PURCHASE_FIELDS);

  const wrong = cli(['decode', '--framing', 'len2', '003F' + PURCHASE]);
  t.equal(wrong.status, 1, 'a length that disagrees with the body is an error');
  t.equal(wrong.stderr, 'revswitch decode: frame: truncated frame: prefix declares 63 body bytes, got 62 at offset 64\n');
});

/** A UnionPay 0800: TPDU, header, MTI, bitmap (F11 only), F11. */
const CUP_0800 = hex(`
  60 00 01 00 02                 # TPDU
  60 31 00 31 13 01              # header
  08 00                          # MTI 0800
  00 20 00 00 00 00 00 00        # 0010 0000: 11
  00 00 01                       # F11 000001
`);

t.test('decode --dialect cup shows the TPDU and header', async (t) => {
  const bytes = CUP_0800;
  const r = cli(['decode', '--dialect', 'cup', bytes]);
  t.equal(r.status, 0, r.stderr);
  t.same(JSON.parse(r.stdout), { mti: '0800', tpdu: '6000010002', header: '603100311301', 11: '000001' });
});

t.test('a UnionPay frame decoded without --dialect: the error says which dialect reads it', async (t) => {
  const bytes = CUP_0800;
  const r = cli(['decode', bytes]);
  t.equal(r.status, 1);
  t.equal(r.stdout, '');
  t.equal(r.stderr, 'revswitch decode: mti: non-digit at offset 0; it does decode with --dialect cup\n');
  const framed = cli(['decode', '--dialect', 'cup', '0018' + bytes]);
  t.match(framed.stderr, /it does decode with --dialect cup --framing len2\n$/, 'and with which framing, when a length prefix is in front');
});

t.test('bad input: exit 1, the error on stderr, nothing on stdout', async (t) => {
  const cases: [string, string[], string][] = [
    ['truncated field', ['decode', '30323030' + '2000000000000000' + '30303030'],
      'revswitch decode: field 3: expected 6 digits, got 4 bytes at offset 12\n'],
    ['trailing bytes', ['decode', PURCHASE + 'FFFF'],
      'revswitch decode: message: 2 trailing bytes after the last field at offset 62\n'],
    ['not hex', ['decode', 'zz'],
      'revswitch decode: message: hex value has a non-hex character at position 0\n'],
    ['wrong MTI version for the dialect', ['decode', '--dialect', 'iso93a', PURCHASE],
      'revswitch decode: mti: version digit 0 does not match dialect iso93a (expects 1) at offset 0; it does decode with --dialect iso87a\n'],
    ['unknown dialect', ['decode', '--dialect', 'iso99', PURCHASE],
      'revswitch decode: dialect: unknown dialect "iso99"; expected one of iso87a, iso87a-hex, iso87b, iso93a, cup\n'],
    ['encode: field value too long', ['encode', JSON.stringify({ mti: '0200', 3: '0000000' })],
      'revswitch encode: field 3: value too long: 7 digits, max 6 at offset 12\n'],
    ['encode: not JSON', ['encode', '{mti: 0200}'],
      ''], // message text comes from JSON.parse; checked by prefix below
  ];
  for (const [name, args, stderr] of cases) {
    t.test(name, async (t) => {
      const r = cli(args);
      t.equal(r.status, 1, 'exit 1');
      t.equal(r.stdout, '', 'nothing on stdout');
      if (stderr) t.equal(r.stderr, stderr);
      else t.match(r.stderr, /^revswitch encode: message: input is not valid JSON: .+\n$/);
    });
  }
});

t.test('usage errors exit 2', async (t) => {
  const r = cli(['decode', '--bogus', PURCHASE]);
  t.equal(r.status, 2);
  t.match(r.stderr, /^revswitch decode: unknown option --bogus\nusage: revswitch decode /);
});

t.test('encode prints hex', async (t) => {
  const r = cli(['encode', JSON.stringify(PURCHASE_FIELDS)]);
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, PURCHASE + '\n');

  const framed = cli(['encode', '--framing', 'len2', JSON.stringify(PURCHASE_FIELDS)]);
  t.equal(framed.stdout, '003E' + PURCHASE + '\n', 'with a 2-byte length in front');

  const fromStdin = cli(['encode', '-'], JSON.stringify(PURCHASE_FIELDS));
  t.equal(fromStdin.stdout, PURCHASE + '\n', 'JSON from stdin');

  const binary = cli(['encode', JSON.stringify({ mti: '0800', 7: '1125143000', 52: '0123456789abcdef' })]);
  t.equal(binary.stdout, hex(`
    30 38 30 30                       # MTI "0800"
    02 00 00 00 00 00 10 00           # 0000 0010: 7 | 0001 0000: 52
    31 31 32 35 31 34 33 30 30 30     # F7 "1125143000"
    01 23 45 67 89 AB CD EF           # F52 from its hex form
  `) + '\n', 'binary fields are given as hex');
});

t.test('encode then decode round trip', async (t) => {
  const messages: [string, Record<string, string>][] = [
    ['iso87a', { mti: '0400', 2: '4111111111111111', 3: '000000', 4: '000000001000', 7: '1125143500', 11: '000123',
      39: '68', 90: '020000012311251430000000012345600000000000' }],
    ['iso87b', { mti: '0100', 2: '6212345678901234567', 4: '000000001000', 55: '9F02060000000010005F2A020840' }],
    ['iso93a', { mti: '1804', 7: '1125143000', 11: '000001', 24: '831', 192: '0102030405060708' }],
    ['cup', { mti: '0800', tpdu: '6000010002', header: '603100311301', 11: '000001', 60: '00000001301' }],
  ];
  for (const [dialect, msg] of messages) {
    t.test(dialect, async (t) => {
      const enc = cli(['encode', '--dialect', dialect, '--framing', 'len2', JSON.stringify(msg)]);
      t.equal(enc.status, 0, enc.stderr);
      const dec = cli(['decode', '--dialect', dialect, '--framing', 'len2', '--unmasked', enc.stdout.trim()]);
      t.equal(dec.status, 0, dec.stderr);
      t.same(JSON.parse(dec.stdout), msg);
    });
  }
});

t.test('--dialect FILE.json derives a dialect; a bad file names itself', async (t) => {
  const dir = t.testdir({});
  const good = join(dir, 'ebcdic41.json');
  writeFileSync(good, JSON.stringify({ base: 'iso87a', fields: { 41: { encoding: 'ebcdic' } } }));
  const enc = cli(['encode', '--dialect', good, JSON.stringify({ mti: '0800', 41: 'TERM0001' })]);
  t.equal(enc.status, 0, enc.stderr);
  t.equal(enc.stdout, hex(`
    30 38 30 30                  # MTI "0800"
    00 00 00 00 00 80 00 00      # 1000 0000: 41
    E3 C5 D9 D4 F0 F0 F0 F1      # F41 "TERM0001" in EBCDIC
  `) + '\n');

  const bad = join(dir, 'bad.json');
  writeFileSync(bad, JSON.stringify({ base: 'iso87a', fields: { 48: { encoding: 'utf8' } } }));
  const r = cli(['decode', '--dialect', bad, PURCHASE]);
  t.equal(r.status, 1);
  t.equal(r.stderr, `revswitch decode: ${bad}: fields.48.encoding: expected one of ascii, bcd, ebcdic, binary, hex, got "utf8"\n`);
});
