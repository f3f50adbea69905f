import { DEFAULTS } from '../defaults.js';
import type { LoadedIndex } from '../index/index-store.js';
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
    private readonly index: Pick<LoadedIndex, 'chunkById' | 'keywordIndex' | 'vectorIndex'>,
    private readonly options: HybridRetrieverOptions = DEFAULTS.retrieval,
  ) {}

  async retrieve(question: string, k: number): Promise<Retrieval> {
    const keywordHits = this.index.keywordIndex.query(question, this.options.candidates);
    // An embedding server that fails or times out costs the vector half of the search, not the answer.
    let warning: string | undefined;
    const vectorHits = await this.index.vectorIndex.query(question, this.options.candidates).catch(() => {
      warning = 'Vector search failed (the embedding service did not answer); passages come from keyword search.';
      return [];
    });
    const fused = new Map<string, RetrievedChunk>();
    const entry = (chunkId: string): RetrievedChunk | undefined => {
      const chunk = this.index.chunkById.get(chunkId);
      if (chunk === undefined) return undefined;
      let retrieved = fused.get(chunkId);
      if (retrieved === undefined) {
        retrieved = { chunk, fusedScore: 0, vectorSimilarity: undefined, keywordScore: undefined };
        fused.set(chunkId, retrieved);
      }
      return retrieved;
    };
    vectorHits.forEach((hit, rank) => {
      const retrieved = entry(hit.chunkId);
      if (retrieved === undefined) return;
      retrieved.fusedScore += 1 / (this.options.rrfK + rank + 1);
      retrieved.vectorSimilarity = hit.similarity;
    });
    keywordHits.forEach((hit, rank) => {
      const retrieved = entry(hit.chunkId);
      if (retrieved === undefined) return;
      retrieved.fusedScore += 1 / (this.options.rrfK + rank + 1);
      retrieved.keywordScore = hit.score;
    });
    const hits = [...fused.values()]
      .sort((a, b) => b.fusedScore - a.fusedScore || (b.vectorSimilarity ?? -1) - (a.vectorSimilarity ?? -1))
      .slice(0, k);
    return warning === undefined ? { hits } : { hits, warning };
  }
}
