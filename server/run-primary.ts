import cluster from 'node:cluster';
import type { Config } from '../core/config.js';

/**
 * With WORKERS above 1: forks the servers and accepts connections for them, so that a burst of new connections is
 * taken in at once even while every worker is busy answering. Replaces a worker that dies; on SIGTERM or SIGINT,
 * passes the signal on and exits 0 once every worker has stopped cleanly.
 */
export function runPrimary(config: Config): void {
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
