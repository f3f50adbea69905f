import cluster from 'node:cluster';
import path from 'node:path';
import type { Config } from '../core/config.js';
import { createEngine, type Engine, loadChatSetup } from '../core/engine.js';
import { IndexMissingError } from '../core/errors.js';
import { type LoadedIndex, loadIndex } from '../core/index/index-store.js';
import { watchIndex } from '../core/index/watch-index.js';
import { createApp } from './app.js';
import { listen } from './http-server.js';
import { createLogger } from './logging.js';

/**
 * Serves the index in this process: loads it (or answers 503 until one is ingested), swaps in each new complete
 * index, and on SIGTERM or SIGINT stops accepting and exits 0 once the requests in flight are done.
 */
export async function runServer(config: Config): Promise<void> {
  const logger = createLogger(config.logLevel);
  const chatSetup = await loadChatSetup(config.chat, path.join(config.rootDir, 'prompts'));
  let engine: Engine<LoadedIndex> | undefined;
  try {
    engine = await createEngine(await loadIndex(config.indexDir, config.embedder), chatSetup);
  } catch (error) {
    if (!(error instanceof IndexMissingError)) throw error;
    logger.warn(`${error.message} Until then every question is answered 503.`);
  }

  // A re-ingest while serving: the new index is swapped in once complete; requests in flight keep the engine
  // they started with.
  const watcher =
    config.indexPollMs === 0
      ? undefined
      : watchIndex({
          indexDir: config.indexDir,
          embedder: config.embedder,
          current: engine?.index.directory,
          intervalMs: config.indexPollMs,
          onIndex: async (index) => {
            const previous = engine;
            engine = await createEngine(index, chatSetup);
            // Requests in flight may still read the previous index's passages until they time out.
            if (previous !== undefined) {
              setTimeout(() => void previous.index.close(), config.http.requestTimeoutMs).unref();
            }
            logger.info({ index: index.directory, chunks: index.chunkCount }, 'serving a new index');
          },
          onError: (error, directory) =>
            logger.error({ err: error, index: directory }, 'new index not loaded; still serving the previous one'),
        });

  // Each worker counts for itself; connections are dealt out in turn, so each takes its share of the limit.
  const http = { ...config.http, rateLimitPerMinute: Math.ceil(config.http.rateLimitPerMinute / config.workers) };
  const app = createApp({ engine: () => engine, http, logger });
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
      process.exit(0);
    });
    server.closeIdleConnections();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
