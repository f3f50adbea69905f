import cluster from 'node:cluster';
import { loadConfig } from '../core/config.js';
import { KnownError } from '../core/errors.js';
import { runPrimary } from './run-primary.js';
import { runServer } from './run-server.js';

async function main(): Promise<void> {
  const config = loadConfig();
  if (config.workers > 1 && cluster.isPrimary) {
    runPrimary(config);
    return;
  }
  await runServer(config);
}

main().catch((error: unknown) => {
  console.error(error instanceof KnownError ? `server: ${error.message}` : error);
  process.exit(1);
});
