/**
 * What the fuzzer found (docs/fuzzing.md, "Findings"), kept: every input in
 * test/fuzz/regressions/TARGET/ runs through its target's property again, and so does
 * every seed of the checked-in corpus. Each fix also has its own check here, by its
 * message, so that a change which makes the input pass for another reason is noticed.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { DialectError } from '../codec/index.js';
import { resolveDialect } from '../switch/config/dialect-file.js';
import { jsonErrorPlace } from '../switch/config/json-error.js';
import { loadConfigFile } from '../switch/config/load.js';
import { readSettlementFile } from '../switch/recon/settlement-file.js';
import { FUZZ_DIR } from './fuzz/runner.js';
import { describeThrown } from './fuzz/target.js';
import { loadTarget, TARGET_NAMES } from './fuzz/targets/index.js';

const scratch = mkdtempSync(join(tmpdir(), 'revswitch-fuzz-regressions-'));
t.teardown(() => rmSync(scratch, { recursive: true, force: true }));

function inputs(kind: 'regressions' | 'corpus', target: string): [string, Buffer][] {
  const dir = join(FUZZ_DIR, kind, target);
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return [];
  }
  return names.map((n) => [n, readFileSync(join(dir, n))]);
}

for (const kind of ['regressions', 'corpus'] as const) {
  t.test(`every input of test/fuzz/${kind}/ passes its target`, async (tt) => {
    let n = 0;
    for (const name of TARGET_NAMES) {
      const target = await loadTarget(name);
      const dir = join(scratch, `${kind}-${name}`);
      await target.setup?.(mkdtempSync(`${dir}-`));
      for (const [file, data] of inputs(kind, name)) {
        n++;
        try {
          await target.run(data);
        } catch (e) {
          tt.fail(`${name}/${file}: ${describeThrown(e)}${e instanceof Error && e.cause instanceof Error ? ` (${describeThrown(e.cause)})` : ''}`);
        }
      }
    }
    tt.ok(n > 0, `${n} inputs`);
  });
}

const file = (name: string, text: string): string => {
  const p = join(scratch, name);
  writeFileSync(p, text);
  return p;
};

async function settlementError(path: string, upstream?: string): Promise<string> {
  try {
    for await (const _ of readSettlementFile(path, { format: path.endsWith('.json') ? 'json' : 'csv', ...(upstream ? { upstream } : {}) }).records) void _;
  } catch (e) {
    return (e as Error).message;
  }
  return 'no error';
}

t.test('settlement: a card number where the header should be is not echoed as a column name', async (tt) => {
  const msg = await settlementError(file('no-header.csv', '4761739001010119,2026-12-03\n'));
  tt.match(msg, /line 1, column \(a long number, not shown\): unknown column/);
  tt.notMatch(msg, /4761739001010119/);
});

t.test('settlement: a JSON amount beyond 2^53 is refused without echoing its digits', async (tt) => {
  const rec = '{"business_date":"2026-12-03","rrn":"","terminal":"T1","stan":"1","f7":"","currency":"978","type":"sale","amount_minor":6212345678901234567}';
  const msg = await settlementError(file('big.json', `[${rec}]`));
  tt.match(msg, /key amount_minor: a number beyond 2\^53 - 1/);
  tt.notMatch(msg, /6212345678901234567/);
});

t.test('settlement: a card number in the upstream column is not echoed when it is not the upstream asked, or differs', async (tt) => {
  const header = 'business_date,rrn,terminal,stan,f7,amount_minor,currency,type,approval_code,merchant,pan_masked,upstream';
  const row = (upstream: string): string => `2026-12-03,633712345678,T0000001,101,1223091502,100,978,sale,A1B2C3,Cafe,476173******0119,${upstream}`;
  const asked = await settlementError(file('upstream-pan.csv', `${header}\n${row('v4761739001010119isa')}\n`), 'giro');
  tt.match(asked, /line 2, column upstream: "v\(a long number, not shown\)isa" is not the upstream asked \("giro"\)/);
  tt.notMatch(asked, /4761739001010119/);
  const differs = await settlementError(file('upstream-pan-2.csv', `${header}\n${row('4761739001010119')}\n${row('visa')}\n`));
  tt.match(differs, /line 3, column upstream: "visa" differs from "\(a long number, not shown\)" \(line 2\)/);
  tt.notMatch(differs, /4761739001010119/);
});

const deep = (n: number, inner = '1'): string => '['.repeat(n) + inner + ']'.repeat(n);

t.test('config: a value nested thousands deep is a ConfigError, valid JSON or not', async (tt) => {
  tt.throws(() => loadConfigFile(file('deep.json', `{"listeners": ${deep(20000)}}`)), { name: 'ConfigError', message: /listeners\[0\]: expected an object, got \(a value nested too deeply to show\)/ });
  tt.throws(() => loadConfigFile(file('deep-bad.json', `{"listeners": ${deep(20000, '1,,')}}`)), { name: 'ConfigError', message: /not valid JSON: line 1, column \d+: expected /});
  tt.ok(jsonErrorPlace(deep(20000, 'x')) !== null, 'jsonErrorPlace names a place');
});

t.test('dialect file: nested deeper than a dialect file is refused with a DialectError', async (tt) => {
  tt.throws(() => resolveDialect(file('deep-dialect.json', `{"base": "iso87a", "fields": {"48": {"max": ${deep(20000)}}}}`)),
    new DialectError(join(scratch, 'deep-dialect.json'), '', 'nested deeper than 32 levels: not a dialect file'));
  tt.throws(() => resolveDialect(file('deep-dialect-2.json', `{"fields": {"48": {"max": ${deep(20)}}}}`)), { name: 'DialectError', message: /fields\.48\.max: expected an integer/ }, 'not so deep: the field is named');
});
