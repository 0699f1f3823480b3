/**
 * Literal values read out of the test sources, for the seed corpus: the arguments of
 * named calls (configFromJson({...}), wire(`...`)), object literals with given keys, and
 * string constants. Read with the TypeScript parser, never evaluated: a value that is not
 * a plain literal (a variable, a spread, a call) is skipped.
 */
import { readFileSync } from 'node:fs';
import ts from 'typescript';

export type Json = string | number | boolean | null | Json[] | { [k: string]: Json };

/** Marks a node that is not a plain literal. */
const NOT_LITERAL = Symbol('not a literal');

function literal(n: ts.Expression): Json | typeof NOT_LITERAL {
  if (ts.isParenthesizedExpression(n) || ts.isAsExpression(n) || ts.isSatisfiesExpression(n)) return literal(n.expression);
  if (ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n)) return n.text;
  if (ts.isNumericLiteral(n)) return Number(n.text);
  if (ts.isPrefixUnaryExpression(n) && n.operator === ts.SyntaxKind.MinusToken && ts.isNumericLiteral(n.operand)) return -Number(n.operand.text);
  if (n.kind === ts.SyntaxKind.TrueKeyword) return true;
  if (n.kind === ts.SyntaxKind.FalseKeyword) return false;
  if (n.kind === ts.SyntaxKind.NullKeyword) return null;
  if (ts.isArrayLiteralExpression(n)) {
    const out: Json[] = [];
    for (const e of n.elements) {
      const v = literal(e);
      if (v === NOT_LITERAL) return NOT_LITERAL;
      out.push(v);
    }
    return out;
  }
  if (ts.isObjectLiteralExpression(n)) {
    const out: { [k: string]: Json } = {};
    for (const p of n.properties) {
      if (!ts.isPropertyAssignment(p)) return NOT_LITERAL;
      const key = ts.isIdentifier(p.name) || ts.isStringLiteral(p.name) || ts.isNumericLiteral(p.name) ? p.name.text : null;
      if (key === null) return NOT_LITERAL;
      const v = literal(p.initializer);
      if (v === NOT_LITERAL) return NOT_LITERAL;
      out[key] = v;
    }
    return out;
  }
  return NOT_LITERAL;
}

function walk(file: string, visit: (n: ts.Node) => void): void {
  const src = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const go = (n: ts.Node): void => {
    visit(n);
    ts.forEachChild(n, go);
  };
  go(src);
}

function calleeName(c: ts.CallExpression): string | null {
  const e = c.expression;
  if (ts.isIdentifier(e)) return e.text;
  if (ts.isPropertyAccessExpression(e)) return e.name.text;
  return null;
}

/** The literal first arguments of calls to any of `names` in `file`. */
export function callArguments(file: string, names: readonly string[]): Json[] {
  const out: Json[] = [];
  walk(file, (n) => {
    if (!ts.isCallExpression(n) || n.arguments.length === 0) return;
    const name = calleeName(n);
    if (name === null || !names.includes(name)) return;
    const v = literal(n.arguments[0]);
    if (v !== NOT_LITERAL) out.push(v);
  });
  return out;
}

/** Object literals in `file` that have every one of `keys`, as far as their values are literal. */
export function objectsWith(file: string, keys: readonly string[]): { [k: string]: Json }[] {
  const out: { [k: string]: Json }[] = [];
  walk(file, (n) => {
    if (!ts.isObjectLiteralExpression(n)) return;
    const o: { [k: string]: Json } = {};
    for (const p of n.properties) {
      if (!ts.isPropertyAssignment(p) || !(ts.isIdentifier(p.name) || ts.isStringLiteral(p.name))) continue;
      // wire(`...`) keeps its text: the bytes are what the seed needs.
      const init = ts.isCallExpression(p.initializer) && calleeName(p.initializer) === 'wire' && p.initializer.arguments.length === 1
        ? p.initializer.arguments[0] : p.initializer;
      const v = literal(init);
      if (v !== NOT_LITERAL) o[p.name.text] = v;
    }
    if (keys.every((k) => Object.hasOwn(o, k))) out.push(o);
  });
  return out;
}

/** The string a `const NAME = '...'` in `file` holds. */
export function constant(file: string, name: string): string | undefined {
  let found: string | undefined;
  walk(file, (n) => {
    if (found !== undefined || !ts.isVariableDeclaration(n) || !ts.isIdentifier(n.name) || n.name.text !== name || n.initializer === undefined) return;
    const v = literal(n.initializer);
    if (typeof v === 'string') found = v;
  });
  return found;
}
