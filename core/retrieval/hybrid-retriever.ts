import { DEFAULTS } from '../defaults.js';
import { AppError } from '../errors.js';
import type { PassageIndex } from '../index/passage-index.js';
import type { RetrievedChunk } from '../types.js';

/** Passages found for a question, best first, and what went wrong on the way if anything did. */
export interface Retrieval {
  hits: RetrievedChunk[];
  /** Set when a part of retrieval failed and the hits come from the rest. */
  warning?: string;
}

/** Finds the passages for a question. */
export interface Retriever {
  retrieve(question: string, k: number): Promise<Retrieval>;
}

export interface HybridRetrieverOptions {
  candidates: number;
  rrfK: number;
}

/**
 * Hybrid retrieval: the vector index and the BM25 index each propose candidates, merged by reciprocal-rank fusion,
 * which needs no calibration between their incomparable scores.
 */
export class HybridRetriever implements Retriever {
  constructor(
    private readonly index: Pick<PassageIndex, 'chunks' | 'keywordSearch' | 'vectorSearch'>,
    private readonly options: HybridRetrieverOptions = DEFAULTS.retrieval,
  ) {}

  async retrieve(question: string, k: number): Promise<Retrieval> {
    // An embedding server that fails or times out costs the vector half of the search, not the answer.
    let warning: string | undefined;
    const [keywordHits, vectorHits] = await Promise.all([
      this.index.keywordSearch(question, this.options.candidates),
      this.index.vectorSearch(question, this.options.candidates).catch((error: unknown) => {
        // An index that cannot answer (a database gone) fails the question; only the embedder is optional.
        if (error instanceof AppError) throw error;
        warning = 'Vector search failed (the embedding service did not answer); passages come from keyword search.';
        return [];
      }),
    ]);
    // Fusion works on ids and scores; only the k passages kept are read from the index.
    const fused = new Map<string, Omit<RetrievedChunk, 'chunk'>>();
    const entry = (chunkId: string) => {
      let retrieved = fused.get(chunkId);
      if (retrieved === undefined) {
        retrieved = { fusedScore: 0, vectorSimilarity: undefined, keywordScore: undefined };
        fused.set(chunkId, retrieved);
      }
      return retrieved;
    };
    vectorHits.forEach((hit, rank) => {
      const retrieved = entry(hit.chunkId);
      retrieved.fusedScore += 1 / (this.options.rrfK + rank + 1);
      retrieved.vectorSimilarity = hit.score;
    });
    keywordHits.forEach((hit, rank) => {
      const retrieved = entry(hit.chunkId);
      retrieved.fusedScore += 1 / (this.options.rrfK + rank + 1);
      retrieved.keywordScore = hit.score;
    });
    const hits: RetrievedChunk[] = [];
    const ranked = [...fused].sort(
      ([, a], [, b]) => b.fusedScore - a.fusedScore || (b.vectorSimilarity ?? -1) - (a.vectorSimilarity ?? -1),
    );
    // One read for the k best; a passage the index no longer has (never, short of damage) makes room for the next.
    for (let from = 0; hits.length < k && from < ranked.length;) {
      const batch = ranked.slice(from, from + k - hits.length);
      from += batch.length;
      const chunks = await this.index.chunks(batch.map(([chunkId]) => chunkId));
      batch.forEach(([, { fusedScore, vectorSimilarity, keywordScore }], position) => {
        const chunk = chunks[position];
        if (chunk !== undefined) hits.push({ chunk, fusedScore, vectorSimilarity, keywordScore });
      });
    }
    return warning === undefined ? { hits } : { hits, warning };
  }
}
