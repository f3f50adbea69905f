import { createHash, randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, realpath, rename, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { EmbedderConfig } from '../config.js';
import { embedderId, restoreEmbeddings } from '../embeddings/create-embeddings.js';
import { IndexCorruptError, IndexMismatchError, IndexMissingError } from '../errors.js';
import type { Chunk, SourceDocument } from '../types.js';
import { KeywordIndex } from './keyword-index.js';
import { chunksSchema, INDEX_FORMAT_VERSION, type Manifest, manifestSchema } from './manifest.js';
import { serializeSourceTexts, SourceTexts } from './source-texts.js';
import { VectorIndex } from './vector-index.js';

/**
 * The index on disk: a folder of files described by `manifest.json`.
 *
 * `INDEX_DIR` is a symbolic link to a generation folder beside it. A new index is written in full to a staging
 * folder, renamed to a new generation, and only then is the link replaced by an atomic rename: at every instant
 * the link names a complete index, so a crash mid-ingest leaves the previous one serving.
 */

const FILES = {
  manifest: 'manifest.json',
  chunks: 'chunks.json',
  keywords: 'keyword-index.json',
  embedder: 'embedder.json',
  sources: 'sources.jsonl',
  vectors: 'vectors',
} as const;

/** Generations kept besides the current one, so that a server still reading the previous one is not cut off. */
const KEPT_GENERATIONS = 1;

export interface IndexContents {
  manifest: Omit<Manifest, 'formatVersion' | 'createdAt' | 'files' | 'sources'> & {
    sources: Array<Omit<Manifest['sources'][number], 'text'>>;
  };
  /** The documents indexed, whose citable texts are stored to be served. */
  documents: readonly SourceDocument[];
  chunks: Chunk[];
  keywordIndex: KeywordIndex;
  vectorIndex: VectorIndex;
  embedderState: unknown;
}

export interface LoadedIndex {
  /** The generation folder the index was read from. */
  directory: string;
  manifest: Manifest;
  chunks: Chunk[];
  chunkById: ReadonlyMap<string, Chunk>;
  /** The citable text of each indexed source. */
  sourceTexts: SourceTexts;
  keywordIndex: KeywordIndex;
  vectorIndex: VectorIndex;
}

/** Writes a complete index and then points `indexDir` at it; returns the generation folder. */
export async function writeIndex(indexDir: string, contents: IndexContents): Promise<string> {
  const parent = path.dirname(indexDir);
  const base = path.basename(indexDir);
  await mkdir(parent, { recursive: true });
  await removeAbandonedStaging(parent, base);

  const suffix = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const staging = path.join(parent, `.${base}.staging-${suffix}`);
  await mkdir(staging);
  try {
    await writeStaging(staging, contents);
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

/** Writes every file of an index, the manifest with their checksums last. */
async function writeStaging(staging: string, contents: IndexContents): Promise<void> {
  const files: Record<string, string> = {};
  const put = async (name: string, content: string | Buffer) => {
    await writeFile(path.join(staging, name), content);
    files[name] = sha256(content);
  };
  const texts = serializeSourceTexts(contents.documents);
  await put(FILES.sources, texts.content);
  await put(FILES.chunks, JSON.stringify(contents.chunks));
  await put(FILES.keywords, contents.keywordIndex.toJSON());
  if (contents.embedderState !== undefined) await put(FILES.embedder, JSON.stringify(contents.embedderState));
  await contents.vectorIndex.save(path.join(staging, FILES.vectors));
  for (const name of await readdir(path.join(staging, FILES.vectors))) {
    const relative = `${FILES.vectors}/${name}`;
    files[relative] = sha256(await readFile(path.join(staging, relative)));
  }
  const manifest: Manifest = {
    formatVersion: INDEX_FORMAT_VERSION,
    createdAt: new Date().toISOString(),
    ...contents.manifest,
    sources: contents.manifest.sources.map((entry) => {
      const text = texts.ranges.get(entry.source);
      if (text === undefined) throw new Error(`No text was written for ${entry.source}.`);
      return { ...entry, text };
    }),
    files,
  };
  await writeFile(path.join(staging, FILES.manifest), `${JSON.stringify(manifest, null, 2)}\n`);
}

/** Reads the manifest of the index `indexDir` names, or undefined when there is none. */
export async function readManifest(indexDir: string): Promise<Manifest | undefined> {
  const directory = await realpath(indexDir).catch(() => undefined);
  if (directory === undefined) return undefined;
  return parseManifest(directory).catch((error: unknown) => {
    if (error instanceof IndexMissingError) return undefined;
    throw error;
  });
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
  const contents = new Map<string, Buffer>();
  for (const [name, checksum] of Object.entries(manifest.files)) {
    const file = path.join(directory, name);
    const bytes = await readFile(file).catch(() => {
      throw new IndexCorruptError(`The index file ${file} is missing. Re-run \`npm run ingest\`.`);
    });
    if (sha256(bytes) !== checksum) {
      throw new IndexCorruptError(`The index file ${file} is damaged (checksum mismatch). Re-run \`npm run ingest\`.`);
    }
    contents.set(name, bytes);
  }
  const text = (name: string): string => {
    const bytes = contents.get(name);
    if (bytes === undefined) {
      throw new IndexCorruptError(`The manifest of ${directory} lists no ${name}. Re-run \`npm run ingest\`.`);
    }
    return bytes.toString('utf8');
  };

  const chunksFile = path.join(directory, FILES.chunks);
  const chunks: Chunk[] = parseFile(chunksFile, () => chunksSchema.parse(JSON.parse(text(FILES.chunks))));
  if (chunks.length !== manifest.chunkCount) {
    throw new IndexCorruptError(
      `The index file ${chunksFile} holds ${chunks.length} chunks, not ${manifest.chunkCount}.`,
    );
  }
  const embedderState = contents.has(FILES.embedder) ? JSON.parse(text(FILES.embedder)) : undefined;
  const embeddings = parseFile(path.join(directory, FILES.embedder), () => restoreEmbeddings(embedder, embedderState));
  const vectorsDir = path.join(directory, FILES.vectors);
  const vectorIndex = await VectorIndex.load(vectorsDir, embeddings).catch((error: unknown) =>
    parseFile(vectorsDir, () => {
      throw error;
    }),
  );
  if (vectorIndex.size !== chunks.length || vectorIndex.dimensions !== manifest.embedder.dimensions) {
    throw new IndexCorruptError(
      `The vector index in ${vectorsDir} holds ${vectorIndex.size} vectors of ${vectorIndex.dimensions} dimensions; ` +
        `the manifest expects ${chunks.length} of ${manifest.embedder.dimensions}. Re-run \`npm run ingest\`.`,
    );
  }
  const keywordsFile = path.join(directory, FILES.keywords);
  const keywordIndex = parseFile(keywordsFile, () => KeywordIndex.fromJSON(text(FILES.keywords)));
  const sourceBytes = contents.get(FILES.sources);
  if (sourceBytes === undefined) {
    throw new IndexCorruptError(`The manifest of ${directory} lists no ${FILES.sources}. Re-run \`npm run ingest\`.`);
  }
  return {
    directory,
    manifest,
    chunks,
    chunkById: new Map(chunks.map((chunk) => [chunk.id, chunk])),
    sourceTexts: new SourceTexts(sourceBytes, new Map(manifest.sources.map((entry) => [entry.source, entry.text]))),
    keywordIndex,
    vectorIndex,
  };
}

async function parseManifest(directory: string): Promise<Manifest> {
  const file = path.join(directory, FILES.manifest);
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

function sha256(content: string | Buffer): string {
  return createHash('sha256').update(content).digest('hex');
}
