/**
 * The providers `initChatModel` of the `langchain` package knows, by the prefix `CHAT_MODEL=provider:model` names,
 * with the package each needs. Kept here rather than read from `langchain`, whose import is too slow for every
 * command that parses the configuration; a test checks that the two lists agree.
 */
export const CHAT_PROVIDER_PACKAGES = Object.freeze({
  openai: '@langchain/openai',
  anthropic: '@langchain/anthropic',
  azure_openai: '@langchain/openai',
  langsmith: '@langchain/openai',
  cohere: '@langchain/cohere',
  google: '@langchain/google',
  'google-vertexai': '@langchain/google-vertexai',
  'google-vertexai-web': '@langchain/google-vertexai-web',
  'google-genai': '@langchain/google-genai',
  ollama: '@langchain/ollama',
  mistralai: '@langchain/mistralai',
  mistral: '@langchain/mistralai',
  groq: '@langchain/groq',
  bedrock: '@langchain/aws',
  aws: '@langchain/aws',
  deepseek: '@langchain/deepseek',
  xai: '@langchain/xai',
  cerebras: '@langchain/cerebras',
  fireworks: '@langchain/fireworks',
  together: '@langchain/together-ai',
  perplexity: '@langchain/perplexity',
});

export type ChatProvider = keyof typeof CHAT_PROVIDER_PACKAGES;

export const CHAT_PROVIDERS = Object.keys(CHAT_PROVIDER_PACKAGES) as ChatProvider[];
