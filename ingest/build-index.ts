import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { EmbeddingsInterface } from '@langchain/core/embeddings';
import type { Config } from '../core/config.js';
import { DEFAULTS } from '../core/defaults.js';
import { createIndexEmbedder, embedderId } from '../core/embeddings/create-embeddings.js';
import { LexicalEmbeddings } from '../core/embeddings/lexical-embeddings.js';
import { CorpusError, UnreadableDocumentError } from '../core/errors.js';
import { CensusWriter } from '../core/index/census-file.js';
import { ChunkWriter, readChunks } from '../core/index/chunk-store.js';
import {
  INDEX_FILES,
  type ManifestContent,
  readManifest,
  vectorShardFile,
  writeIndex,
} from '../core/index/index-store.js';
import { readLines } from '../core/index/json-lines.js';
import { openIndexStore } from '../core/index/open-index-store.js';
import type { IndexDescription } from '../core/index/passage-index.js';
import { createPool } from '../core/index/postgres/database.js';
import { GenerationWriter } from '../core/index/postgres/generation-writer.js';
import { KeywordIndexBuilder, keywordTerms } from '../core/index/keyword-index.js';
import { INDEX_FORMAT_VERSION, type Manifest } from '../core/index/manifest.js';
import { SourceTextWriter } from '../core/index/source-texts.js';
import { openStoredGeneration, type StoredGeneration } from '../core/index/stored-generation.js';
import { type OrdinalRange, VectorFileWriter } from '../core/index/vector-file.js';
import { embeddedText, VectorIndexBuilder } from '../core/index/vector-index.js';
import type { Chunk, Language, SourceDocument } from '../core/types.js';
import {
  type CorpusFile,
  fileChecksum,
  listCorpusFiles,
  READ_EXTENSIONS,
  type ReadFile,
  READER_VERSION,
  readCorpusFile,
  type SkippedFile,
  toDocument,
} from './load-documents.js';
import {
  type FileStatus,
  type IngestPlan,
  type IngestSettings,
  type PlannedFile,
  planIngest,
  readAhead,
  settingsChange,
} from './plan-ingest.js';
import { ReadingSpool } from './reading-spool.js';
import { BoilerplateCensus, censusOf } from './remove-boilerplate.js';
import { type ChunkerSettings, splitIntoChunks } from './split-into-chunks.js';

/** What ingest reports of each document. */
export interface IngestedDocument {
  source: string;
  chars: number;
  language: Language;
  chunks: number;
  /** Pages of a paged document (PDF). */
  pages?: number;
}

/** What an ingest changes in the index in place, file by file (sources, in path order). */
export interface IngestChanges {
  /** Why the whole corpus was (or would be) read and embedded again; undefined for an update. */
  fullReason: string | undefined;
  added: string[];
  changed: string[];
  removed: string[];
  unchanged: string[];
  /** Unchanged files read and split again because the page furniture around them changed (among `unchanged`). */
  refurnished: string[];
  /** Files of the corpus that cannot be read, with a one-line reason each (among the lists above). */
  skipped: SkippedFile[];
}

export interface IngestSummary {
  documents: IngestedDocument[];
  /** Files that could not be read, with a one-line reason each; the rest of the corpus is indexed. */
  skipped: SkippedFile[];
  changes: IngestChanges;
  chunkCount: number;
  /** Passages embedded by this run; the others kept their stored vectors (an embedding server's). */
  embeddedChunks: number;
  /** Passages carried over from the index in place without being read, split or analysed again as text. */
  carriedChunks: number;
  embedderId: string;
  dimensions: number;
  generation: string;
  timings: {
    /** Checksums of the corpus, and reading the added and changed files for the census of page furniture. */
    planMs: number;
    /** Splitting, keyword terms and embedder statistics, one document at a time. */
    splitMs: number;
    /** Embedding the passages while another thread builds the vector graph, and laying out the keyword index. */
    indexMs: number;
    writeMs: number;
    totalMs: number;
  };
}

/**
 * Where an ingest is: reading files (with the pages of paged documents), embedding passages, or writing. A file or a
 * passage carried over from the index in place counts as done when it is.
 */
export type IngestProgress =
  | { stage: 'read'; files: number; totalFiles: number; pages: number }
  | { stage: 'embed'; chunks: number; totalChunks: number }
  | { stage: 'write' };

export interface IngestOptions {
  chunker?: ChunkerSettings;
  /** Replaces the configured embedder (tests use it to simulate a failure mid-ingest). */
  embeddings?: EmbeddingsInterface;
  /** Reads and embeds the whole corpus again, even when the index in place could be updated. */
  full?: boolean;
  /** Told of the progress of a long ingest, as it goes. */
  onProgress?: (progress: IngestProgress) => void;
}

/** The spool of files read, in the staging folder while the index is built; removed before the manifest is written. */
const SPOOL_FILE = '.readings.jsonl';

/** Passages embedded at a time by an embedder other than the lexical one (a request to a server). */
const EMBEDDING_BATCH = 64;

/**
 * load → split → embed → write: builds a complete index of the corpus and points the index folder at it.
 *
 * When the index in place was built with the same embedder, document readers and chunker settings, only added and
 * changed files are read and split; an unchanged file's passages, source text and census are carried over, and with
 * an embedding server its vectors too, so that no request is made for it. The result is the index a full rebuild
 * would write, file for file: the keyword index, the lexical embedder's weights (fitted on the whole corpus) and
 * its vectors, and the vector graphs are made again from all the passages, which needs no network.
 *
 * Documents stream through, so memory holds the index being built, not the corpus. A census learns what repeats
 * across the corpus (page furniture): from the stored census of each unchanged file, and by reading the others once,
 * keeping what it read in a spool on disk. Then each file read is taken back from the spool and split (or its stored
 * passages taken), and its passages written to the chunk store, their keyword terms and the lexical embedder's
 * statistics counted; last, the passages are embedded (or their vectors taken), and the vectors handed to worker
 * threads that build the hnswlib graphs while this thread lays out the keyword index.
 *
 * A file that cannot be read is skipped and listed in the summary; when none can be, nothing is written and the
 * index in place keeps serving.
 */
export async function ingest(config: Config, options: IngestOptions = {}): Promise<IngestSummary> {
  if (config.indexStore === 'postgres') return ingestIntoDatabase(config, options);
  const chunker = options.chunker ?? DEFAULTS.chunking;
  const report = options.onProgress ?? (() => undefined);
  const clock = stopwatch();
  const files = await corpusFiles(config);
  const stored = await openStoredGeneration(config.indexDir);
  try {
    const timings = { planMs: 0, splitMs: 0, indexMs: 0, writeMs: 0 };
    let plan: IngestPlan | undefined;
    let built: Omit<IngestSummary, 'changes' | 'generation' | 'timings'> | undefined;
    const generation = await writeIndex(config.indexDir, async (staging) => {
      const spool = await ReadingSpool.create(path.join(staging, SPOOL_FILE));
      try {
        let planned = 0;
        let pages = 0;
        plan = await planIngest(files, stored, ingestSettings(config, chunker), {
          full: options.full,
          keep: (file) => spool.add(file),
          onPlanned: (_file, filePages) => {
            planned += 1;
            pages += filePages;
            report({ stage: 'read', files: planned, totalFiles: files.length, pages });
          },
        });
        if (plan.files.every((file) => file.skipped !== undefined)) {
          throw new CorpusError(
            `No document of the corpus folder ${config.corpusDir} could be read:\n` +
              plan.files.map(({ skipped }) => `  ${skipped?.source}: ${skipped?.reason}`).join('\n'),
          );
        }
        timings.planMs = clock.lap();
        const from = plan.fullReason === undefined && 'generation' in stored ? stored.generation : undefined;
        const written = await writeGeneration(staging, plan, spool, from, config, chunker, options, () => {
          timings.splitMs = clock.lap();
        });
        timings.indexMs = clock.lap();
        built = written.summary;
        return written.manifest;
      } finally {
        await spool.remove();
      }
    });
    timings.writeMs = clock.lap();
    if (built === undefined || plan === undefined) throw new Error('the index was written without a summary');
    return { ...built, changes: changesOf(plan), generation, timings: { ...timings, totalMs: clock.total() } };
  } finally {
    if ('generation' in stored) stored.generation.close();
  }
}

/** What `ingest` would change, found as it would find it, without writing anything: `npm run ingest -- --dry-run`. */
export async function planChanges(
  config: Config,
  options: Pick<IngestOptions, 'chunker' | 'full'> = {},
): Promise<IngestChanges> {
  const files = await corpusFiles(config);
  if (config.indexStore === 'postgres') {
    const skipped: SkippedFile[] = [];
    for await (const [, read] of readAhead(files, readOrSkip)) if ('reason' in read) skipped.push(read);
    return databaseChanges(await servedDescription(config), files, skipped);
  }
  const stored = await openStoredGeneration(config.indexDir);
  try {
    return changesOf(await planIngest(files, stored, ingestSettings(config, options.chunker), options));
  } finally {
    if ('generation' in stored) stored.generation.close();
  }
}

async function corpusFiles(config: Config): Promise<CorpusFile[]> {
  const files = await listCorpusFiles(config.corpusDir);
  if (files.length === 0) {
    throw new CorpusError(`The corpus folder ${config.corpusDir} holds no ${READ_EXTENSIONS} document.`);
  }
  return files;
}

function ingestSettings(config: Config, chunker: ChunkerSettings = DEFAULTS.chunking): IngestSettings {
  return {
    embedderId: embedderId(config.embedder),
    readerVersion: READER_VERSION,
    chunker,
    carriesVectors: config.embedder.kind !== 'lexical',
  };
}

function changesOf(plan: IngestPlan): IngestChanges {
  const sources = (status: FileStatus) =>
    plan.files.filter((file) => file.status === status).map((file) => file.file.source);
  return {
    fullReason: plan.fullReason,
    added: sources('added'),
    changed: sources('changed'),
    removed: plan.removed,
    unchanged: sources('unchanged'),
    refurnished: plan.files.filter((file) => file.refurnished).map((file) => file.file.source),
    skipped: plan.files.flatMap((file) => (file.skipped === undefined ? [] : [file.skipped])),
  };
}

/** A run of consecutive passages of the new index: carried over from stored ordinal `from`, or made by this run. */
interface Run {
  count: number;
  from: number | undefined;
}

/** Writes the files of a new generation in `staging` as the plan says; returns its manifest and what it did. */
async function writeGeneration(
  staging: string,
  plan: IngestPlan,
  spool: ReadingSpool,
  stored: StoredGeneration | undefined,
  config: Config,
  chunker: ChunkerSettings,
  options: IngestOptions,
  onSplit: () => void,
): Promise<{ manifest: ManifestContent; summary: Omit<IngestSummary, 'changes' | 'generation' | 'timings'> }> {
  const chunksFile = path.join(staging, INDEX_FILES.chunks);
  const writer = await ChunkWriter.create(chunksFile);
  const keywords = new KeywordIndexBuilder();
  const lexical =
    config.embedder.kind === 'lexical' ? new LexicalEmbeddings({ dimensions: config.embedder.dimensions }) : undefined;
  const sources: Manifest['sources'] = [];
  const documents: IngestedDocument[] = [];
  const skipped: SkippedFile[] = [];
  const runs: Run[] = [];
  const sourceTexts = await SourceTextWriter.create(path.join(staging, INDEX_FILES.sources));
  const censuses = await CensusWriter.create(path.join(staging, INDEX_FILES.census));
  const storedSources = new Map(stored?.manifest.sources.map((entry) => [entry.source, entry]));
  const add = async (chunk: Chunk) => {
    await writer.add(chunk);
    keywords.add(keywordTerms(chunk));
    lexical?.observe(embeddedText(chunk));
  };
  const spooled = spool.files();
  try {
    // A file the plan read comes back from the spool; an unchanged file whose page furniture changed is read now.
    const read = async (file: PlannedFile): Promise<ReadFile | undefined> => {
      if (file.skipped !== undefined || file.carried !== undefined) return undefined;
      if (file.read) {
        const next = await spooled.next();
        if (next.done === true || next.value.source !== file.file.source) {
          throw new Error(`the spool does not hold ${file.file.source}`);
        }
        return next.value;
      }
      return readUnchanged(file);
    };
    for await (const [file, found] of readAhead(plan.files, read)) {
      const { source } = file.file;
      if (file.skipped !== undefined) {
        skipped.push(file.skipped);
        continue;
      }
      if (found === undefined) {
        // Carried over: the stored passages, text and census, as they are.
        const entry = storedSources.get(source);
        const census = plan.carriedCensus.get(source);
        const text = await stored?.sourceText(source);
        if (stored === undefined || file.carried === undefined || entry === undefined || census === undefined) {
          throw new Error(`${source} cannot be carried over`);
        }
        if (text === undefined) throw new Error(`the index in place holds no text of ${source}`);
        for await (const chunk of stored.chunks(file.carried)) await add(chunk);
        await sourceTexts.addText(text);
        await censuses.add(source, census);
        const range = sourceTexts.ranges.get(source);
        if (range === undefined) throw new Error(`No text was written for ${source}.`);
        sources.push({ ...entry, text: range });
        documents.push({
          source,
          chars: entry.chars,
          language: entry.language,
          chunks: entry.chunks,
          ...(text.pages === undefined ? {} : { pages: text.pages.length }),
        });
        runs.push({ count: entry.chunks, from: file.carried.start });
        continue;
      }
      const census = censusOf(found.reading);
      const document = toDocument(found, plan.census.content(found.reading, census));
      const chunks = splitIntoChunks(document, chunker);
      for (const chunk of chunks) await add(chunk);
      await sourceTexts.add(document);
      await censuses.add(source, census);
      const text = sourceTexts.ranges.get(document.source);
      if (text === undefined) throw new Error(`No text was written for ${document.source}.`);
      sources.push({
        source: document.source,
        checksum: document.checksum,
        title: document.title,
        language: document.language,
        chars: document.text.length,
        chunks: chunks.length,
        text,
      });
      documents.push(ingestedDocument(document, chunks.length));
      runs.push({ count: chunks.length, from: undefined });
    }
  } finally {
    await spooled.return(undefined);
    await spool.remove();
    await writeFile(path.join(staging, INDEX_FILES.chunkTable), await writer.close());
    await sourceTexts.close();
    await censuses.close();
  }
  lexical?.completeFit();
  onSplit();

  // Embed in this thread (or take the stored vectors), build the graphs in others.
  const embedder = lexical === undefined ? await createIndexEmbedder(config.embedder, []) : undefined;
  const embeddings = options.embeddings ?? lexical ?? embedder?.embeddings;
  if (embeddings === undefined) throw new Error('no embedder');
  const chunkCount = writer.count;
  // Only a server's vectors are kept, and carried over; the lexical ones depend on weights fitted on the corpus.
  const keepsVectors = config.embedder.kind !== 'lexical';
  const carried = keepsVectors && stored !== undefined;
  let vectors: VectorIndexBuilder | undefined;
  let vectorFile: VectorFileWriter | undefined;
  let added = 0;
  // Carried vectors count as done as they are taken: the rate and time left are those of the whole index.
  const report = () => options.onProgress?.({ stage: 'embed', chunks: added, totalChunks: chunkCount });
  const addVector = async (vector: ArrayLike<number>) => {
    vectors ??= new VectorIndexBuilder(vector.length, chunkCount);
    vectors.add(vector);
    if (keepsVectors) {
      vectorFile ??= await VectorFileWriter.create(path.join(staging, INDEX_FILES.vectors), vector.length);
      await vectorFile.add(vector);
    }
    added += 1;
    if (added % DEFAULTS.vectors.batch === 0) {
      await vectors.drained();
      report();
    }
  };
  let embedded = 0;
  try {
    report();
    if (embeddings instanceof LexicalEmbeddings) {
      const scratch = new Float32Array(embeddings.dimensions);
      for await (const chunk of readChunks(chunksFile))
        await addVector(embeddings.vector(embeddedText(chunk), scratch));
      embedded = chunkCount;
    } else {
      const made = (run: Run) => !carried || run.from === undefined;
      const fresh = embedInBatches(embeddings, passagesOfRuns(chunksFile, runs, made));
      const kept =
        stored !== undefined && carried
          ? stored.vectors(runs.flatMap((run) => (made(run) ? [] : [rangeOf(run)])))[Symbol.asyncIterator]()
          : undefined;
      try {
        for (const run of runs) {
          const source = made(run) ? fresh : kept;
          for (let index = 0; index < run.count; index += 1) {
            const next = await source?.next();
            if (next === undefined || next.done === true) throw new Error('fewer vectors than passages');
            await addVector(next.value);
          }
          if (made(run)) embedded += run.count;
        }
      } finally {
        // Closes the files they read, also after a failure.
        await fresh.return(undefined);
        await kept?.return?.(undefined);
      }
    }
    if (vectors === undefined) throw new CorpusError(`The corpus folder ${config.corpusDir} yields no passage.`);
    const built = vectors;
    report();
    options.onProgress?.({ stage: 'write' });
    await vectorFile?.close();
    // The keyword index is laid out while the workers insert the last vectors.
    await writeFile(path.join(staging, INDEX_FILES.keywords), keywords.build().toBuffer());
    await built.finish(
      Array.from({ length: built.shardCount }, (_shard, index) => path.join(staging, vectorShardFile(index))),
    );
    const id = lexical?.id ?? embedder?.id ?? embedderId(config.embedder);
    if (lexical !== undefined) {
      await writeFile(path.join(staging, INDEX_FILES.embedder), JSON.stringify(lexical.toJSON()));
    }
    return {
      manifest: {
        embedder: { id, dimensions: built.dimensions },
        readerVersion: READER_VERSION,
        chunker: { ...chunker },
        sources,
        skipped,
        chunkCount,
      },
      summary: {
        documents,
        skipped,
        chunkCount,
        embeddedChunks: embedded,
        carriedChunks: runs.reduce((total, run) => total + (run.from === undefined ? 0 : run.count), 0),
        embedderId: id,
        dimensions: built.dimensions,
      },
    };
  } catch (error) {
    await vectors?.abandon();
    await vectorFile?.abandon();
    throw error;
  }
}

/**
 * Reads an unchanged file the plan did not read (its page furniture changed with the corpus), making sure it is the
 * file the plan checksummed: a file edited during the ingest is not indexed under its old checksum.
 */
async function readUnchanged(file: PlannedFile): Promise<ReadFile> {
  const found = await readCorpusFile(file.file).catch((error: unknown) => {
    if (error instanceof UnreadableDocumentError) return undefined;
    throw error;
  });
  if (found === undefined || found.checksum !== file.checksum) {
    throw new CorpusError(`${file.file.source} changed while the index was being built; run the ingest again.`);
  }
  return found;
}

function rangeOf(run: Run): OrdinalRange {
  const start = run.from ?? 0;
  return { start, end: start + run.count };
}

/** The texts to embed of the passages file's runs that `wanted` selects, in order; the other lines are not parsed. */
async function* passagesOfRuns(
  chunksFile: string,
  runs: readonly Run[],
  wanted: (run: Run) => boolean,
): AsyncGenerator<string> {
  const lines = readLines(chunksFile)[Symbol.asyncIterator]();
  try {
    for (const run of runs) {
      for (let index = 0; index < run.count; index += 1) {
        const line = await lines.next();
        if (line.done === true) throw new Error(`${chunksFile} ends before its passages do`);
        if (wanted(run)) yield embeddedText(JSON.parse(line.value) as Chunk);
      }
    }
  } finally {
    await lines.return(undefined);
  }
}

/** The vectors of texts, asked of the embedder `EMBEDDING_BATCH` texts at a time, in order. */
async function* embedInBatches(
  embeddings: EmbeddingsInterface,
  texts: AsyncIterable<string>,
): AsyncGenerator<number[]> {
  let batch: string[] = [];
  for await (const text of texts) {
    batch.push(text);
    if (batch.length === EMBEDDING_BATCH) {
      yield* await embeddings.embedDocuments(batch);
      batch = [];
    }
  }
  if (batch.length > 0) yield* await embeddings.embedDocuments(batch);
}

/** Why an ingest into PostgreSQL reads the whole corpus: the database store writes each generation whole. */
const WHOLE_GENERATION = 'the PostgreSQL store writes each generation whole';

/** A corpus file read, or the reason it cannot be. */
async function readOrSkip(file: CorpusFile): Promise<ReadFile | SkippedFile> {
  try {
    return await readCorpusFile(file);
  } catch (error) {
    if (!(error instanceof UnreadableDocumentError)) throw error;
    return { source: file.source, checksum: await fileChecksum(file), reason: error.message };
  }
}

/** What the database serves now, if anything. */
async function servedDescription(config: Config): Promise<IndexDescription | undefined> {
  const store = openIndexStore(config);
  return store
    .describe()
    .catch(() => undefined)
    .finally(() => store.close());
}

/** The corpus's files against the generation served: what a new generation adds, changes and drops. */
async function databaseChanges(
  served: IndexDescription | undefined,
  files: readonly CorpusFile[],
  skipped: SkippedFile[],
): Promise<IngestChanges> {
  const indexed = new Map(
    [...(served?.sources ?? []), ...(served?.skipped ?? [])].map((source) => [source.source, source.checksum]),
  );
  const changes: IngestChanges = {
    fullReason: WHOLE_GENERATION,
    added: [],
    changed: [],
    removed: [],
    unchanged: [],
    refurnished: [],
    skipped,
  };
  const present = new Set<string>();
  for (const file of files) {
    present.add(file.source);
    const checksum = indexed.get(file.source);
    if (checksum === undefined) changes.added.push(file.source);
    else if (checksum !== (await fileChecksum(file))) changes.changed.push(file.source);
    else changes.unchanged.push(file.source);
  }
  changes.removed = [...indexed.keys()].filter((source) => !present.has(source)).sort();
  return changes;
}

/**
 * Writes a new generation of the whole corpus into the database and makes it current in one transaction. Files are
 * read twice (a census of page furniture, then the content, kept in a spool between the two), split, and their
 * passages inserted in batches with their vectors while the next batch is embedded; then the keyword postings are
 * written and the database builds the HNSW index. The spool and the chunk file live in a temporary folder.
 */
async function ingestIntoDatabase(config: Config, options: IngestOptions): Promise<IngestSummary> {
  const database = config.database;
  if (database === undefined) throw new Error('INDEX_STORE=postgres without a database');
  const chunker = options.chunker ?? DEFAULTS.chunking;
  const report = options.onProgress ?? (() => undefined);
  const clock = stopwatch();
  const files = await corpusFiles(config);
  const served = await servedDescription(config);
  const timings = { planMs: 0, splitMs: 0, indexMs: 0, writeMs: 0 };
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'cited-answers-ingest-'));
  // No statement bound: building the HNSW index of a large corpus takes minutes.
  const pool = createPool(database, () => undefined, 2, 0);
  let writer: GenerationWriter | undefined;
  try {
    writer = await GenerationWriter.begin(pool, database, config.indexName);
    const generationWriter = writer;
    const chunksFile = path.join(scratch, 'chunks.jsonl');
    const writerOfChunks = await ChunkWriter.create(chunksFile);
    const keywords = new KeywordIndexBuilder();
    const lexical =
      config.embedder.kind === 'lexical'
        ? new LexicalEmbeddings({ dimensions: config.embedder.dimensions })
        : undefined;
    const documents: IngestedDocument[] = [];
    const skipped: SkippedFile[] = [];
    const spool = await ReadingSpool.create(path.join(scratch, SPOOL_FILE));
    try {
      const census = new BoilerplateCensus();
      let pages = 0;
      for await (const [, read] of readAhead(files, readOrSkip)) {
        if ('reason' in read) skipped.push(read);
        else {
          census.count(censusOf(read.reading));
          await spool.add(read);
          pages += read.reading.pages?.length ?? 0;
        }
        report({ stage: 'read', files: spool.size + skipped.length, totalFiles: files.length, pages });
      }
      if (spool.size === 0) {
        throw new CorpusError(
          `No document of the corpus folder ${config.corpusDir} could be read:\n` +
            skipped.map((file) => `  ${file.source}: ${file.reason}`).join('\n'),
        );
      }
      timings.planMs = clock.lap();
      for await (const file of spool.files()) {
        const document: SourceDocument = toDocument(file, census.content(file.reading));
        const chunks = splitIntoChunks(document, chunker);
        for (const chunk of chunks) {
          await writerOfChunks.add(chunk);
          keywords.add(keywordTerms(chunk));
          lexical?.observe(embeddedText(chunk));
        }
        await generationWriter.addSource(document, chunks.length);
        documents.push(ingestedDocument(document, chunks.length));
      }
    } finally {
      await spool.remove();
      await writerOfChunks.close();
    }
    lexical?.completeFit();
    const chunkCount = writerOfChunks.count;
    timings.splitMs = clock.lap();

    const embedder = lexical === undefined ? await createIndexEmbedder(config.embedder, []) : undefined;
    const embeddings = options.embeddings ?? lexical ?? embedder?.embeddings;
    if (embeddings === undefined) throw new Error('no embedder');
    const id = lexical?.id ?? embedder?.id ?? embedderId(config.embedder);
    let dimensions: number | undefined;
    let embedded = 0;
    const progress = () => report({ stage: 'embed', chunks: embedded, totalChunks: chunkCount });
    const add = async (chunk: Chunk, vector: ArrayLike<number>) => {
      dimensions ??= vector.length;
      await generationWriter.addChunk(chunk, vector);
      embedded += 1;
      if (embedded % DEFAULTS.vectors.batch === 0) progress();
    };
    progress();
    if (embeddings instanceof LexicalEmbeddings) {
      const scratchVector = new Float32Array(embeddings.dimensions);
      for await (const chunk of readChunks(chunksFile)) {
        await add(chunk, embeddings.vector(embeddedText(chunk), scratchVector));
      }
    } else {
      let batch: Chunk[] = [];
      const flush = async () => {
        const vectors = await embeddings.embedDocuments(batch.map(embeddedText));
        for (const [index, vector] of vectors.entries()) await add(batch[index] as Chunk, vector);
        batch = [];
      };
      for await (const chunk of readChunks(chunksFile)) {
        batch.push(chunk);
        if (batch.length === EMBEDDING_BATCH) await flush();
      }
      if (batch.length > 0) await flush();
    }
    if (dimensions === undefined) throw new CorpusError(`The corpus folder ${config.corpusDir} yields no passage.`);
    progress();
    report({ stage: 'write' });
    timings.indexMs = clock.lap();
    await writer.finish(
      keywords.build(),
      {
        formatVersion: INDEX_FORMAT_VERSION,
        createdAt: new Date().toISOString(),
        embedder: { id, dimensions },
        readerVersion: READER_VERSION,
        chunker: { ...chunker },
        skipped,
        chunkCount,
      },
      lexical?.toJSON(),
    );
    timings.writeMs = clock.lap();
    return {
      documents,
      skipped,
      changes: await databaseChanges(served, files, skipped),
      chunkCount,
      embeddedChunks: chunkCount,
      carriedChunks: 0,
      embedderId: id,
      dimensions,
      generation: `${config.indexName}@${writer.generation}`,
      timings: { ...timings, totalMs: clock.total() },
    };
  } catch (error) {
    await writer?.abandon();
    throw error;
  } finally {
    await pool.end().catch(() => undefined);
    await rm(scratch, { recursive: true, force: true });
  }
}

/**
 * Why the index must be rebuilt for this configuration and corpus, or undefined when it is up to date:
 * missing, another format, embedder or chunker, or a corpus file added, removed or changed.
 */
export async function staleReason(
  config: Config,
  chunker: ChunkerSettings = DEFAULTS.chunking,
): Promise<string | undefined> {
  const manifest: IndexDescription | undefined =
    config.indexStore === 'postgres'
      ? await servedDescription(config)
      : await readManifest(config.indexDir).catch(() => undefined);
  if (manifest === undefined) return 'there is no index yet';
  if (manifest.formatVersion !== INDEX_FORMAT_VERSION) return 'the index has an older format';
  const changed = settingsChange(manifest, {
    embedderId: embedderId(config.embedder),
    readerVersion: READER_VERSION,
    chunker,
  });
  if (changed !== undefined) return changed;
  const files = await listCorpusFiles(config.corpusDir);
  const indexed = new Map([...manifest.sources, ...manifest.skipped].map((source) => [source.source, source.checksum]));
  if (files.length !== indexed.size) return 'documents were added to or removed from the corpus';
  for (const file of files) {
    const checksum = indexed.get(file.source);
    if (checksum === undefined) return `${file.source} is new`;
    if ((await fileChecksum(file)) !== checksum) return `${file.source} changed`;
  }
  return undefined;
}

function stopwatch() {
  const started = performance.now();
  let last = started;
  return {
    lap(): number {
      const now = performance.now();
      const elapsed = now - last;
      last = now;
      return elapsed;
    },
    total: () => performance.now() - started,
  };
}

/** What the summary says of a document read and split by this run. */
function ingestedDocument(document: SourceDocument, chunks: number): IngestedDocument {
  return {
    source: document.source,
    chars: document.text.length,
    language: document.language,
    chunks,
    ...(document.pages === undefined ? {} : { pages: document.pages.length }),
  };
}
