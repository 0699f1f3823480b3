/**
 * Writes the seed corpus, test/fuzz/corpus/TARGET/, from the test vectors and fixtures:
 *
 *   npm run fuzz:corpus
 *
 * decode: the hand-built wire vectors (test/vectors-*.test.ts), and those messages
 * re-encoded in the derived test dialects; framing: the vectors framed, several to a
 * stream, with keep-alives; tlv and subfields: the F55, F90, F56, F60, F61 of the vectors
 * and the F95 of their partial reversals; dialect-file, config, rules: the literal
 * arguments of dialectFromOverrides, configFromJson and parseCaseJson calls in the tests,
 * the JSON blocks of docs/codec.md, rules/default.yaml and docs/rules.md's cases;
 * settlement: docs/settlement/ and the settlement test's rows. Every seed is checked by
 * its target before it is written, so the corpus never starts with a finding.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import {
  decode, encode, encodeTlv, frame, getDialect, IsoError, reversalOf, type Dialect, type IsoMessage,
} from '../../codec/index.js';
import { defaultRulesPath } from '../../rules/index.js';
import { wire } from '../support/wire.js';
import { FUZZ_DIR } from './runner.js';
import { callArguments, constant, objectsWith, type Json } from './literals.js';
import { loadTarget } from './targets/index.js';
import { DIALECTS } from './targets/decode.js';
import { STREAM_FRAMINGS } from './targets/framing.js';
import { PARTS } from './targets/subfields.js';
import { CASES } from './targets/rules.js';
import { FORMATS } from './targets/settlement.js';

const ROOT = join(FUZZ_DIR, '..', '..');
const TEST = join(ROOT, 'test');
const seeds = new Map<string, Map<string, Buffer>>();

function add(target: string, name: string, data: Buffer | string): void {
  const m = seeds.get(target) ?? new Map<string, Buffer>();
  seeds.set(target, m);
  const safe = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 60);
  let key = safe;
  for (let i = 2; m.has(key); i++) key = `${safe}-${i}`;
  m.set(key, Buffer.isBuffer(data) ? data : Buffer.from(data, 'utf8'));
}

const dialectIndex = (name: string): number => DIALECTS.findIndex((d) => d.name === name);
const withSel = (sel: number, body: Uint8Array | string): Buffer => Buffer.concat([Buffer.from([sel]), Buffer.from(body)]);

/* ---- decode, framing, tlv, subfields: the hand-built vectors ---- */

const vectors: { name: string; dialect: Dialect; bytes: Buffer }[] = [];
for (const v of objectsWith(join(TEST, 'vectors-iso87.test.ts'), ['name', 'mtiBytes', 'binaryBitmap', 'hexBitmap', 'body'])) {
  const t = (k: string): string => String(v[k]);
  vectors.push({ name: `iso87a ${t('name')}`, dialect: getDialect('iso87a'), bytes: wire(`${t('mtiBytes')}\n${t('binaryBitmap')}\n${t('body')}`) });
  vectors.push({ name: `iso87a-hex ${t('name')}`, dialect: getDialect('iso87a-hex'), bytes: wire(`${t('mtiBytes')}\n${t('hexBitmap')}\n${t('body')}`) });
}
for (const [file, dialect] of [['vectors-iso87b', 'iso87b'], ['vectors-iso93', 'iso93a'], ['vectors-cup', 'cup']] as const) {
  for (const v of objectsWith(join(TEST, `${file}.test.ts`), ['name', 'bytes'])) {
    vectors.push({ name: `${dialect} ${String(v.name)}`, dialect: getDialect(dialect), bytes: wire(String(v.bytes)) });
  }
}
const decoded: { name: string; dialect: Dialect; msg: IsoMessage }[] = [];
for (const v of vectors) {
  decoded.push({ name: v.name, dialect: v.dialect, msg: decode(v.dialect, v.bytes) });
  add('decode', v.name, withSel(dialectIndex(v.dialect.name), v.bytes));
}
// The derived test dialects have no hand-built vectors: the vectors of their base, re-encoded.
const BASE_OF: Record<string, string> = { 'test-iso87-ebcdic': 'iso87a', 'test-iso93-hexb': 'iso93a', 'test-iso87b-prefixes': 'iso87b' };
for (const [derived, base] of Object.entries(BASE_OF)) {
  const d = DIALECTS[dialectIndex(derived)];
  for (const v of decoded.filter((x) => x.dialect.name === base)) {
    try {
      add('decode', `${derived} ${v.name.slice(base.length + 1)}`, withSel(dialectIndex(derived), encode(d, v.msg)));
    } catch (e) {
      if (!(e instanceof IsoError)) throw e;
    }
  }
}

STREAM_FRAMINGS.forEach((f, i) => {
  const bodies = vectors.filter((v) => v.dialect.name === ['iso87a', 'iso87b', 'iso93a', 'cup'][i % 4]).map((v) => v.bytes);
  const keepAlive = frame(f, Buffer.alloc(0));
  const stream = Buffer.concat(bodies.flatMap((b, k) => (k === 1 ? [keepAlive, frame(f, b)] : [frame(f, b)])));
  add('framing', `${f} vectors`, Buffer.concat([Buffer.from([i, 0, (i * 37) & 0xff, 0]), stream]));
  add('framing', `${f} one vector, handler throws`, Buffer.concat([Buffer.from([i, 0, 200 + i, 1]), frame(f, bodies[0]), frame(f, bodies[1] ?? bodies[0])]));
});

const partSel = (name: string, format: boolean): number => PARTS.findIndex((p) => p.name === name) + (format ? PARTS.length : 0);
for (const v of decoded) {
  const emv = v.msg.getBytes(55);
  if (emv !== undefined) {
    add('tlv', v.name, Buffer.from(emv));
    // A template holding the items, and the items with padding between: what redact walks into.
    add('tlv', `${v.name} in template 70`, Buffer.from(encodeTlv([{ tag: '70', value: emv, constructed: true }])));
    add('tlv', `${v.name} padded`, Buffer.concat([Buffer.from([0, 0]), emv, Buffer.from([0xff])]));
  }
  const fields: [number, string][] = [[90, 'F90'], [56, 'F56'], [60, 'F60'], [61, 'F61'], [95, 'F95']];
  for (const [n, part] of fields) {
    const value = v.msg.get(n);
    if (value === undefined) continue;
    add('subfields', `${part} ${v.name}`, withSel(partSel(part, false), value));
    const p = PARTS[partSel(part, false)];
    const parsed = p.parse(value) as Record<string, string | undefined>;
    add('subfields', `${part} parts ${v.name}`, withSel(partSel(part, true), Object.values(parsed).map((x) => x ?? '~').join('|')));
  }
  // F95 comes from a partial reversal of a sale; F90/F56/F61 from a full one.
  for (const opts of [{ reason: '68' }, { finalAmount: '600' }]) {
    let rev: IsoMessage;
    try {
      rev = reversalOf(v.dialect, v.msg, opts);
    } catch (e) {
      if (e instanceof IsoError) continue; // not an original a reversal can be built from
      throw e;
    }
    for (const [n, part] of [[95, 'F95'], [90, 'F90'], [56, 'F56'], [61, 'F61']] as const) {
      const value = rev.get(n);
      if (value !== undefined) add('subfields', `${part} reversal of ${v.name}`, withSel(partSel(part, false), value));
    }
  }
}

/* ---- dialect-file, config, rules: literals of the tests and the docs ---- */

const testFiles = readdirSync(TEST).filter((f) => f.endsWith('.test.ts')).sort().map((f) => join(TEST, f));
const json = (v: Json): string => JSON.stringify(v, null, 1);

function markdownJson(file: string): Json[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/```json\n([\s\S]*?)```/g)].flatMap((m) => {
    try {
      return [JSON.parse(m[1]) as Json];
    } catch {
      return [];
    }
  });
}

for (const v of markdownJson(join(ROOT, 'docs', 'codec.md'))) add('dialect-file', 'docs codec', json(v));
for (const file of testFiles) {
  for (const v of callArguments(file, ['dialectFromOverrides', 'deriveDialect'])) add('dialect-file', file.split('/').pop()!, json(v));
  for (const v of callArguments(file, ['configFromJson'])) add('config', file.split('/').pop()!, json(v));
  for (const v of callArguments(file, ['parseCaseJson'])) add('rules', `case ${file.split('/').pop()!}`, withSel(2, json(v)));
}
add('config', 'empty', '{}');

const defaultText = readFileSync(defaultRulesPath(), 'utf8');
const defaults = parse(defaultText) as Record<string, Json>;
// Without the comments: the same document in a third of the bytes. Whole, it takes about
// 10 ms to load, so the rest are one section each, in YAML and in JSON.
add('rules', 'default yaml', withSel(0, stringify(defaults)));
for (const key of Object.keys(defaults)) {
  add('rules', `default yaml only ${key}`, withSel(0, stringify({ version: defaults.version, [key]: defaults[key] })));
  add('rules', `default json only ${key}`, withSel(1, JSON.stringify({ version: defaults.version, [key]: defaults[key] })));
}
const docsRules = readFileSync(join(ROOT, 'docs', 'rules.md'), 'utf8');
for (const m of docsRules.matchAll(/rules decide '(\{[\s\S]*?\})'/g)) add('rules', 'case docs rules', withSel(2, m[1].replace(/\n\s*/g, '')));
for (const [c, s] of CASES) {
  const iso = (ms: number): string => new Date(ms).toISOString().replace('Z', '+00:00');
  const velocity = { terminal: s.terminalUndos, merchant: s.merchantUndos, card: s.cardUndos };
  add('rules', `case ${c.event ?? c.responseCode}`, withSel(2, JSON.stringify({ ...c, originalTime: iso(c.originalTime), now: iso(c.now), velocity })));
}

/* ---- settlement: docs/settlement/ and the settlement test ---- */

const docsSettlement = join(ROOT, 'docs', 'settlement');
const fmt = (name: (typeof FORMATS)[number], extra = 0): number => FORMATS.indexOf(name) + extra;
add('settlement', 'acme fixed', withSel(fmt('acme-fixed'), readFileSync(join(docsSettlement, 'acme-fixed.txt'))));
add('settlement', 'acme fixed date upstream', withSel(fmt('acme-fixed', 0x60), readFileSync(join(docsSettlement, 'acme-fixed.txt'))));
add('settlement', 'giro semicolon', withSel(fmt('giro-semicolon'), readFileSync(join(docsSettlement, 'giro-semicolon.csv'))));
add('settlement', 'giro as own mapping', withSel(fmt('mapping'), Buffer.concat([
  readFileSync(join(docsSettlement, 'giro-semicolon.mapping.json')), Buffer.from([0]), readFileSync(join(docsSettlement, 'giro-semicolon.csv')),
])));
add('settlement', 'acme as own mapping', withSel(fmt('mapping'), Buffer.concat([
  readFileSync(join(docsSettlement, 'acme-fixed.mapping.json')), Buffer.from([0]), readFileSync(join(docsSettlement, 'acme-fixed.txt')),
])));
const settlementTest = join(TEST, 'settlement-file.test.ts');
const header = constant(settlementTest, 'HEADER');
const row = constant(settlementTest, 'ROW');
if (header !== undefined && row !== undefined) {
  add('settlement', 'csv', withSel(fmt('csv'), `${header}\n${row}\n`));
  add('settlement', 'csv date', withSel(fmt('csv', 0x20), `${header}\r\n${row}\r\n${row.replace(',sale,', ',reversal,')}\r\n`));
  const names = header.split(',');
  const record = Object.fromEntries(row.split(',').map((v, i) => [names[i], v]));
  // amount_minor may be a JSON number (an exact integer, up to 2^53 - 1) as well as a string.
  add('settlement', 'json', withSel(fmt('json'), JSON.stringify([record, { ...record, type: 'refund', amount_minor: 90 }], null, 1)));
  add('settlement', 'json largest number', withSel(fmt('json'), JSON.stringify([{ ...record, amount_minor: Number.MAX_SAFE_INTEGER }])));
}

/* ---- write, after each seed passes its target ---- */

const scratch = join(FUZZ_DIR, '.make-corpus-scratch');
rmSync(scratch, { recursive: true, force: true });
mkdirSync(scratch);
try {
  for (const [name, files] of seeds) {
    const target = await loadTarget(name);
    await target.setup?.(scratch);
    const dir = join(FUZZ_DIR, 'corpus', name);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    let bytes = 0;
    for (const [file, data] of files) {
      if (data.length > target.maxLen) throw new Error(`${name}/${file}: ${data.length} bytes, over the target's ${target.maxLen}`);
      await target.run(data);
      writeFileSync(join(dir, file), data);
      bytes += data.length;
    }
    process.stdout.write(`${name.padEnd(13)} ${String(files.size).padStart(3)} seeds, ${bytes} bytes\n`);
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
