import type { Chunk } from '../types.js';
import type { Manifest } from './manifest.js';
import type { SourceTextLookup } from './source-texts.js';

/** A passage found by one half of the search, with that half's score (BM25, or cosine similarity). */
export interface SearchHit {
  chunkId: string;
  score: number;
}

/**
 * What retrieval and answering need of an index, and all they may assume: passages by id, keyword search, vector
 * search, the corpus's term statistics and its sources. The files of a generation folder implement it
 * (`loadIndex`); another store (a database) can implement the same.
 */
export interface PassageIndex {
  readonly manifest: Manifest;
  readonly chunkCount: number;
  /** The indexed documents, in path order. */
  readonly sources: Manifest['sources'];
  /** The citable text of each indexed document, by source name. */
  readonly sourceTexts: SourceTextLookup;
  chunk(id: string): Chunk | undefined;
  /** Every passage, in order: for checks and tests, never on a question's path. */
  allChunks(): Iterable<Chunk>;
  /** The best passages by BM25, best first. */
  keywordSearch(question: string, limit: number): Promise<SearchHit[]>;
  /** The passages nearest to the question's embedding, most similar first. */
  vectorSearch(question: string, limit: number): Promise<SearchHit[]>;
  /** Passages whose text holds a stem: the statistics of relevance weights. */
  documentFrequency(stem: string): number;
}
