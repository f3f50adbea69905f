import { type ChildProcess, spawn } from 'node:child_process';
import { cp, readFile, readlink, rename, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ingest } from '../ingest/build-index.js';
import { freePort } from './helpers/free-port.js';
import { type ChatReply, startOpenAiWireServer } from './helpers/openai-wire-server.js';
import { COMMUNIQUE, createWorkspace, PROJECT_ROOT, type Workspace } from './helpers/test-index.js';

const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface RunningServer {
  child: ChildProcess;
  base: string;
  output: () => string;
  exited: Promise<number | null>;
}

/** Starts `server/main.ts` as a user would, on a free port, and waits until it serves. */
async function startServer(workspace: Workspace, environment: NodeJS.ProcessEnv = {}): Promise<RunningServer> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: PROJECT_ROOT,
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      OPENAI_API_KEY: '',
      CORPUS_DIR: workspace.config.corpusDir,
      INDEX_DIR: workspace.config.indexDir,
      ...environment,
    },
  });
  let output = '';
  child.stdout?.on('data', (data: Buffer) => (output += data.toString()));
  child.stderr?.on('data', (data: Buffer) => (output += data.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  cleanups.push(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const deadline = Date.now() + 20_000;
  while (!output.includes('Serving') && child.exitCode === null && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { child, base: `http://127.0.0.1:${port}`, output: () => output, exited };
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
    const server = await startServer(scratch, {
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
    server.child.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 200));
    await expect(fetch(`${server.base}/healthz`)).rejects.toThrow();
    for (;;) {
      const chunk = await reader?.read();
      if (chunk === undefined || chunk.done) break;
      received += new TextDecoder().decode(chunk.value);
    }
    expect(received).toMatch(/event: done\n/);
    expect(await server.exited).toBe(0);
    // The answer in flight needs about a second more; the bound is 8 s.
    expect(performance.now() - signalledAt).toBeLessThan(3000);
    expect(server.output()).toMatch(/shutting down/);
  }, 30_000);
});

describe('several workers', () => {
  it('serve on one port, each from the index, and all stop with SIGTERM', async () => {
    const scratch = await workspace();
    await ingest(scratch.config);
    const server = await startServer(scratch, { WORKERS: '2' });
    expect(server.output()).toMatch(/Serving with 2 workers at/);
    const pids = new Set<number>();
    for (let attempt = 0; attempt < 6; attempt += 1) {
      const response = await fetch(`${server.base}/api/answer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', connection: 'close' },
        body: JSON.stringify({ question: 'Qui est Kaja Kallas ?' }),
      });
      expect(response.status).toBe(200);
      await response.arrayBuffer();
    }
    for (const line of server.output().split('\n')) {
      if (line.includes('"request completed"')) pids.add((JSON.parse(line) as { pid: number }).pid);
    }
    expect(pids.size).toBe(2);
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  }, 40_000);
});

describe('re-ingest while serving', () => {
  it('switches to the new index without a restart and without failing a request', async () => {
    const scratch = await workspace();
    await ingest(scratch.config);
    const server = await startServer(scratch, { INDEX_POLL_MS: '100' });
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
    const deadline = Date.now() + 10_000;
    while (after.chunks === before.chunks && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      after = (await (await fetch(`${server.base}/healthz`)).json()) as { chunks: number };
    }
    running = false;
    await Promise.all(workers);
    expect(after.chunks).toBe(before.chunks + 1);
    expect(statuses.length).toBeGreaterThan(10);
    expect(statuses.every((status) => status === 200)).toBe(true);
    expect(server.output()).toMatch(/serving a new index/);
  }, 30_000);

  it('keeps serving the previous index when a new one is damaged', async () => {
    const scratch = await workspace();
    await ingest(scratch.config);
    const server = await startServer(scratch, { INDEX_POLL_MS: '100' });
    const generation = path.resolve(path.dirname(scratch.config.indexDir), await readlink(scratch.config.indexDir));
    const damaged = `${generation}-damaged`;
    await cp(generation, damaged, { recursive: true });
    await writeFile(path.join(damaged, 'keyword-index.bin'), '{');
    await symlink(path.basename(damaged), `${scratch.config.indexDir}.next`);
    await rename(`${scratch.config.indexDir}.next`, scratch.config.indexDir);
    const deadline = Date.now() + 5000;
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
  }, 30_000);
});
