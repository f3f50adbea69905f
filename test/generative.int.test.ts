import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../core/config.js';
import { createEngine } from '../core/engine.js';
import { loadIndex } from '../core/index/index-store.js';
import { createChatModel } from '../core/llm/create-chat-model.js';
import { loadPrompts } from '../core/llm/prompts.js';
import { ingest } from '../ingest/build-index.js';
import { createWorkspace, PROJECT_ROOT } from './helpers/test-index.js';

/** Against the live OpenAI API: `npm run test:live`, skipped without OPENAI_API_KEY. */
describe.skipIf(!process.env['OPENAI_API_KEY'])('generative answers, live', () => {
  it('answers in English from the French communiqué, citing the Wiesbaden passage', async () => {
    const workspace = await createWorkspace();
    try {
      const config = parseConfig({ ...process.env, EMBEDDER: 'lexical' }, workspace.root);
      if (config.chat === undefined) throw new Error('no chat configuration');
      await ingest(config);
      const engine = await createEngine(await loadIndex(config.indexDir, config.embedder), {
        model: createChatModel(config.chat),
        prompts: await loadPrompts(path.join(PROJECT_ROOT, 'prompts')),
        timeoutMs: 30_000,
      });
      const answer = await engine.answerer.answer({ question: 'Where is the new NATO command?' });
      expect(answer.mode).toBe('generative');
      expect(answer.language).toBe('en');
      expect(answer.answer).toMatch(/Wiesbaden/);
      expect(answer.citations.some((citation) => citation.quote.includes('Wiesbaden'))).toBe(true);
    } finally {
      await workspace.cleanup();
    }
  }, 60_000);
});
