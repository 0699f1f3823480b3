/**
 * GET /api/rules: which rules the running switch decides with (issue 20), so an operator
 * can tell whether the file they checked is the one in force: the source, the content
 * hash (`revswitch rules check` prints its first 16 digits), the version and the load time.
 */
import { readFileSync } from 'node:fs';
import t from 'tap';
import { defaultRulesPath, loadDefaultRules, parseRules } from '../rules/index.js';
import { startHarness } from './support/switch-harness.js';

t.test('/api/rules names the rules in force, and follows a swap', async (tt) => {
  const h = await startHarness(tt, { admin: true });
  const port = h.admin?.port;
  if (port === undefined) throw new Error('no admin port');
  const get = async (): Promise<Record<string, unknown>> => {
    const res = await fetch(`http://127.0.0.1:${port}/api/rules`);
    tt.equal(res.status, 200);
    return (await res.json()) as Record<string, unknown>;
  };
  const first = await get();
  tt.match(first, { hash: loadDefaultRules().hash, version: 1, source: /default\.yaml$/ }, 'the default rules, by content hash');
  tt.ok(Number.isFinite(Date.parse(String(first.loadedAt))), 'with the time they were loaded');

  const moved = parseRules(readFileSync(defaultRulesPath(), 'utf8').replace(/cutover: "?23:00"?/, 'cutover: "22:00"'), 'moved.yaml');
  h.sw.rules.swap(moved);
  tt.match(await get(), { hash: moved.hash, source: 'moved.yaml' }, 'after a reload, the new ones');
});
