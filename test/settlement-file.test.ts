/**
 * The settlement file reader: csv, json and mapped layouts (the examples in
 * docs/settlement/) read into records, and every kind of bad file refused naming the
 * line and the column, never echoing a card number. Properties: any record set written as
 * CSV reads back equal, and the CSV splitter gives the same rows however the text is cut
 * into chunks.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import t from 'tap';
import { CsvSplitter } from '../switch/recon/settlement-csv.js';
import {
  readSettlementFile, SettlementFileError, SettlementMappingError, type ReadOptions, type SettlementFileInfo,
} from '../switch/recon/settlement-file.js';
import type { SettlementRecord } from '../switch/recon/settlement-record.js';

const dir = mkdtempSync(join(tmpdir(), 'revswitch-settlement-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
let fileNo = 0;

function file(text: string | Buffer, ext = 'csv'): string {
  const p = join(dir, `f${++fileNo}.${ext}`);
  writeFileSync(p, text);
  return p;
}

async function read(path: string, opts: ReadOptions): Promise<{ records: SettlementRecord[]; info: SettlementFileInfo }> {
  const r = readSettlementFile(path, opts);
  const records: SettlementRecord[] = [];
  for await (const x of r.records) records.push(x);
  return { records, info: await r.info };
}

/** The error reading `text` gives; fails the test when there is none. */
async function refusal(text: string, opts: Partial<ReadOptions> = {}, ext = 'csv'): Promise<SettlementFileError> {
  const path = file(text, ext);
  try {
    await read(path, { format: ext === 'json' ? 'json' : 'csv', ...opts });
  } catch (e) {
    if (e instanceof SettlementFileError) return e;
    throw e;
  }
  throw new Error(`no error for ${JSON.stringify(text)}`);
}

const HEADER = 'business_date,rrn,terminal,stan,f7,amount_minor,currency,type,approval_code,merchant,pan_masked,upstream';
const ROW = '2026-12-03,633712345678,T0000001,101,1203091502,1250,978,sale,A1B2C3,Cafe Central,476173******0119,visa';
const PAN = '4761739001010119';

const sale: SettlementRecord = {
  line: 2, businessDate: '2026-12-03', rrn: '633712345678', terminal: 'T0000001', stan: '000101', f7: '1203091502',
  amountMinor: 1250n, currency: '978', type: 'sale', approvalCode: 'A1B2C3', merchant: 'Cafe Central', panMasked: '476173******0119',
};

t.test('csv: records, normalised, with the file info', async (tt) => {
  const text = [HEADER, ROW, '2026-12-03,,T0000002,4711,1203093001,249900,978,reversal,,,,visa', ''].join('\n');
  const path = file(text);
  const { records, info } = await read(path, { format: 'csv', businessDate: '2026-12-03', upstream: 'visa' });
  tt.same(records, [
    sale,
    { ...sale, line: 3, rrn: '', terminal: 'T0000002', stan: '004711', f7: '1203093001', amountMinor: 249900n, type: 'reversal', approvalCode: null, merchant: null, panMasked: null },
  ]);
  tt.equal(typeof records[0].amountMinor, 'bigint');
  tt.same(info, { path, sha256: createHash('sha256').update(text).digest('hex'), records: 2, upstream: 'visa', businessDate: '2026-12-03' });
});

t.test('csv: columns in any order, optional ones left out, quoting, BOM, CRLF, empty lines at the end', async (tt) => {
  const text = '\uFEFFtype,amount_minor,merchant,stan,f7,currency,terminal,rrn,business_date\r\n'
    + 'sale,1250,"Cafe, Bar ""Zur Post""",101,1203091502,978,T0000001,633712345678,2026-12-03\r\n'
    + 'refund,300,"",7,,978,"T 2",633712345690,2026-12-03\r\n\r\n\r\n';
  const path = file(text);
  const { records, info } = await read(path, { format: 'csv' });
  tt.same(records.map((r) => [r.line, r.type, r.merchant, r.stan, r.terminal, r.approvalCode, r.panMasked]), [
    [2, 'sale', 'Cafe, Bar "Zur Post"', '000101', 'T0000001', null, null],
    [3, 'refund', null, '000007', 'T 2', null, null],
  ]);
  tt.equal(info.sha256, createHash('sha256').update(readFileSync(path)).digest('hex'), 'the hash covers the BOM too');
  tt.equal(info.upstream, null, 'no upstream column');
  tt.equal(info.businessDate, '2026-12-03', 'the date every record has');
});

t.test('csv: a quoted field over several lines keeps the lines counted', async (tt) => {
  const e = await refusal(`${HEADER}\n${ROW.replace('Cafe Central', '"Cafe\nCentral"')}\n`);
  tt.match(e.message, /line 2, column merchant: expected up to 200 characters, no control characters/, 'a record is blamed on the line it starts on');
  const rows: [string[], number][] = [];
  const s = new CsvSplitter(',', 0, (f, l) => rows.push([f, l]));
  s.push('a,"x\r\ny\n\nz"\r\nb,c\n"open');
  tt.throws(() => s.end(), { message: 'a quoted field is never closed (unterminated quote)', line: 6, field: 0 });
  tt.same(rows, [[['a', 'x\r\ny\n\nz'], 1], [['b', 'c'], 5]]);
});

t.test('csv: each refusal names the file, the line and the column', async (tt) => {
  const cases: [string, Partial<ReadOptions>, number | null, string | null, RegExp][] = [
    [`${HEADER.replace(',rrn', '')}\n`, {}, 1, 'rrn', /a required column is missing from the header/],
    [`${HEADER},colour\n`, {}, 1, 'colour', /unknown column/],
    [`${HEADER},rrn\n`, {}, 1, 'rrn', /in the header twice/],
    [`${HEADER}\n${ROW}\n${ROW.replace('sale', 'purchase')}\n`, {}, 3, 'type', /expected sale, refund, reversal, got "purchase"/],
    [`${HEADER}\n${ROW.replace(',1250,', ',12.50,')}\n`, {}, 2, 'amount_minor', /expected an integer in minor units, got "12.50": amounts are integers in minor units/],
    [`${HEADER}\n${ROW.replace(',1250,', ',1e3,')}\n`, {}, 2, 'amount_minor', /amounts are integers in minor units/],
    [`${HEADER}\n${ROW.replace(',1250,', ',-1250,')}\n`, {}, 2, 'amount_minor', /expected a non-negative integer in minor units, got "-1250"/],
    [`${HEADER}\n${ROW.replace(',1250,', ',,')}\n`, {}, 2, 'amount_minor', /got nothing/],
    [`${HEADER}\n${ROW.replace('2026-12-03', '2026-02-30')}\n`, {}, 2, 'business_date', /expected a real date as YYYY-MM-DD, got "2026-02-30"/],
    [`${HEADER}\n${ROW.replace('2026-12-03', '03.12.2026')}\n`, {}, 2, 'business_date', /expected a real date/],
    [`${HEADER}\n${ROW}\n${ROW.replace('2026-12-03', '2026-12-02')}\n`, { businessDate: '2026-12-03' }, 3, 'business_date', /: 2026-12-02 is not the business date asked \(2026-12-03\)$/],
    [`${HEADER}\n${ROW}\n`, { upstream: 'mc' }, 2, 'upstream', /: "visa" is not the upstream asked \("mc"\)$/],
    [`${HEADER}\n${ROW}\n${ROW.replace(',visa', ',mc')}\n`, {}, 3, 'upstream', /"mc" differs from "visa" \(line 2\): a file settles one upstream/],
    [`${HEADER}\n${ROW.replace(',633712345678,', ',,').replace(',1203091502,', ',,')}\n`, {}, 2, 'rrn', /rrn and f7 are both empty/],
    [`${HEADER}\n${ROW.replace(',101,', ',1234567,')}\n`, {}, 2, 'stan', /expected 1 to 6 digits/],
    [`${HEADER}\n${ROW.replace(',1203091502,', ',1303091502,')}\n`, {}, 2, 'f7', /expected 10 digits MMDDhhmmss/],
    [`${HEADER}\n${ROW.replace(',978,', ',EUR,')}\n`, {}, 2, 'currency', /expected 3 digits/],
    [`${HEADER}\n${ROW.replace(',T0000001,', ',,')}\n`, {}, 2, 'terminal', /expected 1 to 16 printable characters/],
    [`${HEADER}\n${ROW.replace(',T0000001,', ',T00000010000000001,')}\n`, {}, 2, 'terminal', /expected 1 to 16 printable characters/],
    [`${HEADER}\n${ROW}\n${ROW.replace(',visa', '')}\n`, {}, 3, 'upstream', /missing: the row has 11 fields, the header 12/],
    [`${HEADER}\n${ROW},extra\n`, {}, 2, '13', /the row has 13 fields, the header 12/],
    [`${HEADER}\n${ROW.replace('Cafe Central', '"Cafe Central')}\n${ROW}\n`, {}, 2, 'merchant', /a quoted field is never closed \(unterminated quote\)/],
    [`${HEADER}\n${ROW.replace('Cafe Central', 'Cafe "Central"')}\n`, {}, 2, 'merchant', /a quote inside an unquoted field/],
    [`${HEADER}\n${ROW.replace('Cafe Central', '"Cafe" Central')}\n`, {}, 2, 'merchant', /a closing quote must be followed by the delimiter or the line end/],
    [`${HEADER}\n${ROW}\n\n${ROW}\n`, {}, 3, null, /an empty line before more rows/],
    ['', {}, 1, null, /the header row is missing: the file is empty/],
  ];
  for (const [text, opts, line, column, problem] of cases) {
    const e = await refusal(text, opts);
    tt.match(e.message, problem, e.message);
    tt.equal(e.line, line, `line of: ${e.message}`);
    tt.equal(e.column, column, `column of: ${e.message}`);
    tt.ok(e.message.startsWith(`${dir}/f${fileNo}.csv${line === null ? ':' : ` line ${line}`}`), 'names the file first');
    if (line !== null) tt.ok(e.message.includes(column === null ? `line ${line}: ` : `line ${line}, column ${column}: `), 'then the line and column');
  }
});

t.test('pan_masked: a full PAN is refused and never shown; more than 6 + 4 is masked down', async (tt) => {
  for (const pan of [PAN, '4761 7390 0101 0119', '4761-7390-0101-0119', `${PAN}***`]) {
    const e = await refusal(`${HEADER}\n${ROW.replace('476173******0119', pan)}\n`);
    tt.match(e.message, /line 2, column pan_masked: looks like a full PAN; the file must carry it masked \(6 \+ 4 at most\)$/);
    tt.notOk(/\d{5}/.test(e.message.replace(dir, '')), `no run of its digits in: ${e.message}`);
  }
  const bad = await refusal(`${HEADER}\n${ROW.replace('476173******0119', '4761739001')}\n`);
  tt.match(bad.message, /column pan_masked: expected a masked PAN/);
  tt.notOk(bad.message.includes('4761739001'), 'a bad masked value is not shown either');
  const more = file(`${HEADER}\n${ROW.replace('476173******0119', '47617390XXXX0119')}\n${ROW.replace('476173******0119', '476173xxxxxx0119')}\n`);
  const { records } = await read(more, { format: 'csv' });
  tt.same(records.map((r) => r.panMasked), ['476173******0119', '476173******0119']);
  // A misaligned row can put a card number in any column: never echoed.
  const shifted = await refusal(`${HEADER}\n${ROW.replace(',1250,', `,${PAN},`)}\n`);
  tt.notOk(shifted.message.includes(PAN), shifted.message);
});

t.test('json: records with the line each object starts on', async (tt) => {
  const text = `[
  {"business_date": "2026-12-03", "rrn": "633712345678", "terminal": "T0000001", "stan": "101", "f7": "1203091502",
   "amount_minor": 1250, "currency": "978", "type": "sale", "approval_code": "A1B2C3", "merchant": "Cafe Central",
   "pan_masked": "476173******0119", "upstream": "visa"},
  {
    "business_date": "2026-12-03", "rrn": null, "terminal": "T0000002", "stan": "4711", "f7": "1203093001",
    "amount_minor": "249900", "currency": "978", "type": "reversal", "merchant": "Caf\\u00e9 \\"Nord\\""
  }
]
`;
  const path = file(text, 'json');
  const { records, info } = await read(path, { format: 'json', businessDate: '2026-12-03', upstream: 'visa' });
  tt.same(records, [
    sale,
    { ...sale, line: 5, rrn: '', terminal: 'T0000002', stan: '004711', f7: '1203093001', amountMinor: 249900n, type: 'reversal', approvalCode: null, merchant: 'Café "Nord"', panMasked: null },
  ]);
  tt.same(info, { path, sha256: createHash('sha256').update(text).digest('hex'), records: 2, upstream: 'visa', businessDate: '2026-12-03' });
  tt.same((await read(file('[]', 'json'), { format: 'json' })).info.records, 0);
});

t.test('json: refusals name the record, its line and the key; syntax errors the line and column', async (tt) => {
  const rec = (amount: string, extra = ''): string =>
    `{"business_date": "2026-12-03", "rrn": "1", "terminal": "T1", "stan": "1", "f7": "", "amount_minor": ${amount}, "currency": "978", "type": "sale"${extra}}`;
  const cases: [string, number | null, string | null, RegExp][] = [
    [`[\n${rec('1')},\n\n  ${rec('12.5')}\n]`, 4, 'amount_minor', /line 4, record \[1\], key amount_minor: expected an integer in minor units, got "12.5": amounts are integers/],
    [`[${rec('12.0')}]`, 1, 'amount_minor', /amounts are integers in minor units/],
    [`[${rec('-5')}]`, 1, 'amount_minor', /non-negative/],
    [`[${rec('9007199254740993')}]`, 1, 'amount_minor', /key amount_minor: a number beyond 2\^53 - 1.*write it as a string of digits$/],
    [`[${rec('"9007199254740993"').replace('"stan": "1"', '"stan": 1')}]`, 1, 'stan', /expected a string or null, got a number \(a number would lose leading zeros/],
    [`[${rec('1', ', "colour": "red"')}]`, 1, '"colour"', /unknown key/],
    [`[${rec('1').replace('"terminal": "T1", ', '')}]`, 1, 'terminal', /key terminal: missing/],
    [`[${rec('1')}, 7]`, 1, null, /record \[1\]: expected an object, got a number/],
    [`[${rec('1', ', "merchant": {"name": "x"}')}]`, 1, 'merchant', /expected a string or null, got an object/],
    ['[\n  {"rrn": "1",,}\n]', 2, '15', /line 2, column 15: not valid JSON: expected a double-quoted key/],
    [`[\n${rec('1')}\n${rec('1')}\n]`, 3, '1', /line 3, column 1: not valid JSON: expected a comma or the closing bracket of the array/],
    ['[\n {"rrn": "1", "rrn": "2"}\n]', 2, '15', /line 2, column 15: not valid JSON: expected each key once/],
    ['{"records": []}', 1, '1', /expected an array of records/],
    [`[${rec('1')}`, 1, String(rec('1').length + 2), /expected a comma or the closing bracket/],
  ];
  for (const [text, line, column, problem] of cases) {
    const e = await refusal(text, {}, 'json');
    tt.match(e.message, problem, e.message);
    tt.equal(e.line, line, `line of: ${e.message}`);
    tt.equal(e.column, column, `column of: ${e.message}`);
  }
  const big = file('', 'json');
  truncateSync(big, 256 * 1024 * 1024 + 1);
  await tt.rejects(read(big, { format: 'json' }), /use csv for files this big/);
});

t.test('mapping: the fixed-width example of docs/settlement', async (tt) => {
  const { records, info } = await read('docs/settlement/acme-fixed.txt', { format: 'docs/settlement/acme-fixed.mapping.json', businessDate: '2026-12-03', upstream: 'acme' });
  tt.same(records.map((r) => [r.line, r.type, r.rrn, r.terminal, r.stan, r.f7, r.amountMinor, r.approvalCode, r.panMasked, r.merchant]), [
    [2, 'sale', '633712345678', 'T0000001', '000101', '1203091502', 1250n, 'A1B2C3', '476173******0119', 'CAFE CENTRAL'],
    [3, 'sale', '633712345679', 'T0000002', '000102', '1203091730', 249900n, '778899', '535522******4417', 'ELECTRO HUB, MAIN ST'],
    [4, 'reversal', '', 'T0000002', '000102', '1203093001', 249900n, null, '535522******4417', 'ELECTRO HUB, MAIN ST'],
    [5, 'refund', '633712345690', 'T0000007', '004711', '', 3000n, 'R00042', null, 'BOOKS & MORE'],
  ]);
  tt.same([info.records, info.upstream, info.businessDate], [4, 'acme', '2026-12-03']);
  await tt.rejects(read('docs/settlement/acme-fixed.txt', { format: 'docs/settlement/acme-fixed.mapping.json', upstream: 'visa' }),
    { message: /acme-fixed.mapping.json at constants.upstream: "acme" is not the upstream asked \("visa"\)/ });
});

t.test('mapping: the semicolon example of docs/settlement', async (tt) => {
  const { records, info } = await read('docs/settlement/giro-semicolon.csv', { format: 'docs/settlement/giro-semicolon.mapping.json', businessDate: '2026-12-03' });
  tt.same(records.map((r) => [r.line, r.type, r.merchant, r.stan, r.currency, r.panMasked]), [
    [3, 'sale', 'Cafe; Bar "Zur Post"', '000101', '978', '476173******0119'],
    [4, 'reversal', null, '000102', '978', null],
    [5, 'refund', 'Buecher & mehr', '004711', '978', null],
  ]);
  tt.same([info.upstream, info.businessDate], ['giro', '2026-12-03']);
});

t.test('mapping: bad data named by the file\'s own columns', async (tt) => {
  const fixed = readFileSync('docs/settlement/acme-fixed.txt', 'utf8').split('\n');
  const mapping = 'docs/settlement/acme-fixed.mapping.json';
  const amount = fixed[1].slice(0, 45) + '00000012.500' + fixed[1].slice(57);
  const cases: [string[], number, string | null, RegExp][] = [
    [[fixed[0], amount], 2, '46-57 (amount_minor)', /expected an integer in minor units, got "00000012.500"/],
    [[fixed[0], fixed[1].replace('20261203', '20261302')], 2, '2-9 (business_date)', /expected a real date as YYYYMMDD, got "20261302"/],
    [[fixed[0], `${fixed[1].slice(0, 60)}XX${fixed[1].slice(62)}`], 2, '61-62 (type)', /the code "XX" is not in the mapping's types \(00, 20, RV\)/],
    [[fixed[0], `X${fixed[1].slice(1)}`], 2, '1-1', /record code "X" is neither "D" \(a record\) nor one to skip \("H", "T"\)/],
    [[fixed[0], fixed[1].slice(0, 80)], 2, '69-84 (pan_masked)', /the line has 80 characters, the layout needs 104/],
    [[fixed[0], fixed[1].slice(0, 68) + PAN + fixed[1].slice(84)], 2, '69-84 (pan_masked)', /looks like a full PAN/],
  ];
  for (const [lines, line, column, problem] of cases) {
    const e = await refusal(lines.join('\n'), { format: mapping }, 'txt');
    tt.match(e.message, problem, e.message);
    tt.notOk(e.message.includes(PAN));
    tt.same([e.line, e.column], [line, column], e.message);
  }
  const giro = readFileSync('docs/settlement/giro-semicolon.csv', 'utf8').split('\r\n');
  const e = await refusal([giro[0], giro[1], giro[2].replace(';1250;', ';12,50;')].join('\n'), { format: 'docs/settlement/giro-semicolon.mapping.json' });
  tt.match(e.message, /line 3, column Betrag \(amount_minor\): expected an integer in minor units, got "12,50"/);
  const noColumn = await refusal([giro[0], giro[1].replace('Betrag', 'Summe'), giro[2]].join('\n'), { format: 'docs/settlement/giro-semicolon.mapping.json' });
  tt.match(noColumn.message, /line 2, column Betrag: the mapping's column is not in the header/);
});

t.test('mapping: headerless csv by position, a record filter on a column', async (tt) => {
  const mapping = file(JSON.stringify({
    layout: 'csv', delimiter: '|', header: false,
    columns: { business_date: 2, terminal: 3, stan: 4, rrn: 5, amount_minor: 6, type: 7 },
    recordFilter: { column: 1, equals: 'D' },
    dateFormat: 'YYMMDD', constants: { currency: '840', f7: '' },
  }), 'json');
  const data = file('H|261203|ACME\nD|261203|T1|9|RRN1|100|sale\nD|261203|T2|10|RRN2|250|refund\nT|2|350\n');
  const { records } = await read(data, { format: mapping, businessDate: '2026-12-03' });
  tt.same(records.map((r) => [r.line, r.businessDate, r.terminal, r.stan, r.amountMinor, r.currency, r.type]), [
    [2, '2026-12-03', 'T1', '000009', 100n, '840', 'sale'],
    [3, '2026-12-03', 'T2', '000010', 250n, '840', 'refund'],
  ]);
  const ragged = await refusal('D|261203|T1|9|RRN1|100|sale\nD|261203|T1|9|RRN1|100\n', { format: mapping });
  tt.match(ragged.message, /line 2, column 7 \(type\): missing: the row has 6 fields, the first row 7/);
});

t.test('mapping: a bad mapping file names itself, the JSON path and the reason', async (tt) => {
  const good = JSON.parse(readFileSync('docs/settlement/acme-fixed.mapping.json', 'utf8')) as Record<string, unknown>;
  const fields = good.fields as Record<string, unknown>;
  const cases: [unknown, string, RegExp][] = [
    [{ ...good, layout: 'xml' }, 'layout', /expected "csv" or "fixed", got "xml"/],
    [{ ...good, delimiter: ';' }, 'delimiter', /not a key of a fixed layout/],
    [{ ...good, fields: { ...fields, rrn: [0, 12] } }, 'fields.rrn[0]', /expected an integer from 1, got 0/],
    [{ ...good, fields: { ...fields, rrn: [10] } }, 'fields.rrn', /expected \[start, length\]/],
    [{ ...good, fields: { ...fields, colour: [1, 2] } }, 'fields.colour', /not a settlement field/],
    [{ ...good, fields: { ...fields, stan: undefined } }, 'fields', /no source for stan/],
    [{ ...good, types: { '00': 'purchase' } }, 'types.00', /expected sale, refund, reversal, got "purchase"/],
    [{ ...good, dateFormat: 'YYYYQQ' }, 'dateFormat', /"Q" is neither YYYY, YY, MM, DD nor a separator/],
    [{ ...good, fields: { ...fields, currency: undefined }, constants: { currency: 'EUR' } }, 'constants.currency', /expected 3 digits \(ISO 4217 numeric\), got "EUR"/],
    [{ ...good, constants: { rrn: '1' } }, 'constants.rrn', /rrn comes from fields already/],
    [{ ...good, recordFilter: { start: 1, length: 1, equals: 'DD' } }, 'recordFilter.equals', /expected 1 characters/],
    [{ layout: 'csv', header: false, columns: { rrn: 'RRN' } }, 'columns.rrn', /"header" is false: name columns by their 1-based position/],
  ];
  for (const [m, path, problem] of cases) {
    const mapping = file(JSON.stringify(m, null, 2), 'json');
    const data = file('D\n', 'txt');
    const e = await read(data, { format: mapping }).then(() => null, (x: unknown) => x);
    tt.ok(e instanceof SettlementMappingError, String(e));
    const me = e as SettlementMappingError;
    tt.equal(me.jsonPath, path, me.message);
    tt.match(me.message, problem, me.message);
    tt.ok(me.message.startsWith(`${mapping} at ${path}: `), me.message);
  }
  const syntax = file('{\n  "layout": "fixed",\n  "fields": {"rrn": [1, 2]\n}\n', 'json');
  await tt.rejects(read(file('D\n', 'txt'), { format: syntax }), { message: /: line 5, column 1: not valid JSON: expected a comma or the closing brace/ });
  await tt.rejects(read(file('D\n', 'txt'), { format: join(dir, 'no-such-mapping.json') }), { message: /no-such-mapping.json: cannot read the mapping file/ });
});

t.test('reading: a missing file, a bad date asked, and leaving the loop early', async (tt) => {
  await tt.rejects(read(join(dir, 'missing.csv'), { format: 'csv' }), { message: /missing.csv: cannot read: ENOENT/ });
  await tt.rejects(read(file(`${HEADER}\n`), { format: 'csv', businessDate: '2026-13-01' }), { message: /not a real YYYY-MM-DD date/ });
  const r = readSettlementFile(file(`${HEADER}\n${ROW}\n${ROW}\n`), { format: 'csv' });
  for await (const _x of r.records) break;
  await tt.rejects(r.info, { message: /reading stopped before the last record/ });
});

t.test('property: any record set written as CSV reads back equal', async (tt) => {
  const printable = (min: number, max: number): fc.Arbitrary<string> =>
    fc.string({ unit: fc.constantFrom(...' ,"ab;Z09-\'é'.split('')), minLength: min, maxLength: max });
  const digits = (min: number, max: number): fc.Arbitrary<string> => fc.string({ unit: fc.constantFrom(...'0123456789'.split('')), minLength: min, maxLength: max });
  const two = (lo: number, hi: number): fc.Arbitrary<string> => fc.integer({ min: lo, max: hi }).map((n) => String(n).padStart(2, '0'));
  const record = fc.record({
    businessDate: fc.constant('2026-12-03'),
    rrn: fc.string({ unit: fc.constantFrom(...'AZ09x7'.split('')), minLength: 0, maxLength: 12 }),
    terminal: printable(1, 16).filter((s) => s.trim() !== '' && /^[\x20-\x7e]+$/.test(s)),
    stan: digits(1, 6),
    f7: fc.option(fc.tuple(two(1, 12), two(1, 31), two(0, 23), two(0, 59), two(0, 59)).map((p) => p.join('')), { nil: '' }),
    amountMinor: fc.bigInt({ min: 0n, max: 999_999_999_999n }),
    currency: digits(3, 3),
    type: fc.constantFrom('sale' as const, 'refund' as const, 'reversal' as const),
    approvalCode: fc.option(fc.string({ unit: fc.constantFrom(...'A1 z'.split('')), minLength: 1, maxLength: 6 }), { nil: null }),
    merchant: fc.option(printable(1, 30), { nil: null }),
    panMasked: fc.option(fc.tuple(digits(0, 6), fc.integer({ min: 2, max: 9 }), digits(0, 4)).map(([a, n, b]) => `${a}${'*'.repeat(n)}${b}`).filter((p) => p.length >= 12), { nil: null }),
  }).filter((r) => r.rrn !== '' || r.f7 !== '');
  const columns = ['business_date', 'rrn', 'terminal', 'stan', 'f7', 'amount_minor', 'currency', 'type', 'approval_code', 'merchant', 'pan_masked'] as const;
  await fc.assert(fc.asyncProperty(
    fc.array(record, { maxLength: 20 }), fc.shuffledSubarray([...columns], { minLength: columns.length }), fc.boolean(), fc.boolean(),
    async (recs, order, crlf, quoteAll) => {
      const cell = (s: string): string => (quoteAll || /[",\r\n]/.test(s) || s === '' ? `"${s.replace(/"/g, '""')}"` : s);
      const value = (r: (typeof recs)[number], c: (typeof columns)[number]): string => ({
        business_date: r.businessDate, rrn: r.rrn, terminal: r.terminal, stan: r.stan, f7: r.f7, amount_minor: String(r.amountMinor),
        currency: r.currency, type: r.type, approval_code: r.approvalCode ?? '', merchant: r.merchant ?? '', pan_masked: r.panMasked ?? '',
      })[c];
      const eol = crlf ? '\r\n' : '\n';
      const text = [order.join(','), ...recs.map((r) => order.map((c) => cell(value(r, c))).join(','))].join(eol) + eol;
      const { records } = await read(file(text), { format: 'csv' });
      const want = recs.map((r, i) => ({ ...r, line: i + 2, stan: r.stan.padStart(6, '0') }));
      return isDeepStrictEqual(records, want);
    },
  ), { numRuns: 150 });
  tt.pass('150 record sets, their columns in any order, quoted or not, LF or CRLF');
});

t.test('property: the CSV splitter gives the same rows however the text is cut into chunks', async (tt) => {
  const field = fc.string({ unit: fc.constantFrom('a', 'b', ',', '"', '\n', '\r', ' '), maxLength: 6 });
  await fc.assert(fc.property(fc.array(fc.array(field, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 6 }), (rows, cuts) => {
    const text = rows.map((r) => r.map((f) => `"${f.replace(/"/g, '""')}"`).join(',')).join('\r\n');
    const whole: [string[], number][] = [];
    const w = new CsvSplitter(',', 0, (f, l) => whole.push([f, l]));
    w.push(text);
    w.end();
    const pieces: [string[], number][] = [];
    const p = new CsvSplitter(',', 0, (f, l) => pieces.push([f, l]));
    let at = 0;
    for (const c of [...cuts.map((c) => c % (text.length + 1))].sort((a, b) => a - b)) {
      p.push(text.slice(at, c));
      at = c;
    }
    p.push(text.slice(at));
    p.end();
    return JSON.stringify(whole.map(([f]) => f)) === JSON.stringify(rows) && JSON.stringify(pieces) === JSON.stringify(whole);
  }), { numRuns: 300 });
  tt.pass('300 texts cut at random places');
});
