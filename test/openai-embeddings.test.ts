import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../core/config.js';
import { createEngine } from '../core/engine.js';
import { IndexMismatchError } from '../core/errors.js';
import { collect } from '../core/index/passage-index.js';
import { loadIndex } from '../core/index/index-store.js';
import { ingest } from '../ingest/build-index.js';
import { createWorkspace, type Workspace } from './helpers/test-index.js';
import { fakeEmbedding, type OpenAiWireServer, startOpenAiWireServer } from './helpers/openai-wire-server.js';

let server: OpenAiWireServer;
let workspace: Workspace;
beforeEach(async () => {
  server = await startOpenAiWireServer({ dimensions: 48 });
  workspace = await createWorkspace();
});
afterEach(async () => {
  await server.close();
  await workspace.cleanup();
});

function openAiConfig(extra: NodeJS.ProcessEnv = {}) {
  return parseConfig(
    {
      OPENAI_API_KEY: 'sk-local',
      OPENAI_BASE_URL: server.baseUrl,
      EMBEDDING_MODEL: 'text-embedding-3-small',
      ...extra,
    },
    workspace.root,
  );
}

describe('OpenAI embeddings over the wire', () => {
  it('indexes the corpus through the embeddings endpoint and embeds questions the same way', async () => {
    const config = openAiConfig();
    const summary = await ingest(config);
    expect(summary.embedderId).toBe('openai:text-embedding-3-small');
    expect(summary.dimensions).toBe(48);
    const indexing = server.requests.filter((request) => request.path === '/v1/embeddings');
    expect(indexing.length).toBeGreaterThan(0);
    expect(indexing[0]?.authorization).toBe('Bearer sk-local');
    expect(indexing[0]?.body).toMatchObject({ model: 'text-embedding-3-small' });

    const index = await loadIndex(config.indexDir, config.embedder);
    expect(index.manifest.embedder).toEqual({ id: 'openai:text-embedding-3-small', dimensions: 48 });
    const before = server.requests.length;
    const hits = await index.vectorSearch('nouveau commandement à Wiesbaden', 2);
    expect(server.requests.length).toBe(before + 1);
    expect(hits[0]?.score).toBeGreaterThan(0);
    // The vector the server made for the question, decoded by the client, is what was searched with.
    const expected = fakeEmbedding('nouveau commandement à Wiesbaden', 48);
    const nearest = (await collect(index.allChunks()))
      .map((chunk) => ({ id: chunk.id, similarity: cosine(expected, fakeEmbedding(chunk.text, 48)) }))
      .sort((a, b) => b.similarity - a.similarity)[0];
    expect(nearest?.id).toBe(hits[0]?.chunkId);

    const answer = await (
      await createEngine(index)
    ).answerer.answer({ question: 'Où se trouve le nouveau commandement ?' });
    expect(answer.citations[0]?.quote).toMatch(/Wiesbaden/);
  });

  it('refuses to serve a lexical index with the OpenAI embedder, and the reverse', async () => {
    const lexical = parseConfig({}, workspace.root);
    await ingest(lexical);
    await expect(loadIndex(lexical.indexDir, openAiConfig().embedder)).rejects.toBeInstanceOf(IndexMismatchError);
    await ingest(openAiConfig());
    await expect(loadIndex(lexical.indexDir, lexical.embedder)).rejects.toThrow(/openai:text-embedding-3-small/);
  });

  it('fails the ingest with the server’s error and keeps the previous index', async () => {
    const lexical = parseConfig({}, workspace.root);
    await ingest(lexical);
    await server.close();
    server = await startOpenAiWireServer({ embeddingsStatus: 500 });
    await expect(ingest(openAiConfig({ OPENAI_BASE_URL: server.baseUrl }))).rejects.toThrow();
    expect((await loadIndex(lexical.indexDir, lexical.embedder)).chunkCount).toBeGreaterThan(0);
  });
});

function cosine(a: readonly number[], b: readonly number[]): number {
  let dot = 0;
  let left = 0;
  let right = 0;
  a.forEach((value, index) => {
    dot += value * (b[index] ?? 0);
    left += value * value;
    right += (b[index] ?? 0) ** 2;
  });
  return dot / Math.sqrt(left * right);
}
