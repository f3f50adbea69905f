import { Embeddings } from '@langchain/core/embeddings';
import { z } from 'zod';
import { DEFAULTS } from '../defaults.js';
import { foldText, isContentWord, words } from '../text/analyze.js';

export interface LexicalEmbeddingsOptions {
  dimensions: number;
  minNgram?: number;
  maxNgram?: number;
  wordWeight?: number;
}

const stateSchema = z.object({
  kind: z.literal('lexical'),
  dimensions: z.number().int().positive(),
  minNgram: z.number().int().positive(),
  maxNgram: z.number().int().positive(),
  wordWeight: z.number().positive(),
  documentCount: z.number().int().nonnegative(),
  idf: z.array(z.number()),
});
export type LexicalEmbeddingsState = z.infer<typeof stateSchema>;

/**
 * An embedder with no model weights: hashed word and character n-gram features, TF-IDF weighted and L2-normalised.
 * Character n-grams let lookalike words meet across French and English (défense/defence, Ukraine/ukrainien);
 * inverse document frequencies are kept per hash bucket, fitted on the corpus at ingest and stored with the index.
 */
export class LexicalEmbeddings extends Embeddings {
  readonly dimensions: number;
  private readonly minNgram: number;
  private readonly maxNgram: number;
  private readonly wordWeight: number;
  private idf: Float64Array;
  private documentCount = 0;

  constructor(options: LexicalEmbeddingsOptions) {
    super({});
    this.dimensions = options.dimensions;
    this.minNgram = options.minNgram ?? DEFAULTS.lexicalEmbeddings.minNgram;
    this.maxNgram = options.maxNgram ?? DEFAULTS.lexicalEmbeddings.maxNgram;
    this.wordWeight = options.wordWeight ?? DEFAULTS.lexicalEmbeddings.wordWeight;
    this.idf = new Float64Array(this.dimensions).fill(1);
  }

  /** Identifies the feature space: two indexes are comparable only when their ids are equal. */
  get id(): string {
    return `lexical-v1:d${this.dimensions}:n${this.minNgram}-${this.maxNgram}:w${this.wordWeight}`;
  }

  /** Learns inverse document frequencies from the corpus passages (smoothed, as scikit-learn does). */
  fit(texts: string[]): this {
    const documentFrequency = new Float64Array(this.dimensions);
    for (const text of texts) {
      for (const bucket of new Set([...this.features(text).keys()].map((feature) => hash(feature) % this.dimensions))) {
        documentFrequency[bucket] = (documentFrequency[bucket] ?? 0) + 1;
      }
    }
    const total = texts.length;
    this.idf = documentFrequency.map((frequency) => Math.log((1 + total) / (1 + frequency)) + 1);
    this.documentCount = total;
    return this;
  }

  toJSON(): LexicalEmbeddingsState {
    return {
      kind: 'lexical',
      dimensions: this.dimensions,
      minNgram: this.minNgram,
      maxNgram: this.maxNgram,
      wordWeight: this.wordWeight,
      documentCount: this.documentCount,
      idf: Array.from(this.idf, (value) => Math.round(value * 1e6) / 1e6),
    };
  }

  /** Restores a fitted embedder; throws a ZodError when the state is not one. */
  static fromJSON(value: unknown): LexicalEmbeddings {
    const state = stateSchema.parse(value);
    if (state.idf.length !== state.dimensions)
      throw new Error(`idf has ${state.idf.length} values, not ${state.dimensions}`);
    const embeddings = new LexicalEmbeddings(state);
    embeddings.idf = Float64Array.from(state.idf);
    embeddings.documentCount = state.documentCount;
    return embeddings;
  }

  embedDocuments(texts: string[]): Promise<number[][]> {
    return Promise.resolve(texts.map((text) => this.embed(text)));
  }

  embedQuery(text: string): Promise<number[]> {
    return Promise.resolve(this.embed(text));
  }

  /** The vector of one text, computed synchronously. */
  embed(text: string): number[] {
    const vector = new Float64Array(this.dimensions);
    for (const [feature, { count, weight }] of this.features(text)) {
      const code = hash(feature);
      const bucket = code % this.dimensions;
      const sign = hash(feature, SIGN_SEED) & 1 ? 1 : -1;
      vector[bucket] = (vector[bucket] ?? 0) + sign * weight * (1 + Math.log(count)) * (this.idf[bucket] ?? 1);
    }
    let norm = 0;
    for (const value of vector) norm += value * value;
    norm = Math.sqrt(norm);
    return Array.from(vector, (value) => (norm === 0 ? 0 : value / norm));
  }

  private features(text: string): Map<string, { count: number; weight: number }> {
    const features = new Map<string, { count: number; weight: number }>();
    const add = (feature: string, weight: number) => {
      const entry = features.get(feature);
      if (entry === undefined) features.set(feature, { count: 1, weight });
      else entry.count += 1;
    };
    for (const word of words(text)) {
      const folded = foldText(word);
      if (!isContentWord(folded)) continue;
      add(`w:${folded}`, this.wordWeight);
      const padded = `_${folded}_`;
      for (let size = this.minNgram; size <= this.maxNgram; size += 1) {
        for (let offset = 0; offset + size <= padded.length; offset += 1) add(padded.slice(offset, offset + size), 1);
      }
    }
    return features;
  }
}

const FNV_OFFSET = 0x811c9dc5;
const SIGN_SEED = 0x9747b28c;

/** 32-bit FNV-1a over UTF-16 code units: fast, deterministic and the same on every platform. */
function hash(text: string, seed = FNV_OFFSET): number {
  let value = seed;
  for (let index = 0; index < text.length; index += 1) {
    value ^= text.charCodeAt(index);
    value = Math.imul(value, 0x01000193);
  }
  return value >>> 0;
}
