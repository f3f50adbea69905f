import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import type { Engine } from '../../core/engine.js';
import { type AppDependencies, createApp } from '../../server/app.js';

/** An app listening on a loopback port: its origin, and how to stop it (open connections included). */
export interface RunningServer {
  origin: string;
  close: () => Promise<void>;
}

export async function serve(app: Express): Promise<RunningServer> {
  const server: Server = await new Promise((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface TestAppOptions {
  /** The test corpus (`useCorpusEngine()`), whose engine is read when a request comes, once its hooks have run. */
  corpus: { engine: Engine };
  /** The model name the OpenAI-compatible API and the OpenAPI document give. */
  modelName: string;
  /** What differs from the default app: another engine, keys, limits, a public URL… */
  dependencies?: Partial<AppDependencies>;
}

/** Serves the real app over the test corpus with a model name, as the API tests all start it. */
export function serveTestApp({ corpus, modelName, dependencies = {} }: TestAppOptions): Promise<RunningServer> {
  return serve(
    createApp({
      engine: () => corpus.engine,
      ...dependencies,
      http: { modelName, ...dependencies.http },
    }),
  );
}
