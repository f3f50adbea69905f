import { describe, expect, it } from 'vitest';
import { parseConfig } from '../core/config.js';
import { loadIndex } from '../core/index/index-store.js';
import { ingest } from '../ingest/build-index.js';
import { createWorkspace } from './helpers/test-index.js';

/** Against the live OpenAI API: `npm run test:live`, skipped without OPENAI_API_KEY. */
describe.skipIf(!process.env['OPENAI_API_KEY'])('OpenAI embeddings, live', () => {
  it('indexes the communiqué and finds the Wiesbaden passage', async () => {
    const workspace = await createWorkspace();
    try {
      const config = parseConfig({ ...process.env, EMBEDDER: 'openai' }, workspace.root);
      await ingest(config);
      const index = await loadIndex(config.indexDir, config.embedder);
      const [hit] = await index.vectorSearch('Where is the new NATO command?', 1);
      const [chunk] = await index.chunks([hit?.chunkId ?? '']);
      expect(chunk?.text).toMatch(/Wiesbaden/);
    } finally {
      await workspace.cleanup();
    }
  }, 60_000);
});
