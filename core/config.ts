import { existsSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { DEFAULTS } from './defaults.js';
import { KnownError } from './errors.js';
import { CHAT_PROVIDERS, type ChatProvider } from './llm/chat-providers.js';

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
  INDEX_STORE: z.enum(['folder', 'postgres']).default('folder'),
  INDEX_NAME: z
    .string()
    .trim()
    .regex(/^[\p{L}\p{N}_.-]{1,100}$/u, 'letters, digits, _ . - only, at most 100')
    .default('default'),
  DATABASE_URL: optionalText.pipe(
    z
      .string()
      .regex(/^postgres(?:ql)?:\/\//, 'a postgres:// or postgresql:// connection string')
      .optional(),
  ),
  DATABASE_SCHEMA: z
    .string()
    .trim()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'a lowercase SQL name: letters, digits and _')
    .default('cited_answers'),
  DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(1000).default(DEFAULTS.database.poolMax),
  DATABASE_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(100).default(DEFAULTS.database.connectTimeoutMs),
  DATABASE_QUERY_TIMEOUT_MS: z.coerce.number().int().min(100).default(DEFAULTS.database.queryTimeoutMs),
  GENERATION_GRACE_SECONDS: z.coerce.number().int().min(0).default(DEFAULTS.database.generationGraceSeconds),
  RATE_LIMIT_STORE: z.enum(['auto', 'memory', 'database']).default('auto'),
  EMBEDDER: z.enum(['auto', 'lexical', 'openai']).default('auto'),
  LEXICAL_DIMENSIONS: z.coerce.number().int().min(64).max(16384).default(DEFAULTS.lexicalEmbeddings.dimensions),
  OPENAI_API_KEY: optionalText,
  OPENAI_BASE_URL: optionalText.pipe(z.string().url().optional()),
  EMBEDDING_MODEL: z.string().trim().min(1).default('text-embedding-3-small'),
  EMBEDDING_TIMEOUT_MS: z.coerce.number().int().min(100).default(DEFAULTS.retrieval.embeddingTimeoutMs),
  CHAT_MODEL: optionalText,
  JUDGE_MODEL: optionalText,
  API_KEYS: optionalText,
  CORS_ORIGINS: optionalText,
  RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(0).default(DEFAULTS.http.rateLimitPerMinute),
  REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).default(DEFAULTS.http.requestTimeoutMs),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(0).default(DEFAULTS.http.shutdownTimeoutMs),
  TRUST_PROXY: z.coerce.number().int().min(0).max(10).default(0),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  INDEX_POLL_MS: z.coerce.number().int().min(0).default(DEFAULTS.http.indexPollMs),
  WORKERS: z.coerce.number().int().min(1).max(64).default(1),
  LLM_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(DEFAULTS.generation.timeoutMs),
  LLM_TEMPERATURE: z.coerce.number().min(0).max(2).default(0),
  PUBLIC_URL: optionalText.pipe(
    z
      .string()
      .url()
      .refine((url) => /^https?:\/\//i.test(url), 'must be an http or https URL')
      .optional(),
  ),
  SERVED_MODEL_NAME: optionalText.pipe(
    z
      .string()
      .regex(/^[\w.:-]{1,64}$/, 'must be 1 to 64 letters, digits, dots, colons, dashes or underscores')
      .optional(),
  ),
  EMBEDS: optionalText,
});

/** One site allowed to carry the widget: the public id its tag names, where it may run and how much it may ask. */
const embedSchema = z
  .object({
    id: z.string().regex(/^[\w-]{1,64}$/, 'an embed id is 1 to 64 letters, digits, dashes or underscores'),
    origins: z
      .array(
        z
          .string()
          .url()
          .transform((url) => new URL(url).origin)
          .refine((origin) => origin !== 'null', 'origins are http(s)://host[:port]'),
      )
      .min(1, 'an embed lists at least one origin'),
    enabled: z.boolean().default(true),
    requestsPerMinute: z.number().int().min(0).default(DEFAULTS.embeds.requestsPerMinute),
    requestsPerMinutePerAddress: z.number().int().min(0).default(DEFAULTS.embeds.requestsPerMinutePerAddress),
  })
  .strict();

export type EmbedConfig = z.infer<typeof embedSchema>;

export type EmbedderConfig =
  | { kind: 'lexical'; dimensions: number }
  | { kind: 'openai'; model: string; apiKey: string | undefined; baseUrl: string | undefined; timeoutMs: number };

/** The chat model that writes answers; absent in the embedded, extractive mode. */
export interface ChatConfig {
  /** A LangChain provider (`CHAT_MODEL=provider:model`); absent: an OpenAI-compatible server. */
  provider?: ChatProvider | undefined;
  model: string;
  apiKey: string | undefined;
  baseUrl: string | undefined;
  timeoutMs: number;
  temperature: number;
}

/** The PostgreSQL database that holds the index (INDEX_STORE=postgres) or the shared rate limit. */
export interface DatabaseConfig {
  /** Connection string, password included: never printed (see `describeDatabase`). */
  url: string;
  /** Schema the product's tables live in. */
  schema: string;
  poolMax: number;
  connectTimeoutMs: number;
  /** Longest a statement may run before the database cancels it. */
  queryTimeoutMs: number;
  /** How long a replaced generation stays readable by servers still on it, before an ingest removes it. */
  generationGraceSeconds: number;
}

/** What guards the HTTP API. */
export interface HttpConfig {
  /** Bearer keys accepted on /api/*; empty: no authentication. */
  apiKeys: string[];
  /** Origins allowed to call the API from a browser; empty: CORS off. */
  corsOrigins: string[];
  /** Requests per minute per key (or per address without keys); 0: no limit. */
  rateLimitPerMinute: number;
  /**
   * Where requests are counted, for this limit and the embeds': in each process, or in the database every process
   * shares (exact across them).
   */
  rateLimitStore: 'memory' | 'database';
  requestTimeoutMs: number;
  /** Proxies in front of the server whose X-Forwarded-For is trusted, for the client address. */
  trustProxy: number;
  /** Origin (and path prefix) under which clients reach this server, for the links of citations; absent: the request's. */
  publicUrl: string | undefined;
  /** The model id under which the OpenAI-compatible API serves the index. */
  modelName: string;
  /** Sites allowed to carry the widget. */
  embeds: EmbedConfig[];
}

export interface Config {
  port: number;
  host: string;
  /** Absolute path of the project root: sources are reported relative to it. */
  rootDir: string;
  corpusDir: string;
  /** The index folder (INDEX_STORE=folder). */
  indexDir: string;
  /** Where the index is kept: a folder on this machine, or a PostgreSQL database any number of servers share. */
  indexStore: 'folder' | 'postgres';
  /** The index's name in the database: one database holds several. */
  indexName: string;
  database: DatabaseConfig | undefined;
  embedder: EmbedderConfig;
  chat: ChatConfig | undefined;
  /** The model `npm run eval -- --judge` asks, at the chat model's server; the chat model itself when unset. */
  judgeModel: string | undefined;
  http: HttpConfig;
  shutdownTimeoutMs: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** How often the server checks for a new index; 0: never. */
  indexPollMs: number;
  /** Server processes sharing the port; above 1, a primary process accepts connections and hands them out. */
  workers: number;
}

/** Raised when an environment variable does not parse; the message names the variable and what it accepts. */
export class ConfigError extends KnownError {
  constructor(message: string) {
    super('invalid_config', message);
  }
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
    ? {
        kind: 'openai',
        model: values.EMBEDDING_MODEL,
        apiKey: values.OPENAI_API_KEY,
        baseUrl: values.OPENAI_BASE_URL,
        timeoutMs: values.EMBEDDING_TIMEOUT_MS,
      }
    : { kind: 'lexical', dimensions: values.LEXICAL_DIMENSIONS };
  const chat = chatConfig(values);
  const absoluteRoot = path.resolve(rootDir);
  const corpusDir = path.resolve(absoluteRoot, values.CORPUS_DIR);
  const database: DatabaseConfig | undefined =
    values.DATABASE_URL === undefined
      ? undefined
      : {
          url: values.DATABASE_URL,
          schema: values.DATABASE_SCHEMA,
          poolMax: values.DATABASE_POOL_MAX,
          connectTimeoutMs: values.DATABASE_CONNECT_TIMEOUT_MS,
          queryTimeoutMs: values.DATABASE_QUERY_TIMEOUT_MS,
          generationGraceSeconds: values.GENERATION_GRACE_SECONDS,
        };
  if (values.INDEX_STORE === 'postgres' && database === undefined) {
    throw new ConfigError('INDEX_STORE=postgres needs DATABASE_URL (postgres://user:password@host:5432/database).');
  }
  if (values.RATE_LIMIT_STORE === 'database' && database === undefined) {
    throw new ConfigError('RATE_LIMIT_STORE=database needs DATABASE_URL.');
  }
  const rateLimitStore =
    values.RATE_LIMIT_STORE === 'auto'
      ? values.INDEX_STORE === 'postgres'
        ? 'database'
        : 'memory'
      : values.RATE_LIMIT_STORE;
  return Object.freeze({
    port: values.PORT,
    host: values.HOST,
    rootDir: absoluteRoot,
    corpusDir,
    indexDir: path.resolve(absoluteRoot, values.INDEX_DIR),
    indexStore: values.INDEX_STORE,
    indexName: values.INDEX_NAME,
    database: database === undefined ? undefined : Object.freeze(database),
    embedder: Object.freeze(embedder),
    chat: chat === undefined ? undefined : Object.freeze(chat),
    judgeModel: values.JUDGE_MODEL,
    http: Object.freeze({
      apiKeys: list(values.API_KEYS),
      corsOrigins: list(values.CORS_ORIGINS),
      rateLimitPerMinute: values.RATE_LIMIT_PER_MINUTE,
      rateLimitStore,
      requestTimeoutMs: values.REQUEST_TIMEOUT_MS,
      trustProxy: values.TRUST_PROXY,
      publicUrl: values.PUBLIC_URL?.replace(/\/+$/, ''),
      modelName: values.SERVED_MODEL_NAME ?? defaultModelName(corpusDir),
      embeds: parseEmbeds(values.EMBEDS),
    }),
    shutdownTimeoutMs: values.SHUTDOWN_TIMEOUT_MS,
    logLevel: values.LOG_LEVEL,
    indexPollMs: values.INDEX_POLL_MS,
    workers: values.WORKERS,
  });
}

/** A comma-separated variable as its trimmed, non-empty items. */
function list(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

/** `cited-answers-<corpus folder>`: what a client's model picker shows for this server by default. */
function defaultModelName(corpusDir: string): string {
  const folder = path
    .basename(corpusDir)
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[^\w.-]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return `cited-answers${folder === '' ? '' : `-${folder}`}`.slice(0, 64);
}

/** EMBEDS: a JSON array of embeds; each id must be unique. */
function parseEmbeds(value: string | undefined): EmbedConfig[] {
  if (value === undefined) return [];
  let json: unknown;
  try {
    json = JSON.parse(value);
  } catch {
    throw new ConfigError('Invalid configuration (see .env.example):\n  EMBEDS: must be a JSON array of embeds');
  }
  const parsed = z.array(embedSchema).safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `EMBEDS.${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration (see .env.example):\n  ${problems.join('\n  ')}`);
  }
  const ids = parsed.data.map((embed) => embed.id);
  const repeated = ids.find((id, index) => ids.indexOf(id) !== index);
  if (repeated !== undefined) throw new ConfigError(`EMBEDS: the embed id "${repeated}" is used twice.`);
  return parsed.data;
}

/**
 * CHAT_MODEL, or an OpenAI key alone (then gpt-4o-mini), turns generative answers on. A bare model name is reached
 * at OPENAI_BASE_URL when set (Ollama, vLLM, llama.cpp…), at OpenAI otherwise; `provider:model` names a LangChain
 * provider, whose own package and settings reach it. Neither: extractive answers.
 */
function chatConfig(values: z.infer<typeof environmentSchema>): ChatConfig | undefined {
  const named =
    values.CHAT_MODEL ?? (values.OPENAI_API_KEY === undefined ? undefined : DEFAULTS.generation.openAiModel);
  if (named === undefined) return undefined;
  const { provider, model } = splitProvider(named);
  if (model === '') throw new ConfigError(`CHAT_MODEL=${named} names no model after "${provider}:".`);
  const openAiCompatible = provider === undefined || provider === 'openai';
  if (openAiCompatible && values.OPENAI_API_KEY === undefined && values.OPENAI_BASE_URL === undefined) {
    throw new ConfigError(
      'CHAT_MODEL needs OPENAI_API_KEY, or OPENAI_BASE_URL for a compatible server that takes no key.',
    );
  }
  return {
    provider,
    model,
    apiKey: values.OPENAI_API_KEY,
    baseUrl: values.OPENAI_BASE_URL,
    timeoutMs: values.LLM_TIMEOUT_MS,
    temperature: values.LLM_TEMPERATURE,
  };
}

/**
 * `anthropic:claude-…` → a provider and a model; a name whose prefix is no known provider (`llama3.1:8b`, as
 * Ollama names models) stays a bare model name.
 */
function splitProvider(name: string): { provider: ChatProvider | undefined; model: string } {
  const colon = name.indexOf(':');
  const prefix = colon === -1 ? '' : name.slice(0, colon);
  const provider = CHAT_PROVIDERS.find((candidate) => candidate === prefix);
  return provider === undefined ? { provider, model: name } : { provider, model: name.slice(colon + 1).trim() };
}

/** Reads `.env` (when present, without overriding the real environment) and parses the process environment. */
export function loadConfig(rootDir = process.cwd()): Readonly<Config> {
  const envFile = path.join(rootDir, '.env');
  if (existsSync(envFile)) process.loadEnvFile(envFile);
  return parseConfig(process.env, rootDir);
}
