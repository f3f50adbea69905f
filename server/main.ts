import path from 'node:path';
import { ConfigError, loadConfig } from '../core/config.js';
import { createEngine, type Engine } from '../core/engine.js';
import { IndexMissingError } from '../core/errors.js';
import { loadIndex } from '../core/index/index-store.js';
import { createChatModel } from '../core/llm/create-chat-model.js';
import { loadPrompts } from '../core/llm/prompts.js';
import { createApp } from './app.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const generation =
    config.chat === undefined
      ? undefined
      : {
          model: createChatModel(config.chat),
          prompts: await loadPrompts(path.join(config.rootDir, 'prompts')),
          timeoutMs: config.chat.timeoutMs,
        };
  let engine: Engine | undefined;
  try {
    engine = createEngine(await loadIndex(config.indexDir, config.embedder), generation);
  } catch (error) {
    if (!(error instanceof IndexMissingError)) throw error;
    console.warn(`${error.message} Until then every question is answered 503.`);
  }
  const app = createApp({ engine: () => engine });
  const server = app.listen(config.port, config.host, () => {
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : config.port;
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    const chunks = engine === undefined ? 'no index' : `${engine.index.chunks.length} passages`;
    const mode = config.chat === undefined ? 'extractive answers' : `answers written by ${config.chat.model}`;
    console.log(`Serving ${chunks} (${mode}) at http://${host}:${port}/`);
  });
  server.on('error', (error: NodeJS.ErrnoException) => {
    const reason = error.code === 'EADDRINUSE' ? `port ${config.port} is already in use (set PORT)` : error.message;
    console.error(`server: cannot listen on ${config.host}:${config.port}: ${reason}`);
    process.exit(1);
  });
  const stop = () => server.close(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((error: unknown) => {
  const known = error instanceof ConfigError || (error instanceof Error && error.name.startsWith('Index'));
  console.error(known ? `server: ${(error as Error).message}` : error);
  process.exit(1);
});
