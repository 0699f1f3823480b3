// Lint guards the layering from design.md: codec imports nothing from the project,
// rules may use codec only, and the iso_8583 oracle never leaks into production code.
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
        patterns: [{ group: ['../switch/*', '../bench/*', '../test/*'], message: 'rules may use codec types only' }],
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
);
