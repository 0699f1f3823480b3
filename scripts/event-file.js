// Turns length-delimited event files (varint length + LifecycleEvent, repeated: what the
// switch writes) into ONE EventFile message on stdout, for `protoc --decode`:
//
//   node scripts/event-file.js data/events/events-2026-05-01.pb \
//     | protoc --decode=revswitch.events.v1.EventFile --proto_path=switch/observe/events events.proto
//
// An EventFile's `repeated LifecycleEvent events = 1` is, on the wire, the byte 0x0A (field
// 1, length-delimited) followed by the same varint length and message: so each record gets
// that one byte in front, and nothing else changes. A torn last record is left out.
import { readFileSync } from 'node:fs';

const files = process.argv.slice(2);
if (files.length === 0) {
  process.stderr.write('usage: node scripts/event-file.js FILE.pb... > eventfile.bin\n');
  process.exit(2);
}
const out = [];
for (const f of files) {
  const buf = readFileSync(f);
  let pos = 0;
  while (pos < buf.length) {
    let len = 0;
    let shift = 0;
    let i = pos;
    for (; i < buf.length; i++) {
      len += (buf[i] & 0x7f) * 2 ** shift;
      shift += 7;
      if (buf[i] < 0x80) break;
    }
    const end = i + 1 + len;
    if (i >= buf.length || end > buf.length) {
      process.stderr.write(`${f}: torn record at offset ${pos} left out\n`);
      break;
    }
    out.push(Buffer.from([0x0a]), buf.subarray(pos, end));
    pos = end;
  }
}
process.stdout.write(Buffer.concat(out));
