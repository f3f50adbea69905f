import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../core/engine.js';
import { loadIndex } from '../core/index/index-store.js';
import { collect } from '../core/index/passage-index.js';
import { ingest } from '../ingest/build-index.js';
import { debianPdf, debianPdfsMissing, lettersOf, pdftotextPages } from './helpers/debian-pdfs.js';
import { createWorkspace, type Workspace } from './helpers/test-index.js';

/**
 * The Debian Policy Manual and the FHS indexed as a user would, every page number of every passage and citation
 * checked against poppler's reading of that page.
 */
describe.skipIf(debianPdfsMissing)('citations from real PDFs', () => {
  let workspace: Workspace;
  let engine: Engine;
  const poppler = new Map<string, string[]>();

  beforeAll(async () => {
    const files = { 'manuals/policy.pdf': debianPdf('policy'), 'manuals/fhs-3.0.pdf': debianPdf('fhs') };
    for (const [name, pdf] of Object.entries(files)) poppler.set(name, pdftotextPages(pdf).map(lettersOf));
    workspace = await createWorkspace(files, { CORPUS_DIR: 'manuals' });
    await ingest(workspace.config);
    engine = await createEngine(await loadIndex(workspace.config.indexDir, workspace.config.embedder));
  }, 180_000);
  afterAll(() => workspace?.cleanup());

  /**
   * Whether the start of a quote is on the given page of its source, as poppler reads it: its first letters in a row
   * (`exact`), or at least each of its first words (poppler reads table cells and side-by-side columns in another
   * order, and sets footnote numbers apart).
   */
  const onPage = (source: string, page: number | undefined, quote: string) => {
    const reference = poppler.get(source)?.[(page ?? 0) - 1] ?? '';
    const words = (quote.slice(0, 80).match(/[\p{L}\p{N}]{3,}/gu) ?? []).slice(0, 8);
    return {
      exact: reference.includes(lettersOf(quote).replace(/^\d+/, '').slice(0, 30)),
      words: words.every((word) => reference.includes(lettersOf(word))),
    };
  };

  it('gives every sentence the page poppler finds its start on', async () => {
    const chunks = await collect(engine.index.allChunks());
    expect(chunks.length).toBeGreaterThan(1000);
    const pages = new Map(
      await Promise.all(
        engine.index.sources.map(
          async (source) => [source.source, (await engine.index.sourceText(source.source))?.pages ?? []] as const,
        ),
      ),
    );
    const misplaced: string[] = [];
    let sentences = 0;
    let inOrder = 0;
    for (const chunk of chunks) {
      expect(chunk.page).toBe(chunk.sentences[0]?.page);
      for (const sentence of chunk.sentences) {
        // The part of the sentence on its page: one that runs on over a page break goes on on the next page.
        const pageEnd = pages.get(chunk.source)?.[(sentence.page ?? 0) - 1]?.end ?? sentence.end;
        const quote = chunk.text.slice(sentence.start - chunk.start, Math.min(sentence.end, pageEnd) - chunk.start);
        const found = onPage(chunk.source, sentence.page, quote);
        sentences += 1;
        if (found.exact) inOrder += 1;
        if (!found.exact && !found.words) misplaced.push(`${chunk.source} p. ${sentence.page}: ${quote}`);
      }
    }
    expect(misplaced).toEqual([]);
    expect(inOrder / sentences).toBeGreaterThan(0.98);
  });

  it('answers with a citation that names the page of its quote', async () => {
    const answer = await engine.answerer.answer({
      question: 'Where is the priority value of a package set?',
    });
    expect(answer.found).toBe(true);
    const [citation] = answer.citations;
    // pdftotext -f 21 -l 21 policy.pdf: « Each package must have a priority value, which is set in the metadata… ».
    expect(citation).toMatchObject({ source: 'manuals/policy.pdf', page: 21 });
    expect(citation?.quote).toMatch(/^Each package must have a priority value, which is set in the metadata/);
    for (const cited of answer.citations) expect(onPage(cited.source, cited.page, cited.quote).exact).toBe(true);
  });
});
