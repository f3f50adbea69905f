import { ExtractiveAnswerer } from './answer/extractive-answerer.js';
import type { LoadedIndex } from './index/index-store.js';
import { HybridRetriever } from './retrieval/hybrid-retriever.js';
import type { Answer, AnswerRequest } from './types.js';

/** Answers questions; what the HTTP layer and the evaluation depend on. */
export interface Answerer {
  answer(request: AnswerRequest): Promise<Answer>;
}

/** A loaded index with the answerer built on it: what a server serves at one time. */
export interface Engine {
  index: LoadedIndex;
  answerer: Answerer;
}

/** Assembles retrieval and answering over a loaded index. */
export function createEngine(index: LoadedIndex): Engine {
  return { index, answerer: new ExtractiveAnswerer(index, new HybridRetriever(index)) };
}
