import type { BaseChatModel } from '@langchain/core/language_models/chat_models';
import { ChatOpenAI } from '@langchain/openai';
import type { ChatConfig } from '../config.js';

/** The configured chat model: OpenAI, or any server speaking its API through a base URL. */
export function createChatModel(config: ChatConfig): BaseChatModel {
  return new ChatOpenAI({
    model: config.model,
    temperature: config.temperature,
    // A compatible server reached through a base URL may take no key; the client still wants a string.
    apiKey: config.apiKey ?? 'not-needed',
    configuration: config.baseUrl === undefined ? {} : { baseURL: config.baseUrl },
    streaming: true,
    streamUsage: true,
    // The answerer's own deadline falls back to an extractive answer; a retry would only overrun it.
    maxRetries: 0,
  });
}
