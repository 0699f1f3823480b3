/**
 * A config file that is not JSON is refused naming the file, the line and column and
 * what was expected, and never any of its text: JSON.parse's own message quotes the text
 * around the error, and a config file holds secrets (panHashKey). jsonErrorPlace agrees
 * with JSON.parse on what is JSON, over generated texts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import t from 'tap';
import { jsonErrorPlace } from '../switch/config/json-error.js';
import { configFromJson, loadConfigFile } from '../switch/config/load.js';

const SECRET = 'supersecretvalue12345';

t.test('a config file with a syntax error near its secret: the place, never the text', async (tt) => {
  const dir = mkdtempSync(join(tmpdir(), 'revswitch-config-'));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const cases: [string, RegExp][] = [
    [`{\n  "store": "memory:",\n  "panHashKey": ${SECRET}\n}`, /line 3, column 17: expected a value/],
    [`{\n  "panHashKey": "${SECRET}",,\n}`, /line 2, column 41: expected a double-quoted string/],
    [`{\n  "panHashKey": "${SECRET}"\n  "store": "memory:"\n}`, /line 3, column 3: expected a comma or the closing brace/],
    [`{"panHashKey": "${SECRET}`, /line 1, column 38: expected the closing double quote/],
  ];
  for (const [text, where] of cases) {
    const file = join(dir, 'switch.json');
    writeFileSync(file, text);
    let message = '';
    try {
      loadConfigFile(file);
    } catch (e) {
      message = (e as Error).message;
    }
    tt.match(message, where, message);
    tt.ok(message.startsWith(`${file}: not valid JSON`), 'names the file');
    tt.notOk(message.includes('supersecre') || message.includes('12345'), 'and none of the secret');
  }
});

t.test('jsonErrorPlace finds an error exactly when JSON.parse does', async (tt) => {
  fc.assert(fc.property(fc.oneof(fc.json(), fc.string(), fc.json().map((j) => j.slice(0, -1)), fc.json().map((j) => `${j},`)), (text) => {
    let ok = true;
    try {
      JSON.parse(text);
    } catch {
      ok = false;
    }
    return (jsonErrorPlace(text) === null) === ok;
  }), { numRuns: 3000 });
  tt.pass('3000 texts, valid and not');
});

t.test('a value under a key named like a secret is never printed', async (tt) => {
  const cases: [unknown, RegExp][] = [
    [{ panHashKey: 'too-short-a-secret' }, /panHashKey: expected 32 random bytes/],
    [{ panSealKeys: { k1: 'still-a-secret-value' } }, /panSealKeys\.k1: expected 32 random bytes/],
    [{ panSealKeys: { k0: 'ab'.repeat(32) } }, /panSealKeys\.k0: expected a key id/],
    [{ panHashKey: 1234567890123 }, /panHashKey: expected a string, got \(hidden\)/],
  ];
  for (const [data, re] of cases) {
    let msg = '';
    try {
      configFromJson(data, 'c.json');
    } catch (e) {
      msg = (e as Error).message;
    }
    tt.match(msg, re);
    tt.notOk(/too-short|still-a-secret|abab|1234567/.test(msg), `no value in: ${msg}`);
  }
});
