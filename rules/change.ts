/**
 * What a rules reload changed, in one line for the SIGHUP log: an operator who sends the
 * signal should read that the cutover moved or a limit rose, not just that "rules
 * reloaded". Compared on the validated content, so comments and layout are no change.
 */
import { canonicalJson } from './canonical.js';
import type { CompiledRules } from './compile.js';

export interface RulesChange {
  path: string;
  /** Absent on one side: added or removed. */
  before?: unknown;
  after?: unknown;
}

/** Every leaf that differs, by its dotted path (arrays compared whole: a holiday list is one value). */
export function rulesChanges(before: CompiledRules, after: CompiledRules): RulesChange[] {
  const out: RulesChange[] = [];
  walk(before.data, after.data, '', out);
  return out;
}

function walk(a: unknown, b: unknown, path: string, out: RulesChange[]): void {
  const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (isObj(a) && isObj(b)) {
    for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
      walk(a[k], b[k], path === '' ? k : `${path}.${k}`, out);
    }
    return;
  }
  if (canonicalJson(a) === canonicalJson(b)) return;
  out.push({ path, ...(a === undefined ? {} : { before: a }), ...(b === undefined ? {} : { after: b }) });
}

/** One line: "3 changes: businessDay.cutover "23:00" -> "22:00"; ..." (at most `max` named). */
export function describeRulesChange(before: CompiledRules, after: CompiledRules, max = 5): string {
  const changes = rulesChanges(before, after);
  if (changes.length === 0) return 'no change in content';
  const show = (v: unknown): string => {
    const text = JSON.stringify(v) ?? 'undefined';
    return text.length > 40 ? `${text.slice(0, 37)}...` : text;
  };
  const named = changes.slice(0, max).map((c) =>
    c.before === undefined ? `${c.path} added ${show(c.after)}` : c.after === undefined ? `${c.path} removed` : `${c.path} ${show(c.before)} -> ${show(c.after)}`);
  const more = changes.length > max ? `; and ${changes.length - max} more` : '';
  return `${changes.length} change${changes.length === 1 ? '' : 's'}: ${named.join('; ')}${more}`;
}
