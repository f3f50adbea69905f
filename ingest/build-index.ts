import type { EmbeddingsInterface } from '@langchain/core/embeddings';
import type { Config } from '../core/config.js';
import { DEFAULTS } from '../core/defaults.js';
import { createIndexEmbedder, embedderId } from '../core/embeddings/create-embeddings.js';
import { readManifest, writeIndex } from '../core/index/index-store.js';
import { KeywordIndex } from '../core/index/keyword-index.js';
import { INDEX_FORMAT_VERSION, type Manifest } from '../core/index/manifest.js';
import { embeddedText, VectorIndex } from '../core/index/vector-index.js';
import type { Chunk, SourceDocument } from '../core/types.js';
import { fileChecksum, listCorpusFiles, loadDocuments, READER_VERSION } from './load-documents.js';
import { type ChunkerSettings, splitIntoChunks } from './split-into-chunks.js';

export interface IngestSummary {
  documents: SourceDocument[];
  chunks: Chunk[];
  embedderId: string;
  dimensions: number;
  generation: string;
  timings: { loadMs: number; splitMs: number; embedMs: number; writeMs: number; totalMs: number };
}

export interface IngestOptions {
  chunker?: ChunkerSettings;
  /** Replaces the configured embedder (tests use it to simulate a failure mid-ingest). */
  embeddings?: EmbeddingsInterface;
}

/** load → split → embed → write: builds a complete index of the corpus and points the index folder at it. */
export async function ingest(config: Config, options: IngestOptions = {}): Promise<IngestSummary> {
  const chunker = options.chunker ?? DEFAULTS.chunking;
  const clock = stopwatch();
  const documents = await loadDocuments(config.corpusDir);
  const loadMs = clock.lap();
  const chunksByDocument = documents.map((document) => splitIntoChunks(document, chunker));
  const chunks = chunksByDocument.flat();
  const splitMs = clock.lap();
  const embedder = createIndexEmbedder(config.embedder, chunks.map(embeddedText));
  const vectorIndex = await VectorIndex.build(chunks, options.embeddings ?? embedder.embeddings);
  const keywordIndex = KeywordIndex.build(chunks);
  const embedMs = clock.lap();
  const generation = await writeIndex(config.indexDir, {
    manifest: {
      embedder: { id: embedder.id, dimensions: vectorIndex.dimensions },
      readerVersion: READER_VERSION,
      chunker: { ...chunker },
      sources: documents.map((document, index) => ({
        source: document.source,
        checksum: document.checksum,
        title: document.title,
        language: document.language,
        chars: document.text.length,
        chunks: chunksByDocument[index]?.length ?? 0,
      })),
      chunkCount: chunks.length,
    },
    documents,
    chunks,
    keywordIndex,
    vectorIndex,
    embedderState: embedder.state,
  });
  const writeMs = clock.lap();
  return {
    documents,
    chunks,
    embedderId: embedder.id,
    dimensions: vectorIndex.dimensions,
    generation,
    timings: { loadMs, splitMs, embedMs, writeMs, totalMs: clock.total() },
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
  const indexed = new Map(manifest.sources.map((source) => [source.source, source.checksum]));
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
