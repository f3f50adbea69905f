import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { freePort } from './free-port.js';

/**
 * A real PostgreSQL (18, with the real pgvector) speaking the wire protocol on a loopback port: PGlite from npm, in
 * a child process (`pglite-wire-server.ts`). Tests reach it through the `pg` client exactly as a remote server.
 */
export interface PgliteServer {
  url: string;
  port: number;
  /** Resolves once the server accepts connections (PGlite takes several seconds to start). */
  ready: Promise<void>;
  /** Stops the server. */
  stop: () => Promise<void>;
}

const SERVER_SCRIPT = path.join(import.meta.dirname, 'pglite-wire-server.ts');
/** tsx's loader, to run the server's TypeScript in a plain Node process. */
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** Starts PGlite with the vector extension, in memory, on a free port; does not wait for it (see `ready`). */
export async function startPgliteServer(): Promise<PgliteServer> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', TSX, SERVER_SCRIPT, `--port=${port}`, '--db=memory://'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.on('data', (data: Buffer) => (output += data.toString()));
  child.stderr?.on('data', (data: Buffer) => (output += data.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const ready = (async () => {
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`the PGlite server exited:\n${output}`);
      if (output.includes('listening') && (await accepts(url))) return;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error(`the PGlite server did not start within 120 s:\n${output}`);
  })();
  ready.catch(() => undefined);
  return {
    url,
    port,
    ready,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

async function accepts(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The database every test file shares in a run (started once by `test/global-setup.ts`), once it answers. */
export async function sharedDatabaseUrl(): Promise<string> {
  const url = process.env['TEST_DATABASE_URL'];
  if (url === undefined) throw new Error('no test database: test/global-setup.ts did not run');
  const deadline = Date.now() + 120_000;
  while (!(await accepts(url))) {
    if (Date.now() > deadline) throw new Error(`the test database at ${url} does not answer`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return url;
}

/** A schema name of its own for a test, so that tests sharing the database never see each other's tables. */
export function scratchSchema(label: string): string {
  return `t_${label.replace(/[^a-z0-9]/g, '_')}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
}

/** Drops a scratch schema and everything in it. */
export async function dropSchema(url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * A fresh, empty PostgreSQL store for a shared store suite (`describeIndexStore`, `describeIncrementalIngest`): a
 * scratch schema of the run's database, dropped after each test.
 */
export function scratchPostgresStore(label: string): {
  environment: () => Promise<NodeJS.ProcessEnv>;
  cleanup: (environment: NodeJS.ProcessEnv) => Promise<void>;
} {
  return {
    environment: async () => ({
      INDEX_STORE: 'postgres',
      DATABASE_URL: await sharedDatabaseUrl(),
      DATABASE_SCHEMA: scratchSchema(label),
    }),
    cleanup: (environment) => dropSchema(environment['DATABASE_URL'] ?? '', environment['DATABASE_SCHEMA'] ?? ''),
  };
}
