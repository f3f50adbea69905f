import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express from 'express';
import type { Store } from 'express-rate-limit';
import type { Logger } from 'pino';
import type { HttpConfig } from '../core/config.js';
import { DEFAULTS } from '../core/defaults.js';
import type { Engine } from '../core/engine.js';
import { IndexUnavailableError } from '../core/errors.js';
import { createLogger, requestLogging } from './logging.js';
import { errorHandler, notFound } from './middleware/errors.js';
import { crossOrigin, limitRate, requireApiKey, securityHeaders } from './middleware/security.js';
import { openAiErrorHandler, openAiNotFound } from './openai/openai-errors.js';
import { answerRoutes } from './routes/answer-routes.js';
import { docsRoutes } from './routes/docs-routes.js';
import { embedRoutes } from './routes/embed-routes.js';
import { openAiRoutes } from './routes/openai-routes.js';
import { sourceRoutes } from './routes/source-routes.js';

export interface AppDependencies {
  /** The engine serving now, or undefined while no index is loaded. */
  engine: () => Engine | undefined;
  /** Access rules; by default none: no keys, no CORS, no rate limit. */
  http?: Partial<HttpConfig>;
  logger?: Logger;
  /** Folder of the chat page; defaults to `server/public`. */
  publicDir?: string;
  /**
   * Where the rate limits count requests when not in this process (a database every server shares): the store of
   * one limit, its keys under `prefix` (each limit has a store of its own).
   */
  rateLimitStores?: (prefix: string) => Store;
}

const DEFAULT_PUBLIC_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'public');

/**
 * Builds the HTTP app: the answer API, the OpenAI-compatible API, the widget's API, the health check, the OpenAPI
 * document and the pages. Nothing here opens a socket.
 */
export function createApp(dependencies: AppDependencies): express.Express {
  const http: HttpConfig = {
    apiKeys: [],
    corsOrigins: [],
    rateLimitPerMinute: 0,
    rateLimitStore: 'memory',
    requestTimeoutMs: DEFAULTS.http.requestTimeoutMs,
    trustProxy: 0,
    publicUrl: undefined,
    modelName: 'cited-answers',
    embeds: [],
    ...dependencies.http,
  };
  const app = express();
  app.disable('x-powered-by');
  // Answers are POST responses that no cache revalidates: hashing each body for an ETag is work for nothing.
  app.disable('etag');
  app.set('trust proxy', http.trustProxy);
  app.use(requestLogging(dependencies.logger ?? createLogger('silent')));
  app.use(securityHeaders());

  // Ready to answer: an index is loaded and its store answers (a database that went away makes it 503).
  app.get('/healthz', async (_request, response) => {
    const engine = dependencies.engine();
    if (engine === undefined) throw new IndexUnavailableError();
    await engine.index.check();
    response.json({ status: 'ok', chunks: engine.index.chunkCount, generation: engine.index.generation });
  });

  // The widget's API: no API key (a page cannot keep one secret), but only from the origins each embed lists.
  app.use(
    '/api/embeds',
    embedRoutes({
      engine: dependencies.engine,
      embeds: http.embeds,
      requestTimeoutMs: http.requestTimeoutMs,
      rateLimitStores: dependencies.rateLimitStores,
    }),
  );
  // One limit for both APIs: a client cannot double its share by using both.
  const rateLimit = limitRate(http, dependencies.rateLimitStores?.('api:'));
  app.use(
    '/api',
    crossOrigin(http.corsOrigins),
    rateLimit,
    requireApiKey(http.apiKeys),
    answerRoutes({ engine: dependencies.engine, requestTimeoutMs: http.requestTimeoutMs }),
    sourceRoutes({ engine: dependencies.engine }),
  );
  // The OpenAI-compatible API: the same keys and limits; its errors, its 404 included, are OpenAI-shaped.
  app.use(
    '/v1',
    crossOrigin(http.corsOrigins),
    rateLimit,
    requireApiKey(http.apiKeys),
    openAiRoutes({
      engine: dependencies.engine,
      requestTimeoutMs: http.requestTimeoutMs,
      modelName: http.modelName,
      publicUrl: http.publicUrl,
    }),
    openAiNotFound,
    openAiErrorHandler,
  );

  const publicDir = dependencies.publicDir ?? DEFAULT_PUBLIC_DIR;
  // The widget's script and styles, and the modules it shares with the chat page (the event-stream reader, the
  // splitting of an answer on its markers), are loaded by other sites' pages; a module is fetched with CORS. They are
  // public files: no credentials, any origin.
  app.use(['/widget.js', '/widget.css', '/event-stream.js', '/answer-markers.js'], (_request, response, next) => {
    response.setHeader('Cross-Origin-Resource-Policy', 'cross-origin');
    response.setHeader('Access-Control-Allow-Origin', '*');
    next();
  });
  app.use(docsRoutes({ modelName: http.modelName, publicUrl: http.publicUrl, publicDir }));
  app.use(express.static(publicDir, { index: 'index.html', fallthrough: true }));
  app.use(notFound);
  app.use(errorHandler);
  return app;
}
