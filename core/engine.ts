import type { BaseChatModel } from '@langchain/core/language_models/chat_models';
import { ExtractiveAnswerer } from './answer/extractive-answerer.js';
import { PassageFinder, passageTerms } from './answer/find-passages.js';
import { GenerativeAnswerer } from './answer/generative-answerer.js';
import { LexicalRewriter, ModelRewriter } from './conversation/rewrite-question.js';
import { DEFAULTS } from './defaults.js';
import type { LoadedIndex } from './index/index-store.js';
import type { Prompts } from './llm/prompts.js';
import { HybridRetriever } from './retrieval/hybrid-retriever.js';
import type { Answer, AnswerOptions, AnswerRequest } from './types.js';

/** Answers questions; what the HTTP layer and the evaluation depend on. */
export interface Answerer {
  answer(request: AnswerRequest, options?: AnswerOptions): Promise<Answer>;
}

/** A loaded index with the answerer built on it: what a server serves at one time. */
export interface Engine {
  index: LoadedIndex;
  answerer: Answerer;
}

/** A chat model and its prompts, for generative answers. */
export interface Generation {
  model: BaseChatModel;
  prompts: Prompts;
  timeoutMs: number;
}

/** Assembles retrieval and answering over a loaded index: extractive, or generative when a model is given. */
export async function createEngine(index: LoadedIndex, generation?: Generation): Promise<Engine> {
  const finder = new PassageFinder(index.chunks, new HybridRetriever(index), await passageTerms(index.chunks));
  const extractive = new ExtractiveAnswerer(finder, DEFAULTS.answering, new LexicalRewriter());
  if (generation === undefined) return { index, answerer: extractive };
  const rewriter = new ModelRewriter(generation.model, generation.prompts.rewrite);
  const answerer = new GenerativeAnswerer({
    model: generation.model,
    prompts: generation.prompts,
    finder,
    fallback: extractive,
    rewriter,
    options: {
      timeoutMs: generation.timeoutMs,
      minRelevance: DEFAULTS.generation.minRelevance,
      notFoundSentinel: DEFAULTS.generation.notFoundSentinel,
    },
  });
  return { index, answerer };
}
