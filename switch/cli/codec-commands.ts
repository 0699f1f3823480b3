/** `revswitch decode` and `revswitch encode`: the codec from the shell, hex in and out. */
import {
  DEFAULT_DIALECT, DIALECT_NAMES, FRAMINGS, decode, encode, frame, fromHex, getDialect, getFraming, messageFromJson, redact, toHex, unframe, IsoError,
  type Dialect, type Framing, type IsoMessage,
} from '../../codec/index.js';
import type { Command } from 'commander';
import { resolveDialect } from '../config/dialect-file.js';
import { readInput, UsageError } from './args.js';
import { examples, flag, jsonOption, runs, type Parsed } from './kit.js';

export const DECODE_USAGE = 'revswitch decode [--dialect NAME|FILE.json] [--framing NAME|none] [--unmasked] [--parts] [--json] [HEX | -]';
export const ENCODE_USAGE = 'revswitch encode [--dialect NAME|FILE.json] [--framing NAME|none] [--json] [JSON | -]';

function cleanHex(s: string): string {
  let out = '';
  for (const ch of s) if (ch !== ' ' && ch !== '\n' && ch !== '\r' && ch !== '\t' && ch !== ':') out += ch;
  if (out.startsWith('0x') || out.startsWith('0X')) out = out.slice(2);
  if (out.length === 0) throw new UsageError('no hex input');
  return out;
}

/** Parts of structured fields, for --parts. A part that does not parse is reported, not fatal. */
function parts(msg: IsoMessage): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const add = (n: number, f: () => unknown) => {
    if (!msg.has(n)) return;
    try { out[String(n)] = f(); } catch (e) { out[String(n)] = { error: (e as Error).message }; }
  };
  add(55, () => msg.emv()?.map((t) => ({ tag: t.tag, value: toHex(t.value) })));
  add(90, () => msg.originalData());
  add(56, () => msg.mti.startsWith('1') ? msg.originalData93() : undefined);
  add(95, () => msg.mti.startsWith('0') ? msg.replacementAmounts() : undefined);
  add(60, () => msg.cup60());
  add(61, () => msg.cup61());
  return out;
}

const DIALECT_HELP = 'a dialect name (iso87a, iso87a-hex, iso87b, iso93a, cup) or a dialect file';
const FRAMING_HELP = `the length prefix around the message: ${FRAMINGS.join(', ')}`;

async function decodeCommand(p: Parsed): Promise<string> {
  const dialect = resolveDialect(flag(p, 'dialect'));
  const framing = getFraming(flag(p, 'framing') ?? 'none');
  const bytes = fromHex(cleanHex(await readInput(p.positional, 'HEX')));
  let msg: IsoMessage;
  try {
    msg = decode(dialect, unframe(framing, bytes));
  } catch (e) {
    if (!(e instanceof IsoError)) throw e;
    const fits = otherReadings(bytes, dialect, framing);
    if (fits.length === 0) throw e;
    throw new IsoError(e.site, -1, `${e.reason}${e.offset >= 0 ? ` at offset ${e.offset}` : ''}; it does decode with ${fits.join(', or ')}`);
  }
  const shown = p.flags.has('unmasked') ? msg : redact(msg);
  const json: Record<string, unknown> = shown.toJSON();
  // Parts come from the shown (redacted) message, so --parts never unmasks anything.
  if (p.flags.has('parts')) json.parts = parts(shown);
  return JSON.stringify(json, null, 2);
}

/**
 * The built-in dialects and framings a message that failed to decode does decode with:
 * "mti: non-digit at offset 0" says little to someone who pasted a UnionPay frame (its
 * TPDU starts 0x60) without --dialect cup.
 */
function otherReadings(bytes: Uint8Array, tried: Dialect, triedFraming: Framing): string[] {
  const out: string[] = [];
  for (const name of DIALECT_NAMES) {
    for (const f of ['none', ...FRAMINGS.filter((x) => x !== 'none')]) {
      if (name === tried.name && f === triedFraming.name) continue;
      try {
        decode(getDialect(name), unframe(getFraming(f), bytes));
        out.push(`--dialect ${name}${f === 'none' ? '' : ` --framing ${f}`}`);
        break;
      } catch {
        // not this one
      }
    }
  }
  return out;
}

async function encodeCommand(p: Parsed): Promise<string> {
  const dialect = resolveDialect(flag(p, 'dialect'));
  const framing = getFraming(flag(p, 'framing') ?? 'none');
  let data: unknown;
  const text = await readInput(p.positional, 'JSON');
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new IsoError('message', -1, `input is not valid JSON: ${(e as Error).message}`);
  }
  const body = encode(dialect, messageFromJson(dialect, data));
  const hex = toHex(frame(framing, body));
  return p.flags.has('json') ? JSON.stringify({ hex }, null, 2) : hex;
}

export function registerDecode(parent: Command): Command {
  const cmd = parent.command('decode')
    .description('decode a message from hex to JSON (the PAN and track data masked unless --unmasked)')
    .argument('[hex]', 'the message as hex (spaces and colons allowed); - or absent: read stdin')
    .option('--dialect <name|file.json>', DIALECT_HELP, DEFAULT_DIALECT)
    .option('--framing <name|none>', FRAMING_HELP, 'none')
    .option('--unmasked', 'show the PAN and track data in full (for a test card only)')
    .option('--parts', 'add the parts of structured fields (55, 56, 60, 61, 90, 95)');
  jsonOption(cmd, 'the output as JSON (it always is)');
  examples(cmd, 'revswitch decode 30323030...', 'revswitch decode --framing len2 --parts < message.hex');
  return runs(cmd, decodeCommand);
}

export function registerEncode(parent: Command): Command {
  const cmd = parent.command('encode')
    .description('encode a message from JSON to hex')
    .argument('[json]', 'the message as JSON: "mti" and field numbers as keys ({"mti": "0200", "3": "000000", ...}); binary fields, ' +
      '"tpdu" and "header" (UnionPay) as hex; - or absent: read stdin')
    .option('--dialect <name|file.json>', DIALECT_HELP, DEFAULT_DIALECT)
    .option('--framing <name|none>', FRAMING_HELP, 'none');
  jsonOption(cmd, 'print {"hex": ...} instead of the bare hex');
  examples(cmd, `revswitch encode '{"mti":"0800","11":"000001","70":"301"}'`, 'revswitch encode --framing len2 < message.json',
    `revswitch encode --dialect cup '{"mti":"0800","tpdu":"6000010002","header":"603100311301","11":"000001"}'`);
  return runs(cmd, encodeCommand);
}
