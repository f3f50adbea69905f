import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { EmbeddingsInterface } from '@langchain/core/embeddings';
import type { Config, DatabaseConfig } from '../core/config.js';
import { DEFAULTS } from '../core/defaults.js';
import { createIndexEmbedder, embedderId } from '../core/embeddings/create-embeddings.js';
import { LexicalEmbeddings } from '../core/embeddings/lexical-embeddings.js';
import { CorpusError } from '../core/errors.js';
import { ChunkWriter, readChunks } from '../core/index/chunk-store.js';
import { KeywordIndexBuilder } from '../core/index/keyword-index.js';
import { INDEX_FORMAT_VERSION } from '../core/index/manifest.js';
import { createPool, unavailable } from '../core/index/postgres/database.js';
import { GenerationWriter } from '../core/index/postgres/generation-writer.js';
import { openPostgresGeneration, type PostgresGeneration } from '../core/index/postgres/postgres-generation.js';
import { embeddedText } from '../core/index/vector-index.js';
import type { Chunk } from '../core/types.js';
import { READER_VERSION } from './load-documents.js';
import { carriedGeneration, planIngest } from './plan-ingest.js';
import { ReadingSpool } from './reading-spool.js';
import {
  carriedCount,
  changesOf,
  chunksOfRuns,
  corpusFiles,
  embedInBatches,
  type IngestChanges,
  type IngestOptions,
  type IngestProgress,
  type IngestSummary,
  ingestSettings,
  planIntoSpool,
  rangeOf,
  type Run,
  SPOOL_FILE,
  splitPlannedFiles,
  stopwatch,
} from './write-generation.js';

/**
 * Writes a new generation of the index into the database and makes it current in one transaction, updating the
 * generation served as the folder store updates its index (`ingest/plan-ingest.ts` makes the same plan): only added
 * and changed files are read and split. An unchanged file's source row (its text and census) and its passages are
 * copied from the generation served inside the database, with their vectors when an embedding server gave them, so
 * that no request is made for them; with the lexical embedder, whose weights are fitted on the whole corpus, every
 * vector is computed again. The keyword index is made again from all the passages, which are read back for it; the
 * database builds the HNSW index of the new generation.
 *
 * Passages made by this run go through a scratch file (with the spool of files read, in a temporary folder), and are
 * inserted in batches with their vectors while the next batch is embedded.
 */
export async function ingestIntoDatabase(config: Config, options: IngestOptions): Promise<IngestSummary> {
  const database = databaseOf(config);
  const chunker = options.chunker ?? DEFAULTS.chunking;
  const report = options.onProgress ?? (() => undefined);
  const clock = stopwatch();
  const files = await corpusFiles(config);
  const timings = { planMs: 0, splitMs: 0, indexMs: 0, writeMs: 0 };
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'cited-answers-ingest-'));
  // No statement bound: building the HNSW index of a large corpus takes minutes.
  const pool = createPool(database, () => undefined, 2, 0);
  let writer: GenerationWriter | undefined;
  try {
    // Begins with the migrations, so that the generation served is read with this version's schema.
    writer = await GenerationWriter.begin(pool, database, config.indexName);
    const generationWriter = writer;
    const stored = await openPostgresGeneration(pool, database, config.indexName);
    const chunksFile = path.join(scratch, 'chunks.jsonl');
    const chunks = await ChunkWriter.create(chunksFile);
    const keywords = new KeywordIndexBuilder();
    const lexical =
      config.embedder.kind === 'lexical'
        ? new LexicalEmbeddings({ dimensions: config.embedder.dimensions })
        : undefined;
    const spool = await ReadingSpool.create(path.join(scratch, SPOOL_FILE));
    /** Plans the ingest, then takes each file as planned: its source row written or copied, its passages split. */
    const takeCorpus = async () => {
      try {
        const plan = await planIntoSpool(files, stored, spool, config, options);
        timings.planMs = clock.lap();
        const from = carriedGeneration(plan, stored);
        const split = await splitPlannedFiles(
          plan,
          spool,
          from,
          chunker,
          { keywords, lexical },
          {
            addChunk: (chunk) => chunks.add(chunk),
            carrySources: async (carried) => {
              if (from === undefined) throw new Error('nothing can be carried over from a full rebuild');
              return generationWriter.carrySources(
                from.id,
                carried.map(({ source }) => source.source),
              );
            },
            addSource: (document, chunkCount, census) => generationWriter.addSource(document, chunkCount, census),
          },
        );
        return { plan, from, split };
      } finally {
        await spool.remove();
        await chunks.close();
      }
    };
    const { plan, from, split } = await takeCorpus();
    lexical?.completeFit();
    const chunkCount = chunks.count;
    if (chunkCount === 0) throw new CorpusError(`The corpus folder ${config.corpusDir} yields no passage.`);
    timings.splitMs = clock.lap();

    const embedder = lexical === undefined ? await createIndexEmbedder(config.embedder, []) : undefined;
    const embeddings = options.embeddings ?? lexical ?? embedder?.embeddings;
    if (embeddings === undefined) throw new Error('no embedder');
    const id = lexical?.id ?? embedder?.id ?? embedderId(config.embedder);
    // A server's vectors are carried over with their passages; the lexical ones depend on weights fitted anew.
    const carried = ingestSettings(config, chunker).carriesVectors ? from : undefined;
    const { embedded, dimensions } = await writePassages(generationWriter, chunksFile, split.runs, chunkCount, {
      embeddings,
      carried,
      report,
    });
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
        skipped: split.skipped,
        chunkCount,
      },
      lexical?.toJSON(),
    );
    timings.writeMs = clock.lap();
    return {
      documents: split.documents,
      skipped: split.skipped,
      changes: changesOf(plan),
      chunkCount,
      embeddedChunks: embedded,
      carriedChunks: carriedCount(split.runs),
      embedderId: id,
      dimensions,
      generation: `${config.indexName}@${writer.generation}`,
      timings: { ...timings, totalMs: clock.total() },
    };
  } catch (error) {
    await writer?.abandon();
    // A database lost at any step (a document's row, a batch of passages, a copy) is named as such.
    throw unavailable(database.url, error);
  } finally {
    await pool.end().catch(() => undefined);
    await rm(scratch, { recursive: true, force: true });
  }
}

/**
 * Inserts the passages of the new generation in order, run by run, each with its vector: those made by this run, and
 * with the lexical embedder all of them, are read back from the scratch file, embedded (a server is asked a batch at
 * a time, across runs) and sent in batches; a run carried over with its vectors (`carried`, the generation served,
 * when an embedding server gave them) is copied inside the database. Returns how many passages were embedded, and
 * the vectors' dimensions.
 */
async function writePassages(
  writer: GenerationWriter,
  chunksFile: string,
  runs: readonly Run[],
  chunkCount: number,
  options: {
    embeddings: EmbeddingsInterface;
    carried: PostgresGeneration | undefined;
    report: (progress: IngestProgress) => void;
  },
): Promise<{ embedded: number; dimensions: number }> {
  const { embeddings, carried } = options;
  let dimensions = carried?.description.embedder.dimensions;
  // Carried passages count as done as they are copied: the rate and time left are those of the whole index.
  let done = 0;
  let embedded = 0;
  const progress = () => options.report({ stage: 'embed', chunks: done, totalChunks: chunkCount });
  const add = async (chunk: Chunk, vector: ArrayLike<number>) => {
    dimensions ??= vector.length;
    await writer.addChunk(chunk, vector);
    done += 1;
    if (done % DEFAULTS.vectors.batch === 0) progress();
  };
  progress();
  if (embeddings instanceof LexicalEmbeddings) {
    const scratchVector = new Float32Array(embeddings.dimensions);
    for await (const chunk of readChunks(chunksFile)) {
      await add(chunk, embeddings.vector(embeddedText(chunk), scratchVector));
    }
    embedded = chunkCount;
  } else {
    const made = (run: Run) => carried === undefined || run.from === undefined;
    const fresh = embedInBatches(embeddings, chunksOfRuns(chunksFile, runs, made));
    try {
      for (const run of runs) {
        if (!made(run) && carried !== undefined) {
          await writer.carryChunks(carried.id, rangeOf(run));
          done += run.count;
          progress();
          continue;
        }
        for (let index = 0; index < run.count; index += 1) {
          const next = await fresh.next();
          if (next.done === true) throw new Error('fewer vectors than passages');
          await add(...next.value);
        }
        embedded += run.count;
      }
    } finally {
      await fresh.return(undefined);
    }
  }
  if (dimensions === undefined) throw new Error('no vector was written');
  progress();
  return { embedded, dimensions };
}

/**
 * What `ingestIntoDatabase` would change, planned against the generation served as it would plan it, without
 * writing anything (not even the schema's migrations): `npm run ingest -- --dry-run`.
 */
export async function planDatabaseChanges(
  config: Config,
  options: Pick<IngestOptions, 'chunker' | 'full'>,
): Promise<IngestChanges> {
  const database = databaseOf(config);
  const files = await corpusFiles(config);
  const pool = createPool(database, () => undefined, 1);
  try {
    const stored = await openPostgresGeneration(pool, database, config.indexName);
    return changesOf(await planIngest(files, stored, ingestSettings(config, options.chunker), options));
  } finally {
    await pool.end().catch(() => undefined);
  }
}

function databaseOf(config: Config): DatabaseConfig {
  if (config.database === undefined) throw new Error('INDEX_STORE=postgres without a database');
  return config.database;
}
