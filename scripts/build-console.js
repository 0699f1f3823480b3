// Builds the operations console (switch/console/web: Preact and uPlot, TypeScript) into
// dist/switch/console/static/: index.html and assets/app.js + assets/app.css, bundled
// and minified by esbuild, so the admin server serves it with nothing fetched from
// elsewhere at run time (switch/observe/console-static.ts). Run by `npm run build`;
// also by test/console-browser.test.ts when dist/ lacks it.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const web = join(root, 'switch/console/web');
const out = join(root, 'dist/switch/console/static');

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'assets'), { recursive: true });
await build({
  entryPoints: { app: join(web, 'main.tsx') },
  outdir: join(out, 'assets'),
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2022'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  legalComments: 'none',
  logLevel: 'warning',
});
copyFileSync(join(web, 'index.html'), join(out, 'index.html'));
