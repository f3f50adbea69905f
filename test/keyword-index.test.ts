import { readdir } from 'node:fs/promises';
import path from 'node:path';
import MiniSearch from 'minisearch';
import { describe, expect, it } from 'vitest';
import { DEFAULTS } from '../core/defaults.js';
import { boundedEditDistance, GramIndex } from '../core/index/fuzzy-terms.js';
import {
  analysePassage,
  type KeywordChunk,
  KeywordIndex,
  KeywordIndexBuilder,
  keywordTerms,
  TermNumbering,
} from '../core/index/keyword-index.js';
import { embeddedText } from '../core/index/vector-index.js';
import { contextText } from '../core/section-title.js';
import { analyze, analyzeQuestion, analyzeSentences, termsOf, words } from '../core/text/analyze.js';
import type { Chunk, Language } from '../core/types.js';
import { readCorpusFile, toDocuments } from '../ingest/load-documents.js';
import { splitIntoChunks } from '../ingest/split-into-chunks.js';
import { seededRandom } from '../scripts/lib/seeded-random.js';
import { PROJECT_ROOT } from './helpers/test-index.js';

/** Passages of two of the evaluation corpora (English and French, text and HTML). */
async function corpusChunks(): Promise<Chunk[]> {
  const chunks: Chunk[] = [];
  for (const corpus of ['nodejs-en', 'devref-fr']) {
    const folder = path.join(PROJECT_ROOT, 'eval', 'corpora', corpus);
    const files = (await readdir(folder, { recursive: true })).filter((file) => /\.(md|html)$/.test(file)).sort();
    for (const file of files.slice(0, 12)) {
      const [document] = toDocuments([
        await readCorpusFile({ absolutePath: path.join(folder, file), source: `${corpus}/${file}` }),
      ]);
      if (document !== undefined) chunks.push(...splitIntoChunks(document, DEFAULTS.chunking));
    }
  }
  return chunks;
}

/** The keyword search this index replaced, configured as it was. */
function miniSearchOf(chunks: readonly Chunk[]): MiniSearch<{ id: number; terms: string; context: string }> {
  const search = new MiniSearch<{ id: number; terms: string; context: string }>({
    fields: ['terms', 'context'],
    tokenize: (text) => text.split(' ').filter((term) => term !== ''),
    processTerm: (term) => term,
    searchOptions: {
      combineWith: 'OR',
      fuzzy: (term) => (term.length >= 5 ? 0.2 : false),
      weights: { fuzzy: 0.5, prefix: 0.5 },
      boost: { context: 0.5 },
    },
  });
  search.addAll(
    chunks.map((chunk, id) => ({
      id,
      terms: analyzeSentences(chunk).join(' '),
      context: analyze(contextText(chunk), chunk.language).join(' '),
    })),
  );
  return search;
}

function questionsOf(chunks: readonly Chunk[], count: number): string[] {
  const random = seededRandom(11);
  return Array.from({ length: count }, () => {
    const words = chunks[Math.floor(random() * chunks.length)]?.text.match(/\p{L}{3,}/gu) ?? [];
    const start = Math.floor(random() * Math.max(1, words.length - 5));
    // Misspell one word in three, so that fuzzy matching is exercised.
    return words
      .slice(start, start + 2 + Math.floor(random() * 4))
      .map((word) => (random() < 0.33 && word.length > 5 ? word.slice(0, 2) + word.slice(3) : word))
      .join(' ');
  });
}

/** A one-sentence passage outside any section. */
function passage(text: string, language: Language): KeywordChunk {
  return {
    text,
    language,
    start: 0,
    sentences: [{ start: 0, end: text.length, kind: 'paragraph', language }],
    title: '',
    section: [],
  };
}

describe('KeywordIndex', () => {
  it('ranks and scores as MiniSearch did, on real passages and misspelt questions', async () => {
    const chunks = await corpusChunks();
    expect(chunks.length).toBeGreaterThan(200);
    const index = KeywordIndex.build(chunks);
    const reference = miniSearchOf(chunks);
    let compared = 0;
    for (const question of questionsOf(chunks, 150)) {
      const terms = [...new Set(analyzeQuestion(question).flatMap((term) => term.stems))];
      const expected = terms.length === 0 ? [] : reference.search(terms.join(' ')).slice(0, 20);
      const actual = index.query(question, 20);
      expect(actual.map((hit) => hit.score)).toEqual(expected.map((hit) => expect.closeTo(hit.score, 9)));
      // Passages of equal score may come in another order: each must be one of those MiniSearch scored so.
      actual.forEach((hit, position) => {
        const tied = expected.filter((other) => Math.abs(other.score - hit.score) < 1e-9).map((other) => other.id);
        expect(tied, `${question}: rank ${position + 1}`).toContain(hit.ordinal);
      });
      compared += actual.length;
    }
    expect(compared).toBeGreaterThan(1000);
  });

  it('reads back what it wrote, with the same results', async () => {
    const chunks = await corpusChunks();
    const index = KeywordIndex.build(chunks);
    const restored = KeywordIndex.fromBuffer(index.toBuffer());
    expect(restored.size).toBe(chunks.length);
    for (const question of questionsOf(chunks, 30))
      expect(restored.query(question, 10)).toEqual(index.query(question, 10));
    expect(restored.documentFrequency('modul')).toBe(index.documentFrequency('modul'));
    expect(index.documentFrequency('modul')).toBeGreaterThan(0);
  });

  it('rejects bytes that are not an index', () => {
    expect(() => KeywordIndex.fromBuffer(Buffer.from('{"not":"an index"}'))).toThrow();
    const bytes = KeywordIndex.build([passage('un texte', 'fr')]).toBuffer();
    expect(() => KeywordIndex.fromBuffer(bytes.subarray(0, bytes.length - 8))).toThrow(/truncated/);
  });

  it('meets a word spelt the other language’s way: défense for defence', () => {
    const index = KeywordIndex.build([
      passage('La défense aérienne est renforcée.', 'fr'),
      passage('Le budget est voté.', 'fr'),
    ]);
    expect(index.query('air defence', 5).map((hit) => hit.ordinal)).toEqual([0]);
    expect(index.query('nothing here', 5)).toEqual([]);
  });
});

describe('KeywordIndexBuilder.addNumbered', () => {
  it('builds from terms numbered by several threads the index that add builds from the terms', async () => {
    const chunks = (await corpusChunks()).slice(0, 400);
    const plain = new KeywordIndexBuilder();
    for (const chunk of chunks) plain.add(keywordTerms(chunk));
    // Passages 0–9 are numbered by one thread, 10–19 by another, and so on; every batch arrives (with the terms its
    // thread numbered) before the builder takes the first, as a thread's results arrive ahead of their turn.
    const numberings = [new TermNumbering(), new TermNumbering()];
    const known: string[][] = [[], []];
    const batches: Array<{ thread: number; counted: Uint32Array; passages: number }> = [];
    for (let first = 0; first < chunks.length; first += 10) {
      const thread = (first / 10) % 2;
      const counted: number[] = [];
      const batch = chunks.slice(first, first + 10);
      for (const chunk of batch) numberings[thread]?.appendCounted(analysePassage(chunk).fields, counted);
      known[thread]?.push(...(numberings[thread]?.takeNew() ?? []));
      batches.push({ thread, counted: Uint32Array.from(counted), passages: batch.length });
    }
    const numbered = new KeywordIndexBuilder();
    for (const { thread, counted, passages } of batches) {
      expect(numbered.addNumbered(thread, known[thread] ?? [], counted)).toBe(passages);
    }
    expect(Buffer.compare(numbered.build().toBuffer(), plain.build().toBuffer())).toBe(0);
  });
});

describe('analysePassage', () => {
  /** A passage of `text` (at offset 100) whose sentences are the given spans of it, in the given languages. */
  const passage = (text: string, spans: Array<[number, number, Language]>): Chunk => ({
    id: 'x',
    source: 'essai.txt',
    title: 'Guide d’essai',
    section: ['Options', 'Σημείωση'],
    language: 'fr',
    start: 100,
    end: 100 + text.length,
    text,
    sentences: spans.map(([start, end, language]) => ({
      start: 100 + start,
      end: 100 + end,
      kind: 'paragraph',
      language,
    })),
  });

  it('reads the terms and the embedded words of a passage in one pass, as keywordTerms and words read them', async () => {
    const cases = [
      ...(await corpusChunks()).slice(0, 300),
      // Words between two sentences (a dropped block) are read by the embedder only.
      passage('The option works. Menu | Next. Elle marche aussi.', [
        [0, 17, 'en'],
        [32, 50, 'fr'],
      ]),
      // A sentence that ends inside a word: its words are not those of the text around it.
      passage('Configuration options', [
        [0, 6, 'en'],
        [6, 21, 'fr'],
      ]),
      // Lowercase that depends on the neighbouring letters (a final sigma before a full stop and another word), or
      // changes the text's length (a dotted capital I).
      passage('ΟΔΟΣ.Αθήνα', [
        [0, 5, 'en'],
        [5, 10, 'en'],
      ]),
      passage('İİİ    ab    ', [
        [0, 3, 'en'],
        [7, 9, 'en'],
      ]),
      passage('', []),
    ];
    for (const chunk of cases) {
      const { fields, words: read } = analysePassage(chunk);
      expect(fields.map((runs) => runs.flatMap((run) => termsOf(run.words, run.language)))).toEqual(
        keywordTerms(chunk),
      );
      expect(read).toEqual(words(embeddedText(chunk)));
    }
  });
});

describe('GramIndex', () => {
  it('proposes every term within the edit distance (checked against all terms)', () => {
    const terms = [
      ...new Set(
        'defens defenc defensiv offens sabotag sabotage russi russie ukrain ukrainien cyberattaqu cyberattack commandement command wiesbaden'.split(
          ' ',
        ),
      ),
    ];
    const grams = GramIndex.build(terms);
    for (const query of ['defens', 'sabotage', 'ukrainien', 'commandment', 'wisbaden', 'cyberatack', 'russie']) {
      const distance = Math.min(6, Math.round(query.length * 0.2));
      const expected = terms.flatMap((term, id) =>
        boundedEditDistance(query, term, distance) <= distance ? [id] : [],
      );
      const candidates = grams.candidates(query, distance);
      for (const id of expected) expect(candidates, query).toContain(id);
    }
  });

  it('computes Levenshtein distances, bounded', () => {
    expect(boundedEditDistance('kitten', 'sitting', 5)).toBe(3);
    expect(boundedEditDistance('kitten', 'sitting', 2)).toBe(3);
    expect(boundedEditDistance('flaw', 'lawn', 3)).toBe(2);
    expect(boundedEditDistance('', 'abc', 3)).toBe(3);
  });
});
