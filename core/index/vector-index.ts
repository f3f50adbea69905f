import type { EmbeddingsInterface } from '@langchain/core/embeddings';
import { Document } from '@langchain/core/documents';
import { HNSWLib } from '@langchain/community/vectorstores/hnswlib';
import { DEFAULTS } from '../defaults.js';
import { contextText } from '../section-title.js';
import type { Chunk } from '../types.js';

/** A passage near a question, by the cosine similarity of their vectors. */
export interface VectorHit {
  chunkId: string;
  similarity: number;
}

/**
 * The hnswlib vector index, through LangChain's `HNSWLib` store (cosine space).
 * LangChain reports hnswlib's cosine *distance* as its "score"; this adapter turns it into a similarity in [-1, 1].
 */
export class VectorIndex {
  private constructor(
    readonly store: HNSWLib,
    private readonly embeddings: EmbeddingsInterface,
  ) {}

  /** Embeds the passages and indexes them. */
  static async build(chunks: Chunk[], embeddings: EmbeddingsInterface): Promise<VectorIndex> {
    const documents = chunks.map(
      (chunk) => new Document({ pageContent: embeddedText(chunk), metadata: { chunkId: chunk.id }, id: chunk.id }),
    );
    const store = new HNSWLib(embeddings, { space: 'cosine' });
    await store.addDocuments(documents);
    return new VectorIndex(store, embeddings);
  }

  /** Loads the files `save` wrote (hnswlib.index, args.json, docstore.json). */
  static async load(directory: string, embeddings: EmbeddingsInterface): Promise<VectorIndex> {
    const store = await HNSWLib.load(directory, embeddings);
    store.index.setEf(DEFAULTS.retrieval.efSearch);
    return new VectorIndex(store, embeddings);
  }

  save(directory: string): Promise<void> {
    return this.store.save(directory);
  }

  get size(): number {
    return this.store.index.getCurrentCount();
  }

  get dimensions(): number {
    return this.store.index.getNumDimensions();
  }

  /** The passages nearest to a question, most similar first. */
  async query(question: string, limit: number): Promise<VectorHit[]> {
    const count = Math.min(limit, this.size);
    if (count === 0) return [];
    const vector = await this.embeddings.embedQuery(question);
    // A question with no content word embeds to zeros, whose cosine distance is undefined.
    if (vector.every((value) => value === 0)) return [];
    const results = await this.store.similaritySearchVectorWithScore(vector, count);
    return results.map(([document, distance]) => ({
      chunkId: String(document.metadata['chunkId']),
      similarity: 1 - distance,
    }));
  }
}

/** What is embedded of a passage: its document title and section path, which say what it is about, then its text. */
export function embeddedText(chunk: Pick<Chunk, 'title' | 'section' | 'text'>): string {
  return `${contextText(chunk)}\n${chunk.text}`;
}
