import path from 'node:path';
import { readFlags } from '../core/command-line.js';
import { loadConfig } from '../core/config.js';
import { KnownError } from '../core/errors.js';
import { showProgress } from './show-progress.js';

const USAGE = `Usage: npm run ingest -- [options]

Builds the search index of a folder of documents (.txt, .md, .html, .pdf, .docx). A file that cannot be read is
skipped and listed; the command fails only when no document could be read. Progress goes to stderr: a bar on a
terminal, a line every few seconds otherwise.

Options:
  --corpus DIR   folder of documents (default: $CORPUS_DIR or corpus)
  --out DIR      index folder to write (default: $INDEX_DIR or data/index)
  --if-stale     do nothing when the index is already up to date with the corpus and configuration
  --help         show this help`;

async function main(): Promise<number> {
  const values = readFlags(
    {
      corpus: { type: 'string' },
      out: { type: 'string' },
      'if-stale': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    USAGE,
  );
  if (typeof values === 'number') return values;
  const base = loadConfig();
  const config = Object.freeze({
    ...base,
    corpusDir: values.corpus === undefined ? base.corpusDir : path.resolve(values.corpus),
    indexDir: values.out === undefined ? base.indexDir : path.resolve(values.out),
  });
  const shown = (target: string) => path.relative(process.cwd(), target) || '.';
  // The pipeline (LangChain, hnswlib) takes a second or two to load: not for --help or a bad flag or variable.
  const { ingest, staleReason } = await import('./build-index.js');

  if (values['if-stale']) {
    const reason = await staleReason(config);
    if (reason === undefined) {
      console.log(`Index ${shown(config.indexDir)} is up to date with ${shown(config.corpusDir)}.`);
      return 0;
    }
    console.log(`Building the index: ${reason}.`);
  }
  const progress = showProgress(process.stderr);
  const summary = await ingest(config, { onProgress: progress.update }).finally(() => progress.stop());
  console.log(`Found ${summary.documents.length} document(s) in ${shown(config.corpusDir)}:`);
  for (const document of summary.documents) {
    const pages = document.pages === undefined ? '' : `${document.pages} page(s), `;
    console.log(
      `  ${document.source}  ${pages}${document.chars} chars, ${document.language}, ${document.chunks} chunk(s)`,
    );
  }
  if (summary.skipped.length > 0) {
    console.log(`Skipped ${summary.skipped.length} file(s) that could not be read:`);
    for (const file of summary.skipped) console.log(`  ${file.source}: ${file.reason}`);
  }
  const { timings } = summary;
  console.log(
    `Indexed ${summary.chunkCount} chunk(s) with ${summary.embedderId} (${summary.dimensions} dimensions) ` +
      `into ${shown(config.indexDir)} in ${Math.round(timings.totalMs)} ms ` +
      `(load and split ${Math.round(timings.splitMs)}, embed and index ${Math.round(timings.indexMs)}, ` +
      `write ${Math.round(timings.writeMs)}).`,
  );
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof KnownError) {
      console.error(`ingest: ${error.message}`);
    } else {
      console.error('ingest failed:', error);
    }
    process.exitCode = 1;
  },
);
