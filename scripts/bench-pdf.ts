/**
 * PDF ingest benchmark: time and peak memory of `npm run ingest` on real PDFs of growing length, and on a mixed
 * corpus of PDF, Word, HTML and text files.
 *
 * The PDFs are those of Debian's debian-policy package: the FHS 3.0 (50 pages), the Debian Policy Manual (193 pages)
 * and the manual three times over (579 pages, joined with poppler's pdfunite). The mixed corpus adds the evaluation's
 * HTML pages of the same manual, the repository's text corpus and a Word document written from the Node.js
 * evaluation pages. Each PDF is first read alone, then each corpus ingested, each in a child process whose peak
 * resident memory is reported at exit, so that memory that grows with the length of a PDF shows between the rows of
 * one run.
 *
 * Run:  npm run bench:pdf           (needs the Debian packages debian-policy and poppler-utils)
 * Exit: 0 when every ingest succeeded; 1 otherwise; 2 on bad flags.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Document, HeadingLevel, Packer, Paragraph } from 'docx';
import { readFlags } from '../core/command-line.js';
import { renderTable } from '../eval/report.js';
import { runScript, type ScriptRun } from './lib/run-script.js';

const PROJECT_ROOT = path.resolve(import.meta.dirname, '..');
const PEAK_MEMORY = path.join(import.meta.dirname, 'lib', 'report-peak-memory.mjs');
const POLICY = '/usr/share/doc/debian-policy/policy.pdf.gz';
const FHS = '/usr/share/doc/debian-policy/fhs/fhs-3.0.pdf.gz';

const USAGE = `Usage: npm run bench:pdf

Reads real PDFs of 50, 193 and 579 pages with the PDF reader alone, then ingests each and a mixed corpus of PDF,
Word, HTML and text, each in a child process, and prints pages, chunks, time and peak resident memory.

Options:
  --help   show this help`;

interface Row {
  corpus: string;
  files: number;
  pages: number;
  chunks: number;
  seconds: number;
  peakMb: number;
}

async function main(): Promise<number> {
  const values = readFlags({ help: { type: 'boolean', default: false } }, USAGE);
  if (typeof values === 'number') return values;
  for (const needed of [POLICY, FHS, '/usr/bin/pdfunite']) {
    if (!existsSync(needed)) {
      console.error(`bench:pdf: ${needed} is missing; install the Debian packages debian-policy and poppler-utils.`);
      return 1;
    }
  }
  const work = await mkdtemp(path.join(os.tmpdir(), 'bench-pdf-'));
  try {
    const policy = path.join(work, 'policy.pdf');
    const fhs = path.join(work, 'fhs-3.0.pdf');
    await writeFile(policy, gunzipSync(readFileSync(POLICY)));
    await writeFile(fhs, gunzipSync(readFileSync(FHS)));
    const tripled = path.join(work, 'policy-x3.pdf');
    execFileSync('pdfunite', [policy, policy, policy, tripled]);

    const readings = [];
    for (const [name, file] of [
      ['FHS, 50 pages', fhs],
      ['Policy, 193 pages', policy],
      ['Policy ×3, 579 pages', tripled],
    ] as const) {
      const run = succeeded(`reading ${name}`, await runScript('scripts/lib/read-pdf-once.ts', { args: [file] }));
      const figures = JSON.parse(run.stdout) as {
        pages: number;
        chars: number;
        seconds: number;
        peakMb: number;
      };
      readings.push([
        name,
        String(figures.pages),
        String(figures.chars),
        figures.seconds.toFixed(1),
        figures.peakMb.toFixed(0),
      ]);
    }
    console.log('The PDF reader alone:');
    console.log(renderTable(['PDF', 'pages', 'chars', 'read s', 'peak RSS MB'], readings, 'text'));
    const corpora: Record<string, (folder: string) => Promise<void>> = {
      'FHS, 50 pages': (folder) => cp(fhs, path.join(folder, 'fhs-3.0.pdf')),
      'Policy, 193 pages': (folder) => cp(policy, path.join(folder, 'policy.pdf')),
      'Policy ×3, 579 pages': (folder) => cp(tripled, path.join(folder, 'policy-x3.pdf')),
      'mixed: PDF, DOCX, HTML, text': async (folder) => {
        await cp(policy, path.join(folder, 'policy.pdf'));
        await cp(fhs, path.join(folder, 'fhs-3.0.pdf'));
        await cp(path.join(PROJECT_ROOT, 'eval/corpora/policy-en/policy'), path.join(folder, 'policy-html'), {
          recursive: true,
        });
        await cp(path.join(PROJECT_ROOT, 'corpus'), path.join(folder, 'text'), { recursive: true });
        await writeFile(path.join(folder, 'nodejs.docx'), await nodeDocx());
      },
    };
    const rows: Row[] = [];
    for (const [name, fill] of Object.entries(corpora)) {
      const folder = path.join(work, name.replace(/\W+/g, '-'));
      await mkdir(folder);
      await fill(folder);
      rows.push(await measure(name, folder, path.join(work, 'index')));
      console.error(`bench:pdf: ${name} done`);
    }
    console.log('\nThe whole ingest:');
    console.log(
      renderTable(
        ['corpus', 'files', 'pages', 'chunks', 'ingest s', 'peak RSS MB'],
        rows.map((row) => [
          row.corpus,
          String(row.files),
          String(row.pages),
          String(row.chunks),
          row.seconds.toFixed(1),
          row.peakMb.toFixed(0),
        ]),
        'text',
      ),
    );
    const [small, middle, large] = rows;
    if (small !== undefined && middle !== undefined && large !== undefined) {
      console.log(
        `\nFrom ${small.pages} to ${large.pages} pages (×${(large.pages / small.pages).toFixed(1)}): ` +
          `time ×${(large.seconds / small.seconds).toFixed(1)}, peak RSS ×${(large.peakMb / small.peakMb).toFixed(2)} ` +
          `(${middle.pages} pages: ×${(middle.peakMb / small.peakMb).toFixed(2)}).`,
      );
    }
    console.log(`Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'}, Node ${process.version}.`);
    return 0;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** The run, when it exited 0; otherwise an error with what it printed. */
function succeeded(what: string, run: ScriptRun): ScriptRun {
  if (run.code !== 0) throw new Error(`${what} exited with ${run.signal ?? run.code}:\n${run.stderr}`);
  return run;
}

/** Ingests a folder in a child process, as `npm run ingest` would, and reads its summary and peak memory. */
async function measure(name: string, folder: string, indexDir: string): Promise<Row> {
  await rm(indexDir, { recursive: true, force: true });
  const peakFile = path.join(path.dirname(indexDir), 'peak');
  const started = performance.now();
  const run = await runScript('ingest/main.ts', {
    args: ['--corpus', folder, '--out', indexDir],
    imports: [PEAK_MEMORY],
    env: { PEAK_MEMORY_FILE: peakFile },
  });
  const output = succeeded(`ingest of ${name}`, run).stdout;
  const seconds = (performance.now() - started) / 1000;
  const pages = [...output.matchAll(/(\d+) page\(s\)/g)].reduce((sum, match) => sum + Number(match[1]), 0);
  return {
    corpus: name,
    files: Number(/Found (\d+) document/.exec(output)?.[1] ?? NaN),
    pages,
    chunks: Number(/Indexed (\d+) chunk/.exec(output)?.[1] ?? NaN),
    seconds,
    peakMb: Number(await readFile(peakFile, 'utf8')) / 2 ** 20,
  };
}

/** A Word document made of the Node.js evaluation pages: their headings and paragraphs. */
async function nodeDocx(): Promise<Buffer> {
  const folder = path.join(PROJECT_ROOT, 'eval/corpora/nodejs-en');
  const children: Paragraph[] = [];
  for (const name of (await readdir(folder)).sort().slice(0, 10)) {
    for (const block of (await readFile(path.join(folder, name), 'utf8')).split(/\n{2,}/)) {
      const heading = /^(#{1,3})\s+(.*)$/.exec(block.trim());
      if (heading !== null) {
        const level = [HeadingLevel.HEADING_1, HeadingLevel.HEADING_2, HeadingLevel.HEADING_3][
          (heading[1]?.length ?? 1) - 1
        ];
        children.push(new Paragraph({ text: heading[2] ?? '', heading: level }));
      } else if (block.trim() !== '' && !block.startsWith('<!--')) {
        children.push(new Paragraph(block.replace(/\s+/g, ' ').trim()));
      }
    }
  }
  return Packer.toBuffer(new Document({ sections: [{ children }] }));
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error('bench:pdf failed:', error);
    process.exitCode = 1;
  },
);
