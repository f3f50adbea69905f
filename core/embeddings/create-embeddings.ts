import type { EmbeddingsInterface } from '@langchain/core/embeddings';
import type { EmbedderConfig } from '../config.js';
import { LexicalEmbeddings } from './lexical-embeddings.js';

/** An embedder ready to index a corpus, with the state (if any) that must be stored beside the index. */
export interface IndexEmbedder {
  id: string;
  embeddings: EmbeddingsInterface;
  /** JSON-serialisable state needed to embed questions later; undefined when the embedder has none. */
  state: unknown;
}

/** The id an index must carry to be served with this configuration. */
export function embedderId(config: EmbedderConfig): string {
  return config.kind === 'lexical'
    ? new LexicalEmbeddings({ dimensions: config.dimensions }).id
    : `openai:${config.model}`;
}

/** The OpenAI client is loaded only when configured: it adds some 80 MB to a process that does not use it. */
async function openAiEmbeddings(config: Extract<EmbedderConfig, { kind: 'openai' }>): Promise<EmbeddingsInterface> {
  const { OpenAIEmbeddings } = await import('@langchain/openai');
  return new OpenAIEmbeddings({
    model: config.model,
    // A compatible server reached through a base URL may take no key; the client still wants a string.
    apiKey: config.apiKey ?? 'not-needed',
    configuration: config.baseUrl === undefined ? {} : { baseURL: config.baseUrl },
    maxRetries: 1,
    timeout: config.timeoutMs,
  });
}

/** Builds the embedder for an ingest run; the lexical one learns its weights from the passages first. */
export async function createIndexEmbedder(config: EmbedderConfig, passages: string[]): Promise<IndexEmbedder> {
  if (config.kind === 'openai')
    return { id: embedderId(config), embeddings: await openAiEmbeddings(config), state: undefined };
  const lexical = new LexicalEmbeddings({ dimensions: config.dimensions }).fit(passages);
  return { id: lexical.id, embeddings: lexical, state: lexical.toJSON() };
}

/** Rebuilds the question embedder of a stored index from its saved state. */
export async function restoreEmbeddings(config: EmbedderConfig, state: unknown): Promise<EmbeddingsInterface> {
  return config.kind === 'openai' ? openAiEmbeddings(config) : LexicalEmbeddings.fromJSON(state);
}
