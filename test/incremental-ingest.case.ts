import { unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Config } from '../core/config.js';
import { DEFAULTS } from '../core/defaults.js';
import { createEngine } from '../core/engine.js';
import { openIndexStore } from '../core/index/open-index-store.js';
import { collect, type PassageIndex } from '../core/index/passage-index.js';
import { embeddedText } from '../core/index/vector-index.js';
import type { Chunk } from '../core/types.js';
import { type IngestProgress, type IngestSummary, ingest, planChanges } from '../ingest/build-index.js';
import { debianPdf, debianPdfsMissing } from './helpers/debian-pdfs.js';
import { makeDocx } from './helpers/make-docx.js';
import { annualReport, makePdf, paragraph } from './helpers/make-pdf.js';
import { startOpenAiWireServer } from './helpers/openai-wire-server.js';
import { createWorkspace, type Workspace } from './helpers/test-index.js';
import type { StoreUnderTest } from './index-store.case.js';

/**
 * Incremental ingest, run against every store: only added and changed files are read, removed ones are dropped, the
 * passages, texts and censuses of unchanged files are carried over (and with an embedding server their vectors, so
 * that no request is made for them), and what the store then serves is what a full rebuild of the same corpus
 * serves: the same description, passages, source texts, keyword and vector hits, and answers with their citations.
 */
export interface IncrementalStoreUnderTest extends StoreUnderTest {
  /** A further check that the index of `updated` is the same as that of `rebuilt`, in the store's own terms. */
  sameStorage?: (updated: Config, rebuilt: Config) => Promise<void>;
}

const page = (title: string, body: string) =>
  `<!DOCTYPE html><html><head><title>${title}</title></head><body><main><h1>${title}</h1>${body}</main></body></html>`;

/** A page of a manual with its own sentences, and the lines given (which other pages may repeat). */
export function manualPage(number: number, ...lines: string[]): string {
  const own = Array.from(
    { length: 6 },
    (_value, sentence) =>
      `La section ${number} décrit l’option numéro ${sentence} du programme, qui règle le comportement ${number}-${sentence}.`,
  );
  return page(`Chapitre ${number}`, [...own, ...lines].map((line) => `<p>${line}</p>`).join(''));
}

export const LICENCE = 'Ce manuel est publié sous licence libre par l’équipe de traduction.';

export function manual(pages: number, withLicence: readonly number[]): Record<string, string> {
  const files: Record<string, string> = {};
  for (let number = 0; number < pages; number += 1) {
    files[`corpus/chapitre-${String(number).padStart(2, '0')}.html`] = withLicence.includes(number)
      ? manualPage(number, LICENCE)
      : manualPage(number);
  }
  return files;
}

/** Questions whose keyword and vector hits, and answers, are compared between an update and a full rebuild. */
const QUESTIONS = [
  'Que règle l’option numéro 3 du programme ?',
  'comportement 4-2',
  // Misspelt: found by fuzzy matches only.
  'optoin programe',
  'Sous quelle licence le manuel est-il publié ?',
  'Que dit la note sur les journaux ?',
  'Quand la sauvegarde du serveur de fichiers a-t-elle lieu ?',
];

/** The same index kind, elsewhere: another folder, or another index of the same database. */
function elsewhere(config: Config): Config {
  return config.indexStore === 'postgres'
    ? { ...config, indexName: `${config.indexName}-rebuilt` }
    : { ...config, indexDir: `${config.indexDir}-rebuilt` };
}

/** A passage's text as the OpenAI client sends it to be embedded (it replaces line breaks with spaces). */
function asSent(chunk: Chunk): string {
  return embeddedText(chunk).replace(/\n/g, ' ');
}

export function describeIncrementalIngest(name: string, kind: IncrementalStoreUnderTest): void {
  describe(`incremental ingest into the ${name} store`, () => {
    const cleanups: Array<() => Promise<unknown>> = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    async function workspace(
      files: Record<string, string | Uint8Array>,
      extra: NodeJS.ProcessEnv = {},
    ): Promise<Workspace> {
      const environment = await kind.environment();
      cleanups.push(async () => kind.cleanup?.(environment));
      const created = await createWorkspace(files, { ...environment, ...extra });
      cleanups.push(() => created.cleanup());
      return created;
    }

    /** The index `config` serves, loaded as a server loads it; released after the test. */
    async function served(config: Config): Promise<PassageIndex> {
      const store = openIndexStore(config);
      cleanups.push(() => store.close());
      const index = await store.load();
      cleanups.push(() => index.close());
      return index;
    }

    async function chunkTexts(config: Config, source: string): Promise<string[]> {
      const index = await served(config);
      return (await collect(index.allChunks())).filter((chunk) => chunk.source === source).map((chunk) => chunk.text);
    }

    /**
     * Builds the index of the same corpus from scratch elsewhere in the store and checks that the updated one serves
     * the same: description (but for its date), passages, texts, keyword and vector hits, answers and citations.
     */
    async function expectSameAsFullRebuild(config: Config): Promise<IngestSummary> {
      const other = elsewhere(config);
      const rebuilt = await ingest(other, { full: true });
      expect(rebuilt.carriedChunks).toBe(0);
      const [ours, theirs] = [await served(config), await served(other)];
      const { createdAt: _ours, ...description } = ours.description;
      const { createdAt: _theirs, ...expected } = theirs.description;
      expect(description).toEqual(expected);
      expect(await collect(ours.allChunks())).toEqual(await collect(theirs.allChunks()));
      for (const { source } of theirs.sources) {
        expect(await ours.sourceText(source), source).toEqual(await theirs.sourceText(source));
      }
      const [ourEngine, theirEngine] = [await createEngine(ours), await createEngine(theirs)];
      for (const question of QUESTIONS) {
        for (const search of ['keywordSearch', 'vectorSearch'] as const) {
          const [hits, expectedHits] = await Promise.all([ours[search](question, 5), theirs[search](question, 5)]);
          const label = `${search}: ${question}`;
          expect(
            hits.map((hit) => hit.chunkId),
            label,
          ).toEqual(expectedHits.map((hit) => hit.chunkId));
          hits.forEach((hit, rank) => expect(hit.score, label).toBeCloseTo(expectedHits[rank]?.score ?? NaN, 6));
        }
        const { timings: _ourTimings, ...answer } = await ourEngine.answerer.answer({
          question,
          includePassages: true,
        });
        const { timings: _theirTimings, ...expectedAnswer } = await theirEngine.answerer.answer({
          question,
          includePassages: true,
        });
        expect(answer, question).toEqual(expectedAnswer);
      }
      await kind.sameStorage?.(config, other);
      return rebuilt;
    }

    it('reads only added and changed files, drops removed ones, and serves what a full rebuild serves', async () => {
      const { root, config } = await workspace({
        ...manual(8, []),
        'corpus/notes.md': '# Notes\n\nUne note sur le programme et ses options de démarrage.\n',
        'corpus/lisez-moi.txt': 'LISEZ-MOI\n\nCe programme se configure par un fichier texte.\n',
      });
      const first = await ingest(config);
      expect(first.changes.fullReason).toBe('there is no index yet');
      expect(first.changes.added).toHaveLength(10);

      await writeFile(path.join(root, 'corpus/notes.md'), '# Notes\n\nUne note réécrite sur les journaux.\n');
      await writeFile(path.join(root, 'corpus/nouveau.md'), '# Nouveau\n\nUn document ajouté sur les sauvegardes.\n');
      await unlink(path.join(root, 'corpus/lisez-moi.txt'));
      const second = await ingest(config);
      expect(second.changes).toEqual({
        fullReason: undefined,
        added: ['corpus/nouveau.md'],
        changed: ['corpus/notes.md'],
        removed: ['corpus/lisez-moi.txt'],
        unchanged: Object.keys(manual(8, [])),
        refurnished: [],
        skipped: [],
      });
      const carried = first.documents
        .filter((document) => document.source.includes('chapitre'))
        .reduce((total, document) => total + document.chunks, 0);
      expect(second.carriedChunks).toBe(carried);
      expect(second.chunkCount).toBe(carried + 2);
      expect(second.documents.map((document) => document.source)).toEqual([
        ...Object.keys(manual(8, [])),
        'corpus/notes.md',
        'corpus/nouveau.md',
      ]);
      expect(await chunkTexts(config, 'corpus/notes.md')).toEqual(['Une note réécrite sur les journaux.']);
      expect(await chunkTexts(config, 'corpus/lisez-moi.txt')).toEqual([]);
      expect((await served(config)).sources.map((source) => source.source)).not.toContain('corpus/lisez-moi.txt');
      await expectSameAsFullRebuild(config);

      // Nothing changed: everything is carried over, and the result is still a full rebuild's.
      const third = await ingest(config);
      expect(third.carriedChunks).toBe(third.chunkCount);
      expect(third.changes.unchanged).toHaveLength(10);
      await expectSameAsFullRebuild(config);
    });

    it('reads an unchanged file again when the page furniture around it changes, as a full rebuild would', async () => {
      // The licence line is on 2 of 10 pages: content, as a line repeated on fewer than 3 pages is.
      const { root, config } = await workspace(manual(10, [3, 7]));
      await ingest(config);
      const licensed = ['corpus/chapitre-03.html', 'corpus/chapitre-07.html'];
      expect((await chunkTexts(config, licensed[0] ?? '')).join(' ')).toContain('licence libre');

      // A page that repeats it makes it furniture on all three, the two unchanged ones included.
      await writeFile(path.join(root, 'corpus/chapitre-10.html'), manualPage(10, LICENCE));
      const added = await ingest(config);
      expect(added.changes.added).toEqual(['corpus/chapitre-10.html']);
      expect(added.changes.refurnished).toEqual(licensed);
      expect((await chunkTexts(config, licensed[0] ?? '')).join(' ')).not.toContain('licence libre');
      await expectSameAsFullRebuild(config);

      // A line on 4 of 16 pages is furniture (at least 3 pages and a fifth of them); on 4 of 21, it is content again,
      // although none of the pages that hold it changed.
      await writeFile(path.join(root, 'corpus/chapitre-11.html'), manualPage(11, LICENCE));
      for (let number = 12; number < 16; number += 1) {
        await writeFile(path.join(root, `corpus/chapitre-${number}.html`), manualPage(number));
      }
      await ingest(config);
      expect((await chunkTexts(config, licensed[1] ?? '')).join(' ')).not.toContain('licence libre');
      for (let number = 16; number < 21; number += 1) {
        await writeFile(path.join(root, `corpus/chapitre-${number}.html`), manualPage(number));
      }
      const grown = await ingest(config);
      expect(grown.changes.added).toHaveLength(5);
      expect(grown.changes.refurnished).toEqual([...licensed, 'corpus/chapitre-10.html', 'corpus/chapitre-11.html']);
      expect((await chunkTexts(config, licensed[1] ?? '')).join(' ')).toContain('licence libre');
      await expectSameAsFullRebuild(config);

      // Removing pages brings it back to furniture.
      for (let number = 16; number < 21; number += 1) await unlink(path.join(root, `corpus/chapitre-${number}.html`));
      const shrunk = await ingest(config);
      expect(shrunk.changes.removed).toHaveLength(5);
      expect(shrunk.changes.refurnished).toHaveLength(4);
      await expectSameAsFullRebuild(config);
    });

    it('carries PDF and Word passages over with their pages, reads no unchanged file, keeps an unchanged unreadable file skipped, and serves what a full rebuild serves', async () => {
      const guide = (version: string) =>
        makeDocx([
          { heading: 'Guide des versions', level: 1 },
          { paragraph: `La version ${version} corrige la lecture des journaux et accélère le démarrage.` },
          {
            table: [
              ['Version', 'Date'],
              [version, 'mars 2024'],
            ],
          },
        ]);
      const { root, config } = await workspace({
        ...manual(3, []),
        'corpus/rapport.pdf': await annualReport(),
        'corpus/guide.docx': await guide('2.1'),
        'corpus/coupe.pdf': new Uint8Array(Buffer.from('%PDF-1.4\n1 0 obj\n<< /Type /Catalog')),
        ...(debianPdfsMissing ? {} : { 'corpus/fhs-3.0.pdf': debianPdf('fhs') }),
      });
      const first = await ingest(config);
      expect(first.skipped.map((file) => file.source)).toEqual(['corpus/coupe.pdf']);
      const reason = first.skipped[0]?.reason;
      expect(reason).toMatch(/PDF/);

      await writeFile(path.join(root, 'corpus/guide.docx'), await guide('2.2'));
      const memo = await makePdf({
        title: 'Note de service',
        pages: [
          paragraph(['La sauvegarde du serveur de fichiers a lieu chaque nuit à deux heures.'], 100),
          paragraph(['La restauration d’un fichier se demande au support par un ticket.'], 100),
        ],
      });
      await writeFile(path.join(root, 'corpus/note.pdf'), memo);
      const planned = await planChanges(config);
      const progress: IngestProgress[] = [];
      const second = await ingest(config, { onProgress: (event) => progress.push(event) });
      expect(second.changes).toEqual(planned);
      // Carried files count as done; only the pages of the one PDF read (the new one) are counted: the unchanged ones
      // (the report, and the Debian manual when present) are not read again.
      const files = second.documents.length + second.skipped.length;
      const reading = progress.filter((event) => event.stage === 'read');
      expect(reading.map((event) => event.files)).toEqual(Array.from({ length: files }, (_file, index) => index + 1));
      expect(reading.at(-1)).toEqual({ stage: 'read', files, totalFiles: files, pages: 2 });
      expect(progress.filter((event) => event.stage === 'embed').at(-1)).toEqual({
        stage: 'embed',
        chunks: second.chunkCount,
        totalChunks: second.chunkCount,
      });
      expect(progress.at(-1)).toEqual({ stage: 'write' });
      expect(second.changes.added).toEqual(['corpus/note.pdf']);
      expect(second.changes.changed).toEqual(['corpus/guide.docx']);
      expect(second.changes.unchanged).toContain('corpus/rapport.pdf');
      // The damaged file is unchanged: skipped again, for the reason recorded, without being read.
      expect(second.changes.unchanged).toContain('corpus/coupe.pdf');
      expect(second.skipped).toEqual([{ source: 'corpus/coupe.pdf', checksum: first.skipped[0]?.checksum, reason }]);
      const unchangedChunks = first.documents
        .filter((document) => second.changes.unchanged.includes(document.source))
        .reduce((total, document) => total + document.chunks, 0);
      expect(second.carriedChunks).toBe(unchangedChunks);
      const report = second.documents.find((document) => document.source === 'corpus/rapport.pdf');
      expect(report?.pages).toBe(3);
      expect(second.documents.find((document) => document.source === 'corpus/note.pdf')?.pages).toBe(2);

      const index = await served(config);
      const passages = await collect(index.allChunks());
      const carriedPdf = passages.filter((chunk) => chunk.source === 'corpus/rapport.pdf');
      expect(carriedPdf.length).toBeGreaterThan(0);
      expect(carriedPdf.every((chunk) => chunk.page !== undefined && chunk.page >= 1 && chunk.page <= 3)).toBe(true);
      expect((await index.sourceText('corpus/rapport.pdf'))?.pages).toHaveLength(3);
      const memoSentences = passages
        .filter((chunk) => chunk.source === 'corpus/note.pdf')
        .flatMap((chunk) => chunk.sentences);
      expect(memoSentences.map((sentence) => sentence.page)).toEqual([1, 2]);
      expect(passages.some((chunk) => chunk.source === 'corpus/guide.docx' && chunk.text.includes('2.2'))).toBe(true);
      expect(passages.some((chunk) => chunk.source === 'corpus/guide.docx' && chunk.text.includes('2.1'))).toBe(false);
      await expectSameAsFullRebuild(config);
    });

    it('rebuilds everything when asked, or when the chunker or the embedder changed, saying why', async () => {
      const { config } = await workspace(manual(4, []));
      await ingest(config);
      const asked = await ingest(config, { full: true });
      expect(asked.changes.fullReason).toBe('a full rebuild was asked for');
      expect(asked.carriedChunks).toBe(0);
      expect(asked.changes.unchanged).toHaveLength(4);

      const chunker = { ...DEFAULTS.chunking, targetChars: 300 };
      expect((await planChanges(config, { chunker })).fullReason).toBe('the chunker settings changed');
      const rechunked = await ingest(config, { chunker });
      expect(rechunked.changes.fullReason).toBe('the chunker settings changed');
      expect(rechunked.carriedChunks).toBe(0);
      expect((await ingest(config, { chunker })).carriedChunks).toBe(rechunked.chunkCount);

      const smaller: Config = { ...config, embedder: { kind: 'lexical', dimensions: 512 } };
      expect((await planChanges(smaller, { chunker })).fullReason).toBe('the index was built with another embedder');
      const resized = await ingest(smaller, { chunker });
      expect(resized.changes.fullReason).toBe('the index was built with another embedder');
      expect(resized.carriedChunks).toBe(0);
      expect((await served(smaller)).description.embedder.dimensions).toBe(512);
    });

    describe('with an embedding server', () => {
      async function serverWorkspace() {
        const server = await startOpenAiWireServer({ dimensions: 32 });
        cleanups.push(() => server.close());
        const created = await workspace(manual(12, [2, 5]), {
          OPENAI_API_KEY: 'sk-local',
          OPENAI_BASE_URL: server.baseUrl,
          EMBEDDING_MODEL: 'text-embedding-3-small',
        });
        /** The texts the server was asked to embed since the last call. */
        let seen = 0;
        const embedded = () => {
          const requests = server.requests.slice(seen).filter((request) => request.path === '/v1/embeddings');
          seen = server.requests.length;
          const inputs = requests.flatMap((request) => (request.body as { input: string[] }).input);
          return { requests: requests.length, inputs };
        };
        return { server, ...created, embedded };
      }

      it('asks the server for the passages of added and changed files only, and keeps the others’ vectors', async () => {
        const { root, config, embedded } = await serverWorkspace();
        const first = await ingest(config);
        expect(embedded().inputs).toHaveLength(first.chunkCount);

        const nothing = await ingest(config);
        expect(nothing.embeddedChunks).toBe(0);
        expect(nothing.carriedChunks).toBe(first.chunkCount);
        expect(embedded()).toEqual({ requests: 0, inputs: [] });

        await writeFile(path.join(root, 'corpus/chapitre-04.html'), manualPage(4, 'Une phrase ajoutée au chapitre.'));
        await unlink(path.join(root, 'corpus/chapitre-09.html'));
        const changed = await ingest(config);
        expect(changed.changes.changed).toEqual(['corpus/chapitre-04.html']);
        expect(changed.changes.removed).toEqual(['corpus/chapitre-09.html']);
        const expected = (await collect((await served(config)).allChunks()))
          .filter((chunk) => chunk.source === 'corpus/chapitre-04.html')
          .map((chunk) => asSent(chunk));
        expect(expected.length).toBeGreaterThan(0);
        expect(embedded()).toEqual({ requests: 1, inputs: expected });
        expect(changed.embeddedChunks).toBe(expected.length);
        // The carried vectors are the server's: vector hits and their similarities match a rebuild's, which, by
        // contrast, asked for every passage again.
        const rebuilt = await expectSameAsFullRebuild(config);
        expect(rebuilt.embeddedChunks).toBe(changed.chunkCount);
      });

      it('asks again for the passages of a file whose page furniture changed, and only those', async () => {
        const { root, config, embedded } = await serverWorkspace();
        await ingest(config);
        embedded();
        await writeFile(path.join(root, 'corpus/chapitre-12.html'), manualPage(12, LICENCE));
        const summary = await ingest(config);
        expect(summary.changes.refurnished).toEqual(['corpus/chapitre-02.html', 'corpus/chapitre-05.html']);
        const sources = new Set([...summary.changes.refurnished, 'corpus/chapitre-12.html']);
        const expected = (await collect((await served(config)).allChunks()))
          .filter((chunk) => sources.has(chunk.source))
          .map(asSent);
        expect(embedded().inputs).toEqual(expected);
        await expectSameAsFullRebuild(config);
      });

      it('keeps the previous index serving when the server fails during an update', async () => {
        const { root, config, server } = await serverWorkspace();
        await ingest(config);
        const before = await served(config);
        const passages = await collect(before.allChunks());
        await writeFile(path.join(root, 'corpus/chapitre-04.html'), manualPage(4, 'Une phrase ajoutée au chapitre.'));
        await server.close();
        const failing = await startOpenAiWireServer({ embeddingsStatus: 500 });
        cleanups.push(() => failing.close());
        const broken = { ...config, embedder: { ...config.embedder, baseUrl: failing.baseUrl } };
        await expect(ingest(broken)).rejects.toThrow();
        const after = await served(config);
        expect(after.generation).toBe(before.generation);
        expect(await collect(after.allChunks())).toEqual(passages);
      });
    });
  });
}
