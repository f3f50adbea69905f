import { stat, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import type { Config } from '../core/config.js';
import { DEFAULTS } from '../core/defaults.js';
import { createIndexEmbedder, embedderId } from '../core/embeddings/create-embeddings.js';
import { LexicalEmbeddings } from '../core/embeddings/lexical-embeddings.js';
import { featureRecords } from '../core/embeddings/lexical-features.js';
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
import type { Chunk } from '../core/types.js';
import { ingestIntoDatabase, planDatabaseChanges } from './ingest-into-database.js';
import { type CorpusFile, fileChecksum, listCorpusFiles, READER_VERSION, type SkippedFile } from './load-documents.js';
import {
  carriedGeneration,
  type IngestPlan,
  type PlannedFile,
  planIngest,
  readAhead,
  settingsChange,
} from './plan-ingest.js';
import { FeatureSpool } from './feature-spool.js';
import { createPreparation, type Preparation } from './preparation-pool.js';
import { type PreparationSettings, type PreparedPassages, type SplitDocument } from './prepare-passages.js';
import type { SpooledLine } from './spool-file.js';
import type { ChunkerSettings } from './split-into-chunks.js';
import {
  carriedCount,
  changesOf,
  chunksOfRuns,
  corpusFiles,
  documentSummary,
  embedInBatches,
  type IngestChanges,
  type IngestedDocument,
  type IngestOptions,
  type IngestSummary,
  ingestSettings,
  rangeOf,
  planReadable,
  readUnchanged,
  type Run,
  stopwatch,
} from './write-generation.js';

export type {
  IngestChanges,
  IngestedDocument,
  IngestOptions,
  IngestProgress,
  IngestSummary,
} from './write-generation.js';

/** The passages' lexical features, in the staging folder between the split and the embedding; removed before. */
const FEATURES_FILE = '.features.bin';

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
  const clock = stopwatch();
  const files = await corpusFiles(config);
  const threads = options.threads ?? (await preparationThreads(files));
  const stored = await openStoredGeneration(config.indexDir);
  try {
    const timings = { planMs: 0, splitMs: 0, indexMs: 0, writeMs: 0 };
    let plan: IngestPlan | undefined;
    let built: Omit<IngestSummary, 'changes' | 'generation' | 'timings'> | undefined;
    const generation = await writeIndex(config.indexDir, async (staging) => {
      // Files are read and split in these threads, which keep what they read in spool files in the staging folder.
      const preparation = createPreparation(preparationSettings(config, chunker), threads, staging);
      try {
        const spooled = new Map<string, SpooledLine>();
        plan = await planReadable(files, stored, config, options, {
          read: async (file) => {
            const read = await preparation.read(file);
            spooled.set(read.source, read.spooled);
            return read;
          },
          ahead: preparation.concurrency,
        });
        timings.planMs = clock.lap();
        const from = carriedGeneration(plan, stored);
        const written = await writeGeneration(
          staging,
          plan,
          spooled,
          from,
          config,
          chunker,
          options,
          preparation,
          () => {
            timings.splitMs = clock.lap();
          },
        );
        timings.indexMs = clock.lap();
        built = written.summary;
        return written.manifest;
      } finally {
        await preparation.close();
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

function preparationSettings(config: Config, chunker: ChunkerSettings): PreparationSettings {
  return {
    chunker,
    lexical: config.embedder.kind === 'lexical' ? { dimensions: config.embedder.dimensions } : undefined,
  };
}

/**
 * Threads to read and split the corpus with: one per core, unless the corpus is too small for a worker thread's cost
 * (its start, and compiling and collecting its own copy of the code) to pay, or there is a single core.
 */
async function preparationThreads(files: readonly CorpusFile[]): Promise<number> {
  const cores = availableParallelism();
  if (cores < 2) return 1;
  let bytes = 0;
  for (const file of files) {
    bytes += (await stat(file.absolutePath)).size;
    if (bytes >= DEFAULTS.ingest.threadsFromBytes) return cores;
  }
  return 1;
}

/** What the split stage wrote, and what the embedding and the index files need of it. */
interface FolderSplit {
  sources: Manifest['sources'];
  documents: IngestedDocument[];
  skipped: SkippedFile[];
  runs: Run[];
  chunkCount: number;
  keywords: KeywordIndexBuilder;
}

/** Writes the files of a new generation in `staging` as the plan says; returns its manifest and what it did. */
async function writeGeneration(
  staging: string,
  plan: IngestPlan,
  spooled: ReadonlyMap<string, SpooledLine>,
  stored: StoredGeneration | undefined,
  config: Config,
  chunker: ChunkerSettings,
  options: IngestOptions,
  preparation: Preparation,
  onSplit: () => void,
): Promise<{ manifest: ManifestContent; summary: Omit<IngestSummary, 'changes' | 'generation' | 'timings'> }> {
  const lexical =
    config.embedder.kind === 'lexical' ? new LexicalEmbeddings({ dimensions: config.embedder.dimensions }) : undefined;
  // The passages' lexical features, counted once, for the fit of the weights and then for the vectors.
  const features = lexical === undefined ? undefined : await FeatureSpool.create(path.join(staging, FEATURES_FILE));
  try {
    const split = await splitCorpus(staging, plan, spooled, stored, preparation, lexical, features);
    lexical?.completeFit();
    onSplit();
    return await indexPassages(staging, split, stored, config, chunker, options, lexical, features);
  } finally {
    await features?.remove();
  }
}

/**
 * The split stage: takes each file's passages in corpus order — split from the spool by the preparation's threads,
 * or carried over and analysed again — and writes them with the source texts and censuses, adding their terms to
 * the keyword index and their features to the lexical embedder's fit and the feature spool.
 */
async function splitCorpus(
  staging: string,
  plan: IngestPlan,
  spooled: ReadonlyMap<string, SpooledLine>,
  stored: StoredGeneration | undefined,
  preparation: Preparation,
  lexical: LexicalEmbeddings | undefined,
  features: FeatureSpool | undefined,
): Promise<FolderSplit> {
  const writer = await ChunkWriter.create(path.join(staging, INDEX_FILES.chunks));
  const sourceTexts = await SourceTextWriter.create(path.join(staging, INDEX_FILES.sources));
  const censuses = await CensusWriter.create(path.join(staging, INDEX_FILES.census));
  const split: FolderSplit = {
    sources: [],
    documents: [],
    skipped: [],
    runs: [],
    chunkCount: 0,
    keywords: new KeywordIndexBuilder(),
  };
  const storedSources = new Map(stored?.description.sources.map((entry) => [entry.source, entry]));
  const append = async (passages: PreparedPassages) => {
    for (const [index, id] of passages.ids.entries()) await writer.addLine(id, passages.lines[index] ?? '');
    const { numbering, counted } = passages.terms;
    if (split.keywords.addNumbered(numbering, preparation.termsOf(numbering), counted) !== passages.ids.length) {
      throw new Error('the keyword terms of a file are not those of its passages');
    }
    if (lexical === undefined || features === undefined) return;
    if (passages.features === undefined) throw new Error('passages were prepared without their features');
    for (const record of featureRecords(passages.features)) lexical.observeFeatures(record);
    await features.add(passages.features);
  };
  try {
    await preparation.judge(plan.census.judgement());
    // A file the plan read is split from its spool; an unchanged file whose page furniture changed is read now;
    // the stored passages of an unchanged one are analysed again, for the new keyword index and embedder's fit.
    const prepare = async (file: PlannedFile): Promise<SplitDocument | PreparedPassages | undefined> => {
      if (file.skipped !== undefined) return undefined;
      if (file.carried !== undefined) {
        if (stored === undefined) throw new Error(`${file.file.source} cannot be carried over`);
        const chunks: Chunk[] = [];
        for await (const chunk of stored.chunks(file.carried)) chunks.push(chunk);
        return preparation.analyse(chunks);
      }
      if (file.read) {
        const line = spooled.get(file.file.source);
        if (line === undefined) throw new Error(`no spool holds ${file.file.source}`);
        return preparation.split(line);
      }
      return preparation.split((await readUnchanged(file, (unread) => preparation.read(unread))).spooled);
    };
    const held = { weigh: preparedBytes, most: DEFAULTS.ingest.heldBytes };
    for await (const [file, prepared] of readAhead(plan.files, prepare, preparation.concurrency, held)) {
      const { source } = file.file;
      if (file.skipped !== undefined) {
        split.skipped.push(file.skipped);
        continue;
      }
      if (prepared === undefined) throw new Error(`${source} was not prepared`);
      if (!('entry' in prepared)) {
        // Carried over: the stored passages, text and census, as they are.
        const entry = storedSources.get(source);
        const census = plan.carriedCensus.get(source);
        const text = await stored?.sourceText(source);
        if (file.carried === undefined || entry === undefined || census === undefined) {
          throw new Error(`${source} cannot be carried over`);
        }
        if (text === undefined) throw new Error(`the index in place holds no text of ${source}`);
        await append(prepared);
        await sourceTexts.addText(text);
        await censuses.add(source, census);
        const range = sourceTexts.ranges.get(source);
        if (range === undefined) throw new Error(`No text was written for ${source}.`);
        split.sources.push({ ...entry, text: range });
        split.documents.push(documentSummary(entry, text.pages?.length));
        split.runs.push({ count: entry.chunks, from: file.carried.start });
        continue;
      }
      const { entry, pages } = prepared;
      if (entry.source !== source) throw new Error(`the spool holds ${entry.source} where ${source} was expected`);
      await append(prepared.passages);
      await sourceTexts.addLine(source, prepared.textLine);
      await censuses.addLine(prepared.censusLine);
      const text = sourceTexts.ranges.get(source);
      if (text === undefined) throw new Error(`No text was written for ${source}.`);
      split.sources.push({ ...entry, text });
      split.documents.push(documentSummary(entry, pages));
      split.runs.push({ count: entry.chunks, from: undefined });
    }
  } finally {
    await writeFile(path.join(staging, INDEX_FILES.chunkTable), await writer.close());
    await sourceTexts.close();
    await censuses.close();
    // The threads are done: the memory they held is the vector graphs' now.
    await preparation.close();
  }
  split.chunkCount = writer.count;
  return split;
}

/**
 * About the memory a prepared file holds until it is written: its passages' lines and its text (two bytes a character
 * at most), and its passages' features.
 */
function preparedBytes(prepared: SplitDocument | PreparedPassages | undefined): number {
  if (prepared === undefined) return 0;
  const passages = 'entry' in prepared ? prepared.passages : prepared;
  let characters = 'entry' in prepared ? prepared.textLine.length : 0;
  for (const line of passages.lines) characters += line.length;
  return 2 * characters + (passages.features?.byteLength ?? 0);
}

/**
 * The embed and index stage: embeds the passages in this thread (the lexical embedder from their features, a server
 * in batches, or the stored vectors of carried passages) and hands the vectors to worker threads that build the
 * graphs, while this thread lays out the keyword index.
 */
async function indexPassages(
  staging: string,
  split: FolderSplit,
  stored: StoredGeneration | undefined,
  config: Config,
  chunker: ChunkerSettings,
  options: IngestOptions,
  lexical: LexicalEmbeddings | undefined,
  features: FeatureSpool | undefined,
): Promise<{ manifest: ManifestContent; summary: Omit<IngestSummary, 'changes' | 'generation' | 'timings'> }> {
  const { chunkCount, runs } = split;
  const chunksFile = path.join(staging, INDEX_FILES.chunks);
  const embedder = lexical === undefined ? await createIndexEmbedder(config.embedder, []) : undefined;
  const embeddings = options.embeddings ?? lexical ?? embedder?.embeddings;
  if (embeddings === undefined) throw new Error('no embedder');
  // Only a server's vectors are kept, and carried over; the lexical ones depend on weights fitted on the corpus.
  const keepsVectors = config.embedder.kind !== 'lexical';
  const carried = keepsVectors && stored !== undefined;
  let vectors: VectorIndexBuilder | undefined;
  let vectorFile: VectorFileWriter | undefined;
  let added = 0;
  // Carried vectors count as done as they are taken: the rate and time left are those of the whole index.
  const report = () => options.onProgress?.({ stage: 'embed', chunks: added, totalChunks: chunkCount });
  const addVector = async (vector: ArrayLike<number>) => {
    vectors ??= new VectorIndexBuilder(vector.length, chunkCount, (shard) =>
      path.join(staging, vectorShardFile(shard)),
    );
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
    if (embeddings === lexical && features !== undefined) {
      const scratch = new Float32Array(lexical.dimensions);
      for await (const record of features.records()) await addVector(lexical.vectorOfFeatures(record, scratch));
      if (added !== chunkCount) throw new Error(`${added} feature records for ${chunkCount} passages`);
      embedded = chunkCount;
    } else if (embeddings instanceof LexicalEmbeddings) {
      const scratch = new Float32Array(embeddings.dimensions);
      for await (const chunk of readChunks(chunksFile))
        await addVector(embeddings.vector(embeddedText(chunk), scratch));
      embedded = chunkCount;
    } else {
      const made = (run: Run) => !carried || run.from === undefined;
      const fresh = vectorsOf(embedInBatches(embeddings, chunksOfRuns(chunksFile, runs, made)));
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
    await writeFile(path.join(staging, INDEX_FILES.keywords), split.keywords.build().toBuffer());
    const checksums = await built.finish();
    const id = lexical?.id ?? embedder?.id ?? embedderId(config.embedder);
    if (lexical !== undefined) {
      await writeFile(path.join(staging, INDEX_FILES.embedder), JSON.stringify(lexical.toJSON()));
    }
    return {
      manifest: {
        embedder: { id, dimensions: built.dimensions },
        readerVersion: READER_VERSION,
        chunker: { ...chunker },
        sources: split.sources,
        skipped: split.skipped,
        chunkCount,
        checksums,
      },
      summary: {
        documents: split.documents,
        skipped: split.skipped,
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

/** The vectors of passages embedded in batches, in order. */
async function* vectorsOf(embedded: AsyncIterable<[Chunk, number[]]>): AsyncGenerator<number[]> {
  for await (const [, vector] of embedded) yield vector;
}
