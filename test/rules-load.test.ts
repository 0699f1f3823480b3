/**
 * Loading rules files: the default file, bad files with their exact messages (file, path
 * inside it, what was expected), YAML and JSON alike, and the atomic swap.
 */
import t, { type Test } from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import {
  CompiledRules, RulesError, RulesHolder, compileRules, decide, defaultRulesPath, loadDefaultRules, loadRulesFile, parseRules,
  type DecisionCase, type DecisionState,
} from '../rules/index.js';

type Data = Record<string, unknown>;
const DEFAULT_TEXT = readFileSync(defaultRulesPath(), 'utf8');
const fresh = (): Record<string, Record<string, unknown>> => parse(DEFAULT_TEXT) as Record<string, Record<string, unknown>>;
const ZERO: DecisionState = { terminalUndos: 0, merchantUndos: 0, cardUndos: 0, cardRefundsToday: 0, cardRefundAmountToday: 0 };
const T0 = Date.parse('2025-03-05T10:00:00+01:00');
const TIMEOUT: DecisionCase = { mti: '0200', amount: 10000, currency: '978', event: 'timeout', originalTime: T0, now: T0 + 1000 };

/** The message of the RulesError that loading `text` as `source` throws. */
function errorOf(tt: Test, text: string, source = 'rules/bad.yaml'): string {
  try {
    parseRules(text, source);
  } catch (e) {
    tt.ok(e instanceof RulesError, 'a RulesError');
    return (e as Error).message;
  }
  tt.fail('the file was accepted');
  return '';
}

/** The default file with one change, as YAML text. */
function changed(change: (d: ReturnType<typeof fresh>) => void): string {
  const d = fresh();
  change(d);
  return stringify(d);
}

t.test('the default file loads and says what it holds', async (tt) => {
  const r = loadDefaultRules();
  tt.ok(r instanceof CompiledRules);
  tt.ok(Object.isFrozen(r), 'compiled rules are frozen');
  tt.ok(Object.isFrozen(r.limits) && Object.isFrozen(r.velocity), 'and so are their parts');
  const summary = r.summary().split('\n');
  tt.match(summary[0], /default\.yaml: ok \(sha256 [0-9a-f]{16}\)$/, 'with the content hash');
  tt.ok(summary.some((l) => l === '  business day: Europe/Berlin, cutover 23:00, weekend saturday+sunday, 18 holidays (2025-01-01 to 2027-12-26)'));
  tt.ok(summary.some((l) => l === '  velocity: within 10 min, at most 10 automatic undos per terminal, 50 per merchant, 3 per card'));
  const lines = DEFAULT_TEXT.split('\n').filter((l) => l.trim() !== '' && !l.trim().startsWith('#'));
  const bare = lines.filter((l) => !l.includes('#'));
  tt.same(bare, [], 'every line of the default file carries a comment');
});

t.test('the example from the issue, word for word', async (tt) => {
  const text = changed((d) => { (d.limits.perCardDaily as Data).amount = 'abc'; });
  tt.equal(errorOf(tt, text), 'rules/bad.yaml: limits.perCardDaily.amount: expected a non-negative integer (minor units), got "abc"');
});

t.test('bad rules files: one exact message per mistake', async (tt) => {
  const cases: [string, (d: ReturnType<typeof fresh>) => void, string][] = [
    ['negative amount', (d) => { (d.limits.perCardDaily as Data).amount = -5; },
      'rules/bad.yaml: limits.perCardDaily.amount: expected a non-negative integer (minor units), got -5'],
    ['fractional amount', (d) => { (d.limits.perCardDaily as Data).amount = 12.5; },
      'rules/bad.yaml: limits.perCardDaily.amount: expected a non-negative integer (minor units), got 12.5'],
    ['missing key', (d) => { delete (d.limits.perCardDaily as Data).count; },
      'rules/bad.yaml: limits.perCardDaily.count: missing; expected a non-negative integer'],
    ['misspelt key', (d) => { d.velocity.maxPerTerminl = 3; },
      'rules/bad.yaml: velocity.maxPerTerminl: unknown key; expected one of windowMinutes, maxPerTerminal, maxPerMerchant, maxPerCard'],
    ['unknown class', (d) => { d.responseCodes['05'] = { class: 'declned' }; },
      'rules/bad.yaml: responseCodes.05.class: expected one of approved, insufficient_funds, declined, input_error, fraud_suspect, ' +
      'technical_unknown, issuer_outage, duplicate, timeout, late, undeliverable, mac_failure, chip_decline, customer_cancel, got "declned"'],
    ['reversing a duplicate', (d) => { d.classes.duplicate = { action: 'reverse', reason: '06' }; },
      'rules/bad.yaml: classes.duplicate.action: expected none or review (reversing a duplicate (94) could undo the real original), got "reverse"'],
    ['dropping timeouts', (d) => { d.classes.timeout = { action: 'none', reason: '68' }; },
      'rules/bad.yaml: classes.timeout.action: expected reverse (a mandatory reversal: it only releases a hold, pays nobody, and the network obliges us to send it, so review would hold the cardholder\'s money back), got "none"'],
    ['holding a mandatory reversal back for review', (d) => { d.classes.undeliverable = { action: 'review', reason: '06' }; },
      'rules/bad.yaml: classes.undeliverable.action: expected reverse (a mandatory reversal: it only releases a hold, pays nobody, and the network obliges us to send it, so review would hold the cardholder\'s money back), got "review"'],
    ['a reversing class without a reason', (d) => { d.classes.late = { action: 'reverse' }; },
      'rules/bad.yaml: classes.late.reason: missing; expected a code of 2 to 4 digits or capital letters such as "05", "A0", "911" or "4021" ' +
      '(quote codes in YAML: an unquoted 05 reads as the number 5): class late reverses, so it needs a reversal reason'],
    ['94 remapped in a dialect', (d) => { ((d.dialects.cup as Data).responseCodes as Data)['94'] = 'declined'; },
      'rules/bad.yaml: dialects.cup.responseCodes.94.class: expected duplicate (94 is a duplicate transmission; reversing it could undo the real original), got "declined"'],
    ['94 missing', (d) => { delete d.responseCodes['94']; },
      'rules/bad.yaml: responseCodes.94: missing; expected duplicate: without it an unknown-code rule could reverse a duplicate'],
    ['a terminal reversal reason meaning approved', (d) => { d.reversalReasons['98'] = 'approved'; },
      'rules/bad.yaml: reversalReasons.98.class: expected a class a terminal reverses for (timeout, late, undeliverable, mac_failure, ' +
      'chip_decline, customer_cancel, technical_unknown, issuer_outage), got "approved"'],
    ['an event meaning declined', (d) => { d.events.timeout = 'declined'; },
      'rules/bad.yaml: events.timeout.class: expected a class for a failure that may leave funds held (timeout, late, undeliverable, ' +
      'mac_failure, chip_decline, customer_cancel, technical_unknown, issuer_outage), got "declined"'],
    ['an event missing', (d) => { delete d.events.late; },
      'rules/bad.yaml: events.late: missing; expected a class name, or {class, label, reason}'],
    ['unknown codes taken as approved', (d) => { d.unknown.responseCode = 'approved'; },
      'rules/bad.yaml: unknown.responseCode: expected one of insufficient_funds, declined, input_error, fraud_suspect, technical_unknown, ' +
      'issuer_outage (an unknown code must never skip a reversal as approved or duplicate), got "approved"'],
    ['bad time zone', (d) => { d.businessDay.timeZone = 'Mars/Olympus'; },
      'rules/bad.yaml: businessDay.timeZone: expected an IANA time zone such as "Europe/Berlin", got "Mars/Olympus"'],
    ['bad cutover', (d) => { d.businessDay.cutover = '24:00'; },
      'rules/bad.yaml: businessDay.cutover: expected a local time "HH:MM" or "HH:MM:SS" from 00:00 to 23:59:59, got "24:00"'],
    ['no such date', (d) => { d.businessDay.holidays = ['2025-01-01', '2025-02-30']; },
      'rules/bad.yaml: businessDay.holidays[1]: expected a real date "YYYY-MM-DD", got "2025-02-30"'],
    ['holiday twice', (d) => { d.businessDay.holidays = ['2025-01-01', '2025-01-01']; },
      'rules/bad.yaml: businessDay.holidays[1]: expected each date once, got "2025-01-01" again'],
    ['no working day', (d) => { d.businessDay.weekend = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday']; },
      'rules/bad.yaml: businessDay.weekend: expected at least one working day, got all seven days'],
    ['bad weekday', (d) => { d.businessDay.weekend = ['sat']; },
      'rules/bad.yaml: businessDay.weekend[0]: expected one of sunday, monday, tuesday, wednesday, thursday, friday, saturday, got "sat"'],
    ['currency as a number', (d) => { (d.limits.perCardDaily as Data).currency = 978; },
      'rules/bad.yaml: limits.perCardDaily.currency: expected an ISO 4217 numeric currency code such as "978", quoted in YAML, got 978'],
    ['main currency listed again', (d) => { (d.limits.perCardDaily as Data).otherCurrencies = { '978': 1 }; },
      'rules/bad.yaml: limits.perCardDaily.otherCurrencies.978: expected a currency other than 978, whose cap is limits.perCardDaily.amount'],
    ['zero window', (d) => { d.velocity.windowMinutes = 0; },
      'rules/bad.yaml: velocity.windowMinutes: expected a positive integer, got 0'],
    ['escalation typo', (d) => { d.settlement.afterSettlement = 'refnd'; },
      'rules/bad.yaml: settlement.afterSettlement: expected refund or review, got "refnd"'],
    ['future format', (d) => { d.version = 2 as unknown as Record<string, unknown>; },
      'rules/bad.yaml: version: expected 1, the only rules file format so far, got 2'],
  ];
  for (const [what, change, message] of cases) tt.equal(errorOf(tt, changed(change)), message, what);
});

t.test('YAML pitfalls are caught with a hint, not misread', async (tt) => {
  const unquoted = DEFAULT_TEXT.replace('  "05": { class: declined,', '  05: { class: declined,');
  tt.not(unquoted, DEFAULT_TEXT, 'the edit applied');
  tt.equal(errorOf(tt, unquoted),
    'rules/bad.yaml: responseCodes.5: expected a code of 2 to 4 digits or capital letters such as "05", "A0", "911" or "4021" ' +
    '(quote codes in YAML: an unquoted 05 reads as the number 5), got "5"');
  const twice = DEFAULT_TEXT.replace('  "94": { class: duplicate,', '  "05": { class: approved }\n  "94": { class: duplicate,');
  tt.equal(errorOf(tt, twice), `rules/bad.yaml: line ${twice.split('\n').findIndex((l) => l.startsWith('  "05": { class: approved }')) + 1}, column 3: Map keys must be unique`);
  tt.equal(errorOf(tt, 'version: [1\n'), 'rules/bad.yaml: line 2, column 1: Flow sequence in block collection must be sufficiently indented and end with a ]');
  tt.match(errorOf(tt, ''), /^rules\/bad\.yaml: expected a mapping with version, classes, .*, got null$/);
});

t.test('several mistakes: every one reported, one line each', async (tt) => {
  const text = changed((d) => {
    d.velocity.maxPerCard = -1;
    d.businessDay.cutover = '7:00';
  });
  tt.equal(errorOf(tt, text), [
    'rules/bad.yaml: businessDay.cutover: expected a local time "HH:MM" or "HH:MM:SS" from 00:00 to 23:59:59, got "7:00"',
    'rules/bad.yaml: velocity.maxPerCard: expected a non-negative integer, got -1',
  ].join('\n'));
});

t.test('JSON rules files: the same rules, the same checks', async (tt) => {
  const json = JSON.stringify(fresh(), null, 2);
  const fromJson = parseRules(json, 'rules/x.json');
  const fromYaml = parseRules(DEFAULT_TEXT, 'rules/x.yaml');
  for (const c of [TIMEOUT, { ...TIMEOUT, event: undefined, responseCode: '98', dialect: 'cup' }, { ...TIMEOUT, now: T0 + 86_400_000 }]) {
    tt.same(decide(fromJson, c, ZERO), decide(fromYaml, c, ZERO), 'same decision');
  }
  const bad = JSON.stringify({ ...fresh(), velocity: { ...fresh().velocity, maxPerCard: 'three' } });
  tt.equal(errorOf(tt, bad, 'rules/bad.json'), 'rules/bad.json: velocity.maxPerCard: expected a non-negative integer, got "three"');
  tt.match(errorOf(tt, '{"version": 1,', 'rules/bad.json'), /^rules\/bad\.json: not valid JSON: /);
  tt.equal(errorOf(tt, '{"version": 1, "version": 1}', 'rules/bad.json'), 'rules/bad.json: line 1, column 16: Map keys must be unique');
});

t.test('a file on disk: the error names the file as given', async (tt) => {
  const dir = tt.testdir({ 'bad.yaml': changed((d) => { d.velocity.maxPerCard = 'x'; }), 'good.json': JSON.stringify(fresh()) });
  const file = join(dir, 'bad.yaml');
  tt.throws(() => loadRulesFile(file), { name: 'RulesError', message: `${file}: velocity.maxPerCard: expected a non-negative integer, got "x"` });
  const missing = join(dir, 'none.yaml');
  tt.throws(() => loadRulesFile(missing), { name: 'RulesError', message: new RegExp(`^${missing.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: cannot read: ENOENT`) });
  tt.equal(decide(loadRulesFile(join(dir, 'good.json')), TIMEOUT, ZERO).action, 'reverse');
});

t.test('RulesHolder swaps atomically and keeps the old rules on a failed reload', async (tt) => {
  const dir = tt.testdir({ 'rules.yaml': DEFAULT_TEXT });
  const file = join(dir, 'rules.yaml');
  const holder = new RulesHolder(loadRulesFile(file));
  const first = holder.current;
  tt.equal(holder.decide({ ...TIMEOUT, event: undefined, responseCode: '05' }, ZERO).action, 'none');

  writeFileSync(file, changed((d) => { d.classes.declined = { action: 'reverse', reason: '06' }; d.velocity.windowMinutes = 'soon'; }));
  const failed = holder.reload(() => loadRulesFile(file));
  tt.equal(failed.ok, false, 'a half-good file is refused whole');
  tt.ok(!failed.ok && failed.error instanceof RulesError && failed.error.message.includes('velocity.windowMinutes'));
  tt.equal(holder.current, first, 'the old rules stay');
  tt.equal(holder.decide({ ...TIMEOUT, event: undefined, responseCode: '05' }, ZERO).action, 'none', 'and decide as before');

  writeFileSync(file, changed((d) => { d.classes.declined = { action: 'reverse', reason: '06' }; }));
  const ok = holder.reload(() => loadRulesFile(file));
  tt.equal(ok.ok, true);
  tt.ok(ok.ok && ok.previous === first && ok.rules === holder.current);
  tt.equal(holder.decide({ ...TIMEOUT, event: undefined, responseCode: '05' }, ZERO).action, 'reverse', 'the new rules decide');

  const before = holder.current;
  tt.throws(() => holder.swap({} as CompiledRules), TypeError, 'only compiled rules can be swapped in');
  tt.equal(holder.current, before, 'a refused swap changes nothing');
  tt.equal(holder.swap(first), before, 'swap returns the previous rules');
  tt.equal(holder.current, first);
});

t.test('compileRules takes data that is already parsed', async (tt) => {
  tt.equal(compileRules(fresh(), 'in-memory').source, 'in-memory');
  tt.throws(() => compileRules(null, 'in-memory'), { name: 'RulesError' });
});

t.test('reversal answers: the default table, and a file that overrides it', async (tt) => {
  const r = loadDefaultRules();
  tt.equal(r.reversalResponse('00'), 'acked');
  tt.equal(r.reversalResponse('25'), 'recheck', 'original not found: nothing held, or the sale not processed yet there');
  tt.equal(r.reversalResponse('30'), 'manual', 'the message itself is refused');
  tt.equal(r.reversalResponse('96'), 'retry');
  tt.equal(r.reversalResponse('Z9'), 'retry', 'unlisted: the default');
  tt.equal(r.reversalResponse(undefined), 'retry', 'no F39: retry');
  const doc = parse(DEFAULT_TEXT) as Record<string, unknown>;
  const { reversalResponses: _, ...without } = doc;
  const built = compileRules(without, 'no-section.yaml');
  tt.equal(built.reversalResponse('25'), 'recheck', 'without the section, the same table is built in');
  const custom = compileRules({ ...doc, reversalResponses: { default: 'manual', codes: { '00': 'acked' } } }, 'custom.yaml');
  tt.equal(custom.reversalResponse('96'), 'manual');
  tt.throws(() => compileRules({ ...doc, reversalResponses: { default: 'later', codes: {} } }, 'bad.yaml'), /bad\.yaml.*reversalResponses\.default: expected acked/);
});
