import { existsSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { DEFAULTS } from './defaults.js';

const optionalText = z
  .string()
  .trim()
  .transform((value) => (value === '' ? undefined : value))
  .optional();

const environmentSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().trim().min(1).default('127.0.0.1'),
  CORPUS_DIR: z.string().trim().min(1).default('corpus'),
  INDEX_DIR: z.string().trim().min(1).default(path.join('data', 'index')),
  EMBEDDER: z.enum(['auto', 'lexical', 'openai']).default('auto'),
  LEXICAL_DIMENSIONS: z.coerce.number().int().min(64).max(16384).default(DEFAULTS.lexicalEmbeddings.dimensions),
  OPENAI_API_KEY: optionalText,
  OPENAI_BASE_URL: optionalText.pipe(z.string().url().optional()),
  EMBEDDING_MODEL: z.string().trim().min(1).default('text-embedding-3-small'),
  CHAT_MODEL: optionalText,
  LLM_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(DEFAULTS.generation.timeoutMs),
  LLM_TEMPERATURE: z.coerce.number().min(0).max(2).default(0),
});

export type EmbedderConfig =
  | { kind: 'lexical'; dimensions: number }
  | { kind: 'openai'; model: string; apiKey: string | undefined; baseUrl: string | undefined };

/** The chat model that writes answers; absent in the embedded, extractive mode. */
export interface ChatConfig {
  model: string;
  apiKey: string | undefined;
  baseUrl: string | undefined;
  timeoutMs: number;
  temperature: number;
}

export interface Config {
  port: number;
  host: string;
  /** Absolute path of the project root: sources are reported relative to it. */
  rootDir: string;
  corpusDir: string;
  indexDir: string;
  embedder: EmbedderConfig;
  chat: ChatConfig | undefined;
}

/** Raised when an environment variable does not parse; the message names the variable and what it accepts. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Parses configuration from an environment into a frozen object.
 * Pure: the caller decides where the environment comes from.
 */
export function parseConfig(environment: NodeJS.ProcessEnv, rootDir = process.cwd()): Readonly<Config> {
  const parsed = environmentSchema.safeParse(environment);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration (see .env.example):\n  ${problems.join('\n  ')}`);
  }
  const values = parsed.data;
  const wantsOpenAi =
    values.EMBEDDER === 'openai' || (values.EMBEDDER === 'auto' && values.OPENAI_API_KEY !== undefined);
  if (wantsOpenAi && values.OPENAI_API_KEY === undefined && values.OPENAI_BASE_URL === undefined) {
    throw new ConfigError(
      'EMBEDDER=openai needs OPENAI_API_KEY (or OPENAI_BASE_URL for a compatible server that takes no key).',
    );
  }
  const embedder: EmbedderConfig = wantsOpenAi
    ? { kind: 'openai', model: values.EMBEDDING_MODEL, apiKey: values.OPENAI_API_KEY, baseUrl: values.OPENAI_BASE_URL }
    : { kind: 'lexical', dimensions: values.LEXICAL_DIMENSIONS };
  const chat = chatConfig(values);
  const absoluteRoot = path.resolve(rootDir);
  return Object.freeze({
    port: values.PORT,
    host: values.HOST,
    rootDir: absoluteRoot,
    corpusDir: path.resolve(absoluteRoot, values.CORPUS_DIR),
    indexDir: path.resolve(absoluteRoot, values.INDEX_DIR),
    embedder: Object.freeze(embedder),
    chat: chat === undefined ? undefined : Object.freeze(chat),
  });
}

/**
 * CHAT_MODEL, or an OpenAI key alone (then gpt-4o-mini), turns generative answers on; the model is reached at
 * OPENAI_BASE_URL when set (Ollama, vLLM, llama.cpp…), at OpenAI otherwise. Neither: extractive answers.
 */
function chatConfig(values: z.infer<typeof environmentSchema>): ChatConfig | undefined {
  const model =
    values.CHAT_MODEL ?? (values.OPENAI_API_KEY === undefined ? undefined : DEFAULTS.generation.openAiModel);
  if (model === undefined) return undefined;
  if (values.OPENAI_API_KEY === undefined && values.OPENAI_BASE_URL === undefined) {
    throw new ConfigError(
      'CHAT_MODEL needs OPENAI_API_KEY, or OPENAI_BASE_URL for a compatible server that takes no key.',
    );
  }
  return {
    model,
    apiKey: values.OPENAI_API_KEY,
    baseUrl: values.OPENAI_BASE_URL,
    timeoutMs: values.LLM_TIMEOUT_MS,
    temperature: values.LLM_TEMPERATURE,
  };
}

/** Reads `.env` (when present, without overriding the real environment) and parses the process environment. */
export function loadConfig(rootDir = process.cwd()): Readonly<Config> {
  const envFile = path.join(rootDir, '.env');
  if (existsSync(envFile)) process.loadEnvFile(envFile);
  return parseConfig(process.env, rootDir);
}
