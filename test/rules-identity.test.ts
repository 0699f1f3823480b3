/**
 * Which rules are in force, and what a reload changed (issue 20): the content hash that
 * /api/rules and the reload line report, and the one-line change summary.
 */
import { readFileSync } from 'node:fs';
import t from 'tap';
import { defaultRulesPath, describeRulesChange, parseRules, rulesChanges } from '../rules/index.js';

const text = readFileSync(defaultRulesPath(), 'utf8');
const base = parseRules(text, 'default.yaml');

t.test('the hash names the content, not the file', async (tt) => {
  tt.match(base.hash, /^[0-9a-f]{64}$/);
  const reformatted = parseRules(`# another comment\n${text.replace(/ {2}# [^\n]*/g, '')}`, 'copy.yaml');
  tt.equal(reformatted.hash, base.hash, 'comments and file name aside, one hash');
  const moved = parseRules(text.replace(/cutover: "?23:00"?/, 'cutover: "22:00"'), 'moved.yaml');
  tt.not(moved.hash, base.hash, 'a moved cutover is another hash');
  const id = base.identity();
  tt.match(id, { source: 'default.yaml', hash: base.hash, version: 1 });
  tt.ok(Math.abs(Date.parse(id.loadedAt) - Date.now()) < 60_000, 'loadedAt is when it was compiled');
  tt.match(base.summary().split('\n')[0], `sha256 ${base.hash.slice(0, 16)}`, 'rules check prints the hash');
});

t.test('a reload says what changed, in one line', async (tt) => {
  tt.equal(describeRulesChange(base, parseRules(text, 'again.yaml')), 'no change in content');
  const next = parseRules(text.replace(/cutover: "?23:00"?/, 'cutover: "22:00"').replace(/maxPerCard: \d+/, 'maxPerCard: 7'), 'next.yaml');
  const line = describeRulesChange(base, next);
  tt.match(line, /^2 changes: /);
  tt.match(line, 'businessDay.cutover "23:00" -> "22:00"');
  tt.match(line, /velocity\.maxPerCard \d+ -> 7/);
  tt.same(rulesChanges(base, next).map((c) => c.path), ['businessDay.cutover', 'velocity.maxPerCard']);
  const many = parseRules(text.replace(/action: review \}/g, 'action: review }').replace(/windowMinutes: \d+/, 'windowMinutes: 11')
    .replace(/maxPerTerminal: \d+/, 'maxPerTerminal: 99').replace(/maxPerMerchant: \d+/, 'maxPerMerchant: 99')
    .replace(/maxPerCard: \d+/, 'maxPerCard: 99').replace(/cutover: "?23:00"?/, 'cutover: "21:00"').replace(/timeZone: [^\n]+/, 'timeZone: UTC'), 'many.yaml');
  tt.match(describeRulesChange(base, many, 3), /^6 changes: .*; and 3 more$/, 'at most max named, the rest counted');
});
