import { describe, expect, it } from 'vitest';
import { LexicalEmbeddings } from '../core/embeddings/lexical-embeddings.js';

function cosine(a: number[], b: number[]): number {
  return a.reduce((sum, value, index) => sum + value * (b[index] ?? 0), 0);
}

const corpus = [
  "Renforcement des moyens de défense cyber et de la défense aérienne de l'Ukraine.",
  'La Russie mène des cyberattaques et des actes de sabotage.',
  'Le programme nucléaire de la Corée du Nord.',
];

describe('LexicalEmbeddings', () => {
  it('is deterministic: two instances fitted on the same texts give identical vectors', async () => {
    const first = new LexicalEmbeddings({ dimensions: 256 }).fit(corpus);
    const second = new LexicalEmbeddings({ dimensions: 256 }).fit(corpus);
    expect(await first.embedDocuments(corpus)).toEqual(await second.embedDocuments(corpus));
    expect(await first.embedQuery('défense')).toEqual(await second.embedQuery('défense'));
  });

  it('returns unit vectors of the configured dimension, and zeros for a text without content words', async () => {
    const embeddings = new LexicalEmbeddings({ dimensions: 128 }).fit(corpus);
    const [vector] = await embeddings.embedDocuments([corpus[0] ?? '']);
    expect(vector).toHaveLength(128);
    expect(cosine(vector ?? [], vector ?? [])).toBeCloseTo(1, 10);
    expect((await embeddings.embedQuery('le la de')).every((value) => value === 0)).toBe(true);
  });

  it('brings French and English lookalikes together', async () => {
    const embeddings = new LexicalEmbeddings({ dimensions: 1024 }).fit(corpus);
    const similarity = async (a: string, b: string) =>
      cosine(await embeddings.embedQuery(a), await embeddings.embedQuery(b));
    expect(await similarity('défense', 'defence')).toBeGreaterThan(0.3);
    expect(await similarity('Ukraine', 'ukrainien')).toBeGreaterThan(0.3);
    expect(await similarity('cyber', 'cyberattaques')).toBeGreaterThan(0.2);
    expect(await similarity('défense', 'defence')).toBeGreaterThan(await similarity('défense', 'pétrole'));
    expect(Math.abs(await similarity('Wiesbaden', 'nucléaire'))).toBeLessThan(0.1);
  });

  it('survives a JSON round trip of its fitted state', async () => {
    const fitted = new LexicalEmbeddings({ dimensions: 512 }).fit(corpus);
    const restored = LexicalEmbeddings.fromJSON(JSON.parse(JSON.stringify(fitted.toJSON())));
    expect(restored.id).toBe(fitted.id);
    const [a, b] = [await fitted.embedQuery(corpus[1] ?? ''), await restored.embedQuery(corpus[1] ?? '')];
    a.forEach((value, index) => expect(b[index]).toBeCloseTo(value, 5));
  });

  it('weighs rare features above common ones once fitted', async () => {
    const unfitted = new LexicalEmbeddings({ dimensions: 1024 });
    const fitted = new LexicalEmbeddings({ dimensions: 1024 }).fit(corpus);
    const query = 'défense nucléaire';
    const target = corpus[2] ?? '';
    const gain = async (embeddings: LexicalEmbeddings) =>
      cosine(await embeddings.embedQuery(query), await embeddings.embedQuery(target)) -
      cosine(await embeddings.embedQuery(query), await embeddings.embedQuery(corpus[0] ?? ''));
    // « nucléaire » is in one passage, « défense » in another: IDF changes the balance between them.
    expect(await gain(fitted)).not.toBeCloseTo(await gain(unfitted), 3);
  });

  it('rejects a state that is not its own', () => {
    expect(() => LexicalEmbeddings.fromJSON({ kind: 'lexical', dimensions: 4 })).toThrow();
    const state = new LexicalEmbeddings({ dimensions: 8 }).fit(corpus).toJSON();
    expect(() => LexicalEmbeddings.fromJSON({ ...state, idf: [1, 2] })).toThrow(/idf/);
  });
});
