/** `revswitch decode` and `revswitch encode`: the codec from the shell, hex in and out. */
import {
  decode, encode, frame, fromHex, getFraming, messageFromJson, redact, toHex, unframe, IsoError, type IsoMessage,
} from '../../codec/index.js';
import { resolveDialect } from '../config/dialect-file.js';
import { flag, parseArgs, readInput, UsageError } from './args.js';

export const DECODE_USAGE = 'revswitch decode [--dialect NAME|FILE.json] [--framing NAME|none] [--unmasked] [--parts] [HEX | -]';
export const ENCODE_USAGE = 'revswitch encode [--dialect NAME|FILE.json] [--framing NAME|none] [JSON | -]';

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

export async function decodeCommand(argv: string[]): Promise<string> {
  const p = parseArgs(argv, { dialect: true, framing: true, unmasked: false, parts: false });
  const dialect = resolveDialect(flag(p, 'dialect'));
  const framing = getFraming(flag(p, 'framing') ?? 'none');
  const bytes = fromHex(cleanHex(await readInput(p, 'HEX')));
  const msg = decode(dialect, unframe(framing, bytes));
  const shown = p.flags.has('unmasked') ? msg : redact(msg);
  const json: Record<string, unknown> = shown.toJSON();
  // Parts come from the shown (redacted) message, so --parts never unmasks anything.
  if (p.flags.has('parts')) json.parts = parts(shown);
  return JSON.stringify(json, null, 2);
}

export async function encodeCommand(argv: string[]): Promise<string> {
  const p = parseArgs(argv, { dialect: true, framing: true });
  const dialect = resolveDialect(flag(p, 'dialect'));
  const framing = getFraming(flag(p, 'framing') ?? 'none');
  let data: unknown;
  const text = await readInput(p, 'JSON');
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new IsoError('message', -1, `input is not valid JSON: ${(e as Error).message}`);
  }
  const body = encode(dialect, messageFromJson(dialect, data));
  return toHex(frame(framing, body));
}
