/**
 * The documentation a person finds their way in (issue 20): README.md is a front page of
 * at most about 250 lines, and every relative link in it, in docs/ and in bench/README.md
 * resolves: the file exists and, with a #fragment, the page has a heading of that slug
 * (GitHub's rule). Links inside code blocks and code spans are not links.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import t from 'tap';
import { ROOT } from './support/built.js';

function markdownFiles(): string[] {
  const docs = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? docs(p) : e.name.endsWith('.md') ? [p] : [];
  });
  return [join(ROOT, 'README.md'), join(ROOT, 'bench', 'README.md'), ...docs(join(ROOT, 'docs'))];
}

/** The lines outside fenced code blocks. */
function unfenced(text: string): string[] {
  let fenced = false;
  return text.split('\n').map((line) => {
    if (/^\s*```/.test(line)) {
      fenced = !fenced;
      return '';
    }
    return fenced ? '' : line;
  });
}

/** The text outside code: fenced blocks dropped, code spans blanked. */
function prose(text: string): string {
  return unfenced(text).map((line) => line.replace(/`[^`]*`/g, '``')).join('\n');
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchorsOf(text: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const line of unfenced(text)) {
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = m[1].toLowerCase().replace(/[^\p{L}\p{N}\- _]/gu, '').replace(/ /g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

const files = markdownFiles();

t.test('README.md is a front page', async (tt) => {
  const lines = readFileSync(join(ROOT, 'README.md'), 'utf8').split('\n').length;
  tt.ok(lines <= 260, `README.md has ${lines} lines (a front page: at most about 250)`);
  const text = readFileSync(join(ROOT, 'README.md'), 'utf8');
  for (const needed of ['## Quick start', '## Contents']) tt.ok(text.includes(needed), `it has ${needed}`);
});

t.test('every relative link resolves, fragments included', async (tt) => {
  let checked = 0;
  const broken: string[] = [];
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    for (const m of prose(text).matchAll(/!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      const target = m[1];
      if (/^[a-z]+:/i.test(target)) continue; // http:, https:, mailto:
      checked++;
      const [path, fragment] = target.split('#', 2);
      const to = path === '' ? file : resolve(dirname(file), decodeURI(path));
      const where = `${relative(ROOT, file)}: (${target})`;
      if (!existsSync(to)) {
        broken.push(`${where}: no such file ${relative(ROOT, to)}`);
        continue;
      }
      if (fragment !== undefined && fragment !== '') {
        if (statSync(to).isDirectory() || !to.endsWith('.md')) broken.push(`${where}: a fragment on something that is not a page`);
        else if (!anchorsOf(readFileSync(to, 'utf8')).has(fragment)) broken.push(`${where}: ${relative(ROOT, to)} has no heading #${fragment}`);
      }
    }
  }
  tt.ok(checked > 40, `${checked} links checked in ${files.length} pages`);
  tt.same(broken, [], 'none broken');
});

t.test('the anchor rule is GitHub\'s', async (tt) => {
  const a = anchorsOf('# Card data at rest: the allow-list and the keys\n## `revswitch start`\n## Events\n## Events\n```\n# not a heading\n```\n');
  tt.same([...a], ['card-data-at-rest-the-allow-list-and-the-keys', 'revswitch-start', 'events', 'events-1']);
});

t.test('every command and subcommand of the CLI has its section in docs/cli.md', async (tt) => {
  const { buildProgram } = await import('../switch/cli/program.js');
  type Cmd = { name(): string; commands: readonly Cmd[] };
  const paths: string[] = [];
  const walk = (c: Cmd, prefix: string): void => {
    for (const sub of c.commands) {
      if (sub.name() === 'help') continue;
      const path = `${prefix} ${sub.name()}`;
      paths.push(path);
      walk(sub, path);
    }
  };
  walk(buildProgram(() => {}) as unknown as Cmd, 'revswitch');
  tt.ok(paths.length > 20, `${paths.length} commands and subcommands`);
  const anchors = anchorsOf(readFileSync(join(ROOT, 'docs', 'cli.md'), 'utf8'));
  tt.same(paths.filter((p) => !anchors.has(p.replace(/ /g, '-'))), [], 'none without a "## revswitch ..." section');
});
