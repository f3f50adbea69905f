import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { EmbeddingsInterface } from '@langchain/core/embeddings';
import type { Config } from '../core/config.js';
import { DEFAULTS } from '../core/defaults.js';
import { createIndexEmbedder, embedderId } from '../core/embeddings/create-embeddings.js';
import { LexicalEmbeddings } from '../core/embeddings/lexical-embeddings.js';
import { CorpusError, UnreadableDocumentError } from '../core/errors.js';
import { ChunkWriter, readChunks } from '../core/index/chunk-store.js';
import {
  INDEX_FILES,
  type ManifestContent,
  readManifest,
  vectorShardFile,
  writeIndex,
} from '../core/index/index-store.js';
import { KeywordIndexBuilder, keywordTerms } from '../core/index/keyword-index.js';
import { INDEX_FORMAT_VERSION, type Manifest } from '../core/index/manifest.js';
import { SourceTextWriter } from '../core/index/source-texts.js';
import { embeddedText, VectorIndexBuilder } from '../core/index/vector-index.js';
import type { Language } from '../core/types.js';
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
import { ReadingSpool } from './reading-spool.js';
import { BoilerplateCensus } from './remove-boilerplate.js';
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

export interface IngestSummary {
  documents: IngestedDocument[];
  /** Files that could not be read, with a one-line reason each; the rest of the corpus is indexed. */
  skipped: SkippedFile[];
  chunkCount: number;
  embedderId: string;
  dimensions: number;
  generation: string;
  timings: {
    /** Reading, splitting, keyword terms and embedder statistics, one document at a time. */
    splitMs: number;
    /** Embedding the passages while another thread builds the vector graph, and laying out the keyword index. */
    indexMs: number;
    writeMs: number;
    totalMs: number;
  };
}

/** Where an ingest is: reading files (with the pages of paged documents), embedding passages, or writing. */
export type IngestProgress =
  | { stage: 'read'; files: number; totalFiles: number; pages: number }
  | { stage: 'embed'; chunks: number; totalChunks: number }
  | { stage: 'write' };

export interface IngestOptions {
  chunker?: ChunkerSettings;
  /** Replaces the configured embedder (tests use it to simulate a failure mid-ingest). */
  embeddings?: EmbeddingsInterface;
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
 * Documents stream through, so memory holds the index being built, not the corpus. A census reads every file once
 * to learn what repeats across the corpus (page furniture), keeping what it read in a spool on disk; then each file
 * is taken back from the spool, split, and its passages written to the chunk store, their keyword terms and the
 * lexical embedder's statistics counted; last, the passages are read back and embedded, and the vectors handed to a
 * worker thread that builds the hnswlib graph while this thread lays out the keyword index.
 *
 * A file that cannot be read is skipped and listed in the summary; when none can be, nothing is written and the
 * index in place keeps serving.
 */
export async function ingest(config: Config, options: IngestOptions = {}): Promise<IngestSummary> {
  const chunker = options.chunker ?? DEFAULTS.chunking;
  const report = options.onProgress ?? (() => undefined);
  const clock = stopwatch();
  const files = await listCorpusFiles(config.corpusDir);
  if (files.length === 0) {
    throw new CorpusError(`The corpus folder ${config.corpusDir} holds no ${READ_EXTENSIONS} document.`);
  }
  const documents: IngestedDocument[] = [];
  const skipped: SkippedFile[] = [];
  const timings = { splitMs: 0, indexMs: 0, writeMs: 0 };
  let summary: { id: string; dimensions: number; chunkCount: number } | undefined;

  const generation = await writeIndex(config.indexDir, async (staging): Promise<ManifestContent> => {
    const chunksFile = path.join(staging, INDEX_FILES.chunks);
    const writer = await ChunkWriter.create(chunksFile);
    const keywords = new KeywordIndexBuilder();
    const lexical =
      config.embedder.kind === 'lexical'
        ? new LexicalEmbeddings({ dimensions: config.embedder.dimensions })
        : undefined;
    const sources: Manifest['sources'] = [];
    const sourceTexts = await SourceTextWriter.create(path.join(staging, INDEX_FILES.sources));
    const spool = await ReadingSpool.create(path.join(staging, SPOOL_FILE));
    try {
      const census = new BoilerplateCensus();
      let pages = 0;
      for await (const file of readAhead(files)) {
        if ('reason' in file) {
          skipped.push(file);
        } else {
          census.count(file.reading);
          await spool.add(file);
          pages += file.reading.pages?.length ?? 0;
        }
        report({ stage: 'read', files: spool.size + skipped.length, totalFiles: files.length, pages });
      }
      if (spool.size === 0) {
        throw new CorpusError(
          `No document of the corpus folder ${config.corpusDir} could be read:\n` +
            skipped.map((file) => `  ${file.source}: ${file.reason}`).join('\n'),
        );
      }
      for await (const file of spool.files()) {
        const document = toDocument(file, census.content(file.reading));
        const chunks = splitIntoChunks(document, chunker);
        for (const chunk of chunks) {
          await writer.add(chunk);
          keywords.add(keywordTerms(chunk));
          lexical?.observe(embeddedText(chunk));
        }
        await sourceTexts.add(document);
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
        documents.push({
          source: document.source,
          chars: document.text.length,
          language: document.language,
          chunks: chunks.length,
          ...(document.pages === undefined ? {} : { pages: document.pages.length }),
        });
      }
    } finally {
      await spool.remove();
      await writeFile(path.join(staging, INDEX_FILES.chunkTable), await writer.close());
      await sourceTexts.close();
    }
    lexical?.completeFit();
    timings.splitMs = clock.lap();

    // Pass 2: embed in this thread, build the graph in another.
    const embedder = lexical === undefined ? await createIndexEmbedder(config.embedder, []) : undefined;
    const embeddings = options.embeddings ?? lexical ?? embedder?.embeddings;
    if (embeddings === undefined) throw new Error('no embedder');
    const chunkCount = writer.count;
    let vectors: VectorIndexBuilder | undefined;
    const add = (vector: ArrayLike<number>) => {
      vectors ??= new VectorIndexBuilder(vector.length, chunkCount);
      vectors.add(vector);
    };
    let embedded = 0;
    const embedProgress = () => report({ stage: 'embed', chunks: embedded, totalChunks: chunkCount });
    try {
      embedProgress();
      if (embeddings instanceof LexicalEmbeddings) {
        const scratch = new Float32Array(embeddings.dimensions);
        for await (const chunk of readChunks(chunksFile)) {
          add(embeddings.vector(embeddedText(chunk), scratch));
          embedded += 1;
          if (embedded % DEFAULTS.vectors.batch === 0) {
            await vectors?.drained();
            embedProgress();
          }
        }
      } else {
        let texts: string[] = [];
        const flush = async () => {
          for (const vector of await embeddings.embedDocuments(texts)) add(vector);
          embedded += texts.length;
          texts = [];
          await vectors?.drained();
          embedProgress();
        };
        for await (const chunk of readChunks(chunksFile)) {
          texts.push(embeddedText(chunk));
          if (texts.length === EMBEDDING_BATCH) await flush();
        }
        await flush();
      }
      if (vectors === undefined) throw new CorpusError(`The corpus folder ${config.corpusDir} yields no passage.`);
      const built = vectors;
      embedProgress();
      report({ stage: 'write' });
      // The keyword index is laid out while the worker inserts the last vectors.
      await writeFile(path.join(staging, INDEX_FILES.keywords), keywords.build().toBuffer());
      await built.finish(
        Array.from({ length: built.shardCount }, (_shard, index) => path.join(staging, vectorShardFile(index))),
      );
      timings.indexMs = clock.lap();
      const id = lexical?.id ?? embedder?.id ?? embedderId(config.embedder);
      if (lexical !== undefined) {
        await writeFile(path.join(staging, INDEX_FILES.embedder), JSON.stringify(lexical.toJSON()));
      }
      summary = { id, dimensions: built.dimensions, chunkCount };
      return {
        embedder: { id, dimensions: built.dimensions },
        readerVersion: READER_VERSION,
        chunker: { ...chunker },
        sources,
        skipped,
        chunkCount,
      };
    } catch (error) {
      await vectors?.abandon();
      throw error;
    }
  });
  timings.writeMs = clock.lap();
  if (summary === undefined) throw new Error('the index was written without a summary');
  return {
    documents,
    skipped,
    chunkCount: summary.chunkCount,
    embedderId: summary.id,
    dimensions: summary.dimensions,
    generation,
    timings: { ...timings, totalMs: clock.total() },
  };
}

/**
 * Why the index must be rebuilt for this configuration and corpus, or undefined when it is up to date:
 * missing, another format, embedder or chunker, or a corpus file added, removed or changed.
 */
export async function staleReason(
  config: Config,
  chunker: ChunkerSettings = DEFAULTS.chunking,
): Promise<string | undefined> {
  const manifest: Manifest | undefined = await readManifest(config.indexDir).catch(() => undefined);
  if (manifest === undefined) return 'there is no index yet';
  if (manifest.formatVersion !== INDEX_FORMAT_VERSION) return 'the index has an older format';
  if (manifest.embedder.id !== embedderId(config.embedder)) return 'the index was built with another embedder';
  if (manifest.readerVersion !== READER_VERSION) return 'the document readers changed';
  if (JSON.stringify(manifest.chunker) !== JSON.stringify({ ...chunker })) return 'the chunker settings changed';
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

/**
 * Reads the files in order, each while the previous one is being processed; a file that cannot be read comes as the
 * reason why.
 */
async function* readAhead(files: readonly CorpusFile[]): AsyncGenerator<ReadFile | SkippedFile> {
  let next: Promise<ReadFile | SkippedFile> | undefined;
  const start = (file: CorpusFile | undefined) => {
    if (file === undefined) return undefined;
    const reading = readCorpusFile(file).catch(async (error: unknown): Promise<SkippedFile> => {
      if (!(error instanceof UnreadableDocumentError)) throw error;
      return { source: file.source, checksum: await fileChecksum(file), reason: error.message };
    });
    // Awaited on the next turn; a failure meanwhile must not go unhandled.
    reading.catch(() => undefined);
    return reading;
  };
  next = start(files[0]);
  for (let position = 0; next !== undefined; position += 1) {
    const current = await next;
    next = start(files[position + 1]);
    yield current;
  }
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
