/**
 * `revswitch rules check` and `revswitch rules decide`, run as an operator would: a real
 * process, its stdout, stderr and exit status.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DEFAULT_TEXT = readFileSync(join(ROOT, 'rules', 'default.yaml'), 'utf8');

interface Run { code: number; stdout: string; stderr: string }

function revswitch(args: string[], stdin?: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, ['--import=tsx', join(ROOT, 'switch', 'cli', 'main.ts'), ...args], { cwd: ROOT }, (err, stdout, stderr) => {
      const code = err && typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : err ? -1 : 0;
      resolve({ code, stdout, stderr });
    });
    child.stdin?.end(stdin ?? '');
  });
}

const CASE = {
  mti: '0200',
  amount: '000000010000',
  currency: '978',
  event: 'timeout',
  originalTime: '2025-03-07T14:00:00+01:00',
  now: '2025-03-07T14:00:30+01:00',
  velocity: { terminal: 0, merchant: 0, card: 0 },
};

t.test('rules check: the default file, and a summary', async (tt) => {
  const r = await revswitch(['rules', 'check', 'rules/default.yaml']);
  tt.equal(r.code, 0, r.stderr);
  tt.match(r.stdout.split('\n')[0], /^rules\/default\.yaml: ok \(sha256 [0-9a-f]{16}\)$/);
  tt.match(r.stdout, /\n {2}response codes: 38 \(reverse: 06 09 19 22 68 90 91 92 96; none: .* 94; review: 04 07 34 41 43 59 63\)/);
  const noArg = await revswitch(['rules', 'check']);
  tt.equal(noArg.code, 0, 'no FILE: the default file');
  tt.match(noArg.stdout, /default\.yaml: ok \(sha256 [0-9a-f]{16}\)\n/);
});

t.test('rules check: a bad file fails with the exact message', async (tt) => {
  const d = parse(DEFAULT_TEXT) as Record<string, Record<string, Record<string, unknown>>>;
  d.limits.perCardDaily.amount = 'abc';
  const dir = tt.testdir({ 'bad.yaml': stringify(d) });
  const r = await revswitch(['rules', 'check', join(dir, 'bad.yaml')]);
  tt.equal(r.code, 1);
  tt.equal(r.stdout, '');
  tt.equal(r.stderr, `revswitch rules: ${join(dir, 'bad.yaml')}: limits.perCardDaily.amount: expected a non-negative integer (minor units), got "abc"\n`);
});

t.test('rules decide: one case, as JSON', async (tt) => {
  const r = await revswitch(['rules', 'decide', JSON.stringify(CASE)]);
  tt.equal(r.code, 0, r.stderr);
  tt.same(JSON.parse(r.stdout), {
    action: 'reverse',
    proposed: 'reverse',
    class: 'timeout',
    rule: 'automatic-undo',
    reason: '68',
    amount: 10000,
    finalAmount: null,
    explanation: 'event timeout (no response from upstream before the deadline) is timeout: no response in time, so the outcome is unknown; reverse the full amount with reason 68',
    alert: null,
  });
  const monday = await revswitch(['rules', 'decide', '-'], JSON.stringify({ ...CASE, now: '2025-03-10T09:00:00+01:00', panHash: 'h:1' }));
  tt.equal(JSON.parse(monday.stdout).action, 'refund', 'from stdin; three days later it is a refund');
  const { velocity: _, ...bare } = CASE;
  const noCounters = await revswitch(['rules', 'decide', JSON.stringify(bare)]);
  tt.equal(noCounters.code, 0, `velocity is optional: ${noCounters.stderr}`);
  tt.equal(JSON.parse(noCounters.stdout).explanation, JSON.parse(r.stdout).explanation, 'missing counters mean no earlier undos');
  const some = await revswitch(['rules', 'decide', JSON.stringify({ ...bare, velocity: { card: 3 } })]);
  tt.match(JSON.parse(some.stdout), { action: 'reverse', alert: { scopes: ['card'] } }, 'one count given, the others none: past the card threshold, an alert');
});

t.test('rules decide --rules: what a rule change would do', async (tt) => {
  const d = parse(DEFAULT_TEXT) as Record<string, Record<string, unknown>>;
  d.velocity.maxPerTerminal = 2;
  const dir = tt.testdir({ 'strict.yaml': stringify(d) });
  const busy = JSON.stringify({ ...CASE, velocity: { terminal: 2, merchant: 0, card: 0 } });
  const before = await revswitch(['rules', 'decide', busy]);
  const after = await revswitch(['rules', 'decide', '--rules', join(dir, 'strict.yaml'), busy]);
  tt.equal(JSON.parse(before.stdout).action, 'reverse', 'default threshold 10');
  const a = JSON.parse(after.stdout);
  tt.same([a.action, a.rule], ['reverse', 'automatic-undo'], 'threshold 2: a reversal still goes out');
  tt.match(a.alert, { scopes: ['terminal'], text: /terminal 2 \(max 2\)/ }, 'with the breach as an alert, naming its scope');
});

t.test('rules decide: bad input is an error, and a PAN is refused', async (tt) => {
  const pan = await revswitch(['rules', 'decide', JSON.stringify({ ...CASE, pan: '4111111111111111' })]);
  tt.equal(pan.code, 1);
  tt.equal(pan.stderr, 'revswitch rules: case: pan: a case never carries a PAN; pass panHash, a keyed hash of the PAN, instead\n');
  tt.notMatch(pan.stderr + pan.stdout, /4111/, 'the PAN is not echoed');
  const local = await revswitch(['rules', 'decide', JSON.stringify({ ...CASE, now: '2025-03-07T14:00:30' })]);
  tt.equal(local.stderr, 'revswitch rules: case: now: expected an ISO 8601 time with Z or an offset (2025-03-07T14:00:00+01:00), ' +
    'or epoch milliseconds, got "2025-03-07T14:00:30"\n', 'a time without an offset is ambiguous');
  const notJson = await revswitch(['rules', 'decide', '{mti: 0200}']);
  tt.equal(notJson.code, 1);
  tt.match(notJson.stderr, /^revswitch rules: case: not valid JSON: /);
  const usage = await revswitch(['rules', 'verify']);
  tt.equal(usage.code, 2);
  tt.equal(usage.stderr, 'revswitch rules: unknown subcommand "verify"; expected check or decide\n' +
    'usage: revswitch rules check [FILE] | revswitch rules decide [--rules FILE] [JSON | -]\n');
});
