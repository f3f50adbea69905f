import cluster from 'node:cluster';
import path from 'node:path';
import v8 from 'node:v8';
import type { Config } from '../core/config.js';
import { DEFAULTS } from '../core/defaults.js';
import { createEngine, type Engine, loadChatSetup } from '../core/engine.js';
import { IndexMissingError } from '../core/errors.js';
import { openIndexStore } from '../core/index/open-index-store.js';
import { createPool, isUnavailable, type Pool, withDatabase } from '../core/index/postgres/database.js';
import { checkSchema, migrate } from '../core/index/postgres/migrations.js';
import { StaleGenerationsError } from '../core/index/postgres/postgres-store.js';
import { DatabaseRateLimits } from './middleware/database-rate-limit-store.js';
import { createApp } from './app.js';
import { listen } from './http-server.js';
import { createLogger } from './logging.js';

/**
 * The database a server uses (for its index or its shared rate limits), made ready before the server listens: the
 * migrations it lacks are applied (under the migrations' lock, a no-op when the schema is current), so that servers
 * may start before the first ingest, and a schema newer than this version reads is refused. A database that does
 * not answer stops the start-up with a message naming it. Returns the rate limits' counts when requests are counted
 * in the database.
 */
async function prepareDatabase(config: Config): Promise<{ rateLimit: DatabaseRateLimits | undefined; pool?: Pool }> {
  const database = config.database;
  const limited =
    config.http.rateLimitPerMinute > 0 ||
    config.http.embeds.some((embed) => embed.requestsPerMinute > 0 || embed.requestsPerMinutePerAddress > 0);
  const countsThere = config.http.rateLimitStore === 'database' && limited;
  if (database === undefined || (config.indexStore !== 'postgres' && !countsThere)) return { rateLimit: undefined };
  const pool = createPool(database, () => undefined, DEFAULTS.database.rateLimitPoolMax);
  try {
    await withDatabase(database.url, async () => {
      await migrate(pool, database.schema);
      await checkSchema(pool, database.schema);
    });
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw error;
  }
  if (!countsThere) {
    await pool.end();
    return { rateLimit: undefined };
  }
  return { rateLimit: new DatabaseRateLimits(pool, database.schema), pool };
}

/**
 * Serves the index in this process: loads it (or answers 503 until one is ingested), swaps in each new complete
 * index, and on SIGTERM or SIGINT stops accepting and exits 0 once the requests in flight are done.
 */
export async function runServer(config: Config): Promise<void> {
  // A server's heap is mostly short-lived garbage from questions: keep it close to what survives collections (see
  // DEFAULTS.heapGrowingPercent). Read by V8 at each full collection, so setting it here, before the index loads,
  // is in time.
  v8.setFlagsFromString(`--heap-growing-percent=${DEFAULTS.heapGrowingPercent}`);
  const logger = createLogger(config.logLevel);
  const chatSetup = await loadChatSetup(config.chat, path.join(config.rootDir, 'prompts'));
  const database = await prepareDatabase(config);
  const store = openIndexStore(config);
  let engine: Engine | undefined;
  try {
    engine = await createEngine(await store.load(), chatSetup);
  } catch (error) {
    if (!(error instanceof IndexMissingError)) throw error;
    logger.warn(`${error.message} Until then every question is answered 503.`);
  }

  // A re-ingest while serving: the new index is swapped in once complete; requests in flight keep the engine
  // they started with.
  const watcher =
    config.indexPollMs === 0
      ? undefined
      : store.watch({
          current: engine?.index.generation,
          intervalMs: config.indexPollMs,
          onIndex: async (index) => {
            const previous = engine;
            engine = await createEngine(index, chatSetup);
            // Requests in flight may still read the previous index's passages until they time out.
            if (previous !== undefined) {
              setTimeout(() => void previous.index.close(), config.http.requestTimeoutMs).unref();
            }
            logger.info({ index: index.generation, chunks: index.chunkCount }, 'serving a new index');
          },
          onError: (error, generation) => {
            if (error instanceof StaleGenerationsError) {
              logger.warn({ err: error.cause, index: generation }, error.message);
              return;
            }
            logger.error(
              { err: error, index: generation },
              isUnavailable(error)
                ? 'the index store does not answer; still serving what it can'
                : 'new index not loaded; still serving the previous one',
            );
          },
        });

  const rateLimit = database.rateLimit;
  // Counted in each process, each worker takes its share of the limit, connections being dealt out in turn;
  // counted in the database, the limit holds across every process and machine as it is.
  const perProcess = rateLimit === undefined ? config.workers : 1;
  const http = { ...config.http, rateLimitPerMinute: Math.ceil(config.http.rateLimitPerMinute / perProcess) };
  const app = createApp({
    engine: () => engine,
    http,
    logger,
    ...(rateLimit === undefined ? {} : { rateLimitStores: (prefix: string) => rateLimit.store(prefix) }),
  });
  const server = listen(app, config.port, config.host, () => {
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : config.port;
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    const chunks = engine === undefined ? 'no index' : `${engine.index.chunkCount} passages`;
    const model =
      config.chat?.provider === undefined ? config.chat?.model : `${config.chat.provider}:${config.chat.model}`;
    const mode = model === undefined ? 'extractive answers' : `answers written by ${model}`;
    // The one line a person starting the server reads; the logs carry the rest.
    if (cluster.isPrimary) console.log(`Serving ${chunks} (${mode}) at http://${host}:${port}/`);
    else logger.info({ chunks, mode }, 'worker listening');
  });
  server.on('error', (error: NodeJS.ErrnoException) => {
    const reason = error.code === 'EADDRINUSE' ? `port ${config.port} is already in use (set PORT)` : error.message;
    console.error(`server: cannot listen on ${config.host}:${config.port}: ${reason}`);
    process.exit(1);
  });

  // SIGTERM/SIGINT: stop accepting, let requests in flight finish, exit 0; past the bound, close what is left.
  const stop = (signal: NodeJS.Signals) => {
    logger.info({ signal }, 'shutting down');
    watcher?.stop();
    const force = setTimeout(() => {
      logger.warn('requests still open after the shutdown bound; closing them');
      server.closeAllConnections();
    }, config.shutdownTimeoutMs);
    force.unref();
    // Connections go idle as their last response ends; close them then rather than after the keep-alive timeout.
    const sweep = setInterval(() => server.closeIdleConnections(), 100);
    server.close(() => {
      clearInterval(sweep);
      logger.info('stopped');
      void Promise.all([store.close(), database.pool?.end()])
        .catch(() => undefined)
        .finally(() => process.exit(0));
    });
    server.closeIdleConnections();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
