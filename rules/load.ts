/**
 * Reading a rules file: the only I/O rules/ does, once per load. Text becomes data (YAML,
 * or JSON for a .json file), data is validated, and validated data is compiled. Any
 * failure throws one RulesError listing every problem; nothing half-loaded escapes.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { LineCounter, parseDocument } from 'yaml';
import { CompiledRules } from './compile.js';
import { RulesError, type RulesIssue } from './errors.js';
import { validateRules } from './schema.js';

/** Validated, compiled rules from already-parsed data (an object from YAML or JSON). */
export function compileRules(data: unknown, source: string): CompiledRules {
  const v = validateRules(data);
  if (!v.ok) throw new RulesError(source, v.issues);
  return new CompiledRules(v.data, source);
}

/** Rules from text. `source` names it in errors, and its extension picks the format (.json, else YAML). */
export function parseRules(text: string, source: string): CompiledRules {
  return compileRules(parseText(text, source), source);
}

export function loadRulesFile(path: string): CompiledRules {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new RulesError(path, [{ path: '', message: `cannot read: ${(e as Error).message}` }]);
  }
  return parseRules(text, path);
}

/**
 * rules/default.yaml. tsc copies no YAML into dist/, so compiled code running from
 * dist/rules/ finds the file in the source tree beside it.
 */
export function defaultRulesPath(): string {
  const here = fileURLToPath(new URL('./default.yaml', import.meta.url));
  if (existsSync(here)) return here;
  const source = fileURLToPath(new URL('../../rules/default.yaml', import.meta.url));
  return existsSync(source) ? source : here;
}

export function loadDefaultRules(): CompiledRules {
  return loadRulesFile(defaultRulesPath());
}

function parseText(text: string, source: string): unknown {
  const json = source.toLowerCase().endsWith('.json');
  let fromJson: unknown;
  if (json) {
    try {
      fromJson = JSON.parse(text);
    } catch (e) {
      throw new RulesError(source, [{ path: '', message: `not valid JSON: ${(e as Error).message}` }]);
    }
  }
  // JSON goes through the YAML parser too (JSON is YAML), because JSON.parse silently
  // keeps the last of two equal keys, and a code listed twice is a mistake to report.
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  // For JSON only duplicates count: JSON.parse has already accepted the syntax.
  const found = [...doc.errors, ...doc.warnings].filter((e) => !json || e.code === 'DUPLICATE_KEY');
  const problems: RulesIssue[] = found.map((e) => {
    const at = lines.linePos(e.pos[0]);
    return { path: '', message: `line ${at.line}, column ${at.col}: ${e.message}` };
  });
  if (problems.length) throw new RulesError(source, problems);
  if (json) return fromJson;
  try {
    return doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw new RulesError(source, [{ path: '', message: (e as Error).message }]);
  }
}
