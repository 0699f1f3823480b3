// Lint guards the layering (docs/architecture.md): codec imports nothing from the project,
// rules may use codec only, the parts of switch/ import only the parts below them, and
// the iso_8583 oracle never leaks into production code. Import cycles are checked by
// test/architecture.test.ts.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const oracle = { name: 'iso_8583', message: 'iso_8583 is the test oracle and bench baseline only' };

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['codec/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      'no-restricted-imports': ['error', {
        paths: [oracle, 'fs', 'node:fs', 'net', 'node:net'],
        patterns: [{ group: ['../rules/*', '../switch/*', '../bench/*', '../test/*'], message: 'codec imports nothing from the project' }],
      }],
    },
  },
  {
    files: ['rules/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [oracle, 'net', 'node:net'],
        patterns: [{ group: ['../switch/*', '../bench/*', '../test/*'], message: 'rules may use codec only' }],
      }],
    },
  },
  {
    files: ['switch/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      'no-restricted-imports': ['error', { paths: [oracle], patterns: [{ group: ['../bench/*', '../test/*'] }] }],
    },
  },
  // The parts of switch/ (docs/architecture.md, "Allowed imports"). A part may import the
  // parts listed for it, codec/ and rules/; cli/ is the composition root and imports all.
  ...boundaries({
    config: [],
    matcher: [],
    store: [],
    observe: ['config', 'reports', 'store'],
    edge: ['config', 'matcher', 'observe'],
    undo: ['edge', 'observe', 'store'],
    reports: ['store'],
    engine: ['config', 'edge', 'observe', 'store', 'undo'],
    sim: ['config', 'edge', 'observe'],
    recon: ['store', 'undo'],
  }),
);

/** One lint block per part of switch/: every other part it may not import, named in the message. */
function boundaries(allowed) {
  const parts = ['cli', 'config', 'edge', 'engine', 'matcher', 'observe', 'recon', 'reports', 'sim', 'store', 'undo'];
  return Object.entries(allowed).map(([part, may]) => {
    const banned = parts.filter((p) => p !== part && !may.includes(p));
    return {
      files: [`switch/${part}/**/*.ts`],
      rules: {
        'no-restricted-imports': ['error', {
          paths: [oracle],
          patterns: [
            { group: ['../bench/*', '../test/*'] },
            {
              group: banned.flatMap((p) => [`../${p}`, `../${p}/*`, `../../${p}`, `../../${p}/*`, `../../switch/${p}/*`]),
              message: `switch/${part} may import ${may.length > 0 ? may.map((p) => `switch/${p}`).join(', ') + ', ' : ''}codec and rules only (docs/architecture.md)`,
            },
          ],
        }],
      },
    };
  });
}
