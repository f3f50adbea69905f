import type { Chunk, SourceText } from '../types.js';
import type { Manifest } from './manifest.js';

/** A passage found by one half of the search, with that half's score (BM25, or cosine similarity). */
export interface SearchHit {
  chunkId: string;
  score: number;
}

/** An indexed document, as listed: its name, the checksum of its file, its title, language and size. */
export type IndexedSource = Omit<Manifest['sources'][number], 'text'>;

/**
 * What an index was built from and with, whichever store holds it: what `npm start` compares with the corpus and
 * the configuration to tell whether the index is stale.
 */
export type IndexDescription = Omit<Manifest, 'files' | 'sources'> & { sources: IndexedSource[] };

/**
 * What retrieval and answering need of an index, and all they may assume: passages by id, keyword search, vector
 * search, the corpus's term statistics and its sources. Every read may go over a network, so every read that
 * depends on the question is asynchronous. The files of a generation folder implement it (`loadIndex`), and so does
 * a generation in PostgreSQL (`PostgresIndex`); one shared test suite runs against both.
 */
export interface PassageIndex {
  readonly description: IndexDescription;
  readonly chunkCount: number;
  /** The indexed documents, in path order. */
  readonly sources: readonly IndexedSource[];
  /** Names the generation being served (a folder, a database generation): for logs, and to tell two apart. */
  readonly generation: string;
  /** The citable text of an indexed document with its section spans, or undefined for a name not indexed. */
  sourceText(source: string): Promise<SourceText | undefined>;
  /** The passages of these ids, in the same order (undefined for an id not indexed). */
  chunks(ids: readonly string[]): Promise<Array<Chunk | undefined>>;
  /** Every passage, in order: for checks and tests, never on a question's path. */
  allChunks(): AsyncIterable<Chunk>;
  /** The best passages by BM25, best first. */
  keywordSearch(question: string, limit: number): Promise<SearchHit[]>;
  /** The passages nearest to the question's embedding, most similar first. */
  vectorSearch(question: string, limit: number): Promise<SearchHit[]>;
  /** How many passages hold each stem in their text: the statistics of relevance weights (0 for a stem none holds). */
  documentFrequencies(stems: readonly string[]): Promise<ReadonlyMap<string, number>>;
  /** Resolves when the index can answer now; rejects with the reason (a database that went away) otherwise. */
  check(): Promise<void>;
  /** Releases what the index holds open (files, connections); a later read may open them again. */
  close(): Promise<void>;
}

/** Reads every item of an asynchronous iterable into an array (`Array.fromAsync` is not in Node 20). */
export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}
