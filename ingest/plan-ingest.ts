import { UnreadableDocumentError } from '../core/errors.js';
import type { DocumentCensus } from '../core/index/census-file.js';
import type { Manifest } from '../core/index/manifest.js';
import type { StoredGenerationResult } from '../core/index/stored-generation.js';
import type { OrdinalRange } from '../core/index/vector-file.js';
import { type CorpusFile, fileChecksum, type ReadFile, readCorpusFile, type SkippedFile } from './load-documents.js';
import { BoilerplateCensus, censusOf } from './remove-boilerplate.js';
import type { ChunkerSettings } from './split-into-chunks.js';

/**
 * What changed since the index in place was built, and so what an ingest must do: which files to read and split,
 * which stored passages (and vectors) to carry over, which sources to drop — or why everything must be done again.
 * It reads the corpus and the stored generation only through `StoredGeneration`, so any store can use it; writing
 * the new generation is the store's own business.
 */

/** What an index was built with; a change to any of them makes every stored passage or vector unusable. */
export interface IngestSettings {
  embedderId: string;
  readerVersion: number;
  chunker: ChunkerSettings;
  /**
   * Whether unchanged passages must carry their stored vectors (a server's embeddings, which cost money and time);
   * the lexical embedder's are computed again, since its weights are fitted on the whole corpus.
   */
  carriesVectors: boolean;
}

/** How a corpus file stands against the index in place. */
export type FileStatus = 'added' | 'changed' | 'unchanged';

export interface PlannedFile {
  file: CorpusFile;
  /** SHA-256 of the file's bytes as the plan found them. */
  checksum: string;
  status: FileStatus;
  /** Where the file's passages are in the stored generation, when they are carried over rather than made again. */
  carried: OrdinalRange | undefined;
  /**
   * Unchanged, but what counts as page furniture in it changed with the rest of the corpus (a line now repeated on
   * enough pages, or no longer): it is read and split again, as a full rebuild would.
   */
  refurnished: boolean;
  /** Read by the plan (added, changed, or any file of a full rebuild), by `PlanOptions.read`. */
  read: boolean;
  /** Why the file cannot be read: found by the plan, or an unchanged file the index in place skipped already. */
  skipped: SkippedFile | undefined;
}

/** How a plan is made, besides the corpus, the index in place and the settings. */
export interface PlanOptions {
  /** Plan a full rebuild, whatever the index in place. */
  full?: boolean;
  /**
   * Reads a file and makes its census (keeping what it read for the ingest, in another thread, say); by default
   * `readFileCensus`. Throws `UnreadableDocumentError` for a file that cannot be read.
   */
  read?: (file: CorpusFile) => Promise<FileCensus>;
  /** Files read ahead of the one being planned (several threads read at once); 1 by default. */
  ahead?: number;
  /** Told of each file planned, in order, with the pages of the file when the plan read a paged one. */
  onPlanned?: (file: PlannedFile, pages: number) => void;
}

/** What the plan needs of a file it reads: its checksum, its census of page furniture and its pages. */
export interface FileCensus {
  source: string;
  checksum: string;
  census: DocumentCensus;
  /** Pages of a paged document (PDF), 0 for others. */
  pages: number;
}

/** Reads a corpus file for its census; throws `UnreadableDocumentError` for a file that cannot be read. */
export async function readFileCensus(file: CorpusFile): Promise<FileCensus> {
  return fileCensusOf(await readCorpusFile(file));
}

/** What the plan needs of a file read already. */
export function fileCensusOf(read: ReadFile): FileCensus {
  return {
    source: read.source,
    checksum: read.checksum,
    census: censusOf(read.reading),
    pages: read.reading.pages?.length ?? 0,
  };
}

export interface IngestPlan {
  /** Why the whole corpus is read and embedded again; undefined when the index in place is updated. */
  fullReason: string | undefined;
  /** The corpus, in path order. */
  files: PlannedFile[];
  /** Sources of the index in place that are no longer in the corpus. */
  removed: string[];
  /** The census of the corpus as it is now: it judges the page furniture of the files read. */
  census: BoilerplateCensus;
  /** The stored census of each carried file, by source, written again with the new generation. */
  carriedCensus: Map<string, DocumentCensus>;
}

/** The generation an update carries unchanged files over from: none when the plan rebuilds the whole index. */
export function carriedGeneration<Generation>(
  plan: IngestPlan,
  stored: { generation: Generation } | { unusable: string },
): Generation | undefined {
  return plan.fullReason === undefined && 'generation' in stored ? stored.generation : undefined;
}

/**
 * Why a stored generation cannot be updated under these settings (another embedder, document readers or chunker
 * settings), or undefined when it can.
 */
export function settingsChange(
  manifest: Pick<Manifest, 'embedder' | 'readerVersion' | 'chunker'>,
  settings: Omit<IngestSettings, 'carriesVectors'>,
): string | undefined {
  if (manifest.embedder.id !== settings.embedderId) return 'the index was built with another embedder';
  if (manifest.readerVersion !== settings.readerVersion) return 'the document readers changed';
  const { chunker } = manifest;
  const wanted = settings.chunker;
  if (
    chunker.targetChars !== wanted.targetChars ||
    chunker.maxChars !== wanted.maxChars ||
    chunker.overlapSentences !== wanted.overlapSentences
  ) {
    return 'the chunker settings changed';
  }
  return undefined;
}

/**
 * Compares the corpus with the index in place and decides what an ingest does. Every file is checksummed; added and
 * changed files (every file, for a full rebuild) are read once here for the census of page furniture, and handed to
 * `options.keep`; the census of the unchanged ones is the stored one, so an unchanged file is not read. An unchanged
 * file is made again only when the new census judges one of its blocks otherwise than the stored census did. A file
 * that cannot be read is skipped with its reason; an unchanged one the index in place skipped is not read again.
 */
export async function planIngest(
  files: readonly CorpusFile[],
  stored: StoredGenerationResult,
  settings: IngestSettings,
  options: PlanOptions = {},
): Promise<IngestPlan> {
  const generation = 'generation' in stored ? stored.generation : undefined;
  const description = generation?.description;
  const fullReason = options.full
    ? 'a full rebuild was asked for'
    : 'unusable' in stored
      ? stored.unusable
      : (settingsChange(stored.generation.description, settings) ??
        (settings.carriesVectors && !stored.generation.keepsVectors
          ? 'the index in place keeps no vectors to reuse'
          : undefined));

  const indexed = new Map<string, { checksum: string; range: OrdinalRange }>();
  let ordinal = 0;
  for (const source of description?.sources ?? []) {
    indexed.set(source.source, { checksum: source.checksum, range: { start: ordinal, end: ordinal + source.chunks } });
    ordinal += source.chunks;
  }
  // Files the index in place skipped: unchanged, they would be skipped again for the same reason.
  const skippedBefore = new Map((description?.skipped ?? []).map((file) => [file.source, file]));
  const storedCensus = new Map<string, DocumentCensus>();
  if (fullReason === undefined && generation !== undefined) {
    for (const { source, ...census } of await generation.censuses()) storedCensus.set(source, census);
  }

  // The census pass: the stored census of each unchanged file, a fresh one of every file read.
  const census = new BoilerplateCensus();
  const planned: PlannedFile[] = [];
  const carriedCensus = new Map<string, DocumentCensus>();
  const read = options.read ?? readFileCensus;
  const look = async (file: CorpusFile): Promise<{ checksum: string } | FileCensus | SkippedFile> => {
    if (fullReason === undefined) {
      const entry = indexed.get(file.source);
      const skipped = skippedBefore.get(file.source);
      if ((entry !== undefined && storedCensus.has(file.source)) || skipped !== undefined) {
        const checksum = await fileChecksum(file);
        if (checksum === skipped?.checksum) return skipped;
        if (checksum === entry?.checksum) return { checksum };
      }
    }
    return read(file).catch(async (error: unknown): Promise<SkippedFile> => {
      if (!(error instanceof UnreadableDocumentError)) throw error;
      return { source: file.source, checksum: await fileChecksum(file), reason: error.message };
    });
  };
  for await (const [file, found] of readAhead(files, look, options.ahead)) {
    const before = indexed.get(file.source) ?? skippedBefore.get(file.source);
    const status: FileStatus =
      before === undefined ? 'added' : before.checksum === found.checksum ? 'unchanged' : 'changed';
    let plannedFile: PlannedFile;
    if ('reason' in found) {
      plannedFile = {
        file,
        checksum: found.checksum,
        status,
        carried: undefined,
        refurnished: false,
        read: false,
        skipped: found,
      };
    } else if ('census' in found) {
      census.count(found.census);
      plannedFile = {
        file,
        checksum: found.checksum,
        status,
        carried: undefined,
        refurnished: false,
        read: true,
        skipped: undefined,
      };
    } else {
      const kept = storedCensus.get(file.source);
      const entry = indexed.get(file.source);
      if (kept === undefined || entry === undefined) throw new Error(`no stored census of ${file.source}`);
      census.count(kept);
      carriedCensus.set(file.source, kept);
      plannedFile = {
        file,
        checksum: found.checksum,
        status,
        carried: entry.range,
        refurnished: false,
        read: false,
        skipped: undefined,
      };
    }
    planned.push(plannedFile);
    options.onPlanned?.(plannedFile, 'census' in found ? found.pages : 0);
  }
  const present = new Set(files.map((file) => file.source));
  const removed = [...(description?.sources ?? []), ...(description?.skipped ?? [])]
    .map((source) => source.source)
    .filter((source) => !present.has(source))
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

  // An unchanged file is carried over only if the corpus around it leaves its page furniture as it was.
  if (carriedCensus.size > 0) {
    const before = new BoilerplateCensus();
    for (const kept of storedCensus.values()) before.count(kept);
    for (const file of planned) {
      const kept = carriedCensus.get(file.file.source);
      if (kept === undefined || sameJudgement(before.kept(kept), census.kept(kept))) continue;
      file.carried = undefined;
      file.refurnished = true;
      carriedCensus.delete(file.file.source);
    }
  }
  return { fullReason, files: planned, removed, census, carriedCensus };
}

function sameJudgement(left: readonly boolean[], right: readonly boolean[]): boolean {
  return left.length === right.length && left.every((kept, index) => kept === right[index]);
}

/**
 * Maps each item through `work` in order, keeping `ahead` items started beyond the one being consumed: a file is
 * read while the previous one is processed, or several at once by several threads. With `held`, no more are started
 * while the results finished and not yet consumed weigh `held.most` or more together, so that a few large results
 * (a long document's passages) do not multiply the memory held by `ahead`.
 */
export async function* readAhead<T, R>(
  items: readonly T[],
  work: (item: T) => Promise<R>,
  ahead = 1,
  held?: { weigh: (result: R) => number; most: number },
): AsyncGenerator<[T, R]> {
  const started: Array<{ item: T; result: Promise<R>; weight: number }> = [];
  let next = 0;
  let holding = 0;
  const start = () => {
    const item = items[next];
    if (item === undefined) return;
    next += 1;
    const entry = { item, result: work(item), weight: 0 };
    // Weighed as it settles (before its turn's await resumes); a failure is awaited in its turn and must not go
    // unhandled meanwhile.
    entry.result.then(
      (value) => {
        entry.weight = held?.weigh(value) ?? 0;
        holding += entry.weight;
      },
      () => undefined,
    );
    started.push(entry);
  };
  const room = () => started.length < ahead && next < items.length && (held === undefined || holding < held.most);
  while (room()) start();
  for (let current = started.shift(); current !== undefined; current = started.shift()) {
    const value = await current.result;
    holding -= current.weight;
    while (room()) start();
    yield [current.item, value];
  }
}
