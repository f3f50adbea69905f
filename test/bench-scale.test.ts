import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runScript } from '../scripts/lib/run-script.js';
import { roffToText } from '../scripts/lib/scale-corpus.js';
import { PROJECT_ROOT } from './helpers/test-index.js';

const temp = await mkdtemp(path.join(os.tmpdir(), 'bench-scale-test-'));
afterAll(() => rm(temp, { recursive: true, force: true }));

describe('npm run bench:scale (smoke run)', () => {
  it(
    'measures two small corpora and prints the table, the JSON figures and the chart',
    { timeout: 180_000 },
    async () => {
      const json = path.join(temp, 'results.json');
      const chart = path.join(temp, 'chart.svg');
      const run = await runScript('scripts/bench-scale.ts', {
        args: [
          ...['--source', path.join(PROJECT_ROOT, 'eval', 'corpora'), '--sizes', '150,400', '--questions', '30'],
          ...['--seconds', '1', '--connections', '4', '--no-communique'],
          ...['--cache', path.join(temp, 'cache'), '--json', json, '--chart', chart],
        ],
      });
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toMatch(/^\| corpus \| chunks \| ingest s \|/m);
      expect(run.stdout).toMatch(/^\| 150 chunks \| \d+ \|/m);
      expect(run.stdout).toMatch(/^\| 400 chunks \| \d+ \|/m);

      const results = JSON.parse(await readFile(json, 'utf8')) as {
        rows: Array<{ chunks: number; ingestPeakMb: number; coldStartSeconds: number; server: { p95: number } }>;
        machine: string;
      };
      expect(results.machine).toMatch(/cores/);
      const [small, large] = results.rows;
      // Nested corpora: the larger holds more chunks, and each is near the size asked for (counted document by
      // document, before page furniture repeated across the corpus is left out).
      expect(small?.chunks).toBeGreaterThanOrEqual(120);
      expect(large?.chunks).toBeGreaterThan(small?.chunks ?? Infinity);
      for (const row of results.rows) {
        expect(row.ingestPeakMb).toBeGreaterThan(20);
        expect(row.coldStartSeconds).toBeGreaterThan(0);
        expect(row.server.p95).toBeGreaterThan(0);
      }
      const svg = await readFile(chart, 'utf8');
      expect(svg).toMatch(/^<svg/);
      expect(svg).toContain('query p95, server time (ms)');
    },
  );

  it('rejects a bad size with the usage and exit code 2', async () => {
    const run = await runScript('scripts/bench-scale.ts', {
      args: ['--sizes', 'many'],
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--sizes must be an integer/);
  });
});

describe('roffToText', () => {
  it('keeps headings and paragraphs of a manual page and drops macros, comments and font escapes', () => {
    const page = [
      '.\\" a comment',
      '.TH LS 1',
      '.SH NAME',
      'ls \\- list directory contents',
      '.SH DESCRIPTION',
      'List information about the \\fBFILE\\fRs.',
      '.PP',
      '.BR stat (2)',
      'and \\(aqquoted\\(aq text.',
    ].join('\n');
    expect(roffToText(page)).toBe(
      "NAME\n\nls - list directory contents\n\nDESCRIPTION\n\nList information about the FILEs.\n\nstat(2)\nand 'quoted' text.\n",
    );
  });
});
