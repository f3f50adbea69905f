import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../core/config.js';
import { DEFAULTS } from '../core/defaults.js';
import { createIndexEmbedder, embedderId } from '../core/embeddings/create-embeddings.js';
import { LexicalEmbeddings } from '../core/embeddings/lexical-embeddings.js';
import { CorpusError } from '../core/errors.js';
import { CensusWriter } from '../core/index/census-file.js';
import { ChunkWriter, readChunks } from '../core/index/chunk-store.js';
import {
  INDEX_FILES,
  type ManifestContent,
  readManifest,
  vectorShardFile,
  writeIndex,
} from '../core/index/index-store.js';
import { openIndexStore } from '../core/index/open-index-store.js';
import type { IndexDescription } from '../core/index/passage-index.js';
import { KeywordIndexBuilder } from '../core/index/keyword-index.js';
import { INDEX_FORMAT_VERSION, type Manifest } from '../core/index/manifest.js';
import { SourceTextWriter } from '../core/index/source-texts.js';
import { openStoredGeneration, type StoredGeneration } from '../core/index/stored-generation.js';
import { VectorFileWriter } from '../core/index/vector-file.js';
import { embeddedText, VectorIndexBuilder } from '../core/index/vector-index.js';
import { ingestIntoDatabase, planDatabaseChanges } from './ingest-into-database.js';
import { fileChecksum, listCorpusFiles, READER_VERSION } from './load-documents.js';
import { type IngestPlan, planIngest, settingsChange } from './plan-ingest.js';
import { ReadingSpool } from './reading-spool.js';
import type { ChunkerSettings } from './split-into-chunks.js';
import {
  carriedCount,
  changesOf,
  chunksOfRuns,
  corpusFiles,
  embedInBatches,
  type IngestChanges,
  type IngestOptions,
  type IngestSummary,
  ingestSettings,
  planIntoSpool,
  rangeOf,
  type Run,
  type SplitCorpus,
  SPOOL_FILE,
  splitPlannedFiles,
  stopwatch,
} from './write-generation.js';

export type {
  IngestChanges,
  IngestedDocument,
  IngestOptions,
  IngestProgress,
  IngestSummary,
} from './write-generation.js';

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
 * index in place keeps serving. With `INDEX_STORE=postgres` the index is a generation in the database, made the
 * same way (`ingest/ingest-into-database.ts`).
 */
export async function ingest(config: Config, options: IngestOptions = {}): Promise<IngestSummary> {
  if (config.indexStore === 'postgres') return ingestIntoDatabase(config, options);
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
        plan = await planIntoSpool(files, stored, spool, config, options);
        timings.planMs = clock.lap();
        const from = plan.fullReason === undefined && 'generation' in stored ? stored.generation : undefined;
        const written = await writeFolderGeneration(staging, plan, spool, from, config, options, () => {
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
  if (config.indexStore === 'postgres') return planDatabaseChanges(config, options);
  const files = await corpusFiles(config);
  const stored = await openStoredGeneration(config.indexDir);
  try {
    return changesOf(await planIngest(files, stored, ingestSettings(config, options.chunker), options));
  } finally {
    if ('generation' in stored) stored.generation.close();
  }
}

/** Writes the files of a new generation in `staging` as the plan says; returns its manifest and what it did. */
async function writeFolderGeneration(
  staging: string,
  plan: IngestPlan,
  spool: ReadingSpool,
  stored: StoredGeneration | undefined,
  config: Config,
  options: IngestOptions,
  onSplit: () => void,
): Promise<{ manifest: ManifestContent; summary: Omit<IngestSummary, 'changes' | 'generation' | 'timings'> }> {
  const chunker = options.chunker ?? DEFAULTS.chunking;
  const chunksFile = path.join(staging, INDEX_FILES.chunks);
  const writer = await ChunkWriter.create(chunksFile);
  const keywords = new KeywordIndexBuilder();
  const lexical =
    config.embedder.kind === 'lexical' ? new LexicalEmbeddings({ dimensions: config.embedder.dimensions }) : undefined;
  const sources: Manifest['sources'] = [];
  const sourceTexts = await SourceTextWriter.create(path.join(staging, INDEX_FILES.sources));
  const censuses = await CensusWriter.create(path.join(staging, INDEX_FILES.census));
  const textRange = (source: string) => {
    const range = sourceTexts.ranges.get(source);
    if (range === undefined) throw new Error(`No text was written for ${source}.`);
    return range;
  };
  let split: SplitCorpus;
  try {
    split = await splitPlannedFiles(
      plan,
      spool,
      stored,
      chunker,
      { keywords, lexical },
      {
        addChunk: (chunk) => writer.add(chunk),
        carrySources: async (carried) => {
          const pages: Array<number | undefined> = [];
          for (const { source, census } of carried) {
            const text = await stored?.sourceText(source.source);
            if (text === undefined) throw new Error(`the index in place holds no text of ${source.source}`);
            await sourceTexts.addText(text);
            await censuses.add(source.source, census);
            sources.push({ ...source, text: textRange(source.source) });
            pages.push(text.pages?.length);
          }
          return pages;
        },
        addSource: async (document, chunkCount, census) => {
          await sourceTexts.add(document);
          await censuses.add(document.source, census);
          sources.push({
            source: document.source,
            checksum: document.checksum,
            title: document.title,
            language: document.language,
            chars: document.text.length,
            chunks: chunkCount,
            text: textRange(document.source),
          });
        },
      },
    );
  } finally {
    await spool.remove();
    await writeFile(path.join(staging, INDEX_FILES.chunkTable), await writer.close());
    await sourceTexts.close();
    await censuses.close();
  }
  const { documents, skipped, runs } = split;
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
      const fresh = embedInBatches(embeddings, chunksOfRuns(chunksFile, runs, made));
      const kept =
        stored !== undefined && carried
          ? stored.vectors(runs.flatMap((run) => (made(run) ? [] : [rangeOf(run)])))[Symbol.asyncIterator]()
          : undefined;
      try {
        for (const run of runs) {
          for (let index = 0; index < run.count; index += 1) {
            const vector = made(run) ? (await fresh.next()).value?.[1] : (await kept?.next())?.value;
            if (vector === undefined) throw new Error('fewer vectors than passages');
            await addVector(vector);
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
        carriedChunks: carriedCount(runs),
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

/** What the database serves now, if anything. */
async function servedDescription(config: Config): Promise<IndexDescription | undefined> {
  const store = openIndexStore(config);
  return store
    .describe()
    .catch(() => undefined)
    .finally(() => store.close());
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
