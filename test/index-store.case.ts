import path from 'node:path';
import type { EmbeddingsInterface } from '@langchain/core/embeddings';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { citationProblems } from '../core/answer/citation-contract.js';
import { type Config, parseConfig } from '../core/config.js';
import { DEFAULTS } from '../core/defaults.js';
import { createEngine } from '../core/engine.js';
import { IndexMismatchError, IndexMissingError } from '../core/errors.js';
import { KeywordIndex } from '../core/index/keyword-index.js';
import { type IndexStore, openIndexStore } from '../core/index/open-index-store.js';
import { collect, type PassageIndex } from '../core/index/passage-index.js';
import { sourceTextOf } from '../core/index/source-texts.js';
import { analyzeQuestion } from '../core/text/analyze.js';
import type { Chunk, SourceDocument } from '../core/types.js';
import { ingest, staleReason } from '../ingest/build-index.js';
import { loadDocuments } from '../ingest/load-documents.js';
import { splitIntoChunks } from '../ingest/split-into-chunks.js';
import { annualReport } from './helpers/make-pdf.js';
import { COMMUNIQUE, createWorkspace, type Workspace } from './helpers/test-index.js';

/**
 * The passage index contract, run against every store (as hono runs one router suite against every router): what
 * ingest wrote is what the store reads back, keyword search scores as the in-memory keyword index does, vector
 * search finds every passage, and generations replace each other whole.
 */
export interface StoreUnderTest {
  /** The environment of a fresh, empty store of this kind. */
  environment: () => Promise<NodeJS.ProcessEnv>;
  /** Removes what `environment` made. */
  cleanup?: (environment: NodeJS.ProcessEnv) => Promise<void>;
}

/** An embedder that fails, as an embedding server that went away mid-ingest. */
class FailingEmbeddings implements EmbeddingsInterface {
  embedDocuments(): Promise<number[][]> {
    return Promise.reject(new Error('embedding server went away'));
  }
  embedQuery(): Promise<number[]> {
    return Promise.reject(new Error('embedding server went away'));
  }
}

const QUESTIONS = [
  // The communiqué's words, in its language.
  'nouveau commandement à Wiesbaden',
  // English words against French passages: the question's English stems and the cognates' fuzzy matches.
  'Where is the new NATO command?',
  // Misspelt: only fuzzy matches find « commandement » and « sabotage ».
  'commandemant sabotaje',
  // Words of the title and section path only, which count at half weight.
  'ministres Affaires étrangères',
  // Nothing in the corpus.
  'zorblaxe quintiffle',
];

export function describeIndexStore(name: string, kind: StoreUnderTest): void {
  describe(`the ${name} store`, () => {
    let workspace: Workspace;
    let environment: NodeJS.ProcessEnv;
    const opened: IndexStore[] = [];
    const open = (config: Config): IndexStore => {
      const store = openIndexStore(config);
      opened.push(store);
      return store;
    };
    const load = (config: Config): Promise<PassageIndex> => open(config).load();

    beforeEach(async () => {
      environment = await kind.environment();
      workspace = await createWorkspace(undefined, environment);
    });
    afterEach(async () => {
      for (const store of opened.splice(0)) await store.close();
      await workspace.cleanup();
      await kind.cleanup?.(environment);
    });

    async function expectedCorpus(): Promise<{ documents: SourceDocument[]; chunks: Chunk[] }> {
      const documents = await loadDocuments(workspace.config.corpusDir);
      return { documents, chunks: documents.flatMap((document) => splitIntoChunks(document, DEFAULTS.chunking)) };
    }

    it('reads back the passages, sources and texts that ingest wrote', async () => {
      const summary = await ingest(workspace.config);
      const index = await load(workspace.config);
      const { documents, chunks } = await expectedCorpus();
      expect(await collect(index.allChunks())).toEqual(chunks);
      expect(index.chunkCount).toBe(chunks.length);
      expect(summary.chunkCount).toBe(chunks.length);
      expect(index.description).toMatchObject({
        chunkCount: chunks.length,
        embedder: { id: summary.embedderId, dimensions: DEFAULTS.lexicalEmbeddings.dimensions },
        chunker: { ...DEFAULTS.chunking },
      });
      expect(await index.chunks([chunks[1]?.id ?? '', 'no such id', chunks[0]?.id ?? ''])).toEqual([
        chunks[1],
        undefined,
        chunks[0],
      ]);
      expect(index.sources).toEqual(
        documents.map((document) => ({
          source: document.source,
          checksum: document.checksum,
          title: document.title,
          language: document.language,
          chars: document.text.length,
          chunks: chunks.filter((chunk) => chunk.source === document.source).length,
        })),
      );
      const [document] = documents;
      expect(await index.sourceText(COMMUNIQUE)).toEqual(document === undefined ? undefined : sourceTextOf(document));
      expect(await index.sourceText('../etc/passwd')).toBeUndefined();
      await expect(index.check()).resolves.toBeUndefined();
    });

    it('keeps the pages of a PDF (its passages, sentences and text spans) and the files it could not read', async () => {
      const { writeFile } = await import('node:fs/promises');
      await writeFile(path.join(workspace.root, 'corpus', 'rapport.pdf'), await annualReport());
      await writeFile(path.join(workspace.root, 'corpus', 'vide.pdf'), '');
      const summary = await ingest(workspace.config);
      const index = await load(workspace.config);
      const pdf = (await collect(index.allChunks())).filter((chunk) => chunk.source === 'corpus/rapport.pdf');
      expect(pdf.map((chunk) => chunk.page)).toEqual([1, 2, 3]);
      expect(pdf.every((chunk) => chunk.sentences.every((sentence) => sentence.page === chunk.page))).toBe(true);
      expect((await index.chunks([pdf[1]?.id ?? '']))[0]).toEqual(pdf[1]);
      const text = await index.sourceText('corpus/rapport.pdf');
      expect(text?.pages).toHaveLength(3);
      for (const chunk of pdf) {
        const page = text?.pages?.[(chunk.page ?? 0) - 1];
        expect(chunk.start).toBeGreaterThanOrEqual(page?.start ?? NaN);
        expect(chunk.start).toBeLessThan(page?.end ?? NaN);
      }
      expect((await index.sourceText(COMMUNIQUE))?.pages).toBeUndefined();
      expect(index.description.skipped).toEqual(summary.skipped);
      expect(index.description.skipped.map((file) => file.source)).toEqual(['corpus/vide.pdf']);
      // Unchanged, the unreadable file leaves the index up to date.
      expect(await staleReason(workspace.config)).toBeUndefined();
    });

    it('ranks keyword hits as the in-memory keyword index does, fuzzy matches and half-weight context included', async () => {
      await ingest(workspace.config);
      const index = await load(workspace.config);
      const { chunks } = await expectedCorpus();
      const reference = KeywordIndex.build(chunks);
      for (const question of QUESTIONS) {
        const hits = await index.keywordSearch(question, 5);
        const expected = reference
          .query(question, 5)
          .map((hit) => ({ chunkId: chunks[hit.ordinal]?.id, score: hit.score }));
        expect(
          hits.map((hit) => hit.chunkId),
          question,
        ).toEqual(expected.map((hit) => hit.chunkId));
        hits.forEach((hit, rank) =>
          expect(hit.score, `${question} #${rank}`).toBeCloseTo(expected[rank]?.score ?? NaN, 6),
        );
      }
      expect((await index.keywordSearch('commandemant', 3))[0]).toBeDefined();
      expect(await index.keywordSearch('zorblaxe', 3)).toEqual([]);
      // Document frequencies are the text field's, as the reference counts them; a stem no passage holds is 0.
      const stems = [
        ...analyzeQuestion('Wiesbaden commandement Russie ministres zorblaxe').flatMap((term) => term.stems),
      ];
      const frequencies = await index.documentFrequencies(stems);
      for (const stem of stems) expect(frequencies.get(stem), stem).toBe(reference.documentFrequency(stem));
      expect(Math.max(...frequencies.values())).toBeGreaterThan(0);
    });

    it('finds every passage by vector, the most similar first', async () => {
      await ingest(workspace.config);
      const index = await load(workspace.config);
      const { chunks } = await expectedCorpus();
      const hits = await index.vectorSearch('nouveau commandement à Wiesbaden', 1000);
      expect(new Set(hits.map((hit) => hit.chunkId))).toEqual(new Set(chunks.map((chunk) => chunk.id)));
      const [top] = await index.chunks([hits[0]?.chunkId ?? '']);
      expect(top?.text).toContain('Wiesbaden');
      for (const [rank, hit] of hits.entries()) {
        expect(hit.score).toBeLessThanOrEqual(1.000001);
        if (rank > 0) expect(hit.score).toBeLessThanOrEqual((hits[rank - 1]?.score ?? 0) + 1e-6);
      }
      expect(hits[0]?.score).toBeGreaterThan(0.3);
    });

    it('answers with citations whose quotes sit at their offsets in the served text', async () => {
      await ingest(workspace.config);
      const index = await load(workspace.config);
      const engine = await createEngine(index);
      const answer = await engine.answerer.answer({
        question: "Où l'OTAN met-elle en place un nouveau commandement ?",
      });
      expect(answer.found).toBe(true);
      expect(answer.citations[0]?.quote).toMatch(/Wiesbaden/);
      const text = (await index.sourceText(COMMUNIQUE))?.text;
      expect(citationProblems(answer, () => text)).toEqual([]);
    });

    it('says when there is no index, and when it was built with another embedder', async () => {
      await expect(load(workspace.config)).rejects.toBeInstanceOf(IndexMissingError);
      await expect(load(workspace.config)).rejects.toThrow(/npm run ingest/);
      expect(await staleReason(workspace.config)).toMatch(/no index/);
      await ingest(workspace.config);
      expect(await staleReason(workspace.config)).toBeUndefined();
      const other = parseConfig({ ...environment, LEXICAL_DIMENSIONS: '512' }, workspace.root);
      await expect(load(other)).rejects.toBeInstanceOf(IndexMismatchError);
      await expect(load(other)).rejects.toThrow(/npm run ingest/);
      expect(await staleReason(other)).toMatch(/another embedder/);
    });

    it('notices a changed or added corpus file', async () => {
      await ingest(workspace.config);
      const source = path.join(workspace.root, COMMUNIQUE);
      const { writeFile, readFile } = await import('node:fs/promises');
      await writeFile(source, `${await readFile(source, 'utf8')}\nUne phrase de plus.`);
      expect(await staleReason(workspace.config)).toMatch(/changed/);
      await ingest(workspace.config);
      expect(await staleReason(workspace.config)).toBeUndefined();
      await writeFile(path.join(workspace.root, 'corpus', 'new.md'), '# New\n\nText.');
      expect(await staleReason(workspace.config)).toMatch(/added|new/);
    });

    it('keeps the previous generation current when an ingest fails half way', async () => {
      await ingest(workspace.config);
      const before = await load(workspace.config);
      const { writeFile } = await import('node:fs/promises');
      await writeFile(path.join(workspace.root, COMMUNIQUE), 'Un tout autre texte.');
      await expect(ingest(workspace.config, { embeddings: new FailingEmbeddings() })).rejects.toThrow(/went away/);
      const after = await load(workspace.config);
      expect(after.generation).toBe(before.generation);
      expect(await collect(after.allChunks())).toEqual(await collect(before.allChunks()));
    });

    it('makes a new generation current whole, and a watcher loads it while the previous one stays readable', async () => {
      await ingest(workspace.config);
      const first = await load(workspace.config);
      const seen: PassageIndex[] = [];
      const errors: unknown[] = [];
      const watcher = open(workspace.config).watch({
        current: first.generation,
        intervalMs: 50,
        onIndex: (index) => void seen.push(index),
        onError: (error) => void errors.push(error),
      });
      try {
        const { writeFile } = await import('node:fs/promises');
        await writeFile(
          path.join(workspace.root, 'corpus', 'extra.md'),
          '# Note\n\nLa réunion suivante aura lieu à Oslo.',
        );
        await ingest(workspace.config);
        const deadline = Date.now() + 10_000;
        while (seen.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      } finally {
        watcher.stop();
      }
      expect(errors).toEqual([]);
      expect(seen).toHaveLength(1);
      const second = seen[0] as PassageIndex;
      expect(second.generation).not.toBe(first.generation);
      expect(second.chunkCount).toBe(first.chunkCount + 1);
      expect(second.sources.map((source) => source.source)).toContain('corpus/extra.md');
      const [oslo] = await second.keywordSearch('réunion Oslo', 1);
      expect((await second.chunks([oslo?.chunkId ?? '']))[0]?.source).toBe('corpus/extra.md');
      // The previous generation is still whole for the requests that started on it.
      expect((await collect(first.allChunks())).length).toBe(first.chunkCount);
      expect(await first.keywordSearch('réunion Oslo', 1)).toEqual([]);
    });
  });
}
