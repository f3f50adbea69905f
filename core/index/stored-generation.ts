import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { IndexCorruptError } from '../errors.js';
import type { Chunk, SourceText } from '../types.js';
import { readCensusFile, type SourceCensus } from './census-file.js';
import { ChunkStore } from './chunk-store.js';
import { fileChecksum, INDEX_FILES, readGeneration } from './index-store.js';
import { INDEX_FORMAT_VERSION, type Manifest } from './manifest.js';
import type { IndexDescription } from './passage-index.js';
import { SourceTexts } from './source-texts.js';
import { type OrdinalRange, readVectors } from './vector-file.js';

/**
 * The index in place, as an incremental ingest reads it to carry over what did not change: its description
 * (settings, and each source's checksum and passage count, in order), each source's census of page furniture, its
 * passages and source texts, and the vectors an embedding server gave. The folder store implements it
 * (`openStoredGeneration`), and so does the database (`openPostgresGeneration`); ingest's plan
 * (`ingest/plan-ingest.ts`) reads either.
 */
export interface StoredGeneration {
  readonly description: IndexDescription;
  /** Whether the generation keeps its embedder's vectors (an index embedded by a server does). */
  readonly keepsVectors: boolean;
  /** The census of each source, in the manifest's order. */
  censuses(): Promise<SourceCensus[]>;
  /** The passages of an ordinal range, in order (a source's passages are consecutive, in the manifest's order). */
  chunks(range: OrdinalRange): AsyncIterable<Chunk>;
  /** A source's citable text, as served. */
  sourceText(source: string): Promise<SourceText | undefined>;
  /** The stored vectors of the ordinal ranges, in the order given; only when `keepsVectors`. */
  vectors(ranges: readonly OrdinalRange[]): AsyncIterable<Float32Array>;
  close(): void;
}

/** A stored generation an ingest can update, or why it cannot (the ingest then reads the whole corpus again). */
export type StoredGenerationResult = { generation: StoredGeneration } | { unusable: string };

/**
 * Opens the generation `indexDir` names for an incremental ingest, after checking the files it would carry over
 * against the manifest's checksums: a damaged passage or vector must not be copied into a new index whose manifest
 * would then vouch for it.
 */
export async function openStoredGeneration(indexDir: string): Promise<StoredGenerationResult> {
  const found = await readGeneration(indexDir).catch((error: unknown) => {
    if (error instanceof IndexCorruptError) return error;
    throw error;
  });
  if (found === undefined) return { unusable: 'there is no index yet' };
  if (found instanceof IndexCorruptError) return { unusable: 'the manifest of the index in place is unreadable' };
  const { directory, manifest } = found;
  if (manifest.formatVersion !== INDEX_FORMAT_VERSION) return { unusable: 'the index has an older format' };
  if (manifest.files[INDEX_FILES.census] === undefined) {
    return { unusable: 'the index in place keeps no census of page furniture' };
  }
  const keepsVectors = manifest.files[INDEX_FILES.vectors] !== undefined;
  const needed: string[] = [INDEX_FILES.chunks, INDEX_FILES.chunkTable, INDEX_FILES.sources, INDEX_FILES.census];
  if (keepsVectors) needed.push(INDEX_FILES.vectors);
  for (const name of needed) {
    const expected = manifest.files[name];
    const actual = await fileChecksum(path.join(directory, name)).catch(() => undefined);
    if (expected === undefined || actual !== expected) {
      return { unusable: `the index file ${name} in place is missing or damaged` };
    }
  }
  const chunksFile = path.join(directory, INDEX_FILES.chunks);
  const table = await readFile(path.join(directory, INDEX_FILES.chunkTable));
  let store: ChunkStore;
  try {
    store = ChunkStore.open(chunksFile, table, (await stat(chunksFile)).size);
  } catch {
    return { unusable: `the index file ${INDEX_FILES.chunkTable} in place is unreadable` };
  }
  const counted = manifest.sources.reduce((total, source) => total + source.chunks, 0);
  const vectorBytes = manifest.chunkCount * manifest.embedder.dimensions * 4;
  const vectorsFit = !keepsVectors || (await stat(path.join(directory, INDEX_FILES.vectors))).size === vectorBytes;
  if (store.size !== manifest.chunkCount || counted !== manifest.chunkCount || !vectorsFit) {
    store.close();
    return { unusable: 'the passages of the index in place do not match its manifest' };
  }
  const texts = new SourceTexts(
    path.join(directory, INDEX_FILES.sources),
    new Map(manifest.sources.map((entry) => [entry.source, entry.text])),
  );
  return { generation: new FolderGeneration(directory, manifest, keepsVectors, store, texts) };
}

/** A generation folder read for an incremental ingest. */
class FolderGeneration implements StoredGeneration {
  constructor(
    private readonly directory: string,
    private readonly manifest: Manifest,
    readonly keepsVectors: boolean,
    private readonly store: ChunkStore,
    private readonly texts: SourceTexts,
  ) {}

  get description(): Manifest {
    return this.manifest;
  }

  async censuses(): Promise<SourceCensus[]> {
    const file = path.join(this.directory, INDEX_FILES.census);
    return readCensusFile(file).catch((error: unknown) => {
      throw new IndexCorruptError(`The index file ${file} is unreadable (${String(error).split('\n')[0]}).`);
    });
  }

  async *chunks(range: OrdinalRange): AsyncGenerator<Chunk> {
    yield* this.store.range(range.start, range.end);
  }

  sourceText(source: string): Promise<SourceText | undefined> {
    return Promise.resolve(this.texts.get(source));
  }

  vectors(ranges: readonly OrdinalRange[]): AsyncIterable<Float32Array> {
    if (!this.keepsVectors) throw new Error(`${this.directory} keeps no vectors`);
    return readVectors(path.join(this.directory, INDEX_FILES.vectors), this.manifest.embedder.dimensions, ranges);
  }

  close(): void {
    this.store.close();
    this.texts.close();
  }
}
