import { lstat, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { EmbeddingsInterface } from '@langchain/core/embeddings';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../core/config.js';
import { IndexCorruptError, IndexMismatchError, IndexMissingError } from '../core/errors.js';
import { collect } from '../core/index/passage-index.js';
import { loadIndex, writeIndex } from '../core/index/index-store.js';
import { INDEX_FORMAT_VERSION } from '../core/index/manifest.js';
import { HybridRetriever } from '../core/retrieval/hybrid-retriever.js';
import { DEFAULTS } from '../core/defaults.js';
import { ingest, staleReason } from '../ingest/build-index.js';
import { readCorpusFile, toDocuments } from '../ingest/load-documents.js';
import { splitIntoChunks } from '../ingest/split-into-chunks.js';
import { COMMUNIQUE, createWorkspace, type Workspace } from './helpers/test-index.js';
import { describeIndexStore } from './index-store.case.js';

let workspace: Workspace;
beforeEach(async () => {
  workspace = await createWorkspace();
});
afterEach(() => workspace.cleanup());

/** An embedder that fails after a number of calls, as a crash or an unreachable server would. */
class FailingEmbeddings implements EmbeddingsInterface {
  embedDocuments(): Promise<number[][]> {
    return Promise.reject(new Error('embedding server went away'));
  }
  embedQuery(): Promise<number[]> {
    return Promise.reject(new Error('embedding server went away'));
  }
}

describe('the index on disk', () => {
  it('loads what ingest wrote, with the same passages and the same search results', async () => {
    const summary = await ingest(workspace.config);
    const index = await loadIndex(workspace.config.indexDir, workspace.config.embedder);
    const [document] = toDocuments([
      await readCorpusFile({ absolutePath: path.join(workspace.root, COMMUNIQUE), source: COMMUNIQUE }),
    ]);
    const expected = document === undefined ? [] : splitIntoChunks(document, DEFAULTS.chunking);
    expect(await collect(index.allChunks())).toEqual(expected);
    expect(summary.chunkCount).toBe(expected.length);
    expect(index.manifest.chunkCount).toBe(expected.length);
    expect(await index.chunks([expected[1]?.id ?? '', 'no such id'])).toEqual([expected[1], undefined]);
    expect(index.manifest.sources.map((source) => source.source)).toEqual([COMMUNIQUE]);
    // Every passage has its vector: a search for more neighbours than passages returns each once.
    const vectorHits = await index.vectorSearch('nouveau commandement à Wiesbaden', 1000);
    expect(new Set(vectorHits.map((hit) => hit.chunkId))).toEqual(new Set(expected.map((chunk) => chunk.id)));
    const hits = (await new HybridRetriever(index).retrieve('nouveau commandement à Wiesbaden', 3)).hits;
    expect(hits[0]?.chunk.text).toContain('Wiesbaden');
    expect(hits[0]?.vectorSimilarity).toBeGreaterThan(0);
    expect(hits[0]?.vectorSimilarity).toBeLessThanOrEqual(1);
  });

  it('refuses an index built with another embedder configuration, saying to re-run ingest', async () => {
    await ingest(workspace.config);
    const other = parseConfig({ LEXICAL_DIMENSIONS: '512' }, workspace.root);
    const attempt = loadIndex(other.indexDir, other.embedder);
    await expect(attempt).rejects.toBeInstanceOf(IndexMismatchError);
    await expect(attempt).rejects.toThrow(/npm run ingest/);
    expect(await staleReason(other)).toMatch(/another embedder/);
  });

  it('refuses an index of an older format, saying to re-run ingest', async () => {
    await ingest(workspace.config);
    const file = path.join(workspace.config.indexDir, 'manifest.json');
    const manifest = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    await writeFile(file, JSON.stringify({ ...manifest, formatVersion: 1 }));
    const attempt = loadIndex(workspace.config.indexDir, workspace.config.embedder);
    await expect(attempt).rejects.toBeInstanceOf(IndexMismatchError);
    await expect(attempt).rejects.toThrow(
      new RegExp(`has format 1, this version reads ${INDEX_FORMAT_VERSION}\\. Re-run \`npm run ingest\``),
    );
    expect(await staleReason(workspace.config)).toMatch(/older format/);
  });

  it('says when there is no index', async () => {
    await expect(loadIndex(workspace.config.indexDir, workspace.config.embedder)).rejects.toBeInstanceOf(
      IndexMissingError,
    );
    expect(await staleReason(workspace.config)).toMatch(/no index/);
  });

  it('names a damaged or truncated file instead of serving it', async () => {
    await ingest(workspace.config);
    for (const name of ['vectors-0.hnsw', 'chunks.jsonl', 'keyword-index.bin', 'chunk-table.bin']) {
      await ingest(workspace.config);
      const file = path.join(workspace.config.indexDir, name);
      const bytes = await readFile(file);
      await writeFile(file, bytes.subarray(0, bytes.length / 2));
      const attempt = loadIndex(workspace.config.indexDir, workspace.config.embedder);
      await expect(attempt).rejects.toBeInstanceOf(IndexCorruptError);
      await expect(attempt).rejects.toThrow(name);
    }

    await ingest(workspace.config);
    await writeFile(path.join(workspace.config.indexDir, 'manifest.json'), '{"formatVersion":');
    await expect(loadIndex(workspace.config.indexDir, workspace.config.embedder)).rejects.toThrow(/manifest\.json/);
  });

  it('notices a changed, added or removed corpus file', async () => {
    await ingest(workspace.config);
    expect(await staleReason(workspace.config)).toBeUndefined();
    const source = path.join(workspace.root, COMMUNIQUE);
    await writeFile(source, `${await readFile(source, 'utf8')}\nUne phrase de plus.`);
    expect(await staleReason(workspace.config)).toMatch(/changed/);
    await ingest(workspace.config);
    await writeFile(path.join(workspace.root, 'corpus', 'new.md'), '# New\n\nText.');
    expect(await staleReason(workspace.config)).toMatch(/added|new/);
  });

  it('keeps the previous index serving when an ingest fails half way', async () => {
    await ingest(workspace.config);
    const before = await loadIndex(workspace.config.indexDir, workspace.config.embedder);
    await writeFile(path.join(workspace.root, COMMUNIQUE), 'Un tout autre texte.');
    await expect(ingest(workspace.config, { embeddings: new FailingEmbeddings() })).rejects.toThrow(/went away/);
    const after = await loadIndex(workspace.config.indexDir, workspace.config.embedder);
    expect(after.directory).toBe(before.directory);
    expect(await collect(after.allChunks())).toEqual(await collect(before.allChunks()));
  });

  it('keeps the previous index when the write itself fails half way', async () => {
    await ingest(workspace.config);
    const before = await loadIndex(workspace.config.indexDir, workspace.config.embedder);
    // Dies after some files of the new index are written, before the manifest and the swap.
    await expect(
      writeIndex(workspace.config.indexDir, async (staging) => {
        await writeFile(path.join(staging, 'chunks.jsonl'), '{"id":');
        throw new Error('killed while writing');
      }),
    ).rejects.toThrow(/killed while writing/);
    const after = await loadIndex(workspace.config.indexDir, workspace.config.embedder);
    expect(after.directory).toBe(before.directory);
    // The next ingest clears what the failed one left and succeeds.
    await ingest(workspace.config);
    const siblings = await readdir(path.dirname(workspace.config.indexDir));
    expect(siblings.filter((name) => name.includes('staging'))).toEqual([]);
  });

  it('replaces the index by switching a link, and keeps only one older generation', async () => {
    for (let run = 0; run < 4; run += 1) await ingest(workspace.config);
    expect((await lstat(workspace.config.indexDir)).isSymbolicLink()).toBe(true);
    const siblings = await readdir(path.dirname(workspace.config.indexDir));
    expect(siblings.filter((name) => name.startsWith('index-'))).toHaveLength(2);
    expect(siblings.filter((name) => name.startsWith('.'))).toEqual([]);
  });
});

describeIndexStore('folder', { environment: () => Promise.resolve({}) });
