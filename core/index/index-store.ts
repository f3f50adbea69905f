import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  lstat,
  mkdir,
  open,
  readdir,
  readFile,
  realpath,
  rename,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import path from 'node:path';
import type { EmbedderConfig } from '../config.js';
import { embedderId, restoreEmbeddings } from '../embeddings/create-embeddings.js';
import { IndexCorruptError, IndexMismatchError, IndexMissingError } from '../errors.js';
import type { Chunk, SourceText } from '../types.js';
import { ChunkStore } from './chunk-store.js';
import { KeywordIndex } from './keyword-index.js';
import { SourceTexts } from './source-texts.js';
import { INDEX_FORMAT_VERSION, type Manifest, manifestSchema } from './manifest.js';
import type { IndexDescription, IndexedSource, PassageIndex, SearchHit } from './passage-index.js';
import { VectorIndex } from './vector-index.js';

/**
 * The index on disk: a folder of files described by `manifest.json`.
 *
 * `INDEX_DIR` is a symbolic link to a generation folder beside it. A new index is written in full to a staging
 * folder, renamed to a new generation, and only then is the link replaced by an atomic rename: at every instant
 * the link names a complete index, so a crash mid-ingest leaves the previous one serving.
 */

export const INDEX_FILES = {
  manifest: 'manifest.json',
  /** One passage per line, as JSON. */
  chunks: 'chunks.jsonl',
  /** The passages' ids and byte offsets in `chunks.jsonl`. */
  chunkTable: 'chunk-table.bin',
  keywords: 'keyword-index.bin',
  embedder: 'embedder.json',
  /** The citable text of each source, one JSON line per source (its byte range is in the manifest). */
  sources: 'sources.jsonl',
  /** What each source brought to the judgement of page furniture, one JSON line per source. */
  census: 'census.jsonl',
  /** The vectors an embedding server gave, as float32 in ordinal order (absent for the lexical embedder). */
  vectors: 'embeddings.f32',
} as const;

/** The hnswlib graph of vector shard `shard` (labelled by chunk ordinal). */
export function vectorShardFile(shard: number): string {
  return `vectors-${shard}.hnsw`;
}

const VECTOR_SHARD = /^vectors-(\d+)\.hnsw$/;

/** Generations kept besides the current one, so that a server still reading the previous one is not cut off. */
const KEPT_GENERATIONS = 1;

/**
 * What an index build reports for its manifest, once it has written its files in the staging folder; and the SHA-256
 * of files it read back already, by name (the others are read here).
 */
export type ManifestContent = Omit<Manifest, 'formatVersion' | 'createdAt' | 'files'> & {
  checksums?: Readonly<Record<string, string>>;
};

/** An index read from disk: the passage index interface, with the folder it came from and its manifest. */
export interface LoadedIndex extends PassageIndex {
  /** The generation folder the index was read from. */
  readonly directory: string;
  readonly manifest: Manifest;
}

/**
 * Writes a complete index and then points `indexDir` at it; returns the generation folder. `build` writes the
 * files of the index into the staging folder it is given (see INDEX_FILES) and returns the manifest's content.
 */
export async function writeIndex(
  indexDir: string,
  build: (staging: string) => Promise<ManifestContent>,
): Promise<string> {
  const parent = path.dirname(indexDir);
  const base = path.basename(indexDir);
  await mkdir(parent, { recursive: true });
  await removeAbandonedStaging(parent, base);

  const suffix = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const staging = path.join(parent, `.${base}.staging-${suffix}`);
  await mkdir(staging);
  try {
    const content = await build(staging);
    await writeManifest(staging, content);
  } catch (error) {
    // A failure here leaves nothing behind; a process killed here leaves a folder the next run removes.
    await rm(staging, { recursive: true, force: true });
    throw error;
  }

  const generation = path.join(parent, `${base}-${Date.now().toString(36)}-${suffix}`);
  await rename(staging, generation);
  await pointLinkAt(indexDir, generation);
  await removeOldGenerations(parent, base, generation);
  return generation;
}

/** Writes the manifest, with the checksum of every file the build wrote, last. */
async function writeManifest(staging: string, content: ManifestContent): Promise<void> {
  const { checksums = {}, ...described } = content;
  const files: Record<string, string> = {};
  for (const name of (await readdir(staging)).sort()) {
    files[name] = checksums[name] ?? (await fileChecksum(path.join(staging, name)));
  }
  const manifest: Manifest = {
    formatVersion: INDEX_FORMAT_VERSION,
    createdAt: new Date().toISOString(),
    ...described,
    files,
  };
  await writeFile(path.join(staging, INDEX_FILES.manifest), `${JSON.stringify(manifest, null, 2)}\n`);
}

/** Reads the manifest of the index `indexDir` names, or undefined when there is none. */
export async function readManifest(indexDir: string): Promise<Manifest | undefined> {
  return (await readGeneration(indexDir))?.manifest;
}

/**
 * The generation folder `indexDir` names and its manifest, or undefined when there is none; throws
 * IndexCorruptError when the manifest is unreadable.
 */
export async function readGeneration(indexDir: string): Promise<{ directory: string; manifest: Manifest } | undefined> {
  const directory = await realpath(indexDir).catch(() => undefined);
  if (directory === undefined) return undefined;
  const manifest = await parseManifest(directory).catch((error: unknown) => {
    if (error instanceof IndexMissingError) return undefined;
    throw error;
  });
  return manifest === undefined ? undefined : { directory, manifest };
}

/**
 * Loads the index `indexDir` names, checking it against the configuration and its manifest's checksums.
 * Throws IndexMissingError, IndexMismatchError or IndexCorruptError with a message that says what to do.
 */
export async function loadIndex(indexDir: string, embedder: EmbedderConfig): Promise<LoadedIndex> {
  const directory = await realpath(indexDir).catch(() => {
    throw new IndexMissingError(`No index at ${indexDir}. Build one with \`npm run ingest\`.`);
  });
  const manifest = await parseManifest(directory);
  if (manifest.formatVersion !== INDEX_FORMAT_VERSION) {
    throw new IndexMismatchError(
      `The index at ${indexDir} has format ${manifest.formatVersion}, this version reads ${INDEX_FORMAT_VERSION}. ` +
        'Re-run `npm run ingest`.',
    );
  }
  const expected = embedderId(embedder);
  if (manifest.embedder.id !== expected) {
    throw new IndexMismatchError(
      `The index at ${indexDir} was built with the embedder "${manifest.embedder.id}", but the configuration asks ` +
        `for "${expected}". Re-run \`npm run ingest\` to rebuild it.`,
    );
  }
  const file = (name: string): string => {
    if (manifest.files[name] === undefined) {
      throw new IndexCorruptError(`The manifest of ${directory} lists no ${name}. Re-run \`npm run ingest\`.`);
    }
    return path.join(directory, name);
  };

  const vectorNames = Object.keys(manifest.files)
    .map((name) => ({ name, shard: Number(VECTOR_SHARD.exec(name)?.[1] ?? NaN) }))
    .filter(({ shard }) => Number.isInteger(shard))
    .sort((a, b) => a.shard - b.shard)
    .map(({ name }) => name);
  if (vectorNames.length === 0) {
    throw new IndexCorruptError(`The manifest of ${directory} lists no vector index. Re-run \`npm run ingest\`.`);
  }
  // Every file is checked against its checksum before it is parsed: a damaged graph could crash hnswlib's reader.
  // The graphs take longest to read, in libuv's threads: they are checked first (after the embedder's few bytes),
  // each read as soon as it is checked, while this thread checks and parses the rest.
  const first = [INDEX_FILES.embedder, ...vectorNames].filter((name) => manifest.files[name] !== undefined);
  const checked = checkInTurn(directory, manifest.files, [
    ...first,
    ...Object.keys(manifest.files).filter((name) => !first.includes(name)),
  ]);
  /** Resolves once the file `name` is checked; throws when the manifest does not list it. */
  const check = async (name: string): Promise<void> => {
    file(name);
    await checked.get(name);
  };

  const embedderFile = path.join(directory, INDEX_FILES.embedder);
  let embedderState: unknown;
  if (manifest.files[INDEX_FILES.embedder] !== undefined) {
    await check(INDEX_FILES.embedder);
    embedderState = parseFile(embedderFile, () => JSON.parse(readFileSyncText(embedderFile)) as unknown);
  }
  const embeddings = await restoreEmbeddings(embedder, embedderState).catch((error: unknown) =>
    parseFile(embedderFile, () => {
      throw error;
    }),
  );
  const vectorFiles = vectorNames.map((name) => path.join(directory, name));
  const vectorsLoaded = VectorIndex.load(vectorFiles, manifest.embedder.dimensions, embeddings, (shard) =>
    check(path.basename(shard)),
  ).catch((error: unknown) => {
    if (error instanceof IndexCorruptError) throw error;
    return parseFile((error as { file?: string }).file ?? directory, () => {
      throw error;
    });
  });
  // Awaited once the other files are loaded; should one of them fail first, the graphs' outcome goes unheard.
  vectorsLoaded.catch(() => undefined);
  await Promise.all(checked.values());

  const chunksFile = file(INDEX_FILES.chunks);
  const tableFile = file(INDEX_FILES.chunkTable);
  const table = await readFile(tableFile);
  const chunksSize = (await stat(chunksFile)).size;
  const store = parseFile(tableFile, () => ChunkStore.open(chunksFile, table, chunksSize));
  if (store.size !== manifest.chunkCount) {
    throw new IndexCorruptError(`The index file ${chunksFile} holds ${store.size} chunks, not ${manifest.chunkCount}.`);
  }
  const keywordsFile = file(INDEX_FILES.keywords);
  const keywordBytes = await readFile(keywordsFile);
  const keywordIndex = parseFile(keywordsFile, () => KeywordIndex.fromBuffer(keywordBytes));
  if (keywordIndex.size !== store.size) {
    throw new IndexCorruptError(
      `The keyword index ${keywordsFile} holds ${keywordIndex.size} passages, not ${store.size}. Re-run \`npm run ingest\`.`,
    );
  }
  const vectorIndex = await vectorsLoaded;
  if (vectorIndex.size !== store.size || vectorIndex.dimensions !== manifest.embedder.dimensions) {
    throw new IndexCorruptError(
      `The vector index ${vectorFiles.join(', ')} holds ${vectorIndex.size} vectors of ${vectorIndex.dimensions} dimensions; ` +
        `the manifest expects ${store.size} of ${manifest.embedder.dimensions}. Re-run \`npm run ingest\`.`,
    );
  }
  const sourceTexts = new SourceTexts(
    file(INDEX_FILES.sources),
    new Map(manifest.sources.map((entry) => [entry.source, entry.text])),
  );
  return new FileIndex(directory, manifest, store, keywordIndex, vectorIndex, sourceTexts);
}

/** The index of a generation folder: passages read lazily, keyword and vector indexes in memory. */
class FileIndex implements LoadedIndex {
  private described: IndexDescription | undefined;

  constructor(
    readonly directory: string,
    readonly manifest: Manifest,
    private readonly store: ChunkStore,
    private readonly keywordIndex: KeywordIndex,
    private readonly vectorIndex: VectorIndex,
    private readonly sourceTexts: SourceTexts,
  ) {}

  get chunkCount(): number {
    return this.store.size;
  }

  get description(): IndexDescription {
    this.described ??= (() => {
      const { files: _files, sources, ...rest } = this.manifest;
      return { ...rest, sources: sources.map(({ text: _text, ...source }) => source) };
    })();
    return this.described;
  }

  get sources(): readonly IndexedSource[] {
    return this.description.sources;
  }

  /** The generation folder's name (not its path, which `/healthz` would show). */
  get generation(): string {
    return path.basename(this.directory);
  }

  sourceText(source: string): Promise<SourceText | undefined> {
    return Promise.resolve(this.sourceTexts.get(source));
  }

  chunks(ids: readonly string[]): Promise<Array<Chunk | undefined>> {
    return Promise.resolve(ids.map((id) => this.store.byId(id)));
  }

  async *allChunks(): AsyncGenerator<Chunk> {
    yield* this.store.all();
  }

  keywordSearch(question: string, limit: number): Promise<SearchHit[]> {
    return Promise.resolve(
      this.keywordIndex.query(question, limit).map((hit) => ({ chunkId: this.idAt(hit.ordinal), score: hit.score })),
    );
  }

  async vectorSearch(question: string, limit: number): Promise<SearchHit[]> {
    const hits = await this.vectorIndex.query(question, limit);
    return hits.map((hit) => ({ chunkId: this.idAt(hit.ordinal), score: hit.similarity }));
  }

  documentFrequencies(stems: readonly string[]): Promise<ReadonlyMap<string, number>> {
    return Promise.resolve(new Map(stems.map((stem) => [stem, this.keywordIndex.documentFrequency(stem)])));
  }

  /** Files opened at load stay readable: there is nothing to check. */
  check(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.store.close();
    this.sourceTexts.close();
    return Promise.resolve();
  }

  private idAt(ordinal: number): string {
    const id = this.store.idAt(ordinal);
    if (id === undefined) throw new IndexCorruptError(`${this.directory}: no passage ${ordinal}`);
    return id;
  }
}

function readFileSyncText(file: string): string {
  return readFileSync(file, 'utf8');
}

/**
 * Checks the files `names` of the folder against their checksums in `checksums`, one after another in that order,
 * and gives for each name when it is checked: the promise rejects with an IndexCorruptError when that file or one
 * before it is missing or damaged. Rejections nobody awaits (after the first failure) go unheard.
 */
function checkInTurn(
  directory: string,
  checksums: Readonly<Record<string, string>>,
  names: readonly string[],
): Map<string, Promise<void>> {
  const checked = new Map<string, Promise<void>>();
  let previous = Promise.resolve();
  for (const name of names) {
    const file = path.join(directory, name);
    previous = previous.then(async () => {
      const actual = await fileChecksum(file).catch(() => {
        throw new IndexCorruptError(`The index file ${file} is missing. Re-run \`npm run ingest\`.`);
      });
      if (actual !== checksums[name]) {
        throw new IndexCorruptError(
          `The index file ${file} is damaged (checksum mismatch). Re-run \`npm run ingest\`.`,
        );
      }
    });
    previous.catch(() => undefined);
    checked.set(name, previous);
  }
  return checked;
}

/**
 * SHA-256 of a file, read a megabyte at a time into the same buffer: index files can be larger than a string may be,
 * and a new buffer for each read would have the memory of every megabyte mapped afresh.
 */
export async function fileChecksum(file: string): Promise<string> {
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafeSlow(1 << 20);
  const handle = await open(file, 'r');
  try {
    for (let read = (await handle.read(buffer)).bytesRead; read > 0; read = (await handle.read(buffer)).bytesRead) {
      hash.update(buffer.subarray(0, read));
    }
  } finally {
    await handle.close();
  }
  return hash.digest('hex');
}

async function parseManifest(directory: string): Promise<Manifest> {
  const file = path.join(directory, INDEX_FILES.manifest);
  const text = await readFile(file, 'utf8').catch(() => {
    throw new IndexMissingError(`No index manifest at ${file}. Build the index with \`npm run ingest\`.`);
  });
  return parseFile(file, () => manifestSchema.parse(JSON.parse(text)));
}

function parseFile<T>(file: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new IndexCorruptError(`The index file ${file} is unreadable (${reason}). Re-run \`npm run ingest\`.`);
  }
}

async function pointLinkAt(indexDir: string, generation: string): Promise<void> {
  const existing = await lstat(indexDir).catch(() => undefined);
  if (existing?.isDirectory()) {
    // A plain folder from an older layout: move it aside once, so the link can take its place.
    await rename(indexDir, `${indexDir}-${Date.now().toString(36)}-moved`);
  }
  const link = path.join(
    path.dirname(indexDir),
    `.${path.basename(indexDir)}.link-${process.pid}-${randomBytes(4).toString('hex')}`,
  );
  await symlink(path.basename(generation), link);
  await rename(link, indexDir);
}

async function removeOldGenerations(parent: string, base: string, current: string): Promise<void> {
  const generations = (await readdir(parent))
    .filter((name) => name.startsWith(`${base}-`) && path.join(parent, name) !== current)
    .sort()
    .reverse();
  for (const name of generations.slice(KEPT_GENERATIONS)) {
    await rm(path.join(parent, name), { recursive: true, force: true });
  }
}

/** Removes staging folders and links left by ingest runs that died before finishing. */
async function removeAbandonedStaging(parent: string, base: string): Promise<void> {
  for (const name of await readdir(parent)) {
    const match = new RegExp(`^\\.${escapeRegExp(base)}\\.(?:staging|link)-(\\d+)-`).exec(name);
    if (match?.[1] === undefined || isRunning(Number(match[1]))) continue;
    await rm(path.join(parent, name), { recursive: true, force: true });
  }
}

function isRunning(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
