/**
 * Runs one codec operation in a loop, for profiling rather than measuring:
 *
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof dist/bench/profile.js decode iso87a 0200 [seconds]
 *   node --prof dist/bench/profile.js encode iso87a 0200 && node --prof-process isolate*.log
 *
 * The message is the codec suite's fixture for that dialect and MTI.
 */
import { decode, encode, getDialect } from '../codec/index.js';
import { FIXTURES } from './fixtures/messages.js';

const [op, dialectName = 'iso87a', mti = '0200', secondsArg = '5'] = process.argv.slice(2);
const fixture = FIXTURES.get(dialectName)?.find((f) => f.msg.mti === mti);
if ((op !== 'decode' && op !== 'encode') || !fixture) {
  console.error(`usage: node dist/bench/profile.js decode|encode DIALECT MTI [SECONDS]\n` +
    `fixtures: ${[...FIXTURES].map(([d, fs]) => `${d} (${fs.map((f) => f.msg.mti).join(', ')})`).join('; ')}`);
  process.exit(2);
}
const d = getDialect(dialectName);
const msg = fixture.msg;
const bytes = Buffer.from(encode(d, msg));
const fn = op === 'decode' ? () => decode(d, bytes) : () => encode(d, msg);

let sink: unknown;
let n = 0;
const stop = Date.now() + Number(secondsArg) * 1000;
while (Date.now() < stop) {
  for (let i = 0; i < 10_000; i++) sink = fn();
  n += 10_000;
}
console.log(`${op} ${dialectName} ${mti}: ${n} calls, ${Math.round(n / Number(secondsArg)).toLocaleString('en-US')}/s`, sink === undefined ? '' : '');
