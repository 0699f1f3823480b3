/**
 * The settlement file reader of reconciliation (switch/recon/settlement-file.ts). The
 * first byte picks the format and options: csv, json, the two mapping examples of
 * docs/settlement/ (fixed-width and ';'-separated), or a mapping given in the input itself
 * (its text, a NUL byte, then the file); a business date and an upstream to insist on.
 * The rest is the file.
 *
 * Property: reading throws only SettlementFileError (mapping errors included) with a
 * message, and with a fixed mapping (csv, json, the docs' examples) one that holds no card
 * number (a fuzzed mapping's own text may be quoted); `info` rejects with that same error,
 * or, when the records are read to the end, gives their count and the file's SHA-256.
 * Each record keeps SettlementRecord's promises: YYYY-MM-DD date (the one asked, if any),
 * 6-digit STAN, F7 empty or 10 digits, a non-negative amount, a 3-digit currency, a known
 * type, a PAN masked to at most 10 digits.
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSettlementFile, SettlementFileError, type ReadOptions } from '../../../switch/recon/settlement-file.js';
import { SETTLEMENT_TYPES, type SettlementRecord } from '../../../switch/recon/settlement-record.js';
import { checkOwnError, must, PropertyFailure, type FuzzTarget } from '../target.js';

const DOCS = fileURLToPath(new URL('../../../docs/settlement/', import.meta.url)).replace(/\/dist\/docs\//, '/docs/');
export const FORMATS = ['csv', 'json', 'acme-fixed', 'giro-semicolon', 'mapping'] as const;
const BUSINESS_DATE = '2026-12-03';
const UPSTREAMS = ['acme', 'giro', 'visa'];

let dir = '';

function checkRecord(r: SettlementRecord, asked: string | undefined): void {
  const at = `record of line ${r.line}`;
  must(/^\d{4}-\d{2}-\d{2}$/.test(r.businessDate) && (asked === undefined || r.businessDate === asked), `${at}: business date not as promised`);
  must(/^\d{6}$/.test(r.stan), `${at}: STAN is not 6 digits`);
  must(r.f7 === '' || /^\d{10}$/.test(r.f7), `${at}: F7 is neither empty nor 10 digits`);
  must(typeof r.amountMinor === 'bigint' && r.amountMinor >= 0n, `${at}: amount is not a non-negative bigint`);
  must(/^\d{3}$/.test(r.currency), `${at}: currency is not 3 digits`);
  must(SETTLEMENT_TYPES.includes(r.type), `${at}: unknown type`);
  must(r.panMasked === null || (r.panMasked.match(/\d/g) ?? []).length <= 10, `${at}: PAN shows more than 10 digits`);
  must(Number.isInteger(r.line) && r.line >= 1, `${at}: line is not a positive integer`);
}

export const target: FuzzTarget = {
  name: 'settlement',
  about: 'the settlement file reader: csv, json, fixed-width and delimited mappings',
  maxLen: 16384,
  nests: true,
  dictionary: [
    'business_date', 'rrn', 'terminal', 'stan', 'f7', 'amount_minor', 'currency', 'type', 'approval_code', 'merchant', 'pan_masked',
    'upstream', 'sale', 'refund', 'reversal', '2026-12-03', '03.12.2026', '20261203', '978', '476173******0119', '4761739001010119',
    '633712345678', 'T0000001', '1203091502', '\r\n', '\n', ',', ';', '"', '""', '\uFEFF', '[', ']', '{', '}', ':', 'null', '9007199254740993',
    '"layout"', '"csv"', '"fixed"', '"delimiter"', '"header"', '"skipLines"', '"encoding"', '"latin1"', '"trim"', '"columns"', '"fields"',
    '"recordFilter"', '"start"', '"length"', '"equals"', '"skip"', '"dateFormat"', '"YYYYMMDD"', '"types"', '"constants"', '\u0000',
  ],
  setup(scratch: string): void {
    dir = scratch;
  },
  async run(input: Buffer): Promise<void> {
    const sel = input[0] ?? 0;
    const format = FORMATS[sel % FORMATS.length];
    let body = input.subarray(1);
    const opts: ReadOptions = { format: format === 'csv' || format === 'json' ? format : join(DOCS, `${format}.mapping.json`) };
    if (format === 'mapping') {
      const nul = body.indexOf(0);
      opts.format = join(dir, 'fuzz.mapping.json');
      writeFileSync(opts.format, nul === -1 ? body : body.subarray(0, nul));
      body = nul === -1 ? Buffer.alloc(0) : body.subarray(nul + 1);
    }
    if (sel & 0x20) opts.businessDate = BUSINESS_DATE;
    if (sel & 0x40) opts.upstream = UPSTREAMS[(sel >> 7) + (sel & 1)];
    const path = join(dir, format === 'json' ? 'settlement.json' : 'settlement.txt');
    writeFileSync(path, body);
    const { records, info } = readSettlementFile(path, opts);
    let count = 0;
    try {
      for await (const r of records) {
        checkRecord(r, opts.businessDate);
        count++;
      }
    } catch (e) {
      if (e instanceof PropertyFailure) throw e;
      // A mapping is the operator's, not the issuer's data, and errors may quote it (its type
      // codes, its column names): with a fuzzed mapping the card-number check cannot tell.
      const err = checkOwnError(e, [SettlementFileError], { noCardNumbers: format !== 'mapping' });
      let rejected: unknown = null;
      await info.catch((x: unknown) => {
        rejected = x;
      });
      must(rejected === err, 'info did not reject with the error the records threw');
      return;
    }
    const i = await info;
    must(i.records === count, `info counts ${i.records} records, ${count} were read`);
    must(i.sha256 === createHash('sha256').update(body).digest('hex'), 'info.sha256 is not the hash of the file');
  },
};
