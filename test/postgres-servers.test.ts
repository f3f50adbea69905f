import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type RunningScript, runScript, startScript } from '../scripts/lib/run-script.js';
import { freePort } from './helpers/free-port.js';
import { dropSchema, scratchSchema, sharedDatabaseUrl } from './helpers/pglite-server.js';
import { startTcpProxy } from './helpers/tcp-proxy.js';
import { createWorkspace, type Workspace } from './helpers/test-index.js';

/**
 * Servers that keep no index of their own, started as a person would start them, against one PostgreSQL database
 * (the run's PGlite server, through `pg`): the commands that build the index, two servers answering from it while
 * it is rebuilt, a database that goes away and comes back, and a rate limit the servers count together.
 */

const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const QUESTION = JSON.stringify({ question: 'Qui est Kaja Kallas ?' });

interface Setup {
  workspace: Workspace;
  /** The environment of every command: the workspace's corpus, the database, a scratch schema. */
  environment: NodeJS.ProcessEnv;
}

async function setup(databaseUrl?: string): Promise<Setup> {
  const schema = scratchSchema('servers');
  const url = databaseUrl ?? (await sharedDatabaseUrl());
  const workspace = await createWorkspace();
  cleanups.push(() => workspace.cleanup());
  cleanups.push(() => dropSchema(url, schema).catch(() => undefined));
  return {
    workspace,
    environment: {
      INDEX_STORE: 'postgres',
      DATABASE_URL: url,
      DATABASE_SCHEMA: schema,
      CORPUS_DIR: workspace.config.corpusDir,
      // No index folder exists there: the servers read the database only.
      INDEX_DIR: path.join(workspace.root, 'no-index-here'),
      OPENAI_API_KEY: '',
      LOG_LEVEL: 'info',
    },
  };
}

interface Server {
  script: RunningScript;
  base: string;
}

async function startServer(environment: NodeJS.ProcessEnv): Promise<Server> {
  const port = await freePort();
  const script = startScript('server/main.ts', {
    env: { ...environment, PORT: String(port), HOST: '127.0.0.1', INDEX_POLL_MS: '200' },
  });
  cleanups.push(() => script.stop('SIGKILL'));
  await script.waitFor(/^Serving /m, 90_000);
  return { script, base: `http://127.0.0.1:${port}` };
}

async function health(server: Server): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${server.base}/healthz`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function ask(server: Server): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${server.base}/api/answer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: QUESTION,
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('servers sharing one database', () => {
  it('db:migrate and ingest build the index; two servers answer from it and switch to a new generation together', async () => {
    const { workspace, environment } = await setup();
    const migrated = await runScript('ingest/migrate-database.ts', { env: environment });
    expect(migrated.stderr).toBe('');
    expect(migrated.stdout).toMatch(
      /Applied migration\(s\) 1, 2 to postgres:\/\/.*schema t_servers_.*now at version 2/,
    );
    expect((await runScript('ingest/migrate-database.ts', { env: environment })).stdout).toMatch(/is up to date/);
    const first = await runScript('ingest/main.ts', { env: environment });
    expect(first.stderr).toBe('');
    expect(first.stdout).toMatch(/into generation default@\d+ in/);

    const servers = [await startServer(environment), await startServer(environment)];
    const before = await Promise.all(servers.map(health));
    expect(before.map((entry) => entry.status)).toEqual([200, 200]);
    expect(before[1]?.body).toEqual(before[0]?.body);

    // Both answer without a pause while a new generation is written and made current.
    let answered = 0;
    const failures: unknown[] = [];
    let running = true;
    const load = async (server: Server) => {
      while (running) {
        const answer = await ask(server);
        answered += 1;
        if (answer.status !== 200) failures.push(answer);
      }
    };
    const clients = servers.flatMap((server) => [load(server), load(server)]);
    await writeFile(path.join(workspace.root, 'corpus', 'extra.md'), '# Note\n\nLa réunion suivante aura lieu à Oslo.');
    const second = await runScript('ingest/main.ts', { env: environment });
    expect(second.code).toBe(0);
    const after = await Promise.all(
      servers.map((server) =>
        until(
          () => health(server),
          (entry) => entry.body['generation'] !== before[0]?.body['generation'],
        ),
      ),
    );
    running = false;
    await Promise.all(clients);
    for (const entry of after) {
      expect(entry.body).toMatchObject({ status: 'ok', chunks: Number(before[0]?.body['chunks']) + 1 });
      expect(entry.body['generation']).toBe(second.stdout.match(/generation (\S+) in/)?.[1]);
    }
    expect(answered).toBeGreaterThan(10);
    expect(failures).toEqual([]);
    // Each says so in its log (which may arrive after the answers from the new generation).
    for (const server of servers) await server.script.waitFor(/serving a new index/, 10_000);
    const oslo = await fetch(`${servers[1]?.base}/api/answer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ question: 'Où aura lieu la réunion suivante ?' }),
    });
    expect(((await oslo.json()) as { citations: Array<{ source: string }> }).citations[0]?.source).toBe(
      'corpus/extra.md',
    );
  });

  it('answers 503 while the database is away, says so in /healthz, and recovers when it is back', async () => {
    const database = new URL(await sharedDatabaseUrl());
    const proxy = await startTcpProxy(Number(database.port));
    cleanups.push(() => proxy.close());
    const through = new URL(database);
    through.port = String(proxy.port);
    const { environment } = await setup(through.toString());
    const settings = { ...environment, DATABASE_CONNECT_TIMEOUT_MS: '1000', DATABASE_QUERY_TIMEOUT_MS: '2000' };
    expect((await runScript('ingest/main.ts', { env: settings })).code).toBe(0);
    const server = await startServer(settings);
    expect((await ask(server)).status).toBe(200);

    await proxy.cut();
    const answer = await ask(server);
    expect(answer).toEqual({
      status: 503,
      body: { error: { code: 'database_unavailable', message: expect.stringMatching(/does not answer/) } },
    });
    expect(JSON.stringify(answer.body)).not.toMatch(/at .*\.ts|password/);
    const down = await health(server);
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({ error: { code: 'database_unavailable' } });

    await proxy.restore();
    const back = await until(
      () => ask(server),
      (entry) => entry.status === 200,
      30_000,
    );
    expect(back.status).toBe(200);
    expect((await health(server)).status).toBe(200);
    expect(server.script.child.exitCode).toBeNull();
  });

  it('stops at start-up with a message naming the database when it does not answer', async () => {
    const { environment } = await setup();
    const nowhere = `postgres://reader:secret@127.0.0.1:${await freePort()}/answers`;
    const settings = { ...environment, DATABASE_URL: nowhere, DATABASE_CONNECT_TIMEOUT_MS: '1000' };
    for (const entry of ['server/main.ts', 'ingest/main.ts', 'ingest/migrate-database.ts']) {
      const run = await runScript(entry, { env: settings, limitMs: 60_000 });
      expect(run.code, entry).toBe(1);
      expect(run.stderr, entry).toMatch(/The database postgres:\/\/reader@127\.0\.0\.1:\d+\/answers does not answer/);
      expect(run.stderr, entry).not.toMatch(/secret|\n\s+at /);
    }
  });

  it('counts the rate limit in the database: exact across two servers', async () => {
    const { environment } = await setup();
    expect((await runScript('ingest/main.ts', { env: environment })).code).toBe(0);
    const limited = { ...environment, RATE_LIMIT_PER_MINUTE: '10' };
    const servers = [await startServer(limited), await startServer(limited)];
    const statuses = await Promise.all(
      Array.from({ length: 16 }, async (_request, index) => {
        const response = await fetch(`${servers[index % 2]?.base}/api/sources`);
        await response.arrayBuffer();
        return response.status;
      }),
    );
    expect(statuses.filter((status) => status === 200)).toHaveLength(10);
    expect(statuses.filter((status) => status === 429)).toHaveLength(6);
  });
});
