/**
 * The layout docs/architecture.md describes, checked: no import cycle anywhere in the
 * project (madge, type imports included), no loose file at switch/'s top level, and no
 * file in switch/ much over 400 lines without a reason stated at its top. Which part may
 * import which is ESLint's (eslint.config.js), run by `npm test` before this.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import madge from 'madge';
import t from 'tap';
import { ROOT } from './support/built.js';

/** Lines a file may have before it must say, at its top, why it is longer. */
const MAX_LINES = 420;
/** The phrase that states the reason, in the file's header comment. */
const REASON = 'Longer than 400 lines:';

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

t.test('no import cycle in codec/, rules/, switch/, bench/ or test/', async (tt) => {
  const graph = await madge(['codec', 'rules', 'switch', 'bench', 'test'].map((d) => join(ROOT, d)), {
    baseDir: ROOT, fileExtensions: ['ts'], tsConfig: join(ROOT, 'tsconfig.json'),
    detectiveOptions: { ts: { skipTypeImports: false } },
  });
  tt.ok(Object.keys(graph.obj()).length > 100, `the graph covers the project (${Object.keys(graph.obj()).length} files)`);
  tt.same(graph.circular(), [], 'no cycle');
});

t.test('switch/ is parts only: no loose .ts at its top level', async (tt) => {
  const loose = readdirSync(join(ROOT, 'switch')).filter((n) => n.endsWith('.ts'));
  tt.same(loose, [], 'every file lives in the folder of its part');
});

t.test(`no file in switch/ over ${MAX_LINES} lines without "${REASON}" in its header`, async (tt) => {
  const long = files(join(ROOT, 'switch'))
    .filter((p) => p.endsWith('.ts'))
    .map((p) => ({ file: relative(ROOT, p), text: readFileSync(p, 'utf8') }))
    .filter((f) => f.text.split('\n').length > MAX_LINES)
    .filter((f) => !f.text.slice(0, f.text.indexOf('*/') + 2).includes(REASON))
    .map((f) => `${f.file} (${f.text.split('\n').length} lines)`);
  tt.same(long, [], 'each long file says why');
});
