import cluster from 'node:cluster';
import path from 'node:path';
import { type Config, ConfigError, loadConfig } from '../core/config.js';
import { createEngine, type Engine, type Generation } from '../core/engine.js';
import { IndexMissingError } from '../core/errors.js';
import { loadIndex } from '../core/index/index-store.js';
import { watchIndex } from '../core/index/watch-index.js';
import { createChatModel } from '../core/llm/create-chat-model.js';
import { loadPrompts } from '../core/llm/prompts.js';
import { createApp } from './app.js';
import { listen } from './http-server.js';
import { createLogger } from './logging.js';

async function main(): Promise<void> {
  const config = loadConfig();
  if (config.workers > 1 && cluster.isPrimary) {
    runPrimary(config);
    return;
  }
  await runServer(config);
}

/**
 * With WORKERS above 1: forks the servers and accepts connections for them, so that a burst of new connections is
 * taken in at once even while every worker is busy answering. Replaces a worker that dies; on SIGTERM or SIGINT,
 * passes the signal on and exits 0 once every worker has stopped cleanly.
 */
function runPrimary(config: Config): void {
  let stopping = false;
  let listening = 0;
  for (let index = 0; index < config.workers; index += 1) cluster.fork();
  cluster.on('listening', (_worker, address) => {
    listening += 1;
    if (listening === config.workers) {
      const host = config.host.includes(':') ? `[${config.host}]` : config.host;
      console.log(`Serving with ${config.workers} workers at http://${host}:${address.port}/`);
    }
  });
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
      return;
    }
    console.error(`server: worker ${worker.process.pid} stopped (${signal ?? code}); starting another`);
    cluster.fork();
  });
  const stop = (signal: NodeJS.Signals) => {
    stopping = true;
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill(signal);
    setTimeout(() => process.exit(1), config.shutdownTimeoutMs + 2_000).unref();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

async function runServer(config: Config): Promise<void> {
  const logger = createLogger(config.logLevel);
  const generation = await loadGeneration(config);
  let engine: Engine | undefined;
  try {
    engine = await createEngine(await loadIndex(config.indexDir, config.embedder), generation);
  } catch (error) {
    if (!(error instanceof IndexMissingError)) throw error;
    logger.warn(`${error.message} Until then every question is answered 503.`);
  }

  // A re-ingest while serving: the new index is swapped in once complete; requests in flight keep the engine
  // they started with.
  const watcher =
    config.indexPollMs === 0
      ? undefined
      : watchIndex(
          config.indexDir,
          config.embedder,
          engine?.index.directory,
          config.indexPollMs,
          async (index) => {
            engine = await createEngine(index, generation);
            logger.info({ index: index.directory, chunks: index.chunks.length }, 'serving a new index');
          },
          (error, directory) =>
            logger.error({ err: error, index: directory }, 'new index not loaded; still serving the previous one'),
        );

  // Each worker counts for itself; connections are dealt out in turn, so each takes its share of the limit.
  const http = { ...config.http, rateLimitPerMinute: Math.ceil(config.http.rateLimitPerMinute / config.workers) };
  const app = createApp({ engine: () => engine, http, logger });
  const server = listen(app, config.port, config.host, () => {
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : config.port;
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    const chunks = engine === undefined ? 'no index' : `${engine.index.chunks.length} passages`;
    const mode = config.chat === undefined ? 'extractive answers' : `answers written by ${config.chat.model}`;
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
      process.exit(0);
    });
    server.closeIdleConnections();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

async function loadGeneration(config: Config): Promise<Generation | undefined> {
  if (config.chat === undefined) return undefined;
  return {
    model: createChatModel(config.chat),
    prompts: await loadPrompts(path.join(config.rootDir, 'prompts')),
    timeoutMs: config.chat.timeoutMs,
  };
}

main().catch((error: unknown) => {
  const known = error instanceof ConfigError || (error instanceof Error && error.name.startsWith('Index'));
  console.error(known ? `server: ${(error as Error).message}` : error);
  process.exit(1);
});
