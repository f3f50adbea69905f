import MiniSearch from 'minisearch';
import { contextText } from '../section-title.js';
import { analyze, analyzeQuestion, analyzeSentences } from '../text/analyze.js';
import type { Chunk } from '../types.js';

/** A passage matching a question, by its BM25 score. */
export interface KeywordHit {
  chunkId: string;
  score: number;
}

interface IndexedChunk {
  id: string;
  terms: string;
  context: string;
}

const OPTIONS = {
  fields: ['terms', 'context'],
  idField: 'id',
  tokenize: (text: string) => text.split(' ').filter((term) => term !== ''),
  processTerm: (term: string) => term,
  searchOptions: {
    combineWith: 'OR' as const,
    // An edit for every five letters: « defenc » (defence) still meets « defens » (défense).
    fuzzy: (term: string) => (term.length >= 5 ? 0.2 : false),
    weights: { fuzzy: 0.5, prefix: 0.5 },
    // The section path and title say what a passage is about, but less than its own words.
    boost: { context: 0.5 },
  },
};

/**
 * BM25 keyword search over the passages, on MiniSearch.
 * Passages are analysed with the stemmer of their own language; a question, whose language may differ from the
 * documents', is searched with its French and English stems together.
 */
export class KeywordIndex {
  private constructor(private readonly search: MiniSearch<IndexedChunk>) {}

  static build(chunks: Chunk[]): KeywordIndex {
    const search = new MiniSearch<IndexedChunk>(OPTIONS);
    search.addAll(
      chunks.map((chunk) => ({
        id: chunk.id,
        terms: analyzeSentences(chunk).join(' '),
        context: analyze(contextText(chunk), chunk.language).join(' '),
      })),
    );
    return new KeywordIndex(search);
  }

  /** Restores an index from `toJSON()` output (a string); throws when it is not one. */
  static fromJSON(json: string): KeywordIndex {
    return new KeywordIndex(MiniSearch.loadJSON<IndexedChunk>(json, OPTIONS));
  }

  toJSON(): string {
    return JSON.stringify(this.search);
  }

  get size(): number {
    return this.search.documentCount;
  }

  /** The best passages for a question, by BM25 score. */
  query(question: string, limit: number): KeywordHit[] {
    const terms = [...new Set(analyzeQuestion(question).flatMap((term) => term.stems))];
    if (terms.length === 0) return [];
    return this.search
      .search(terms.join(' '))
      .slice(0, limit)
      .map((result) => ({ chunkId: String(result.id), score: result.score }));
  }
}
