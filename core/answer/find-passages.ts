import { DEFAULTS } from '../defaults.js';
import type { Retriever } from '../retrieval/hybrid-retriever.js';
import { analyzeQuestion, type QueryTerm } from '../text/analyze.js';
import type { Chunk, RetrievedChunk } from '../types.js';
import { coverage, TermStatistics, type TextTerms, textTerms } from './relevance.js';

/** Passages retrieved for a question, each with its coverage of the question. */
export interface FoundPassages {
  terms: QueryTerm[];
  retrieved: RetrievedChunk[];
  passages: ScoredPassage[];
  retrieveMs: number;
  /** Why retrieval was partial, when it was. */
  warning: string | undefined;
}

export type ScoredPassage = RetrievedChunk & { relevance: number };

/**
 * Retrieves the passages for a question and scores each by its coverage of the question's words: the first stage
 * of every answerer, done once per question whichever answerer ends up answering.
 */
export class PassageFinder {
  private readonly statistics: TermStatistics;
  private readonly chunkTerms: ReadonlyMap<string, TextTerms>;

  /** `terms` are the passages' terms when already computed (see `passageTerms`); otherwise they are computed here. */
  constructor(
    chunks: readonly Chunk[],
    private readonly retriever: Retriever,
    terms?: ReadonlyMap<string, TextTerms>,
  ) {
    this.chunkTerms = terms ?? new Map(chunks.map((chunk) => [chunk.id, textTerms(chunk.text, chunk.language)]));
    this.statistics = new TermStatistics([...this.chunkTerms.values()]);
  }

  /** Word statistics of the corpus, which weigh every coverage computed over it. */
  get termStatistics(): TermStatistics {
    return this.statistics;
  }

  /**
   * The passages for a question, best first as retrieval ranked them, each with its coverage of the question. A
   * question without a content word retrieves nothing.
   */
  async find(question: string, k: number | undefined): Promise<FoundPassages> {
    const startedAt = performance.now();
    const terms = analyzeQuestion(question);
    const retrieval =
      terms.length === 0 ? { hits: [] } : await this.retriever.retrieve(question, k ?? DEFAULTS.retrieval.k);
    const retrieved = retrieval.hits;
    const passages = retrieved.map((retrievedChunk) => ({
      ...retrievedChunk,
      relevance: coverage(terms, this.termsOf(retrievedChunk.chunk), this.statistics),
    }));
    return { terms, retrieved, passages, retrieveMs: performance.now() - startedAt, warning: retrieval.warning };
  }

  private termsOf(chunk: Chunk): TextTerms {
    return this.chunkTerms.get(chunk.id) ?? textTerms(chunk.text, chunk.language);
  }
}

/** Slices of work between which other work (requests) may run. */
const TERMS_SLICE = 200;

/**
 * The terms of every passage, computed a slice at a time, yielding in between: a server loading a large index
 * beside the one it serves keeps answering meanwhile.
 */
export async function passageTerms(chunks: readonly Chunk[]): Promise<Map<string, TextTerms>> {
  const terms = new Map<string, TextTerms>();
  for (let start = 0; start < chunks.length; start += TERMS_SLICE) {
    for (const chunk of chunks.slice(start, start + TERMS_SLICE))
      terms.set(chunk.id, textTerms(chunk.text, chunk.language));
    await new Promise((resolve) => setImmediate(resolve));
  }
  return terms;
}
