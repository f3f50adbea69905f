import type { BaseChatModel } from '@langchain/core/language_models/chat_models';
import { ChatOpenAI } from '@langchain/openai';
import type { ChatConfig } from '../config.js';
import { ConfigError } from '../config.js';
import { CHAT_PROVIDER_PACKAGES } from './chat-providers.js';

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

/**
 * The configured chat model, whatever its provider: a bare model name is an OpenAI-compatible server
 * (`createChatModel`); `provider:model` goes through LangChain's `initChatModel`, which loads the provider's
 * package, so that any provider works once its `@langchain/*` package is installed. The provider's own settings
 * (its key, its URL) come from its usual environment variables, except OpenAI's, which come from ours.
 */
export async function loadChatModel(config: ChatConfig): Promise<BaseChatModel> {
  if (config.provider === undefined) return createChatModel(config);
  const { initChatModel } = await import('langchain/chat_models/universal');
  const common = { temperature: config.temperature, maxRetries: 0, streaming: true };
  const openAi =
    config.provider === 'openai'
      ? {
          apiKey: config.apiKey ?? 'not-needed',
          configuration: config.baseUrl === undefined ? {} : { baseURL: config.baseUrl },
          streamUsage: true,
        }
      : {};
  try {
    return await initChatModel(config.model, { modelProvider: config.provider, ...common, ...openAi });
  } catch (error) {
    const packageName = CHAT_PROVIDER_PACKAGES[config.provider];
    if (isMissingPackage(error, packageName)) {
      throw new ConfigError(
        `CHAT_MODEL=${config.provider}:${config.model} needs the package ${packageName}: ` +
          `run \`npm install ${packageName}\`.`,
      );
    }
    throw error;
  }
}

/** Whether an import failed because the package is not installed (as `initChatModel` reports it, or as Node does). */
function isMissingPackage(error: unknown, packageName: string): boolean {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown }).code;
  return (
    message.includes(`Unable to import ${packageName}`) ||
    ((code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && message.includes(packageName))
  );
}
