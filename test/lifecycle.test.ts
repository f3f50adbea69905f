import { cp, readFile, readlink, rename, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ingest } from '../ingest/build-index.js';
import { type RunningScript, startScript } from '../scripts/lib/run-script.js';
import { freePort } from './helpers/free-port.js';
import { type ChatReply, startOpenAiWireServer } from './helpers/openai-wire-server.js';
import { COMMUNIQUE, createWorkspace, type Workspace } from './helpers/test-index.js';

const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface RunningServer {
  script: RunningScript;
  base: string;
  output: () => string;
  exited: Promise<number | null>;
}

/** Starts `server/main.ts` as a user would, on a free port; `serving` waits until it says it serves. */
async function startServer(
  workspace: Workspace,
  environment: NodeJS.ProcessEnv = {},
): Promise<RunningServer & { serving: () => Promise<void> }> {
  const port = await freePort();
  const script = startScript('server/main.ts', {
    env: {
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      OPENAI_API_KEY: '',
      CORPUS_DIR: workspace.config.corpusDir,
      INDEX_DIR: workspace.config.indexDir,
      ...environment,
    },
  });
  cleanups.push(() => script.stop('SIGKILL'));
  return {
    script,
    base: `http://127.0.0.1:${port}`,
    output: script.output,
    exited: script.exited.then((run) => run.code),
    serving: async () => {
      await script.waitFor(/^Serving /m, 90_000);
    },
  };
}

/** Starts the server and waits until it serves. */
async function startServing(workspace: Workspace, environment: NodeJS.ProcessEnv = {}): Promise<RunningServer> {
  const server = await startServer(workspace, environment);
  await server.serving();
  return server;
}

async function workspace(): Promise<Workspace> {
  const created = await createWorkspace();
  cleanups.push(() => created.cleanup());
  return created;
}

describe('start-up', () => {
  it('refuses a damaged index with a message naming the file', async () => {
    const scratch = await workspace();
    await ingest(scratch.config);
    const file = path.join(scratch.config.indexDir, 'chunks.jsonl');
    await writeFile(file, (await readFile(file, 'utf8')).slice(0, 100));
    const server = await startServer(scratch);
    expect(await server.exited).toBe(1);
    expect(server.output()).toMatch(/server: The index file .*chunks\.jsonl is damaged/);
  });
});

describe('SIGTERM', () => {
  it('stops accepting, finishes the answer in flight, and exits 0', async () => {
    const scratch = await workspace();
    await ingest(scratch.config);
    const model = await startOpenAiWireServer({
      chat: (): ChatReply => ({ tokens: Array.from({ length: 12 }, (_, index) => `mot${index} `), delayMs: 100 }),
    });
    cleanups.push(() => model.close());
    const server = await startServing(scratch, {
      OPENAI_BASE_URL: model.baseUrl,
      CHAT_MODEL: 'slow',
      SHUTDOWN_TIMEOUT_MS: '8000',
    });
    const response = await fetch(`${server.base}/api/chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ question: 'Où se trouve le nouveau commandement ?' }),
    });
    const reader = response.body?.getReader();
    let received = '';
    while (!received.includes('event: token')) {
      const chunk = await reader?.read();
      if (chunk === undefined || chunk.done) break;
      received += new TextDecoder().decode(chunk.value);
    }
    const signalledAt = performance.now();
    server.script.child.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 200));
    await expect(fetch(`${server.base}/healthz`)).rejects.toThrow();
    for (;;) {
      const chunk = await reader?.read();
      if (chunk === undefined || chunk.done) break;
      received += new TextDecoder().decode(chunk.value);
    }
    expect(received).toMatch(/event: done\n/);
    expect(await server.exited).toBe(0);
    // The answer in flight needs about a second more; the bound is 8 s, which a stop waiting for it would reach.
    expect(performance.now() - signalledAt).toBeLessThan(6000);
    expect(server.output()).toMatch(/shutting down/);
  });
});

describe('several workers', () => {
  it('serve on one port, each from the index, and all stop with SIGTERM', async () => {
    const scratch = await workspace();
    const { chunkCount } = await ingest(scratch.config);
    const server = await startServer(scratch, { WORKERS: '2' });
    // Each worker says it listens, with its pid and what it serves, once it has loaded the index.
    const ready = await server.script.waitFor((output) => {
      const workers = new Map<number, string>();
      for (const line of output.split('\n')) {
        if (!line.includes('"worker listening"')) continue;
        const entry = JSON.parse(line) as { pid: number; chunks: string };
        workers.set(entry.pid, entry.chunks);
      }
      return workers.size === 2 && /Serving with 2 workers at/.test(output) ? workers : undefined;
    }, 90_000);
    expect([...ready.values()]).toEqual([`${chunkCount} passages`, `${chunkCount} passages`]);
    expect(ready.has(server.script.pid)).toBe(false);
    for (let attempt = 0; attempt < 4; attempt += 1) {
      const response = await fetch(`${server.base}/api/answer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', connection: 'close' },
        body: JSON.stringify({ question: 'Qui est Kaja Kallas ?' }),
      });
      expect(response.status).toBe(200);
      expect(((await response.json()) as { found: boolean }).found).toBe(true);
    }
    server.script.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    for (const pid of ready.keys()) expect(() => process.kill(pid, 0)).toThrow();
  });
});

describe('re-ingest while serving', () => {
  it('switches to the new index without a restart and without failing a request', async () => {
    const scratch = await workspace();
    await ingest(scratch.config);
    // Four clients asking without pause pass the default rate limit when the ingest is slow (a busy machine).
    const server = await startServing(scratch, { INDEX_POLL_MS: '100', RATE_LIMIT_PER_MINUTE: '0' });
    const before = (await (await fetch(`${server.base}/healthz`)).json()) as { chunks: number };

    const statuses: number[] = [];
    let running = true;
    const worker = async () => {
      while (running) {
        const response = await fetch(`${server.base}/api/answer`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ question: 'Qui est Kaja Kallas ?' }),
        });
        statuses.push(response.status);
        await response.arrayBuffer();
      }
    };
    const workers = Array.from({ length: 4 }, worker);
    await writeFile(path.join(scratch.root, 'corpus', 'extra.md'), '# Note\n\nLa réunion suivante aura lieu à Oslo.');
    await ingest(scratch.config);
    let after = before;
    const deadline = Date.now() + 60_000;
    while (after.chunks === before.chunks && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      after = (await (await fetch(`${server.base}/healthz`)).json()) as { chunks: number };
    }
    running = false;
    await Promise.all(workers);
    expect(after.chunks).toBe(before.chunks + 1);
    expect(statuses.length).toBeGreaterThan(10);
    expect(statuses.filter((status) => status !== 200)).toEqual([]);
    // The log line may reach this process after the answers that came from the new index.
    await server.script.waitFor(/serving a new index/, 10_000);
  });

  it('keeps serving the previous index when a new one is damaged', async () => {
    const scratch = await workspace();
    await ingest(scratch.config);
    const server = await startServing(scratch, { INDEX_POLL_MS: '100' });
    const generation = path.resolve(path.dirname(scratch.config.indexDir), await readlink(scratch.config.indexDir));
    const damaged = `${generation}-damaged`;
    await cp(generation, damaged, { recursive: true });
    await writeFile(path.join(damaged, 'keyword-index.bin'), '{');
    await symlink(path.basename(damaged), `${scratch.config.indexDir}.next`);
    await rename(`${scratch.config.indexDir}.next`, scratch.config.indexDir);
    const deadline = Date.now() + 60_000;
    while (!server.output().includes('still serving the previous one') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(server.output()).toMatch(/keyword-index\.bin is damaged/);
    const response = await fetch(`${server.base}/api/answer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ question: 'Qui est Kaja Kallas ?' }),
    });
    expect(response.status).toBe(200);
    const answer = (await response.json()) as { citations: Array<{ source: string }> };
    expect(answer.citations[0]?.source).toBe(COMMUNIQUE);
  });
});
