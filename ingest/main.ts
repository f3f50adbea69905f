import path from 'node:path';
import { readFlags } from '../core/command-line.js';
import { loadConfig } from '../core/config.js';
import { KnownError } from '../core/errors.js';
import type { IngestChanges } from './build-index.js';
import { showProgress } from './show-progress.js';

const USAGE = `Usage: npm run ingest -- [options]

Builds the search index of a folder of documents (.txt, .md, .html, .pdf, .docx). When the index in place was built
with the same settings, only added and changed files are read and embedded again; the passages of unchanged files
are carried over. A file that cannot be read is skipped and listed; the command fails only when no document could be
read. Progress goes to stderr: a bar on a terminal, a line every few seconds otherwise.

Options:
  --corpus DIR   folder of documents (default: $CORPUS_DIR or corpus)
  --out DIR      index folder to write (default: $INDEX_DIR or data/index)
  --name NAME    with INDEX_STORE=postgres: the index to write in the database (default: $INDEX_NAME or default)
  --if-stale     do nothing when the index is already up to date with the corpus and configuration
  --full         read and embed the whole corpus again, even when the index in place could be updated
  --dry-run      print what would change (added, changed, removed, unchanged files) and write nothing
  --help         show this help`;

async function main(): Promise<number> {
  const values = readFlags(
    {
      corpus: { type: 'string' },
      out: { type: 'string' },
      name: { type: 'string' },
      'if-stale': { type: 'boolean', default: false },
      full: { type: 'boolean', default: false },
      'dry-run': { type: 'boolean', default: false },
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
    indexName: values.name ?? base.indexName,
  });
  const shown = (target: string) => path.relative(process.cwd(), target) || '.';
  // The pipeline (LangChain, hnswlib) takes a second or two to load: not for --help or a bad flag or variable.
  const { ingest, planChanges, staleReason } = await import('./build-index.js');

  if (values['dry-run']) {
    const changes = await planChanges(config, { full: values.full });
    const target = config.indexStore === 'postgres' ? `the index ${config.indexName}` : shown(config.indexDir);
    console.log(`Dry run: nothing is written to ${target}.`);
    for (const line of fileList(changes)) console.log(`  ${line}`);
    console.log(`${changes.fullReason === undefined ? 'Would update' : 'Would rebuild'} ${describe(changes)}`);
    const readable = changes.added.length + changes.changed.length + changes.unchanged.length;
    if (changes.skipped.length > 0) {
      console.log(`Would skip ${changes.skipped.length} file(s) that cannot be read.`);
      if (changes.skipped.length === readable) {
        console.error('ingest: no document of the corpus could be read; an ingest would fail.');
        return 1;
      }
    }
    return 0;
  }
  if (values['if-stale']) {
    const reason = await staleReason(config);
    if (reason === undefined) {
      const index =
        config.indexStore === 'postgres' ? `The index ${config.indexName}` : `Index ${shown(config.indexDir)}`;
      console.log(`${index} is up to date with ${shown(config.corpusDir)}.`);
      return 0;
    }
    console.log(`Building the index: ${reason}.`);
  }
  const progress = showProgress(process.stderr);
  const summary = await ingest(config, { full: values.full, onProgress: progress.update }).finally(() =>
    progress.stop(),
  );
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
  console.log(`${summary.changes.fullReason === undefined ? 'Updated' : 'Rebuilt'} ${describe(summary.changes)}`);
  const { timings } = summary;
  const where = config.indexStore === 'postgres' ? `generation ${summary.generation}` : shown(config.indexDir);
  console.log(
    `Indexed ${summary.chunkCount} chunk(s) (${summary.carriedChunks} carried over, ${summary.embeddedChunks} ` +
      `embedded) with ${summary.embedderId} (${summary.dimensions} dimensions) ` +
      `into ${where} in ${Math.round(timings.totalMs)} ms ` +
      `(changes ${Math.round(timings.planMs)}, load and split ${Math.round(timings.splitMs)}, ` +
      `embed and index ${Math.round(timings.indexMs)}, write ${Math.round(timings.writeMs)}).`,
  );
  return 0;
}

/** Every file with what happens to it: added, changed, removed, read again, unchanged; and why it is skipped. */
function fileList(changes: IngestChanges): string[] {
  const refurnished = new Set(changes.refurnished);
  const reasons = new Map(changes.skipped.map((file) => [file.source, file.reason]));
  const line = (kind: string, source: string, note?: string) => {
    const reason = reasons.get(source);
    const notes = [note, reason === undefined ? undefined : `skipped: ${reason}`].filter((text) => text !== undefined);
    return `${kind.padEnd(11)}${source}${notes.map((text) => `  (${text})`).join('')}`;
  };
  return [
    ...changes.added.map((source) => line('added', source)),
    ...changes.changed.map((source) => line('changed', source)),
    ...changes.removed.map((source) => line('removed', source)),
    ...changes.refurnished.map((source) => line('unchanged', source, 'read again: its page furniture changed')),
    ...changes.unchanged.filter((source) => !refurnished.has(source)).map((source) => line('unchanged', source)),
  ];
}

/** "the whole index (why): …" or "the index: …", with the counts of each kind of change. */
function describe(changes: IngestChanges): string {
  const counts =
    `${changes.added.length} added, ${changes.changed.length} changed, ${changes.removed.length} removed, ` +
    `${changes.unchanged.length} unchanged`;
  const again =
    changes.refurnished.length === 0
      ? ''
      : ` (${changes.refurnished.length} of them read again: the page furniture around them changed)`;
  return changes.fullReason === undefined
    ? `the index: ${counts}${again}.`
    : `the whole index (${changes.fullReason}): ${counts}.`;
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
