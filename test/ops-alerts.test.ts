/**
 * The Grafana dashboard and the Prometheus alerts in ops/ (issue 20), checked against the
 * switch they watch: promtool checks the rule file and runs its unit tests; every alert
 * has a test where it fires and one where it does not; and every metric name the
 * dashboard's and the alerts' PromQL queries is one a running switch exports on /metrics,
 * so a renamed metric or a typo fails here instead of drawing an empty panel or an alert
 * that can never fire.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { parse as parseYaml } from 'yaml';
import { ROOT } from './support/built.js';
import { sale, startHarness } from './support/switch-harness.js';

const DASHBOARD = join(ROOT, 'ops', 'grafana', 'revswitch.json');
const ALERTS = join(ROOT, 'ops', 'prometheus', 'alerts.yml');
const ALERT_TESTS = join(ROOT, 'ops', 'prometheus', 'alerts.test.yml');

const ROWS = ['Traffic', 'Outcomes', 'Reversals, refunds and SAF', 'Queues (manual, review)', 'Upstreams', 'Store', 'Process'];
const DS_UID = '${DS_PROMETHEUS}';

/** Series Prometheus makes itself for every target: never in a scrape, yet real. */
const PROMETHEUS_OWN = new Set(['up']);

/**
 * Queried metrics that exist (HELP and TYPE in every scrape) but have no sample until the
 * switch is configured for them or the runtime gets to it: TLS listeners, MACs, PIN
 * translation, a garbage collection after the metrics started.
 */
const MAY_HAVE_NO_SAMPLE = new Set([
  'revswitch_tls_handshake_failures_total', 'revswitch_mac_failures_total', 'revswitch_pin_translation_failures_total',
  'nodejs_gc_duration_seconds_sum',
]);

/** PromQL's functions and aggregations, and Grafana's label_values: a name before "(" must be one. */
const FUNCTIONS = new Set([
  'sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk', 'topk', 'quantile',
  'abs', 'absent', 'absent_over_time', 'ceil', 'changes', 'clamp', 'clamp_max', 'clamp_min', 'day_of_month', 'day_of_week',
  'day_of_year', 'days_in_month', 'delta', 'deriv', 'exp', 'floor', 'histogram_quantile', 'holt_winters', 'hour', 'idelta',
  'increase', 'irate', 'label_join', 'label_replace', 'ln', 'log2', 'log10', 'minute', 'month', 'predict_linear', 'rate',
  'resets', 'round', 'scalar', 'sgn', 'sort', 'sort_desc', 'sqrt', 'time', 'timestamp', 'vector', 'year',
  'avg_over_time', 'min_over_time', 'max_over_time', 'sum_over_time', 'count_over_time', 'quantile_over_time',
  'stddev_over_time', 'stdvar_over_time', 'last_over_time', 'present_over_time',
]);

/** Words of PromQL that look like names (binary operators, modifiers, literals). */
const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'atan2', 'inf', 'nan']);

/**
 * The metric names one PromQL expression selects. Strings, Grafana variables, label
 * matchers, ranges and grouping label lists go first; what is left of a name is a function
 * (before "(": it must be a known one), a keyword, or a metric. Numbers (5m, 1e3) are not
 * names: a name never starts right after a digit or a dot.
 */
function metricNames(expr: string): string[] {
  let s = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' ');
  s = s.replace(/\$\{[^}]*\}|\$\w+/g, ' ');
  s = s.replace(/\{[^{}]*\}/g, ' ');
  s = s.replace(/\[[^\]]*\]/g, ' ');
  s = s.replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  s = s.replace(/\b(?:group_left|group_right)\b/g, ' ');
  const out: string[] = [];
  for (const m of s.matchAll(/(?<![\w.:])([A-Za-z_:][\w:]*)(\s*\()?/g)) {
    const [, name, call] = m;
    if (call !== undefined) {
      if (!FUNCTIONS.has(name)) throw new Error(`unknown PromQL function ${name}( in: ${expr}`);
      continue;
    }
    if (KEYWORDS.has(name.toLowerCase())) continue;
    out.push(name);
  }
  return out;
}

/** A Grafana variable query: label_values(METRIC_SELECTOR, LABEL) selects a metric; label_values(LABEL) none. */
function variableMetricNames(query: string): string[] {
  const m = /^\s*label_values\(\s*(.*?)\s*,\s*\w+\s*\)\s*$/s.exec(query);
  if (m) return metricNames(m[1]);
  if (/^\s*label_values\(\s*\w+\s*\)\s*$/.test(query)) return [];
  return metricNames(query);
}

/** The names a scrape lets PromQL select, by each family's TYPE: a histogram is only its _bucket, _sum and _count. */
function selectableNames(exposition: string): Set<string> {
  const out = new Set<string>();
  for (const m of exposition.matchAll(/^# TYPE (\S+) (\w+)$/gm)) {
    const [, name, type] = m;
    if (type === 'histogram') for (const x of ['_bucket', '_sum', '_count']) out.add(name + x);
    else if (type === 'summary') for (const x of ['', '_sum', '_count']) out.add(name + x);
    else out.add(name);
  }
  return out;
}

/** The names with at least one sample line. */
function sampledNames(exposition: string): Set<string> {
  const out = new Set<string>();
  for (const line of exposition.split('\n')) {
    const m = /^([A-Za-z_:][\w:]*)[{ ]/.exec(line);
    if (m) out.add(m[1]);
  }
  return out;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

interface AlertRule { alert: string; expr: string; labels: Record<string, unknown>; annotations: Record<string, unknown> }

function alertRules(): AlertRule[] {
  const doc: unknown = parseYaml(readFileSync(ALERTS, 'utf8'));
  if (!isRecord(doc)) throw new Error('alerts.yml: not a mapping');
  return list(doc.groups).flatMap((g) => (isRecord(g) ? list(g.rules) : [])).filter(isRecord).map((r) => ({
    alert: str(r.alert), expr: str(r.expr), labels: isRecord(r.labels) ? r.labels : {}, annotations: isRecord(r.annotations) ? r.annotations : {},
  }));
}

interface Panel { title: string; type: string; datasource: unknown; targets: unknown[] }

function dashboard(): Record<string, unknown> {
  const d: unknown = JSON.parse(readFileSync(DASHBOARD, 'utf8'));
  if (!isRecord(d)) throw new Error('revswitch.json: not an object');
  return d;
}

function panels(d: Record<string, unknown>): Panel[] {
  return list(d.panels).filter(isRecord).map((p) => ({ title: str(p.title), type: str(p.type), datasource: p.datasource, targets: list(p.targets) }));
}

/** Every query of the dashboard, with where it is, panels' targets and variables' queries alike. */
function dashboardQueries(d: Record<string, unknown>): { where: string; names: string[] }[] {
  const out: { where: string; names: string[] }[] = [];
  for (const p of panels(d)) {
    for (const target of p.targets) {
      if (isRecord(target)) out.push({ where: `panel "${p.title}"`, names: metricNames(str(target.expr)) });
    }
  }
  const templating = isRecord(d.templating) ? list(d.templating.list) : [];
  for (const v of templating.filter(isRecord)) {
    if (v.type !== 'query') continue;
    const q = isRecord(v.query) ? str(v.query.query) : str(v.query);
    out.push({ where: `variable $${str(v.name)}`, names: variableMetricNames(q) });
  }
  return out;
}

/** promtool from Debian's prometheus package, as test/metrics.test.ts finds it; null when missing. */
function promtool(): string | null {
  const r = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  return r.error ? null : 'promtool';
}

/** promtool, or a skip (a failure under CI_REQUIRE_TOOLS) that says how to get it. */
function requirePromtool(tt: Test): string | null {
  const tool = promtool();
  if (tool !== null) return tool;
  if (process.env.CI_REQUIRE_TOOLS) tt.fail('promtool is not installed (Debian package prometheus) and CI_REQUIRE_TOOLS is set');
  else tt.pass('promtool', { skip: 'promtool is not installed (apt-get install prometheus); set CI_REQUIRE_TOOLS to make this a failure' });
  return null;
}

t.test('the metric-name extractor: names only, strictly', async (tt) => {
  tt.same(metricNames('sum by (le, upstream) (rate(a_bucket{job=~"$job", x="y{z}"}[$__rate_interval]))'), ['a_bucket']);
  tt.same(metricNames('b / on (instance) group_left (kind) c offset 5m > bool 1e3'), ['b', 'c']);
  tt.same(metricNames('histogram_quantile(0.99, sum without (pod) (rate(d[5m:1m]))) > 0.05 and e unless f or Inf'), ['d', 'e', 'f']);
  tt.same(metricNames('time() - process_start_time_seconds{instance=~"${instance}"}'), ['process_start_time_seconds']);
  tt.same(metricNames('label_replace(g, "dst", "$1", "src", "(.*)")'), ['g']);
  tt.throws(() => metricNames('rat(h[5m])'), /unknown PromQL function rat\(/, 'a misspelt function is an error, not a metric');
  tt.same(variableMetricNames('label_values(revswitch_requests_in_flight{job=~"$job"}, instance)'), ['revswitch_requests_in_flight']);
  tt.same(variableMetricNames('label_values(job)'), []);
  const exposed = selectableNames('# TYPE h histogram\nh_bucket{le="1"} 0\n# TYPE c_total counter\nc_total 1\n# TYPE g gauge\n');
  tt.same([...exposed].sort(), ['c_total', 'g', 'h_bucket', 'h_count', 'h_sum'], 'a histogram is selectable only by its series, a family with no sample still counts');
});

t.test('promtool: the rule file checks, and its unit tests pass', async (tt) => {
  const tool = requirePromtool(tt);
  if (tool === null) return;
  const check = spawnSync(tool, ['check', 'rules', 'ops/prometheus/alerts.yml'], { cwd: ROOT, encoding: 'utf8' });
  tt.equal(check.status, 0, `promtool check rules exits 0${check.status === 0 ? '' : `:\n${check.stdout}${check.stderr}`}`);
  tt.match(check.stdout, new RegExp(`SUCCESS: ${alertRules().length} rules found`), 'and finds every rule');
  const test = spawnSync(tool, ['test', 'rules', 'ops/prometheus/alerts.test.yml'], { cwd: ROOT, encoding: 'utf8' });
  tt.equal(test.status, 0, `promtool test rules exits 0${test.status === 0 ? '' : `:\n${test.stdout}${test.stderr}`}`);
});

t.test('every alert: a severity, a summary and a description that says what to do, and a unit test where it fires and one where it does not', async (tt) => {
  const rules = alertRules();
  tt.ok(rules.length >= 10, `${rules.length} alerts`);
  const tests: unknown = parseYaml(readFileSync(ALERT_TESTS, 'utf8'));
  if (!isRecord(tests)) throw new Error('alerts.test.yml: not a mapping');
  tt.same(tests.rule_files, ['alerts.yml'], 'the unit tests load the rule file beside them');
  const cases = list(tests.tests).filter(isRecord).flatMap((g) => list(g.alert_rule_test)).filter(isRecord);
  for (const r of rules) {
    tt.match(r.alert, /^Revswitch[A-Z]\w+$/, `${r.alert}: named Revswitch...`);
    tt.ok(['critical', 'warning'].includes(str(r.labels.severity)), `${r.alert}: severity critical or warning`);
    tt.ok(str(r.annotations.summary).length > 0, `${r.alert}: a summary`);
    tt.match(str(r.annotations.description), /`(revswitch |curl )[^`]+`/, `${r.alert}: its description names a command to run`);
    const mine = cases.filter((c) => c.alertname === r.alert);
    const firing = mine.filter((c) => list(c.exp_alerts).length > 0);
    tt.ok(firing.length > 0, `${r.alert}: a case where it fires`);
    tt.ok(mine.some((c) => list(c.exp_alerts).length === 0), `${r.alert}: a case where it does not`);
    for (const c of firing) {
      for (const a of list(c.exp_alerts).filter(isRecord)) {
        tt.equal(isRecord(a.exp_labels) ? a.exp_labels.severity : undefined, r.labels.severity, `${r.alert}: the firing case expects its severity`);
        const ann = isRecord(a.exp_annotations) ? a.exp_annotations : {};
        tt.ok(str(ann.summary) !== '' && str(ann.description) !== '', `${r.alert}: the firing case expects both annotations as rendered`);
      }
    }
  }
});

t.test('the dashboard: importable, one datasource variable, the rows, a query in every panel', async (tt) => {
  const d = dashboard();
  tt.ok(typeof d.schemaVersion === 'number' && d.schemaVersion >= 36, `schemaVersion ${String(d.schemaVersion)}`);
  tt.equal(d.id ?? null, null, 'no database id: an import makes its own');
  const vars = (isRecord(d.templating) ? list(d.templating.list) : []).filter(isRecord);
  const ds = vars.find((v) => v.type === 'datasource');
  tt.ok(ds && ds.name === 'DS_PROMETHEUS' && ds.query === 'prometheus', 'a datasource variable DS_PROMETHEUS of type prometheus');

  // No data source picked by uid: every reference anywhere goes through the variable (or is Grafana's own annotations).
  const uids: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (isRecord(v)) {
      if (isRecord(v.datasource)) uids.push(str(v.datasource.uid));
      else if (typeof v.datasource === 'string') uids.push(v.datasource);
      Object.values(v).forEach(walk);
    }
  };
  walk(d);
  tt.same([...new Set(uids)].filter((u) => u !== DS_UID && u !== '-- Grafana --'), [], `every datasource is ${DS_UID}`);

  const all = panels(d);
  tt.same(all.filter((p) => p.type === 'row').map((p) => p.title), ROWS, 'the rows, in order');
  const ids = list(d.panels).filter(isRecord).map((p) => p.id);
  tt.equal(new Set(ids).size, ids.length, 'panel ids are unique');
  let row = '';
  const perRow = new Map<string, number>();
  for (const p of all) {
    if (p.type === 'row') {
      row = p.title;
      continue;
    }
    perRow.set(row, (perRow.get(row) ?? 0) + 1);
    tt.ok(isRecord(p.datasource) && p.datasource.uid === DS_UID, `"${p.title}": datasource ${DS_UID}`);
    tt.ok(p.targets.length > 0, `"${p.title}": has targets`);
    for (const target of p.targets) {
      tt.ok(isRecord(target) && str(target.expr).trim() !== '' && str(target.refId) !== '', `"${p.title}": each target has an expr and a refId`);
    }
  }
  for (const r of ROWS) tt.ok((perRow.get(r) ?? 0) > 0, `row "${r}" has panels`);
});

t.test('every metric the dashboard and the alerts query is in a live scrape of a running switch', async (tt) => {
  const h = await startHarness(tt, { admin: true });
  const admin = h.admin;
  if (!admin) throw new Error('the harness did not start the admin server');
  const c = await h.client();
  tt.equal((await c.request(sale({ amount: '1000' }))).get(39), '00', 'a sale approved');
  // ..99: the issuer holds it, so a timeout, a 91 and a reversal: their labelled series exist.
  tt.equal((await c.request(sale({ amount: '1099' }))).get(39), '91', 'a sale timed out');
  await h.until(() => h.sw.counters.get('reversals_acked') === 1, 'the reversal acknowledged');

  const res = await fetch(`http://127.0.0.1:${admin.port}/metrics`);
  tt.equal(res.status, 200);
  const body = await res.text();
  const exposed = selectableNames(body);
  const sampled = sampledNames(body);
  tt.ok(exposed.has('revswitch_ready') && sampled.has('revswitch_ready'), 'revswitch_ready is exported');
  tt.match(body, /^revswitch_ready 1$/m, 'and says ready');

  const queries = [
    ...dashboardQueries(dashboard()).map((q) => ({ ...q, where: `dashboard ${q.where}`, own: false })),
    ...alertRules().map((r) => ({ where: `alert ${r.alert}`, names: metricNames(r.expr), own: true })),
  ];
  tt.ok(queries.filter((q) => q.where.startsWith('dashboard')).length >= 40, 'the dashboard\'s queries were read');
  const missing: string[] = [];
  const unsampled: string[] = [];
  const seen = new Set<string>();
  for (const q of queries) {
    if (q.names.length === 0 && !q.where.includes('variable')) missing.push(`${q.where}: selects no metric`);
    for (const name of q.names) {
      seen.add(name);
      if (q.own && PROMETHEUS_OWN.has(name)) continue;
      if (!exposed.has(name)) missing.push(`${q.where}: ${name}`);
      else if (!sampled.has(name) && !MAY_HAVE_NO_SAMPLE.has(name)) unsampled.push(`${q.where}: ${name}`);
    }
  }
  tt.same(missing, [], 'every queried name is exported by the switch (a histogram by its _bucket, _sum or _count)');
  tt.same(unsampled, [], 'and has samples once a sale and a timeout went through');
  tt.ok(seen.size >= 40, `${seen.size} distinct metric names queried`);
});
