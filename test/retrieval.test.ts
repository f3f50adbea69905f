import { describe, expect, it } from 'vitest';
import { HybridRetriever } from '../core/retrieval/hybrid-retriever.js';
import { useCorpusEngine } from './helpers/test-index.js';
import { RETRIEVAL_CASES } from './retrieval-cases.js';

const corpus = useCorpusEngine();

describe('hybrid retrieval on the communiqué', () => {
  it.each(RETRIEVAL_CASES)('ranks the answering passage first: $question', async ({ question, expectedQuote, why }) => {
    const [first] = (await new HybridRetriever(corpus.engine.index).retrieve(question, 4)).hits;
    expect(first?.chunk.text, why).toContain(expectedQuote);
  });

  it('fuses both indexes: a passage found by either one is returned, best first', async () => {
    const hits = (await new HybridRetriever(corpus.engine.index).retrieve('Kaja Kallas haute représentante', 9)).hits;
    expect(hits.length).toBeGreaterThan(1);
    expect(hits[0]?.keywordScore).toBeGreaterThan(0);
    expect(hits[0]?.vectorSimilarity).toBeGreaterThan(0);
    const scores = hits.map((hit) => hit.fusedScore);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
  });

  it('returns nothing for a question without a content word', async () => {
    expect((await new HybridRetriever(corpus.engine.index).retrieve('est-ce que ?', 4)).hits).toEqual([]);
  });
});
