import type { BaseChatModel } from '@langchain/core/language_models/chat_models';
import type { ChatConfig } from './config.js';
import { ExtractiveAnswerer, type ExtractiveOptions } from './answer/extractive-answerer.js';
import { PassageFinder } from './answer/find-passages.js';
import { GenerativeAnswerer } from './answer/generative-answerer.js';
import { LexicalRewriter, ModelRewriter } from './conversation/rewrite-question.js';
import { DEFAULTS } from './defaults.js';
import type { PassageIndex } from './index/passage-index.js';
import type { Prompts } from './llm/prompts.js';
import { HybridRetriever } from './retrieval/hybrid-retriever.js';
import type { Answer, AnswerOptions, AnswerRequest } from './types.js';

/** Answers questions; what the HTTP layer and the evaluation depend on. */
export interface Answerer {
  answer(request: AnswerRequest, options?: AnswerOptions): Promise<Answer>;
}

/** A loaded index with the answerer built on it: what a server serves at one time. */
export interface Engine<I extends PassageIndex = PassageIndex> {
  index: I;
  answerer: Answerer;
}

/** A chat model and its prompts, for generative answers. */
export interface ChatSetup {
  model: BaseChatModel;
  prompts: Prompts;
  timeoutMs: number;
}

/**
 * Assembles retrieval and answering over a loaded index: extractive, or generative when a model is given.
 * `answering` replaces the answering settings (the evaluation sweeps them).
 */
export async function createEngine<I extends PassageIndex>(
  index: I,
  chat?: ChatSetup,
  answering: ExtractiveOptions = DEFAULTS.answering,
): Promise<Engine<I>> {
  const finder = new PassageFinder(index, new HybridRetriever(index), answering);
  const extractive = new ExtractiveAnswerer(finder, answering, new LexicalRewriter());
  if (chat === undefined) return { index, answerer: extractive };
  const rewriter = new ModelRewriter(chat.model, chat.prompts.rewrite);
  const answerer = new GenerativeAnswerer({
    model: chat.model,
    prompts: chat.prompts,
    finder,
    fallback: extractive,
    rewriter,
    options: {
      timeoutMs: chat.timeoutMs,
      minRelevance: DEFAULTS.generation.minRelevance,
      notFoundSentinel: DEFAULTS.generation.notFoundSentinel,
    },
  });
  return { index, answerer };
}

/** The chat set-up the configuration asks for, with the prompts of `promptsDir`; none without a chat model. */
export async function loadChatSetup(chat: ChatConfig | undefined, promptsDir: string): Promise<ChatSetup | undefined> {
  if (chat === undefined) return undefined;
  // Loaded only when a chat model is configured: the OpenAI client and LangChain's prompts add some 100 MB to a
  // server that does not use them.
  const { loadChatModel } = await import('./llm/create-chat-model.js');
  const { loadPrompts } = await import('./llm/prompts.js');
  return { model: await loadChatModel(chat), prompts: await loadPrompts(promptsDir), timeoutMs: chat.timeoutMs };
}
