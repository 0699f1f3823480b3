/**
 * Reads an issuer's or network's settlement file into SettlementRecords for the
 * reconciler: the built-in `csv` and `json` formats, or any delimited or fixed-width
 * layout described by a mapping file (./settlement-mapping.ts, docs/settlement/).
 *
 *   const { records, info } = readSettlementFile('visa-20261203.csv', { format: 'csv', businessDate: '2026-12-03' });
 *   for await (const r of records) stage(r);   // throws SettlementFileError at the first bad record
 *   const { sha256, records: n } = await info;  // settles once the records are read to the end
 *
 * `records` can be iterated once. The reader stops at the first bad record, so a caller
 * stages what it reads and applies nothing unless the loop ends without an error. `info`
 * settles only while `records` is read: it rejects with the same error, or when the loop
 * is left before the end; it never goes unhandled.
 *
 * CSV and fixed-width files are streamed in 64 KiB chunks, hashed as they are read. A JSON
 * file is read whole, up to 256 MiB: its records carry the line each object starts on,
 * which no well-kept streaming JSON library gives (stream-json has no positions), and a
 * file that big belongs in csv.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import { CsvSplitter, CsvSyntaxError } from './settlement-csv.js';
import { SettlementFileError, SettlementMappingError } from './settlement-error.js';
import { FieldProblem, ISO_DATE, RecordBuilder } from './settlement-fields.js';
import { JsonScanner, JsonSyntaxError, fieldError, jsonRecordValues } from './settlement-json.js';
import { CSV_LAYOUT, loadMapping, type Layout } from './settlement-mapping.js';
import type { SettlementRecord } from './settlement-record.js';
import { RowReader } from './settlement-rows.js';

export { SettlementFileError, SettlementMappingError } from './settlement-error.js';

export interface ReadOptions {
  /** 'csv', 'json', or the path of a mapping FILE.json. */
  format: 'csv' | 'json' | string;
  /** YYYY-MM-DD: every record must have it. */
  businessDate?: string;
  /** When the file carries an upstream (a column or a mapping constant), it must be this one. */
  upstream?: string;
}

export interface SettlementFileInfo {
  path: string;
  /** Hex SHA-256 of the file's exact bytes. */
  sha256: string;
  records: number;
  /** The upstream the file carries, null when it carries none. */
  upstream: string | null;
  /** The business date asked, else the one every record has, else null (no records, or several dates). */
  businessDate: string | null;
}

export interface SettlementRead {
  records: AsyncIterable<SettlementRecord>;
  info: Promise<SettlementFileInfo>;
}

/** A JSON file is parsed in memory; past this, csv. */
export const MAX_JSON_BYTES = 256 * 1024 * 1024;
/** 64 KiB: with 1 MiB chunks each batch of records outlived a young-generation GC, and reading was 1.5x slower. */
const CHUNK_BYTES = 1 << 16;
const JSON_BATCH = 1000;

export function readSettlementFile(path: string, opts: ReadOptions): SettlementRead {
  let resolve!: (i: SettlementFileInfo) => void;
  let reject!: (e: unknown) => void;
  const info = new Promise<SettlementFileInfo>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A caller that only iterates sees the error there; this keeps it from also being an unhandled rejection.
  info.catch(() => undefined);

  async function* records(): AsyncGenerator<SettlementRecord> {
    let ended = false;
    try {
      const rules = { businessDate: asked(opts.businessDate), upstream: opts.upstream ?? null };
      const out: { info?: SettlementFileInfo } = {};
      const batches = opts.format === 'json'
        ? readJson(path, new RecordBuilder({ ...rules, dateFormat: ISO_DATE, types: null }), out)
        : readDelimited(path, opts.format === 'csv' ? CSV_LAYOUT : loadMapping(opts.format), rules, out);
      // Batches, so a record costs one async step on its way out, not one per generator.
      for await (const batch of batches) for (const r of batch) yield r;
      ended = true;
      if (out.info !== undefined) resolve(out.info);
    } catch (e) {
      reject(e);
      throw e;
    } finally {
      if (!ended) reject(new SettlementFileError(`${path}: reading stopped before the last record`, null, null));
    }
  }
  return { records: records(), info };
}

function asked(date: string | undefined): string | null {
  if (date === undefined) return null;
  if (ISO_DATE.parse(date) !== date) throw new SettlementFileError(`the business date asked is not a real YYYY-MM-DD date: ${JSON.stringify(date)}`, null, null);
  return date;
}

async function* readDelimited(
  path: string,
  layout: Layout,
  rules: { businessDate: string | null; upstream: string | null },
  out: { info?: SettlementFileInfo },
): AsyncGenerator<SettlementRecord[]> {
  const builder = new RecordBuilder({ ...rules, dateFormat: layout.dateFormat, types: layout.types });
  for (const [f, value] of layout.constants) {
    try {
      builder.check(f, value);
    } catch (e) {
      if (!(e instanceof FieldProblem)) throw e;
      throw new SettlementMappingError(layout.mappingFile ?? '', `constants.${f}`, e.message);
    }
  }
  const rows = new RowReader(path, layout, builder);
  const splitter = new CsvSplitter(layout.kind === 'csv' ? layout.delimiter : null, layout.skipLines, rows.row);
  const hash = createHash('sha256');
  const decoder = new StringDecoder(layout.encoding);
  const stream = createReadStream(path, { highWaterMark: CHUNK_BYTES });
  let count = 0;
  let bom = layout.encoding === 'utf8';
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      hash.update(chunk);
      let text = decoder.write(chunk);
      if (bom && text !== '') {
        if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
        bom = false;
      }
      split(rows, () => splitter.push(text));
      const batch = rows.take();
      count += batch.length;
      if (batch.length > 0) yield batch;
    }
    split(rows, () => {
      splitter.push(decoder.end());
      splitter.end();
    });
    rows.finish(splitter.lineNumber);
    const batch = rows.take();
    count += batch.length;
    yield batch;
  } catch (e) {
    throw readError(path, e);
  } finally {
    stream.destroy();
  }
  out.info = { path, sha256: hash.digest('hex'), records: count, upstream: builder.upstream, businessDate: builder.businessDate };
}

function split(rows: RowReader, run: () => void): void {
  try {
    run();
  } catch (e) {
    if (e instanceof CsvSyntaxError) throw rows.syntaxError(e);
    throw e;
  }
}

async function* readJson(path: string, builder: RecordBuilder, out: { info?: SettlementFileInfo }): AsyncGenerator<SettlementRecord[]> {
  const { sha256, text } = await wholeText(path);
  let count = 0;
  let batch: SettlementRecord[] = [];
  try {
    for (const { index, line, value } of new JsonScanner(text).elements()) {
      const values = jsonRecordValues(path, index, line, value);
      let record: SettlementRecord;
      try {
        record = builder.build(values, line);
      } catch (e) {
        if (e instanceof FieldProblem) throw fieldError(path, index, line, e);
        throw e;
      }
      count++;
      batch.push(record);
      if (batch.length === JSON_BATCH) {
        yield batch;
        batch = [];
      }
    }
  } catch (e) {
    if (e instanceof JsonSyntaxError) throw SettlementFileError.at(path, e.line, String(e.column), `not valid JSON: expected ${e.expected}`);
    throw e;
  }
  yield batch;
  out.info = { path, sha256, records: count, upstream: builder.upstream, businessDate: builder.businessDate };
}

/** A JSON file's text and hash; its bytes are let go before parsing. */
async function wholeText(path: string): Promise<{ sha256: string; text: string }> {
  try {
    const size = (await stat(path)).size;
    if (size > MAX_JSON_BYTES) {
      throw new SettlementFileError(`${path}: ${size} bytes, over the ${MAX_JSON_BYTES / 1024 / 1024} MiB a JSON settlement file may have: use csv for files this big`, null, null);
    }
    const bytes = await readFile(path);
    const text = bytes.toString('utf8');
    return { sha256: createHash('sha256').update(bytes).digest('hex'), text: text.charCodeAt(0) === 0xfeff ? text.slice(1) : text };
  } catch (e) {
    throw readError(path, e);
  }
}

/** The file could not be read at all (missing, a directory, no permission). */
function readError(path: string, e: unknown): unknown {
  if (e instanceof Error && 'code' in e && !(e instanceof SettlementFileError)) {
    return new SettlementFileError(`${path}: cannot read: ${e.message}`, null, null);
  }
  return e;
}
