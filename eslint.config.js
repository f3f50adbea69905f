// The rules the build enforces (`npm run lint`): typescript-eslint's recommended rules, the layers of the code base
// (core/ at the bottom, server/ and ingest/ on it and apart, eval/ and scripts/ on top) and no import cycle.
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import importX, { createNodeResolver } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

/** Where the code of each layer lives, relative to the project root. */
const LAYERS = ['./core', './ingest', './server', './eval', './scripts', './test'];
const outside = (...allowed) => LAYERS.filter((layer) => !allowed.includes(layer));

export default defineConfig(
  globalIgnores(['node_modules/', 'data/', 'dist/', 'dist.*/', 'eval/corpora/']),
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      // Follow imports into TypeScript files, parsed as TypeScript: what no-cycle needs to see a cycle.
      'import-x/extensions': ['.ts', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      // Sources import each other as `./file.js`, which TypeScript resolves to `./file.ts`.
      'import-x/resolver-next': [createNodeResolver({ extensionAlias: { '.js': ['.ts', '.js'] } })],
      // PGlite's bundle (the test database) is too deep for the parser; a package cannot be part of a cycle of ours.
      'import-x/ignore': ['node_modules/@electric-sql/'],
    },
    rules: {
      'import-x/no-cycle': 'error',
      'import-x/no-restricted-paths': [
        'error',
        {
          zones: [
            {
              target: './core',
              from: outside('./core'),
              message: 'core/ is the bottom layer: it imports nothing outside core/.',
            },
            {
              target: './server',
              from: outside('./core', './server'),
              message: 'server/ imports core/ only: never ingest/, and nothing above it (eval/, scripts/, test/).',
            },
            {
              target: './ingest',
              from: outside('./core', './ingest'),
              message: 'ingest/ imports core/ only: never server/, and nothing above it (eval/, scripts/, test/).',
            },
            {
              target: ['./eval', './scripts'],
              from: './test',
              message: 'Tests are not part of the product: eval/ and scripts/ do not import them.',
            },
          ],
        },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['server/public/**/*.js'],
    languageOptions: {
      sourceType: 'script',
      globals: Object.fromEntries(
        [
          'window',
          'document',
          'fetch',
          'sessionStorage',
          'AbortController',
          'TextDecoder',
          'console',
          'setTimeout',
          'clearTimeout',
          'URL',
          'Headers',
          'HTMLElement',
          'customElements',
          'Event',
          'KeyboardEvent',
        ].map((name) => [name, 'readonly']),
      ),
    },
  },
);
