import { describe, expect, it } from 'vitest';
import { LexicalEmbeddings } from '../core/embeddings/lexical-embeddings.js';
import { FeatureRecords, featureRecords } from '../core/embeddings/lexical-features.js';
import { foldText, isContentWord, words } from '../core/text/analyze.js';

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

describe('LexicalEmbeddings features', () => {
  /** The feature definition written plainly: each content word as `w:word`, and the 3–5-grams of `_word_`. */
  function referenceVector(texts: string[], text: string, dimensions: number): number[] {
    const hash = (value: string, seed = 0x811c9dc5) => {
      let state = seed;
      for (let index = 0; index < value.length; index += 1)
        state = Math.imul(state ^ value.charCodeAt(index), 0x01000193);
      return state >>> 0;
    };
    const features = (input: string) => {
      const counts = new Map<string, { count: number; weight: number }>();
      for (const word of words(input)) {
        const folded = foldText(word);
        if (!isContentWord(folded)) continue;
        const grams = [`w:${folded}`];
        const padded = `_${folded}_`;
        // Offset by offset, shortest first: the order a passage's features are first met, and so summed in.
        for (let offset = 0; offset < padded.length; offset += 1) {
          for (let size = 3; size <= 5 && offset + size <= padded.length; size += 1)
            grams.push(padded.slice(offset, offset + size));
        }
        grams.forEach((gram, position) => {
          const entry = counts.get(gram);
          if (entry === undefined) counts.set(gram, { count: 1, weight: position === 0 ? 2 : 1 });
          else entry.count += 1;
        });
      }
      return counts;
    };
    const frequency = new Array<number>(dimensions).fill(0);
    for (const passage of texts) {
      for (const bucket of new Set([...features(passage).keys()].map((gram) => hash(gram) % dimensions))) {
        frequency[bucket] = (frequency[bucket] ?? 0) + 1;
      }
    }
    const idf = frequency.map((count) => Math.log((1 + texts.length) / (1 + count)) + 1);
    const vector = new Array<number>(dimensions).fill(0);
    for (const [gram, { count, weight }] of features(text)) {
      const bucket = hash(gram) % dimensions;
      const sign = hash(gram, 0x9747b28c) & 1 ? 1 : -1;
      vector[bucket] = (vector[bucket] ?? 0) + sign * weight * (1 + Math.log(count)) * (idf[bucket] ?? 1);
    }
    const norm = Math.sqrt(vector.reduce((sum, value) => sum + value * value, 0));
    return vector.map((value) => (norm === 0 ? 0 : value / norm));
  }

  it('computes the hashed word and n-gram features of their plain definition (cached and hashed incrementally)', () => {
    const texts = [
      ...corpus,
      'Œuvre de la défense: défense, défenses, DÉFENSE et 2024 missiles.',
      'Straße und Ukraine.',
    ];
    const embeddings = new LexicalEmbeddings({ dimensions: 256 }).fit(texts);
    // A feature counted 0xffff times or more is recorded with its full count after it.
    // Thousands of distinct features in one text outgrow the counter's first table.
    const manyWords = Array.from({ length: 1500 }, (_word, index) => `mot${index.toString(36)}x`).join(' ');
    for (const text of [
      ...texts,
      'défense défense défense',
      'NATO OTAN',
      `${'sabotage '.repeat(70_000)}défense`,
      manyWords,
    ]) {
      // The same numbers to the last bit: each bucket summed in the features' order, the norm in the buckets' order.
      expect(embeddings.embed(text)).toEqual(referenceVector(texts, text, 256));
    }
  });

  it('fits and embeds from recorded features as from the texts, so that an ingest counts each passage once', () => {
    const texts = [...corpus, `${'cyber '.repeat(70_000)}Ukraine`, '', 'Le, la, les.'];
    const counted = new LexicalEmbeddings({ dimensions: 128 });
    const records = new FeatureRecords();
    for (const text of texts) counted.appendFeatures(text, records);
    // Records survive being taken out as one array, as they are handed from thread to thread and kept on disk.
    const taken = [...featureRecords(records.take())];
    expect(taken).toHaveLength(texts.length);
    expect(taken[4]).toHaveLength(0);
    const fitted = new LexicalEmbeddings({ dimensions: 128 });
    for (const record of taken) fitted.observeFeatures(record);
    expect(fitted.completeFit().toJSON()).toEqual(new LexicalEmbeddings({ dimensions: 128 }).fit(texts).toJSON());
    texts.forEach((text, index) => {
      expect(fitted.vectorOfFeatures(taken[index] ?? new Uint32Array(), new Float32Array(128))).toEqual(
        fitted.vector(text),
      );
    });
  });

  it('fits the same weights passage by passage as all at once', () => {
    const whole = new LexicalEmbeddings({ dimensions: 128 }).fit(corpus);
    const streamed = new LexicalEmbeddings({ dimensions: 128 });
    for (const text of corpus) streamed.observe(text);
    expect(streamed.completeFit().toJSON()).toEqual(whole.toJSON());
  });
});
