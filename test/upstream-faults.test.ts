import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../core/config.js';
import { createEngine } from '../core/engine.js';
import { loadIndex } from '../core/index/index-store.js';
import { createChatModel } from '../core/llm/create-chat-model.js';
import { loadPrompts } from '../core/llm/prompts.js';
import { ingest } from '../ingest/build-index.js';
import { type OpenAiWireServer, startOpenAiWireServer } from './helpers/openai-wire-server.js';
import { freePort } from './helpers/free-port.js';
import { createWorkspace, PROJECT_ROOT, type Workspace } from './helpers/test-index.js';

const TIMEOUT_MS = 400;
let workspace: Workspace;
let healthy: OpenAiWireServer;
beforeAll(async () => {
  workspace = await createWorkspace();
  healthy = await startOpenAiWireServer({ dimensions: 32 });
  await ingest(parseConfig({ EMBEDDER: 'openai', OPENAI_BASE_URL: healthy.baseUrl }, workspace.root));
});
afterAll(async () => {
  await healthy.close();
  await workspace.cleanup();
});

type Fault = 'refused' | '500' | 'slow' | 'broken';

/** An OpenAI-compatible base URL that fails in the given way. */
async function faultyServer(fault: Fault): Promise<Pick<OpenAiWireServer, 'baseUrl' | 'close' | 'requests'>> {
  if (fault === 'refused') {
    return { baseUrl: `http://127.0.0.1:${await freePort()}/v1`, close: async () => undefined, requests: [] };
  }
  return startOpenAiWireServer({
    dimensions: 32,
    ...(fault === '500' ? { embeddingsStatus: 500 } : {}),
    ...(fault === 'slow' ? { embeddingsFault: 'hang' as const } : {}),
    ...(fault === 'broken' ? { embeddingsFault: 'truncated' as const } : {}),
    chat: () =>
      fault === '500' ? { status: 500 } : fault === 'slow' ? { hang: true } : { brokenAfter: ['Le commandement '] },
  });
}

describe.each<Fault>(['refused', '500', 'slow', 'broken'])('an upstream that is %s', (fault) => {
  it('costs only the vector search when the embedding server fails at question time', async () => {
    const upstream = await faultyServer(fault);
    try {
      const config = parseConfig(
        { EMBEDDER: 'openai', OPENAI_BASE_URL: upstream.baseUrl, EMBEDDING_TIMEOUT_MS: String(TIMEOUT_MS) },
        workspace.root,
      );
      const engine = await createEngine(await loadIndex(config.indexDir, config.embedder));
      const embeddingRequests = () => upstream.requests.filter((request) => request.path === '/v1/embeddings').length;
      const before = embeddingRequests();
      const startedAt = performance.now();
      const answer = await engine.answerer.answer({ question: 'Où se trouve le nouveau commandement ?' });
      expect(answer.found).toBe(true);
      expect(answer.answer).toMatch(/Wiesbaden/);
      expect(answer.warning).toMatch(/keyword search/);
      // One retry at most: two attempts, each bounded by the timeout (the time bound is loose, for a loaded
      // machine: without the timeout, a server that never answers would hold the answer forever).
      expect(embeddingRequests() - before).toBeGreaterThanOrEqual(fault === 'refused' ? 0 : 1);
      expect(embeddingRequests() - before).toBeLessThanOrEqual(2);
      expect(performance.now() - startedAt).toBeLessThan(2 * TIMEOUT_MS + 10_000);
    } finally {
      await upstream.close();
    }
  });

  it('falls back to the extractive answer when the chat model fails', async () => {
    const upstream = await faultyServer(fault);
    try {
      const config = parseConfig(
        { EMBEDDER: 'openai', OPENAI_BASE_URL: healthy.baseUrl, EMBEDDING_TIMEOUT_MS: String(TIMEOUT_MS) },
        workspace.root,
      );
      const engine = await createEngine(await loadIndex(config.indexDir, config.embedder), {
        model: createChatModel({
          model: 'm',
          apiKey: 'k',
          baseUrl: upstream.baseUrl,
          timeoutMs: TIMEOUT_MS,
          temperature: 0,
        }),
        prompts: await loadPrompts(path.join(PROJECT_ROOT, 'prompts')),
        timeoutMs: TIMEOUT_MS,
      });
      const startedAt = performance.now();
      const answer = await engine.answerer.answer({ question: 'Où se trouve le nouveau commandement ?' });
      expect(answer.mode).toBe('extractive-fallback');
      expect(answer.warning).toMatch(/language model/);
      expect(answer.answer).toMatch(/Wiesbaden/);
      // A hanging model would hold the answer forever; the slack is for a loaded machine.
      expect(performance.now() - startedAt).toBeLessThan(TIMEOUT_MS + 5000);
    } finally {
      await upstream.close();
    }
  });
});
