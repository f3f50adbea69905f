/**
 * The environment of an ingest or a server that a proof script measures: offline and extractive (the lexical
 * embedder, no key, no model), no rate limit or API keys, on a free local port, warnings only in the logs. What a
 * script adds (the index folder, workers, …) comes on top.
 */
export function offlineEnvironment(overrides: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return {
    HOST: '127.0.0.1',
    PORT: '0',
    RATE_LIMIT_PER_MINUTE: '0',
    LOG_LEVEL: 'warn',
    EMBEDDER: 'lexical',
    OPENAI_API_KEY: '',
    OPENAI_BASE_URL: '',
    CHAT_MODEL: '',
    API_KEYS: '',
    CORS_ORIGINS: '',
    ...overrides,
  };
}
