import type { EmbeddingsInterface } from '@langchain/core/embeddings';
import type { Config } from '../core/config.js';
import { DEFAULTS } from '../core/defaults.js';
import { embedderId } from '../core/embeddings/create-embeddings.js';
import type { LexicalEmbeddings } from '../core/embeddings/lexical-embeddings.js';
import { CorpusError, UnreadableDocumentError } from '../core/errors.js';
import type { DocumentCensus } from '../core/index/census-file.js';
import { readLines } from '../core/index/json-lines.js';
import { type KeywordIndexBuilder, keywordTerms } from '../core/index/keyword-index.js';
import type { IndexedSource } from '../core/index/passage-index.js';
import type { StoredGeneration, StoredGenerationResult } from '../core/index/stored-generation.js';
import type { OrdinalRange } from '../core/index/vector-file.js';
import { embeddedText } from '../core/index/vector-index.js';
import type { Chunk, Language, SourceDocument } from '../core/types.js';
import {
  type CorpusFile,
  listCorpusFiles,
  READ_EXTENSIONS,
  type ReadFile,
  READER_VERSION,
  readCorpusFile,
  type SkippedFile,
  toDocument,
} from './load-documents.js';
import {
  fileCensusOf,
  type FileStatus,
  type IngestPlan,
  type IngestSettings,
  type PlannedFile,
  planIngest,
  type PlanOptions,
  readAhead,
} from './plan-ingest.js';
import type { ReadingSpool } from './reading-spool.js';
import { censusOf } from './remove-boilerplate.js';
import { type ChunkerSettings, splitIntoChunks } from './split-into-chunks.js';

/**
 * What writing a new generation of the index does the same way whichever store holds it: what an ingest reports, and
 * the pass that takes the corpus as the plan says, file by file — a file read is split, an unchanged one's passages
 * are taken from the stored generation — and the embedding of the passages made, in batches.
 */

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
  /**
   * Threads that read and split files into a folder index, this one included (1: this one alone); by default one
   * per core for a corpus of `DEFAULTS.ingest.threadsFromBytes` or more.
   */
  threads?: number;
}

/** The spool of files read, in a working folder while the index is built; removed before the index is complete. */
export const SPOOL_FILE = '.readings.jsonl';

/** Passages embedded at a time by an embedder other than the lexical one (a request to a server). */
const EMBEDDING_BATCH = 64;

/** The corpus's files, in path order; a folder without a document is an error. */
export async function corpusFiles(config: Config): Promise<CorpusFile[]> {
  const files = await listCorpusFiles(config.corpusDir);
  if (files.length === 0) {
    throw new CorpusError(`The corpus folder ${config.corpusDir} holds no ${READ_EXTENSIONS} document.`);
  }
  return files;
}

/** What the configuration builds an index with, as the plan compares it with the index in place. */
export function ingestSettings(config: Config, chunker: ChunkerSettings = DEFAULTS.chunking): IngestSettings {
  return {
    embedderId: embedderId(config.embedder),
    readerVersion: READER_VERSION,
    chunker,
    carriesVectors: config.embedder.kind !== 'lexical',
  };
}

/** A plan, as an ingest reports it: each file by what happens to it. */
export function changesOf(plan: IngestPlan): IngestChanges {
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

/**
 * Plans an ingest (`planIngest`) with the reader given, reporting each file planned as read. Fails, listing every
 * file with its reason, when no file of the corpus can be read.
 */
export async function planReadable(
  files: readonly CorpusFile[],
  stored: StoredGenerationResult,
  config: Config,
  options: IngestOptions,
  reading: Pick<PlanOptions, 'read' | 'ahead'>,
): Promise<IngestPlan> {
  let planned = 0;
  let pages = 0;
  const plan = await planIngest(files, stored, ingestSettings(config, options.chunker), {
    full: options.full,
    ...reading,
    onPlanned: (_file, filePages) => {
      planned += 1;
      pages += filePages;
      options.onProgress?.({ stage: 'read', files: planned, totalFiles: files.length, pages });
    },
  });
  if (plan.files.every((file) => file.skipped !== undefined)) {
    throw new CorpusError(
      `No document of the corpus folder ${config.corpusDir} could be read:\n` +
        plan.files.map(({ skipped }) => `  ${skipped?.source}: ${skipped?.reason}`).join('\n'),
    );
  }
  return plan;
}

/** Plans an ingest, keeping each file the plan reads in the spool. */
export function planIntoSpool(
  files: readonly CorpusFile[],
  stored: StoredGenerationResult,
  spool: ReadingSpool,
  config: Config,
  options: IngestOptions,
): Promise<IngestPlan> {
  return planReadable(files, stored, config, options, {
    read: async (file) => {
      const read = await readCorpusFile(file);
      await spool.add(read);
      return fileCensusOf(read);
    },
  });
}

/** A run of consecutive passages of the new index: carried over from stored ordinal `from`, or made by this run. */
export interface Run {
  count: number;
  from: number | undefined;
}

/** Where a run's passages were in the stored generation (for a run carried over). */
export function rangeOf(run: Run): OrdinalRange {
  const start = run.from ?? 0;
  return { start, end: start + run.count };
}

/** How many passages the runs carried over. */
export function carriedCount(runs: readonly Run[]): number {
  return runs.reduce((total, run) => total + (run.from === undefined ? 0 : run.count), 0);
}

/** An unchanged source carried over: its entry in the stored generation, its census, where its passages were. */
export interface CarriedSource {
  source: IndexedSource;
  census: DocumentCensus;
  range: OrdinalRange;
}

/** Where `splitPlannedFiles` puts the generation's content: each store writes it its own way. */
export interface GenerationContent {
  /** Each passage of the new generation, in order, carried over or made. */
  addChunk(chunk: Chunk): Promise<void>;
  /**
   * Unchanged sources of the stored generation that follow each other, carried over with their texts and censuses,
   * before their passages; returns the page count of each (paged documents).
   */
  carrySources(sources: readonly CarriedSource[]): Promise<Array<number | undefined>>;
  /** A document read and split by this run, after its passages, with its census. */
  addSource(document: SourceDocument, chunkCount: number, census: DocumentCensus): Promise<void>;
}

/** The corpus as `splitPlannedFiles` took it: what the summary reports, and the runs of passages, in order. */
export interface SplitCorpus {
  documents: IngestedDocument[];
  skipped: SkippedFile[];
  runs: Run[];
}

/**
 * Takes the corpus as the plan says, file by file in path order: a file the plan read comes back from the spool and
 * an unchanged one whose page furniture changed is read now, and both are split; an unchanged file's passages are
 * taken from the stored generation, those of unchanged files that follow each other in both generations together
 * (a store that keeps its index in a database copies them in a few statements rather than one or two per file).
 * Every passage goes to `content` and is counted in the keyword index and the lexical embedder's statistics, which
 * are always made again from all the passages.
 */
export async function splitPlannedFiles(
  plan: IngestPlan,
  spool: ReadingSpool,
  stored: StoredGeneration | undefined,
  chunker: ChunkerSettings,
  statistics: { keywords: KeywordIndexBuilder; lexical: LexicalEmbeddings | undefined },
  content: GenerationContent,
): Promise<SplitCorpus> {
  const documents: IngestedDocument[] = [];
  const skipped: SkippedFile[] = [];
  const runs: Run[] = [];
  const storedSources = new Map(stored?.description.sources.map((entry) => [entry.source, entry]));
  const add = async (chunk: Chunk) => {
    await content.addChunk(chunk);
    statistics.keywords.add(keywordTerms(chunk));
    statistics.lexical?.observe(embeddedText(chunk));
  };
  // Unchanged files waiting to be carried over together, their passages consecutive in the stored generation.
  let waiting: CarriedSource[] = [];
  const carryWaiting = async () => {
    const first = waiting[0];
    const last = waiting.at(-1);
    if (stored === undefined || first === undefined || last === undefined) return;
    const carried = waiting;
    waiting = [];
    const pages = await content.carrySources(carried);
    for await (const chunk of stored.chunks({ start: first.range.start, end: last.range.end })) await add(chunk);
    carried.forEach(({ source }, index) => documents.push(documentSummary(source, pages[index])));
    runs.push({ count: last.range.end - first.range.start, from: first.range.start });
  };
  const spooled = spool.files();
  try {
    const read = async (file: PlannedFile): Promise<ReadFile | undefined> => {
      if (file.skipped !== undefined || file.carried !== undefined) return undefined;
      if (file.read) {
        const next = await spooled.next();
        if (next.done === true || next.value.source !== file.file.source) {
          throw new Error(`the spool does not hold ${file.file.source}`);
        }
        return next.value;
      }
      return readUnchanged(file, readCorpusFile);
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
        if (stored === undefined || file.carried === undefined || entry === undefined || census === undefined) {
          throw new Error(`${source} cannot be carried over`);
        }
        if (waiting.at(-1)?.range.end !== file.carried.start) await carryWaiting();
        waiting.push({ source: entry, census, range: file.carried });
        continue;
      }
      await carryWaiting();
      const census = censusOf(found.reading);
      const document = toDocument(found, plan.census.content(found.reading, census));
      const chunks = splitIntoChunks(document, chunker);
      for (const chunk of chunks) await add(chunk);
      await content.addSource(document, chunks.length, census);
      documents.push(ingestedDocument(document, chunks.length));
      runs.push({ count: chunks.length, from: undefined });
    }
    await carryWaiting();
  } finally {
    await spooled.return(undefined);
  }
  return { documents, skipped, runs };
}

/**
 * Reads (with `read`) an unchanged file the plan did not read (its page furniture changed with the corpus), making
 * sure it is the file the plan checksummed: a file edited during the ingest is not indexed under its old checksum.
 */
export async function readUnchanged<Read extends { checksum: string }>(
  file: PlannedFile,
  read: (file: CorpusFile) => Promise<Read>,
): Promise<Read> {
  const found = await read(file.file).catch((error: unknown) => {
    if (error instanceof UnreadableDocumentError) return undefined;
    throw error;
  });
  if (found === undefined || found.checksum !== file.checksum) {
    throw new CorpusError(`${file.file.source} changed while the index was being built; run the ingest again.`);
  }
  return found;
}

/** What the summary says of a document read and split by this run. */
function ingestedDocument(document: SourceDocument, chunks: number): IngestedDocument {
  const { source, language } = document;
  return documentSummary({ source, chars: document.text.length, language, chunks }, document.pages?.length);
}

/** What the summary says of a document, read by this run or carried over, with its pages when it has some. */
export function documentSummary(
  document: Omit<IngestedDocument, 'pages'>,
  pages: number | undefined,
): IngestedDocument {
  const { source, chars, language, chunks } = document;
  return { source, chars, language, chunks, ...(pages === undefined ? {} : { pages }) };
}

/** The passages of a passages file's runs that `wanted` selects, in order; the other lines are not parsed. */
export async function* chunksOfRuns(
  chunksFile: string,
  runs: readonly Run[],
  wanted: (run: Run) => boolean,
): AsyncGenerator<Chunk> {
  const lines = readLines(chunksFile)[Symbol.asyncIterator]();
  try {
    for (const run of runs) {
      for (let index = 0; index < run.count; index += 1) {
        const line = await lines.next();
        if (line.done === true) throw new Error(`${chunksFile} ends before its passages do`);
        if (wanted(run)) yield JSON.parse(line.value) as Chunk;
      }
    }
  } finally {
    await lines.return(undefined);
  }
}

/** Each passage with its vector, asked of the embedder `EMBEDDING_BATCH` passages at a time, in order. */
export async function* embedInBatches(
  embeddings: EmbeddingsInterface,
  chunks: AsyncIterable<Chunk>,
): AsyncGenerator<[Chunk, number[]]> {
  let batch: Chunk[] = [];
  const embed = async function* () {
    const vectors = await embeddings.embedDocuments(batch.map(embeddedText));
    if (vectors.length !== batch.length) throw new Error(`${vectors.length} vectors for ${batch.length} passages`);
    const done = batch;
    batch = [];
    for (const [index, vector] of vectors.entries()) yield [done[index] as Chunk, vector] as [Chunk, number[]];
  };
  for await (const chunk of chunks) {
    batch.push(chunk);
    if (batch.length === EMBEDDING_BATCH) yield* embed();
  }
  if (batch.length > 0) yield* embed();
}

/** Times the stages of an ingest. */
export function stopwatch() {
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
