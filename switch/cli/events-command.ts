/**
 * `revswitch events tail`: the lifecycle events as a person or a script reads them, from
 * the daily files (`--file DIR`) or the JetStream stream (`--nats URL`), without protoc:
 * the last N, then with --follow each new one as it comes. Events carry the masked PAN and
 * its hash only, never card data, so printing them whole is safe.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { connect, type JetStreamManager, type NatsConnection } from 'nats';
import { loadConfigFile, NATS_EVENTS_DEFAULTS } from '../config/index.js';
import { eventSchema, splitDelimited } from '../observe/events/index.js';
import { UsageError } from './args.js';
import { examples, flag, jsonOption, runs, type Parsed } from './kit.js';

export const EVENTS_USAGE = 'revswitch events tail [--file DIR | --nats URL [--stream NAME] | --config FILE] [-n N] [--follow] [--json]';

type Event = Record<string, unknown>;
const FILE = /^events-\d{4}-\d{2}-\d{2}\.pb$/;
const POLL_MS = 500;
/** Shown first on a person's line; the rest follow as key=value. */
const LEAD = ['timeMs', 'kind', 'txnId'];
const QUIET = new Set([...LEAD, 'eventId', 'node']);

/** One line for a person: time, kind, transaction, then every other field that is set. */
export function eventLine(e: Event): string {
  const at = typeof e.timeMs === 'number' ? new Date(e.timeMs).toISOString() : '?';
  const rest = Object.entries(e).filter(([k, v]) => !QUIET.has(k) && v !== '' && v !== null && v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === 'string' && /\s/.test(v) ? JSON.stringify(v) : String(v)}`);
  return [at, String(e.kind ?? '?').padEnd(20), `txn=${String(e.txnId ?? '')}`, ...rest].join('  ').trimEnd();
}

interface Source {
  /** The last `n` events. */
  last(n: number): Promise<Event[]>;
  /** Events after those returned so far; [] when none yet. */
  more(): Promise<Event[]>;
  close(): Promise<void>;
}

/** The daily files of a directory, oldest first; a record half-written is left for the next read. */
function fileSource(dir: string): Source {
  const schema = eventSchema();
  const read = new Map<string, number>();
  const files = (): string[] => {
    try {
      return readdirSync(dir).filter((f) => FILE.test(f)).sort();
    } catch (e) {
      throw new UsageError(`--file ${dir}: ${(e as Error).message}`);
    }
  };
  const from = (name: string): Event[] => {
    const path = join(dir, name);
    const at = read.get(name) ?? 0;
    if (statSync(path).size <= at) return [];
    const bytes = readFileSync(path).subarray(at);
    const { records, complete } = splitDelimited(bytes);
    read.set(name, at + complete);
    return records.map((r) => schema.decode(r) as unknown as Event);
  };
  return {
    async last(n) {
      const all = files().flatMap(from);
      return all.slice(Math.max(0, all.length - n));
    },
    async more() {
      return files().flatMap(from);
    },
    async close() {},
  };
}

/** A JetStream stream read by sequence number (direct gets): enough for a person watching. */
async function natsSource(url: string, stream: string): Promise<Source> {
  let nc: NatsConnection;
  try {
    nc = await connect({ servers: url, name: 'revswitch-events-tail', timeout: 3000 });
  } catch (e) {
    throw new UsageError(`--nats ${url}: ${(e as Error).message}`);
  }
  const jsm: JetStreamManager = await nc.jetstreamManager({ timeout: 3000 });
  const schema = eventSchema();
  let nextSeq = 0;
  const upTo = async (last: number): Promise<Event[]> => {
    const out: Event[] = [];
    for (; nextSeq <= last; nextSeq++) {
      const m = await jsm.streams.getMessage(stream, { seq: nextSeq }).catch(() => null); // a gap: purged or deleted
      if (m) out.push(schema.decode(m.data) as unknown as Event);
    }
    return out;
  };
  const state = async (): Promise<{ first: number; last: number; messages: number }> => {
    try {
      const s = (await jsm.streams.info(stream)).state;
      return { first: s.first_seq, last: s.last_seq, messages: s.messages };
    } catch (e) {
      throw new UsageError(`--nats ${url}: stream ${stream}: ${(e as Error).message}`);
    }
  };
  return {
    async last(n) {
      const s = await state();
      nextSeq = Math.max(s.first, s.last - n + 1);
      return s.messages === 0 ? [] : upTo(s.last);
    },
    async more() {
      return upTo((await state()).last);
    },
    async close() {
      await nc.close();
    },
  };
}

async function tail(p: Parsed): Promise<string> {
  if (p.positional.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(p.positional[0])}`);
  const n = Number(flag(p, 'lines') ?? '10');
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`-n: expected a whole number, got ${JSON.stringify(flag(p, 'lines'))}`);
  let dir = flag(p, 'file');
  let url = flag(p, 'nats');
  let stream = flag(p, 'stream') ?? NATS_EVENTS_DEFAULTS.stream;
  if (dir !== undefined && url !== undefined) throw new UsageError('--file and --nats: one source at a time');
  const config = flag(p, 'config');
  if (dir === undefined && url === undefined && config !== undefined) {
    const c = loadConfigFile(config).events;
    dir = c.file?.dir;
    if (dir === undefined && c.nats) ({ url, stream } = c.nats);
  }
  if (dir === undefined && url === undefined) throw new UsageError('say where the events are: --file DIR, --nats URL, or --config FILE with `events`');
  const source = dir !== undefined ? fileSource(dir) : await natsSource(url as string, stream);
  const show = (e: Event): string => (p.flags.has('json') ? JSON.stringify(e) : eventLine(e));
  try {
    const first = (await source.last(n)).map(show);
    if (!p.flags.has('follow')) return first.join('\n');
    // Followed until interrupted: lines go out as they come, not at the end.
    if (first.length > 0) process.stdout.write(first.join('\n') + '\n');
    // On stderr, so a pipe into jq reads events only; says the past is read and what comes next will show.
    process.stderr.write(`following ${dir ?? url ?? ''}: Ctrl-C ends\n`);
    let stop = false;
    const onSignal = (): void => { stop = true; };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    while (!stop) {
      const next = await source.more();
      if (next.length > 0) process.stdout.write(next.map(show).join('\n') + '\n');
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    return '';
  } finally {
    await source.close();
  }
}

export function registerEvents(parent: Command): Command {
  const events = parent.command('events').description('the lifecycle events: read them as lines of text or JSON, with no protoc');
  const t = jsonOption(events.command('tail')
    .description('the last events, from the daily files or the NATS stream; --follow for new ones as they come (Ctrl-C ends)')
    .option('--file <dir>', 'the file sink\'s directory (config: events.file.dir)')
    .option('--nats <url>', 'the NATS server (config: events.nats.url)')
    .option('--stream <name>', `the JetStream stream (config: events.nats.stream; default: ${NATS_EVENTS_DEFAULTS.stream})`)
    .option('--config <file>', 'take the source from the config\'s events (the file sink first)')
    .option('-n, --lines <n>', 'how many of the last events to show first', '10')
    .option('--follow', 'keep reading: each new event as it is written'), 'one JSON object per event, a line each (jq-friendly)');
  examples(t, 'revswitch events tail --file ./data/events -n 20', 'revswitch events tail --nats nats://127.0.0.1:4222 --follow --json | jq .kind',
    'revswitch events tail --config revswitch.json --follow');
  runs(t, tail);
  examples(events, 'revswitch events tail --file ./data/events --follow');
  return events;
}
