import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../core/config.js';
import { createEngine, loadChatSetup } from '../core/engine.js';
import { loadIndex } from '../core/index/index-store.js';
import { ingest } from '../ingest/build-index.js';
import { createApp } from '../server/app.js';
import { createWorkspace, PROJECT_ROOT } from './helpers/test-index.js';

/**
 * Against the live OpenAI API: `npm run test:live`, skipped without OPENAI_API_KEY. The chat model comes through
 * LangChain's initChatModel (CHAT_MODEL=openai:…), and its answer through /v1 to the official client, streamed.
 */
describe.skipIf(!process.env['OPENAI_API_KEY'])('/v1 with a live model, live', () => {
  it('streams a generated answer whose markers are annotated in the final completion', async () => {
    const workspace = await createWorkspace();
    let server: Server | undefined;
    try {
      const environment = { ...process.env, EMBEDDER: 'lexical', CHAT_MODEL: 'openai:gpt-4o-mini' };
      const config = parseConfig(environment, workspace.root);
      await ingest(config);
      const engine = await createEngine(
        await loadIndex(config.indexDir, config.embedder),
        await loadChatSetup(config.chat, path.join(PROJECT_ROOT, 'prompts')),
      );
      const app = createApp({ engine: () => engine, http: { modelName: 'live' } });
      server = await new Promise<Server>((resolve) => {
        const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
      });
      const client = new OpenAI({
        baseURL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
        apiKey: 'x',
      });
      const runner = client.chat.completions.stream({
        model: 'live',
        messages: [{ role: 'user', content: 'Where is the new NATO command?' }],
      });
      const final = await runner.finalChatCompletion();
      const message = final.choices[0]?.message as {
        content: string;
        annotations?: Array<{ url_citation: { start_index: number; end_index: number } }>;
      };
      expect(message.content).toMatch(/Wiesbaden/);
      expect((final as { cited_answers?: { mode?: string } }).cited_answers?.mode).toBe('generative');
      expect(message.annotations?.length).toBeGreaterThan(0);
      for (const annotation of message.annotations ?? []) {
        expect(message.content.slice(annotation.url_citation.start_index, annotation.url_citation.end_index)).toMatch(
          /^\[\d+\]$/,
        );
      }
    } finally {
      server?.close();
      await workspace.cleanup();
    }
  }, 60_000);
});
